"""The producer: records are batched per partition, sent per leader, and acknowledged by future.

`send()` puts a record into its partition's open batch and returns a future of its
`RecordMetadata`. A batch leaves when it is full (`batch_size`), when it has waited `linger_ms`, or
on `flush()`. One supervised sender task drains batches into one ProduceRequest per leader, keeps
up to `max_in_flight` requests per broker, and retries retriable failures until
`delivery_timeout_s`. With idempotence (the default with acks=all) every batch carries the
producer id and a per-partition sequence, so a retried batch is never written twice.

With a `transactional_id` the producer writes in transactions, as Kafka's does: `begin()`, sends
(each partition is added to the transaction before its first batch goes out),
`send_offsets_to_transaction()` for a consume-transform-produce loop, then `commit()` or
`abort()`. Starting fences any older producer with the same transactional id.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kctl.protocol.api import API_BY_REQUEST_TYPE
from kctl.protocol.compression import Compression
from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnRequest
from kctl.protocol.messages.add_partitions_to_txn import AddPartitionsToTxnRequest, AddPartitionsToTxnTopic
from kctl.protocol.messages.end_txn import EndTxnRequest
from kctl.protocol.messages.init_producer_id import InitProducerIdRequest
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitRequest,
    TxnOffsetCommitRequestPartition,
    TxnOffsetCommitRequestTopic,
)
from kctl.protocol.records import Record, encode_batch

from .cluster import COORDINATOR_MOVED, STALE_METADATA, TRANSACTION, Cluster
from .errors import KafkaError
from .partitioner import StickyPartitioner, partition_for_key
from .types import RecordMetadata, TopicPartition

log = logging.getLogger("kctl.client.producer")

_RECORD_OVERHEAD = 24  # rough bytes per record beyond key, value and headers
_SEQUENCE_LIMIT = 2**31


@dataclass(eq=False, slots=True)
class _Batch:
    tp: TopicPartition
    created: float
    deadline: float
    records: list[Record] = field(default_factory=list)
    futures: list[asyncio.Future[RecordMetadata]] = field(default_factory=list)
    size: int = 0
    sealed: bool = False
    encoded: bytes | None = None
    base_sequence: int = -1
    attempts: int = 0
    retry_at: float = 0.0
    done: asyncio.Future[None] | None = None  # set when flush() waits for this batch


class Producer:
    def __init__(
        self,
        cluster: Cluster,
        *,
        acks: int | str = -1,
        linger_ms: float = 5.0,
        batch_size: int = 256 * 1024,
        compression: str = "none",
        enable_idempotence: bool | None = None,
        max_in_flight: int = 5,
        request_timeout_s: float = 30.0,
        delivery_timeout_s: float = 120.0,
        buffer_memory: int = 64 * 1024 * 1024,
        max_request_size: int = 1024 * 1024,
        retry_backoff_s: float = 0.1,
        transactional_id: str | None = None,
        transaction_timeout_ms: int = 60_000,
        allow_auto_create: bool = True,
    ) -> None:
        self.cluster = cluster
        #: Ask brokers that auto-create topics to make a missing one (Java's allow.auto.create.topics).
        self.allow_auto_create = allow_auto_create
        self.acks = -1 if acks == "all" else int(acks)
        if self.acks not in (-1, 0, 1):
            raise KafkaError(f"acks must be 0, 1 or all (-1), not {acks!r}")
        self.idempotent = self.acks == -1 if enable_idempotence is None else enable_idempotence
        if self.idempotent and self.acks != -1:
            raise KafkaError("an idempotent producer needs acks=all")
        if transactional_id is not None and not self.idempotent:
            raise KafkaError("a transactional producer needs acks=all and idempotence")
        self.transactional_id = transactional_id
        self.transaction_timeout_ms = transaction_timeout_ms
        self.in_transaction = False
        self._txn_partitions: set[TopicPartition] = set()  # added to the transaction under way
        self._txn_offsets = False  # offsets were sent to it
        self._txn_error: KafkaError | None = None  # a batch of it failed: it can only be aborted
        self._adding: asyncio.Lock | None = None
        try:
            self.compression = Compression.parse(compression)
        except (ValueError, ProtocolError):
            raise KafkaError(f"unknown compression {compression!r}: use none, gzip, snappy, lz4 or zstd") from None
        self.linger_s = max(linger_ms, 0.0) / 1000
        self.batch_size = batch_size
        self.max_in_flight = max(1, max_in_flight)
        self.request_timeout_s = request_timeout_s
        self.delivery_timeout_s = delivery_timeout_s
        self.buffer_memory = buffer_memory
        self.max_request_size = max_request_size
        self.retry_backoff_s = retry_backoff_s
        self.producer_id = -1
        self.producer_epoch = -1
        self._queues: dict[TopicPartition, deque[_Batch]] = {}
        self._open: dict[TopicPartition, _Batch] = {}
        self._in_flight_batches: dict[TopicPartition, list[_Batch]] = {}
        self._in_flight_per_node: dict[int, int] = {}
        self._next_sequence: dict[TopicPartition, int] = {}
        self._sticky = StickyPartitioner()
        self._buffered = 0
        self._space: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._sender: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._flushing = 0
        self._closing = False
        self._failure: BaseException | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop

    # ---- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.transactional_id is not None:
            txid = self.transactional_id

            async def init_transactional() -> Any:
                return await self._to_coordinator(
                    InitProducerIdRequest(txid, self.transaction_timeout_ms, -1, -1), "InitProducerId")

            response = await self.cluster.retry(init_transactional, what="InitProducerId")
            self.producer_id, self.producer_epoch = response.producer_id, response.producer_epoch
            self._adding = asyncio.Lock()
        elif self.idempotent:
            async def init_producer_id() -> Any:
                # A new Apache Kafka cluster answers COORDINATOR_LOAD_IN_PROGRESS (retriable) while it
                # creates its transaction state topic.
                response = await self.cluster.send_any(InitProducerIdRequest(None, -1, -1, -1))
                if response.error_code:
                    raise KafkaError.from_code(response.error_code, "getting a producer id")
                return response

            response = await self.cluster.retry(init_producer_id, what="InitProducerId")
            self.producer_id, self.producer_epoch = response.producer_id, response.producer_epoch
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._sender = asyncio.create_task(self._run(), name="kctl producer sender")
        self._sender.add_done_callback(self._sender_done)

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, timeout_s: float | None = None) -> None:
        """Send what is buffered (up to `timeout_s`), then stop."""
        if self._sender is None:
            return
        try:
            await asyncio.wait_for(self.flush(), timeout_s)
        finally:
            self._closing = True
            self._sender.cancel()
            for task in list(self._requests):
                task.cancel()
            await asyncio.gather(self._sender, *self._requests, return_exceptions=True)
            self._fail_everything(KafkaError("the producer was closed before the record was sent"))

    def _sender_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("the producer's sender failed: %r", error)
            self._failure = error
            self._fail_everything(KafkaError(f"the producer's sender failed: {error!r}"))

    # ---- sending ---------------------------------------------------------------------------------
    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes | None]] | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        """Queue a record; the future resolves once the broker has it (or fails)."""
        if self._failure is not None or self._closing or self._wake is None:
            raise KafkaError("the producer is closed" if self._wake is not None else "the producer is not started")
        if self.transactional_id is not None and not self.in_transaction:
            raise KafkaError("begin a transaction before sending")
        size = _RECORD_OVERHEAD + (len(key) if key else 0) + (len(value) if value else 0)
        if headers:
            size += sum(len(h) + (len(v) if v else 0) + 4 for h, v in headers)
        if size > self.max_request_size:
            raise KafkaError(f"a record of {size} bytes is larger than max_request_size ({self.max_request_size})",
                             ErrorCode.MESSAGE_TOO_LARGE)
        info = self.cluster.topics.get(topic)
        if info is None:
            info = await self.cluster.topic(topic, allow_auto_create=self.allow_auto_create)
        count = len(info.partitions)
        if partition is None:
            partition = partition_for_key(key, count) if key is not None else self._sticky.partition(topic, count)
        elif not 0 <= partition < count:
            raise KafkaError(f"{topic} has no partition {partition} (it has {count})",
                             ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        if self._buffered >= self.buffer_memory:
            await self._wait_for_space()
        tp = TopicPartition(topic, partition)
        if self.transactional_id is not None and tp not in self._txn_partitions:
            await self._add_partition(tp)
        batch = self._open.get(tp)
        if batch is None or batch.size + size > self.batch_size:
            batch = self._new_batch(tp, batch)
        future: asyncio.Future[RecordMetadata] = self._loop.create_future()
        batch.records.append(Record(key, value, list(headers) if headers else [],
                                    timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)))
        batch.futures.append(future)
        batch.size += size
        self._buffered += size
        if batch.size >= self.batch_size:
            self._seal(batch)
            del self._open[tp]
        return future

    def _seal(self, batch: _Batch) -> None:
        """A full batch: ready to go, and keyless records move on to another partition."""
        batch.sealed = True
        assert self._wake is not None
        self._wake.set()
        info = self.cluster.topics.get(batch.tp.topic)
        if info is not None:
            self._sticky.batch_sent(batch.tp.topic, batch.tp.partition, len(info.partitions))

    def _new_batch(self, tp: TopicPartition, full: _Batch | None) -> _Batch:
        if full is not None:
            self._seal(full)
        now = self._loop.time()
        batch = _Batch(tp, now, now + self.delivery_timeout_s)
        self._open[tp] = batch
        queue = self._queues.get(tp)
        if queue is None:
            queue = self._queues[tp] = deque()
        queue.append(batch)
        self._wake_at(now + self.linger_s)
        return batch

    async def _wait_for_space(self) -> None:
        assert self._space is not None
        while self._buffered >= self.buffer_memory:
            self._space.clear()
            await self._space.wait()

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                            partition: int | None = None, timestamp_ms: int | None = None,
                            headers: Sequence[tuple[str, bytes | None]] | None = None) -> RecordMetadata:
        future = await self.send(topic, value, key, partition=partition, timestamp_ms=timestamp_ms, headers=headers)
        return await future

    async def flush(self) -> None:
        """Send everything buffered now and wait for every outcome."""
        batches = [b for queue in self._queues.values() for b in queue]
        batches += [b for in_flight in self._in_flight_batches.values() for b in in_flight]
        if not batches or self._wake is None:
            return
        loop = asyncio.get_running_loop()
        for batch in batches:
            if batch.done is None:
                batch.done = loop.create_future()
        self._flushing += 1
        self._wake.set()
        try:
            await asyncio.gather(*(b.done for b in batches if b.done is not None))
        finally:
            self._flushing -= 1

    def _wake_at(self, when: float) -> None:
        if self._timer is not None and self._timer.when() <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        assert self._wake is not None
        self._timer = asyncio.get_running_loop().call_at(when, self._wake.set)

    # ---- the sender --------------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._timer = None
            ready, next_wake = self._ready_batches(loop.time())
            for node, batches in ready.items():
                self._send_to(node, batches)
            if next_wake is not None:
                self._wake_at(next_wake)

    def _ready_batches(self, now: float) -> tuple[dict[int, list[_Batch]], float | None]:
        """The batches that may go now, by leader; expired ones fail; and when to look again."""
        next_wake: float | None = None
        ready: dict[int, list[_Batch]] = {}
        for tp, queue in self._queues.items():
            if not queue:
                continue
            batch = queue[0]
            if now >= batch.deadline:
                queue.popleft()
                if self._open.get(tp) is batch:
                    del self._open[tp]
                self._finish(batch, KafkaError(f"{tp}: not delivered within {self.delivery_timeout_s:g}s",
                                               ErrorCode.REQUEST_TIMED_OUT))
                continue
            if batch.retry_at > now:
                next_wake = min(next_wake or batch.retry_at, batch.retry_at)
                continue
            if not (batch.sealed or self._flushing or now - batch.created >= self.linger_s):
                due = batch.created + self.linger_s
                next_wake = min(next_wake or due, due)
                continue
            if len(self._in_flight_batches.get(tp, ())) >= self.max_in_flight:
                continue
            leader = self._leader(tp)
            if leader is None:
                self._refresh_metadata()
                continue
            if not batch.sealed and not self._flushing and self._in_flight_per_node.get(leader, 0):
                continue  # a part-filled batch waits while its broker is busy (see _send_to)
            ready.setdefault(leader, []).append(batch)
        return ready, next_wake

    def _send_to(self, node: int, batches: list[_Batch]) -> None:
        """One Produce request to `node` with as many of its ready batches as fit."""
        busy = self._in_flight_per_node.get(node, 0)
        if busy >= self.max_in_flight:
            return
        if busy and not self._flushing and sum(b.size for b in batches) < self.max_request_size:
            # While a broker is busy, batches gather until they fill a request: under load
            # requests stay large, and an idle broker still gets each batch at once.
            return
        taken: list[_Batch] = []
        size = 0
        for batch in batches:
            if taken and size + batch.size > self.max_request_size:
                break
            self._queues[batch.tp].popleft()
            if self._open.get(batch.tp) is batch:
                del self._open[batch.tp]
                self._seal(batch)  # left on linger
            if batch.encoded is None:
                self._encode(batch)
            self._in_flight_batches.setdefault(batch.tp, []).append(batch)
            taken.append(batch)
            size += batch.size
        self._in_flight_per_node[node] = busy + 1
        task = asyncio.create_task(self._produce(node, taken))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def _leader(self, tp: TopicPartition) -> int | None:
        info = self.cluster.topics.get(tp.topic)
        partition = info.partitions.get(tp.partition) if info is not None else None
        if partition is None or partition.leader < 0:
            return None
        return partition.leader

    def _refresh_metadata(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            return

        async def refresh() -> None:
            topics = {tp.topic for tp, queue in self._queues.items() if queue}
            try:
                await self.cluster.refresh_metadata(topics)
            except KafkaError as exc:
                log.warning("metadata refresh failed: %s", exc)
                await asyncio.sleep(self.retry_backoff_s)
            if self._wake is not None:
                self._wake.set()

        self._refreshing = asyncio.create_task(refresh())

    def _encode(self, batch: _Batch) -> None:
        tp = batch.tp
        if self.idempotent:
            sequence = self._next_sequence.get(tp, 0)
            batch.base_sequence = sequence
            self._next_sequence[tp] = (sequence + len(batch.records)) % _SEQUENCE_LIMIT
        batch.encoded = encode_batch(batch.records, compression=self.compression, producer_id=self.producer_id,
                                     producer_epoch=self.producer_epoch, base_sequence=batch.base_sequence,
                                     transactional=self.transactional_id is not None)


    async def _produce(self, node: int, batches: list[_Batch]) -> None:
        by_topic: dict[str, list[PartitionProduceData]] = {}
        for batch in batches:
            by_topic.setdefault(batch.tp.topic, []).append(PartitionProduceData(batch.tp.partition, batch.encoded))
        request = ProduceRequest(self.transactional_id, self.acks, int(self.request_timeout_s * 1000),
                                 [TopicProduceData(t, parts) for t, parts in by_topic.items()])
        try:
            connection = await self.cluster.connection(node)
            if self.acks == 0:
                connection.send_without_response(request)
                for batch in batches:
                    self._finish(batch, None, base_offset=-1)
                return
            await connection.wait_writable()
            response = await connection.request(request, timeout=self.request_timeout_s + 5)
        except KafkaError as exc:
            for batch in batches:
                self._failed(batch, exc)
            return
        finally:
            self._in_flight_per_node[node] -= 1
            for batch in batches:
                in_flight = self._in_flight_batches.get(batch.tp)
                if in_flight is not None and batch in in_flight:
                    in_flight.remove(batch)
            if self._wake is not None:
                self._wake.set()
        by_tp = {b.tp: b for b in batches}
        for topic in response.responses:
            for part in topic.partition_responses:
                key = TopicPartition(topic.name, part.index)
                answered = by_tp.get(key)
                if answered is None:
                    continue
                del by_tp[key]
                if part.error_code == 0:
                    self._finish(answered, None, base_offset=part.base_offset, append_time=part.log_append_time_ms)
                elif part.error_code == ErrorCode.DUPLICATE_SEQUENCE_NUMBER.code:
                    self._finish(answered, None, base_offset=-1)  # written before; where is no longer known
                else:
                    self._failed(answered, KafkaError.from_code(part.error_code, str(key), part.error_message))
        for batch in by_tp.values():
            self._failed(batch, KafkaError(f"{batch.tp}: missing from the produce response", retriable=True))

    def _failed(self, batch: _Batch, error: KafkaError) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        retriable = error.retriable or (error.code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
                                        and self._earlier_batch_pending(batch))
        if not retriable or now >= batch.deadline or self._closing:
            self._finish(batch, error)
            return
        if error.code in STALE_METADATA or error.code is None:
            self._refresh_metadata()
        batch.attempts += 1
        batch.retry_at = now + min(self.retry_backoff_s * 2 ** (batch.attempts - 1), 1.0)
        queue = self._queues.setdefault(batch.tp, deque())
        if self.idempotent:
            # Back in sequence order, so the partition's batches reach the log in order.
            sequences = [b.base_sequence if b.encoded is not None else _SEQUENCE_LIMIT for b in queue]
            queue.insert(bisect.bisect_left(sequences, batch.base_sequence), batch)
        else:
            queue.appendleft(batch)
        log.debug("retrying %s (attempt %d): %s", batch.tp, batch.attempts, error)
        self._wake_at(batch.retry_at)

    def _earlier_batch_pending(self, batch: _Batch) -> bool:
        earlier = [b for b in self._queues.get(batch.tp, ()) if b.encoded is not None]
        earlier += self._in_flight_batches.get(batch.tp, [])
        return any(0 <= b.base_sequence < batch.base_sequence for b in earlier)

    def _finish(self, batch: _Batch, error: KafkaError | None, *, base_offset: int = -1,
                append_time: int = -1) -> None:
        self._buffered -= batch.size
        if self._space is not None and self._buffered < self.buffer_memory:
            self._space.set()
        if batch.done is not None and not batch.done.done():
            batch.done.set_result(None)
        if error is not None and self.in_transaction:
            self._txn_error = error
        topic, partition = batch.tp
        for i, (future, record) in enumerate(zip(batch.futures, batch.records, strict=True)):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                offset = base_offset + i if base_offset >= 0 else -1
                timestamp = append_time if append_time >= 0 else (record.timestamp or -1)
                future.set_result(RecordMetadata(topic, partition, offset, timestamp))

    # ---- transactions ----------------------------------------------------------------------------
    def begin(self) -> None:
        """Start a transaction: what is sent from now on is committed or aborted together."""
        if self.transactional_id is None:
            raise KafkaError("only a producer with a transactional id has transactions")
        if self.in_transaction:
            raise KafkaError("a transaction is already under way")
        self.in_transaction = True
        self._txn_partitions = set()
        self._txn_offsets = False
        self._txn_error = None

    async def commit(self) -> None:
        """Send what is buffered, then commit the transaction. Raises (and the transaction can
        then only be aborted) if a record of it could not be written."""
        self._check_in_transaction()
        await self.flush()
        if self._txn_error is not None:
            raise KafkaError(f"the transaction cannot commit: a record of it failed ({self._txn_error}); abort it",
                             self._txn_error.code)
        await self._end(commit=True)

    async def abort(self) -> None:
        """Abort the transaction: nothing of it becomes visible to read_committed consumers."""
        self._check_in_transaction()
        await self.flush()  # every batch settled first, so none lands after the abort marker
        await self._end(commit=False)

    async def send_offsets_to_transaction(self, offsets: Mapping[TopicPartition, int], group_id: str, *,
                                          generation_id: int = -1, member_id: str = "",
                                          group_instance_id: str | None = None) -> None:
        """Commit a consumer group's offsets as part of the transaction: they take effect only
        if it commits (a consume-transform-produce loop's exactly-once step)."""
        self._check_in_transaction()
        txid = self.transactional_id
        assert txid is not None
        await self.cluster.retry(lambda: self._to_coordinator(
            AddOffsetsToTxnRequest(txid, self.producer_id, self.producer_epoch, group_id), "AddOffsetsToTxn"),
            what="AddOffsetsToTxn")
        self._txn_offsets = True
        by_topic: dict[str, list[TxnOffsetCommitRequestPartition]] = {}
        for tp, offset in sorted(offsets.items()):
            by_topic.setdefault(tp.topic, []).append(TxnOffsetCommitRequestPartition(tp.partition, offset))
        request = TxnOffsetCommitRequest(txid, group_id, self.producer_id, self.producer_epoch, generation_id,
                                         member_id, group_instance_id,
                                         [TxnOffsetCommitRequestTopic(t, ps) for t, ps in by_topic.items()])

        async def commit_offsets() -> None:
            node = await self.cluster.coordinator(group_id)
            response = await self.cluster.send(node, request)
            for topic in response.topics:
                for part in topic.partitions:
                    if part.error_code:
                        error = KafkaError.from_code(part.error_code, f"committing {topic.name}-"
                                                     f"{part.partition_index} in the transaction")
                        if error.code in COORDINATOR_MOVED:
                            self.cluster.forget_coordinator(group_id)
                        raise error

        await self.cluster.retry(commit_offsets, what="TxnOffsetCommit")

    def _check_in_transaction(self) -> None:
        if not self.in_transaction:
            raise KafkaError("no transaction is under way")

    async def _add_partition(self, tp: TopicPartition) -> None:
        assert self._adding is not None and self.transactional_id is not None
        async with self._adding:
            if tp in self._txn_partitions:
                return
            request = AddPartitionsToTxnRequest(
                v3_and_below_transactional_id=self.transactional_id, v3_and_below_producer_id=self.producer_id,
                v3_and_below_producer_epoch=self.producer_epoch,
                v3_and_below_topics=[AddPartitionsToTxnTopic(tp.topic, [tp.partition])])

            async def add() -> None:
                response = await self._to_coordinator(request, "AddPartitionsToTxn", max_version=3)
                for topic in response.results_by_topic_v3_and_below:
                    for part in topic.results_by_partition:
                        if part.partition_error_code:
                            raise KafkaError.from_code(part.partition_error_code, f"adding {tp} to the transaction")

            await self.cluster.retry(add, what="AddPartitionsToTxn")
            self._txn_partitions.add(tp)

    async def _end(self, *, commit: bool) -> None:
        txid = self.transactional_id
        assert txid is not None
        if self._txn_partitions or self._txn_offsets:  # else the coordinator never heard of it
            # v4 at most: transaction version 1 (KIP-890's version 2, which v5 asks for, bumps the
            # epoch at every end and adds partitions implicitly; this producer adds them itself).
            await self.cluster.retry(lambda: self._to_coordinator(
                EndTxnRequest(txid, self.producer_id, self.producer_epoch, commit), "EndTxn", max_version=4),
                what="EndTxn")
        self.in_transaction = False
        self._txn_partitions = set()
        self._txn_offsets = False
        self._txn_error = None

    async def _to_coordinator(self, request: Any, what: str, max_version: int | None = None) -> Any:
        """Send to the transaction coordinator; its error raised (a moved coordinator looked up
        again on the retry)."""
        assert self.transactional_id is not None
        node = await self.cluster.coordinator(self.transactional_id, TRANSACTION)
        version = None
        if max_version is not None:
            connection = await self.cluster.connection(node)
            version = min(max_version, connection.versions.get(API_BY_REQUEST_TYPE[type(request)].key, -1))
        response = await self.cluster.send(node, request, version=version)
        code = getattr(response, "error_code", 0)
        if code:
            error = KafkaError.from_code(code, f"{what} for transactional id {self.transactional_id!r}")
            if error.code in COORDINATOR_MOVED:
                self.cluster.forget_coordinator(self.transactional_id, TRANSACTION)
            raise error
        return response

    def _fail_everything(self, error: KafkaError) -> None:
        for queue in self._queues.values():
            while queue:
                self._finish(queue.popleft(), error)
        for batches in self._in_flight_batches.values():
            for batch in batches:
                self._finish(batch, error)
        self._open.clear()
