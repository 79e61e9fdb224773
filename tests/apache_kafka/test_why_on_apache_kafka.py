"""`kctl why` on Apache Kafka: the same causes made on purpose as on the built-in broker
(tests/support/why_causes.py), and what only a cluster of several brokers can show, a partition
whose only replica is down."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique
from tests.support.apache_kafka import KafkaCluster
from tests.support.why_causes import SCENARIOS
from tests.test_why import UNHEALTHY, ask_why, check_scenario


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_cause_made_on_purpose_gets_its_verdict_on_kafka(scenario: str, kafka_one: KafkaCluster,
                                                              tmp_path: Path) -> None:
    check_scenario(scenario, kafka_one.bootstrap, tmp_path)


def test_a_partition_whose_broker_is_down_has_no_leader(kafka_three: KafkaCluster, tmp_path: Path) -> None:
    env = isolated_env(tmp_path, kafka_three.bootstrap)
    topic, group = unique("why-leader"), unique("why-leader-group")
    kctl(env, "topics", "create", topic, "-p", "3", "-r", "1")
    kctl(env, "produce", topic, stdin="".join(f"r{i}\n" for i in range(30)))
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    described = json.loads(kctl(env, "topics", "describe", topic, "-o", "json").stdout)
    on_node = {p["partition"]: p["leader"] for p in described["partitions"]}
    stopped = next(node for node in (2, 3) if node in on_node.values())  # not the bootstrap's node
    kafka_three.stop_node(stopped)
    try:
        code, found = ask_why(env, group, "3s")
    finally:
        kafka_three.start_node(stopped)
    assert code == UNHEALTHY and found["verdict"]["cause"] == "no-leader", found  # type: ignore[index]
    headless = [p for p, leader in on_node.items() if leader == stopped]
    *partitions, unmeasured = found["verdict"]["evidence"]  # type: ignore[index]
    assert [line.split(":")[0] for line in partitions] == [f"{topic}[{p}]" for p in headless]
    assert unmeasured.startswith("lag not measured") and "LEADER_NOT_AVAILABLE" in unmeasured


def test_a_follower_down_leaves_the_groups_partitions_under_replicated(kafka_three: KafkaCluster,
                                                                       tmp_path: Path) -> None:
    """Three replicas, one broker stopped: the partitions keep a leader and lose an in-sync replica.
    The verdict stays the group's own trouble (no consumers); under-replication is listed with it."""
    env = isolated_env(tmp_path, kafka_three.bootstrap)
    topic, group = unique("why-isr"), unique("why-isr-group")
    kctl(env, "topics", "create", topic, "-p", "2", "-r", "3")
    kctl(env, "produce", topic, stdin="".join(f"r{i}\n" for i in range(20)))
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    kafka_three.stop_node(3)
    try:
        deadline = time.monotonic() + 60
        while kctl(env, "topics", "list", "--under-replicated", "-o", "json").stdout.count(topic) != 2:
            assert time.monotonic() < deadline, "the partitions never showed under-replicated"
            time.sleep(1)
        code, found = ask_why(env, group, "3s")
    finally:
        kafka_three.start_node(3)
    assert code == UNHEALTHY and found["verdict"]["cause"] == "no-consumers", found  # type: ignore[index]
    [under] = [c for c in found["also"] if c["cause"] == "under-replicated"]  # type: ignore[attr-defined]
    assert under["summary"] == "2 of the group's partitions are under-replicated"
    for line in under["evidence"]:  # "T[P]: in sync [1, 2] of [1, 2, 3]"
        in_sync, replicas = (json.loads(part) for part in line.split("in sync ")[1].split(" of "))
        assert line.startswith(f"{topic}[") and sorted(replicas) == [1, 2, 3] and sorted(in_sync) == [1, 2]
