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


class BrokerInfo(NamedTuple):
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


class RecordMetadata(NamedTuple):
    """Where a produced record was stored."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # -1 unless the topic stamps log-append time


class RecordOrigin(NamedTuple):
    """What every record of one fetched batch shares (a tuple, so records stay untracked by the GC)."""

    topic: str
    partition: int
    timestamp_type: int  # 0 create time, 1 log-append time
    leader_epoch: int
    producer_id: int = -1
    transactional: bool = False  # written in a transaction
    control: str | None = None  # a transaction marker's kind, COMMIT or ABORT (consumers that ask for them)


class ConsumerRecord(NamedTuple):
    """A record as the consumer hands it out.

    The fields are the decoder's rows (see `decode_record_fields`); the batch-wide ones live
    in `origin` and read as attributes too.
    """

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    origin: RecordOrigin

    @property
    def topic(self) -> str:
        return self.origin.topic

    @property
    def partition(self) -> int:
        return self.origin.partition

    @property
    def timestamp_type(self) -> int:
        return self.origin.timestamp_type

    @property
    def leader_epoch(self) -> int:
        return self.origin.leader_epoch


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
