"""Group APIs: requests of every version in, coordinator calls, responses of the same version out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.api import encode_response, encoded_compact_array
from kctl.protocol.errors import ErrorCode
from kctl.protocol.framing import EncodedBody
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.consumer_group_describe import Assignment as DescribedAssignment
from kctl.protocol.messages.consumer_group_describe import (
    ConsumerGroupDescribeRequest,
    ConsumerGroupDescribeResponse,
)
from kctl.protocol.messages.consumer_group_describe import DescribedGroup as DescribedConsumerGroup
from kctl.protocol.messages.consumer_group_describe import Member as DescribedConsumerMember
from kctl.protocol.messages.consumer_group_describe import TopicPartitions as DescribedTopicPartitions
from kctl.protocol.messages.consumer_group_heartbeat import (
    Assignment,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
    TopicPartitions,
)
from kctl.protocol.messages.delete_groups import DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse
from kctl.protocol.messages.describe_groups import (
    DescribedGroup,
    DescribedGroupMember,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
)
from kctl.protocol.messages.find_coordinator import Coordinator, FindCoordinatorRequest, FindCoordinatorResponse
from kctl.protocol.messages.heartbeat import HeartbeatRequest, HeartbeatResponse
from kctl.protocol.messages.join_group import JoinGroupRequest, JoinGroupResponse, JoinGroupResponseMember
from kctl.protocol.messages.leave_group import LeaveGroupRequest, LeaveGroupResponse, MemberResponse
from kctl.protocol.messages.list_groups import ListedGroup, ListGroupsRequest, ListGroupsResponse
from kctl.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)
from kctl.protocol.messages.offset_delete import (
    OffsetDeleteRequest,
    OffsetDeleteResponse,
    OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
)
from kctl.protocol.messages.offset_fetch import (
    OffsetFetchRequest,
    OffsetFetchResponse,
    OffsetFetchResponseGroup,
    OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
)
from kctl.protocol.messages.sync_group import SyncGroupRequest, SyncGroupResponse

from ..groups.consumer_group import ConsumerGroup
from ..groups.consumer_membership import HeartbeatRequest as ConsumerHeartbeat
from ..groups.coordinator import OffsetToCommit
from ..groups.group import JoinResult, SyncResult
from ..groups.membership import JoinRequest
from ..groups.offsets_topic import CommittedOffset
from ..groups.state import GroupState

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

KEY_TYPE_GROUP = 0
KEY_TYPE_TRANSACTION = 1
KEY_TYPE_SHARE = 2


# ---- FindCoordinator -------------------------------------------------------------------------


def _may(broker: BrokerContext, peer: Peer, operation: AclOperation, group: str) -> bool:
    return broker.authorizer.permits(peer, operation, ResourceType.GROUP, group)


def find_coordinator(
    broker: BrokerContext, header: RequestHeader, request: FindCoordinatorRequest, peer: Peer
) -> FindCoordinatorResponse:
    keys = request.coordinator_keys if header.api_version >= 4 else [request.key]
    found: list[Coordinator] = []
    for key in keys:
        coordinator = Coordinator(key=key, node_id=-1, host="", port=-1)
        if request.key_type not in (KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION, KEY_TYPE_SHARE):
            coordinator.error_code = ErrorCode.INVALID_REQUEST.code
            coordinator.error_message = f"unknown coordinator key type {request.key_type}"
        elif request.key_type == KEY_TYPE_TRANSACTION and not broker.authorizer.permits(
                peer, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key):
            coordinator.error_code = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code
            coordinator.error_message = "Authorization failed."
        elif request.key_type == KEY_TYPE_GROUP and not _may(broker, peer, AclOperation.DESCRIBE, key):
            coordinator.error_code = ErrorCode.GROUP_AUTHORIZATION_FAILED.code
            coordinator.error_message = "Authorization failed."
        else:
            # Creates __consumer_offsets or __transaction_state on first use, as Kafka does.
            if request.key_type == KEY_TYPE_GROUP:
                broker.groups.offsets_partition(key)
            elif request.key_type == KEY_TYPE_SHARE:
                pass  # share partitions' state: this broker keeps it (group:topic id:partition keys)
            else:
                broker.transactions.state_log(key)
            coordinator.node_id = broker.node_id
            coordinator.host, coordinator.port = broker.advertised_for(peer.listener)
            coordinator.error_message = None
        found.append(coordinator)
    if header.api_version >= 4:
        return FindCoordinatorResponse(coordinators=found)
    only = found[0]
    return FindCoordinatorResponse(
        error_code=only.error_code, error_message=only.error_message, node_id=only.node_id, host=only.host,
        port=only.port,
    )


# ---- JoinGroup, SyncGroup, Heartbeat, LeaveGroup -------------------------------------------------
def join_group(
    broker: BrokerContext, header: RequestHeader, request: JoinGroupRequest, peer: Peer
) -> JoinGroupResponse | Awaitable[JoinGroupResponse]:
    version = header.api_version
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return JoinGroupResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code, generation_id=-1,
                                 member_id=request.member_id)
    result = broker.groups.join(
        JoinRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            instance_id=request.group_instance_id,
            client_id=header.client_id or "",
            client_host=f"/{peer.host}",  # Kafka reports hosts the way Java prints an InetAddress
            session_timeout_ms=request.session_timeout_ms,
            rebalance_timeout_ms=request.rebalance_timeout_ms if version >= 1 else request.session_timeout_ms,
            protocol_type=request.protocol_type,
            protocols=[(p.name, p.metadata) for p in request.protocols],
            require_known_member_id=version >= 4,
            reason=request.reason,
        )
    )
    if isinstance(result, JoinResult):
        return _join_response(result, version)
    return _await_join(result, version)


async def _await_join(future: asyncio.Future[JoinResult], version: int) -> JoinGroupResponse:
    # Shielded: a client that disconnects must not cancel the coordinator's own future.
    return _join_response(await asyncio.shield(future), version)


def _join_response(result: JoinResult, version: int) -> JoinGroupResponse:
    return JoinGroupResponse(
        error_code=result.error,
        generation_id=result.generation,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name if version >= 7 else result.protocol_name or "",
        leader=result.leader,
        skip_assignment=result.skip_assignment and version >= 9,
        member_id=result.member_id,
        members=[JoinGroupResponseMember(member_id, instance_id, metadata)
                 for member_id, instance_id, metadata in result.members],
    )


def sync_group(
    broker: BrokerContext, header: RequestHeader, request: SyncGroupRequest, peer: Peer
) -> SyncGroupResponse | Awaitable[SyncGroupResponse]:
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return SyncGroupResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    result = broker.groups.sync(
        request.group_id,
        request.generation_id,
        request.member_id,
        request.group_instance_id,
        request.protocol_type,
        request.protocol_name,
        {a.member_id: a.assignment for a in request.assignments},
    )
    if isinstance(result, SyncResult):
        return _sync_response(result)
    return _await_sync(result)


async def _await_sync(future: asyncio.Future[SyncResult]) -> SyncGroupResponse:
    return _sync_response(await asyncio.shield(future))


def _sync_response(result: SyncResult) -> SyncGroupResponse:
    return SyncGroupResponse(error_code=result.error, protocol_type=result.protocol_type,
                             protocol_name=result.protocol_name, assignment=result.assignment)


def heartbeat(broker: BrokerContext, header: RequestHeader, request: HeartbeatRequest,
              peer: Peer) -> HeartbeatResponse:
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return HeartbeatResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    code = broker.groups.heartbeat(request.group_id, request.generation_id, request.member_id,
                                   request.group_instance_id)
    return HeartbeatResponse(error_code=code)


def leave_group(
    broker: BrokerContext, header: RequestHeader, request: LeaveGroupRequest, peer: Peer
) -> LeaveGroupResponse:
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return LeaveGroupResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    if header.api_version < 3:
        _, errors = broker.groups.leave(request.group_id, [(request.member_id, None)])
        return LeaveGroupResponse(error_code=errors[0])
    leaving = [(m.member_id, m.group_instance_id) for m in request.members]
    code, errors = broker.groups.leave(request.group_id, leaving)
    return LeaveGroupResponse(
        error_code=code,
        members=[
            MemberResponse(member_id, instance_id, error)
            for (member_id, instance_id), error in zip(leaving, errors, strict=True)
        ],
    )


# ---- OffsetCommit, OffsetFetch, OffsetDelete -------------------------------------------------------
def offset_commit(
    broker: BrokerContext, header: RequestHeader, request: OffsetCommitRequest, peer: Peer
) -> OffsetCommitResponse | Awaitable[OffsetCommitResponse]:
    version = header.api_version
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return OffsetCommitResponse(topics=[
            OffsetCommitResponseTopic(t.name, [OffsetCommitResponsePartition(p.partition_index,
                                                                             ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
                                               for p in t.partitions]) for t in request.topics])
    denied = broker.authorizer.denied_topics(peer, AclOperation.READ, (t.name for t in request.topics))
    offsets = [
        OffsetToCommit(topic.name, p.partition_index, p.committed_offset, p.committed_leader_epoch,
                       p.committed_metadata, p.commit_timestamp if version == 1 else -1)
        for topic in request.topics if topic.name not in denied
        for p in topic.partitions
    ]
    errors, wait = broker.groups.commit(
        request.group_id,
        request.generation_id_or_member_epoch,
        request.member_id,
        request.group_instance_id,
        request.retention_time_ms if 2 <= version <= 4 else -1,
        offsets,
        api_version=version,
    )
    codes = iter(errors)
    response = OffsetCommitResponse(topics=[
        OffsetCommitResponseTopic(topic.name, [
            OffsetCommitResponsePartition(p.partition_index, ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
                                          if topic.name in denied else next(codes))
            for p in topic.partitions
        ])
        for topic in request.topics
    ])
    if wait is None:
        return response
    return _after_flush(wait, response)


async def _after_flush(wait: asyncio.Future[None], response: OffsetCommitResponse) -> OffsetCommitResponse:
    try:
        await wait
    except OSError:
        for topic in response.topics:
            for part in topic.partitions:
                if part.error_code == ErrorCode.NONE.code:
                    part.error_code = ErrorCode.COORDINATOR_NOT_AVAILABLE.code
    return response


def offset_fetch(
    broker: BrokerContext, header: RequestHeader, request: OffsetFetchRequest, peer: Peer
) -> OffsetFetchResponse | EncodedBody:
    groups = broker.groups
    if header.api_version >= 8:
        # The body is put together from each group's encoded part. A group asked for all its
        # offsets (as lag tools ask, for hundreds of groups at once) is answered from the part
        # kept since its offsets last changed: no objects, no encoding.
        version = header.api_version
        parts: list[bytes] = []
        checking = broker.authorizer.enabled
        for wanted in request.groups:
            if not wanted.group_id:
                parts.append(_group_part(version, OffsetFetchResponseGroup(wanted.group_id, [],
                                                                           ErrorCode.INVALID_GROUP_ID.code)))
                continue
            if version >= 9 and (code := groups.check_fetch(wanted.group_id, wanted.member_id,
                                                             wanted.member_epoch)) != ErrorCode.NONE.code:
                parts.append(_group_part(version, OffsetFetchResponseGroup(wanted.group_id, [], code)))
                continue
            unstable = groups.unstable(wanted.group_id) if request.require_stable else set()
            if checking or unstable:
                if checking:
                    group = _checked_group(broker, peer, wanted)
                else:
                    partitions = (None if wanted.topics is None
                                  else [(t.name, p) for t in wanted.topics for p in t.partition_indexes])
                    group = _group_offsets(wanted.group_id, groups.committed(wanted.group_id, partitions))
                _mark_unstable(((t.name, p) for t in group.topics for p in t.partitions), unstable)
                parts.append(_group_part(version, group))
                continue
            kept = groups.encoded_answers(wanted.group_id) if wanted.topics is None else None
            part = kept.get(version) if kept is not None else None
            if part is None:
                partitions = (None if wanted.topics is None
                              else [(t.name, p) for t in wanted.topics for p in t.partition_indexes])
                part = _group_part(version, _group_offsets(wanted.group_id,
                                                           groups.committed(wanted.group_id, partitions)))
                if kept is not None:
                    kept[version] = part
            parts.append(part)
        return EncodedBody(_THROTTLE_NONE + encoded_compact_array(parts) + b"\x00")  # no tagged fields
    if not request.group_id:
        return OffsetFetchResponse(error_code=ErrorCode.INVALID_GROUP_ID.code)
    if not _may(broker, peer, AclOperation.DESCRIBE, request.group_id):
        return OffsetFetchResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    describable = _describable(broker, peer)
    # v0-1 always name their partitions; from v2 a null topic list means "everything committed".
    partitions = None if request.topics is None else [(t.name, p) for t in request.topics for p in t.partition_indexes]
    topics: dict[str, list[OffsetFetchResponsePartition]] = {}
    for topic, partition, committed in groups.committed(request.group_id, partitions):
        if not describable(topic):
            if partitions is not None:  # named: said; all asked for: left out, as Kafka does
                topics.setdefault(topic, []).append(OffsetFetchResponsePartition(partition, -1, -1, "",
                                                                                 ErrorCode.TOPIC_AUTHORIZATION_FAILED.code))
            continue
        topics.setdefault(topic, []).append(
            OffsetFetchResponsePartition(partition, -1, -1, "", ErrorCode.NONE.code) if committed is None
            else OffsetFetchResponsePartition(partition, committed.offset, committed.leader_epoch, committed.metadata,
                                              ErrorCode.NONE.code)
        )
    if request.require_stable:
        _mark_unstable(((name, p) for name, ps in topics.items() for p in ps), groups.unstable(request.group_id))
    return OffsetFetchResponse(topics=[OffsetFetchResponseTopic(name, parts) for name, parts in topics.items()])


def _mark_unstable(partitions: Iterable[tuple[str, Any]], unstable: set[tuple[str, int]]) -> None:
    """KIP-447: with require_stable, a partition with an offset committed in a transaction not yet
    ended answers UNSTABLE_OFFSET_COMMIT (the consumer asks again), never the older offset."""
    if not unstable:
        return
    for topic, partition in partitions:
        if (topic, partition.partition_index) in unstable:
            partition.committed_offset = -1
            partition.error_code = ErrorCode.UNSTABLE_OFFSET_COMMIT.code


_THROTTLE_NONE = bytes(4)  # throttle_time_ms 0


def _describable(broker: BrokerContext, peer: Peer) -> Callable[[str], bool]:
    cache: dict[str, bool] = {}

    def check(topic: str) -> bool:
        if topic not in cache:
            cache[topic] = broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.TOPIC, topic)
        return cache[topic]

    return check


def _checked_group(broker: BrokerContext, peer: Peer, wanted: Any) -> OffsetFetchResponseGroup:
    """One group of an OffsetFetch v8+ with an authorizer: DESCRIBE on the group, and on each topic."""
    if not _may(broker, peer, AclOperation.DESCRIBE, wanted.group_id):
        return OffsetFetchResponseGroup(wanted.group_id, [], ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    partitions = None if wanted.topics is None else [(t.name, p) for t in wanted.topics for p in t.partition_indexes]
    describable = _describable(broker, peer)
    by_topic: dict[str, list[OffsetFetchResponsePartitions]] = {}
    for topic, partition, offset in broker.groups.committed(wanted.group_id, partitions):
        if not describable(topic):
            if partitions is not None:
                by_topic.setdefault(topic, []).append(OffsetFetchResponsePartitions(partition, -1, -1, "",
                                                                                    ErrorCode.TOPIC_AUTHORIZATION_FAILED.code))
            continue
        by_topic.setdefault(topic, []).append(
            OffsetFetchResponsePartitions(partition, -1, -1, "", ErrorCode.NONE.code) if offset is None
            else OffsetFetchResponsePartitions(partition, offset.offset, offset.leader_epoch, offset.metadata,
                                               ErrorCode.NONE.code))
    return OffsetFetchResponseGroup(wanted.group_id, [OffsetFetchResponseTopics(n, ps) for n, ps in by_topic.items()],
                                    ErrorCode.NONE.code)


def _group_offsets(group_id: str, committed: list[tuple[str, int, CommittedOffset | None]]
                   ) -> OffsetFetchResponseGroup:
    by_topic: dict[str, list[OffsetFetchResponsePartitions]] = {}
    for topic, partition, offset in committed:
        by_topic.setdefault(topic, []).append(
            OffsetFetchResponsePartitions(partition, -1, -1, "", ErrorCode.NONE.code) if offset is None
            else OffsetFetchResponsePartitions(partition, offset.offset, offset.leader_epoch, offset.metadata,
                                               ErrorCode.NONE.code)
        )
    return OffsetFetchResponseGroup(group_id, [OffsetFetchResponseTopics(n, ps) for n, ps in by_topic.items()],
                                    ErrorCode.NONE.code)


def _group_part(version: int, group: OffsetFetchResponseGroup) -> bytes:
    """One group's entry in an OffsetFetch v8+ body, by the codec: the body of a one-group
    response minus what surrounds the entry (throttle time, array length, tagged fields)."""
    body = encode_response(OffsetFetchResponse(groups=[group]), version)
    if body[:5] != b"\x00\x00\x00\x00\x02" or body[-1:] != b"\x00":  # the layout of v8-v9
        raise AssertionError(f"OffsetFetch v{version} is not laid out as throttle, groups, tags")
    return body[5:-1]


def offset_delete(
    broker: BrokerContext, header: RequestHeader, request: OffsetDeleteRequest, peer: Peer
) -> OffsetDeleteResponse:
    if not _may(broker, peer, AclOperation.DELETE, request.group_id):
        return OffsetDeleteResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    denied = broker.authorizer.denied_topics(peer, AclOperation.READ, (t.name for t in request.topics))
    partitions = [(t.name, p.partition_index) for t in request.topics for p in t.partitions if t.name not in denied]
    code, errors = broker.groups.delete_offsets(request.group_id, partitions)
    if code != ErrorCode.NONE.code:
        return OffsetDeleteResponse(error_code=code)
    codes = iter(errors)
    return OffsetDeleteResponse(topics=[
        OffsetDeleteResponseTopic(t.name, [OffsetDeleteResponsePartition(
            p.partition_index, ErrorCode.TOPIC_AUTHORIZATION_FAILED.code if t.name in denied else next(codes))
            for p in t.partitions])
        for t in request.topics
    ])


# ---- ListGroups, DescribeGroups, DeleteGroups ------------------------------------------------------
def list_groups(
    broker: BrokerContext, header: RequestHeader, request: ListGroupsRequest, peer: Peer
) -> ListGroupsResponse:
    states: set[GroupState] | None = None
    if request.states_filter:
        states = {s for s in map(GroupState.parse, request.states_filter) if s is not None}
    types = {t.strip().lower() for t in request.types_filter} if request.types_filter else None
    # As Kafka: DESCRIBE on the cluster shows every group, otherwise those the principal may describe.
    everything = broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.CLUSTER)
    return ListGroupsResponse(groups=[
        ListedGroup(g.group_id, g.protocol_type, g.state.value, g.group_type)
        for g in sorted(broker.groups.list_groups(states), key=lambda g: g.group_id)
        if (types is None or g.group_type in types)
        and (everything or _may(broker, peer, AclOperation.DESCRIBE, g.group_id))
    ])


def describe_groups(
    broker: BrokerContext, header: RequestHeader, request: DescribeGroupsRequest, peer: Peer
) -> DescribeGroupsResponse:
    described: list[DescribedGroup] = []
    for group_id in request.groups:
        if not group_id:
            described.append(DescribedGroup(ErrorCode.INVALID_GROUP_ID.code, group_id, "", "", ""))
            continue
        if not _may(broker, peer, AclOperation.DESCRIBE, group_id):
            described.append(DescribedGroup(ErrorCode.GROUP_AUTHORIZATION_FAILED.code, group_id, "", "", ""))
            continue
        found = broker.groups.describe(group_id)
        if found is None:
            # Before v6 an unknown group is described as Dead rather than as an error.
            described.append(DescribedGroup(ErrorCode.NONE.code, group_id, GroupState.DEAD.value, "", ""))
            continue
        described.append(DescribedGroup(
            ErrorCode.NONE.code, group_id, found.state.value, found.protocol_type, found.protocol_name,
            [DescribedGroupMember(member_id, instance_id, client_id, host, metadata, assignment)
             for member_id, instance_id, client_id, host, metadata, assignment in found.members],
        ))
    return DescribeGroupsResponse(groups=described)


def delete_groups(
    broker: BrokerContext, header: RequestHeader, request: DeleteGroupsRequest, peer: Peer
) -> DeleteGroupsResponse:
    allowed = [g for g in request.groups_names if _may(broker, peer, AclOperation.DELETE, g)]
    codes = dict(zip(allowed, broker.groups.delete_groups(allowed), strict=True))
    return DeleteGroupsResponse(results=[DeletableGroupResult(g, codes.get(g,
                                                                           ErrorCode.GROUP_AUTHORIZATION_FAILED.code))
                                         for g in request.groups_names])


# ---- ConsumerGroupHeartbeat, ConsumerGroupDescribe (KIP-848) ------------------------------------------
def consumer_group_heartbeat(
    broker: BrokerContext, header: RequestHeader, request: ConsumerGroupHeartbeatRequest, peer: Peer
) -> ConsumerGroupHeartbeatResponse:
    if not _may(broker, peer, AclOperation.READ, request.group_id):
        return ConsumerGroupHeartbeatResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code,
                                              error_message="Authorization failed.")
    names = request.subscribed_topic_names
    if names is not None and broker.authorizer.enabled:
        denied = broker.authorizer.denied_topics(peer, AclOperation.DESCRIBE, names)
        if denied:
            return ConsumerGroupHeartbeatResponse(
                error_code=ErrorCode.TOPIC_AUTHORIZATION_FAILED.code,
                error_message=f"Not authorized to describe topics {sorted(denied)}.")
    result = broker.groups.consumer_heartbeat(ConsumerHeartbeat(
        group_id=request.group_id,
        member_id=request.member_id,
        member_epoch=request.member_epoch,
        instance_id=request.instance_id,
        rack_id=request.rack_id,
        rebalance_timeout_ms=request.rebalance_timeout_ms,
        subscribed_topic_names=names,
        subscribed_topic_regex=request.subscribed_topic_regex,
        server_assignor=request.server_assignor,
        owned=None if request.topic_partitions is None
        else [(tp.topic_id, tp.partitions) for tp in request.topic_partitions],
        client_id=header.client_id or "",
        client_host=f"/{peer.host}",
        api_version=header.api_version,
    ))
    return ConsumerGroupHeartbeatResponse(
        error_code=result.error,
        error_message=result.message,
        member_id=result.member_id,
        member_epoch=result.member_epoch,
        heartbeat_interval_ms=result.heartbeat_interval_ms,
        assignment=None if result.assignment is None else Assignment(
            [TopicPartitions(topic_id, partitions) for topic_id, partitions in result.assignment.items()]),
    )


def consumer_group_describe(
    broker: BrokerContext, header: RequestHeader, request: ConsumerGroupDescribeRequest, peer: Peer
) -> ConsumerGroupDescribeResponse:
    described: list[DescribedConsumerGroup] = []
    for group_id in request.group_ids:
        if not group_id:
            described.append(DescribedConsumerGroup(ErrorCode.INVALID_GROUP_ID.code, "GroupId can't be empty.",
                                                    group_id))
            continue
        if not _may(broker, peer, AclOperation.DESCRIBE, group_id):
            described.append(DescribedConsumerGroup(ErrorCode.GROUP_AUTHORIZATION_FAILED.code, "Authorization failed.",
                                                    group_id))
            continue
        group = broker.groups.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            described.append(DescribedConsumerGroup(ErrorCode.GROUP_ID_NOT_FOUND.code,
                                                    f"Group {group_id} not found.", group_id))
            continue
        if not isinstance(group, ConsumerGroup):
            described.append(DescribedConsumerGroup(ErrorCode.GROUP_ID_NOT_FOUND.code,
                                                    f"Group {group_id} is not a consumer group.", group_id))
            continue
        described.append(_describe_consumer_group(group, header.api_version))
    return ConsumerGroupDescribeResponse(groups=described)


def _describe_consumer_group(group: ConsumerGroup, version: int) -> DescribedConsumerGroup:
    def assignment(partitions: dict[Any, set[int]]) -> DescribedAssignment:
        names = group.topic_names(partitions)
        return DescribedAssignment([DescribedTopicPartitions(topic_id, names.get(topic_id, ""), sorted(ps))
                                    for topic_id, ps in sorted(partitions.items()) if ps])

    return DescribedConsumerGroup(
        ErrorCode.NONE.code, None, group.group_id, group.state.value, group.group_epoch, group.assignment_epoch,
        group.assignor_name or "uniform",
        [
            DescribedConsumerMember(
                member_id=m.member_id, instance_id=m.instance_id, rack_id=m.rack_id, member_epoch=m.epoch,
                client_id=m.client_id, client_host=m.client_host, subscribed_topic_names=list(m.subscribed_names),
                subscribed_topic_regex=m.subscribed_regex, assignment=assignment(m.assigned),
                target_assignment=assignment(group.target.get(m.member_id, {})),
                # 0: a member of the classic protocol in a consumer group, 1: of the consumer protocol
                member_type=(0 if m.classic is not None else 1) if version >= 1 else -1,
            )
            for m in group.members.values()
        ],
    )
