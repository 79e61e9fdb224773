"""The consumer: assign() or subscribe(), fetch ahead per leader, hand out records, commit.

A supervised fetch task keeps one Fetch in flight per broker for the partitions it leads and
buffers what comes back (up to `fetch_max_bytes`); `getmany()` and the async iterator hand the
buffer out. `consumed` positions (what the application has been given) are what commits store.
With a `group_id` and `subscribe()`, a `GroupMember` task handles membership and rebalances,
and offsets are committed automatically every `auto_commit_interval_s` and before partitions are
given up. A failed background task is raised from the next call.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kctl.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kctl.protocol.records import BatchHeader, batch_payload, decode_batch, decode_record_fields, iter_batch_headers
from kctl.protocol.tasks import supervised

from .admin import Admin
from .assignors import Assignor, assignor
from .cluster import COORDINATOR_MOVED, FETCH, STALE_METADATA, Cluster
from .consumer_group_member import ConsumerProtocolMember
from .errors import KafkaError
from .group import GroupMember
from .types import EARLIEST, LATEST, ConsumerRecord, OffsetAndMetadata, RecordOrigin, TopicPartition

log = logging.getLogger("kctl.client.consumer")

_RESETS = {"earliest": EARLIEST, "latest": LATEST, "none": None}


class RebalanceListener(Protocol):
    """Told when partitions are taken away (after the automatic commit) and handed over."""

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None: ...

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None: ...


ResetPositions = Callable[[list[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


class CommitFailed(KafkaError):
    """The group rebalanced (or dropped us) before the commit: those partitions may now be someone else's."""


@dataclass(eq=False, slots=True)
class _Partition:
    position: int | None = None  # next offset to fetch
    consumed: int | None = None  # next offset to hand out; commits store this
    paused: bool = False
    fetching: bool = False
    epoch: int = 0  # bumped by seeks so that a fetch in flight is ignored
    high_watermark: int = -1
    buffer: deque[ConsumerRecord] = field(default_factory=deque)
    buffered_bytes: int = 0
    error: KafkaError | None = None


class Consumer:
    def __init__(
        self,
        cluster: Cluster,
        *,
        group_id: str | None = None,
        group_instance_id: str | None = None,
        auto_offset_reset: str = "latest",
        enable_auto_commit: bool | None = None,
        auto_commit_interval_s: float = 5.0,
        fetch_min_bytes: int = 1,
        fetch_max_bytes: int = 50 * 1024 * 1024,
        max_partition_fetch_bytes: int = 1024 * 1024,
        fetch_max_wait_ms: int = 500,
        session_timeout_ms: int = 45_000,
        heartbeat_interval_ms: int = 3_000,
        rebalance_timeout_ms: int = 300_000,
        assignors: Sequence[str | Assignor] = ("range", "cooperative-sticky"),
        check_crcs: bool = True,
        metadata_refresh_s: float = 30.0,
        listener: RebalanceListener | None = None,
        reset_positions: ResetPositions | None = None,
        isolation_level: str = "read_uncommitted",
        include_control: bool = False,
        group_protocol: str = "classic",
        group_remote_assignor: str | None = None,
    ) -> None:
        """`reset_positions`, when given, decides where partitions without a committed offset start
        (in place of `auto_offset_reset`): it gets those partitions and returns an offset for each."""
        # Long but flat: one line per setting (named as the Java client's) and per piece of state.
        if auto_offset_reset not in _RESETS:
            raise KafkaError(f"auto_offset_reset must be earliest, latest or none, not {auto_offset_reset!r}")
        if group_protocol not in ("classic", "consumer"):
            raise KafkaError(f"group_protocol must be classic or consumer, not {group_protocol!r}")
        # consumer: the KIP-848 protocol, where the coordinator assigns (`group_remote_assignor`
        # picks its assignor) and `assignors` and the session and heartbeat settings do not apply.
        self.group_protocol = group_protocol
        self.group_remote_assignor = group_remote_assignor
        if isolation_level not in ("read_uncommitted", "read_committed"):
            raise KafkaError(f"isolation_level must be read_uncommitted or read_committed, not {isolation_level!r}")
        # read_committed: only committed transactions' records, and nothing past the last stable
        # offset (where the earliest open transaction began).
        self.read_committed = isolation_level == "read_committed"
        # Transaction markers handed out as records too (origin.control says which): for debugging.
        self.include_control = include_control
        self.cluster = cluster
        self.group_id = group_id
        self.group_instance_id = group_instance_id
        self.reset = _RESETS[auto_offset_reset]
        self.auto_commit = bool(group_id) if enable_auto_commit is None else enable_auto_commit
        if self.auto_commit and not group_id:
            raise KafkaError("automatic commits need a group_id")
        self.auto_commit_interval_s = auto_commit_interval_s
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.assignors = [assignor(a) if isinstance(a, str) else a for a in assignors]
        self.check_crcs = check_crcs
        self.metadata_refresh_s = metadata_refresh_s
        self.listener = listener
        self.reset_positions = reset_positions
        self.admin = Admin(cluster)
        self.member: GroupMember | ConsumerProtocolMember | None = None
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._subscribed: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self._manual = False
        self._tasks: list[asyncio.Task[None]] = []
        self._helpers: set[asyncio.Future[None]] = set()
        self._failure: BaseException | None = None
        self._fetch_wake = asyncio.Event()
        self._records_ready = asyncio.Event()
        self._buffered_bytes = 0
        self._in_flight_nodes: set[int] = set()
        self._resolving = False
        self._started = False
        self._closed = False
        self._next_ready = 0  # round-robin start for fairness across partitions

    # ---- what to consume ---------------------------------------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Consume exactly these partitions, without group membership."""
        if self._subscribed or self._pattern is not None:
            raise KafkaError("this consumer subscribed to topics: it cannot also assign partitions")
        wanted = set(partitions)
        for tp in list(self._partitions):
            if tp not in wanted:
                self._drop(tp)
        for tp in wanted:
            self._partitions.setdefault(tp, _Partition())
        self._manual = True
        self._fetch_wake.set()

    def subscribe(self, topics: Iterable[str] = (), *, pattern: str | None = None) -> None:
        """Consume these topics (or every topic matching `pattern`) as a member of `group_id`."""
        if not self.group_id:
            raise KafkaError("subscribe() needs a group_id; use assign() to read without a group")
        if self._manual:
            raise KafkaError("this consumer assigned partitions itself: it cannot also subscribe")
        self._subscribed = sorted(set(topics))
        self._pattern = re.compile(pattern) if pattern is not None else None
        if not self._subscribed and self._pattern is None:
            raise KafkaError("subscribe to at least one topic or a pattern")
        if self.member is not None:
            self.member.request_rejoin("subscription changed")
        elif self._started:
            self._join_group()

    def assignment(self) -> set[TopicPartition]:
        return set(self._partitions)

    def _subscription(self) -> list[str]:
        topics = set(self._subscribed)
        if self._pattern is not None:
            topics |= {t for t, info in self.cluster.topics.items()
                       if not info.internal and self._pattern.fullmatch(t)}
        return sorted(topics)

    # ---- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._pattern is not None:
            await self.cluster.refresh_metadata(None)
        if self.group_id and (self._subscribed or self._pattern is not None):
            self._join_group()
        self._supervise("fetcher", self._fetch_loop)
        if self.auto_commit:
            self._supervise("auto commit", self._auto_commit_loop)

    def _join_group(self) -> None:
        assert self.group_id is not None
        if self.group_protocol == "consumer":
            self.member = ConsumerProtocolMember(
                self.cluster, self.group_id, topics=self._subscription, on_revoked=self._revoked,
                on_assigned=self._assigned, instance_id=self.group_instance_id,
                rebalance_timeout_ms=self.rebalance_timeout_ms, server_assignor=self.group_remote_assignor,
            )
            self._supervise("group membership", self.member.run)
            if self._pattern is not None:
                self._supervise("pattern watch", self._watch_pattern)
            return
        self.member = GroupMember(
            self.cluster, self.group_id, assignors=self.assignors, topics=self._subscription,
            on_revoked=self._revoked, on_assigned=self._assigned, instance_id=self.group_instance_id,
            session_timeout_ms=self.session_timeout_ms, rebalance_timeout_ms=self.rebalance_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
        )
        self._supervise("group membership", self.member.run)
        if self._pattern is not None:
            self._supervise("pattern watch", self._watch_pattern)

    def _supervise(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        def failed(exc: BaseException) -> None:
            log.error("consumer task %r failed: %r", name, exc)
            self._failure = exc
            self._records_ready.set()  # wake getmany() so it raises

        self._tasks.append(supervised(f"kctl consumer {name}", body, failed))

    async def __aenter__(self) -> Consumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Commit (when automatic), leave the group, stop the background tasks."""
        if self._closed:
            return
        self._closed = True
        tasks: list[asyncio.Future[None]] = list(self._tasks)
        background = [t for t in self._tasks if not t.get_name().endswith("fetcher")]
        for running in background:
            running.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        try:
            if self.member is not None and self._failure is None:
                await self.member.leave()
            elif self.auto_commit and self._failure is None:
                await self._commit_consumed()
        except KafkaError as exc:
            log.warning("final commit failed: %s", exc)
        everything = [*tasks, *self._helpers]
        for pending in everything:
            pending.cancel()
        await asyncio.gather(*everything, return_exceptions=True)

    def _spawn(self, work: Awaitable[None]) -> None:
        """Short-lived helpers (one fetch, one lookup): tracked so close() can stop them."""
        task = asyncio.ensure_future(work)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    def _check(self) -> None:
        if self._failure is not None:
            raise KafkaError(f"the consumer stopped: {self._failure}") from self._failure
        if not self._started:
            raise KafkaError("the consumer is not started")

    # ---- rebalance callbacks -------------------------------------------------------------------------
    async def _revoked(self, partitions: set[TopicPartition]) -> None:
        if self.auto_commit:
            try:
                await self._commit_consumed(partitions)
            except KafkaError as exc:
                log.warning("commit before giving up %d partition(s) failed: %s", len(partitions), exc)
        if self.listener is not None:
            await self.listener.on_partitions_revoked(set(partitions))
        for tp in partitions:
            self._drop(tp)

    async def _assigned(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._partitions.setdefault(tp, _Partition())
        self._fetch_wake.set()
        if self.listener is not None:
            await self.listener.on_partitions_assigned(set(partitions))

    def _drop(self, tp: TopicPartition) -> None:
        state = self._partitions.pop(tp, None)
        if state is not None:
            self._buffered_bytes -= state.buffered_bytes

    async def _watch_pattern(self) -> None:
        while True:
            await asyncio.sleep(self.metadata_refresh_s)
            before = self._subscription()
            await self.cluster.refresh_metadata(None)
            if self._subscription() != before and self.member is not None:
                self.member.request_rejoin("the topics matching the pattern changed")

    # ---- positions ---------------------------------------------------------------------------------------
    def seek(self, tp: TopicPartition, offset: int) -> None:
        state = self._state(tp)
        state.position = state.consumed = offset
        state.epoch += 1
        state.error = None
        self._clear_buffer(state)
        self._fetch_wake.set()

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        await self._seek_to(partitions or tuple(self._partitions), EARLIEST)

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        await self._seek_to(partitions or tuple(self._partitions), LATEST)

    async def seek_to_timestamp(self, timestamps: Mapping[TopicPartition, int]) -> None:
        """Each partition to its first record at or after the timestamp (ms), or to the end."""
        found = await self.admin.list_offsets(dict(timestamps))
        missing = [tp for tp, o in found.items() if o.offset < 0]
        ends = await self.admin.end_offsets(missing) if missing else {}
        for tp, o in found.items():
            self.seek(tp, o.offset if o.offset >= 0 else ends[tp])

    async def _seek_to(self, partitions: Iterable[TopicPartition], spec: int) -> None:
        found = await self.admin.list_offsets(dict.fromkeys(partitions, spec))
        for tp, o in found.items():
            self.seek(tp, o.offset)

    def position(self, tp: TopicPartition) -> int | None:
        """The offset of the next record the application will be given."""
        return self._state(tp).consumed

    def highwater(self, tp: TopicPartition) -> int:
        return self._state(tp).high_watermark

    def pause(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self._state(tp).paused = True

    def resume(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self._state(tp).paused = False
        self._fetch_wake.set()

    def paused(self) -> set[TopicPartition]:
        return {tp for tp, s in self._partitions.items() if s.paused}

    def _state(self, tp: TopicPartition) -> _Partition:
        state = self._partitions.get(tp)
        if state is None:
            raise KafkaError(f"{tp} is not assigned to this consumer")
        return state

    def _clear_buffer(self, state: _Partition) -> None:
        self._buffered_bytes -= state.buffered_bytes
        state.buffer.clear()
        state.buffered_bytes = 0

    async def _resolve_positions(self) -> None:
        """Committed offsets for partitions without a position, else the reset policy."""
        try:
            unknown = [tp for tp, s in self._partitions.items() if s.position is None and s.error is None]
            if not unknown:
                return
            committed: dict[TopicPartition, OffsetAndMetadata] = {}
            if self.group_id:
                committed = (await self.admin.list_group_offsets({self.group_id: unknown})).get(self.group_id, {})
            to_reset = [tp for tp in unknown if tp not in committed]
            resets: dict[TopicPartition, int] = {}
            if to_reset and self.reset_positions is not None:
                resets = await self.reset_positions(to_reset)
            elif to_reset and self.reset is not None:
                resets = {tp: o.offset for tp, o in
                          (await self.admin.list_offsets(dict.fromkeys(to_reset, self.reset))).items()}
            for tp in unknown:
                state = self._partitions.get(tp)
                if state is None or state.position is not None:
                    continue
                offset = committed[tp].offset if tp in committed else resets.get(tp)
                if offset is None:
                    state.error = KafkaError(f"{tp} has no committed offset and auto_offset_reset is none",
                                             ErrorCode.OFFSET_OUT_OF_RANGE, retriable=False)
                    self._records_ready.set()
                    continue
                state.position = state.consumed = offset
        except KafkaError as exc:
            log.info("could not find positions yet: %s", exc)
            await asyncio.sleep(0.2)
        finally:
            self._resolving = False
            self._fetch_wake.set()

    # ---- fetching ------------------------------------------------------------------------------------------
    async def _fetch_loop(self) -> None:
        while True:
            await self._fetch_wake.wait()
            self._fetch_wake.clear()
            if not self._resolving and any(s.position is None and s.error is None
                                           for s in self._partitions.values()):
                self._resolving = True
                self._spawn(self._resolve_positions())
            if self._buffered_bytes >= self.fetch_max_bytes:
                continue
            by_node: dict[int, list[TopicPartition]] = {}
            stale = False
            for tp, state in self._partitions.items():
                if state.paused or state.position is None or state.fetching or state.error is not None:
                    continue
                if state.buffered_bytes >= 2 * self.max_partition_fetch_bytes:
                    continue  # one fetch's worth may wait in the buffer while the next is on its way
                info = self.cluster.topics.get(tp.topic)
                partition = info.partitions.get(tp.partition) if info is not None else None
                if partition is None or partition.leader < 0:
                    stale = True
                    continue
                if partition.leader not in self._in_flight_nodes:
                    by_node.setdefault(partition.leader, []).append(tp)
            if stale:
                self._spawn(self._refresh([tp.topic for tp in self._partitions]))
            for node, tps in by_node.items():
                self._in_flight_nodes.add(node)
                for tp in tps:
                    self._partitions[tp].fetching = True
                self._spawn(self._fetch(node, tps))

    async def _refresh(self, topics: list[str]) -> None:
        try:
            await self.cluster.refresh_metadata(topics)
        except KafkaError as exc:
            log.info("metadata refresh failed: %s", exc)
        await asyncio.sleep(0.1)
        self._fetch_wake.set()

    async def _fetch(self, node: int, partitions: list[TopicPartition]) -> None:
        epochs: dict[TopicPartition, int] = {}
        by_topic: dict[str, list[FetchPartition]] = {}
        for tp in partitions:
            wanted = self._partitions[tp]
            epochs[tp] = wanted.epoch
            assert wanted.position is not None
            by_topic.setdefault(tp.topic, []).append(FetchPartition(
                partition=tp.partition, fetch_offset=wanted.position,
                partition_max_bytes=self.max_partition_fetch_bytes))
        request = FetchRequest(replica_id=-1, max_wait_ms=self.fetch_max_wait_ms, min_bytes=self.fetch_min_bytes,
                               max_bytes=self.fetch_max_bytes, isolation_level=int(self.read_committed),
                               session_id=0, session_epoch=-1,
                               topics=[FetchTopic(t, ps) for t, ps in by_topic.items()])
        failed = False
        try:
            timeout = self.fetch_max_wait_ms / 1000 + self.cluster.config.request_timeout_s
            response = await self.cluster.send(node, request, timeout=timeout, channel=FETCH)
            if response.error_code:
                raise KafkaError.from_code(response.error_code, f"fetch from broker {node}")
        except KafkaError as exc:
            failed = True
            log.info("fetch from broker %d failed: %s", node, exc)
        finally:
            self._in_flight_nodes.discard(node)
            for tp in partitions:
                fetched = self._partitions.get(tp)
                if fetched is not None:
                    fetched.fetching = False
        if failed:
            await self._refresh([tp.topic for tp in partitions])
            return
        got = False
        refresh = False
        for topic in response.responses:
            for data in topic.partitions:
                tp = TopicPartition(topic.topic, data.partition_index)
                state = self._partitions.get(tp)
                if state is None or state.epoch != epochs.get(tp):
                    continue  # revoked or sought while the fetch was out
                if data.error_code:
                    error = ErrorCode.of(data.error_code)
                    if error is ErrorCode.OFFSET_OUT_OF_RANGE:
                        self._out_of_range(tp, state)
                    elif error in STALE_METADATA:
                        refresh = True
                    elif not error.retriable:
                        # Such as TOPIC_AUTHORIZATION_FAILED: raised from getmany, as Java's poll throws it,
                        # rather than fetched again for ever.
                        state.error = KafkaError.from_code(data.error_code, f"fetching {tp}")
                    else:
                        log.warning("fetching %s: %s", tp, error.message)
                    continue
                # What a read_committed consumer can reach is the last stable offset (lag counts to it).
                state.high_watermark = data.last_stable_offset if self.read_committed else data.high_watermark
                if data.records:
                    aborted = None
                    if self.read_committed and data.aborted_transactions:
                        aborted = sorted((a.first_offset, a.producer_id) for a in data.aborted_transactions)
                    got |= self._append(tp, state, data.records, aborted)
        if got:
            self._records_ready.set()
        if refresh:
            await self._refresh([tp.topic for tp in partitions])
        else:
            self._fetch_wake.set()

    def _append(self, tp: TopicPartition, state: _Partition, raw: bytes,
                aborted: list[tuple[int, int]] | None = None) -> bool:
        """Buffer the fetched records. `aborted` (read_committed): the (first offset, producer id)
        of aborted transactions in the range, whose batches are dropped up to their abort marker."""
        position = state.position if state.position is not None else 0
        topic, partition = tp
        buffer = state.buffer
        added = 0
        aborting: set[int] = set()  # producers whose batches here belong to an aborted transaction
        try:
            for pos, header in iter_batch_headers(raw):
                while aborted and aborted[0][0] <= header.last_offset:
                    aborting.add(aborted.pop(0)[1])
                if header.is_control and header.producer_id in aborting:
                    aborting.discard(header.producer_id)  # its abort marker: the transaction ends here
                if header.next_offset <= position:
                    continue
                if header.is_transactional and header.producer_id in aborting:
                    position = header.next_offset
                    continue
                if header.is_control and self.include_control:
                    buffer.append(self._marker(tp, raw, pos, header))
                    added += 1
                elif not header.is_control:
                    header, payload = batch_payload(raw, pos, verify_crc=self.check_crcs)
                    origin = RecordOrigin(topic, partition, 1 if header.timestamp_type else 0,
                                          header.partition_leader_epoch, header.producer_id, header.is_transactional)
                    records = decode_record_fields(payload, header, origin, ConsumerRecord)
                    if header.base_offset < position:  # the fetch started inside this batch
                        records = [r for r in records if r.offset >= position]
                    buffer.extend(records)
                    added += len(records)
                position = header.next_offset
        except ProtocolError as exc:
            state.error = KafkaError(f"{tp}: corrupt record batch at offset {position}: {exc}",
                                     ErrorCode.CORRUPT_MESSAGE, retriable=False)
            state.position = position
            return True
        state.position = position
        size = len(raw)
        state.buffered_bytes += size
        self._buffered_bytes += size
        return added > 0

    def _marker(self, tp: TopicPartition, raw: bytes, pos: int, header: BatchHeader) -> ConsumerRecord:
        """A transaction marker as a record: its key and value as stored, its kind in the origin."""
        batch = decode_batch(raw, pos, verify_crc=self.check_crcs)
        kind = batch.control_type
        marker = batch.records[0] if batch.records else None
        origin = RecordOrigin(tp.topic, tp.partition, 1 if header.timestamp_type else 0, header.partition_leader_epoch,
                              header.producer_id, True, kind.name if kind is not None else "UNKNOWN")
        return ConsumerRecord(header.base_offset, header.max_timestamp, marker.key if marker else None,
                              marker.value if marker else None, (), origin)

    def _out_of_range(self, tp: TopicPartition, state: _Partition) -> None:
        if self.reset is None:
            state.error = KafkaError(f"{tp}: offset {state.position} is out of range and auto_offset_reset is none",
                                     ErrorCode.OFFSET_OUT_OF_RANGE, retriable=False)
            self._records_ready.set()
            return
        log.info("%s: offset %s is out of range; resetting to the %s", tp, state.position,
                 "earliest" if self.reset == EARLIEST else "latest")
        state.position = state.consumed = None
        self._clear_buffer(state)
        self._fetch_wake.set()

    # ---- handing records out ------------------------------------------------------------------------------
    async def getmany(self, *partitions: TopicPartition, timeout_ms: float = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Buffered records by partition, waiting up to `timeout_ms` for some to arrive.

        At most `max_records` records are handed out; the rest stay buffered for the next call, so
        a commit (which stores the positions handed out) never covers records the caller did not get.
        """
        self._check()
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            out = self._take(set(partitions) if partitions else None, max_records)
            if out:
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {}
            self._records_ready.clear()
            try:
                await asyncio.wait_for(self._records_ready.wait(), remaining)
            except TimeoutError:
                return {}
            self._check()

    def _take(self, only: set[TopicPartition] | None,
              max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]:
        out: dict[TopicPartition, list[ConsumerRecord]] = {}
        budget = max_records if max_records is not None else 1 << 62
        items = list(self._partitions.items())
        if not items:
            return out
        start = self._next_ready % len(items)
        self._next_ready += 1
        for tp, state in items[start:] + items[:start]:
            if state.error is not None:
                error, state.error = state.error, None
                raise error
            if not state.buffer and state.position is not None and state.consumed is not None \
                    and state.consumed < state.position:
                # Offsets fetched past with no record to give (transaction markers, aborted or
                # compacted batches) count as consumed, as in Java's consumer.
                state.consumed = state.position
            if not state.buffer or state.paused or (only is not None and tp not in only) or budget <= 0:
                continue
            buffer = state.buffer
            if len(buffer) <= budget:
                records = list(buffer)
                buffer.clear()
            else:
                records = [buffer.popleft() for _ in range(budget)]
            budget -= len(records)
            out[tp] = records
            state.consumed = records[-1].offset + 1
            if not buffer and state.position is not None and state.position > state.consumed:
                state.consumed = state.position
            if not buffer:
                self._buffered_bytes -= state.buffered_bytes
                state.buffered_bytes = 0
                self._fetch_wake.set()
            elif state.buffered_bytes >= self.max_partition_fetch_bytes:
                # Roughly what was handed out, so the next fetch can start before the buffer runs dry.
                handed = state.buffered_bytes * len(records) // (len(records) + len(buffer))
                state.buffered_bytes -= handed
                self._buffered_bytes -= handed
                self._fetch_wake.set()
        return out

    async def getone(self) -> ConsumerRecord:
        while True:
            got = await self.getmany(timeout_ms=1000, max_records=1)
            for records in got.values():
                return records[0]

    def __aiter__(self) -> AsyncIterator[ConsumerRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ConsumerRecord]:
        while not self._closed:
            batches = await self.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    yield record

    # ---- commits -----------------------------------------------------------------------------------------
    async def commit(self, offsets: Mapping[TopicPartition, int | OffsetAndMetadata] | None = None) -> None:
        """Commit `offsets` (each the next offset to read), or else, for every assigned partition,
        the offset after the last record handed out by `getmany()`/`getone()`/iteration (or the
        position set by `seek()`): never records still buffered and not yet handed out."""
        if not self.group_id:
            raise KafkaError("commit() needs a group_id")
        self._check()
        if offsets is None:
            await self._commit_consumed()
            return
        await self._commit({tp: o if isinstance(o, OffsetAndMetadata) else OffsetAndMetadata(o)
                            for tp, o in offsets.items()})

    async def _commit_consumed(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        wanted = self._partitions if partitions is None else {tp: self._partitions[tp] for tp in partitions
                                                              if tp in self._partitions}
        offsets = {tp: OffsetAndMetadata(s.consumed) for tp, s in wanted.items() if s.consumed is not None}
        if offsets:
            await self._commit(offsets)

    async def _commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        assert self.group_id is not None
        member = self.member
        instance_id = self.group_instance_id if member is not None else None
        by_topic: dict[str, list[OffsetCommitRequestPartition]] = {}
        for tp, meta in offsets.items():
            by_topic.setdefault(tp.topic, []).append(
                OffsetCommitRequestPartition(tp.partition, meta.offset, meta.leader_epoch, -1, meta.metadata))

        async def attempt() -> None:
            assert self.group_id is not None
            # Each try carries the member's epoch as it is then: a consumer-protocol member's
            # moves on between heartbeats, and STALE_MEMBER_EPOCH asks for the newer one.
            generation, member_id = (member.generation, member.member_id) if member is not None else (-1, "")
            request = OffsetCommitRequest(self.group_id, generation, member_id, instance_id, -1,
                                          [OffsetCommitRequestTopic(t, ps) for t, ps in by_topic.items()])
            node = await self.cluster.coordinator(self.group_id)
            response = await self.cluster.send(node, request)
            for t in response.topics:
                for p in t.partitions:
                    if not p.error_code:
                        continue
                    error = ErrorCode.of(p.error_code)
                    if error in COORDINATOR_MOVED:
                        self.cluster.forget_coordinator(self.group_id)
                    if error is ErrorCode.STALE_MEMBER_EPOCH:
                        raise KafkaError(f"committing {t.name}[{p.partition_index}]: the member epoch moved on",
                                         error, retriable=True)
                    if error in (ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION,
                                 ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID):
                        if member is not None:
                            member.request_rejoin(f"commit failed: {error.name}")
                        raise CommitFailed(f"commit for {t.name}[{p.partition_index}] refused: {error.message} "
                                           f"({error.name}); the group is rebalancing", error, retriable=False)
                    raise KafkaError.from_code(p.error_code, f"committing {t.name}[{p.partition_index}]")

        await self.cluster.retry(attempt, what="OffsetCommit")

    async def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, OffsetAndMetadata | None]:
        if not self.group_id:
            raise KafkaError("committed() needs a group_id")
        wanted = list(partitions)
        found = (await self.admin.list_group_offsets({self.group_id: wanted})).get(self.group_id, {})
        return {tp: found.get(tp) for tp in wanted}

    async def _auto_commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.auto_commit_interval_s)
            if self.member is not None and self.member.generation <= 0:
                continue
            try:
                await self._commit_consumed()
            except KafkaError as exc:
                log.info("automatic commit failed: %s", exc)
