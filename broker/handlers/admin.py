"""Metadata, topic administration, DeleteRecords, DescribeCluster, DescribeQuorum, UpdateFeatures and
DescribeLogDirs."""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING, Any

from kctl.protocol._wire import ZERO_UUID
from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    CreatePartitionsTopicResult,
)
from kctl.protocol.messages.create_topics import (
    CreatableTopicConfigs,
    CreatableTopicResult,
    CreateTopicsRequest,
    CreateTopicsResponse,
)
from kctl.protocol.messages.delete_records import (
    DeleteRecordsPartitionResult,
    DeleteRecordsRequest,
    DeleteRecordsResponse,
    DeleteRecordsTopicResult,
)
from kctl.protocol.messages.delete_topics import DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse
from kctl.protocol.messages.describe_cluster import (
    DescribeClusterBroker,
    DescribeClusterRequest,
    DescribeClusterResponse,
)
from kctl.protocol.messages.describe_log_dirs import (
    DescribeLogDirsPartition,
    DescribeLogDirsRequest,
    DescribeLogDirsResponse,
    DescribeLogDirsResult,
    DescribeLogDirsTopic,
)
from kctl.protocol.messages.describe_quorum import (
    DescribeQuorumRequest,
    DescribeQuorumResponse,
    Listener,
    Node,
    PartitionData,
    ReplicaState,
    TopicData,
)
from kctl.protocol.messages.metadata import (
    MetadataRequest,
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from kctl.protocol.messages.update_features import (
    UpdatableFeatureResult,
    UpdateFeaturesRequest,
    UpdateFeaturesResponse,
)

from ..features import refusal
from ..storage import disk
from ..storage.log import LEADER_EPOCH, OffsetOutOfRange
from ..storage.manager import INTERNAL_TOPICS, Topic, TopicError, refuse_internal, validate_topic_name
from .configs import describe_topic_configs

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

log = logging.getLogger("broker.api")


# ---- Metadata --------------------------------------------------------------------------------
def _describe_topic(broker: BrokerContext, topic: Topic) -> MetadataResponseTopic:
    node = broker.node_id
    return MetadataResponseTopic(
        error_code=ErrorCode.NONE.code,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.internal,
        partitions=[
            MetadataResponsePartition(
                error_code=ErrorCode.NONE.code, partition_index=p, leader_id=node, leader_epoch=LEADER_EPOCH,
                replica_nodes=[node], isr_nodes=[node], offline_replicas=[],
            )
            for p in range(len(topic.partitions))
        ],
    )


def metadata(broker: BrokerContext, header: RequestHeader, request: MetadataRequest,
             peer: Peer) -> MetadataResponse:
    logs = broker.logs
    version = header.api_version
    wanted = request.topics
    topics: list[MetadataResponseTopic] = []
    authorizer = broker.authorizer
    if wanted is None or (version == 0 and not wanted):
        # As Kafka: only the topics the principal may describe.
        hidden = authorizer.denied_topics(peer, AclOperation.DESCRIBE, logs.topics)
        topics = [_describe_topic(broker, t) for name, t in logs.topics.items() if name not in hidden]
    else:
        by_id = {t.topic_id: t for t in logs.topics.values()}
        auto_create = broker.config["auto.create.topics.enable"] and (version < 4 or request.allow_auto_topic_creation)
        for entry in wanted:
            if entry.name is None or (not entry.name and entry.topic_id not in (None, ZERO_UUID)):
                # By topic id (v10+): Java's consumer asks so for the topics a server-side regex matched.
                found = by_id.get(entry.topic_id) if entry.topic_id is not None else None
                if found is None:
                    topics.append(MetadataResponseTopic(error_code=ErrorCode.UNKNOWN_TOPIC_ID.code, name=None,
                                                        topic_id=entry.topic_id or ZERO_UUID))
                else:
                    topics.append(_describe_topic(broker, found))
                continue
            if not authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.TOPIC, entry.name):
                topics.append(MetadataResponseTopic(error_code=ErrorCode.TOPIC_AUTHORIZATION_FAILED.code,
                                                    name=entry.name))
                continue
            topic = logs.topics.get(entry.name)
            may_create = (authorizer.permits(peer, AclOperation.CREATE, ResourceType.CLUSTER)
                          or authorizer.permits(peer, AclOperation.CREATE, ResourceType.TOPIC, entry.name))
            if topic is None and auto_create and may_create and entry.name not in INTERNAL_TOPICS:
                try:
                    topic = logs.create_topic(entry.name, broker.config["num.partitions"])
                except TopicError as exc:
                    topics.append(MetadataResponseTopic(error_code=exc.error.code, name=entry.name))
                    continue
            if topic is None:
                error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                try:
                    validate_topic_name(entry.name)
                except TopicError as exc:
                    error = exc.error.code
                topics.append(MetadataResponseTopic(error_code=error, name=entry.name))
            else:
                topics.append(_describe_topic(broker, topic))
    return MetadataResponse(
        brokers=[MetadataResponseBroker(broker.node_id, *broker.advertised_for(peer.listener), None)],
        cluster_id=logs.cluster_id,
        controller_id=broker.node_id,
        topics=topics,
    )


# ---- CreateTopics ----------------------------------------------------------------------------
def create_topics(
    broker: BrokerContext, header: RequestHeader, request: CreateTopicsRequest, peer: Peer
) -> CreateTopicsResponse:
    logs = broker.logs
    results: list[CreatableTopicResult] = []
    names = [t.name for t in request.topics]
    for entry in request.topics:
        result = CreatableTopicResult(name=entry.name, topic_id=ZERO_UUID, num_partitions=-1,
                                      replication_factor=-1, configs=None)
        results.append(result)
        if not (broker.authorizer.permits(peer, AclOperation.CREATE, ResourceType.CLUSTER)
                or broker.authorizer.permits(peer, AclOperation.CREATE, ResourceType.TOPIC, entry.name)):
            result.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
            result.error_message = "Authorization failed."
            continue
        try:
            if names.count(entry.name) > 1:
                raise TopicError(ErrorCode.INVALID_REQUEST, f"topic {entry.name!r} appears more than once")
            refuse_internal(entry.name, "create")
            count = entry.num_partitions
            if entry.assignments:
                if count != -1 or entry.replication_factor != -1:
                    raise TopicError(ErrorCode.INVALID_REQUEST,
                                     "give either assignments or a partition count and replication factor")
                indexes = sorted(a.partition_index for a in entry.assignments)
                if indexes != list(range(len(indexes))):
                    raise TopicError(ErrorCode.INVALID_REPLICATION_ASSIGNMENT,
                                     "assigned partitions must be numbered 0..n-1 without gaps")
                for a in entry.assignments:
                    if a.broker_ids != [broker.node_id]:
                        raise TopicError(ErrorCode.INVALID_REPLICATION_ASSIGNMENT,
                                         f"partitions can only live on broker {broker.node_id}, the only broker")
                count = len(indexes)
            elif count == -1:
                count = broker.config["num.partitions"]
            replication = entry.replication_factor
            if replication not in (-1, 1) and not entry.assignments:
                raise TopicError(ErrorCode.INVALID_REPLICATION_FACTOR,
                                 f"replication factor {replication} is larger than the 1 available broker")
            raw = {c.name: c.value for c in entry.configs}
            overrides = logs.check_new_topic(entry.name, count, raw)
        except TopicError as exc:
            result.error_code = exc.error.code
            result.error_message = exc.message
            continue
        if not request.validate_only:
            try:
                topic = logs.create_topic(entry.name, count, overrides)
            except OSError as exc:
                result.error_code, result.error_message = _storage_error(exc)
                continue
            result.topic_id = topic.topic_id
        result.num_partitions = count
        result.replication_factor = 1
        result.configs = [
            CreatableTopicConfigs(name=c.name, value=c.value, read_only=c.read_only,
                                  config_source=c.config_source, is_sensitive=c.is_sensitive)
            for c in describe_topic_configs(broker, overrides, None, include_synonyms=False)
        ]
    return CreateTopicsResponse(topics=results)


# ---- DeleteTopics ----------------------------------------------------------------------------
def delete_topics(
    broker: BrokerContext, header: RequestHeader, request: DeleteTopicsRequest, peer: Peer
) -> DeleteTopicsResponse:
    logs = broker.logs
    results: list[DeletableTopicResult] = []
    wanted: list[tuple[str | None, Any]] = (
        [(t.name, t.topic_id) for t in request.topics] if header.api_version >= 6
        else [(name, None) for name in request.topic_names]
    )
    by_id = {t.topic_id: t.name for t in logs.topics.values()}
    for name, topic_id in wanted:
        if name is None and topic_id is not None:
            name = by_id.get(topic_id)
            if name is None:
                results.append(DeletableTopicResult(name=None, topic_id=topic_id,
                                                    error_code=ErrorCode.UNKNOWN_TOPIC_ID.code,
                                                    error_message="no topic has this id"))
                continue
        result = DeletableTopicResult(name=name, topic_id=topic_id or ZERO_UUID)
        results.append(result)
        if not broker.authorizer.permits(peer, AclOperation.DELETE, ResourceType.TOPIC, name or ""):
            result.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
            result.error_message = "Authorization failed."
            continue
        if not broker.config["delete.topic.enable"]:
            result.error_code = ErrorCode.TOPIC_DELETION_DISABLED.code
            result.error_message = "topic deletion is disabled (delete.topic.enable=false)"
            continue
        try:
            refuse_internal(name or "", "delete")
            topic = logs.delete_topic(name or "")
        except TopicError as exc:
            result.error_code, result.error_message = exc.error.code, exc.message
            continue
        except OSError as exc:
            result.error_code, result.error_message = _storage_error(exc)
            continue
        result.topic_id = topic.topic_id
        broker.groups.topic_deleted(topic.name)
    return DeleteTopicsResponse(responses=results)


# ---- CreatePartitions ------------------------------------------------------------------------
def create_partitions(
    broker: BrokerContext, header: RequestHeader, request: CreatePartitionsRequest, peer: Peer
) -> CreatePartitionsResponse:
    logs = broker.logs
    results: list[CreatePartitionsTopicResult] = []
    names = [t.name for t in request.topics]
    for entry in request.topics:
        result = CreatePartitionsTopicResult(name=entry.name)
        results.append(result)
        topic = logs.topics.get(entry.name)
        current = len(topic.partitions) if topic else 0
        if not broker.authorizer.permits(peer, AclOperation.ALTER, ResourceType.TOPIC, entry.name):
            result.error_code, result.error_message = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code, "Authorization failed."
        elif names.count(entry.name) > 1:
            result.error_code, result.error_message = ErrorCode.INVALID_REQUEST.code, "topic listed more than once"
        elif entry.name in INTERNAL_TOPICS:
            result.error_code = ErrorCode.INVALID_REQUEST.code
            result.error_message = f"cannot add partitions to {entry.name}: the broker manages this internal topic"
        elif topic is None:
            result.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
            result.error_message = f"topic {entry.name!r} does not exist"
        elif entry.count <= current:
            result.error_code = ErrorCode.INVALID_PARTITIONS.code
            result.error_message = f"topic has {current} partitions; the new count must be larger, not {entry.count}"
        elif entry.assignments is not None and (
            len(entry.assignments) != entry.count - current
            or any(a.broker_ids != [broker.node_id] for a in entry.assignments)
        ):
            result.error_code = ErrorCode.INVALID_REPLICATION_ASSIGNMENT.code
            result.error_message = f"give one assignment per new partition, each on broker {broker.node_id}"
        elif not request.validate_only:
            try:
                logs.add_partitions(entry.name, entry.count)
            except OSError as exc:
                result.error_code, result.error_message = _storage_error(exc)
    return CreatePartitionsResponse(results=results)


def _storage_error(exc: OSError) -> tuple[int, str]:
    """A change the data directory could not take: nothing of it was made."""
    return ErrorCode.KAFKA_STORAGE_ERROR.code, f"the change could not be saved: {disk.describe(exc)}"


# ---- DeleteRecords ---------------------------------------------------------------------------
def delete_records(
    broker: BrokerContext, header: RequestHeader, request: DeleteRecordsRequest, peer: Peer
) -> DeleteRecordsResponse:
    logs = broker.logs
    topics: list[DeleteRecordsTopicResult] = []
    changed = False
    denied = broker.authorizer.denied_topics(peer, AclOperation.DELETE, (t.name for t in request.topics))
    for topic in request.topics:
        parts: list[DeleteRecordsPartitionResult] = []
        topics.append(DeleteRecordsTopicResult(topic.name, parts))
        for req in topic.partitions:
            out = DeleteRecordsPartitionResult(partition_index=req.partition_index, low_watermark=-1)
            parts.append(out)
            plog = logs.partition(topic.name, req.partition_index)
            if topic.name in denied:
                out.error_code = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
                continue
            if plog is None:
                out.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                continue
            if topic.name in INTERNAL_TOPICS:
                out.error_code = ErrorCode.INVALID_REQUEST.code  # group state lives there
                continue
            target = plog.log_end_offset if req.offset == -1 else req.offset
            try:
                out.low_watermark = plog.delete_records_before(target)
                changed = True
            except OffsetOutOfRange:
                out.error_code = ErrorCode.OFFSET_OUT_OF_RANGE.code
    if changed:
        logs.write_log_start_offsets()  # the new start must survive a crash
    return DeleteRecordsResponse(topics=topics)


# ---- DescribeCluster -------------------------------------------------------------------------
def describe_cluster(
    broker: BrokerContext, header: RequestHeader, request: DescribeClusterRequest, peer: Peer
) -> DescribeClusterResponse:
    if request.endpoint_type != 1:
        return DescribeClusterResponse(error_code=ErrorCode.UNSUPPORTED_ENDPOINT_TYPE.code,
                                       error_message="this broker only describes broker endpoints",
                                       endpoint_type=request.endpoint_type, cluster_id=broker.logs.cluster_id)
    # As Kafka's AuthHelper: anyone may describe the cluster; the operations it may do on it are
    # told only to a principal that may DESCRIBE it (0 for the others).
    operations = -(2**31)
    if request.include_cluster_authorized_operations:
        operations = (broker.authorizer.authorized_operations(peer, ResourceType.CLUSTER)
                      if broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.CLUSTER) else 0)
    return DescribeClusterResponse(
        cluster_id=broker.logs.cluster_id,
        controller_id=broker.node_id,
        endpoint_type=1,
        brokers=[DescribeClusterBroker(broker.node_id, *broker.advertised_for(peer.listener), None)],
        cluster_authorized_operations=operations,
    )


# ---- DescribeQuorum, UpdateFeatures ---------------------------------------------------------------
METADATA_TOPIC = "__cluster_metadata"


def describe_quorum(
    broker: BrokerContext, header: RequestHeader, request: DescribeQuorumRequest, peer: Peer
) -> DescribeQuorumResponse:
    """The one-node quorum: this broker is its only voter and leader. Its metadata log is the
    topics file; the offset told is how many changes it has taken since the broker started."""
    if not broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return DescribeQuorumResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code,
                                      error_message="Authorization failed.")
    now = now_ms()
    end = broker.logs.catalog_version
    topics = []
    for topic in request.topics:
        partitions = []
        for wanted in topic.partitions:
            if topic.topic_name != METADATA_TOPIC or wanted.partition_index != 0:
                partitions.append(PartitionData(wanted.partition_index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
                                                f"{topic.topic_name}-{wanted.partition_index} is not the metadata "
                                                "log", leader_id=-1, leader_epoch=-1, high_watermark=-1))
                continue
            me = ReplicaState(broker.node_id, ZERO_UUID, end, now, now)
            partitions.append(PartitionData(0, ErrorCode.NONE.code, None, broker.node_id, 1, end, [me], []))
        topics.append(TopicData(topic.topic_name, partitions))
    host, port = broker.advertised_for(peer.listener)
    return DescribeQuorumResponse(topics=topics, nodes=[Node(broker.node_id, [Listener(peer.listener, host, port)])])


def update_features(
    broker: BrokerContext, header: RequestHeader, request: UpdateFeaturesRequest, peer: Peer
) -> UpdateFeaturesResponse:
    if not broker.authorizer.permits(peer, AclOperation.ALTER, ResourceType.CLUSTER):
        denied = ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code
        return UpdateFeaturesResponse(error_code=denied, error_message="Authorization failed.",
                                      results=[UpdatableFeatureResult(u.feature, denied, "Authorization failed.")
                                               for u in request.feature_updates])
    results = []
    for update in request.feature_updates:
        why = refusal(update.feature, update.max_version_level)
        results.append(UpdatableFeatureResult(update.feature, ErrorCode.NONE.code if why is None
                                              else ErrorCode.INVALID_UPDATE_VERSION.code, why))
    first_error = next((r for r in results if r.error_code != ErrorCode.NONE.code), None)
    if first_error is not None and header.api_version >= 2:
        # From v2 one error fails the whole request, as Kafka's controller answers.
        return UpdateFeaturesResponse(error_code=first_error.error_code, error_message=first_error.error_message,
                                      results=results)
    return UpdateFeaturesResponse(results=results)


# ---- DescribeLogDirs -------------------------------------------------------------------------
def describe_log_dirs(
    broker: BrokerContext, header: RequestHeader, request: DescribeLogDirsRequest, peer: Peer
) -> DescribeLogDirsResponse:
    logs = broker.logs
    if not broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return DescribeLogDirsResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code, results=[])
    wanted: dict[str, list[int] | None] = (
        {t.name: None for t in logs.topics.values()} if request.topics is None
        else {t.topic: list(t.partitions) for t in request.topics}
    )
    topics: list[DescribeLogDirsTopic] = []
    for name, partitions in wanted.items():
        topic = logs.topics.get(name)
        if topic is None:
            continue
        indexes = range(len(topic.partitions)) if partitions is None else [
            p for p in partitions if 0 <= p < len(topic.partitions)
        ]
        topics.append(DescribeLogDirsTopic(name, [
            DescribeLogDirsPartition(p, topic.partitions[p].size, 0, False) for p in indexes
        ]))
    usage = shutil.disk_usage(logs.data_dir)
    return DescribeLogDirsResponse(results=[
        DescribeLogDirsResult(error_code=ErrorCode.NONE.code, log_dir=str(logs.data_dir), topics=topics,
                              total_bytes=usage.total, usable_bytes=usage.free)
    ])
