"""Share groups (KIP-932) on the built-in broker and on Apache Kafka 4.4, run the same way on both:
Java KafkaShareConsumers share a topic, releasing and rejecting records as they go, and Kafka's
kafka-share-groups describes the group. On the built-in broker, a share group's state survives a
kill -9: what was acknowledged stays done, what was held comes back with its delivery counted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kctl.client import Cluster
from kctl.protocol.messages.share_fetch import FetchPartition, FetchTopic, ShareFetchRequest
from kctl.protocol.messages.share_group_heartbeat import ShareGroupHeartbeatRequest
from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique
from tests.support.apache_kafka import KafkaCluster, lib_dir, require_jars, run_tool

JAVA = Path(__file__).resolve().parents[1] / "support" / "java"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    require_jars()
    b = BrokerProcess(tmp_path_factory.mktemp("share") / "data").start()
    yield b
    assert b.stop() == 0, b.log()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    return broker.bootstrap


class Worker:
    """tests/support/java/ShareWorker.java in a child process; its lines followed on a thread."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{lib_dir()}/*",
             str(JAVA / "ShareWorker.java"), bootstrap, group, topic],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def got(self) -> list[tuple[int, int, int, str]]:
        """(partition, offset, delivery count, what it did) per record it was given."""
        return [(int(p), int(o), int(n), action) for line in list(self.lines) if line.startswith("GOT ")
                for _, _, p, o, n, action in [line.split()]]

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
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.close()


def wait_until(condition: Any, what: str, workers: list[Worker], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for w in workers:
            assert w.proc.poll() is None, "a worker exited:\n" + "\n".join(w.lines[-40:])
        assert time.monotonic() < deadline, f"no {what} in time:\n" + "\n".join(
            line for w in workers for line in w.lines[-10:])
        time.sleep(0.3)


def share_groups_tool(bootstrap: str, *args: str) -> list[dict[str, str]]:
    text = run_tool("share-groups", "--bootstrap-server", bootstrap, *args).stdout
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if line.split()[0] == "GROUP"), None)
    if header is None:  # "Share group 'G' has no offset information."
        return []
    names = lines[header].split()
    return [dict(zip(names, line.split(), strict=False)) for line in lines[header + 1:]]


def produce_values(env: dict[str, str], topic: str, values: list[str]) -> None:
    kctl(env, "produce", topic, "--jsonl", stdin="".join(
        json.dumps({"value": v, "partition": i % 2}) + "\n" for i, v in enumerate(values)))


def value(i: int) -> str:
    kind = {3: "release", 7: "reject"}.get(i % 10, "v")
    return f"{kind}-{i}"


def test_share_consumers_release_and_reject_and_every_record_is_decided_once(
        tmp_path: Path, bootstrap: str, workers: list[Worker], ours: BrokerProcess) -> None:
    ours_bootstrap = ours.bootstrap
    env = isolated_env(tmp_path, bootstrap)
    topic, group = unique("tasks"), unique("workers")
    kctl(env, "topics", "create", topic, "--partitions", "2")
    kctl(env, "configs", "set", "group", group, "share.auto.offset.reset=earliest")
    produce_values(env, topic, [value(i) for i in range(300)])
    workers += [Worker(bootstrap, group, topic) for _ in range(3)]
    offsets = {(i % 2, i // 2): value(i) for i in range(300)}  # (partition, offset) -> value

    def decided() -> dict[tuple[int, int], list[tuple[int, str]]]:
        seen: dict[tuple[int, int], list[tuple[int, str]]] = {}
        for w in workers:
            for p, o, n, action in w.got():
                seen.setdefault((p, o), []).append((n, action))
        return seen

    def finished() -> bool:
        seen = decided()
        return all(any(a in ("ACCEPT", "REJECT") for _, a in seen.get(k, [])) for k in offsets)

    wait_until(finished, "every record accepted or rejected", workers)
    for key, history in decided().items():
        kind = offsets[key].split("-")[0]
        final = [(n, a) for n, a in history if a != "RELEASE"]
        assert len(final) == 1, (key, history)  # decided exactly once
        if kind == "reject":
            assert history == [(1, "REJECT")], (key, history)
        elif kind == "release":
            assert sorted(history) == [(1, "RELEASE"), (2, "ACCEPT")], (key, history)
        else:
            assert history == [(1, "ACCEPT")], (key, history)

    # kafka-share-groups sees the three members and nothing left to deliver.
    members = share_groups_tool(bootstrap, "--describe", "--group", group, "--members")
    assert len(members) == 3
    state = share_groups_tool(bootstrap, "--describe", "--group", group, "--state")[0]
    assert (state["STATE"], state["#MEMBERS"]) == ("Stable", "3")

    def settled() -> bool:
        rows = share_groups_tool(bootstrap, "--describe", "--group", group, "--offsets")
        return {(r["PARTITION"], r["LAG"]) for r in rows} == {("0", "0"), ("1", "0")}

    wait_until(settled, "nothing left to deliver", workers, timeout=60)
    if bootstrap == ours_bootstrap:
        # The built-in broker shows where each share partition starts now; Kafka 4.4 shows the
        # start it last persisted, which may be older (its lag is the same).
        rows = share_groups_tool(bootstrap, "--describe", "--group", group, "--offsets")
        assert {(r["PARTITION"], r["START-OFFSET"]) for r in rows} == {("0", "150"), ("1", "150")}
    assert group in run_tool("share-groups", "--bootstrap-server", bootstrap, "--list").stdout.split()

    # The operator's side: a reset is refused while members run, as Kafka's tool says it; once
    # they are gone kctl moves the share partitions (AlterShareGroupOffsets), forgets a topic
    # (DeleteShareGroupOffsets) and deletes the group.
    refused = kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute", ok=False)
    assert refused.returncode == 8 and f"Share group '{group}' is not empty" in refused.stderr
    for worker in workers:
        worker.close()

    def offsets() -> set[tuple[str, str, str]]:
        return {(r["PARTITION"], r["START-OFFSET"], r["LAG"])
                for r in share_groups_tool(bootstrap, "--describe", "--group", group, "--offsets")}

    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-offset", "100", "--execute")
    wait_until(lambda: offsets() == {("0", "100", "50"), ("1", "100", "50")}, "the share reset", [])
    kctl(env, "groups", "delete-offsets", group, "-t", topic)
    wait_until(lambda: not {start for _, start, _ in offsets()} - {"-"}, "the share offsets to go", [])
    kctl(env, "groups", "delete", group, "--yes")
    wait_until(lambda: group not in run_tool("share-groups", "--bootstrap-server", bootstrap,
                                             "--list").stdout.split(), "the share group to go", [])


# ---- kill -9 of the built-in broker ---------------------------------------------------------------------
async def join_and_fetch(bootstrap: str, group: str, topic: str, member: str, want: int) -> list[tuple[int, int, int]]:
    """A share member made of raw requests: join, open a session, fetch until `want` records are
    held; returns (partition, first offset, delivery count) of each range, acknowledging nothing."""
    async with Cluster(bootstrap) as cluster:
        await cluster.refresh_metadata([topic])
        topic_id = cluster.topics[topic].topic_id
        node = await cluster.coordinator(group)
        joined = await cluster.send(node, ShareGroupHeartbeatRequest(group, member, 0, None, [topic]))
        assert joined.error_code == 0, joined
        held: list[tuple[int, int, int]] = []
        epoch = 0
        deadline = time.monotonic() + 30
        while sum(1 for _ in held) < want and time.monotonic() < deadline:
            parts = [FetchPartition(p, []) for p in range(2)] if epoch == 0 else []
            fetched = await cluster.send(node, ShareFetchRequest(
                group, member, epoch, 500, 1, 1 << 20, want, want, topics=[FetchTopic(topic_id, parts)] if parts
                else []))
            assert fetched.error_code == 0, fetched
            epoch += 1
            for t in fetched.responses:
                for p in t.partitions:
                    for a in p.acquired_records:
                        held += [(p.partition_index, o, a.delivery_count)
                                 for o in range(a.first_offset, a.last_offset + 1)]
        return held


def test_share_state_survives_a_kill_9(tmp_path: Path, workers: list[Worker]) -> None:
    broker = BrokerProcess(tmp_path / "data").start()
    try:
        env = isolated_env(tmp_path, broker.bootstrap)
        topic, group = unique("durable-tasks"), unique("durable-workers")
        kctl(env, "topics", "create", topic, "--partitions", "2")
        kctl(env, "configs", "set", "group", group, "share.auto.offset.reset=earliest")
        produce_values(env, topic, [f"v-{i}" for i in range(100)])
        worker = Worker(broker.bootstrap, group, topic)
        workers.append(worker)
        wait_until(lambda: len({(p, o) for p, o, _, _ in worker.got()}) == 100, "100 records accepted", [worker])
        worker.close()
        produce_values(env, topic, [f"v-{i}" for i in range(100, 120)])
        held = asyncio.run(join_and_fetch(broker.bootstrap, group, topic, "holder", 20))
        assert sorted((p, o) for p, o, _ in held) == sorted((i % 2, i // 2) for i in range(100, 120))
        assert {n for _, _, n in held} == {1}

        broker.kill()  # SIGKILL while 20 records are held and unacknowledged
        broker.start()
        again = asyncio.run(join_and_fetch(broker.bootstrap, group, topic, "after-crash", 20))
        # The acknowledged 100 stay done; the 20 held come back, their first delivery counted.
        assert sorted((p, o) for p, o, _ in again) == sorted((p, o) for p, o, _ in held)
        assert {n for _, _, n in again} == {2}
    finally:
        broker.stop()
