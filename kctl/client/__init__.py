"""kctl's asyncio Kafka client: connections, cluster metadata, admin, producer and consumer.

Built on the sans-IO `kctl.protocol`; no terminal libraries are imported here. The names below
load on first use, so importing one piece does not import them all (start-up time of the CLI).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "Admin": "admin", "NewTopic": "admin", "Cluster": "cluster",
    "ConnectionFailed": "errors", "KafkaError": "errors", "NoBrokersAvailable": "errors",
    "RequestTimedOut": "errors", "UnsupportedVersion": "errors",
    "EARLIEST": "types", "LATEST": "types", "MAX_TIMESTAMP": "types", "BrokerInfo": "types",
    "ConsumerRecord": "types", "OffsetAndMetadata": "types", "OffsetAndTimestamp": "types",
    "RecordMetadata": "types", "TopicPartition": "types",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


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
