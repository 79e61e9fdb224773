"""The reassignment planner on its own: balanced, minimal, rack-aware, and Kafka's JSON both ways."""

from __future__ import annotations

from collections import Counter

import pytest

from kctl.client.types import BrokerInfo, PartitionInfo, TopicInfo, TopicPartition
from kctl.ops.errors import BadUsage, NotFound
from kctl.ops.reassign import plan_json, plan_reassignment, read_plan


def topic(name: str, replicas: list[list[int]]) -> TopicInfo:
    return TopicInfo(name, None, False, {p: PartitionInfo(p, r[0], 0, list(r), list(r))
                                         for p, r in enumerate(replicas)})


def brokers(*ids: int, racks: dict[int, str] | None = None) -> list[BrokerInfo]:
    return [BrokerInfo(i, "127.0.0.1", 9000 + i, (racks or {}).get(i)) for i in ids]


def after(topics: dict[str, TopicInfo], plan: dict[TopicPartition, list[int]]) -> dict[TopicPartition, list[int]]:
    out = {TopicPartition(n, p): list(info.partitions[p].replicas)
           for n, info in topics.items() for p in info.partitions}
    out.update(plan)
    return out


def test_raising_the_replication_factor_spreads_replicas_and_leaders_evenly() -> None:
    topics = {"orders": topic("orders", [[1], [2], [3], [1], [2], [3]])}
    plan = plan_reassignment(topics, brokers(1, 2, 3), replication_factor=3)
    assert len(plan) == 6
    final = after(topics, plan)
    assert all(sorted(r) == [1, 2, 3] for r in final.values())
    assert Counter(r[0] for r in final.values()) == {1: 2, 2: 2, 3: 2}  # preferred leaders balanced
    # The replica that holds the data stays: nothing is copied that need not be.
    assert all(topics["orders"].partitions[tp.partition].replicas[0] in r for tp, r in plan.items())


def test_a_balanced_topic_is_left_alone() -> None:
    topics = {"orders": topic("orders", [[1, 2], [2, 3], [3, 1]])}
    assert plan_reassignment(topics, brokers(1, 2, 3)) == {}


def test_everything_on_one_broker_moves_the_fewest_replicas_that_balance() -> None:
    topics = {"logs": topic("logs", [[1]] * 6)}
    plan = plan_reassignment(topics, brokers(1, 2, 3))
    assert len(plan) == 4  # two partitions stay on broker 1, two go to each of the others
    assert Counter(r[0] for r in after(topics, plan).values()) == {1: 2, 2: 2, 3: 2}


def test_draining_a_broker_moves_only_what_it_holds() -> None:
    topics = {"t": topic("t", [[1, 2], [2, 3], [3, 1], [1, 2]])}
    plan = plan_reassignment(topics, brokers(1, 2, 3), only=[1, 2])
    final = after(topics, plan)
    assert all(3 not in r and len(r) == 2 for r in final.values())
    assert TopicPartition("t", 0) not in plan and TopicPartition("t", 3) not in plan


def test_rack_aware_plans_put_a_partitions_replicas_on_distinct_racks() -> None:
    topics = {"t": topic("t", [[1], [2], [3], [4]])}
    racks = {1: "a", 2: "a", 3: "b", 4: "b"}
    final = after(topics, plan_reassignment(topics, brokers(1, 2, 3, 4, racks=racks), replication_factor=2,
                                            rack_aware=True))
    assert all({racks[b] for b in r} == {"a", "b"} for r in final.values())


def test_impossible_plans_are_refused_in_words() -> None:
    topics = {"t": topic("t", [[1]])}
    with pytest.raises(BadUsage, match="needs 3 replicas and only 2"):
        plan_reassignment(topics, brokers(1, 2), replication_factor=3)
    with pytest.raises(NotFound, match="no live broker 9"):
        plan_reassignment(topics, brokers(1, 2), only=[1, 9])


def test_the_plan_file_is_kafkas_json_and_reads_back() -> None:
    plan = {TopicPartition("t", 1): [2, 3], TopicPartition("t", 0): [1, 2]}
    text = plan_json(plan)
    assert '"version": 1' in text and '"log_dirs": [\n        "any"' in text
    assert read_plan(text) == plan
    with pytest.raises(BadUsage, match="Kafka's reassignment JSON"):
        read_plan('{"partitions": [{"topic": "t"}]}')
