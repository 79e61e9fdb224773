"""kctl against Apache Kafka (one node and three nodes of the reference release, and one node of
3.9.1): every command that reads or changes state, its JSON held against what the same release's
own tools print for the same cluster."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import isolated_env
from tests.cli.test_commands import as_json, kctl, unique
from tests.conftest import SCRAM_ALICE
from tests.support.apache_kafka import KafkaCluster, run_tool

from .test_kafka_tools_on_our_broker import start_verifiable, table, wait_for


@pytest.fixture(scope="module", params=["kafka_one", "kafka_three", "kafka_older"])
def kafka(request: pytest.FixtureRequest) -> KafkaCluster:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def env(tmp_path: Path, kafka: KafkaCluster) -> dict[str, str]:
    return isolated_env(tmp_path, kafka.bootstrap)


def topic_command_partitions(kafka: KafkaCluster, topic: str) -> dict[int, dict[str, Any]]:
    """TopicCommand --describe, parsed: partition -> leader, replicas, isr."""
    out = kafka.tool("topics", "--describe", "--topic", topic).stdout
    found = {}
    for m in re.finditer(r"Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]+)\s+Isr: ([\d,]*)", out):
        found[int(m[1])] = {"leader": int(m[2]), "replicas": [int(x) for x in m[3].split(",")],
                            "isr": sorted(int(x) for x in m[4].split(",") if x)}
    return found


def offsets_shell(kafka: KafkaCluster, topic: str, time_arg: str) -> dict[int, int]:
    out = kafka.tool("get-offsets", "--topic", topic, "--time", time_arg).stdout
    return {int(p): int(o) for _, p, o in (line.rsplit(":", 2) for line in out.split())}


def group_command(kafka: KafkaCluster, group: str) -> dict[tuple[str, int], tuple[int, int, int]]:
    """ConsumerGroupCommand --describe: (topic, partition) -> (committed, log end, lag)."""
    out = kafka.tool("consumer-groups", "--describe", "--group", group).stdout
    return {(r["TOPIC"], int(r["PARTITION"])): (int(r["CURRENT-OFFSET"]), int(r["LOG-END-OFFSET"]), int(r["LAG"]))
            for r in table(out)}


def produce_lines(env: dict[str, str], topic: str, rows: list[dict[str, Any]]) -> None:
    kctl(env, "produce", topic, "--jsonl", stdin="".join(json.dumps(r) + "\n" for r in rows))


def test_cluster_and_brokers(env: dict[str, str], kafka: KafkaCluster) -> None:
    info = as_json(kctl(env, "cluster", "info", "-o", "json"))
    assert info["cluster_id"] == kafka.cluster_id and info["brokers"] == kafka.size
    brokers = as_json(kctl(env, "brokers", "list", "-o", "json"))
    assert sorted((b["id"], b["port"]) for b in brokers) == sorted((n.node_id, n.port) for n in kafka.nodes)
    assert sum(b["controller"] for b in brokers) == 1
    assert info["controller"] in {n.node_id for n in kafka.nodes}


def test_topics_agree_with_topic_command(env: dict[str, str], kafka: KafkaCluster) -> None:
    topic = unique("orders")
    kctl(env, "topics", "create", topic, "-p", "3", "-r", str(kafka.size), "-c", "retention.ms=3600000")
    listed = {t["name"]: t for t in as_json(kctl(env, "topics", "list", "-o", "json"))}
    assert listed[topic]["partitions"] == 3 and listed[topic]["replicas"] == kafka.size
    assert topic in kafka.tool("topics", "--list").stdout.split()
    described = as_json(kctl(env, "topics", "describe", topic, "-o", "json"))
    ours = {p["partition"]: {"leader": p["leader"], "replicas": p["replicas"], "isr": sorted(p["isr"])}
            for p in described["partitions"]}
    assert ours == topic_command_partitions(kafka, topic)
    assert {"name": "retention.ms", "value": "3600000"}.items() <= next(
        c for c in described["configs"] if c["name"] == "retention.ms").items()
    kctl(env, "topics", "alter", topic, "-p", "5")
    assert sorted(topic_command_partitions(kafka, topic)) == [0, 1, 2, 3, 4]
    # configs: kctl sets, the configs tool reads; the configs tool sets, kctl reads.
    kctl(env, "configs", "set", "topic", topic, "retention.ms=7200000")
    scope = ["--entity-type", "topics", "--entity-name", topic]
    assert "retention.ms=7200000" in kafka.tool("configs", *scope, "--describe").stdout
    kafka.tool("configs", *scope, "--alter", "--add-config", "cleanup.policy=compact")
    configs = {c["name"]: c for c in as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json"))}
    assert configs["cleanup.policy"]["value"] == "compact" and configs["retention.ms"]["value"] == "7200000"
    kctl(env, "configs", "delete", "topic", topic, "retention.ms")
    assert "retention.ms" not in kafka.tool("configs", *scope, "--describe").stdout
    broker_configs = {c["name"]: c["value"] for c in
                      as_json(kctl(env, "configs", "get", "broker", str(kafka.nodes[0].node_id), "-o", "json"))}
    assert broker_configs["node.id"] == str(kafka.nodes[0].node_id)
    kctl(env, "topics", "delete", topic, "--yes")
    wait_for(lambda: topic not in kafka.tool("topics", "--list").stdout.split(),
             30, "the topic to go")


def test_produce_tail_and_offsets_agree_with_get_offset_shell(env: dict[str, str], kafka: KafkaCluster) -> None:
    topic = unique("events")
    kctl(env, "topics", "create", topic, "-p", "2", "-r", str(kafka.size))
    base = (int(time.time()) - 3600) * 1000  # recent: older records would fall to Kafka's 7-day retention
    produce_lines(env, topic, [{"key": f"k{i}", "value": f"v{i}", "partition": i % 2, "timestamp": base + i * 1000,
                                "headers": {"seq": str(i)}} for i in range(20)])
    offsets = {r["partition"]: r for r in as_json(kctl(env, "offsets", topic, "-o", "json"))}
    assert {p: r["latest"] for p, r in offsets.items()} == offsets_shell(kafka, topic, "-1") == {0: 10, 1: 10}
    assert {p: r["earliest"] for p, r in offsets.items()} == offsets_shell(kafka, topic, "-2") == {0: 0, 1: 0}
    at = {r["partition"]: r["offset"] for r in
          as_json(kctl(env, "offsets", topic, "--at", str(base + 9_500), "-o", "json"))}
    assert at == offsets_shell(kafka, topic, str(base + 9_500)) == {0: 5, 1: 5}
    records = [json.loads(line) for line in
               kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl").stdout.splitlines()]
    assert sorted((r["partition"], r["offset"], r["key"], r["value"], r["headers"]["seq"]) for r in records) == sorted(
        (i % 2, i // 2, f"k{i}", f"v{i}", str(i)) for i in range(20))
    # What kctl produced, Kafka's console consumer reads with its keys and headers.
    console = kafka.tool("console-consumer", "--topic", topic,
                       "--partition", "1", "--offset", "0", "--max-messages", "10", "--timeout-ms", "30000",
                       "--property", "print.key=true", "--property", "print.headers=true").stdout
    assert [line for line in console.splitlines() if line.startswith("seq:")] == [
        f"seq:{i}\tk{i}\tv{i}" for i in range(1, 20, 2)]
    # records delete moves the log start, as GetOffsetShell then shows.
    kctl(env, "records", "delete", topic, "--before", "4", "-p", "0", "--yes")
    assert offsets_shell(kafka, topic, "-2") == {0: 4, 1: 0}


def test_groups_lag_and_resets_agree_with_consumer_group_command(env: dict[str, str], kafka: KafkaCluster) -> None:
    topic, group = unique("payments"), unique("billing")
    kctl(env, "topics", "create", topic, "-p", "3", "-r", str(kafka.size))
    produce_lines(env, topic, [{"value": f"v{i}", "partition": i % 3} for i in range(30)])
    # A reset executed by kctl is what ConsumerGroupCommand shows.
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-offset", "4", "--execute")
    expected = {(topic, p): (4, 10, 6) for p in range(3)}
    assert group_command(kafka, group) == expected
    described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    assert {(r["topic"], r["partition"]): (r["committed_offset"], r["log_end_offset"], r["lag"])
            for r in described["partitions"]} == expected
    assert described["state"] == "Empty"
    lag = as_json(kctl(env, "lag", group, "-o", "json"))
    assert {(r["topic"], r["partition"]): r["lag"] for r in lag} == {k: v[2] for k, v in expected.items()}
    assert kctl(env, "lag", group, "--check", ok=False).returncode == 7  # lagging with no members: STOP
    listed = {g["group"]: g for g in as_json(kctl(env, "groups", "list", "-o", "json"))}
    assert listed[group]["state"] == "Empty"
    assert group in kafka.tool("consumer-groups", "--list").stdout.split()
    # ...and the reverse: a reset by ConsumerGroupCommand is what kctl shows.
    kafka.tool("consumer-groups", "--group", group, "--topic", f"{topic}:1",
             "--reset-offsets", "--to-latest", "--execute")
    described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    assert {r["partition"]: r["committed_offset"] for r in described["partitions"]} == {0: 4, 1: 10, 2: 4}
    # Every reset strategy kctl has, checked against Kafka's view each time.
    for strategy, offsets in ((["--to-earliest"], [0, 0, 0]), (["--to-latest"], [10, 10, 10]),
                              (["--shift-by", "-3"], [7, 7, 7]), (["--to-datetime", "2000-01-01T00:00:00Z"], [0, 0, 0]),
                              (["--by-duration", "1h"], [0, 0, 0]), (["--to-current"], [0, 0, 0])):
        dry = as_json(kctl(env, "groups", "reset-offsets", group, "-t", topic, *strategy, "-o", "json"))
        assert [r["new_offset"] for r in sorted(dry["partitions"], key=lambda r: r["partition"])] == offsets, strategy
        kctl(env, "groups", "reset-offsets", group, "-t", topic, *strategy, "--execute")
        assert [v[0] for _, v in sorted(group_command(kafka, group).items())] == offsets, strategy
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-offset", "6", "--execute")
    assert [v[0] for _, v in sorted(group_command(kafka, group).items())] == [6, 6, 6]
    kctl(env, "groups", "undo-reset", group)
    assert [v[0] for _, v in sorted(group_command(kafka, group).items())] == [0, 0, 0]
    kctl(env, "groups", "delete-offsets", group, "-t", f"{topic}:2")
    assert sorted(p for _, p in group_command(kafka, group)) == [0, 1]
    kctl(env, "groups", "delete", group, "--yes")
    assert group not in kafka.tool("consumer-groups", "--list").stdout.split()


def test_a_deleted_topics_offsets_go_as_on_our_broker(env: dict[str, str], kafka: KafkaCluster) -> None:
    """What the built-in broker does on topic deletion is Kafka's: the group's offsets on the
    topic go, an empty group left without offsets stays listed (until a retention check), and
    `kctl lag` answers throughout."""
    gone, kept = unique("deleted"), unique("kept")
    both, only_gone = unique("both"), unique("only-deleted")
    for topic in (gone, kept):
        kctl(env, "topics", "create", topic, "-p", "2", "-r", str(kafka.size))
        produce_lines(env, topic, [{"value": f"v{i}", "partition": i % 2} for i in range(4)])
    for group, topics in ((both, (gone, kept)), (only_gone, (gone,))):
        for topic in topics:
            kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    kctl(env, "topics", "delete", gone, "--yes")

    def offsets_gone() -> bool:
        rows = as_json(kctl(env, "lag", "-o", "json"))  # answers even while the offsets linger
        return {r["topic"] for r in rows if r["group"] in (both, only_gone)} == {kept}

    wait_for(offsets_gone, 60, f"Kafka to drop the offsets of {gone}")
    assert set(group_command(kafka, both)) == {(kept, 0), (kept, 1)}
    listed = {g["group"]: g["state"] for g in as_json(kctl(env, "groups", "list", "-o", "json"))}
    assert listed[both] == listed[only_gone] == "Empty"


def test_tail_as_group_member_commits_what_it_printed(env: dict[str, str], kafka: KafkaCluster) -> None:
    topic, group = unique("audit"), unique("reader")
    kctl(env, "topics", "create", topic, "-p", "1", "-r", str(kafka.size))
    produce_lines(env, topic, [{"value": f"v{i}"} for i in range(50)])
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    out = kctl(env, "tail", topic, "--group", group, "--max", "50", "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["value"] for line in out] == [f"v{i}" for i in range(50)]
    assert group_command(kafka, group) == {(topic, 0): (50, 50, 0)}


def test_our_consumer_shares_a_group_with_java_consumers(kafka: KafkaCluster, tmp_path: Path) -> None:
    from kctl.client import Cluster, TopicPartition
    from kctl.client.consumer import Consumer
    from kctl.client.producer import Producer

    topic, group, total = unique("shared"), unique("mixed"), 600
    kafka.tool("topics", "--create", "--topic", topic, "--partitions", "4",
             "--replication-factor", str(kafka.size))
    java = start_verifiable("java", "verifiable-consumer", "--bootstrap-server", kafka.bootstrap, "--topic", topic,
                            "--group-id", group, "--group-protocol", "classic", "--reset-policy", "earliest",
                            "--assignment-strategy", "org.apache.kafka.clients.consumer.RangeAssignor",
                            "--session-timeout", "10000", "--verbose", log=tmp_path / "java.log",
                            version=kafka.version)

    def java_got() -> set[tuple[int, int]]:
        return {(int(e["partition"]), int(e["offset"])) for e in java.named("record_data")}  # type: ignore[arg-type]

    async def produce(cluster: Cluster, first: int, count: int) -> None:
        async with Producer(cluster) as producer:
            for i in range(first, first + count):
                await producer.send(topic, f"v{i}".encode(), key=f"k{i}".encode())
            await producer.flush()

    async def run() -> tuple[set[TopicPartition], set[tuple[int, int]]]:
        async with Cluster(kafka.bootstrap) as cluster:
            await produce(cluster, 0, total // 2)  # the Java consumer alone reads these
            consumer = Consumer(cluster, group_id=group, auto_offset_reset="earliest", assignors=["range"],
                                session_timeout_ms=10_000, heartbeat_interval_ms=1_000)
            consumer.subscribe([topic])
            got: set[tuple[int, int]] = set()
            async with consumer:
                deadline = time.monotonic() + 60
                while not consumer.assignment():  # joined: the group rebalanced around us
                    assert time.monotonic() < deadline, "our consumer never got partitions"
                    for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                        got.update((tp.partition, r.offset) for r in records)
                await produce(cluster, total // 2, total // 2)
                while len(got | java_got()) < total:
                    assert time.monotonic() < deadline, f"consumed {len(got | java_got())} of {total}"
                    for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                        got.update((tp.partition, r.offset) for r in records)
                return consumer.assignment(), got

    try:
        wait_for(lambda: java.named("partitions_assigned"), 60, "the Java consumer to join")
        ours_assigned, ours = asyncio.run(run())
        assert 0 < len(ours_assigned) < 4, f"range over 4 partitions and 2 members gave us {ours_assigned}"
        assert ours and {p for p, _ in ours} <= {tp.partition for tp in ours_assigned}
        java_assigned = java.named("partitions_assigned")[-1]["partitions"]
        java_partitions = {int(p["partition"]) for p in java_assigned}  # type: ignore[attr-defined,index]
        assert java_partitions.isdisjoint({tp.partition for tp in ours_assigned})
        assert java_partitions | {tp.partition for tp in ours_assigned} == {0, 1, 2, 3}
        assert len(ours | java_got()) == total
    finally:
        java.proc.terminate()
        java.proc.wait(30)


def test_scram_context_against_the_sasl_node(kafka_sasl: KafkaCluster, tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path, None), "ALICE_PASSWORD": SCRAM_ALICE.password}
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        kctl(env, "config", "set-context", "secure", "-b", kafka_sasl.bootstrap, "--sasl-mechanism", mechanism,
             "--sasl-username", SCRAM_ALICE.name, "--sasl-password-env", "ALICE_PASSWORD", "--use")
        topic = unique("secure")
        kctl(env, "topics", "create", topic, "-p", "1")
        kctl(env, "produce", topic, stdin="one\ntwo\n")
        got = [json.loads(line)["value"] for line in
               kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl").stdout.splitlines()]
        assert got == ["one", "two"]
    wrong = {**env, "ALICE_PASSWORD": "not-it"}
    denied = kctl(wrong, "topics", "list", ok=False)
    assert denied.returncode == 5, denied.stderr




def test_kctl_users_on_apache_kafka_match_its_configs_tool(kafka_sasl: KafkaCluster, tmp_path: Path) -> None:
    from tests.broker.test_scram_users import logs_in

    env = {**isolated_env(tmp_path, None), "ALICE_PASSWORD": SCRAM_ALICE.password, "DAVE_PW": "dave-one"}
    kctl(env, "config", "set-context", "secure", "-b", kafka_sasl.bootstrap, "--sasl-mechanism", "SCRAM-SHA-512",
         "--sasl-username", SCRAM_ALICE.name, "--sasl-password-env", "ALICE_PASSWORD", "--use")
    user = unique("dave")
    common = ["--bootstrap-server", kafka_sasl.bootstrap, "--command-config", str(kafka_sasl.client_properties())]

    def kafka_says() -> str:
        return run_tool("configs", *common, "--describe", "--entity-type", "users", "--entity-name", user).stdout

    kctl(env, "users", "create", user, "--password-env", "DAVE_PW", "-m", "SCRAM-SHA-256", "-m", "SCRAM-SHA-512")
    described = kafka_says()
    assert "SCRAM-SHA-256=iterations=8192" in described and "SCRAM-SHA-512=iterations=8192" in described
    assert logs_in(kafka_sasl.bootstrap, user, "dave-one")
    rows = as_json(kctl(env, "users", "list", user, "-o", "json"))
    assert rows == [{"user": user, "mechanism": m, "iterations": 8192} for m in ("SCRAM-SHA-256", "SCRAM-SHA-512")]
    kctl({**env, "DAVE_PW": "dave-two"}, "users", "passwd", user, "--password-env", "DAVE_PW")
    assert not logs_in(kafka_sasl.bootstrap, user, "dave-one") and logs_in(kafka_sasl.bootstrap, user, "dave-two")
    kctl(env, "users", "delete", user, "--mechanism", "SCRAM-SHA-256", "--yes")
    described = kafka_says()
    assert "SCRAM-SHA-256" not in described and "SCRAM-SHA-512=iterations=8192" in described
    kctl(env, "users", "delete", user, "--yes")
    assert "SCRAM" not in kafka_says()
    missing = kctl(env, "users", "list", user, ok=False)
    assert missing.returncode == 3


def test_a_parked_fetch_holds_up_nothing_else_on_apache_kafka(kafka_one: KafkaCluster) -> None:
    """Apache Kafka reads a connection's next request only after answering the one before: a
    consumer's long poll on a shared connection would hold up a produce for fetch.max.wait.ms."""
    from kctl.client import Cluster, TopicPartition
    from kctl.client.consumer import Consumer
    from kctl.client.producer import Producer

    topic = unique("parked")
    run_tool("topics", "--bootstrap-server", kafka_one.bootstrap, "--create", "--topic", topic, "--partitions", "1")

    async def run() -> list[float]:
        async with Cluster(kafka_one.bootstrap) as cluster, Producer(cluster, linger_ms=0) as producer:
            await producer.send_and_wait(topic, b"first", partition=0)
            consumer = Consumer(cluster, fetch_max_wait_ms=3000)
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            async with consumer:
                await consumer.seek_to_end(tp)
                took = []
                for i in range(5):
                    await asyncio.sleep(0.2)  # the consumer's fetch is parked at the end by now
                    started = time.monotonic()
                    await producer.send_and_wait(topic, b"v%d" % i, partition=0)
                    took.append(time.monotonic() - started)
                    got = await consumer.getmany(timeout_ms=3000)
                    assert [r.value for r in got.get(tp, [])] == [b"v%d" % i]
                return took

    took = asyncio.run(run())
    assert max(took) < 1.0, f"produce waited behind a parked fetch: {took}"
