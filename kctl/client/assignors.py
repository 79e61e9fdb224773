"""Partition assignors, run by the group leader: range, roundrobin and cooperative-sticky.

Each takes the members' subscriptions (and, for the sticky one, what each member owns now) and
the partition count of every subscribed topic, and returns each member's partitions. The names
and results match the Java client's assignors, so kctl members can share a group with Java,
librdkafka and kafka-python members that use the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .types import TopicPartition

EAGER = "eager"
COOPERATIVE = "cooperative"


@dataclass(slots=True)
class MemberSubscription:
    member_id: str
    topics: list[str]
    owned: list[TopicPartition] = field(default_factory=list)
    instance_id: str | None = None

    @property
    def sort_key(self) -> str:
        # Java sorts static members by instance id so their assignment survives new member ids.
        return self.instance_id or self.member_id


Assignment = dict[str, list[TopicPartition]]


class Assignor:
    name = ""
    protocol = EAGER

    def assign(self, members: list[MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
        raise NotImplementedError


class RangeAssignor(Assignor):
    """Per topic, consecutive ranges of partitions; the first members get one extra when it does not divide."""

    name = "range"

    def assign(self, members: list[MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
        out: Assignment = {m.member_id: [] for m in members}
        topics = sorted({t for m in members for t in m.topics if t in partitions})
        for topic in topics:
            subscribers = sorted((m for m in members if topic in m.topics), key=lambda m: m.sort_key)
            count = partitions[topic]
            per_member, extra = divmod(count, len(subscribers))
            start = 0
            for i, member in enumerate(subscribers):
                length = per_member + (1 if i < extra else 0)
                out[member.member_id].extend(TopicPartition(topic, p) for p in range(start, start + length))
                start += length
        return out


class RoundRobinAssignor(Assignor):
    """All partitions in topic order, dealt to the subscribed members in turn."""

    name = "roundrobin"

    def assign(self, members: list[MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
        out: Assignment = {m.member_id: [] for m in members}
        ordered = sorted(members, key=lambda m: m.sort_key)
        if not ordered:
            return out
        turn = 0
        for topic in sorted({t for m in members for t in m.topics if t in partitions}):
            for p in range(partitions[topic]):
                for _ in range(len(ordered)):
                    member = ordered[turn % len(ordered)]
                    turn += 1
                    if topic in member.topics:
                        out[member.member_id].append(TopicPartition(topic, p))
                        break
        return out


class CooperativeStickyAssignor(Assignor):
    """Balanced, keeping every partition where it is when it can (KIP-429).

    In the cooperative protocol a partition only moves in two steps: its owner is first told to
    give it up (it is left out of the owner's assignment and out of everyone else's), the owner
    rejoins, and the next rebalance hands it to its new member. So this leaves out of the
    result every partition that would change hands.
    """

    name = "cooperative-sticky"
    protocol = COOPERATIVE

    def assign(self, members: list[MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
        target = self.balanced(members, partitions)
        owner = {tp: m.member_id for m in sorted(members, key=lambda m: m.sort_key) for tp in m.owned}
        return {member_id: [tp for tp in tps if owner.get(tp, member_id) == member_id]
                for member_id, tps in target.items()}

    @staticmethod
    def balanced(members: list[MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
        """The sticky, balanced assignment before the cooperative step."""
        ordered = sorted(members, key=lambda m: m.sort_key)
        subscribed = {m.member_id: set(m.topics) for m in ordered}
        every = [TopicPartition(t, p) for t in sorted({t for m in ordered for t in m.topics if t in partitions})
                 for p in range(partitions[t])]
        valid = set(every)
        out: Assignment = {m.member_id: [] for m in ordered}
        taken: set[TopicPartition] = set()
        for m in ordered:  # keep what each member owns, once, if it still subscribes to it
            for tp in sorted(m.owned):
                if tp in valid and tp not in taken and tp.topic in subscribed[m.member_id]:
                    out[m.member_id].append(tp)
                    taken.add(tp)
        if not ordered:
            return out
        # Quotas: everyone gets floor(P/M); the remainder goes to those already holding most.
        base, extra = divmod(len(every), len(ordered))
        by_load = sorted(ordered, key=lambda m: -len(out[m.member_id]))
        quota = {m.member_id: base + (1 if i < extra else 0) for i, m in enumerate(by_load)}
        free: list[TopicPartition] = [tp for tp in every if tp not in taken]
        for m in ordered:
            held = out[m.member_id]
            while len(held) > quota[m.member_id]:
                free.append(held.pop())
        free.sort()
        for tp in free:
            candidates = [m for m in ordered if tp.topic in subscribed[m.member_id]]
            if not candidates:
                continue
            under = [m for m in candidates if len(out[m.member_id]) < quota[m.member_id]]
            chosen = min(under or candidates, key=lambda m: len(out[m.member_id]))
            out[chosen.member_id].append(tp)
        return {member_id: sorted(tps) for member_id, tps in out.items()}


ASSIGNORS: dict[str, type[Assignor]] = {
    RangeAssignor.name: RangeAssignor,
    RoundRobinAssignor.name: RoundRobinAssignor,
    CooperativeStickyAssignor.name: CooperativeStickyAssignor,
}


def assignor(name: str) -> Assignor:
    try:
        return ASSIGNORS[name]()
    except KeyError:
        raise ValueError(f"unknown assignor {name!r}: use {', '.join(ASSIGNORS)}") from None
