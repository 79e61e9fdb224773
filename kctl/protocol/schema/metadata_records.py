"""Our definitions of the records in a KRaft `__cluster_metadata` log, as Apache Kafka 4.4 writes
them, for `kctl log dump` to decode offline. Each record's value is framed as unsigned varints
(frame version 1, the record's type, its version) and then the record, flexible in every version;
`kctl.protocol.metadata_log` reads the frame. Field names are Kafka's, in snake_case.
"""

from __future__ import annotations

from .dsl import BOOL, BYTES, FLOAT64, INT8, INT16, INT32, INT64, STRING, UINT16, UUID, Array, Field, Message, Struct
from .dsl import message as _message


def _record(name: str, versions: str, fields: list[Field]) -> Message:
    return _message(name, versions, flexible="0+", fields=fields)


def _endpoints(struct: str) -> Field:
    return Field("end_points", Array(Struct(struct, [
        Field("name", STRING), Field("host", STRING), Field("port", UINT16), Field("security_protocol", INT16),
    ])))


def _features(struct: str) -> Field:
    return Field("features", Array(Struct(struct, [
        Field("name", STRING), Field("min_supported_version", INT16), Field("max_supported_version", INT16),
    ])))


def _nullable_brokers(name: str, tag: int, versions: str = "0+") -> Field:
    return Field(name, Array(INT32), versions, nullable=versions, tag=tag, tagged=versions, default=None)


#: Record type (Kafka's apiKey for metadata records) -> our definition.
METADATA_RECORDS: dict[int, Message] = {
    0: _record("RegisterBrokerRecord", "0-4", [
        Field("broker_id", INT32),
        Field("is_migrating_zk_broker", BOOL, "2+", default=False),
        Field("incarnation_id", UUID),
        Field("broker_epoch", INT64),
        _endpoints("BrokerEndpoint"),
        _features("BrokerFeature"),
        Field("rack", STRING, nullable="0+"),
        Field("fenced", BOOL, default=True),
        Field("in_controlled_shutdown", BOOL, "1+", default=False),
        Field("log_dirs", Array(UUID), "3+", tag=0, tagged="3+"),
        Field("cordoned_log_dirs", Array(UUID), "4+", nullable="4+", tag=1, tagged="4+", default=None),
    ]),
    1: _record("UnregisterBrokerRecord", "0", [Field("broker_id", INT32), Field("broker_epoch", INT64)]),
    2: _record("TopicRecord", "0", [Field("name", STRING), Field("topic_id", UUID)]),
    3: _record("PartitionRecord", "0-2", [
        Field("partition_id", INT32, default=-1),
        Field("topic_id", UUID),
        Field("replicas", Array(INT32)),
        Field("isr", Array(INT32)),
        Field("removing_replicas", Array(INT32)),
        Field("adding_replicas", Array(INT32)),
        Field("leader", INT32, default=-1),
        Field("leader_recovery_state", INT8, tag=0, tagged="0+", default=0),
        Field("leader_epoch", INT32, default=-1),
        Field("partition_epoch", INT32, default=-1),
        Field("directories", Array(UUID), "1+"),
        _nullable_brokers("eligible_leader_replicas", 1, "2+"),
        _nullable_brokers("last_known_elr", 2, "2+"),
    ]),
    4: _record("ConfigRecord", "0", [
        Field("resource_type", INT8), Field("resource_name", STRING), Field("name", STRING),
        Field("value", STRING, nullable="0+"),
    ]),
    5: _record("PartitionChangeRecord", "0-2", [
        Field("partition_id", INT32, default=-1),
        Field("topic_id", UUID),
        _nullable_brokers("isr", 0),
        Field("leader", INT32, tag=1, tagged="0+", default=-2),
        _nullable_brokers("replicas", 2),
        _nullable_brokers("removing_replicas", 3),
        _nullable_brokers("adding_replicas", 4),
        Field("leader_recovery_state", INT8, tag=5, tagged="0+", default=-1),
        Field("directories", Array(UUID), "1+", nullable="1+", tag=8, tagged="1+", default=None),
        _nullable_brokers("eligible_leader_replicas", 6, "2+"),
        _nullable_brokers("last_known_elr", 7, "2+"),
    ]),
    7: _record("FenceBrokerRecord", "0", [Field("id", INT32), Field("epoch", INT64)]),
    8: _record("UnfenceBrokerRecord", "0", [Field("id", INT32), Field("epoch", INT64)]),
    9: _record("RemoveTopicRecord", "0", [Field("topic_id", UUID)]),
    10: _record("DelegationTokenRecord", "0", [
        Field("owner", STRING), Field("requester", STRING), Field("renewers", Array(STRING)),
        Field("issue_timestamp", INT64), Field("max_timestamp", INT64), Field("expiration_timestamp", INT64),
        Field("token_id", STRING),
    ]),
    11: _record("UserScramCredentialRecord", "0", [
        Field("name", STRING), Field("mechanism", INT8), Field("salt", BYTES), Field("stored_key", BYTES),
        Field("server_key", BYTES), Field("iterations", INT32),
    ]),
    12: _record("FeatureLevelRecord", "0", [Field("name", STRING), Field("feature_level", INT16)]),
    14: _record("ClientQuotaRecord", "0", [
        Field("entity", Array(Struct("QuotaEntityData", [
            Field("entity_type", STRING), Field("entity_name", STRING, nullable="0+"),
        ]))),
        Field("key", STRING), Field("value", FLOAT64), Field("remove", BOOL),
    ]),
    15: _record("ProducerIdsRecord", "0", [
        Field("broker_id", INT32), Field("broker_epoch", INT64, default=-1), Field("next_producer_id", INT64),
    ]),
    17: _record("BrokerRegistrationChangeRecord", "0-3", [
        Field("broker_id", INT32),
        Field("broker_epoch", INT64),
        Field("fenced", INT8, tag=0, tagged="0+"),
        Field("in_controlled_shutdown", INT8, "1+", tag=1, tagged="1+"),
        Field("log_dirs", Array(UUID), "2+", tag=2, tagged="2+"),
        Field("cordoned_log_dirs", Array(UUID), "3+", nullable="3+", tag=3, tagged="3+", default=None),
    ]),
    18: _record("AccessControlEntryRecord", "0", [
        Field("id", UUID), Field("resource_type", INT8), Field("resource_name", STRING),
        Field("pattern_type", INT8), Field("principal", STRING), Field("host", STRING),
        Field("operation", INT8), Field("permission_type", INT8),
    ]),
    19: _record("RemoveAccessControlEntryRecord", "0", [Field("id", UUID)]),
    20: _record("NoOpRecord", "0", []),
    21: _record("ZkMigrationStateRecord", "0", [Field("zk_migration_state", INT8)]),
    22: _record("RemoveUserScramCredentialRecord", "0", [Field("name", STRING), Field("mechanism", INT8)]),
    23: _record("BeginTransactionRecord", "0", [
        Field("name", STRING, nullable="0+", tag=0, tagged="0+", default=None),
    ]),
    24: _record("EndTransactionRecord", "0", []),
    25: _record("AbortTransactionRecord", "0", [
        Field("reason", STRING, nullable="0+", tag=0, tagged="0+", default=None),
    ]),
    26: _record("RemoveDelegationTokenRecord", "0", [Field("token_id", STRING)]),
    27: _record("RegisterControllerRecord", "0", [
        Field("controller_id", INT32),
        Field("incarnation_id", UUID),
        Field("zk_migration_ready", BOOL),
        _endpoints("ControllerEndpoint"),
        _features("ControllerFeature"),
    ]),
    28: _record("ClearElrRecord", "0", [Field("topic_name", STRING)]),
    29: _record("UnregisterControllerRecord", "0", [Field("controller_id", INT32)]),
}
