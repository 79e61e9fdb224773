"""How old each group's next record is: its timestamp, read from the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from itertools import compress, repeat
from typing import TYPE_CHECKING, Any

from kctl.client.cluster import Cluster
from kctl.client.types import TopicPartition
from kctl.protocol.clock import now_ms

if TYPE_CHECKING:
    pass
from .rows import LagRows


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
