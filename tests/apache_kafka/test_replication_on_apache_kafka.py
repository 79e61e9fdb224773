"""Replication-aware operations on the three-node Apache Kafka cluster: health with a broker
down, reassignment (replication factor raised, a broker drained and undone) held against Kafka's
own tools, throttles while data moves, and preferred leader election."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import isolated_env
from tests.cli.test_commands import as_json, kctl, unique
from tests.support.apache_kafka import KafkaCluster, run_tool

ck = pytest.importorskip("confluent_kafka")


@pytest.fixture
def env(tmp_path: Path, kafka_three: KafkaCluster) -> dict[str, str]:
    return isolated_env(tmp_path, kafka_three.bootstrap)


def eventually(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def produce(bootstrap: str, topic: str, count: int, size: int = 100) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    for i in range(count):
        producer.produce(topic, key=f"k{i}", value=(f"{i:08d}" * (size // 8 + 1))[:size])
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def records_digest(env: dict[str, str], topic: str) -> tuple[int, str]:
    """How many records the topic holds, and a digest of them that ignores partition order."""
    lines = kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl").stdout.splitlines()
    rows = sorted((r["partition"], r["offset"], r["key"], r["value"]) for r in map(json.loads, lines))
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def assignment(env: dict[str, str], topic: str) -> dict[int, list[int]]:
    return {p["partition"]: p["replicas"] for p in as_json(kctl(env, "topics", "describe", topic, "-o", "json"))
            ["partitions"]}


def wait_reassigned(env: dict[str, str]) -> dict[str, Any]:
    return eventually(lambda: (s := as_json(kctl(env, "reassign", "status", "-o", "json")))["done"] and s,
                      180, "the reassignment to finish")


@pytest.fixture
def all_nodes_up(kafka_three: KafkaCluster) -> Iterator[KafkaCluster]:
    """Whatever a test stops is running again afterwards, for the tests after it."""
    yield kafka_three
    for node in kafka_three.nodes:
        if node.proc is None or node.proc.poll() is not None:
            kafka_three.start_node(node.node_id)


def test_health_under_replication_and_leaders_with_a_broker_down(env: dict[str, str],
                                                                  all_nodes_up: KafkaCluster) -> None:
    kafka = all_nodes_up
    topic = unique("rf3")
    kctl(env, "topics", "create", topic, "-p", "6", "-r", "3")
    # A group, so __consumer_offsets exists: kafka-topics lists an internal topic's partitions too.
    kctl(env, "groups", "reset-offsets", unique("g"), "-t", topic, "--to-earliest", "--execute")
    produce(kafka.bootstrap, topic, 600)
    eventually(lambda: as_json(kctl(env, "cluster", "health", "-o", "json"))["status"] == "OK", 60, "OK")
    assert kctl(env, "cluster", "health", "--check").returncode == 0

    stopped = 3
    kafka.stop_node(stopped)
    health = eventually(lambda: (h := as_json(kctl(env, "cluster", "health", "-o", "json", ok=False)))
                        ["status"] != "OK" and h, 60, "health to notice the stopped broker")
    assert health["status"] in ("WARN", "CRIT")
    assert {"id": stopped, "alive": False}.items() <= next(b for b in health["brokers"]
                                                            if b["id"] == stopped).items()
    assert kctl(env, "cluster", "health", "--check", ok=False).returncode == 7
    ours = {(p["topic"], p["partition"]) for p in
            as_json(kctl(env, "topics", "list", "--under-replicated", "-o", "json"))}
    theirs = set()
    for line in run_tool("topics", "--bootstrap-server", kafka.bootstrap, "--describe",
                         "--under-replicated-partitions").stdout.splitlines():
        if "Partition:" in line:
            fields = dict(part.split(": ", 1) for part in line.strip().split("\t") if ": " in part)
            theirs.add((fields["Topic"], int(fields["Partition"])))
    assert ours == theirs and (topic, 0) in ours
    described = as_json(kctl(env, "topics", "describe", topic, "-o", "json"))
    assert all(p["out_of_isr"] == [stopped] for p in described["partitions"])

    kafka.start_node(stopped)
    eventually(lambda: as_json(kctl(env, "cluster", "health", "-o", "json"))["status"] == "OK", 120,
               "health to return to OK")
    # Leadership left the stopped broker and stays away; a preferred election brings it back.
    preferred = {p: r[0] for p, r in assignment(env, topic).items()}
    elected = as_json(kctl(env, "elect-leaders", "--preferred", "--topic", topic, "-o", "json"))
    assert any(r["result"] == "elected" for r in elected), elected
    leaders = {p["partition"]: p["leader"] for p in as_json(kctl(env, "topics", "describe", topic, "-o", "json"))
               ["partitions"]}
    assert leaders == preferred


def test_raising_the_replication_factor_keeps_every_record_and_kafka_verifies_the_plan(
        env: dict[str, str], kafka_three: KafkaCluster, tmp_path: Path) -> None:
    kafka = kafka_three
    topic = unique("grow")
    kctl(env, "topics", "create", topic, "-p", "3", "-r", "1")
    produce(kafka.bootstrap, topic, 30_000, size=200)  # 6 MB: seconds to copy at 1 MB/s
    before = records_digest(env, topic)
    plan = tmp_path / "plan.json"
    kctl(env, "reassign", "plan", "--topic", topic, "--replication-factor", "3", "--out", str(plan))
    assert {p["topic"] for p in json.loads(plan.read_text())["partitions"]} == {topic}
    preview = as_json(kctl(env, "reassign", "apply", str(plan), "-o", "json"))
    assert not preview["executed"] and preview["bytes_to_copy"] > 5_000_000
    assert all(len(r) == 1 for r in assignment(env, topic).values())  # a dry run changes nothing

    kctl(env, "reassign", "apply", str(plan), "--throttle", "1M", "--execute")
    configs = {c["name"]: c["value"] for c in as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json"))}
    assert configs.get("leader.replication.throttled.replicas") and configs.get(
        "follower.replication.throttled.replicas")  # set while the data moves
    wait_reassigned(env)
    configs = {c["name"] for c in as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json"))}
    assert not configs & {"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}
    for node in kafka.nodes:
        rates = {c["name"] for c in as_json(kctl(env, "configs", "get", "broker", str(node.node_id), "-o", "json"))
                 if c["source"] != "default"}
        assert not rates & {"leader.replication.throttled.rate", "follower.replication.throttled.rate"}
    assert all(sorted(r) == [1, 2, 3] for r in assignment(env, topic).values())
    verified = run_tool("reassign", "--bootstrap-server", kafka.bootstrap, "--verify",
                        "--reassignment-json-file", str(plan)).stdout
    assert verified.count("is completed") == 3, verified
    assert records_digest(env, topic) == before


def test_draining_a_broker_then_undoing_restores_the_assignment(env: dict[str, str],
                                                                kafka_three: KafkaCluster) -> None:
    topic = unique("spread")
    kctl(env, "topics", "create", topic, "-p", "6", "-r", "2")
    produce(kafka_three.bootstrap, topic, 600)
    original = assignment(env, topic)
    assert any(2 in r for r in original.values())
    # Every topic at once cannot leave broker 2: one with three replicas needs all three brokers.
    kctl(env, "topics", "create", unique("wide"), "-p", "1", "-r", "3")
    refused = kctl(env, "brokers", "drain", "2", ok=False)
    assert refused.returncode == 2 and "needs 3 replicas and only 2 broker(s)" in refused.stderr
    drained = as_json(kctl(env, "brokers", "drain", "2", "--topic", topic, "--execute", "-o", "json"))
    assert drained["executed"]
    wait_reassigned(env)
    assert all(2 not in r and len(r) == 2 for r in assignment(env, topic).values())
    kctl(env, "reassign", "undo", "--execute")
    wait_reassigned(env)
    assert assignment(env, topic) == original
    # Both are in the journal, the undo as the drain's; `kctl undo` takes the undo back in turn.
    drain, undo = json.loads(kctl(env, "history", "-o", "json").stdout)[-2:]
    assert drain["kind"] == undo["kind"] == "reassignment" and undo["undoes"] == drain["id"]
    assert drain["before"] and all(t == topic and original[p] == r for t, p, r in drain["before"])
    kctl(env, "undo", undo["id"], "--execute")
    wait_reassigned(env)
    assert all(2 not in r for r in assignment(env, topic).values())


def test_cancelling_a_throttled_move_puts_replicas_back_and_clears_the_throttles(
        env: dict[str, str], kafka_three: KafkaCluster, tmp_path: Path) -> None:
    topic = unique("slow")
    kctl(env, "topics", "create", topic, "-p", "1", "-r", "1")
    produce(kafka_three.bootstrap, topic, 20_000, size=500)  # 10 MB at 100 KB/s: far from done when cancelled
    original = assignment(env, topic)
    kctl(env, "topics", "alter", topic, "--replication-factor", "2", "--throttle", "100K", "--execute")
    status = as_json(kctl(env, "reassign", "status", "-o", "json"))
    assert not status["done"] and status["partitions"][0]["state"] == "moving"
    kctl(env, "reassign", "cancel", "--yes")
    eventually(lambda: assignment(env, topic) == original, 60, "the replicas to go back")
    configs = {c["name"] for c in as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json"))}
    assert not configs & {"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}
