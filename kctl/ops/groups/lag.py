"""Lag over many groups at once: committed offsets and log ends joined column by column (in C
where it can be). `iter_lag` is the way in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.group_kinds import (
    ShareOffset,
    share_group_offsets,
)
from kctl.client.types import EARLIEST, LATEST, TopicPartition

if TYPE_CHECKING:
    from kctl.protocol.offset_columns import GroupCommitted
from .ages import add_record_age
from .rows import LagRows


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
