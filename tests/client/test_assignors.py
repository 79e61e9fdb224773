"""The assignors on their own: the Java client's results for range and roundrobin, and the
stickiness and two-step hand-over of cooperative-sticky."""

from __future__ import annotations

import pytest

from kctl.client.assignors import (
    CooperativeStickyAssignor,
    MemberSubscription,
    RangeAssignor,
    RoundRobinAssignor,
    assignor,
)
from kctl.client.types import TopicPartition as TP


def names(result: dict[str, list[TP]]) -> dict[str, list[str]]:
    return {m: [f"{tp.topic}{tp.partition}" for tp in tps] for m, tps in result.items()}


def test_range_gives_consecutive_runs_per_topic_extra_to_the_first() -> None:
    members = [MemberSubscription("c1", ["t", "u"]), MemberSubscription("c0", ["t", "u"])]
    result = RangeAssignor().assign(members, {"t": 3, "u": 2})
    assert names(result) == {"c0": ["t0", "t1", "u0"], "c1": ["t2", "u1"]}


def test_roundrobin_deals_all_partitions_in_turn_to_subscribers() -> None:
    members = [MemberSubscription("a", ["t", "u"]), MemberSubscription("b", ["u"])]
    result = RoundRobinAssignor().assign(members, {"t": 2, "u": 3})
    assert names(result) == {"a": ["t0", "t1", "u1"], "b": ["u0", "u2"]}


def test_static_members_are_ordered_by_instance_id() -> None:
    members = [MemberSubscription("zzz-1", ["t"], instance_id="a"), MemberSubscription("aaa-2", ["t"], instance_id="b")]
    assert names(RangeAssignor().assign(members, {"t": 2})) == {"zzz-1": ["t0"], "aaa-2": ["t1"]}


def test_cooperative_sticky_keeps_partitions_and_moves_them_in_two_steps() -> None:
    partitions = {"t": 6}
    sticky = CooperativeStickyAssignor()
    first = sticky.assign([MemberSubscription("a", ["t"]), MemberSubscription("b", ["t"])], partitions)
    assert sorted(len(v) for v in first.values()) == [3, 3]
    # c joins: a and b keep what they keep; what moves is first taken away from its owner only.
    owners = [MemberSubscription(m, ["t"], owned=list(tps)) for m, tps in first.items()]
    second = sticky.assign([*owners, MemberSubscription("c", ["t"])], partitions)
    for member in ("a", "b"):
        assert set(second[member]) <= set(first[member])
        assert len(second[member]) == 2
    assert second["c"] == []  # not yet: the two partitions are still with their owners
    # After a and b give them up, the next round hands them to c.
    owners = [MemberSubscription(m, ["t"], owned=list(tps)) for m, tps in second.items()]
    third = sticky.assign(owners, partitions)
    assert len(third["c"]) == 2 and third["a"] == second["a"] and third["b"] == second["b"]
    assert sorted(tp for tps in third.values() for tp in tps) == [TP("t", p) for p in range(6)]


def test_cooperative_sticky_respects_subscriptions_and_duplicate_claims() -> None:
    members = [MemberSubscription("a", ["t"], owned=[TP("t", 0), TP("u", 0)]),
               MemberSubscription("b", ["t", "u"], owned=[TP("t", 0)])]
    result = CooperativeStickyAssignor.balanced(members, {"t": 2, "u": 2})
    assert TP("u", 0) not in result["a"] and TP("u", 1) not in result["a"]  # a does not subscribe to u
    everything = sorted(tp for tps in result.values() for tp in tps)
    assert everything == [TP("t", 0), TP("t", 1), TP("u", 0), TP("u", 1)]


def test_assignor_names() -> None:
    assert assignor("cooperative-sticky").protocol == "cooperative"
    assert assignor("range").protocol == "eager"
    with pytest.raises(ValueError, match="unknown assignor"):
        assignor("sticky-ish")
