"""Partition reassignment as kafka-reassign-partitions does it, with kctl's pattern for risky
changes: a plan in Kafka's JSON, a dry run by default with a preview per partition (moves and the
bytes to copy), replication throttles set while data moves and cleared after, the previous
assignment saved, and undo.

Planning moves the fewest replicas that balance replicas, then preferred leaders, across the
target brokers (rack-aware when asked: a partition's replicas on distinct racks first).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kctl.client.admin import Admin
from kctl.client.types import BrokerInfo, TopicInfo, TopicPartition
from kctl.protocol.clock import now_ms
from kctl.protocol.enums import ConfigResourceType

from .errors import BadUsage, NotFound
from .saves import live_saves, new_save, state_dir_of
from .times import iso

Assignment = dict[TopicPartition, list[int]]

LEADER_THROTTLED = "leader.replication.throttled.replicas"
FOLLOWER_THROTTLED = "follower.replication.throttled.replicas"
LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"


# ---- Kafka's plan file ----------------------------------------------------------------------------------
def plan_json(assignment: Assignment) -> str:
    """Kafka's reassignment JSON, as kafka-reassign-partitions --execute and --verify read it."""
    partitions = [{"topic": tp.topic, "partition": tp.partition, "replicas": replicas,
                   "log_dirs": ["any"] * len(replicas)} for tp, replicas in sorted(assignment.items())]
    return json.dumps({"version": 1, "partitions": partitions}, indent=2) + "\n"


def read_plan(text: str, source: str = "the plan") -> Assignment:
    try:
        raw = json.loads(text)
        return {TopicPartition(str(p["topic"]), int(p["partition"])): [int(r) for r in p["replicas"]]
                for p in raw["partitions"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise BadUsage(f"cannot read {source} as Kafka's reassignment JSON: {exc}",
                       'it looks like {"version": 1, "partitions": [{"topic", "partition", "replicas"}]}') from None


# ---- planning -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Balance:
    brokers: list[int]
    racks: dict[int, str | None]
    load: Counter[int] = field(default_factory=Counter)

    def candidates(self, replicas: list[int], rack_aware: bool) -> list[int]:
        """Brokers a new replica of this partition may go to, best first."""
        free = [b for b in self.brokers if b not in replicas]
        used_racks = {self.racks.get(r) for r in replicas}
        return sorted(free, key=lambda b: ((rack_aware and self.racks.get(b) in used_racks), self.load[b], b))


def plan_reassignment(topics: dict[str, TopicInfo], brokers: list[BrokerInfo], *, only: list[int] | None = None,
                      replication_factor: int | None = None, rack_aware: bool = False) -> Assignment:
    """New replica lists for every partition of `topics` whose replicas should change: onto the
    brokers `only` names (default: every live one), with `replication_factor` replicas (default:
    as now). Returns only the partitions that change."""
    targets = sorted(only) if only is not None else sorted(b.node_id for b in brokers)
    known = {b.node_id for b in brokers}
    if missing := [b for b in targets if b not in known]:
        raise NotFound(f"no live broker {', '.join(map(str, missing))}", "`kctl brokers list` lists them")
    current = {TopicPartition(name, p): list(info.partitions[p].replicas)
               for name, info in sorted(topics.items()) for p in sorted(info.partitions)}
    for tp, replicas in current.items():
        rf = replication_factor or len(replicas)
        if rf > len(targets):
            raise BadUsage(f"{tp.topic}[{tp.partition}] needs {rf} replicas and only {len(targets)} broker(s) "
                           "may hold them", "name more brokers, or a smaller --replication-factor")
    balance = _Balance(targets, {b.node_id: b.rack for b in brokers})
    # A replica on a broker that goes leaves its place empty (None): its replacement takes that
    # place, so a replaced preferred leader is replaced as preferred leader.
    slots: dict[TopicPartition, list[int | None]] = {
        tp: [r if r in targets else None for r in replicas] for tp, replicas in current.items()}
    for placed in slots.values():
        balance.load.update(r for r in placed if r is not None)
    new: Assignment = {}
    for tp, placed in slots.items():
        rf = replication_factor or len(current[tp])
        kept = [r for r in placed if r is not None]
        while len(kept) > rf:  # trim to the replication factor, from the busiest brokers
            busiest = max(kept[1:] or kept, key=lambda b: (balance.load[b], b))
            kept.remove(busiest)
            balance.load[busiest] -= 1
        placed = [r for r in placed if r is None or r in kept]
        while sum(r is not None for r in placed) < rf:  # fill up, onto the least loaded brokers
            chosen = balance.candidates([r for r in placed if r is not None], rack_aware)[0]
            if None in placed:
                placed[placed.index(None)] = chosen
            else:
                placed.append(chosen)
            balance.load[chosen] += 1
        new[tp] = [r for r in placed if r is not None]
    _even_out(new, balance, rack_aware)
    _balance_leaders(new, targets)
    return {tp: replicas for tp, replicas in new.items() if replicas != current[tp]}


def _even_out(assignment: Assignment, balance: _Balance, rack_aware: bool) -> None:
    """Move one replica at a time from the busiest broker to the idlest until their counts differ
    by at most one: each step is one replica copied, the fewest that balance them."""
    while True:
        loads = {b: balance.load[b] for b in balance.brokers}
        busiest = max(loads, key=lambda b: (loads[b], -b))
        idlest = min(loads, key=lambda b: (loads[b], b))
        if loads[busiest] - loads[idlest] <= 1:
            return
        movable = [tp for tp, replicas in sorted(assignment.items())
                   if busiest in replicas and idlest not in replicas
                   and not (rack_aware and balance.racks.get(idlest) in
                            {balance.racks.get(r) for r in replicas if r != busiest})]
        if not movable:
            return
        replicas = assignment[movable[0]]
        replicas[replicas.index(busiest)] = idlest
        balance.load[busiest] -= 1
        balance.load[idlest] += 1


def _balance_leaders(assignment: Assignment, brokers: list[int]) -> None:
    """Reorder replica lists (no data moves) so preferred leaders spread evenly: a partition keeps
    its first replica unless that broker leads more than its share and another replica leads less."""
    leads = Counter(replicas[0] for replicas in assignment.values())
    share = -(-len(assignment) // max(len(brokers), 1))  # ceiling
    for replicas in (r for _, r in sorted(assignment.items())):
        leader = replicas[0]
        if leads[leader] <= share:
            continue
        other = min(replicas[1:], key=lambda b: (leads[b], b), default=None)
        if other is not None and leads[other] + 1 < leads[leader]:
            replicas.remove(other)
            replicas.insert(0, other)
            leads[leader] -= 1
            leads[other] += 1


# ---- previews, throttles and saved state ------------------------------------------------------------------
@dataclass(slots=True)
class Move:
    topic: str
    partition: int
    current: list[int]
    target: list[int]
    size: int  # bytes of the partition on its leader

    @property
    def adding(self) -> list[int]:
        return [b for b in self.target if b not in self.current]

    @property
    def removing(self) -> list[int]:
        return [b for b in self.current if b not in self.target]

    @property
    def bytes_to_copy(self) -> int:
        return self.size * len(self.adding)

    def row(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "current": self.current, "target": self.target,
                "adding": self.adding, "removing": self.removing, "bytes_to_copy": self.bytes_to_copy}


async def preview(admin: Admin, plan: Assignment) -> list[Move]:
    """Each partition of the plan: where it is, where it goes, and how many bytes must be copied."""
    topics = await admin.describe_topics(sorted({tp.topic for tp in plan}))
    sizes = await _sizes(admin)
    moves = []
    for tp, target in sorted(plan.items()):
        info = topics.get(tp.topic)
        if not isinstance(info, TopicInfo) or tp.partition not in info.partitions:
            raise NotFound(f"the plan names {tp.topic}[{tp.partition}], which does not exist")
        part = info.partitions[tp.partition]
        moves.append(Move(tp.topic, tp.partition, list(part.replicas), target,
                          sizes.get((part.leader, tp), max(sizes.get((b, tp), 0) for b in part.replicas))))
    return moves


async def _sizes(admin: Admin) -> dict[tuple[int, TopicPartition], int]:
    """Each replica's size, by (broker, partition), from DescribeLogDirs."""
    out: dict[tuple[int, TopicPartition], int] = {}
    for broker, dirs in (await admin.describe_log_dirs()).items():
        for d in dirs:
            for tp, size in d.partition_sizes.items():
                out[(broker, tp)] = max(out.get((broker, tp), 0), size)
    return out


def throttled_replicas(moves: list[Move]) -> dict[str, dict[str, str]]:
    """Per topic, the throttled-replicas configs kafka-reassign-partitions sets: the replicas a
    moving partition copies from (leader side) and the ones it copies to (follower side)."""
    out: dict[str, dict[str, list[str]]] = {}
    for m in moves:
        if not m.adding:
            continue
        configs = out.setdefault(m.topic, {LEADER_THROTTLED: [], FOLLOWER_THROTTLED: []})
        configs[LEADER_THROTTLED] += [f"{m.partition}:{b}" for b in m.current]
        configs[FOLLOWER_THROTTLED] += [f"{m.partition}:{b}" for b in m.adding]
    return {topic: {k: ",".join(v) for k, v in configs.items()} for topic, configs in out.items()}


async def set_throttles(admin: Admin, moves: list[Move], rate: int) -> dict[str, Any]:
    """Throttle replication for these moves at `rate` bytes/s; returns what to clear afterwards."""
    topics = throttled_replicas(moves)
    brokers = sorted({b for m in moves if m.adding for b in m.current + m.adding})
    for topic, configs in topics.items():
        await admin.alter_configs(ConfigResourceType.TOPIC, topic, set_configs=configs)
    for broker in brokers:
        await admin.alter_configs(ConfigResourceType.BROKER, str(broker),
                                  set_configs={LEADER_RATE: str(rate), FOLLOWER_RATE: str(rate)})
    return {"topics": sorted(topics), "brokers": brokers}


async def clear_throttles(admin: Admin, throttles: dict[str, Any]) -> None:
    for topic in throttles.get("topics", []):
        await admin.alter_configs(ConfigResourceType.TOPIC, topic, delete=[LEADER_THROTTLED, FOLLOWER_THROTTLED])
    for broker in throttles.get("brokers", []):
        await admin.alter_configs(ConfigResourceType.BROKER, str(broker), delete=[LEADER_RATE, FOLLOWER_RATE])


def state_dir() -> Path:
    return state_dir_of("reassignments")


@dataclass(slots=True)
class Executed:
    """A reassignment kctl started: what it replaced, what it asked for, the throttles it set."""

    path: Path
    started_at: str
    previous: Assignment
    target: Assignment
    throttles: dict[str, Any]

    def text(self) -> str:
        def listed(a: Assignment) -> list[dict[str, Any]]:
            return [{"topic": tp.topic, "partition": tp.partition, "replicas": r} for tp, r in sorted(a.items())]

        return json.dumps({"started_at": self.started_at, "previous": listed(self.previous),
                           "target": listed(self.target), "throttles": self.throttles}, indent=2)

    def save(self) -> None:
        """Rewrite the save `execute` made, as the reassignment's throttles change."""
        self.path.write_text(self.text())

    @classmethod
    def latest(cls) -> Executed:
        saved = live_saves(state_dir())
        if not saved:
            raise NotFound("no reassignment executed by kctl here",
                           "start one with `kctl reassign apply PLAN --execute`")
        raw = json.loads(saved[-1].read_text())

        def read(items: list[dict[str, Any]]) -> Assignment:
            return {TopicPartition(i["topic"], i["partition"]): list(i["replicas"]) for i in items}

        return cls(saved[-1], raw["started_at"], read(raw["previous"]), read(raw["target"]), raw["throttles"])


async def execute(admin: Admin, moves: list[Move], throttle: int | None) -> Executed:
    """Start the reassignment: save the previous assignment, set throttles, ask the controller."""
    executed = Executed(Path(), iso(now_ms()) or "",
                        {TopicPartition(m.topic, m.partition): m.current for m in moves},
                        {TopicPartition(m.topic, m.partition): m.target for m in moves}, {})
    # Saved before anything changes: undo must know the previous assignment.
    executed.path = new_save(state_dir(), executed.text())
    if throttle is not None:
        executed.throttles = await set_throttles(admin, moves, throttle)
        executed.save()
    try:
        results = await admin.alter_partition_reassignments(dict(executed.target))
    except BaseException:
        await _abandon(admin, executed)
        raise
    failed = [e for e in results.values() if e is not None]
    if failed and len(failed) == len(results):
        await _abandon(admin, executed)  # nothing started: nothing to follow or undo
    if failed:
        raise failed[0]
    return executed


async def _abandon(admin: Admin, executed: Executed) -> None:
    await clear_throttles(admin, executed.throttles)
    executed.path.unlink(missing_ok=True)


@dataclass(slots=True)
class Progress:
    topic: str
    partition: int
    target: list[int]
    done: bool
    adding: list[int]
    bytes_copied: int
    bytes_total: int

    def row(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "target": self.target,
                "state": "done" if self.done else "moving", "adding": self.adding,
                "bytes_copied": self.bytes_copied, "bytes_total": self.bytes_total}


async def progress(admin: Admin, executed: Executed) -> list[Progress]:
    """Per partition of the last reassignment: done, or the bytes its new replicas hold so far."""
    ongoing = await admin.list_partition_reassignments(list(executed.target))
    sizes = await _sizes(admin) if ongoing else {}
    topics = await admin.describe_topics(sorted({tp.topic for tp in executed.target}))
    out = []
    for tp, target in sorted(executed.target.items()):
        moving = ongoing.get(tp)
        info = topics.get(tp.topic)
        leader = info.partitions[tp.partition].leader if isinstance(info, TopicInfo) and \
            tp.partition in info.partitions else -1
        if moving is None:
            out.append(Progress(tp.topic, tp.partition, target, True, [], 0, 0))
            continue
        total = sizes.get((leader, tp), 0)
        copied = sum(min(sizes.get((b, tp), 0), total) for b in moving.adding)
        out.append(Progress(tp.topic, tp.partition, target, False, moving.adding, copied,
                            total * len(moving.adding)))
    return out


async def cancel(admin: Admin, executed: Executed) -> list[TopicPartition]:
    """Stop what is still moving (its replicas go back to where they were); clear the throttles."""
    ongoing = await admin.list_partition_reassignments(list(executed.target))
    if ongoing:
        results = await admin.alter_partition_reassignments(dict.fromkeys(ongoing))
        failed = [e for e in results.values() if e is not None]
        if failed:
            raise failed[0]
    await clear_throttles(admin, executed.throttles)
    return sorted(ongoing)
