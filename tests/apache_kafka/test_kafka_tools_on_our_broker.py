"""Apache Kafka's own tools and its Java client, run unmodified against the built-in broker."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.broker.conftest import BrokerProcess
from tests.support.apache_kafka import java_command, require_jars, run_tool

ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    require_jars()
    b = BrokerProcess(tmp_path_factory.mktemp("kafka-tools") / "data",
                      {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}).start()
    yield b
    assert b.stop() == 0, b.log()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def table(text: str) -> list[dict[str, str]]:
    """Rows of a whitespace-aligned table printed by a Kafka tool (its header row names the columns)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header_at = next(i for i, line in enumerate(lines) if line.split()[0] in ("GROUP", "TOPIC"))
    header = lines[header_at].split()
    return [dict(zip(header, line.split(), strict=True)) for line in lines[header_at + 1:]
            if len(line.split()) == len(header)]


def produce_keyed(bootstrap: str, topic: str, counts: dict[int, int]) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    for partition, count in counts.items():
        for i in range(count):
            producer.produce(topic, key=f"k{i}", value=f"p{partition}-{i}", partition=partition)
    assert producer.flush(30) == 0


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[ck.TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


# ---- TopicCommand ------------------------------------------------------------------------------
def test_topic_command_lifecycle(ours: BrokerProcess) -> None:
    b, topic = ours.bootstrap, unique("tc")
    assert f"Created topic {topic}." in run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic,
                                                 "--partitions", "3", "--replication-factor", "1",
                                                 "--config", "retention.ms=3600000").stdout
    assert topic in run_tool("topics", "--bootstrap-server", b, "--list").stdout.split()
    described = run_tool("topics", "--bootstrap-server", b, "--describe", "--topic", topic).stdout
    assert "PartitionCount: 3" in described and "retention.ms=3600000" in described
    assert re.findall(r"Partition: (\d+)\s+Leader: 0\s+Replicas: 0\s+Isr: 0", described) == ["0", "1", "2"]
    run_tool("topics", "--bootstrap-server", b, "--alter", "--topic", topic, "--partitions", "5")
    described = run_tool("topics", "--bootstrap-server", b, "--describe", "--topic", topic).stdout
    assert "PartitionCount: 5" in described
    duplicate = run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, check=False)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stdout + duplicate.stderr
    run_tool("topics", "--bootstrap-server", b, "--delete", "--topic", topic)
    deadline = time.monotonic() + 10
    while topic in run_tool("topics", "--bootstrap-server", b, "--list").stdout.split():
        assert time.monotonic() < deadline, "deleted topic still listed"
        time.sleep(0.2)


# ---- console producer and consumer -------------------------------------------------------------
def test_console_producer_then_consumer_with_keys_and_headers(ours: BrokerProcess) -> None:
    b, topic = ours.bootstrap, unique("console")
    lines = [f"source:test,seq:{i}\tkey-{i}:value {i}" for i in range(20)]
    run_tool("console-producer", "--bootstrap-server", b, "--topic", topic, "--property", "parse.key=true",
             "--property", "key.separator=:", "--property", "parse.headers=true", input="\n".join(lines) + "\n")
    out = run_tool("console-consumer", "--bootstrap-server", b, "--topic", topic, "--from-beginning",
                   "--max-messages", "20", "--timeout-ms", "30000", "--property", "print.key=true",
                   "--property", "print.headers=true", "--property", "print.offset=true").stdout
    got = [line for line in out.splitlines() if line.startswith("Offset:")]
    assert got == [f"Offset:{i}\tsource:test,seq:{i}\tkey-{i}\tvalue {i}" for i in range(20)]


# ---- ConsumerGroupCommand ----------------------------------------------------------------------
def test_consumer_group_command_list_describe_lag_and_delete(ours: BrokerProcess) -> None:
    b, topic, group = ours.bootstrap, unique("cgc"), unique("billing")
    run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "2")
    produce_keyed(b, topic, {0: 7, 1: 4})
    commit(b, group, topic, {0: 3, 1: 4})
    assert group in run_tool("consumer-groups", "--bootstrap-server", b, "--list").stdout.split()
    rows = table(run_tool("consumer-groups", "--bootstrap-server", b, "--describe", "--group", group).stdout)
    lag = {int(r["PARTITION"]): (int(r["CURRENT-OFFSET"]), int(r["LOG-END-OFFSET"]), int(r["LAG"])) for r in rows}
    assert lag == {0: (3, 7, 4), 1: (4, 4, 0)}
    states = run_tool("consumer-groups", "--bootstrap-server", b, "--list", "--state").stdout
    assert re.search(rf"^{re.escape(group)}\s+Empty\s*$", states, re.M)
    deleted = run_tool("consumer-groups", "--bootstrap-server", b, "--delete", "--group", group).stdout
    assert "was successful" in deleted
    assert group not in run_tool("consumer-groups", "--bootstrap-server", b, "--list").stdout.split()


@pytest.mark.parametrize(("strategy", "expected"), [
    (["--to-earliest"], {0: 0, 1: 0}),
    (["--to-latest"], {0: 10, 1: 6}),
    (["--to-current"], {0: 5, 1: 5}),
    (["--to-offset", "2"], {0: 2, 1: 2}),
    (["--shift-by", "-3"], {0: 2, 1: 2}),
    (["--shift-by", "20"], {0: 10, 1: 6}),  # clamped to the log end, as Kafka does
    (["--to-datetime", "2000-01-01T00:00:00.000"], {0: 0, 1: 0}),
    (["--to-datetime", "2999-01-01T00:00:00.000"], {0: 10, 1: 6}),
    (["--by-duration", "PT1H"], {0: 0, 1: 0}),
    (["--from-file"], {0: 4, 1: 1}),
])
def test_consumer_group_command_reset_offsets(ours: BrokerProcess, tmp_path: Path, strategy: list[str],
                                             expected: dict[int, int]) -> None:
    b, topic, group = ours.bootstrap, unique("reset"), unique("g")
    run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "2")
    produce_keyed(b, topic, {0: 10, 1: 6})
    commit(b, group, topic, {0: 5, 1: 5})
    if strategy == ["--from-file"]:
        plan = tmp_path / "plan.csv"
        plan.write_text(f"{topic},0,4\n{topic},1,1\n")
        strategy = ["--from-file", str(plan)]
    scope = [] if strategy[0] == "--from-file" else ["--topic", topic]
    dry = table(run_tool("consumer-groups", "--bootstrap-server", b, "--group", group, *scope, "--reset-offsets",
                         *strategy, "--dry-run").stdout)
    assert {int(r["PARTITION"]): int(r["NEW-OFFSET"]) for r in dry} == expected
    rows = table(run_tool("consumer-groups", "--bootstrap-server", b, "--describe", "--group", group).stdout)
    assert {int(r["PARTITION"]): int(r["CURRENT-OFFSET"]) for r in rows} == {0: 5, 1: 5}, "a dry run changed offsets"
    run_tool("consumer-groups", "--bootstrap-server", b, "--group", group, *scope, "--reset-offsets", *strategy,
             "--execute")
    rows = table(run_tool("consumer-groups", "--bootstrap-server", b, "--describe", "--group", group).stdout)
    assert {int(r["PARTITION"]): int(r["CURRENT-OFFSET"]) for r in rows} == expected


# ---- GetOffsetShell ----------------------------------------------------------------------------
def test_get_offset_shell_earliest_latest_and_by_timestamp(ours: BrokerProcess) -> None:
    b, topic = ours.bootstrap, unique("offsets")
    run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "1")
    base = (int(time.time()) - 3600) * 1000  # within the default 7-day retention
    producer = ck.Producer({"bootstrap.servers": b})
    for i in range(10):
        producer.produce(topic, value=f"v{i}", partition=0, timestamp=base + i * 1000)
    assert producer.flush(30) == 0
    admin = ck_admin.AdminClient({"bootstrap.servers": b})  # kept alive until its future completes
    for future in admin.delete_records([ck.TopicPartition(topic, 0, 2)]).values():
        future.result(30)

    def offset(time_arg: str) -> str:
        out = run_tool("get-offsets", "--bootstrap-server", b, "--topic", topic, "--time", time_arg).stdout
        return out.strip()

    assert offset("-1") == f"{topic}:0:10"  # latest
    assert offset("-2") == f"{topic}:0:2"  # earliest, after DeleteRecords
    assert offset(str(base + 4500)) == f"{topic}:0:5"  # the first record at or after the time
    assert offset("-3") == f"{topic}:0:9"  # the record with the largest timestamp


# ---- the configs tool --------------------------------------------------------------------------
def test_configs_tool_describes_and_alters_topic_configs(ours: BrokerProcess) -> None:
    b, topic = ours.bootstrap, unique("configs")
    run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "1")
    scope = ["--bootstrap-server", b, "--entity-type", "topics", "--entity-name", topic]
    assert "Completed updating config" in run_tool(
        "configs", *scope, "--alter", "--add-config", "retention.ms=100000,cleanup.policy=compact").stdout
    dynamic = run_tool("configs", *scope, "--describe").stdout
    assert "retention.ms=100000 sensitive=false" in dynamic and "cleanup.policy=compact" in dynamic
    everything = run_tool("configs", *scope, "--describe", "--all").stdout
    assert "segment.bytes=" in everything and "retention.ms=100000" in everything
    run_tool("configs", *scope, "--alter", "--delete-config", "retention.ms")
    dynamic = run_tool("configs", *scope, "--describe").stdout
    assert "retention.ms" not in dynamic and "cleanup.policy=compact" in dynamic
    bad = run_tool("configs", *scope, "--alter", "--add-config", "retention.ms=soon", check=False)
    assert bad.returncode != 0 and "retention.ms" in bad.stdout + bad.stderr
    assert "cleanup.policy=compact" in run_tool("configs", *scope, "--describe").stdout


def test_kafka_4_tools_see_a_one_node_quorum_fixed_features_and_entity_configs(ours: BrokerProcess) -> None:
    b = ours.bootstrap
    status = run_tool("metadata-quorum", "--bootstrap-server", b, "describe", "--status").stdout
    assert re.search(r"LeaderId:\s+0\b", status) and re.search(r"CurrentVoters:\s+\[\{\"id\": 0", status)
    rows = [line.split() for line in
            run_tool("metadata-quorum", "--bootstrap-server", b, "describe", "--replication").stdout.splitlines()]
    assert [(row[0], row[-1]) for row in rows[1:] if row] == [("0", "Leader")]
    features = run_tool("features", "--bootstrap-server", b, "describe").stdout
    assert re.search(r"Feature: group.version\s+SupportedMinVersion: 0\s+SupportedMaxVersion: 1\s+"
                     r"FinalizedVersionLevel: 1", features)
    refused = run_tool("features", "--bootstrap-server", b, "upgrade", "--feature", "streams.version=1", check=False)
    assert refused.returncode != 0 and "does not support the feature streams.version" in refused.stdout + refused.stderr
    run_tool("client-metrics", "--bootstrap-server", b, "--alter", "--name", "java-producers", "--metrics",
             "org.apache.kafka.producer.", "--interval", "1000", "--match", "client_software_name=apache-kafka-java")
    assert "java-producers" in run_tool("client-metrics", "--bootstrap-server", b, "--list").stdout.split()
    described = run_tool("client-metrics", "--bootstrap-server", b, "--describe", "--name", "java-producers").stdout
    assert "interval.ms=1000" in described and "metrics=org.apache.kafka.producer." in described
    group = unique("configured")
    scope = ["--bootstrap-server", b, "--entity-type", "groups", "--entity-name", group]
    run_tool("configs", *scope, "--alter", "--add-config", "consumer.session.timeout.ms=20000")
    assert "consumer.session.timeout.ms=20000" in run_tool("configs", *scope, "--describe").stdout


# ---- performance tools -------------------------------------------------------------------------
def test_producer_performance_million_records_acks_all_idempotent(ours: BrokerProcess) -> None:
    b, topic = ours.bootstrap, unique("perf")
    run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "3")
    result = run_tool("producer-perf", "--topic", topic, "--num-records", "1000000", "--record-size", "100",
                      "--throughput", "-1", "--producer-props", f"bootstrap.servers={b}", "acks=all",
                      timeout=300, heap="512m")
    assert "1000000 records sent" in result.stdout, result.stdout
    assert "ERROR" not in result.stderr and "Exception" not in result.stderr, result.stderr[-3000:]
    latest = run_tool("get-offsets", "--bootstrap-server", b, "--topic", topic, "--time", "-1").stdout
    assert sum(int(line.rsplit(":", 1)[1]) for line in latest.split()) == 1_000_000

    consumed = run_tool("consumer-perf", "--bootstrap-server", b, "--topic", topic, "--messages", "1000000",
                        "--timeout", "60000", "--show-detailed-stats", "--reporting-interval", "60000",
                        timeout=300, heap="512m")
    assert "Exception" not in consumed.stderr, consumed.stderr[-3000:]
    summary = run_tool("consumer-perf", "--bootstrap-server", b, "--topic", topic, "--messages", "1000000",
                       "--timeout", "60000", timeout=300, heap="512m").stdout.strip().splitlines()[-1].split(", ")
    assert int(summary[4]) == 1_000_000  # data.consumed.in.nMsg


# ---- verifiable producer and consumers ---------------------------------------------------------
@dataclass
class Verifiable:
    """One of Kafka's verifiable clients: a JVM whose stdout is one JSON event a line."""

    name: str
    proc: subprocess.Popen[str]
    events: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def named(self, name: str) -> list[dict[str, object]]:
        return [e for e in list(self.events) if e.get("name") == name]


def start_verifiable(name: str, tool: str, *args: str, log: Path, version: str | None = None) -> Verifiable:
    proc = subprocess.Popen(java_command(tool, *args, version=version), stdout=subprocess.PIPE, stderr=log.open("w"),
                            text=True)
    return Verifiable(name, proc)


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("assignor", ["org.apache.kafka.clients.consumer.RangeAssignor",
                                      "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"])
def test_verifiable_producer_and_three_consumers_one_killed(ours: BrokerProcess, tmp_path: Path,
                                                            assignor: str) -> None:
    b, topic, group = ours.bootstrap, unique("verifiable"), unique("vgroup")
    total = 12_000
    run_tool("topics", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "6")
    consumers = [start_verifiable(f"c{i}", "verifiable-consumer", "--bootstrap-server", b, "--topic", topic,
                                  "--group-id", group, "--group-protocol", "classic", "--assignment-strategy",
                                  assignor, "--reset-policy", "earliest", "--session-timeout", "6000",
                                  "--verbose", log=tmp_path / f"c{i}.log") for i in range(3)]
    try:
        wait_for(lambda: sum(len(c.named("partitions_assigned")) > 0 for c in consumers) == 3, 60,
                 "three consumers to join")
        producer = start_verifiable("producer", "verifiable-producer", "--bootstrap-server", b, "--topic", topic,
                                    "--max-messages", str(total), "--throughput", "1500", "--acks", "-1",
                                    "--repeating-keys", "60",
                                    log=tmp_path / "producer.log")
        wait_for(lambda: len(producer.named("producer_send_success")) >= total // 2, 60, "half the records acked")
        consumers[0].proc.kill()  # SIGKILL: no LeaveGroup, the broker must notice the session expiring
        assert producer.proc.wait(120) == 0
        producer.reader.join(10)
        acked = {(int(e["partition"]), int(e["offset"])) for e in producer.named("producer_send_success")}  # type: ignore[arg-type]
        assert len(acked) == total and not producer.named("producer_send_error")

        def consumed() -> set[tuple[int, int]]:
            return {(int(e["partition"]), int(e["offset"]))  # type: ignore[arg-type]
                    for c in consumers for e in c.named("record_data")}

        wait_for(lambda: acked <= consumed(), 90, "every acked record to be consumed")
        for survivor in consumers[1:]:
            assert survivor.named("partitions_assigned"), f"{survivor.name} never got partitions"
        assert {p for p, _ in acked} == set(range(6))
        for c in consumers[1:]:
            events = list(c.events)
            for i, event in enumerate(events):
                if event.get("name") == "offsets_committed" and not event.get("success"):
                    later = [e.get("name") for e in events[i + 1:]]
                    assert "partitions_revoked" in later or "partitions_assigned" in later, \
                        f"{c.name}: a commit failed outside a rebalance: {event}"
    finally:
        for c in consumers:
            if c.proc.poll() is None:
                c.proc.terminate()
        for c in consumers:
            try:
                c.proc.wait(30)
            except subprocess.TimeoutExpired:
                c.proc.kill()


