"""Group lag, health and offset resets, for `kctl groups ...`, `kctl lag` and the console.

A reset is planned first (per partition: current, new, how many records are skipped or read
again), then applied; applying saves the previous offsets so `undo_reset` can put them back.
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
import operator
import time
from array import array
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, overload

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.group_kinds import (
    CLASSIC,
    SHARE,
    GroupDescription,
    MemberDescription,
    ShareOffset,
    alter_share_group_offsets,
    delete_share_group_offsets,
    share_group_offsets,
)
from kctl.client.types import EARLIEST, LATEST, OffsetAndMetadata, TopicPartition
from kctl.ops.times import iso, parse_duration_ms, parse_timestamp_ms
from kctl.protocol.clock import now_ms
from kctl.protocol.enums import GroupState

from .errors import BadUsage, NotFound, Refused
from .saves import live_saves, new_save, state_dir_of

if TYPE_CHECKING:
    from kctl.protocol.offset_columns import GroupCommitted


# ---- lag ---------------------------------------------------------------------------------------------
class LagRow(TypedDict):
    """One group's lag on one partition, as a row."""

    group: str
    topic: str
    partition: int
    committed_offset: int
    log_end_offset: int
    log_start_offset: int
    lag: int  # as read_committed consumers see it: up to the last stable offset
    last_stable_offset: int  # the log end, unless an open transaction holds it back
    in_open_transactions: int  # records from the last stable offset to the log end
    lag_seconds: NotRequired[float | None]  # with record ages
    consume_rate: NotRequired[float]  # from the second look on
    produce_rate: NotRequired[float]
    catch_up_seconds: NotRequired[float | None]
    health: NotRequired[Health]


class Health(enum.StrEnum):
    """Burrow's verdicts on a group, worst last."""

    OK = "OK"
    WARN = "WARN"  # lag grows while offsets move
    PINNED = "PINNED"  # caught up to a last stable offset an open transaction keeps from moving
    STALL = "STALL"  # lag but committed offsets do not move
    STOP = "STOP"  # lag and no consumers
    REWIND = "REWIND"  # a committed offset went back


class LagRows(Sequence[LagRow]):
    """One group's lag on each partition it has committed on, column by column, sorted by topic
    and partition; a sequence of `LagRow`s to whoever wants rows.

    Columns because `kctl lag` over 500 groups of 1,000 partitions has half a million rows: the
    output layer writes them from `columns()`, and sums and verdicts read single columns.
    """

    __slots__ = ("catch_up_seconds", "committed", "consume_rate", "group", "health", "lag", "lag_seconds",
                 "last_stable", "log_end", "log_start", "partitions", "produce_rate", "topics")

    def __init__(self, group: str, topics: list[str], partitions: list[int], committed: list[int],
                 log_end: list[int], log_start: list[int], last_stable: list[int] | None = None) -> None:
        self.group = group
        self.topics = topics
        self.partitions = partitions
        self.committed = committed
        self.log_end = log_end
        self.log_start = log_start
        # The same list as log_end when no transaction is open: most clusters, most looks.
        self.last_stable = log_end if last_stable is None else last_stable
        lag = list(map(operator.sub, self.last_stable, committed))
        if lag and min(lag) < 0:  # committed past the log end (the log was truncated): nothing to read
            lag = [n if n > 0 else 0 for n in lag]
        self.lag = lag
        self.lag_seconds: list[float | None] | None = None  # with record ages
        self.consume_rate: list[float | None] | None = None  # from a group's second look on
        self.produce_rate: list[float | None] | None = None
        self.catch_up_seconds: list[float | None] | None = None
        self.health: Health | None = None  # the group's verdict, the same on every row

    def columns(self) -> dict[str, list[Any]]:
        """Every column a row has, in a row's key order."""
        n = len(self.partitions)
        out: dict[str, list[Any]] = {
            "group": [self.group] * n, "topic": self.topics, "partition": self.partitions,
            "committed_offset": self.committed, "log_end_offset": self.log_end, "log_start_offset": self.log_start,
            "lag": self.lag, "last_stable_offset": self.last_stable,
            "in_open_transactions": self.in_open_transactions(),
        }
        for key, column in (("lag_seconds", self.lag_seconds), ("consume_rate", self.consume_rate),
                            ("produce_rate", self.produce_rate), ("catch_up_seconds", self.catch_up_seconds)):
            if column is not None:
                out[key] = column
        if self.health is not None:
            out["health"] = [self.health] * n
        return out

    def in_open_transactions(self) -> list[int]:
        if self.last_stable is self.log_end:
            return [0] * len(self.partitions)
        return list(map(operator.sub, self.log_end, self.last_stable))

    def __len__(self) -> int:
        return len(self.partitions)

    @overload
    def __getitem__(self, index: int) -> LagRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[LagRow]: ...
    def __getitem__(self, index: int | slice) -> LagRow | list[LagRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return {k: column[index] for k, column in self.columns().items()}  # type: ignore[return-value]

    def __iter__(self) -> Iterator[LagRow]:
        columns = self.columns()
        keys = tuple(columns)
        for values in zip(*columns.values(), strict=True):
            yield dict(zip(keys, values, strict=True))  # type: ignore[misc]


@dataclass(slots=True)
class GroupLag:
    """One look at one group: its state, its members, its rows and the verdict on them."""

    group: str
    state: str
    description: GroupDescription | None  # None when the group could not be described
    rows: LagRows
    health: Health
    problem: KafkaError | None = None  # why it could not be described

    @property
    def lag(self) -> int:
        return sum(self.rows.lag)

    @property
    def members(self) -> int:
        return len(self.description.members) if self.description is not None else 0


async def iter_group_lag(cluster: Cluster, groups: Sequence[str] | None = None, *, ages: bool = True,
                         history: Callable[[str], LagHistory] | None = None, at: float | None = None
                         ) -> AsyncIterator[list[GroupLag]]:
    """Every (or the named) group's lag and health, a batch of groups at a time: the one
    assembly behind `kctl lag`, `kctl groups describe` and the console's group views.

    `history` gives the history a group's look is added to (rates, trend, a verdict over time);
    without it each group's verdict is from this one look.
    """
    admin = Admin(cluster)
    names = list(groups) if groups else sorted(g.group_id for g in await admin.list_groups())
    if not names:
        return
    described = await admin.describe_groups(names)
    # Share groups commit no offsets: their lag is from where each share partition starts.
    share = [g for g in names if getattr(described.get(g), "type", None) == SHARE]
    if share:
        yield [group_lag(rows, described.get(rows.group), history, at) for rows in await share_lag(cluster, share)]
    share_groups = set(share)
    committing = [g for g in names if g not in share_groups] if share else names
    if not committing:
        return
    async for batch in iter_lag(cluster, committing, ages=ages):
        yield [group_lag(rows, described.get(rows.group), history, at) for rows in batch]


async def describe_group(cluster: Cluster, group: str) -> tuple[dict[str, Any], list[tuple[str, Any]]] | None:
    """`kctl groups describe`: the group by its type's describe API, its members (epochs,
    assignments and targets, subscriptions, a streams member's tasks), a streams group's
    topology, and its lag per partition. None when there is no such group."""
    [looked] = [g async for batch in iter_group_lag(cluster, [group], ages=False) for g in batch]
    if looked.problem is not None:
        raise looked.problem
    described = looked.description
    assert described is not None
    partitions: list[dict[str, Any]] = [dict(r) for r in looked.rows]
    if described.state == GroupState.DEAD and not partitions:
        return None
    owner = {(tp.topic, tp.partition): m.member_id for m in described.members for tp in m.assignment}
    for row in partitions:
        del row["group"], row["health"]
        row["member"] = owner.get((row["topic"], row["partition"]))
    members = [member_row(m) for m in described.members]
    data: dict[str, Any] = {
        "group": group, "type": described.type, "state": described.state,
        "protocol_type": described.protocol_type, "protocol": described.protocol,
        "coordinator": described.coordinator, "group_epoch": described.group_epoch,
        "assignment_epoch": described.assignment_epoch, "members": members, "partitions": partitions,
        "lag": sum(p["lag"] for p in partitions)}
    if described.topology is not None:
        data["topology_epoch"] = described.topology_epoch
        data["subtopologies"] = [{"subtopology": s.subtopology_id, "source_topics": s.source_topics,
                                  "repartition_sink_topics": s.repartition_sink_topics,
                                  "state_changelog_topics": s.state_changelog_topics,
                                  "repartition_source_topics": s.repartition_source_topics}
                                 for s in described.topology]
    summary: list[tuple[str, Any]] = [("group", group), ("type", described.type), ("state", described.state),
                                      ("protocol" if described.type == CLASSIC else "assignor",
                                       described.protocol or "-")]
    if described.group_epoch is not None:
        summary.append(("epoch", f"group {described.group_epoch}, assignment {described.assignment_epoch}"))
    summary += [("members", len(members)), ("total lag", data["lag"])]
    return data, summary


def member_row(m: MemberDescription) -> dict[str, Any]:
    """A member as `kctl groups describe` and the console show it."""
    def names(tps: Sequence[TopicPartition] | None) -> list[str] | None:
        return None if tps is None else [f"{tp.topic}[{tp.partition}]" for tp in tps]

    row: dict[str, Any] = {"member_id": m.member_id, "instance_id": m.instance_id, "client_id": m.client_id,
                           "host": m.client_host, "epoch": m.epoch, "assignment": names(m.assignment),
                           "target_assignment": names(m.target_assignment),
                           "subscription": m.subscribed_regex or m.subscription, "rack": m.rack}
    if m.classic_member:
        row["classic_member"] = True
    if m.tasks is not None:
        row["process_id"] = m.process_id
        for kind in ("active", "standby", "warmup"):
            tasks: dict[str, list[int]] = getattr(m.tasks, kind)
            row[f"{kind}_tasks"] = [f"{sub}:{','.join(map(str, parts))}" for sub, parts in tasks.items()]
        row["target_active_tasks"] = [f"{sub}:{','.join(map(str, parts))}"
                                      for sub, parts in (m.target_tasks.active if m.target_tasks else {}).items()]
    return row


async def share_lag(cluster: Cluster, groups: Sequence[str]) -> list[LagRows]:
    """Share groups' rows: per share partition, where it starts (in the committed column: the
    first record not yet acknowledged) and the records from there to the end. That count is the
    broker's where it gives one (DescribeShareGroupOffsets v1, as `kafka-share-groups.sh` shows
    it); else from the start offset to the end. A partition the group has not started on lags 0."""
    admin = Admin(cluster)
    found = await share_group_offsets(admin, groups)
    offsets = {g: ({} if isinstance(f, KafkaError) else f) for g, f in found.items()}
    tps = sorted({tp for per_group in offsets.values() for tp in per_group})
    ends: dict[TopicPartition, int] = {}
    starts: dict[TopicPartition, int] = {}
    if tps:
        latest, earliest = await asyncio.gather(admin.list_offsets(dict.fromkeys(tps, LATEST)),
                                                admin.list_offsets(dict.fromkeys(tps, EARLIEST)))
        ends = {tp: o.offset for tp, o in latest.items()}
        starts = {tp: o.offset for tp, o in earliest.items()}
    out = []
    for group in groups:
        per_group = offsets.get(group, {})
        keys = [tp for tp in per_group if tp in ends]
        rows = LagRows(group, [tp.topic for tp in keys], [tp.partition for tp in keys],
                       [per_group[tp].start_offset for tp in keys], [ends[tp] for tp in keys],
                       [starts[tp] for tp in keys])
        rows.lag = [share_partition_lag(per_group[tp], ends[tp]) for tp in keys]
        out.append(rows)
    return out


def share_partition_lag(offset: ShareOffset, log_end: int) -> int:
    if offset.lag >= 0:
        return offset.lag
    if offset.start_offset < 0:
        return 0
    return max(log_end - offset.start_offset, 0)


def group_lag(rows: LagRows, found: GroupDescription | KafkaError | None,
              history: Callable[[str], LagHistory] | None = None, at: float | None = None) -> GroupLag:
    """One look at a group from its description and lag rows: the verdict, over its history
    when one is given, and on each row."""
    problem, description = (found, None) if isinstance(found, KafkaError) else (None, found)
    state = description.state if description is not None else "Unknown"
    if history is None:
        verdict = single_look_health(rows, state)
    else:
        looks = history(rows.group)
        looks.add(rows, at)
        verdict = looks.verdict(state)
    rows.health = verdict
    return GroupLag(rows.group, state, description, rows, verdict, problem)


async def iter_lag(cluster: Cluster, groups: Sequence[str], *, ages: bool = True) -> AsyncIterator[list[LagRows]]:
    """Lag, a batch of groups at a time as the coordinators answer: per group, its committed
    offset, log start and end, lag and, with `ages`, the seconds of lag on each partition.

    Log offsets are asked once per partition, and record ages once per (partition, offset),
    however many groups share them; only a few batches are held at once.
    """
    admin = Admin(cluster)
    starts: dict[tuple[str, int], int] = {}
    ends: dict[tuple[str, int], int] = {}
    stable: dict[tuple[str, int], int] = {}  # only partitions an open transaction holds back
    stamps: dict[tuple[str, int, int], int | None] = {}
    gone: set[tuple[str, int]] = set()  # partitions with offsets committed that no longer exist
    shared: _Partitions | None = None
    async for batch in admin.iter_committed(groups):
        partitions_of = []
        for committed in batch:
            shared = _Partitions.of(committed, shared)
            partitions_of.append(shared)
        unknown = set().union(*{id(p): p.keys for p in partitions_of}.values()).difference(ends, gone)
        if unknown:
            await cluster.refresh_metadata({t for t, _ in unknown})
            known = cluster.topics
            gone.update((t, p) for t, p in unknown if t not in known or p not in known[t].partitions)
            tps = [TopicPartition(t, p) for t, p in sorted(unknown.difference(gone))]
            latest, earliest, committed_end = await asyncio.gather(
                admin.list_offsets(dict.fromkeys(tps, LATEST)), admin.list_offsets(dict.fromkeys(tps, EARLIEST)),
                admin.list_offsets(dict.fromkeys(tps, LATEST), read_committed=True))
            ends.update(((tp.topic, tp.partition), found.offset) for tp, found in latest.items())
            starts.update(((tp.topic, tp.partition), found.offset) for tp, found in earliest.items())
            stable.update(((tp.topic, tp.partition), found.offset) for tp, found in committed_end.items()
                          if 0 <= found.offset < latest[tp].offset)
        out = [_lag_rows(c, p, ends, starts, gone, stable) for c, p in zip(batch, partitions_of, strict=True)]
        if ages:
            await add_record_age(cluster, out, stamps)
        yield out


class _Partitions:
    """A group's partitions, row by row, and their log offsets once known: shared by the groups
    that follow on the same partitions (services reading the same topics), so that each of
    those costs a comparison, not a key and two lookups per row. Log offsets do not change
    during one look."""

    __slots__ = (
        "committed_partitions",
        "committed_topics",
        "kept",
        "keys",
        "last_stable",
        "log_end",
        "log_start",
        "partitions",
        "topics",
    )

    def __init__(self, topics: list[str], partitions: list[int]) -> None:
        self.committed_topics = self.topics = topics  # as committed; then the rows' (see `kept`)
        self.committed_partitions = self.partitions = partitions
        self.keys = list(zip(topics, partitions, strict=True))
        self.kept: list[int] | None = None  # rows of partitions that still exist, when some do not
        self.log_end: list[int] | None = None
        self.log_start: list[int] | None = None
        self.last_stable: list[int] | None = None  # None: no open transaction holds any back

    @classmethod
    def of(cls, committed: GroupCommitted, previous: _Partitions | None) -> _Partitions:
        if (previous is not None and committed.topics == previous.committed_topics
                and committed.partitions == previous.committed_partitions):
            return previous
        return cls(committed.topics, committed.partitions)


def _lag_rows(committed: GroupCommitted, shared: _Partitions, ends: dict[tuple[str, int], int],
              starts: dict[tuple[str, int], int], gone: set[tuple[str, int]],
              stable: dict[tuple[str, int], int] | None = None) -> LagRows:
    """A group's rows, less the partitions that no longer exist: a deleted topic's offsets stay
    until the coordinator drops them, and there is no log left to be behind on."""
    if shared.log_end is None or shared.log_start is None:
        keys = shared.keys
        if gone and not gone.isdisjoint(keys):
            shared.kept = [i for i, tp in enumerate(keys) if tp not in gone]
            keys = [keys[i] for i in shared.kept]
            shared.topics, shared.partitions = [k[0] for k in keys], [k[1] for k in keys]
        shared.log_end, shared.log_start = list(map(ends.__getitem__, keys)), list(map(starts.__getitem__, keys))
        if stable and not stable.keys().isdisjoint(keys):
            shared.last_stable = [stable.get(k, end) for k, end in zip(keys, shared.log_end, strict=True)]
    offsets = committed.offsets
    if shared.kept is not None:
        offsets = [offsets[i] for i in shared.kept]
    return LagRows(committed.group_id, shared.topics, shared.partitions, offsets, shared.log_end, shared.log_start,
                   shared.last_stable)


async def add_record_age(cluster: Cluster, groups: Sequence[LagRows],
                         known: dict[tuple[str, int, int], int | None] | None = None) -> None:
    """Seconds of lag: the age of the record at each lagging committed offset.

    Each (partition, offset) is fetched once, however many groups sit there; `known` carries
    the timestamps found (None: no record there) from one call to the next.
    """
    known = {} if known is None else known
    # Rows that share a (partition, committed offset) share its lag and age: the per-row work is
    # a key and a lookup each, done in C, and the Python work is per distinct key.
    behind: set[tuple[str, int, int]] = set()
    for rows in groups:
        behind.update(compress(zip(rows.topics, rows.partitions, rows.committed, strict=True), rows.lag))
    waiting: dict[TopicPartition, list[int]] = {}
    for topic, partition, committed in behind:
        if (topic, partition, committed) not in known:
            waiting.setdefault(TopicPartition(topic, partition), []).append(committed)
    if waiting:
        known.update(await _record_timestamps(cluster, waiting))
    now = now_ms()
    ages: dict[tuple[str, int, int], float | None] = {}
    for key in behind:
        when = known.get(key)
        ages[key] = None if when is None else max(now - when, 0) / 1000
    # A key's lag is the same in every group, so a key not behind is caught up: 0 seconds.
    get_age = ages.get
    for rows in groups:
        keys = zip(rows.topics, rows.partitions, rows.committed, strict=True)
        rows.lag_seconds = list(map(get_age, keys, repeat(0.0)))


async def _record_timestamps(cluster: Cluster, waiting: dict[TopicPartition, list[int]]
                             ) -> dict[tuple[str, int, int], int | None]:
    """The timestamp of the record at each waiting offset (None: no record there).

    A round asks every leader, at once, for one waiting offset per partition (the lowest); every
    other waiting offset that the returned batches cover is answered from them too, so groups
    close together on a partition cost one fetch between them.
    """
    from kctl.protocol.records import decode_batch, iter_batch_headers

    for offsets in waiting.values():
        offsets.sort(reverse=True)  # lowest last: pop() takes it
    found: dict[tuple[str, int, int], int | None] = {}

    async def one_round(node: int, tps: list[TopicPartition]) -> None:
        asked = {tp: waiting[tp].pop() for tp in tps if waiting[tp]}
        if not asked:
            return
        response = await cluster.send(node, _timestamp_fetch(asked))
        for topic in response.responses:
            for part in topic.partitions:
                tp = TopicPartition(topic.topic, part.partition_index)
                if tp not in asked or part.error_code or not part.records:
                    continue
                wanted = {asked[tp], *waiting[tp]}
                data = bytes(part.records)
                for pos, header in iter_batch_headers(data):
                    inside = {o for o in wanted if header.base_offset <= o <= header.last_offset}
                    for record in decode_batch(data, pos).records if inside else ():
                        if record.offset in inside and record.timestamp is not None:
                            found[(tp.topic, tp.partition, record.offset)] = record.timestamp
                waiting[tp] = [o for o in waiting[tp] if (tp.topic, tp.partition, o) not in found]

    by_leader = await cluster.leaders(list(waiting))
    led = [tp for tps in by_leader.values() for tp in tps]  # a partition without a leader gets no age
    while any(waiting[tp] for tp in led):
        await asyncio.gather(*(one_round(node, tps) for node, tps in by_leader.items()))
    for tp, offsets in waiting.items():
        for offset in offsets:
            found[(tp.topic, tp.partition, offset)] = None
    return found


def _timestamp_fetch(asked: Mapping[TopicPartition, int]) -> Any:
    """One Fetch for the first batch at each offset: enough bytes for a typical batch, no waiting."""
    from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic

    topics: dict[str, list[Any]] = {}
    for tp, offset in asked.items():
        topics.setdefault(tp.topic, []).append(FetchPartition(partition=tp.partition, fetch_offset=offset,
                                                              partition_max_bytes=64 * 1024))
    return FetchRequest(replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=8 << 20,
                        topics=[FetchTopic(t, ps) for t, ps in topics.items()])


RATE_WINDOW = 10  # looks


@dataclass(slots=True)
class Look:
    """One look at a group, kept compactly: thousands of partitions times many groups times
    the rate window would not fit as rows. `topics` and `partitions` (the look's partitions,
    row by row) are shared with the previous look while they are the same."""

    topics: list[str]
    partitions: list[int]
    committed: array[int]  # only partitions with an offset committed
    log_end: array[int]
    total: int
    at: float
    last_stable: array[int] | None = None  # None: the log end everywhere (no transaction held one back)

    @classmethod
    def of(cls, rows: LagRows, at: float, previous: Look | None) -> Look:
        topics, partitions = rows.topics, rows.partitions
        if previous is not None and previous.topics == topics and previous.partitions == partitions:
            topics, partitions = previous.topics, previous.partitions
        stable = None if rows.last_stable is rows.log_end else array("q", rows.last_stable)
        return cls(topics, partitions, array("q", rows.committed), array("q", rows.log_end), sum(rows.lag), at,
                   stable)

    def same_partitions(self, other: Look) -> bool:
        return other.topics is self.topics and other.partitions is self.partitions

    def aligned(self, other: Look) -> list[int]:
        """For each of this look's partitions, its index in `other` (-1: not there)."""
        if self.same_partitions(other):
            return list(range(len(self.topics)))
        where = {k: i for i, k in enumerate(zip(other.topics, other.partitions, strict=True))}
        return [where.get(k, -1) for k in zip(self.topics, self.partitions, strict=True)]

    def earlier(self, other: Look, column: str) -> array[int]:
        """`other`'s values of a column ("committed", "log_end" or "last_stable") for this look's
        partitions (-1: not there then)."""
        theirs: array[int] = getattr(other, column)
        if theirs is None:  # no last stable offset held back then: it was the log end
            theirs = other.log_end
        if self.same_partitions(other):
            return theirs
        return array("q", [theirs[j] if j >= 0 else -1 for j in self.aligned(other)])

    def moved_back(self, before: Look) -> bool:
        """Whether a committed offset is behind where it was: a reset, which consumption never does."""
        earlier = self.earlier(before, "committed")
        return any(then >= 0 and 0 <= now < then for now, then in zip(self.committed, earlier, strict=True))

    def index(self, topic: str, partition: int) -> int | None:
        for i, found in enumerate(zip(self.topics, self.partitions, strict=True)):
            if found == (topic, partition):
                return i
        return None


def health(first: Look, last: Look, looks: int, state: str) -> Health:
    """Burrow's verdicts between the first and the last look of a window, minus its false STOP
    on idle topics."""
    earlier = last.earlier(first, "committed") if looks > 1 else array("q")
    if earlier and any(map(operator.lt, last.committed, earlier)):
        return Health.REWIND  # a committed offset went back
    if looks > 1 and _pinned(first, last):
        return Health.PINNED
    if last.total == 0:
        return Health.OK  # caught up: an idle topic is not a stopped consumer
    if state in (GroupState.EMPTY, GroupState.DEAD):
        return Health.STOP
    if looks == 1:
        return Health.OK
    if last.committed == earlier:
        return Health.STALL
    if last.total > first.total:
        return Health.WARN
    return Health.OK


def _pinned(first: Look, last: Look) -> bool:
    """A partition whose consumer waits at a last stable offset that stayed put over the window
    while records came in behind it: an open transaction holds read_committed readers (a
    hanging one does so for ever; `kctl transactions find-hanging`)."""
    if first.last_stable is None or last.last_stable is None:
        return False
    then = last.earlier(first, "last_stable")
    ends_then = last.earlier(first, "log_end")
    return any(stable == before and stable < end and committed >= stable and end_then > stable
               for stable, before, end, end_then, committed
               in zip(last.last_stable, then, last.log_end, ends_then, last.committed, strict=True))


def _rates(now: array[int], then: array[int], seconds: float) -> list[float | None]:
    """Per second between two looks at an offset, to a tenth (None: the partition was not in
    the earlier look)."""
    if min(then, default=0) < 0:
        return [None if b < 0 else round((a - b) / seconds, 1) for a, b in zip(now, then, strict=True)]
    moved = list(map(operator.sub, now, then))
    if not any(moved):
        return [0.0] * len(moved)
    # round(x, 1), column at a time in C: floor(x * 10 + 0.5) / 10
    tenths = map(math.floor, map(operator.add, map(operator.mul, moved, repeat(10 / seconds)), repeat(0.5)))
    return list(map(operator.truediv, tenths, repeat(10)))


def _catch_up(lag: list[int], consume: list[float | None], produce: list[float | None]) -> list[float | None]:
    """Seconds until each partition is caught up at its current rates: 0 when it is, None when
    it is not catching up (or a rate is unknown)."""
    n = len(lag)
    if None not in consume and None not in produce and not any(map(operator.gt, consume, produce)):  # type: ignore[arg-type]
        # Nowhere catching up, the usual case when a look finds nothing moving: column at a time.
        if not any(lag):
            return [0.0] * n
        if min(lag) > 0:
            return [None] * n
        return [None if behind else 0.0 for behind in lag]
    return [(round(behind / (c - p), 1) if c is not None and p is not None and c > p else None) if behind else 0.0
            for behind, c, p in zip(lag, consume, produce, strict=True)]


def single_look_health(rows: LagRows, state: str) -> Health:
    """The verdict one look allows (REWIND and STALL need two), as `health` gives it."""
    if not any(rows.lag):
        return Health.OK  # caught up: an idle topic is not a stopped consumer
    return Health.STOP if state in (GroupState.EMPTY, GroupState.DEAD) else Health.OK


@dataclass(slots=True)
class LagHistory:
    """Looks at one group over time (newest last), bounded: total lag for the trend, and the
    last RATE_WINDOW looks per partition for rates and verdicts. Rows are not kept: at 500
    groups of 1,000 partitions they would be most of a console's memory."""

    limit: int = 60  # totals kept for the trend
    #: Looks closer together than this replace the previous one: a rate over a moment is noise.
    min_gap_s: float = 1.0
    looks: deque[Look] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))
    totals: list[int] = field(default_factory=list)
    #: The look rates are measured from when it is not the window's first: the first after a reset.
    rate_base: Look | None = None
    _restart_at_next: bool = False

    def add(self, rows: LagRows, at: float | None = None) -> None:
        """A new look; its rows get consume and produce rates and the time to catch up."""
        at = time.monotonic() if at is None else at
        if self.looks and at - self.looks[-1].at < self.min_gap_s:
            if self.looks.pop() is self.rate_base:
                self._restart_at_next = True
            self.totals.pop()
        look = Look.of(rows, at, self.looks[-1] if self.looks else None)
        if self._restart_at_next or (self.looks and look.moved_back(self.looks[-1])):
            # A reset, not consumption: rates start again from this look. The window keeps the
            # looks before it, so that the verdict still sees the rewind.
            self.rate_base, self._restart_at_next = look, False
        self.looks.append(look)
        self.totals.append(look.total)
        del self.totals[:-self.limit]
        base = next((seen for seen in self.looks if seen is self.rate_base), self.looks[0])
        if base is not look:
            self._add_rates(rows, base, look)

    @staticmethod
    def _add_rates(rows: LagRows, first: Look, last: Look) -> None:
        # Column at a time, in C where it can be: a --watch over half a million rows does this
        # at every refresh.
        seconds = last.at - first.at or 1.0
        consume = _rates(last.committed, last.earlier(first, "committed"), seconds)
        produce = _rates(last.log_end, last.earlier(first, "log_end"), seconds)
        rows.consume_rate, rows.produce_rate = consume, produce
        rows.catch_up_seconds = _catch_up(rows.lag, consume, produce)

    def restart(self) -> None:
        """Measure rates from the next look on: an offset reset made the committed offsets jump,
        and a rate across the jump would be made up."""
        self._restart_at_next = True

    def verdict(self, state: str) -> Health:
        return health(self.looks[0], self.looks[-1], len(self.looks), state) if self.looks else Health.OK

    def total_lag(self) -> list[int]:
        return list(self.totals)

    def partition_lag(self, topic: str, partition: int) -> list[int]:
        """The partition's lag in each look of the rate window."""
        lags = []
        for look in self.looks:
            i = look.index(topic, partition)
            if i is None:
                continue
            base = look.committed[i]
            end = look.log_end[i] if look.last_stable is None else look.last_stable[i]
            lags.append(max(end - base, 0) if base >= 0 else 0)
        return lags


# ---- offset resets ----------------------------------------------------------------------------------
#: Every strategy of kafka-consumer-groups.sh, plus to-group, by its CLI option.
STRATEGIES = ("to-earliest", "to-latest", "to-current", "to-offset", "shift-by", "to-datetime", "by-duration",
              "from-file", "to-group")
NEEDS_VALUE = frozenset({"to-offset", "shift-by", "to-datetime", "by-duration", "from-file", "to-group"})


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str  # one of STRATEGIES
    value: str | None = None

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise BadUsage(f"unknown reset strategy {self.name!r}", f"one of {', '.join(STRATEGIES)}")
        if (self.name in NEEDS_VALUE) != (self.value is not None):
            raise BadUsage(f"--{self.name} {'needs a value' if self.name in NEEDS_VALUE else 'takes no value'}")
        if self.name in ("to-offset", "shift-by"):
            try:
                int(self.value or "")
            except ValueError:
                raise BadUsage(f"--{self.name} needs a whole number, not {self.value!r}") from None

    @property
    def option(self) -> str:
        return f"--{self.name}" + (f" {_quote(self.value)}" if self.value is not None else "")

    @classmethod
    def chosen(cls, given: Mapping[str, object]) -> Strategy:
        """The one strategy among the options given: name -> value, True for an option that takes
        none, and None or False for one not given."""
        picked = [(name, value) for name, value in given.items() if value is not None and value is not False]
        if len(picked) != 1:
            got = f" (got {', '.join('--' + name for name, _ in picked)})" if picked else ""
            raise BadUsage("give exactly one reset strategy" + got, ", ".join(f"--{s}" for s in STRATEGIES))
        name, value = picked[0]
        return cls(name, None if value is True else str(value))


class ResetRow(TypedDict):
    """A reset plan's line for one partition."""

    topic: str
    partition: int
    current_offset: int | None  # None: nothing committed
    new_offset: int
    log_start_offset: int
    log_end_offset: int
    skipped: int  # records the group will not read
    reread: int  # records the group will read again


@dataclass(frozen=True, slots=True)
class SavedOffsets:
    """A group's offsets from before an executed reset, as `undo_reset` restores them."""

    group: str
    saved_at: str
    offsets: list[tuple[str, int, int | None]]  # topic, partition, offset (None: nothing committed)


@dataclass(slots=True)
class ResetPlan:
    group: str
    strategy: Strategy
    rows: list[ResetRow]
    offsets: dict[TopicPartition, int]
    committed: dict[TopicPartition, OffsetAndMetadata]
    group_type: str = CLASSIC

    @property
    def skipped(self) -> int:
        return sum(r["skipped"] for r in self.rows)

    @property
    def reread(self) -> int:
        return sum(r["reread"] for r in self.rows)


def read_plan_file(path: str) -> dict[tuple[str, int], int]:
    """Kafka's reset CSV: TOPIC,PARTITION,OFFSET per line (as --export writes it)."""
    import csv
    import io

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadUsage(f"cannot read {path}: {exc.strerror}") from None
    out: dict[tuple[str, int], int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise BadUsage(f"{path}:{number}: expected TOPIC,PARTITION,OFFSET")
        try:
            out[(row[0].strip(), int(row[1]))] = int(row[2])
        except ValueError:
            raise BadUsage(f"{path}:{number}: partition and offset must be numbers") from None
    return out


def parse_topic_specs(specs: list[str] | None) -> list[tuple[str, list[int] | None]]:
    """`TOPIC` or `TOPIC:0,1,2` each: a whole topic, or some of its partitions."""
    out: list[tuple[str, list[int] | None]] = []
    for spec in specs or []:
        topic, sep, parts = spec.partition(":")
        if not topic:
            raise BadUsage(f"bad topic {spec!r}", "write TOPIC or TOPIC:0,1,2")
        if not sep:
            out.append((topic, None))
            continue
        try:
            out.append((topic, sorted({int(p) for p in parts.split(",") if p.strip()})))
        except ValueError:
            raise BadUsage(f"bad partitions in {spec!r}", "write TOPIC:0,1,2") from None
    return out


async def expand_specs(cluster: Cluster, specs: list[tuple[str, list[int] | None]]) -> list[TopicPartition]:
    out = []
    for topic, partitions in specs:
        info = await cluster.topic(topic)
        for p in partitions if partitions is not None else sorted(info.partitions):
            if p not in info.partitions:
                raise NotFound(f"{topic} has no partition {p}", f"it has {len(info.partitions)}")
            out.append(TopicPartition(topic, p))
    return out


async def reset_scope(cluster: Cluster, topics: list[str] | None, *, all_topics: bool,
                      strategy: Strategy) -> list[TopicPartition] | None:
    """The partitions a reset names (`--topic T[:P,P]`), or None for every partition the group
    has offsets for (`--all-topics`) or the file names (`--from-file`)."""
    if topics:
        return await expand_specs(cluster, parse_topic_specs(topics))
    if all_topics or strategy.name == "from-file":
        return None
    raise BadUsage("say which partitions: --topic T[:P,P] or --all-topics")


async def plan_reset(cluster: Cluster, group: str, strategy: Strategy,
                     partitions: list[TopicPartition] | None = None) -> ResetPlan:
    """New offsets for `partitions` (None: the file's partitions with from-file, otherwise every
    partition the group has offsets for), clamped to what the logs hold, as Kafka does."""
    admin = Admin(cluster)
    described = (await admin.describe_groups([group]))[group]
    kind = described.type if isinstance(described, GroupDescription) else CLASSIC
    committed = await group_offsets(admin, group, kind)
    file_plan = read_plan_file(strategy.value or "") if strategy.name == "from-file" else {}
    if partitions is None:
        partitions = [TopicPartition(t, p) for t, p in sorted(file_plan)] if file_plan else sorted(committed)
    if not partitions:
        raise NotFound(f"group {group!r} has no committed offsets to reset", "name the topics to reset")
    earliest = await admin.list_offsets(dict.fromkeys(partitions, EARLIEST))
    latest = await admin.list_offsets(dict.fromkeys(partitions, LATEST))
    targets: dict[TopicPartition, int] = {}
    if strategy.name in ("to-datetime", "by-duration"):
        when = (parse_timestamp_ms(strategy.value or "") if strategy.name == "to-datetime"
                else now_ms() - parse_duration_ms(strategy.value or ""))
        found = await admin.list_offsets(dict.fromkeys(partitions, when))
        targets = {tp: o.offset if o.offset >= 0 else latest[tp].offset for tp, o in found.items()}
    elif strategy.name == "to-group":
        other = await group_offsets(admin, strategy.value or "")
        targets = {tp: other[tp].offset for tp in partitions if tp in other}
    rows: list[ResetRow] = []
    plan: dict[TopicPartition, int] = {}
    for tp in partitions:
        current = committed[tp].offset if tp in committed else None
        start, end = earliest[tp].offset, latest[tp].offset
        base = current if current is not None else end
        match strategy.name:
            case "to-earliest":
                new = start
            case "to-latest":
                new = end
            case "to-current":
                new = base
            case "to-offset":
                new = int(strategy.value or 0)
            case "shift-by":
                new = base + int(strategy.value or 0)
            case "from-file":
                new = file_plan.get((tp.topic, tp.partition), base)
            case _:
                if tp not in targets:
                    continue  # --to-group: the other group has nothing here
                new = targets[tp]
        new = min(max(new, start), end)
        plan[tp] = new
        delta = new - base
        rows.append({"topic": tp.topic, "partition": tp.partition, "current_offset": current,
                     "new_offset": new, "log_start_offset": start, "log_end_offset": end,
                     "skipped": max(delta, 0), "reread": max(-delta, 0)})
    return ResetPlan(group, strategy, rows, plan, committed, kind)


async def group_offsets(admin: Admin, group: str, kind: str | None = None) -> dict[TopicPartition, OffsetAndMetadata]:
    """A group's committed offsets; for a share group, where each share partition starts (the
    partitions it has started on)."""
    if kind is None:
        found = (await admin.describe_groups([group]))[group]
        kind = found.type if isinstance(found, GroupDescription) else CLASSIC
    if kind != SHARE:
        return (await admin.list_group_offsets([group]))[group]
    answer = (await share_group_offsets(admin, [group]))[group]
    if isinstance(answer, KafkaError):
        raise answer
    return {tp: OffsetAndMetadata(o.start_offset) for tp, o in answer.items() if o.start_offset >= 0}


async def set_group_offsets(admin: Admin, group: str, kind: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Commit offsets from outside the group (a share group: where its partitions start)."""
    if kind == SHARE:
        results = await alter_share_group_offsets(admin, group, offsets)
    else:
        results = await admin.alter_group_offsets(group, offsets)
    failed = [e for e in results.values() if e is not None]
    if failed:
        raise failed[0]


async def delete_offsets(admin: Admin, group: str, partitions: Sequence[TopicPartition], *,
                         whole_topics: bool) -> int:
    """Forget a group's offsets on these partitions; returns how many. A share group keeps
    its state per topic, so only whole topics can be forgotten."""
    found = (await admin.describe_groups([group]))[group]
    if isinstance(found, GroupDescription) and found.type == SHARE:
        if not whole_topics:
            raise BadUsage(f"group {group!r} is a share group: its offsets are deleted for whole topics only",
                           "name topics without partitions")
        topics = sorted({tp.topic for tp in partitions})
        failed = [e for e in (await delete_share_group_offsets(admin, group, topics)).values() if e is not None]
    else:
        failed = [e for e in (await admin.delete_group_offsets(group, partitions)).values() if e is not None]
    if failed:
        raise failed[0]
    return len(partitions)


async def refuse_if_active(admin: Admin, group: str) -> str:
    """Offsets must not move under running consumers: they would overwrite them at their next
    commit. Refused as Kafka's tools refuse it; returns the group's type."""
    described = (await admin.describe_groups([group]))[group]
    if isinstance(described, KafkaError):
        return CLASSIC
    if described.members:  # in the words of Kafka's tools
        if described.type == SHARE:
            raise Refused(f"Share group '{group}' is not empty ({len(described.members)} active member(s))",
                          "stop its consumers, then run this again")
        raise Refused(f"Assignments can only be reset if the group '{group}' is inactive, but the current state is "
                      f"{described.state} ({len(described.members)} active member(s))",
                      "stop its consumers, then run this again")
    return described.type


def state_dir() -> Path:
    return state_dir_of("resets")


def _save_previous(group: str, committed: Mapping[TopicPartition, OffsetAndMetadata],
                   partitions: list[TopicPartition]) -> Path:
    record = [{"topic": tp.topic, "partition": tp.partition,
               "offset": committed[tp].offset if tp in committed else None} for tp in partitions]
    return new_save(state_dir() / group,
                    json.dumps({"group": group, "saved_at": iso(now_ms()), "offsets": record}, indent=2))


async def apply_reset(cluster: Cluster, plan: ResetPlan) -> Path:
    """Commit the planned offsets (refused while the group has members); returns where the
    previous offsets were saved for `undo_reset`."""
    admin = Admin(cluster)
    await refuse_if_active(admin, plan.group)
    saved = _save_previous(plan.group, plan.committed, list(plan.offsets))
    await set_group_offsets(admin, plan.group, plan.group_type, plan.offsets)
    return saved


def last_saved_reset(group: str) -> SavedOffsets:
    """The offsets the group's last executed reset saved (what `undo_reset` would put back)."""
    saves = live_saves(state_dir() / group)
    if not saves:
        raise NotFound(f"no executed reset of group {group!r} to undo", "resets are saved by --execute")
    raw = json.loads(saves[-1].read_text())
    return SavedOffsets(raw["group"], raw["saved_at"], [(o["topic"], o["partition"], o["offset"])
                                                        for o in raw["offsets"]])


async def undo_reset(cluster: Cluster, group: str) -> SavedOffsets:
    """Put back the offsets from before the group's last executed reset; returns what was saved."""
    saves = live_saves(state_dir() / group)
    saved = last_saved_reset(group)
    admin = Admin(cluster)
    kind = await refuse_if_active(admin, group)
    restore = {TopicPartition(t, p): o for t, p, o in saved.offsets if o is not None}
    forget = [TopicPartition(t, p) for t, p, o in saved.offsets if o is None]
    if restore:
        await set_group_offsets(admin, group, kind, restore)
    if forget and kind != SHARE:  # a share partition never started has nothing to forget
        await admin.delete_group_offsets(group, forget)
    saves[-1].rename(saves[-1].with_suffix(".undone"))
    return saved


def reset_command(group: str, strategy: Strategy, partitions: list[TopicPartition] | None, *,
                  execute: bool) -> str:
    """The `kctl` command line that does the same, shown by the console next to every reset."""
    if partitions is None:
        scope = "--all-topics"
    else:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        scope = " ".join(f"--topic {_quote(t)}" + ("" if len(ps) == 0 else f":{','.join(map(str, sorted(ps)))}")
                         for t, ps in by_topic.items())
    return (f"kctl groups reset-offsets {_quote(group)} {scope} {strategy.option}"
            + (" --execute" if execute else ""))


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
