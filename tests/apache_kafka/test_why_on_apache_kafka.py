"""`kctl why` on Apache Kafka: the same causes made on purpose as on the built-in broker
(tests/support/why_causes.py), and what only a cluster of several brokers can show, a partition
whose only replica is down."""

from __future__ import annotations

import json
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
