"""One tail session for `kctl tail` and the console's tail.

A session picks the partitions, puts each at its start (`--from`), then hands out records in
batches until every partition reaches the end it had when the session began, a time (`until_ms`),
a count (`max_records`), or forever (`follow`). As a group member it commits exactly what it handed
out, and it leaves the group when the session closes. Like Unix `tail`, it can hand out only the
newest records (`last`) before it follows.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.consumer import Consumer
from kctl.client.types import LATEST, ConsumerRecord, TopicPartition

from .errors import NotFound
from .filters import compile_filter, record_view
from .records import start_offsets


@dataclass(frozen=True, slots=True)
class TailSpec:
    topics: Sequence[str]
    start: str = "end"  # a --from position: beginning, end, OFFSET, -N, @TIME
    partitions: Sequence[int] | None = None  # None: all of them
    follow: bool = False  # keep waiting for new records at the end
    max_records: int | None = None  # stop after handing out this many (records the matcher drops on the
    # way are read, and with a group committed, but do not count)
    until_ms: int | None = None  # stop at records stamped after this time
    group: str | None = None  # consume as a member of this group (follows, commits what it read)
    pattern: bool = False  # topics are regexes
    matcher: Callable[[ConsumerRecord], bool] | None = None
    poll_ms: int = 500
    batch_limit: int | None = None  # most records per batch
    isolation: str = "read_uncommitted"  # or read_committed: committed transactions only, up to the
    # last stable offset (read_uncommitted, Kafka's console consumer's default, also shows aborted records)
    show_control: bool = False  # hand out transaction markers too (records whose origin.control is set)
    last: int | None = None  # hand out only the newest N records there were (of all partitions), then
    # with `follow` what comes after; `start` should be "-N", so that no partition is read further back
    waiting: Callable[[str], None] | None = None  # told once where a group's tail is when it has nothing to read


def newest(records: list[ConsumerRecord], count: int) -> list[ConsumerRecord]:
    """The `count` newest records by timestamp, each partition's in offset order: from every
    partition's end, the record stamped latest is taken next, as far back as `count` goes."""
    by_partition: dict[tuple[str, int], list[ConsumerRecord]] = {}
    for r in records:
        by_partition.setdefault((r.topic, r.partition), []).append(r)
    tails = [(-rs[-1].timestamp, key) for key, rs in by_partition.items()]
    heapq.heapify(tails)
    picked: list[ConsumerRecord] = []
    while tails and len(picked) < count:
        _, key = heapq.heappop(tails)
        rs = by_partition[key]
        picked.append(rs.pop())
        if rs:
            heapq.heappush(tails, (-rs[-1].timestamp, key))
    return picked[::-1]


def record_matcher(expression: str) -> Callable[[ConsumerRecord], bool]:
    """A `--filter` expression as a test on records."""
    check = compile_filter(expression)

    def matches(r: ConsumerRecord) -> bool:
        return bool(check(record_view(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value, r.headers)))

    return matches


class TailSession:
    """`async with TailSession(cluster, spec) as session: async for batch in session: ...`"""

    def __init__(self, cluster: Cluster, spec: TailSpec) -> None:
        self.cluster = cluster
        self.spec = spec
        self.admin = Admin(cluster)
        self.read = 0  # records taken from the log (those the filter dropped included)
        self.handed_out = 0
        self._ends: dict[TopicPartition, int] = {}
        self._consumer: Consumer | None = None
        self._has_partitions = False  # a group member has been given its partitions (perhaps none)

    async def __aenter__(self) -> TailSession:
        spec = self.spec
        names = await self._topic_names()
        wanted = [TopicPartition(name, p) for name in names for p in sorted((await self.cluster.topic(name)).partitions)
                  if spec.partitions is None or p in spec.partitions]
        if not wanted:
            raise NotFound("no partitions to read")
        self._ends = await self._latest(wanted)
        if spec.group:
            await start_offsets(self.admin, wanted[:1], spec.start, self._ends)  # a bad --from fails before joining
        consumer = Consumer(self.cluster, group_id=spec.group,
                            auto_offset_reset="latest" if spec.start == "end" else "earliest",
                            reset_positions=self._uncommitted_start if spec.group else None,
                            isolation_level=spec.isolation, include_control=spec.show_control,
                            listener=self if spec.group else None)
        if spec.group:
            consumer.subscribe(names)  # before start, so membership begins with it
        self._consumer = consumer
        try:
            await consumer.start()
            if not spec.group:
                consumer.assign(wanted)
                for tp, offset in (await start_offsets(self.admin, wanted, spec.start, self._ends)).items():
                    consumer.seek(tp, offset)
        except BaseException:
            await consumer.close()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._consumer is not None:
            await self._consumer.close()  # commits what was handed out, and leaves the group

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        self._has_partitions = True

    def __aiter__(self) -> AsyncIterator[list[ConsumerRecord]]:
        return self._batches()

    async def _topic_names(self) -> list[str]:
        if not self.spec.pattern:
            return list(self.spec.topics)
        await self.cluster.refresh_metadata(None)
        regexes = [re.compile(t) for t in self.spec.topics]
        names = sorted(t for t, info in self.cluster.topics.items()
                       if not info.internal and any(rx.fullmatch(t) for rx in regexes))
        if not names:
            raise NotFound("no topic matches", "list them with `kctl topics list`")
        return names

    async def _latest(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        committed = self.spec.isolation == "read_committed"  # then the end is the last stable offset
        ends = await self.admin.list_offsets(dict.fromkeys(partitions, LATEST), read_committed=committed)
        return {tp: o.offset for tp, o in ends.items()}

    async def _uncommitted_start(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """--from with a group: where partitions the group has no committed offset for start."""
        known = {tp: self._ends[tp] for tp in partitions if tp in self._ends}
        unknown = [tp for tp in partitions if tp not in self._ends]
        if unknown:
            known.update(await self._latest(unknown))
        return await start_offsets(self.admin, partitions, self.spec.start, known)

    def _budget(self) -> int | None:
        limits = [n for n in (self.spec.batch_limit,
                              None if self.spec.max_records is None else self.spec.max_records - self.handed_out)
                  if n is not None]
        return min(limits) if limits else None

    async def _batches(self) -> AsyncIterator[list[ConsumerRecord]]:
        consumer = self._consumer
        assert consumer is not None, "use the session in `async with`"
        spec = self.spec
        following = spec.follow
        # Without --follow, or while the newest records are gathered: each partition's end when the
        # session began, until it is reached. A group's positions are known once it has its
        # partitions (`_group_remaining`).
        backlog: list[ConsumerRecord] | None = [] if spec.last is not None else None
        gathering = not following or backlog is not None
        remaining = {tp: end for tp, end in self._ends.items() if (consumer.position(tp) or 0) < end} \
            if gathering and not spec.group else {}
        settled = not spec.group  # a group's tail knows where it starts once partitions are assigned
        told = False
        while following or remaining or not settled:
            # Never take more than --max still allows: what is taken counts as consumed, and with
            # a group it is what gets committed.
            batches = await consumer.getmany(timeout_ms=spec.poll_ms, max_records=self._budget())
            if not settled:
                ready = self._group_remaining(consumer)
                if ready is not None:
                    settled = True
                    remaining = ready if gathering else {}
            out: list[ConsumerRecord] = []
            for tp, records in batches.items():
                for r in records:
                    if spec.until_ms is not None and r.timestamp > spec.until_ms:
                        remaining.pop(tp, None)
                        consumer.seek(tp, r.offset)  # not read: not committed
                        consumer.pause(tp)
                        break
                    self.read += 1
                    if tp in remaining and r.offset + 1 >= remaining[tp]:
                        remaining.pop(tp)
                    if spec.matcher is None or r.origin.control is not None or spec.matcher(r):
                        out.append(r)
            for tp in [tp for tp in remaining if (consumer.position(tp) or 0) >= remaining[tp]]:
                remaining.pop(tp)
            if backlog is not None:
                backlog.extend(out)
                if remaining or not settled:
                    continue
                out, backlog = newest(backlog, spec.last or 0), None
            self.handed_out += len(out)
            if spec.max_records is not None and self.handed_out >= spec.max_records:
                following = False
                remaining.clear()
            if out:
                yield out
                continue
            if spec.group and settled and not told and spec.waiting is not None and not remaining:
                told = True
                spec.waiting(self._where(consumer))
            if not (following or remaining or not settled):
                return

    def _group_remaining(self, consumer: Consumer) -> dict[TopicPartition, int] | None:
        """A group member's partitions not yet read to the end they had when the session began,
        once it has partitions and knows where each starts; None before that."""
        if not self._has_partitions:
            return None
        positions = {tp: consumer.position(tp) for tp in consumer.assignment()}
        if any(p is None for p in positions.values()):
            return None
        return {tp: self._ends[tp] for tp, p in positions.items()
                if p is not None and tp in self._ends and p < self._ends[tp]}

    def _where(self, consumer: Consumer) -> str:
        held = sorted(consumer.assignment())
        at = ", ".join(f"{tp.topic}[{tp.partition}]@{consumer.position(tp)}" for tp in held)
        return f"group {self.spec.group} is at the end of {at or 'no partition (others hold them all)'}"
