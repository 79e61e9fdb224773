"""Java consumers of the consumer group protocol (KIP-848, `group.protocol=consumer`) on the
built-in broker and on Apache Kafka 4.4, run the same way on both: members join, one is killed
with SIGKILL, another joins, a regex subscription picks up a topic made while it runs. Every
record is read, the commits hold across the rebalances, and Kafka's kafka-consumer-groups
describes the group on the built-in broker as it does on Kafka."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import as_json, kctl, unique
from tests.conftest import FAST_CONSUMER_GROUPS
from tests.support.apache_kafka import KafkaCluster, lib_dir, require_jars, run_tool

JAVA = Path(__file__).resolve().parents[1] / "support" / "java"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    require_jars()
    b = BrokerProcess(tmp_path_factory.mktemp("consumer-protocol") / "data",
                      {k: int(v) for k, v in FAST_CONSUMER_GROUPS.items() if not k.startswith("group.consumer.min")})
    b.start()
    yield b
    assert b.stop() == 0, b.log()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    return broker.bootstrap


@pytest.fixture
def env(tmp_path: Path, bootstrap: str) -> dict[str, str]:
    return isolated_env(tmp_path, bootstrap)


class Reader:
    """tests/support/java/GroupReader.java in a child process; its lines followed on a thread."""

    def __init__(self, bootstrap: str, group: str, subscription: str, *, protocol: str = "consumer",
                 instance: str | None = None) -> None:
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{lib_dir()}/*",
             str(JAVA / "GroupReader.java"), protocol, bootstrap, group, subscription,
             *([instance] if instance else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def got(self) -> set[tuple[str, int, int]]:
        return {(t, int(p), int(o)) for line in list(self.lines) if line.startswith("GOT ")
                for _, t, p, o in [line.split()]}

    def alive(self) -> None:
        assert self.proc.poll() is None, "a reader exited:\n" + "\n".join(self.lines[-40:])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def readers() -> Iterator[list[Reader]]:
    started: list[Reader] = []
    yield started
    for reader in started:
        reader.close()


def produce(env: dict[str, str], topic: str, count: int, partitions: int, first: int = 0) -> None:
    kctl(env, "produce", topic, "--jsonl", stdin="".join(
        json.dumps({"key": f"k{i}", "value": f"v{i}", "partition": i % partitions}) + "\n"
        for i in range(first, first + count)))


def wait_until(condition: Any, what: str, readers: list[Reader], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for reader in readers:
            reader.alive()
        assert time.monotonic() < deadline, f"no {what} in time"
        time.sleep(0.3)


def every_record(topics: dict[str, tuple[int, int]]) -> set[tuple[str, int, int]]:
    """Every (topic, partition, offset) of topics given as name -> (partitions, records), the
    records spread round-robin."""
    wanted = set()
    for topic, (partitions, count) in topics.items():
        per = [count // partitions + (1 if p < count % partitions else 0) for p in range(partitions)]
        wanted |= {(topic, p, o) for p in range(partitions) for o in range(per[p])}
    return wanted


def lag_rows(env: dict[str, str], group: str) -> dict[tuple[str, int], tuple[int, int]]:
    return {(r["topic"], r["partition"]): (r["committed_offset"], r["lag"])
            for r in as_json(kctl(env, "lag", group, "-o", "json"))}


def consumer_groups_tool(bootstrap: str, *args: str) -> list[dict[str, str]]:
    """Rows of kafka-consumer-groups (4.4), read by where each heading starts."""
    text = run_tool("consumer-groups", "--bootstrap-server", bootstrap, *args).stdout
    lines = [line for line in text.splitlines() if line.strip()]
    at = next(i for i, line in enumerate(lines) if line.split()[0] == "GROUP")
    starts = [m.start() for m in re.finditer(r"\S+", lines[at])]
    names = lines[at].split()
    return [{n: line[s:e].strip() for n, s, e in zip(names, starts, [*starts[1:], None], strict=True)}
            for line in lines[at + 1:]]


def test_members_come_and_go_and_every_record_is_read(env: dict[str, str], bootstrap: str,
                                                       readers: list[Reader]) -> None:
    topic, group = unique("cp-orders"), unique("cp-group")
    kctl(env, "topics", "create", topic, "--partitions", "6")
    produce(env, topic, 600, 6)
    readers += [Reader(bootstrap, group, f"topic:{topic}") for _ in range(3)]
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (6, 600)}),
               "first 600 records read", readers)

    readers[0].kill()  # SIGKILL: no leave; its session must lapse
    survivors = readers[1:]
    produce(env, topic, 600, 6, first=600)
    survivors.append(Reader(bootstrap, group, f"topic:{topic}"))
    readers.append(survivors[-1])
    wanted = every_record({topic: (6, 1200)})
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= wanted, "all 1200 records read", survivors)
    wait_until(lambda: all(lag == 0 and committed == 200
                           for (committed, lag) in lag_rows(env, group).values()), "every offset committed",
               survivors)

    # Kafka's own tool sees three members on the target epoch, sharing the six partitions.
    def members() -> list[dict[str, str]]:
        return consumer_groups_tool(bootstrap, "--describe", "--group", group, "--members", "--verbose")

    def owned(shown: list[dict[str, str]]) -> list[int]:
        return sorted(int(p) for m in shown if ":" in m["CURRENT-ASSIGNMENT"]
                      for p in m["CURRENT-ASSIGNMENT"].split(":", 1)[1].split(","))

    def reconciled() -> bool:
        # One run of the tool per look (each is a JVM). A member may show the target's epoch
        # while still waiting for a partition another gives up: wait for the six to be held.
        shown = members()
        return (len(shown) == 3 and all(m["CURRENT-EPOCH"] == m["TARGET-EPOCH"] for m in shown)
                and owned(shown) == list(range(6)) and all(m["#PARTITIONS"] == "2" for m in shown))

    wait_until(reconciled, "three reconciled members holding two partitions each", survivors)
    state = consumer_groups_tool(bootstrap, "--describe", "--group", group, "--state")[0]
    assert (state["ASSIGNMENT-STRATEGY"], state["STATE"], state["#MEMBERS"]) == ("uniform", "Stable", "3")
    listed = {row["GROUP"]: row["TYPE"] for row in consumer_groups_tool(bootstrap, "--list", "--type")}
    assert listed[group] == "Consumer"
    offsets = consumer_groups_tool(bootstrap, "--describe", "--group", group)
    assert {(row["PARTITION"], row["CURRENT-OFFSET"], row["LAG"]) for row in offsets} == {
        (str(p), "200", "0") for p in range(6)}


def test_a_regex_subscription_picks_up_new_topics(env: dict[str, str], bootstrap: str,
                                                   readers: list[Reader]) -> None:
    prefix, group = unique("rx"), unique("rx-group")
    kctl(env, "topics", "create", f"{prefix}-a", "--partitions", "2")
    kctl(env, "topics", "create", unique("elsewhere"), "--partitions", "1")
    produce(env, f"{prefix}-a", 100, 2)
    readers.append(Reader(bootstrap, group, f"regex:{prefix}-.*"))
    wait_until(lambda: readers[0].got() >= every_record({f"{prefix}-a": (2, 100)}), "the first topic read", readers)
    kctl(env, "topics", "create", f"{prefix}-b", "--partitions", "3")
    produce(env, f"{prefix}-b", 90, 3)
    wanted = every_record({f"{prefix}-a": (2, 100), f"{prefix}-b": (3, 90)})
    wait_until(lambda: readers[0].got() >= wanted, "the new topic read", readers)
    assert {t for t, _, _ in readers[0].got()} == {f"{prefix}-a", f"{prefix}-b"}


def test_a_static_member_returns_to_its_partitions(env: dict[str, str], bootstrap: str,
                                                   readers: list[Reader]) -> None:
    topic, group = unique("static"), unique("static-group")
    kctl(env, "topics", "create", topic, "--partitions", "4")
    produce(env, topic, 400, 4)
    readers += [Reader(bootstrap, group, f"topic:{topic}", instance=f"{group}-{i}") for i in range(2)]
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (4, 400)}),
               "400 records read", readers)

    def assignment() -> dict[str, str]:
        return {m["CONSUMER-ID"]: m["CURRENT-ASSIGNMENT"]
                for m in consumer_groups_tool(bootstrap, "--describe", "--group", group, "--members", "--verbose")}

    def both_assigned() -> bool:
        shown = assignment()
        return len(shown) == 2 and all(a != "-" for a in shown.values())

    wait_until(both_assigned, "both members assigned", readers)
    before = sorted(assignment().values())
    readers[1].close()  # a static member leaves for now (epoch -2): its partitions wait for it
    readers.append(Reader(bootstrap, group, f"topic:{topic}", instance=f"{group}-1"))
    produce(env, topic, 400, 4, first=400)
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (4, 800)}),
               "800 records read", [readers[0], readers[2]])
    wait_until(lambda: sorted(assignment().values()) == before, "the same split as before", [readers[0], readers[2]])



def group_type(bootstrap: str, group: str) -> str | None:
    listed = {row["GROUP"]: row["TYPE"] for row in consumer_groups_tool(bootstrap, "--list", "--type")}
    return listed.get(group)


def test_a_rolling_upgrade_from_classic_to_consumer_and_back(env: dict[str, str], bootstrap: str,
                                                              readers: list[Reader]) -> None:
    """KIP-848's online migration: classic members are replaced one by one by members of the
    consumer protocol, the group turning into a consumer group as the first one joins; when the
    last consumer-protocol member leaves a group of classic members, it is a classic group again."""
    topic, group = unique("migrate"), unique("migrate-group")
    kctl(env, "topics", "create", topic, "--partitions", "4")
    produce(env, topic, 400, 4)
    classic = [Reader(bootstrap, group, f"topic:{topic}", protocol="classic") for _ in range(2)]
    readers += classic
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (4, 400)}),
               "400 records read by classic members", readers)
    assert group_type(bootstrap, group) == "Classic"

    upgraded = Reader(bootstrap, group, f"topic:{topic}")
    readers.append(upgraded)
    wait_until(lambda: group_type(bootstrap, group) == "Consumer", "the group on the consumer protocol", readers)
    produce(env, topic, 400, 4, first=400)
    live = [r for r in readers if r.proc.poll() is None]
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (4, 800)}),
               "800 records read by a mixed group", live)
    classic[0].close()
    second = Reader(bootstrap, group, f"topic:{topic}")
    late = Reader(bootstrap, group, f"topic:{topic}", protocol="classic")  # a new classic member of a consumer group
    readers += [second, late]
    produce(env, topic, 400, 4, first=800)
    live = [classic[1], upgraded, second, late]
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (4, 1200)}),
               "1200 records read", live)

    # The consumer-protocol members leave; the classic one left makes it a classic group again.
    upgraded.close()
    second.close()
    wait_until(lambda: group_type(bootstrap, group) == "Classic", "the group back on the classic protocol",
               [classic[1], late])
    produce(env, topic, 400, 4, first=1200)
    wait_until(lambda: set().union(*(r.got() for r in readers)) >= every_record({topic: (4, 1600)}),
               "1600 records read", [classic[1], late])
    wait_until(lambda: all(lag == 0 and committed == 400 for committed, lag in lag_rows(env, group).values()),
               "every offset committed", [classic[1], late])


def test_confluent_kafka_consumers_on_the_consumer_protocol(env: dict[str, str], bootstrap: str) -> None:
    """librdkafka (confluent-kafka) speaks KIP-848 too (`group.protocol=consumer`)."""
    ck = pytest.importorskip("confluent_kafka")
    topic, group = unique("ck848"), unique("ck848-group")
    kctl(env, "topics", "create", topic, "--partitions", "4")
    produce(env, topic, 200, 4)
    consumers = [ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": "consumer",
                              "auto.offset.reset": "earliest", "enable.auto.commit": False}) for _ in range(2)]
    seen: set[tuple[int, int]] = set()
    try:
        for consumer in consumers:
            consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while (len(seen) < 200 or sorted(len(c.assignment()) for c in consumers) != [2, 2]) \
                and time.monotonic() < deadline:
            for consumer in consumers:
                message = consumer.poll(0.2)
                if message is not None:
                    assert message.error() is None, message.error()
                    seen.add((message.partition(), message.offset()))
                    consumer.commit(message, asynchronous=False)
        assert seen == {(p, o) for p in range(4) for o in range(50)}
        assert sorted(len(c.assignment()) for c in consumers) == [2, 2]
    finally:
        for consumer in consumers:
            consumer.close()
    assert {committed for committed, _ in lag_rows(env, group).values()} == {50}
