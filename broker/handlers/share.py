"""Share group APIs (KIP-932): ShareGroupHeartbeat and ShareGroupDescribe (membership),
ShareFetch and ShareAcknowledge (records), and Describe/Alter/DeleteShareGroupOffsets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.alter_share_group_offsets import (
    AlterShareGroupOffsetsRequest,
    AlterShareGroupOffsetsResponse,
    AlterShareGroupOffsetsResponsePartition,
    AlterShareGroupOffsetsResponseTopic,
)
from kctl.protocol.messages.delete_share_group_offsets import (
    DeleteShareGroupOffsetsRequest,
    DeleteShareGroupOffsetsResponse,
    DeleteShareGroupOffsetsResponseTopic,
)
from kctl.protocol.messages.describe_share_group_offsets import (
    DescribeShareGroupOffsetsRequest,
    DescribeShareGroupOffsetsResponse,
    DescribeShareGroupOffsetsResponseGroup,
    DescribeShareGroupOffsetsResponsePartition,
    DescribeShareGroupOffsetsResponseTopic,
)
from kctl.protocol.messages.share_acknowledge import LeaderIdAndEpoch as AckLeader
from kctl.protocol.messages.share_acknowledge import NodeEndpoint as AckNodeEndpoint
from kctl.protocol.messages.share_acknowledge import PartitionData as AckPartitionData
from kctl.protocol.messages.share_acknowledge import (
    ShareAcknowledgeRequest,
    ShareAcknowledgeResponse,
    ShareAcknowledgeTopicResponse,
)
from kctl.protocol.messages.share_fetch import (
    AcquiredRecords,
    LeaderIdAndEpoch,
    NodeEndpoint,
    PartitionData,
    ShareFetchableTopicResponse,
    ShareFetchRequest,
    ShareFetchResponse,
)
from kctl.protocol.messages.share_group_describe import (
    Assignment,
    DescribedGroup,
    Member,
    ShareGroupDescribeRequest,
    ShareGroupDescribeResponse,
)
from kctl.protocol.messages.share_group_describe import TopicPartitions as DescribedTopicPartitions
from kctl.protocol.messages.share_group_heartbeat import Assignment as HeartbeatAssignment
from kctl.protocol.messages.share_group_heartbeat import (
    ShareGroupHeartbeatRequest,
    ShareGroupHeartbeatResponse,
    TopicPartitions,
)

from ..groups.share_group import ShareGroup, ShareHeartbeat
from ..share.coordinator import Delivery
from ..share.sessions import FINAL_EPOCH, SessionError
from ..storage.log import LEADER_EPOCH

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

RECORD_LIMIT = 1  # ShareAcquireMode: at most MaxRecords records, not whole batches


def _may(broker: BrokerContext, peer: Peer, operation: AclOperation, group: str) -> bool:
    return broker.authorizer.permits(peer, operation, ResourceType.GROUP, group)


def _topic_names(broker: BrokerContext) -> dict[UUID, str]:
    return {t.topic_id: name for name, t in broker.logs.topics.items()}


# ---- ShareGroupHeartbeat, ShareGroupDescribe --------------------------------------------------------
def share_group_heartbeat(
    broker: BrokerContext, header: RequestHeader, request: ShareGroupHeartbeatRequest, peer: Peer
) -> ShareGroupHeartbeatResponse:
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return ShareGroupHeartbeatResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code,
                                           error_message="Authorization failed.")
    names = request.subscribed_topic_names
    if names is not None and broker.authorizer.enabled:
        denied = broker.authorizer.denied_topics(peer, AclOperation.DESCRIBE, names)
        if denied:
            return ShareGroupHeartbeatResponse(error_code=ErrorCode.TOPIC_AUTHORIZATION_FAILED.code,
                                               error_message=f"Not authorized to describe topics {sorted(denied)}.")
    result = broker.groups.share_heartbeat(ShareHeartbeat(
        request.group_id, request.member_id, request.member_epoch, request.rack_id, names,
        header.client_id or "", f"/{peer.host}"))
    return ShareGroupHeartbeatResponse(
        error_code=result.error, error_message=result.message, member_id=result.member_id,
        member_epoch=result.member_epoch, heartbeat_interval_ms=result.heartbeat_interval_ms,
        assignment=None if result.assignment is None else HeartbeatAssignment(
            [TopicPartitions(t, ps) for t, ps in result.assignment.items()]),
    )


def share_group_describe(
    broker: BrokerContext, header: RequestHeader, request: ShareGroupDescribeRequest, peer: Peer
) -> ShareGroupDescribeResponse:
    described: list[DescribedGroup] = []
    for group_id in request.group_ids:
        if not _may(broker, peer, AclOperation.DESCRIBE, group_id):
            described.append(DescribedGroup(ErrorCode.GROUP_AUTHORIZATION_FAILED.code, "Authorization failed.",
                                            group_id))
            continue
        group = broker.groups.groups.get(group_id)
        if group is None or group.state.value == "Dead":
            described.append(DescribedGroup(ErrorCode.GROUP_ID_NOT_FOUND.code, f"Group {group_id} not found.",
                                            group_id))
            continue
        if not isinstance(group, ShareGroup):
            described.append(DescribedGroup(ErrorCode.GROUP_ID_NOT_FOUND.code,
                                            f"Group {group_id} is not a share group.", group_id))
            continue
        names = group.topic_names()
        described.append(DescribedGroup(
            ErrorCode.NONE.code, None, group_id, group.state.value, group.group_epoch, group.assignment_epoch, "simple",
            [Member(m.member_id, m.rack_id, m.epoch, m.client_id, m.client_host, list(m.subscribed_names),
                    Assignment([DescribedTopicPartitions(t, names.get(t, ""), sorted(ps))
                                for t, ps in sorted(m.assigned.items())]))
             for m in group.members.values()],
        ))
    return ShareGroupDescribeResponse(groups=described)


# ---- ShareFetch, ShareAcknowledge ------------------------------------------------------------------
def _acks(topics: Any) -> dict[tuple[UUID, int], list[tuple[int, int, list[int]]]]:
    return {(t.topic_id, p.partition_index): [(b.first_offset, b.last_offset, list(b.acknowledge_types))
                                              for b in p.acknowledgement_batches]
            for t in topics for p in t.partitions if p.acknowledgement_batches}


def _check_member(broker: BrokerContext, peer: Peer, group_id: str | None, member_id: str | None
                  ) -> tuple[int, str] | None:
    if not group_id or not member_id:
        return ErrorCode.INVALID_REQUEST.code, "GroupId and MemberId must be set."
    if not _may(broker, peer, AclOperation.READ, group_id):
        return ErrorCode.GROUP_AUTHORIZATION_FAILED.code, "Authorization failed."
    if not broker.groups.share.is_member(group_id, member_id):
        return ErrorCode.UNKNOWN_MEMBER_ID.code, f"Member {member_id} is not a member of share group {group_id}."
    return None


def share_fetch(
    broker: BrokerContext, header: RequestHeader, request: ShareFetchRequest, peer: Peer
) -> ShareFetchResponse | Awaitable[ShareFetchResponse]:
    group_id, member_id = request.group_id, request.member_id
    lock_ms = broker.groups.share_partitions.lock_duration_ms(group_id or "")
    wrong = _check_member(broker, peer, group_id, member_id)
    if wrong is not None:
        return ShareFetchResponse(error_code=wrong[0], error_message=wrong[1], acquisition_lock_timeout_ms=lock_ms)
    assert group_id is not None and member_id is not None
    wanted = [(t.topic_id, p.partition_index) for t in request.topics for p in t.partitions]
    forgotten = [(t.topic_id, p) for t in request.forgotten_topics_data for p in t.partitions]
    names = _topic_names(broker)
    denied = broker.authorizer.denied_topics(peer, AclOperation.READ, {names[t] for t, _ in wanted if t in names})
    sessions = broker.groups.share_sessions
    shares = broker.groups.share_partitions
    try:
        session, replaced = sessions.fetch(group_id, member_id, request.share_session_epoch, wanted, forgotten)
    except SessionError as exc:
        return ShareFetchResponse(error_code=exc.code, error_message=exc.message, acquisition_lock_timeout_ms=lock_ms)
    if replaced is not None:
        shares.release(group_id, member_id, replaced.partitions)
    ack_errors, written = shares.acknowledge(group_id, member_id, _acks(request.topics)) if request.topics \
        else ({}, None)
    if forgotten:
        shares.release(group_id, member_id, forgotten)
    if request.share_session_epoch == FINAL_EPOCH:
        shares.release(group_id, member_id, session.partitions)
        done = _fetch_response(broker, peer, {}, ack_errors, denied, names, lock_ms)
        return done if written is None else _then(written, done)
    readable = [k for k in sorted(session.partitions, key=lambda k: (str(k[0]), k[1]))
                if names.get(k[0]) not in denied]
    strict = header.api_version >= 2 and request.share_acquire_mode == RECORD_LIMIT

    def deliver() -> dict[tuple[UUID, int], Delivery]:
        return shares.fetch(group_id, member_id, readable, max_records=request.max_records or 500,
                            max_bytes=request.max_bytes, strict=strict)

    delivered = deliver()
    if any(d.acquired for d in delivered.values()) or request.max_wait_ms <= 0 or broker.stopping:
        response = _fetch_response(broker, peer, delivered, ack_errors, denied, names, lock_ms)
        return response if written is None else _then(written, response)  # acknowledgements written first
    waiting = _wait_for_records(broker, peer, request, readable, deliver, ack_errors, denied, names, lock_ms)
    return waiting if written is None else _after_both(written, waiting)


async def _after_both(written: asyncio.Future[None], waiting: Awaitable[ShareFetchResponse]) -> ShareFetchResponse:
    await written
    return await waiting


async def _wait_for_records(broker: BrokerContext, peer: Peer, request: ShareFetchRequest,
                            readable: list[tuple[UUID, int]], deliver: Any, ack_errors: dict[Any, Any],
                            denied: set[str], names: dict[UUID, str], lock_ms: int) -> ShareFetchResponse:
    """Nothing to hand out yet: wait for an append to one of the partitions (or a lock running
    out elsewhere) until max_wait_ms, as a Fetch does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.max_wait_ms / 1000
    woken: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not woken.done():
            woken.set_result(None)

    plogs = [plog for t, p in readable if t in names and (plog := broker.logs.partition(names[t], p)) is not None]
    for plog in plogs:
        plog.listeners.add(wake)
    try:
        while True:
            remaining = min(deadline - loop.time(), 0.5)  # released records do not append: look again often
            if remaining <= 0 or broker.stopping:
                return _fetch_response(broker, peer, deliver(), ack_errors, denied, names, lock_ms)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(woken), remaining)
            if woken.done():
                woken = loop.create_future()
            delivered = deliver()
            if any(d.acquired for d in delivered.values()):
                return _fetch_response(broker, peer, delivered, ack_errors, denied, names, lock_ms)
    finally:
        for plog in plogs:
            plog.listeners.discard(wake)


def _fetch_response(broker: BrokerContext, peer: Peer, delivered: dict[tuple[UUID, int], Delivery],
                    ack_errors: dict[tuple[UUID, int], tuple[int, str | None]], denied: set[str],
                    names: dict[UUID, str], lock_ms: int) -> ShareFetchResponse:
    by_topic: dict[UUID, list[PartitionData]] = {}
    for key in sorted(set(delivered) | set(ack_errors), key=lambda k: (str(k[0]), k[1])):
        topic_id, index = key
        d = delivered.get(key)
        ack_code, ack_message = ack_errors.get(key, (ErrorCode.NONE.code, None))
        error = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code if names.get(topic_id) in denied else \
            (d.error if d is not None else ErrorCode.NONE.code)
        by_topic.setdefault(topic_id, []).append(PartitionData(
            index, error, None, ack_code, ack_message, LeaderIdAndEpoch(broker.node_id, LEADER_EPOCH),
            d.records if d is not None else b"",
            [AcquiredRecords(a.first_offset, a.last_offset, a.delivery_count) for a in d.acquired] if d else [],
        ))
    host, port = broker.advertised_for(peer.listener)
    return ShareFetchResponse(
        acquisition_lock_timeout_ms=lock_ms,
        responses=[ShareFetchableTopicResponse(t, ps) for t, ps in by_topic.items()],
        node_endpoints=[NodeEndpoint(broker.node_id, host, port, None)],
    )


def share_acknowledge(
    broker: BrokerContext, header: RequestHeader, request: ShareAcknowledgeRequest, peer: Peer
) -> ShareAcknowledgeResponse | Awaitable[ShareAcknowledgeResponse]:
    group_id, member_id = request.group_id, request.member_id
    lock_ms = broker.groups.share_partitions.lock_duration_ms(group_id or "")
    wrong = _check_member(broker, peer, group_id, member_id)
    if wrong is not None:
        return ShareAcknowledgeResponse(error_code=wrong[0], error_message=wrong[1],
                                        acquisition_lock_timeout_ms=lock_ms)
    assert group_id is not None and member_id is not None
    shares = broker.groups.share_partitions
    try:
        session = broker.groups.share_sessions.acknowledge(group_id, member_id, request.share_session_epoch)
    except SessionError as exc:
        return ShareAcknowledgeResponse(error_code=exc.code, error_message=exc.message,
                                        acquisition_lock_timeout_ms=lock_ms)
    errors, wait = shares.acknowledge(group_id, member_id, _acks(request.topics))
    if request.share_session_epoch == FINAL_EPOCH:
        shares.release(group_id, member_id, session.partitions)
    by_topic: dict[UUID, list[AckPartitionData]] = {}
    for (topic_id, index), (code, message) in errors.items():
        by_topic.setdefault(topic_id, []).append(
            AckPartitionData(index, code, message, AckLeader(broker.node_id, LEADER_EPOCH)))
    host, port = broker.advertised_for(peer.listener)
    response = ShareAcknowledgeResponse(
        acquisition_lock_timeout_ms=lock_ms,
        responses=[ShareAcknowledgeTopicResponse(t, ps) for t, ps in by_topic.items()],
        node_endpoints=[AckNodeEndpoint(broker.node_id, host, port, None)],
    )
    return response if wait is None else _after_write(wait, response)


async def _after_write(wait: asyncio.Future[None], response: ShareAcknowledgeResponse) -> ShareAcknowledgeResponse:
    try:
        await wait
    except OSError:
        for topic in response.responses:
            for part in topic.partitions:
                if part.error_code == ErrorCode.NONE.code:
                    part.error_code = ErrorCode.COORDINATOR_NOT_AVAILABLE.code
    return response


# ---- Describe, Alter and DeleteShareGroupOffsets -----------------------------------------------------
def describe_share_group_offsets(
    broker: BrokerContext, header: RequestHeader, request: DescribeShareGroupOffsetsRequest, peer: Peer
) -> DescribeShareGroupOffsetsResponse:
    names = _topic_names(broker)
    ids = {name: t.topic_id for name, t in broker.logs.topics.items()}
    out: list[DescribeShareGroupOffsetsResponseGroup] = []
    for wanted in request.groups:
        if not _may(broker, peer, AclOperation.DESCRIBE, wanted.group_id):
            out.append(DescribeShareGroupOffsetsResponseGroup(wanted.group_id, [],
                                                              ErrorCode.GROUP_AUTHORIZATION_FAILED.code,
                                                              "Authorization failed."))
            continue
        group = broker.groups.groups.get(wanted.group_id)
        if group is not None and not isinstance(group, ShareGroup):
            out.append(DescribeShareGroupOffsetsResponseGroup(wanted.group_id, [], ErrorCode.GROUP_ID_NOT_FOUND.code,
                                                              f"Group {wanted.group_id} is not a share group."))
            continue
        held = broker.groups.share_partitions.group_partitions(wanted.group_id)
        if wanted.topics is None:
            asked = sorted((names[t], p) for t, p in held if t in names)
        else:
            asked = [(t.topic_name, p) for t in wanted.topics for p in t.partitions]
        topics: dict[str, list[DescribeShareGroupOffsetsResponsePartition]] = {}
        for name, index in asked:
            topic_id = ids.get(name)
            partition = held.get((topic_id, index)) if topic_id is not None else None
            plog = broker.logs.partition(name, index) if topic_id is not None else None
            if topic_id is None or plog is None:
                topics.setdefault(name, []).append(DescribeShareGroupOffsetsResponsePartition(
                    index, -1, -1, -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, "This partition does not exist."))
            elif partition is None:
                topics.setdefault(name, []).append(DescribeShareGroupOffsetsResponsePartition(index, -1, -1, -1))
            else:
                lag = partition.lag(plog.log_end_offset) if header.api_version >= 1 else -1
                topics.setdefault(name, []).append(DescribeShareGroupOffsetsResponsePartition(
                    index, partition.start_offset, LEADER_EPOCH, lag))
        out.append(DescribeShareGroupOffsetsResponseGroup(
            wanted.group_id, [DescribeShareGroupOffsetsResponseTopic(n, ids.get(n) or _zero(), ps)
                              for n, ps in topics.items()]))
    return DescribeShareGroupOffsetsResponse(groups=out)


def _zero() -> UUID:
    return UUID(int=0)


def _not_empty(broker: BrokerContext, group_id: str) -> tuple[int, str] | None:
    group = broker.groups.groups.get(group_id)
    if group is None:
        return ErrorCode.GROUP_ID_NOT_FOUND.code, f"Group {group_id} not found."
    if not isinstance(group, ShareGroup):
        return ErrorCode.GROUP_ID_NOT_FOUND.code, f"Group {group_id} is not a share group."
    if group.members:
        return ErrorCode.NON_EMPTY_GROUP.code, f"Share group '{group_id}' is not empty."
    return None


def alter_share_group_offsets(
    broker: BrokerContext, header: RequestHeader, request: AlterShareGroupOffsetsRequest, peer: Peer
) -> AlterShareGroupOffsetsResponse | Awaitable[AlterShareGroupOffsetsResponse]:
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return AlterShareGroupOffsetsResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code,
                                              error_message="Authorization failed.")
    busy = _not_empty(broker, request.group_id)
    if busy is not None:
        return AlterShareGroupOffsetsResponse(error_code=busy[0], error_message=busy[1])
    changes: dict[tuple[UUID, int], int] = {}
    responses: list[AlterShareGroupOffsetsResponseTopic] = []
    for topic in request.topics:
        found = broker.logs.topics.get(topic.topic_name)
        parts = []
        for p in topic.partitions:
            if found is None or p.partition_index >= len(found.partitions):
                parts.append(AlterShareGroupOffsetsResponsePartition(
                    p.partition_index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, "This partition does not exist."))
                continue
            plog = found.partitions[p.partition_index]
            if not plog.log_start_offset <= p.start_offset <= plog.log_end_offset:
                parts.append(AlterShareGroupOffsetsResponsePartition(
                    p.partition_index, ErrorCode.INVALID_REQUEST.code,
                    f"start offset {p.start_offset} is outside the log ({plog.log_start_offset}-"
                    f"{plog.log_end_offset})"))
                continue
            changes[(found.topic_id, p.partition_index)] = p.start_offset
            parts.append(AlterShareGroupOffsetsResponsePartition(p.partition_index))
        responses.append(AlterShareGroupOffsetsResponseTopic(topic.topic_name,
                                                             found.topic_id if found else _zero(), parts))
    response = AlterShareGroupOffsetsResponse(responses=responses)
    try:
        wait = broker.groups.share_partitions.alter(request.group_id, changes)
    except OSError as exc:
        return AlterShareGroupOffsetsResponse(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE.code,
                                              error_message=f"the share state could not be written: {exc}")
    return response if wait is None else _then(wait, response)


async def _then(wait: asyncio.Future[None], response: Any) -> Any:
    await wait
    return response


def delete_share_group_offsets(
    broker: BrokerContext, header: RequestHeader, request: DeleteShareGroupOffsetsRequest, peer: Peer
) -> DeleteShareGroupOffsetsResponse | Awaitable[DeleteShareGroupOffsetsResponse]:
    if not _may(broker, peer, AclOperation.DELETE, request.group_id):
        return DeleteShareGroupOffsetsResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code,
                                               error_message="Authorization failed.")
    busy = _not_empty(broker, request.group_id)
    if busy is not None:
        return DeleteShareGroupOffsetsResponse(error_code=busy[0], error_message=busy[1])
    ids: set[UUID] = set()
    responses = []
    for topic in request.topics:
        found = broker.logs.topics.get(topic.topic_name)
        if found is None:
            responses.append(DeleteShareGroupOffsetsResponseTopic(
                topic.topic_name, _zero(), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, "This topic does not exist."))
            continue
        ids.add(found.topic_id)
        responses.append(DeleteShareGroupOffsetsResponseTopic(topic.topic_name, found.topic_id))
    response = DeleteShareGroupOffsetsResponse(responses=responses)
    try:
        wait = broker.groups.share_partitions.forget(request.group_id, ids)
    except OSError as exc:
        return DeleteShareGroupOffsetsResponse(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE.code,
                                               error_message=f"the share state could not be written: {exc}")
    return response if wait is None else _then(wait, response)
