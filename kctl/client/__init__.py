"""kctl's asyncio Kafka client: connections, cluster metadata, admin, producer and consumer.

Built on the sans-IO `kctl.protocol`; no terminal libraries are imported here.
"""

from .admin import Admin, NewTopic
from .cluster import Cluster
from .errors import ConnectionFailed, KafkaError, NoBrokersAvailable, RequestTimedOut, UnsupportedVersion
from .types import (
    EARLIEST,
    LATEST,
    MAX_TIMESTAMP,
    BrokerInfo,
    ConsumerRecord,
    OffsetAndMetadata,
    OffsetAndTimestamp,
    RecordMetadata,
    TopicPartition,
)

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_TIMESTAMP",
    "Admin",
    "BrokerInfo",
    "Cluster",
    "ConnectionFailed",
    "ConsumerRecord",
    "KafkaError",
    "NewTopic",
    "NoBrokersAvailable",
    "OffsetAndMetadata",
    "OffsetAndTimestamp",
    "RecordMetadata",
    "RequestTimedOut",
    "TopicPartition",
    "UnsupportedVersion",
]
