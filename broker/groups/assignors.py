"""Server-side assignors of consumer groups (KIP-848): `uniform` and `range`.

Each takes the members' subscriptions (topic ids) and their current target assignments, and the
partition count of every subscribed topic, and returns every member's new target. Pure functions
with a deterministic result, so tests can state the exact answer.

- `uniform` (Kafka's default) spreads partitions so no member has more than one more than any
  other member that could take it, and moves as few as it can: a member keeps what it had while
  it stays within its share.
- `range` gives each member contiguous ranges of every topic it subscribes to, members in
  member-id order, the first ones one partition more when the count does not divide evenly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

TopicPartitions = dict[UUID, set[int]]


@dataclass(frozen=True, slots=True)
class MemberSpec:
    subscribed: frozenset[UUID]
    current: Mapping[UUID, set[int]] = field(default_factory=dict)


Assignor = Callable[[Mapping[str, MemberSpec], Mapping[UUID, int]], dict[str, TopicPartitions]]


def _empty(members: Mapping[str, MemberSpec]) -> dict[str, TopicPartitions]:
    return {member_id: {} for member_id in members}


def uniform(members: Mapping[str, MemberSpec], partitions: Mapping[UUID, int]) -> dict[str, TopicPartitions]:
    result = _empty(members)
    load = dict.fromkeys(members, 0)
    owner: dict[tuple[UUID, int], str] = {}
    order = sorted(members)
    # Everyone keeps what is still theirs to have (the topic exists, is subscribed, the partition is there).
    for member_id in order:
        spec = members[member_id]
        for topic_id, current in sorted(spec.current.items()):
            count = partitions.get(topic_id)
            if count is None or topic_id not in spec.subscribed:
                continue
            for p in sorted(current):
                if p < count and (topic_id, p) not in owner:
                    owner[(topic_id, p)] = member_id
                    result[member_id].setdefault(topic_id, set()).add(p)
                    load[member_id] += 1
    eligible: dict[UUID, list[str]] = {
        topic_id: [m for m in order if topic_id in members[m].subscribed] for topic_id in sorted(partitions)
    }
    # Free partitions go to the least loaded member that may take them.
    for topic_id, candidates in eligible.items():
        if not candidates:
            continue
        for p in range(partitions[topic_id]):
            if (topic_id, p) in owner:
                continue
            taker = min(candidates, key=lambda m: (load[m], m))
            owner[(topic_id, p)] = taker
            result[taker].setdefault(topic_id, set()).add(p)
            load[taker] += 1
    # Then even out: a member holding two more than another that could take one of its partitions
    # hands one over, the highest-numbered first, until no such pair is left.
    moved = True
    while moved:
        moved = False
        for giver in sorted(order, key=lambda m: (-load[m], m)):
            for topic_id in sorted(result[giver], reverse=True):
                for p in sorted(result[giver].get(topic_id, ()), reverse=True):
                    taker = min(eligible[topic_id], key=lambda m: (load[m], m))
                    if load[taker] + 1 >= load[giver]:
                        continue
                    result[giver][topic_id].discard(p)
                    if not result[giver][topic_id]:
                        del result[giver][topic_id]
                    result[taker].setdefault(topic_id, set()).add(p)
                    load[giver] -= 1
                    load[taker] += 1
                    moved = True
                    break
                if moved:
                    break
            if moved:
                break
    return result


def range_(members: Mapping[str, MemberSpec], partitions: Mapping[UUID, int]) -> dict[str, TopicPartitions]:
    result = _empty(members)
    for topic_id in sorted(partitions):
        takers = sorted(m for m, spec in members.items() if topic_id in spec.subscribed)
        if not takers:
            continue
        count = partitions[topic_id]
        share, extra = divmod(count, len(takers))
        start = 0
        for index, member_id in enumerate(takers):
            size = share + (1 if index < extra else 0)
            if size:
                result[member_id][topic_id] = set(range(start, start + size))
            start += size
    return result


#: By the names `group.consumer.assignors` and the ServerAssignor field use.
ASSIGNORS: dict[str, Assignor] = {"uniform": uniform, "range": range_}
