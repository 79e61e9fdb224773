"""Our definitions of every Kafka message kctl speaks, written in `dsl`.

Field names are Kafka's, in snake_case; version ranges are the ones kctl supports (see
docs/design.md, "Protocol coverage"), which may stop short of the newest Kafka release. A test checks
every field, type and range here against Apache Kafka's own message specifications.
"""

from __future__ import annotations

from .dsl import (
    BOOL,
    BYTES,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    RECORDS,
    STRING,
    UINT16,
    UUID,
    Api,
    Array,
    Field,
    Message,
    Struct,
    api,
    message,
)
from .metadata_records import METADATA_RECORDS

__all__ = ["APIS", "RECORD_SCHEMAS"]

PRODUCE = api(
    0,
    "Produce",
    "0-11",
    flexible="9+",
    request=[
        Field("transactional_id", STRING, "3+", nullable="3+", default=None),
        Field("acks", INT16),
        Field("timeout_ms", INT32),
        Field(
            "topic_data",
            Array(
                Struct(
                    "TopicProduceData",
                    [
                        Field("name", STRING),
                        Field(
                            "partition_data",
                            Array(
                                Struct(
                                    "PartitionProduceData",
                                    [
                                        Field("index", INT32),
                                        Field("records", RECORDS, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field(
            "responses",
            Array(
                Struct(
                    "TopicProduceResponse",
                    [
                        Field("name", STRING),
                        Field(
                            "partition_responses",
                            Array(
                                Struct(
                                    "PartitionProduceResponse",
                                    [
                                        Field("index", INT32),
                                        Field("error_code", INT16),
                                        Field("base_offset", INT64),
                                        Field("log_append_time_ms", INT64, "2+", default=-1),
                                        Field("log_start_offset", INT64, "5+", default=-1),
                                        Field(
                                            "record_errors",
                                            Array(
                                                Struct(
                                                    "BatchIndexAndErrorMessage",
                                                    [
                                                        Field("batch_index", INT32, "8+"),
                                                        Field(
                                                            "batch_index_error_message",
                                                            STRING,
                                                            "8+",
                                                            nullable="8+",
                                                            default=None,
                                                        ),
                                                    ],
                                                )
                                            ),
                                            "8+",
                                        ),
                                        Field("error_message", STRING, "8+", nullable="8+", default=None),
                                        Field(
                                            "current_leader",
                                            Struct(
                                                "LeaderIdAndEpoch",
                                                [
                                                    Field("leader_id", INT32, "10+", default=-1),
                                                    Field("leader_epoch", INT32, "10+", default=-1),
                                                ],
                                            ),
                                            "10+",
                                            tag=0,
                                            tagged="10+",
                                        ),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("throttle_time_ms", INT32, "1+"),
        Field(
            "node_endpoints",
            Array(
                Struct(
                    "NodeEndpoint",
                    [
                        Field("node_id", INT32, "10+"),
                        Field("host", STRING, "10+"),
                        Field("port", INT32, "10+"),
                        Field("rack", STRING, "10+", nullable="10+", default=None),
                    ],
                )
            ),
            "10+",
            tag=0,
            tagged="10+",
        ),
    ],
)

FETCH = api(
    1,
    "Fetch",
    "4-12",
    flexible="12+",
    request=[
        Field("cluster_id", STRING, "12+", nullable="12+", tag=0, tagged="12+", default=None),
        Field("replica_id", INT32, default=-1),
        Field("max_wait_ms", INT32),
        Field("min_bytes", INT32),
        Field("max_bytes", INT32, default=2147483647),
        Field("isolation_level", INT8),
        Field("session_id", INT32, "7+"),
        Field("session_epoch", INT32, "7+", default=-1),
        Field(
            "topics",
            Array(
                Struct(
                    "FetchTopic",
                    [
                        Field("topic", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "FetchPartition",
                                    [
                                        Field("partition", INT32),
                                        Field("current_leader_epoch", INT32, "9+", default=-1),
                                        Field("fetch_offset", INT64),
                                        Field("last_fetched_epoch", INT32, "12+", default=-1),
                                        Field("log_start_offset", INT64, "5+", default=-1),
                                        Field("partition_max_bytes", INT32),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field(
            "forgotten_topics_data",
            Array(
                Struct(
                    "ForgottenTopic",
                    [
                        Field("topic", STRING, "7+"),
                        Field("partitions", Array(INT32), "7+"),
                    ],
                )
            ),
            "7+",
        ),
        Field("rack_id", STRING, "11+"),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16, "7+"),
        Field("session_id", INT32, "7+"),
        Field(
            "responses",
            Array(
                Struct(
                    "FetchableTopicResponse",
                    [
                        Field("topic", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "PartitionData",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("high_watermark", INT64),
                                        Field("last_stable_offset", INT64, default=-1),
                                        Field("log_start_offset", INT64, "5+", default=-1),
                                        Field(
                                            "diverging_epoch",
                                            Struct(
                                                "EpochEndOffset",
                                                [
                                                    Field("epoch", INT32, "12+", default=-1),
                                                    Field("end_offset", INT64, "12+", default=-1),
                                                ],
                                            ),
                                            "12+",
                                            tag=0,
                                            tagged="12+",
                                        ),
                                        Field(
                                            "current_leader",
                                            Struct(
                                                "LeaderIdAndEpoch",
                                                [
                                                    Field("leader_id", INT32, "12+", default=-1),
                                                    Field("leader_epoch", INT32, "12+", default=-1),
                                                ],
                                            ),
                                            "12+",
                                            tag=1,
                                            tagged="12+",
                                        ),
                                        Field(
                                            "snapshot_id",
                                            Struct(
                                                "SnapshotId",
                                                [
                                                    Field("end_offset", INT64, default=-1),
                                                    Field("epoch", INT32, default=-1),
                                                ],
                                            ),
                                            "12+",
                                            tag=2,
                                            tagged="12+",
                                        ),
                                        Field(
                                            "aborted_transactions",
                                            Array(
                                                Struct(
                                                    "AbortedTransaction",
                                                    [
                                                        Field("producer_id", INT64),
                                                        Field("first_offset", INT64),
                                                    ],
                                                )
                                            ),
                                            nullable="4+",
                                        ),
                                        Field("preferred_read_replica", INT32, "11+", default=-1),
                                        Field("records", RECORDS, nullable="4+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

LIST_OFFSETS = api(
    2,
    "ListOffsets",
    "0-8",
    flexible="6+",
    request=[
        Field("replica_id", INT32),
        Field("isolation_level", INT8, "2+"),
        Field(
            "topics",
            Array(
                Struct(
                    "ListOffsetsTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "ListOffsetsPartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("current_leader_epoch", INT32, "4+", default=-1),
                                        Field("timestamp", INT64),
                                        Field("max_num_offsets", INT32, "0", default=1),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32, "2+"),
        Field(
            "topics",
            Array(
                Struct(
                    "ListOffsetsTopicResponse",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "ListOffsetsPartitionResponse",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("old_style_offsets", Array(INT64), "0"),
                                        Field("timestamp", INT64, "1+", default=-1),
                                        Field("offset", INT64, "1+", default=-1),
                                        Field("leader_epoch", INT32, "4+", default=-1),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

METADATA = api(
    3,
    "Metadata",
    "0-12",
    flexible="9+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "MetadataRequestTopic",
                    [
                        Field("topic_id", UUID, "10+"),
                        Field("name", STRING, nullable="10+"),
                    ],
                )
            ),
            nullable="1+",
        ),
        Field("allow_auto_topic_creation", BOOL, "4+", default=True),
        Field("include_cluster_authorized_operations", BOOL, "8-10"),
        Field("include_topic_authorized_operations", BOOL, "8+"),
    ],
    response=[
        Field("throttle_time_ms", INT32, "3+"),
        Field(
            "brokers",
            Array(
                Struct(
                    "MetadataResponseBroker",
                    [
                        Field("node_id", INT32),
                        Field("host", STRING),
                        Field("port", INT32),
                        Field("rack", STRING, "1+", nullable="1+", default=None),
                    ],
                )
            ),
        ),
        Field("cluster_id", STRING, "2+", nullable="2+", default=None),
        Field("controller_id", INT32, "1+", default=-1),
        Field(
            "topics",
            Array(
                Struct(
                    "MetadataResponseTopic",
                    [
                        Field("error_code", INT16),
                        Field("name", STRING, nullable="12+"),
                        Field("topic_id", UUID, "10+"),
                        Field("is_internal", BOOL, "1+"),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "MetadataResponsePartition",
                                    [
                                        Field("error_code", INT16),
                                        Field("partition_index", INT32),
                                        Field("leader_id", INT32),
                                        Field("leader_epoch", INT32, "7+", default=-1),
                                        Field("replica_nodes", Array(INT32)),
                                        Field("isr_nodes", Array(INT32)),
                                        Field("offline_replicas", Array(INT32), "5+"),
                                    ],
                                )
                            ),
                        ),
                        Field("topic_authorized_operations", INT32, "8+", default=-2147483648),
                    ],
                )
            ),
        ),
        Field("cluster_authorized_operations", INT32, "8-10", default=-2147483648),
    ],
)

OFFSET_COMMIT = api(
    8,
    "OffsetCommit",
    "0-9",
    flexible="8+",
    request=[
        Field("group_id", STRING),
        Field("generation_id_or_member_epoch", INT32, "1+", default=-1),
        Field("member_id", STRING, "1+"),
        Field("group_instance_id", STRING, "7+", nullable="7+", default=None),
        Field("retention_time_ms", INT64, "2-4", default=-1),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetCommitRequestTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OffsetCommitRequestPartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("committed_offset", INT64),
                                        Field("committed_leader_epoch", INT32, "6+", default=-1),
                                        Field("commit_timestamp", INT64, "1", default=-1),
                                        Field("committed_metadata", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32, "3+"),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetCommitResponseTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OffsetCommitResponsePartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

OFFSET_FETCH = api(
    9,
    "OffsetFetch",
    "0-9",
    flexible="6+",
    request=[
        Field("group_id", STRING, "0-7"),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetFetchRequestTopic",
                    [
                        Field("name", STRING, "0-7"),
                        Field("partition_indexes", Array(INT32), "0-7"),
                    ],
                )
            ),
            "0-7",
            nullable="2-7",
        ),
        Field(
            "groups",
            Array(
                Struct(
                    "OffsetFetchRequestGroup",
                    [
                        Field("group_id", STRING, "8+"),
                        Field("member_id", STRING, "9+", nullable="9+", default=None),
                        Field("member_epoch", INT32, "9+", default=-1),
                        Field(
                            "topics",
                            Array(
                                Struct(
                                    "OffsetFetchRequestTopics",
                                    [
                                        Field("name", STRING, "8+"),
                                        Field("partition_indexes", Array(INT32), "8+"),
                                    ],
                                )
                            ),
                            "8+",
                            nullable="8+",
                        ),
                    ],
                )
            ),
            "8+",
        ),
        Field("require_stable", BOOL, "7+"),
    ],
    response=[
        Field("throttle_time_ms", INT32, "3+"),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetFetchResponseTopic",
                    [
                        Field("name", STRING, "0-7"),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OffsetFetchResponsePartition",
                                    [
                                        Field("partition_index", INT32, "0-7"),
                                        Field("committed_offset", INT64, "0-7"),
                                        Field("committed_leader_epoch", INT32, "5-7", default=-1),
                                        Field("metadata", STRING, "0-7", nullable="0-7"),
                                        Field("error_code", INT16, "0-7"),
                                    ],
                                )
                            ),
                            "0-7",
                        ),
                    ],
                )
            ),
            "0-7",
        ),
        Field("error_code", INT16, "2-7"),
        Field(
            "groups",
            Array(
                Struct(
                    "OffsetFetchResponseGroup",
                    [
                        Field("group_id", STRING, "8+"),
                        Field(
                            "topics",
                            Array(
                                Struct(
                                    "OffsetFetchResponseTopics",
                                    [
                                        Field("name", STRING, "8+"),
                                        Field(
                                            "partitions",
                                            Array(
                                                Struct(
                                                    "OffsetFetchResponsePartitions",
                                                    [
                                                        Field("partition_index", INT32, "8+"),
                                                        Field("committed_offset", INT64, "8+"),
                                                        Field(
                                                            "committed_leader_epoch", INT32, "8+", default=-1
                                                        ),
                                                        Field("metadata", STRING, "8+", nullable="8+"),
                                                        Field("error_code", INT16, "8+"),
                                                    ],
                                                )
                                            ),
                                            "8+",
                                        ),
                                    ],
                                )
                            ),
                            "8+",
                        ),
                        Field("error_code", INT16, "8+"),
                    ],
                )
            ),
            "8+",
        ),
    ],
)

FIND_COORDINATOR = api(
    10,
    "FindCoordinator",
    "0-6",
    flexible="3+",
    request=[
        Field("key", STRING, "0-3"),
        Field("key_type", INT8, "1+"),
        Field("coordinator_keys", Array(STRING), "4+"),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field("error_code", INT16, "0-3"),
        Field("error_message", STRING, "1-3", nullable="1-3"),
        Field("node_id", INT32, "0-3"),
        Field("host", STRING, "0-3"),
        Field("port", INT32, "0-3"),
        Field(
            "coordinators",
            Array(
                Struct(
                    "Coordinator",
                    [
                        Field("key", STRING, "4+"),
                        Field("node_id", INT32, "4+"),
                        Field("host", STRING, "4+"),
                        Field("port", INT32, "4+"),
                        Field("error_code", INT16, "4+"),
                        Field("error_message", STRING, "4+", nullable="4+"),
                    ],
                )
            ),
            "4+",
        ),
    ],
)

JOIN_GROUP = api(
    11,
    "JoinGroup",
    "0-9",
    flexible="6+",
    request=[
        Field("group_id", STRING),
        Field("session_timeout_ms", INT32),
        Field("rebalance_timeout_ms", INT32, "1+", default=-1),
        Field("member_id", STRING),
        Field("group_instance_id", STRING, "5+", nullable="5+", default=None),
        Field("protocol_type", STRING),
        Field(
            "protocols",
            Array(
                Struct(
                    "JoinGroupRequestProtocol",
                    [
                        Field("name", STRING),
                        Field("metadata", BYTES),
                    ],
                )
            ),
        ),
        Field("reason", STRING, "8+", nullable="8+", default=None),
    ],
    response=[
        Field("throttle_time_ms", INT32, "2+"),
        Field("error_code", INT16),
        Field("generation_id", INT32, default=-1),
        Field("protocol_type", STRING, "7+", nullable="7+", default=None),
        Field("protocol_name", STRING, nullable="7+"),
        Field("leader", STRING),
        Field("skip_assignment", BOOL, "9+"),
        Field("member_id", STRING),
        Field(
            "members",
            Array(
                Struct(
                    "JoinGroupResponseMember",
                    [
                        Field("member_id", STRING),
                        Field("group_instance_id", STRING, "5+", nullable="5+", default=None),
                        Field("metadata", BYTES),
                    ],
                )
            ),
        ),
    ],
)

HEARTBEAT = api(
    12,
    "Heartbeat",
    "0-4",
    flexible="4+",
    request=[
        Field("group_id", STRING),
        Field("generation_id", INT32),
        Field("member_id", STRING),
        Field("group_instance_id", STRING, "3+", nullable="3+", default=None),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field("error_code", INT16),
    ],
)

LEAVE_GROUP = api(
    13,
    "LeaveGroup",
    "0-5",
    flexible="4+",
    request=[
        Field("group_id", STRING),
        Field("member_id", STRING, "0-2"),
        Field(
            "members",
            Array(
                Struct(
                    "MemberIdentity",
                    [
                        Field("member_id", STRING, "3+"),
                        Field("group_instance_id", STRING, "3+", nullable="3+", default=None),
                        Field("reason", STRING, "5+", nullable="5+", default=None),
                    ],
                )
            ),
            "3+",
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field("error_code", INT16),
        Field(
            "members",
            Array(
                Struct(
                    "MemberResponse",
                    [
                        Field("member_id", STRING, "3+"),
                        Field("group_instance_id", STRING, "3+", nullable="3+"),
                        Field("error_code", INT16, "3+"),
                    ],
                )
            ),
            "3+",
        ),
    ],
)

SYNC_GROUP = api(
    14,
    "SyncGroup",
    "0-5",
    flexible="4+",
    request=[
        Field("group_id", STRING),
        Field("generation_id", INT32),
        Field("member_id", STRING),
        Field("group_instance_id", STRING, "3+", nullable="3+", default=None),
        Field("protocol_type", STRING, "5+", nullable="5+", default=None),
        Field("protocol_name", STRING, "5+", nullable="5+", default=None),
        Field(
            "assignments",
            Array(
                Struct(
                    "SyncGroupRequestAssignment",
                    [
                        Field("member_id", STRING),
                        Field("assignment", BYTES),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field("error_code", INT16),
        Field("protocol_type", STRING, "5+", nullable="5+", default=None),
        Field("protocol_name", STRING, "5+", nullable="5+", default=None),
        Field("assignment", BYTES),
    ],
)

DESCRIBE_GROUPS = api(
    15,
    "DescribeGroups",
    "0-5",
    flexible="5+",
    request=[
        Field("groups", Array(STRING)),
        Field("include_authorized_operations", BOOL, "3+"),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field(
            "groups",
            Array(
                Struct(
                    "DescribedGroup",
                    [
                        Field("error_code", INT16),
                        Field("group_id", STRING),
                        Field("group_state", STRING),
                        Field("protocol_type", STRING),
                        Field("protocol_data", STRING),
                        Field(
                            "members",
                            Array(
                                Struct(
                                    "DescribedGroupMember",
                                    [
                                        Field("member_id", STRING),
                                        Field("group_instance_id", STRING, "4+", nullable="4+", default=None),
                                        Field("client_id", STRING),
                                        Field("client_host", STRING),
                                        Field("member_metadata", BYTES),
                                        Field("member_assignment", BYTES),
                                    ],
                                )
                            ),
                        ),
                        Field("authorized_operations", INT32, "3+", default=-2147483648),
                    ],
                )
            ),
        ),
    ],
)

LIST_GROUPS = api(
    16,
    "ListGroups",
    "0-5",
    flexible="3+",
    request=[
        Field("states_filter", Array(STRING), "4+"),
        Field("types_filter", Array(STRING), "5+"),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field("error_code", INT16),
        Field(
            "groups",
            Array(
                Struct(
                    "ListedGroup",
                    [
                        Field("group_id", STRING),
                        Field("protocol_type", STRING),
                        Field("group_state", STRING, "4+"),
                        Field("group_type", STRING, "5+"),
                    ],
                )
            ),
        ),
    ],
)

SASL_HANDSHAKE = api(
    17,
    "SaslHandshake",
    "0-1",
    flexible="none",
    request=[
        Field("mechanism", STRING),
    ],
    response=[
        Field("error_code", INT16),
        Field("mechanisms", Array(STRING)),
    ],
)

API_VERSIONS = api(
    18,
    "ApiVersions",
    "0-4",
    flexible="3+",
    request=[
        Field("client_software_name", STRING, "3+"),
        Field("client_software_version", STRING, "3+"),
    ],
    response=[
        Field("error_code", INT16),
        Field(
            "api_keys",
            Array(
                Struct(
                    "ApiVersion",
                    [
                        Field("api_key", INT16),
                        Field("min_version", INT16),
                        Field("max_version", INT16),
                    ],
                )
            ),
        ),
        Field("throttle_time_ms", INT32, "1+"),
        Field(
            "supported_features",
            Array(
                Struct(
                    "SupportedFeatureKey",
                    [
                        Field("name", STRING, "3+"),
                        Field("min_version", INT16, "3+"),
                        Field("max_version", INT16, "3+"),
                    ],
                )
            ),
            "3+",
            tag=0,
            tagged="3+",
        ),
        Field("finalized_features_epoch", INT64, "3+", tag=1, tagged="3+", default=-1),
        Field(
            "finalized_features",
            Array(
                Struct(
                    "FinalizedFeatureKey",
                    [
                        Field("name", STRING, "3+"),
                        Field("max_version_level", INT16, "3+"),
                        Field("min_version_level", INT16, "3+"),
                    ],
                )
            ),
            "3+",
            tag=2,
            tagged="3+",
        ),
        Field("zk_migration_ready", BOOL, "3+", tag=3, tagged="3+"),
    ],
)

CREATE_TOPICS = api(
    19,
    "CreateTopics",
    "0-7",
    flexible="5+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "CreatableTopic",
                    [
                        Field("name", STRING),
                        Field("num_partitions", INT32),
                        Field("replication_factor", INT16),
                        Field(
                            "assignments",
                            Array(
                                Struct(
                                    "CreatableReplicaAssignment",
                                    [
                                        Field("partition_index", INT32),
                                        Field("broker_ids", Array(INT32)),
                                    ],
                                )
                            ),
                        ),
                        Field(
                            "configs",
                            Array(
                                Struct(
                                    "CreatableTopicConfig",
                                    [
                                        Field("name", STRING),
                                        Field("value", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("timeout_ms", INT32, default=60000),
        Field("validate_only", BOOL, "1+"),
    ],
    response=[
        Field("throttle_time_ms", INT32, "2+"),
        Field(
            "topics",
            Array(
                Struct(
                    "CreatableTopicResult",
                    [
                        Field("name", STRING),
                        Field("topic_id", UUID, "7+"),
                        Field("error_code", INT16),
                        Field("error_message", STRING, "1+", nullable="0+"),
                        Field("topic_config_error_code", INT16, "5+", tag=0, tagged="5+"),
                        Field("num_partitions", INT32, "5+", default=-1),
                        Field("replication_factor", INT16, "5+", default=-1),
                        Field(
                            "configs",
                            Array(
                                Struct(
                                    "CreatableTopicConfigs",
                                    [
                                        Field("name", STRING, "5+"),
                                        Field("value", STRING, "5+", nullable="5+"),
                                        Field("read_only", BOOL, "5+"),
                                        Field("config_source", INT8, "5+", default=-1),
                                        Field("is_sensitive", BOOL, "5+"),
                                    ],
                                )
                            ),
                            "5+",
                            nullable="5+",
                        ),
                    ],
                )
            ),
        ),
    ],
)

DELETE_TOPICS = api(
    20,
    "DeleteTopics",
    "0-6",
    flexible="4+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "DeleteTopicState",
                    [
                        Field("name", STRING, "6+", nullable="6+", default=None),
                        Field("topic_id", UUID, "6+"),
                    ],
                )
            ),
            "6+",
        ),
        Field("topic_names", Array(STRING), "0-5"),
        Field("timeout_ms", INT32),
    ],
    response=[
        Field("throttle_time_ms", INT32, "1+"),
        Field(
            "responses",
            Array(
                Struct(
                    "DeletableTopicResult",
                    [
                        Field("name", STRING, nullable="6+"),
                        Field("topic_id", UUID, "6+"),
                        Field("error_code", INT16),
                        Field("error_message", STRING, "5+", nullable="5+", default=None),
                    ],
                )
            ),
        ),
    ],
)

DELETE_RECORDS = api(
    21,
    "DeleteRecords",
    "0-2",
    flexible="2+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "DeleteRecordsTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "DeleteRecordsPartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("offset", INT64),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("timeout_ms", INT32),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "topics",
            Array(
                Struct(
                    "DeleteRecordsTopicResult",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "DeleteRecordsPartitionResult",
                                    [
                                        Field("partition_index", INT32),
                                        Field("low_watermark", INT64),
                                        Field("error_code", INT16),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

INIT_PRODUCER_ID = api(
    22,
    "InitProducerId",
    "0-5",
    flexible="2+",
    request=[
        Field("transactional_id", STRING, nullable="0+"),
        Field("transaction_timeout_ms", INT32),
        Field("producer_id", INT64, "3+", default=-1),
        Field("producer_epoch", INT16, "3+", default=-1),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("producer_id", INT64, default=-1),
        Field("producer_epoch", INT16),
    ],
)

OFFSET_FOR_LEADER_EPOCH = api(
    23,
    "OffsetForLeaderEpoch",
    "0-4",
    flexible="4+",
    request=[
        Field("replica_id", INT32, "3+", default=-2),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetForLeaderTopic",
                    [
                        Field("topic", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OffsetForLeaderPartition",
                                    [
                                        Field("partition", INT32),
                                        Field("current_leader_epoch", INT32, "2+", default=-1),
                                        Field("leader_epoch", INT32),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32, "2+"),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetForLeaderTopicResult",
                    [
                        Field("topic", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "EpochEndOffset",
                                    [
                                        Field("error_code", INT16),
                                        Field("partition", INT32),
                                        Field("leader_epoch", INT32, "1+", default=-1),
                                        Field("end_offset", INT64, default=-1),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

DESCRIBE_CONFIGS = api(
    32,
    "DescribeConfigs",
    "0-4",
    flexible="4+",
    request=[
        Field(
            "resources",
            Array(
                Struct(
                    "DescribeConfigsResource",
                    [
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                        Field("configuration_keys", Array(STRING), nullable="0+"),
                    ],
                )
            ),
        ),
        Field("include_synonyms", BOOL, "1+"),
        Field("include_documentation", BOOL, "3+"),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "results",
            Array(
                Struct(
                    "DescribeConfigsResult",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                        Field(
                            "configs",
                            Array(
                                Struct(
                                    "DescribeConfigsResourceResult",
                                    [
                                        Field("name", STRING),
                                        Field("value", STRING, nullable="0+"),
                                        Field("read_only", BOOL),
                                        Field("is_default", BOOL, "0"),
                                        Field("config_source", INT8, "1+", default=-1),
                                        Field("is_sensitive", BOOL),
                                        Field(
                                            "synonyms",
                                            Array(
                                                Struct(
                                                    "DescribeConfigsSynonym",
                                                    [
                                                        Field("name", STRING, "1+"),
                                                        Field("value", STRING, "1+", nullable="0+"),
                                                        Field("source", INT8, "1+"),
                                                    ],
                                                )
                                            ),
                                            "1+",
                                        ),
                                        Field("config_type", INT8, "3+"),
                                        Field("documentation", STRING, "3+", nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

ALTER_CONFIGS = api(
    33,
    "AlterConfigs",
    "0-2",
    flexible="2+",
    request=[
        Field(
            "resources",
            Array(
                Struct(
                    "AlterConfigsResource",
                    [
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                        Field(
                            "configs",
                            Array(
                                Struct(
                                    "AlterableConfig",
                                    [
                                        Field("name", STRING),
                                        Field("value", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("validate_only", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "responses",
            Array(
                Struct(
                    "AlterConfigsResourceResponse",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                    ],
                )
            ),
        ),
    ],
)

DESCRIBE_LOG_DIRS = api(
    35,
    "DescribeLogDirs",
    "0-4",
    flexible="2+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "DescribableLogDirTopic",
                    [
                        Field("topic", STRING),
                        Field("partitions", Array(INT32)),
                    ],
                )
            ),
            nullable="0+",
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16, "3+"),
        Field(
            "results",
            Array(
                Struct(
                    "DescribeLogDirsResult",
                    [
                        Field("error_code", INT16),
                        Field("log_dir", STRING),
                        Field(
                            "topics",
                            Array(
                                Struct(
                                    "DescribeLogDirsTopic",
                                    [
                                        Field("name", STRING),
                                        Field(
                                            "partitions",
                                            Array(
                                                Struct(
                                                    "DescribeLogDirsPartition",
                                                    [
                                                        Field("partition_index", INT32),
                                                        Field("partition_size", INT64),
                                                        Field("offset_lag", INT64),
                                                        Field("is_future_key", BOOL),
                                                    ],
                                                )
                                            ),
                                        ),
                                    ],
                                )
                            ),
                        ),
                        Field("total_bytes", INT64, "4+", default=-1),
                        Field("usable_bytes", INT64, "4+", default=-1),
                    ],
                )
            ),
        ),
    ],
)

SASL_AUTHENTICATE = api(
    36,
    "SaslAuthenticate",
    "0-2",
    flexible="2+",
    request=[
        Field("auth_bytes", BYTES),
    ],
    response=[
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+"),
        Field("auth_bytes", BYTES),
        Field("session_lifetime_ms", INT64, "1+"),
    ],
)

CREATE_PARTITIONS = api(
    37,
    "CreatePartitions",
    "0-3",
    flexible="2+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "CreatePartitionsTopic",
                    [
                        Field("name", STRING),
                        Field("count", INT32),
                        Field(
                            "assignments",
                            Array(
                                Struct(
                                    "CreatePartitionsAssignment",
                                    [
                                        Field("broker_ids", Array(INT32)),
                                    ],
                                )
                            ),
                            nullable="0+",
                        ),
                    ],
                )
            ),
        ),
        Field("timeout_ms", INT32),
        Field("validate_only", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "results",
            Array(
                Struct(
                    "CreatePartitionsTopicResult",
                    [
                        Field("name", STRING),
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                    ],
                )
            ),
        ),
    ],
)

DELETE_GROUPS = api(
    42,
    "DeleteGroups",
    "0-2",
    flexible="2+",
    request=[
        Field("groups_names", Array(STRING)),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "results",
            Array(
                Struct(
                    "DeletableGroupResult",
                    [
                        Field("group_id", STRING),
                        Field("error_code", INT16),
                    ],
                )
            ),
        ),
    ],
)

INCREMENTAL_ALTER_CONFIGS = api(
    44,
    "IncrementalAlterConfigs",
    "0-1",
    flexible="1+",
    request=[
        Field(
            "resources",
            Array(
                Struct(
                    "AlterConfigsResource",
                    [
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                        Field(
                            "configs",
                            Array(
                                Struct(
                                    "AlterableConfig",
                                    [
                                        Field("name", STRING),
                                        Field("config_operation", INT8),
                                        Field("value", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("validate_only", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "responses",
            Array(
                Struct(
                    "AlterConfigsResourceResponse",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                    ],
                )
            ),
        ),
    ],
)

OFFSET_DELETE = api(
    47,
    "OffsetDelete",
    "0-0",
    flexible="none",
    request=[
        Field("group_id", STRING),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetDeleteRequestTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OffsetDeleteRequestPartition",
                                    [
                                        Field("partition_index", INT32),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("error_code", INT16),
        Field("throttle_time_ms", INT32),
        Field(
            "topics",
            Array(
                Struct(
                    "OffsetDeleteResponseTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OffsetDeleteResponsePartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

#: Which ACLs a DescribeAcls or one DeleteAcls filter means.
ACL_FILTER = [
        Field("resource_type_filter", INT8),
        Field("resource_name_filter", STRING, nullable="0+"),
        Field("pattern_type_filter", INT8, "1+", default=3),
        Field("principal_filter", STRING, nullable="0+"),
        Field("host_filter", STRING, nullable="0+"),
        Field("operation", INT8),
        Field("permission_type", INT8),
]

DESCRIBE_ACLS = api(
    29,
    "DescribeAcls",
    "0-3",
    flexible="2+",
    request=ACL_FILTER,
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+"),
        Field(
            "resources",
            Array(
                Struct(
                    "DescribeAclsResource",
                    [
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                        Field("pattern_type", INT8, "1+", default=3),
                        Field(
                            "acls",
                            Array(
                                Struct(
                                    "AclDescription",
                                    [
                                        Field("principal", STRING),
                                        Field("host", STRING),
                                        Field("operation", INT8),
                                        Field("permission_type", INT8),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

CREATE_ACLS = api(
    30,
    "CreateAcls",
    "0-3",
    flexible="2+",
    request=[
        Field(
            "creations",
            Array(
                Struct(
                    "AclCreation",
                    [
                        Field("resource_type", INT8),
                        Field("resource_name", STRING),
                        Field("resource_pattern_type", INT8, "1+", default=3),
                        Field("principal", STRING),
                        Field("host", STRING),
                        Field("operation", INT8),
                        Field("permission_type", INT8),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "results",
            Array(
                Struct(
                    "AclCreationResult",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                    ],
                )
            ),
        ),
    ],
)

DELETE_ACLS = api(
    31,
    "DeleteAcls",
    "0-3",
    flexible="2+",
    request=[
        Field(
            "filters",
            Array(
                Struct(
                    "DeleteAclsFilter",
                    ACL_FILTER,
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "filter_results",
            Array(
                Struct(
                    "DeleteAclsFilterResult",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                        Field(
                            "matching_acls",
                            Array(
                                Struct(
                                    "DeleteAclsMatchingAcl",
                                    [
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, nullable="0+"),
                                        Field("resource_type", INT8),
                                        Field("resource_name", STRING),
                                        Field("pattern_type", INT8, "1+", default=3),
                                        Field("principal", STRING),
                                        Field("host", STRING),
                                        Field("operation", INT8),
                                        Field("permission_type", INT8),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

DESCRIBE_CLIENT_QUOTAS = api(
    48,
    "DescribeClientQuotas",
    "0-1",
    flexible="1+",
    request=[
        Field(
            "components",
            Array(
                Struct(
                    "ComponentData",
                    [
                        Field("entity_type", STRING),
                        Field("match_type", INT8),
                        Field("match", STRING, nullable="0+"),
                    ],
                )
            ),
        ),
        Field("strict", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+"),
        Field(
            "entries",
            Array(
                Struct(
                    "DescribeClientQuotasEntry",
                    [
                        Field(
                            "entity",
                            Array(
                                Struct(
                                    "QuotaEntity",
                                    [
                                        Field("entity_type", STRING),
                                        Field("entity_name", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                        Field(
                            "values",
                            Array(
                                Struct(
                                    "QuotaValue",
                                    [
                                        Field("key", STRING),
                                        Field("value", FLOAT64),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
            nullable="0+",
        ),
    ],
)

ALTER_CLIENT_QUOTAS = api(
    49,
    "AlterClientQuotas",
    "0-1",
    flexible="1+",
    request=[
        Field(
            "entries",
            Array(
                Struct(
                    "AlterClientQuotasEntry",
                    [
                        Field(
                            "entity",
                            Array(
                                Struct(
                                    "AlterQuotaEntity",
                                    [
                                        Field("entity_type", STRING),
                                        Field("entity_name", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                        Field(
                            "ops",
                            Array(
                                Struct(
                                    "QuotaOp",
                                    [
                                        Field("key", STRING),
                                        Field("value", FLOAT64),
                                        Field("remove", BOOL),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("validate_only", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "entries",
            Array(
                Struct(
                    "AlterClientQuotasResult",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                        Field(
                            "entity",
                            Array(
                                Struct(
                                    "AlteredQuotaEntity",
                                    [
                                        Field("entity_type", STRING),
                                        Field("entity_name", STRING, nullable="0+"),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

DESCRIBE_USER_SCRAM_CREDENTIALS = api(
    50,
    "DescribeUserScramCredentials",
    "0-0",
    flexible="0+",
    request=[
        Field(
            "users",
            Array(
                Struct(
                    "UserName",
                    [
                        Field("name", STRING),
                    ],
                )
            ),
            nullable="0+",
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+"),
        Field(
            "results",
            Array(
                Struct(
                    "DescribeUserScramCredentialsResult",
                    [
                        Field("user", STRING),
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                        Field(
                            "credential_infos",
                            Array(
                                Struct(
                                    "CredentialInfo",
                                    [
                                        Field("mechanism", INT8),
                                        Field("iterations", INT32),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

ALTER_USER_SCRAM_CREDENTIALS = api(
    51,
    "AlterUserScramCredentials",
    "0-0",
    flexible="0+",
    request=[
        Field(
            "deletions",
            Array(
                Struct(
                    "ScramCredentialDeletion",
                    [
                        Field("name", STRING),
                        Field("mechanism", INT8),
                    ],
                )
            ),
        ),
        Field(
            "upsertions",
            Array(
                Struct(
                    "ScramCredentialUpsertion",
                    [
                        Field("name", STRING),
                        Field("mechanism", INT8),
                        Field("iterations", INT32),
                        Field("salt", BYTES),
                        Field("salted_password", BYTES),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "results",
            Array(
                Struct(
                    "AlterUserScramCredentialsResult",
                    [
                        Field("user", STRING),
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+"),
                    ],
                )
            ),
        ),
    ],
)

DESCRIBE_CLUSTER = api(
    60,
    "DescribeCluster",
    "0-1",
    flexible="0+",
    request=[
        Field("include_cluster_authorized_operations", BOOL),
        Field("endpoint_type", INT8, "1+", default=1),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field("endpoint_type", INT8, "1+", default=1),
        Field("cluster_id", STRING),
        Field("controller_id", INT32, default=-1),
        Field(
            "brokers",
            Array(
                Struct(
                    "DescribeClusterBroker",
                    [
                        Field("broker_id", INT32),
                        Field("host", STRING),
                        Field("port", INT32),
                        Field("rack", STRING, nullable="0+", default=None),
                    ],
                )
            ),
        ),
        Field("cluster_authorized_operations", INT32, default=-2147483648),
    ],
)

DESCRIBE_TOPIC_PARTITIONS = api(
    75,
    "DescribeTopicPartitions",
    "0-0",
    flexible="0+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "TopicRequest",
                    [
                        Field("name", STRING),
                    ],
                )
            ),
        ),
        Field("response_partition_limit", INT32, default=2000),
        Field(
            "cursor",
            Struct(
                "Cursor",
                [
                    Field("topic_name", STRING),
                    Field("partition_index", INT32),
                ],
            ),
            nullable="0+",
            default=None,
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "topics",
            Array(
                Struct(
                    "DescribeTopicPartitionsResponseTopic",
                    [
                        Field("error_code", INT16),
                        Field("name", STRING, nullable="0+"),
                        Field("topic_id", UUID),
                        Field("is_internal", BOOL),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "DescribeTopicPartitionsResponsePartition",
                                    [
                                        Field("error_code", INT16),
                                        Field("partition_index", INT32),
                                        Field("leader_id", INT32),
                                        Field("leader_epoch", INT32, default=-1),
                                        Field("replica_nodes", Array(INT32)),
                                        Field("isr_nodes", Array(INT32)),
                                        Field(
                                            "eligible_leader_replicas",
                                            Array(INT32),
                                            nullable="0+",
                                            default=None,
                                        ),
                                        Field("last_known_elr", Array(INT32), nullable="0+", default=None),
                                        Field("offline_replicas", Array(INT32)),
                                    ],
                                )
                            ),
                        ),
                        Field("topic_authorized_operations", INT32, default=-2147483648),
                    ],
                )
            ),
        ),
        Field(
            "next_cursor",
            Struct(
                "Cursor",
                [
                    Field("topic_name", STRING),
                    Field("partition_index", INT32),
                ],
            ),
            nullable="0+",
            default=None,
        ),
    ],
)

CONSUMER_PROTOCOL_SUBSCRIPTION = message(
    "ConsumerProtocolSubscription",
    "0-3",
    flexible="none",
    fields=[
        Field("topics", Array(STRING)),
        Field("user_data", BYTES, nullable="0+", default=None),
        Field(
            "owned_partitions",
            Array(
                Struct(
                    "OwnedTopicPartition",
                    [
                        Field("topic", STRING, "1+"),
                        Field("partitions", Array(INT32), "1+"),
                    ],
                )
            ),
            "1+",
        ),
        Field("generation_id", INT32, "2+", default=-1),
        Field("rack_id", STRING, "3+", nullable="3+", default=None),
    ],
)

CONSUMER_PROTOCOL_ASSIGNMENT = message(
    "ConsumerProtocolAssignment",
    "0-3",
    flexible="none",
    fields=[
        Field(
            "assigned_partitions",
            Array(
                Struct(
                    "AssignedTopicPartition",
                    [
                        Field("topic", STRING),
                        Field("partitions", Array(INT32)),
                    ],
                )
            ),
        ),
        Field("user_data", BYTES, nullable="0+", default=None),
    ],
)

OFFSET_COMMIT_KEY = message(
    "OffsetCommitKey",
    "0-1",
    flexible="none",
    fields=[
        Field("group", STRING),
        Field("topic", STRING),
        Field("partition", INT32),
    ],
)

OFFSET_COMMIT_VALUE = message(
    "OffsetCommitValue",
    "0-4",
    flexible="4+",
    fields=[
        Field("offset", INT64),
        Field("leader_epoch", INT32, "3+", default=-1),
        Field("metadata", STRING),
        Field("commit_timestamp", INT64),
        Field("expire_timestamp", INT64, "1", default=-1),
    ],
)

GROUP_METADATA_KEY = message(
    "GroupMetadataKey",
    "2-2",
    flexible="none",
    fields=[
        Field("group", STRING),
    ],
)

GROUP_METADATA_VALUE = message(
    "GroupMetadataValue",
    "0-4",
    flexible="4+",
    fields=[
        Field("protocol_type", STRING),
        Field("generation", INT32),
        Field("protocol", STRING, nullable="0+"),
        Field("leader", STRING, nullable="0+"),
        Field("current_state_timestamp", INT64, "2+", default=-1),
        Field(
            "members",
            Array(
                Struct(
                    "MemberMetadata",
                    [
                        Field("member_id", STRING),
                        Field("group_instance_id", STRING, "3+", nullable="3+", default=None),
                        Field("client_id", STRING),
                        Field("client_host", STRING),
                        Field("rebalance_timeout", INT32, "1+", default=-1),
                        Field("session_timeout", INT32),
                        Field("subscription", BYTES),
                        Field("assignment", BYTES),
                    ],
                )
            ),
        ),
    ],
)

ELECT_LEADERS = api(
    43,
    "ElectLeaders",
    "0-2",
    flexible="2+",
    request=[
        Field("election_type", INT8, "1+"),  # 0: preferred, 1: unclean
        Field(
            "topic_partitions",
            Array(
                Struct(
                    "ElectLeadersTopicPartitions",
                    [
                        Field("topic", STRING),
                        Field("partitions", Array(INT32)),
                    ],
                )
            ),
            nullable="0+",
            default=None,
        ),
        Field("timeout_ms", INT32, default=60000),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16, "1+"),
        Field(
            "replica_election_results",
            Array(
                Struct(
                    "ReplicaElectionResult",
                    [
                        Field("topic", STRING),
                        Field(
                            "partition_result",
                            Array(
                                Struct(
                                    "ElectionPartitionResult",
                                    [
                                        Field("partition_id", INT32),
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, nullable="0+", default=None),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

ALTER_PARTITION_REASSIGNMENTS = api(
    45,
    "AlterPartitionReassignments",
    "0-0",
    flexible="0+",
    request=[
        Field("timeout_ms", INT32, default=60000),
        Field(
            "topics",
            Array(
                Struct(
                    "ReassignableTopic",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "ReassignablePartition",
                                    [
                                        Field("partition_index", INT32),
                                        # None cancels the partition's reassignment in progress.
                                        Field("replicas", Array(INT32), nullable="0+", default=None),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field(
            "responses",
            Array(
                Struct(
                    "ReassignableTopicResponse",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "ReassignablePartitionResponse",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, nullable="0+", default=None),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

LIST_PARTITION_REASSIGNMENTS = api(
    46,
    "ListPartitionReassignments",
    "0-0",
    flexible="0+",
    request=[
        Field("timeout_ms", INT32, default=60000),
        Field(
            "topics",
            Array(
                Struct(
                    "ListPartitionReassignmentsTopics",
                    [
                        Field("name", STRING),
                        Field("partition_indexes", Array(INT32)),
                    ],
                )
            ),
            nullable="0+",
            default=None,
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field(
            "topics",
            Array(
                Struct(
                    "OngoingTopicReassignment",
                    [
                        Field("name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "OngoingPartitionReassignment",
                                    [
                                        Field("partition_index", INT32),
                                        Field("replicas", Array(INT32)),
                                        Field("adding_replicas", Array(INT32)),
                                        Field("removing_replicas", Array(INT32)),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

# ---- transactions (KIP-98, KIP-664) -----------------------------------------------------------
ADD_PARTITIONS_TO_TXN_TOPIC = Struct("AddPartitionsToTxnTopic", [
    Field("name", STRING),
    Field("partitions", Array(INT32)),
])
ADD_PARTITIONS_TO_TXN_TOPIC_RESULT = Struct("AddPartitionsToTxnTopicResult", [
    Field("name", STRING),
    Field("results_by_partition", Array(Struct("AddPartitionsToTxnPartitionResult", [
        Field("partition_index", INT32),
        Field("partition_error_code", INT16),
    ]))),
])

ADD_PARTITIONS_TO_TXN = api(
    24,
    "AddPartitionsToTxn",
    "0-5",
    flexible="3+",
    request=[
        Field("transactions", Array(Struct("AddPartitionsToTxnTransaction", [
            Field("transactional_id", STRING, "4+"),
            Field("producer_id", INT64, "4+"),
            Field("producer_epoch", INT16, "4+"),
            Field("verify_only", BOOL, "4+", default=False),
            Field("topics", Array(ADD_PARTITIONS_TO_TXN_TOPIC), "4+"),
        ])), "4+"),
        Field("v3_and_below_transactional_id", STRING, "0-3"),
        Field("v3_and_below_producer_id", INT64, "0-3"),
        Field("v3_and_below_producer_epoch", INT16, "0-3"),
        Field("v3_and_below_topics", Array(ADD_PARTITIONS_TO_TXN_TOPIC), "0-3"),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16, "4+"),
        Field("results_by_transaction", Array(Struct("AddPartitionsToTxnResult", [
            Field("transactional_id", STRING, "4+"),
            Field("topic_results", Array(ADD_PARTITIONS_TO_TXN_TOPIC_RESULT), "4+"),
        ])), "4+"),
        Field("results_by_topic_v3_and_below", Array(ADD_PARTITIONS_TO_TXN_TOPIC_RESULT), "0-3"),
    ],
)

ADD_OFFSETS_TO_TXN = api(
    25,
    "AddOffsetsToTxn",
    "0-4",
    flexible="3+",
    request=[
        Field("transactional_id", STRING),
        Field("producer_id", INT64),
        Field("producer_epoch", INT16),
        Field("group_id", STRING),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
    ],
)

END_TXN = api(
    26,
    "EndTxn",
    "0-5",
    flexible="3+",
    request=[
        Field("transactional_id", STRING),
        Field("producer_id", INT64),
        Field("producer_epoch", INT16),
        Field("committed", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("producer_id", INT64, "5+", default=-1),
        Field("producer_epoch", INT16, "5+", default=-1),
    ],
)

TXN_OFFSET_COMMIT = api(
    28,
    "TxnOffsetCommit",
    "0-4",
    flexible="3+",
    request=[
        Field("transactional_id", STRING),
        Field("group_id", STRING),
        Field("producer_id", INT64),
        Field("producer_epoch", INT16),
        Field("generation_id", INT32, "3+", default=-1),
        Field("member_id", STRING, "3+", default=""),
        Field("group_instance_id", STRING, "3+", nullable="3+", default=None),
        Field("topics", Array(Struct("TxnOffsetCommitRequestTopic", [
            Field("name", STRING),
            Field("partitions", Array(Struct("TxnOffsetCommitRequestPartition", [
                Field("partition_index", INT32),
                Field("committed_offset", INT64),
                Field("committed_leader_epoch", INT32, "2+", default=-1),
                Field("committed_metadata", STRING, nullable="0+"),
            ]))),
        ]))),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("topics", Array(Struct("TxnOffsetCommitResponseTopic", [
            Field("name", STRING),
            Field("partitions", Array(Struct("TxnOffsetCommitResponsePartition", [
                Field("partition_index", INT32),
                Field("error_code", INT16),
            ]))),
        ]))),
    ],
)

DESCRIBE_PRODUCERS = api(
    61,
    "DescribeProducers",
    "0",
    flexible="0+",
    request=[
        Field("topics", Array(Struct("TopicRequest", [
            Field("name", STRING),
            Field("partition_indexes", Array(INT32)),
        ]))),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("topics", Array(Struct("TopicResponse", [
            Field("name", STRING),
            Field("partitions", Array(Struct("PartitionResponse", [
                Field("partition_index", INT32),
                Field("error_code", INT16),
                Field("error_message", STRING, nullable="0+", default=None),
                Field("active_producers", Array(Struct("ProducerState", [
                    Field("producer_id", INT64),
                    Field("producer_epoch", INT32),
                    Field("last_sequence", INT32, default=-1),
                    Field("last_timestamp", INT64, default=-1),
                    Field("coordinator_epoch", INT32),
                    Field("current_txn_start_offset", INT64, default=-1),
                ]))),
            ]))),
        ]))),
    ],
)

DESCRIBE_TRANSACTIONS = api(
    65,
    "DescribeTransactions",
    "0",
    flexible="0+",
    request=[
        Field("transactional_ids", Array(STRING)),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("transaction_states", Array(Struct("TransactionState", [
            Field("error_code", INT16),
            Field("transactional_id", STRING),
            Field("transaction_state", STRING),
            Field("transaction_timeout_ms", INT32),
            Field("transaction_start_time_ms", INT64),
            Field("producer_id", INT64),
            Field("producer_epoch", INT16),
            Field("topics", Array(Struct("TopicData", [
                Field("topic", STRING),
                Field("partitions", Array(INT32)),
            ]))),
        ]))),
    ],
)

LIST_TRANSACTIONS = api(
    66,
    "ListTransactions",
    "0-2",
    flexible="0+",
    request=[
        Field("state_filters", Array(STRING)),
        Field("producer_id_filters", Array(INT64)),
        Field("duration_filter", INT64, "1+", default=-1),
        Field("transactional_id_pattern", STRING, "2+", nullable="2+", default=None),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("unknown_state_filters", Array(STRING)),
        Field("transaction_states", Array(Struct("TransactionState", [
            Field("transactional_id", STRING),
            Field("producer_id", INT64),
            Field("transaction_state", STRING),
        ]))),
    ],
)

#: `__transaction_state`'s records: the key names the transactional id, the value its state.
TRANSACTION_LOG_KEY = message(
    "TransactionLogKey",
    "0",
    flexible="none",
    fields=[
        Field("transactional_id", STRING),
    ],
)

TRANSACTION_LOG_VALUE = message(
    "TransactionLogValue",
    "0-1",
    flexible="1+",
    fields=[
        Field("producer_id", INT64),
        Field("previous_producer_id", INT64, "1+", tag=0, tagged="1+", default=-1),
        Field("next_producer_id", INT64, "1+", tag=1, tagged="1+", default=-1),
        Field("producer_epoch", INT16),
        Field("transaction_timeout_ms", INT32),
        Field("transaction_status", INT8),
        Field("transaction_partitions", Array(Struct("PartitionsSchema", [
            Field("topic", STRING),
            Field("partition_ids", Array(INT32)),
        ])), nullable="0+"),
        Field("transaction_last_update_timestamp_ms", INT64),
        Field("transaction_start_timestamp_ms", INT64),
        Field("client_transaction_version", INT16, "1+", tag=2, tagged="1+", default=0),
    ],
)

WRITE_TXN_MARKERS = api(
    27,
    "WriteTxnMarkers",
    "0-1",
    flexible="1+",
    request=[
        Field("markers", Array(Struct("WritableTxnMarker", [
            Field("producer_id", INT64),
            Field("producer_epoch", INT16),
            Field("transaction_result", BOOL),
            Field("topics", Array(Struct("WritableTxnMarkerTopic", [
                Field("name", STRING),
                Field("partition_indexes", Array(INT32)),
            ]))),
            Field("coordinator_epoch", INT32),
        ]))),
    ],
    response=[
        Field("markers", Array(Struct("WritableTxnMarkerResult", [
            Field("producer_id", INT64),
            Field("topics", Array(Struct("WritableTxnMarkerTopicResult", [
                Field("name", STRING),
                Field("partitions", Array(Struct("WritableTxnMarkerPartitionResult", [
                    Field("partition_index", INT32),
                    Field("error_code", INT16),
                ]))),
            ]))),
        ]))),
    ],
)


# ---- Kafka 4 groups: consumer-protocol (KIP-848), share (KIP-932) and streams (KIP-1071) ------------
_TOPIC_PARTITIONS = Struct(
    "TopicPartitions",
    [
        Field("topic_id", UUID),
        Field("topic_name", STRING),
        Field("partitions", Array(INT32)),
    ],
)
_MEMBER_ASSIGNMENT = Struct("Assignment", [Field("topic_partitions", Array(_TOPIC_PARTITIONS))])

_HEARTBEAT_TOPIC_PARTITIONS = Struct(
    "TopicPartitions",
    [
        Field("topic_id", UUID),
        Field("partitions", Array(INT32)),
    ],
)

CONSUMER_GROUP_HEARTBEAT = api(
    68,
    "ConsumerGroupHeartbeat",
    "0-1",
    flexible="0+",
    request=[
        Field("group_id", STRING),
        Field("member_id", STRING),
        Field("member_epoch", INT32),
        Field("instance_id", STRING, nullable="0+", default=None),
        Field("rack_id", STRING, nullable="0+", default=None),
        Field("rebalance_timeout_ms", INT32, default=-1),
        Field("subscribed_topic_names", Array(STRING), nullable="0+", default=None),
        Field("subscribed_topic_regex", STRING, "1+", nullable="1+", default=None),
        Field("server_assignor", STRING, nullable="0+", default=None),
        Field("topic_partitions", Array(_HEARTBEAT_TOPIC_PARTITIONS), nullable="0+", default=None),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field("member_id", STRING, nullable="0+", default=None),
        Field("member_epoch", INT32),
        Field("heartbeat_interval_ms", INT32),
        Field(
            "assignment",
            Struct("Assignment", [Field("topic_partitions", Array(_HEARTBEAT_TOPIC_PARTITIONS))]),
            nullable="0+",
            default=None,
        ),
    ],
)

SHARE_GROUP_HEARTBEAT = api(
    76,
    "ShareGroupHeartbeat",
    "1-1",
    flexible="0+",
    request=[
        Field("group_id", STRING),
        Field("member_id", STRING),
        Field("member_epoch", INT32),
        Field("rack_id", STRING, nullable="0+", default=None),
        Field("subscribed_topic_names", Array(STRING), nullable="0+", default=None),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field("member_id", STRING, nullable="0+", default=None),
        Field("member_epoch", INT32),
        Field("heartbeat_interval_ms", INT32),
        Field(
            "assignment",
            Struct("Assignment", [Field("topic_partitions", Array(_HEARTBEAT_TOPIC_PARTITIONS))]),
            nullable="0+",
            default=None,
        ),
    ],
)

_ACKNOWLEDGEMENT_BATCH = Struct(
    "AcknowledgementBatch",
    [
        Field("first_offset", INT64),
        Field("last_offset", INT64),
        Field("acknowledge_types", Array(INT8)),
    ],
)
_LEADER_ID_AND_EPOCH = Struct("LeaderIdAndEpoch", [Field("leader_id", INT32), Field("leader_epoch", INT32)])
_NODE_ENDPOINT = Struct(
    "NodeEndpoint",
    [
        Field("node_id", INT32),
        Field("host", STRING),
        Field("port", INT32),
        Field("rack", STRING, nullable="0+", default=None),
    ],
)

SHARE_FETCH = api(
    78,
    "ShareFetch",
    "1-2",
    flexible="0+",
    request=[
        Field("group_id", STRING, nullable="0+", default=None),
        Field("member_id", STRING, nullable="0+"),
        Field("share_session_epoch", INT32),
        Field("max_wait_ms", INT32),
        Field("min_bytes", INT32),
        Field("max_bytes", INT32, default=0x7FFFFFFF),
        Field("max_records", INT32, "1+"),
        Field("batch_size", INT32, "1+"),
        Field("share_acquire_mode", INT8, "2+", default=0),
        Field("is_renew_ack", BOOL, "2+", default=False),
        Field(
            "topics",
            Array(
                Struct(
                    "FetchTopic",
                    [
                        Field("topic_id", UUID),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "FetchPartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("acknowledgement_batches", Array(_ACKNOWLEDGEMENT_BATCH)),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field(
            "forgotten_topics_data",
            Array(Struct("ForgottenTopic", [Field("topic_id", UUID), Field("partitions", Array(INT32))])),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field("acquisition_lock_timeout_ms", INT32, "1+"),
        Field(
            "responses",
            Array(
                Struct(
                    "ShareFetchableTopicResponse",
                    [
                        Field("topic_id", UUID),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "PartitionData",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, nullable="0+", default=None),
                                        Field("acknowledge_error_code", INT16),
                                        Field("acknowledge_error_message", STRING, nullable="0+", default=None),
                                        Field("current_leader", _LEADER_ID_AND_EPOCH),
                                        Field("records", RECORDS),
                                        Field(
                                            "acquired_records",
                                            Array(
                                                Struct(
                                                    "AcquiredRecords",
                                                    [
                                                        Field("first_offset", INT64),
                                                        Field("last_offset", INT64),
                                                        Field("delivery_count", INT16),
                                                    ],
                                                )
                                            ),
                                        ),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("node_endpoints", Array(_NODE_ENDPOINT)),
    ],
)

SHARE_ACKNOWLEDGE = api(
    79,
    "ShareAcknowledge",
    "1-2",
    flexible="0+",
    request=[
        Field("group_id", STRING, nullable="0+", default=None),
        Field("member_id", STRING, nullable="0+"),
        Field("share_session_epoch", INT32),
        Field("is_renew_ack", BOOL, "2+", default=False),
        Field(
            "topics",
            Array(
                Struct(
                    "AcknowledgeTopic",
                    [
                        Field("topic_id", UUID),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "AcknowledgePartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("acknowledgement_batches", Array(_ACKNOWLEDGEMENT_BATCH)),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field("acquisition_lock_timeout_ms", INT32, "2+"),
        Field(
            "responses",
            Array(
                Struct(
                    "ShareAcknowledgeTopicResponse",
                    [
                        Field("topic_id", UUID),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "PartitionData",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, nullable="0+", default=None),
                                        Field("current_leader", _LEADER_ID_AND_EPOCH),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field("node_endpoints", Array(_NODE_ENDPOINT)),
    ],
)

CONSUMER_GROUP_DESCRIBE = api(
    69,
    "ConsumerGroupDescribe",
    "0-1",
    flexible="0+",
    request=[
        Field("group_ids", Array(STRING)),
        Field("include_authorized_operations", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "groups",
            Array(
                Struct(
                    "DescribedGroup",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                        Field("group_id", STRING),
                        Field("group_state", STRING),
                        Field("group_epoch", INT32),
                        Field("assignment_epoch", INT32),
                        Field("assignor_name", STRING),
                        Field(
                            "members",
                            Array(
                                Struct(
                                    "Member",
                                    [
                                        Field("member_id", STRING),
                                        Field("instance_id", STRING, nullable="0+", default=None),
                                        Field("rack_id", STRING, nullable="0+", default=None),
                                        Field("member_epoch", INT32),
                                        Field("client_id", STRING),
                                        Field("client_host", STRING),
                                        Field("subscribed_topic_names", Array(STRING)),
                                        Field("subscribed_topic_regex", STRING, nullable="0+", default=None),
                                        Field("assignment", _MEMBER_ASSIGNMENT),
                                        Field("target_assignment", _MEMBER_ASSIGNMENT),
                                        Field("member_type", INT8, "1+", default=-1),
                                    ],
                                )
                            ),
                        ),
                        Field("authorized_operations", INT32, default=-2147483648),
                    ],
                )
            ),
        ),
    ],
)

SHARE_GROUP_DESCRIBE = api(
    77,
    "ShareGroupDescribe",
    "1-1",
    flexible="0+",
    request=[
        Field("group_ids", Array(STRING)),
        Field("include_authorized_operations", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "groups",
            Array(
                Struct(
                    "DescribedGroup",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                        Field("group_id", STRING),
                        Field("group_state", STRING),
                        Field("group_epoch", INT32),
                        Field("assignment_epoch", INT32),
                        Field("assignor_name", STRING),
                        Field(
                            "members",
                            Array(
                                Struct(
                                    "Member",
                                    [
                                        Field("member_id", STRING),
                                        Field("rack_id", STRING, nullable="0+", default=None),
                                        Field("member_epoch", INT32),
                                        Field("client_id", STRING),
                                        Field("client_host", STRING),
                                        Field("subscribed_topic_names", Array(STRING)),
                                        Field("assignment", _MEMBER_ASSIGNMENT),
                                    ],
                                )
                            ),
                        ),
                        Field("authorized_operations", INT32, default=-2147483648),
                    ],
                )
            ),
        ),
    ],
)

_STREAMS_KEY_VALUE = Struct("KeyValue", [Field("key", STRING), Field("value", STRING)])
_STREAMS_TOPIC_INFO = Struct(
    "TopicInfo",
    [
        Field("name", STRING),
        Field("partitions", INT32),
        Field("replication_factor", INT16),
        Field("topic_configs", Array(_STREAMS_KEY_VALUE)),
    ],
)
_STREAMS_TASK_IDS = Struct("TaskIds", [Field("subtopology_id", STRING), Field("partitions", Array(INT32))])
_STREAMS_ASSIGNMENT = Struct(
    "Assignment",
    [
        Field("active_tasks", Array(_STREAMS_TASK_IDS)),
        Field("standby_tasks", Array(_STREAMS_TASK_IDS)),
        Field("warmup_tasks", Array(_STREAMS_TASK_IDS)),
    ],
)
_STREAMS_TASK_OFFSET = Struct(
    "TaskOffset", [Field("subtopology_id", STRING), Field("partition", INT32), Field("offset", INT64)]
)

STREAMS_GROUP_DESCRIBE = api(
    89,
    "StreamsGroupDescribe",
    "0-0",
    flexible="0+",
    request=[
        Field("group_ids", Array(STRING)),
        Field("include_authorized_operations", BOOL),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "groups",
            Array(
                Struct(
                    "DescribedGroup",
                    [
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                        Field("group_id", STRING),
                        Field("group_state", STRING),
                        Field("group_epoch", INT32),
                        Field("assignment_epoch", INT32),
                        Field(
                            "topology",
                            Struct(
                                "Topology",
                                [
                                    Field("epoch", INT32),
                                    Field(
                                        "subtopologies",
                                        Array(
                                            Struct(
                                                "Subtopology",
                                                [
                                                    Field("subtopology_id", STRING),
                                                    Field("source_topics", Array(STRING)),
                                                    Field("repartition_sink_topics", Array(STRING)),
                                                    Field("state_changelog_topics", Array(_STREAMS_TOPIC_INFO)),
                                                    Field("repartition_source_topics", Array(_STREAMS_TOPIC_INFO)),
                                                ],
                                            )
                                        ),
                                        nullable="0+",
                                        default=None,
                                    ),
                                ],
                            ),
                            nullable="0+",
                            default=None,
                        ),
                        Field(
                            "members",
                            Array(
                                Struct(
                                    "Member",
                                    [
                                        Field("member_id", STRING),
                                        Field("member_epoch", INT32),
                                        Field("instance_id", STRING, nullable="0+", default=None),
                                        Field("rack_id", STRING, nullable="0+", default=None),
                                        Field("client_id", STRING),
                                        Field("client_host", STRING),
                                        Field("topology_epoch", INT32),
                                        Field("process_id", STRING),
                                        Field(
                                            "user_endpoint",
                                            Struct("Endpoint", [Field("host", STRING), Field("port", UINT16)]),
                                            nullable="0+",
                                            default=None,
                                        ),
                                        Field("client_tags", Array(_STREAMS_KEY_VALUE)),
                                        Field("task_offsets", Array(_STREAMS_TASK_OFFSET)),
                                        Field("task_end_offsets", Array(_STREAMS_TASK_OFFSET)),
                                        Field("assignment", _STREAMS_ASSIGNMENT),
                                        Field("target_assignment", _STREAMS_ASSIGNMENT),
                                        Field("is_classic", BOOL),
                                    ],
                                )
                            ),
                        ),
                        Field("authorized_operations", INT32, default=-2147483648),
                    ],
                )
            ),
        ),
    ],
)

DESCRIBE_SHARE_GROUP_OFFSETS = api(
    90,
    "DescribeShareGroupOffsets",
    "0-1",
    flexible="0+",
    request=[
        Field(
            "groups",
            Array(
                Struct(
                    "DescribeShareGroupOffsetsRequestGroup",
                    [
                        Field("group_id", STRING),
                        Field(
                            "topics",
                            Array(
                                Struct(
                                    "DescribeShareGroupOffsetsRequestTopic",
                                    [Field("topic_name", STRING), Field("partitions", Array(INT32))],
                                )
                            ),
                            nullable="0+",
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field(
            "groups",
            Array(
                Struct(
                    "DescribeShareGroupOffsetsResponseGroup",
                    [
                        Field("group_id", STRING),
                        Field(
                            "topics",
                            Array(
                                Struct(
                                    "DescribeShareGroupOffsetsResponseTopic",
                                    [
                                        Field("topic_name", STRING),
                                        Field("topic_id", UUID),
                                        Field(
                                            "partitions",
                                            Array(
                                                Struct(
                                                    "DescribeShareGroupOffsetsResponsePartition",
                                                    [
                                                        Field("partition_index", INT32),
                                                        Field("start_offset", INT64),
                                                        Field("leader_epoch", INT32),
                                                        Field("lag", INT64, "1+", default=-1),
                                                        Field("error_code", INT16),
                                                        Field("error_message", STRING, nullable="0+", default=None),
                                                    ],
                                                )
                                            ),
                                        ),
                                    ],
                                )
                            ),
                        ),
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                    ],
                )
            ),
        ),
    ],
)

ALTER_SHARE_GROUP_OFFSETS = api(
    91,
    "AlterShareGroupOffsets",
    "0-0",
    flexible="0+",
    request=[
        Field("group_id", STRING),
        Field(
            "topics",
            Array(
                Struct(
                    "AlterShareGroupOffsetsRequestTopic",
                    [
                        Field("topic_name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "AlterShareGroupOffsetsRequestPartition",
                                    [Field("partition_index", INT32), Field("start_offset", INT64)],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field(
            "responses",
            Array(
                Struct(
                    "AlterShareGroupOffsetsResponseTopic",
                    [
                        Field("topic_name", STRING),
                        Field("topic_id", UUID),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "AlterShareGroupOffsetsResponsePartition",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, nullable="0+", default=None),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
    ],
)

DELETE_SHARE_GROUP_OFFSETS = api(
    92,
    "DeleteShareGroupOffsets",
    "0-0",
    flexible="0+",
    request=[
        Field("group_id", STRING),
        Field("topics", Array(Struct("DeleteShareGroupOffsetsRequestTopic", [Field("topic_name", STRING)]))),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field(
            "responses",
            Array(
                Struct(
                    "DeleteShareGroupOffsetsResponseTopic",
                    [
                        Field("topic_name", STRING),
                        Field("topic_id", UUID),
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                    ],
                )
            ),
        ),
    ],
)

# ---- the cluster's shape: the KRaft quorum, feature levels, config resources -------------------------
_QUORUM_REPLICA = Struct(
    "ReplicaState",
    [
        Field("replica_id", INT32),
        Field("replica_directory_id", UUID, "2+"),
        Field("log_end_offset", INT64),
        Field("last_fetch_timestamp", INT64, "1+", default=-1),
        Field("last_caught_up_timestamp", INT64, "1+", default=-1),
    ],
)

DESCRIBE_QUORUM = api(
    55,
    "DescribeQuorum",
    "0-2",
    flexible="0+",
    request=[
        Field(
            "topics",
            Array(
                Struct(
                    "QuorumTopicRequest",
                    [
                        Field("topic_name", STRING),
                        Field("partitions", Array(Struct("QuorumPartitionRequest", [Field("partition_index", INT32)]))),
                    ],
                )
            ),
        ),
    ],
    response=[
        Field("error_code", INT16),
        Field("error_message", STRING, "2+", nullable="2+", default=None),
        Field(
            "topics",
            Array(
                Struct(
                    "TopicData",
                    [
                        Field("topic_name", STRING),
                        Field(
                            "partitions",
                            Array(
                                Struct(
                                    "PartitionData",
                                    [
                                        Field("partition_index", INT32),
                                        Field("error_code", INT16),
                                        Field("error_message", STRING, "2+", nullable="2+", default=None),
                                        Field("leader_id", INT32),
                                        Field("leader_epoch", INT32),
                                        Field("high_watermark", INT64),
                                        Field("current_voters", Array(_QUORUM_REPLICA)),
                                        Field("observers", Array(_QUORUM_REPLICA)),
                                    ],
                                )
                            ),
                        ),
                    ],
                )
            ),
        ),
        Field(
            "nodes",
            Array(
                Struct(
                    "Node",
                    [
                        Field("node_id", INT32, "2+"),
                        Field(
                            "listeners",
                            Array(
                                Struct(
                                    "Listener",
                                    [
                                        Field("name", STRING, "2+"),
                                        Field("host", STRING, "2+"),
                                        Field("port", UINT16, "2+"),
                                    ],
                                )
                            ),
                            "2+",
                        ),
                    ],
                )
            ),
            "2+",
        ),
    ],
)

UPDATE_FEATURES = api(
    57,
    "UpdateFeatures",
    "0-2",
    flexible="0+",
    request=[
        Field("timeout_ms", INT32, default=60000),
        Field(
            "feature_updates",
            Array(
                Struct(
                    "FeatureUpdateKey",
                    [
                        Field("feature", STRING),
                        Field("max_version_level", INT16),
                        Field("allow_downgrade", BOOL, "0"),
                        Field("upgrade_type", INT8, "1+", default=1),
                    ],
                )
            ),
        ),
        Field("validate_only", BOOL, "1+"),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field("error_message", STRING, nullable="0+", default=None),
        Field(
            "results",
            Array(
                Struct(
                    "UpdatableFeatureResult",
                    [
                        Field("feature", STRING),
                        Field("error_code", INT16),
                        Field("error_message", STRING, nullable="0+", default=None),
                    ],
                )
            ),
            "0-1",
        ),
    ],
)

LIST_CONFIG_RESOURCES = api(
    74,
    "ListConfigResources",
    "0-1",
    flexible="0+",
    request=[
        Field("resource_types", Array(INT8), "1+"),
    ],
    response=[
        Field("throttle_time_ms", INT32),
        Field("error_code", INT16),
        Field(
            "config_resources",
            Array(
                Struct(
                    "ConfigResource",
                    [
                        Field("resource_name", STRING),
                        Field("resource_type", INT8, "1+", default=16),
                    ],
                )
            ),
        ),
    ],
)

APIS: tuple[Api, ...] = (
    PRODUCE,
    FETCH,
    LIST_OFFSETS,
    METADATA,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    FIND_COORDINATOR,
    JOIN_GROUP,
    HEARTBEAT,
    LEAVE_GROUP,
    SYNC_GROUP,
    DESCRIBE_GROUPS,
    LIST_GROUPS,
    SASL_HANDSHAKE,
    API_VERSIONS,
    CREATE_TOPICS,
    DELETE_TOPICS,
    DELETE_RECORDS,
    INIT_PRODUCER_ID,
    OFFSET_FOR_LEADER_EPOCH,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    DESCRIBE_LOG_DIRS,
    SASL_AUTHENTICATE,
    CREATE_PARTITIONS,
    DESCRIBE_ACLS,
    CREATE_ACLS,
    DELETE_ACLS,
    DELETE_GROUPS,
    ELECT_LEADERS,
    INCREMENTAL_ALTER_CONFIGS,
    ALTER_PARTITION_REASSIGNMENTS,
    LIST_PARTITION_REASSIGNMENTS,
    OFFSET_DELETE,
    DESCRIBE_CLIENT_QUOTAS,
    ALTER_CLIENT_QUOTAS,
    DESCRIBE_USER_SCRAM_CREDENTIALS,
    ALTER_USER_SCRAM_CREDENTIALS,
    DESCRIBE_CLUSTER,
    DESCRIBE_TOPIC_PARTITIONS,
    ADD_PARTITIONS_TO_TXN,
    ADD_OFFSETS_TO_TXN,
    END_TXN,
    WRITE_TXN_MARKERS,
    TXN_OFFSET_COMMIT,
    DESCRIBE_PRODUCERS,
    DESCRIBE_TRANSACTIONS,
    LIST_TRANSACTIONS,
    CONSUMER_GROUP_HEARTBEAT,
    CONSUMER_GROUP_DESCRIBE,
    SHARE_GROUP_HEARTBEAT,
    SHARE_FETCH,
    SHARE_ACKNOWLEDGE,
    SHARE_GROUP_DESCRIBE,
    STREAMS_GROUP_DESCRIBE,
    DESCRIBE_SHARE_GROUP_OFFSETS,
    ALTER_SHARE_GROUP_OFFSETS,
    DELETE_SHARE_GROUP_OFFSETS,
    DESCRIBE_QUORUM,
    UPDATE_FEATURES,
    LIST_CONFIG_RESOURCES,
)

RECORD_SCHEMAS: tuple[Message, ...] = (
    CONSUMER_PROTOCOL_SUBSCRIPTION,
    CONSUMER_PROTOCOL_ASSIGNMENT,
    OFFSET_COMMIT_KEY,
    OFFSET_COMMIT_VALUE,
    GROUP_METADATA_KEY,
    GROUP_METADATA_VALUE,
    TRANSACTION_LOG_KEY,
    TRANSACTION_LOG_VALUE,
    *METADATA_RECORDS.values(),
)
