"""Plain data the client hands out: partitions, brokers, topics, records and offsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID


class TopicPartition(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    rack: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(slots=True)
class PartitionInfo:
    partition: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    offline_replicas: list[int] = field(default_factory=list)
    error_code: int = 0


@dataclass(slots=True)
class TopicInfo:
    name: str
    topic_id: UUID | None
    internal: bool
    partitions: dict[int, PartitionInfo]
    error_code: int = 0


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    """Where a produced record was stored."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # -1 unless the topic stamps log-append time


@dataclass(slots=True)
class ConsumerRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int  # 0 create time, 1 log-append time
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    leader_epoch: int = -1


class OffsetAndMetadata(NamedTuple):
    offset: int
    metadata: str = ""
    leader_epoch: int = -1


class OffsetAndTimestamp(NamedTuple):
    offset: int
    timestamp: int
    leader_epoch: int = -1


#: ListOffsets specs: the earliest or latest offset, or the one with the largest timestamp.
EARLIEST = -2
LATEST = -1
MAX_TIMESTAMP = -3
