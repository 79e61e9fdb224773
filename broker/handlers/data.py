"""Produce, Fetch, ListOffsets and OffsetForLeaderEpoch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.fetch import (
    AbortedTransaction,
    FetchableTopicResponse,
    FetchRequest,
    FetchResponse,
    PartitionData,
)
from kctl.protocol.messages.list_offsets import (
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    ListOffsetsTopicResponse,
)
from kctl.protocol.messages.offset_for_leader_epoch import (
    EpochEndOffset,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
)
from kctl.protocol.messages.produce import (
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicProduceResponse,
)

from ..quotas import FETCH as FETCH_QUOTA
from ..storage.log import LEADER_EPOCH, AppendError, OffsetOutOfRange
from ..storage.manager import INTERNAL_TOPICS

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

log = logging.getLogger("broker.api")

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL = -1, -2, -3, -4
READ_COMMITTED = 1  # isolation_level of Fetch and ListOffsets


class CloseConnection(Exception):
    """Raised by a handler when the only correct reaction is to drop the connection."""


# ---- Produce ---------------------------------------------------------------------------------
def produce(
    broker: BrokerContext, header: RequestHeader, request: ProduceRequest, peer: Peer
) -> ProduceResponse | Awaitable[ProduceResponse] | None:
    acks = request.acks
    responses: list[TopicProduceResponse] = []
    durable_waits: list[asyncio.Future[None]] = []
    failed = False
    denied = broker.authorizer.denied_topics(peer, AclOperation.WRITE, (t.name for t in request.topic_data))
    transactional_id = request.transactional_id
    if transactional_id is not None and not broker.authorizer.permits(
            peer, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id):
        return ProduceResponse(responses=[TopicProduceResponse(t.name, [
            PartitionProduceResponse(index=p.index, error_code=ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code)
            for p in t.partition_data]) for t in request.topic_data])
    for topic in request.topic_data:
        results: list[PartitionProduceResponse] = []
        responses.append(TopicProduceResponse(topic.name, results))
        for part in topic.partition_data:
            result = PartitionProduceResponse(index=part.index)
            results.append(result)
            if topic.name in denied:
                result.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
                failed = True
                continue
            if acks not in (-1, 0, 1):
                result.error_code = ErrorCode.INVALID_REQUIRED_ACKS.code
                failed = True
                continue
            plog = broker.logs.partition(topic.name, part.index)
            if plog is None:
                result.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                failed = True
                continue
            if topic.name in INTERNAL_TOPICS:
                result.error_code = ErrorCode.INVALID_TOPIC_EXCEPTION.code
                result.error_message = f"{topic.name} is written by the broker only"
                failed = True
                continue
            if part.records is None:
                result.error_code = ErrorCode.INVALID_RECORD.code
                result.error_message = "produce request without records"
                failed = True
                continue
            try:
                appended = plog.append(part.records, in_transaction=None if transactional_id is None
                                       else broker.transactions.produce_check(topic.name, part.index))
            except AppendError as exc:
                result.error_code = exc.error.code
                result.error_message = exc.message
                result.log_start_offset = plog.log_start_offset
                failed = True
                log.debug("produce to %s-%d refused: %s", topic.name, part.index, exc.message)
                continue
            broker.produced(topic.name, len(part.records))
            result.base_offset = appended.base_offset
            result.log_append_time_ms = appended.log_append_time
            result.log_start_offset = plog.log_start_offset
            durable = broker.flusher.after_append(plog)
            if durable is not None and acks != 0:
                durable_waits.append(durable)
    if acks == 0:
        if failed:
            # The producer will never see an error response; closing makes it refresh metadata.
            raise CloseConnection("produce with acks=0 failed")
        return None
    response = ProduceResponse(responses=responses)
    if durable_waits:
        return _after(durable_waits, response)
    return response


async def _after(waits: list[asyncio.Future[None]], response: ProduceResponse) -> ProduceResponse:
    try:
        await asyncio.gather(*waits)
    except OSError:
        for topic in response.responses:
            for part in topic.partition_responses:
                if part.error_code == ErrorCode.NONE.code:
                    part.error_code = ErrorCode.KAFKA_STORAGE_ERROR.code
    return response


# ---- Fetch -----------------------------------------------------------------------------------
def fetch(
    broker: BrokerContext, header: RequestHeader, request: FetchRequest, peer: Peer
) -> FetchResponse | Awaitable[FetchResponse]:
    version = header.api_version
    if version >= 7:
        if request.session_id != 0:
            return FetchResponse(error_code=ErrorCode.FETCH_SESSION_ID_NOT_FOUND.code, session_id=0)
        if request.session_epoch not in (-1, 0):
            return FetchResponse(error_code=ErrorCode.INVALID_FETCH_SESSION_EPOCH.code, session_id=0)
    denied = broker.authorizer.denied_topics(peer, AclOperation.READ, (t.topic for t in request.topics))
    cap = broker.quotas.window_bytes(FETCH_QUOTA, peer.user, header.client_id or "")
    if cap is not None:  # as Kafka: no fetch larger than the consumer's quota allows in a window
        request.max_bytes = min(request.max_bytes, cap) if request.max_bytes > 0 else cap
        for topic in request.topics:
            for part in topic.partitions:
                part.partition_max_bytes = min(part.partition_max_bytes, cap)
    response, size, errors = _read_fetch(broker, request, denied)
    if size >= request.min_bytes or errors or request.max_wait_ms <= 0 or not request.topics:
        return response
    # Parked in the same step as the read that found too little: an append that lands before
    # the wait's first await still wakes it.
    waiter = FetchWait(broker, request)
    return _long_poll(broker, request, waiter, denied)


def _read_fetch(broker: BrokerContext, request: FetchRequest,
                denied: set[str]) -> tuple[FetchResponse, int, bool]:
    budget = request.max_bytes if request.max_bytes > 0 else 0x7FFFFFFF
    committed = request.isolation_level == READ_COMMITTED
    total = 0
    errors = False
    topics: list[FetchableTopicResponse] = []
    for topic in request.topics:
        parts: list[PartitionData] = []
        topics.append(FetchableTopicResponse(topic.topic, parts))
        for req in topic.partitions:
            plog = broker.logs.partition(topic.topic, req.partition)
            data = PartitionData(partition_index=req.partition, aborted_transactions=[])
            parts.append(data)
            if topic.topic in denied:
                data.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
                errors = True
                continue
            if plog is None:
                data.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                errors = True
                continue
            data.high_watermark = plog.log_end_offset
            data.last_stable_offset = stable = plog.last_stable_offset
            data.log_start_offset = plog.log_start_offset
            if req.current_leader_epoch > LEADER_EPOCH:
                data.error_code = ErrorCode.UNKNOWN_LEADER_EPOCH.code
                errors = True
                continue
            limit = min(req.partition_max_bytes, budget - total)
            if limit <= 0 and total > 0:
                data.records = b""
                continue
            try:
                records = plog.read_range(req.fetch_offset, max(limit, 1) if total == 0 else limit,
                                          stable if committed else None)
            except OffsetOutOfRange:
                data.error_code = ErrorCode.OFFSET_OUT_OF_RANGE.code
                errors = True
                continue
            if total > 0 and len(records) > limit:
                records = b""
            data.records = records  # type: ignore[assignment]  # a FileRange: sent by sendfile
            total += len(records)
            if committed and records:
                data.aborted_transactions = [
                    AbortedTransaction(a.producer_id, a.first_offset)
                    for a in plog.producers.aborted_between(req.fetch_offset, stable)]
    return FetchResponse(responses=topics, session_id=0), total, errors


class FetchWait:
    """A fetch waiting for data: it listens on every partition it asked for from the moment it
    is created until it is closed, so no append is ever missed, whether it lands before the
    wait's first await, between two reads, or on another partition of the same fetch.
    The deadline is fixed when it is created, from `max_wait_ms`."""

    def __init__(self, broker: BrokerContext, request: FetchRequest) -> None:
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + request.max_wait_ms / 1000
        self.logs = [plog for topic in request.topics for req in topic.partitions
                     if (plog := broker.logs.partition(topic.topic, req.partition)) is not None]
        self.woken: asyncio.Future[None] = self.loop.create_future()
        for plog in self.logs:
            plog.listeners.add(self.wake)

    def wake(self) -> None:
        if not self.woken.done():
            self.woken.set_result(None)

    async def wait(self) -> bool:
        """Until an append (True) or the deadline (False); then armed again for the next one."""
        remaining = self.deadline - self.loop.time()
        if remaining > 0 and not self.woken.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.woken), remaining)
        appended = self.woken.done()
        if appended:
            self.woken = self.loop.create_future()
        return appended

    def expired(self) -> bool:
        return self.loop.time() >= self.deadline

    def close(self) -> None:
        for plog in self.logs:
            plog.listeners.discard(self.wake)


async def _long_poll(broker: BrokerContext, request: FetchRequest, waiter: FetchWait,
                     denied: set[str]) -> FetchResponse:
    try:
        while True:
            if not await waiter.wait():
                return _read_fetch(broker, request, denied)[0]  # the deadline: whatever there is now
            response, size, errors = _read_fetch(broker, request, denied)
            if size >= request.min_bytes or errors or waiter.expired() or broker.stopping:
                return response
    finally:
        waiter.close()


# ---- ListOffsets -----------------------------------------------------------------------------
def list_offsets(
    broker: BrokerContext, header: RequestHeader, request: ListOffsetsRequest, peer: Peer
) -> ListOffsetsResponse:
    version = header.api_version
    topics: list[ListOffsetsTopicResponse] = []
    denied = broker.authorizer.denied_topics(peer, AclOperation.DESCRIBE, (t.name for t in request.topics))
    for topic in request.topics:
        parts: list[ListOffsetsPartitionResponse] = []
        topics.append(ListOffsetsTopicResponse(topic.name, parts))
        for req in topic.partitions:
            out = ListOffsetsPartitionResponse(partition_index=req.partition_index, timestamp=-1, offset=-1)
            parts.append(out)
            plog = broker.logs.partition(topic.name, req.partition_index)
            if topic.name in denied:
                out.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
                continue
            if plog is None:
                out.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                continue
            if req.current_leader_epoch > LEADER_EPOCH:
                out.error_code = ErrorCode.UNKNOWN_LEADER_EPOCH.code
                continue
            out.leader_epoch = LEADER_EPOCH
            ts = req.timestamp
            if ts == LATEST:
                end = plog.last_stable_offset if request.isolation_level == READ_COMMITTED else plog.log_end_offset
                found: tuple[int, int] | None = (end, -1)
            elif ts in (EARLIEST, EARLIEST_LOCAL):
                found = (plog.log_start_offset, -1)
            elif ts == MAX_TIMESTAMP:
                found = plog.max_timestamp()
            elif ts >= 0:
                found = plog.find_offset_by_timestamp(ts)
            else:
                out.error_code = ErrorCode.INVALID_REQUEST.code if version else ErrorCode.UNKNOWN_SERVER_ERROR.code
                continue
            if found is not None:
                out.offset, out.timestamp = found
            if version == 0:
                out.old_style_offsets = [] if found is None else [found[0]][: max(req.max_num_offsets, 0)]
    return ListOffsetsResponse(topics=topics)


# ---- OffsetForLeaderEpoch --------------------------------------------------------------------
def offset_for_leader_epoch(
    broker: BrokerContext, header: RequestHeader, request: OffsetForLeaderEpochRequest, peer: Peer
) -> OffsetForLeaderEpochResponse:
    topics: list[OffsetForLeaderTopicResult] = []
    denied = broker.authorizer.denied_topics(peer, AclOperation.DESCRIBE, (t.topic for t in request.topics))
    for topic in request.topics:
        parts: list[EpochEndOffset] = []
        topics.append(OffsetForLeaderTopicResult(topic.topic, parts))
        for req in topic.partitions:
            out = EpochEndOffset(partition=req.partition, leader_epoch=-1, end_offset=-1)
            parts.append(out)
            plog = broker.logs.partition(topic.topic, req.partition)
            if topic.topic in denied:
                out.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
            elif plog is None:
                out.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
            elif req.current_leader_epoch > LEADER_EPOCH:
                out.error_code = ErrorCode.UNKNOWN_LEADER_EPOCH.code
            elif req.leader_epoch <= LEADER_EPOCH:
                # Every batch carries epoch 0, the only epoch this single node has had.
                out.leader_epoch, out.end_offset = LEADER_EPOCH, plog.log_end_offset
    return OffsetForLeaderEpochResponse(topics=topics)
