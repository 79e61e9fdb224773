"""The kinds of group Kafka 4 has, as an administrator sees them: classic groups (JoinGroup and
SyncGroup), consumer groups on the consumer protocol (KIP-848), share groups (KIP-932) and Kafka
Streams groups (KIP-1071).

Each kind has its own describe API. `describe_any` asks DescribeGroups first (the only one a
cluster before 4.0 has, and the one classic groups answer); a group it reports as Dead is asked
of the three typed describes at once, which answer GROUP_ID_NOT_FOUND for a group of another
kind. Share groups keep no committed offsets: where each share partition starts
(DescribeShareGroupOffsets) is what they have instead, and what is altered and deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kctl.protocol import data
from kctl.protocol.api import ApiKey
from kctl.protocol.data import ConsumerProtocolAssignment, ConsumerProtocolSubscription
from kctl.protocol.errors import ErrorCode, ProtocolError

from .cluster import COORDINATOR_MOVED
from .errors import KafkaError
from .types import TopicPartition

if TYPE_CHECKING:
    from .admin.groups import GroupAdmin

#: Group types by the names ListGroups (v5+) and Kafka's tools use.
CLASSIC, CONSUMER, SHARE, STREAMS = "classic", "consumer", "share", "streams"
GROUP_TYPES = (CLASSIC, CONSUMER, SHARE, STREAMS)
#: The describe API of each non-classic type.
DESCRIBE_API = {CONSUMER: ApiKey.CONSUMER_GROUP_DESCRIBE, SHARE: ApiKey.SHARE_GROUP_DESCRIBE,
                STREAMS: ApiKey.STREAMS_GROUP_DESCRIBE}
DEAD = "Dead"


def parse_group_types(texts: Iterable[str]) -> tuple[list[str], list[str]]:
    """Group types as given (repeated or comma-separated, any case, as Kafka's tools take
    them): (the types, the words that name none)."""
    words = [t.strip().lower() for text in texts for t in text.split(",") if t.strip()]
    return [w for w in words if w in GROUP_TYPES], sorted({w for w in words if w not in GROUP_TYPES})


@dataclass(slots=True)
class StreamsTasks:
    """A streams member's tasks, by kind: subtopology id -> partitions."""

    active: dict[str, list[int]] = field(default_factory=dict)
    standby: dict[str, list[int]] = field(default_factory=dict)
    warmup: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class Subtopology:
    """One subtopology of a streams group's topology."""

    subtopology_id: str
    source_topics: list[str]
    repartition_sink_topics: list[str]
    state_changelog_topics: list[str]
    repartition_source_topics: list[str]


@dataclass(slots=True)
class MemberDescription:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    assignment: list[TopicPartition]
    subscription: list[str]
    epoch: int | None = None  # the member epoch (not classic members)
    target_assignment: list[TopicPartition] | None = None  # where the coordinator is moving it
    subscribed_regex: str | None = None
    rack: str | None = None
    classic_member: bool = False  # a classic-protocol member of a consumer group (an upgrade under way)
    process_id: str | None = None  # streams
    tasks: StreamsTasks | None = None  # streams: the tasks it runs
    target_tasks: StreamsTasks | None = None


@dataclass(slots=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str  # classic: the assignor the members agreed on; otherwise the server's assignor
    members: list[MemberDescription]
    coordinator: int
    type: str = CLASSIC
    group_epoch: int | None = None
    assignment_epoch: int | None = None
    topology: list[Subtopology] | None = None  # streams
    topology_epoch: int | None = None


@dataclass(slots=True)
class GroupListing:
    group_id: str
    protocol_type: str
    state: str
    type: str = CLASSIC


@dataclass(frozen=True, slots=True)
class ShareOffset:
    """Where a share group's partition starts: the first record not yet acknowledged by all
    (-1: the group has not started on it), and the records from there to the end, as the
    broker counts them (-1: this broker does not count them, DescribeShareGroupOffsets v0)."""

    start_offset: int
    lag: int
    leader_epoch: int


# ---- classic ----------------------------------------------------------------------------------------
def decode_classic_member(protocol_type: str, metadata: bytes, assignment: bytes
                          ) -> tuple[list[str], list[TopicPartition]]:
    if protocol_type != "consumer":
        return [], []
    topics: list[str] = []
    partitions: list[TopicPartition] = []
    try:
        if metadata:
            topics = list(data.decode(ConsumerProtocolSubscription, metadata).topics)
        if assignment:
            decoded = data.decode(ConsumerProtocolAssignment, assignment)
            partitions = [TopicPartition(t.topic, p) for t in decoded.assigned_partitions for p in t.partitions]
    except ProtocolError:
        pass  # a client with its own assignment format: show the member without it
    return topics, sorted(partitions)


def classic_description(g: Any, node: int) -> GroupDescription:
    members = []
    for m in g.members:
        topics, assigned = decode_classic_member(g.protocol_type, m.member_metadata, m.member_assignment)
        members.append(MemberDescription(m.member_id, m.group_instance_id, m.client_id, m.client_host,
                                         assigned, topics))
    return GroupDescription(g.group_id, g.group_state, g.protocol_type, g.protocol_data, members, node)


# ---- consumer, share and streams ------------------------------------------------------------------------
def _partitions(assignment: Any) -> list[TopicPartition]:
    return sorted(TopicPartition(t.topic_name, p) for t in assignment.topic_partitions for p in t.partitions)


def _tasks(assignment: Any) -> StreamsTasks:
    def by_subtopology(task_ids: Any) -> dict[str, list[int]]:
        return {t.subtopology_id: sorted(t.partitions) for t in task_ids}

    return StreamsTasks(by_subtopology(assignment.active_tasks), by_subtopology(assignment.standby_tasks),
                        by_subtopology(assignment.warmup_tasks))


def consumer_description(g: Any, node: int) -> GroupDescription:
    members = [MemberDescription(m.member_id, m.instance_id, m.client_id, m.client_host, _partitions(m.assignment),
                                 list(m.subscribed_topic_names), m.member_epoch, _partitions(m.target_assignment),
                                 m.subscribed_topic_regex or None, m.rack_id, classic_member=m.member_type == 0)
               for m in g.members]
    return GroupDescription(g.group_id, g.group_state, "consumer", g.assignor_name, members, node, CONSUMER,
                            g.group_epoch, g.assignment_epoch)


def share_description(g: Any, node: int) -> GroupDescription:
    members = [MemberDescription(m.member_id, None, m.client_id, m.client_host, _partitions(m.assignment),
                                 list(m.subscribed_topic_names), m.member_epoch, rack=m.rack_id)
               for m in g.members]
    return GroupDescription(g.group_id, g.group_state, "share", g.assignor_name, members, node, SHARE,
                            g.group_epoch, g.assignment_epoch)


def streams_description(g: Any, node: int) -> GroupDescription:
    topology = None
    topology_epoch = None
    if g.topology is not None:
        topology_epoch = g.topology.epoch
        topology = [Subtopology(s.subtopology_id, list(s.source_topics), list(s.repartition_sink_topics),
                                [t.name for t in s.state_changelog_topics],
                                [t.name for t in s.repartition_source_topics])
                    for s in g.topology.subtopologies or []]
    sources = {s.subtopology_id: s.source_topics + s.repartition_source_topics for s in topology or []}

    def source_partitions(tasks: StreamsTasks) -> list[TopicPartition]:
        # An active task of a subtopology reads that partition of each of its source topics.
        return sorted({TopicPartition(topic, p) for sub, parts in tasks.active.items()
                       for topic in sources.get(sub, []) for p in parts})

    members = []
    for m in g.members:
        tasks, target = _tasks(m.assignment), _tasks(m.target_assignment)
        members.append(MemberDescription(
            m.member_id, m.instance_id, m.client_id, m.client_host, source_partitions(tasks),
            sorted({t for sub in tasks.active for t in sources.get(sub, [])}), m.member_epoch,
            source_partitions(target), rack=m.rack_id, classic_member=m.is_classic, process_id=m.process_id,
            tasks=tasks, target_tasks=target))
    return GroupDescription(g.group_id, g.group_state, "streams", "", members, node, STREAMS, g.group_epoch,
                            g.assignment_epoch, topology, topology_epoch)


TYPED = {CONSUMER: consumer_description, SHARE: share_description, STREAMS: streams_description}


def _typed_request(kind: str, groups: list[str]) -> Any:
    if kind == CONSUMER:
        from kctl.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest

        return ConsumerGroupDescribeRequest(groups, False)
    if kind == SHARE:
        from kctl.protocol.messages.share_group_describe import ShareGroupDescribeRequest

        return ShareGroupDescribeRequest(groups, False)
    from kctl.protocol.messages.streams_group_describe import StreamsGroupDescribeRequest

    return StreamsGroupDescribeRequest(groups, False)


async def describe_any(admin: GroupAdmin, group_ids: Iterable[str]) -> dict[str, GroupDescription | KafkaError]:
    """Every group described by the API of its kind (see the module's note)."""
    cluster = admin.cluster
    results: dict[str, GroupDescription | KafkaError] = await admin.describe_classic_groups(group_ids)
    dead = [g for g, found in results.items() if isinstance(found, GroupDescription) and found.state == DEAD]
    kinds = [kind for kind, key in DESCRIBE_API.items() if dead and cluster.version(key) >= 0]
    if not kinds:
        return results

    async def typed(kind: str) -> dict[str, GroupDescription | KafkaError]:
        found: dict[str, GroupDescription | KafkaError] = {}

        async def for_coordinator(node: int, groups: list[str]) -> None:
            response = await cluster.send(node, _typed_request(kind, groups))
            for g in response.groups:
                error = ErrorCode.of(g.error_code)
                if error in COORDINATOR_MOVED:
                    cluster.forget_coordinator(g.group_id)
                    raise KafkaError.from_code(g.error_code, f"group {g.group_id!r}")
                if error is ErrorCode.GROUP_ID_NOT_FOUND:
                    continue  # not a group of this kind
                if g.error_code:
                    found[g.group_id] = KafkaError.from_code(g.error_code, f"group {g.group_id!r}", g.error_message)
                else:
                    found[g.group_id] = TYPED[kind](g, node)

        await admin.per_coordinator(dead, for_coordinator, f"{kind.capitalize()}GroupDescribe")
        return found

    for answer in await asyncio.gather(*(typed(kind) for kind in kinds)):
        results.update(answer)
    return results


# ---- share-group offsets ----------------------------------------------------------------------------------
async def share_group_offsets(admin: GroupAdmin, group_ids: Iterable[str]
                              ) -> dict[str, dict[TopicPartition, ShareOffset] | KafkaError]:
    """Where each share partition of each group starts (DescribeShareGroupOffsets, every topic)."""
    from kctl.protocol.messages.describe_share_group_offsets import (
        DescribeShareGroupOffsetsRequest,
        DescribeShareGroupOffsetsRequestGroup,
    )

    results: dict[str, dict[TopicPartition, ShareOffset] | KafkaError] = {}

    async def for_coordinator(node: int, groups: list[str]) -> None:
        request = DescribeShareGroupOffsetsRequest([DescribeShareGroupOffsetsRequestGroup(g, None) for g in groups])
        response = await admin.cluster.send(node, request)
        for g in response.groups:
            if ErrorCode.of(g.error_code) in COORDINATOR_MOVED:
                admin.cluster.forget_coordinator(g.group_id)
                raise KafkaError.from_code(g.error_code, f"group {g.group_id!r}")
            if g.error_code:
                results[g.group_id] = KafkaError.from_code(g.error_code, f"share group {g.group_id!r}",
                                                           g.error_message)
                continue
            offsets: dict[TopicPartition, ShareOffset] = {}
            for t in g.topics:
                for p in t.partitions:
                    if p.error_code:
                        results[g.group_id] = KafkaError.from_code(
                            p.error_code, f"share group {g.group_id!r} on {t.topic_name}[{p.partition_index}]",
                            p.error_message)
                        break
                    offsets[TopicPartition(t.topic_name, p.partition_index)] = ShareOffset(
                        p.start_offset, p.lag, p.leader_epoch)
            results.setdefault(g.group_id, dict(sorted(offsets.items())))

    await admin.per_coordinator(list(group_ids), for_coordinator, "DescribeShareGroupOffsets")
    return results


async def alter_share_group_offsets(admin: GroupAdmin, group_id: str, offsets: Mapping[TopicPartition, int]
                                    ) -> dict[TopicPartition, KafkaError | None]:
    """Set where a share group's partitions start (the group must be empty)."""
    from kctl.protocol.messages.alter_share_group_offsets import (
        AlterShareGroupOffsetsRequest,
        AlterShareGroupOffsetsRequestPartition,
        AlterShareGroupOffsetsRequestTopic,
    )

    by_topic: dict[str, list[AlterShareGroupOffsetsRequestPartition]] = {}
    for tp, offset in offsets.items():
        by_topic.setdefault(tp.topic, []).append(AlterShareGroupOffsetsRequestPartition(tp.partition, offset))
    request = AlterShareGroupOffsetsRequest(group_id, [AlterShareGroupOffsetsRequestTopic(t, ps)
                                                       for t, ps in by_topic.items()])
    results: dict[TopicPartition, KafkaError | None] = {}

    async def for_coordinator(node: int, _groups: list[str]) -> None:
        response = await admin.cluster.send(node, request)
        _check_whole(admin, group_id, response)
        for t in response.responses:
            for p in t.partitions:
                tp = TopicPartition(t.topic_name, p.partition_index)
                results[tp] = (KafkaError.from_code(p.error_code, f"share group {group_id!r} on {tp}", p.error_message)
                               if p.error_code else None)

    await admin.per_coordinator([group_id], for_coordinator, "AlterShareGroupOffsets")
    return results


async def delete_share_group_offsets(admin: GroupAdmin, group_id: str, topics: Iterable[str]
                                     ) -> dict[str, KafkaError | None]:
    """Forget a share group's state on whole topics (the group must be empty)."""
    from kctl.protocol.messages.delete_share_group_offsets import (
        DeleteShareGroupOffsetsRequest,
        DeleteShareGroupOffsetsRequestTopic,
    )

    request = DeleteShareGroupOffsetsRequest(group_id, [DeleteShareGroupOffsetsRequestTopic(t)
                                                        for t in dict.fromkeys(topics)])
    results: dict[str, KafkaError | None] = {}

    async def for_coordinator(node: int, _groups: list[str]) -> None:
        response = await admin.cluster.send(node, request)
        _check_whole(admin, group_id, response)
        for t in response.responses:
            results[t.topic_name] = (KafkaError.from_code(t.error_code, f"share group {group_id!r} on {t.topic_name}",
                                                          t.error_message) if t.error_code else None)

    await admin.per_coordinator([group_id], for_coordinator, "DeleteShareGroupOffsets")
    return results


def _check_whole(admin: GroupAdmin, group_id: str, response: Any) -> None:
    if ErrorCode.of(response.error_code) in COORDINATOR_MOVED:
        admin.cluster.forget_coordinator(group_id)
    if response.error_code:
        raise KafkaError.from_code(response.error_code, f"share group {group_id!r}", response.error_message)
