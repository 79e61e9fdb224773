"""`__consumer_offsets`: where group state lives, in Kafka's own record format.

Offset commits are written as key v1 / value v3 (v1 when the commit carries an expiry), group
metadata as key v2 / value v3, and deletions as tombstones, so tools that read this topic
(Burrow, kafka-console-consumer's offsets formatter, kminion) understand it. The coordinator's
state is rebuilt from it at start.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from kctl.protocol import data
from kctl.protocol.data import (
    GroupMetadataKey,
    GroupMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
)
from kctl.protocol.errors import ProtocolError
from kctl.protocol.records import ControlType, Record, encode_batch

from ..storage.log import PartitionLog

log = logging.getLogger("broker.groups")

TOPIC = "__consumer_offsets"
OFFSET_KEY_VERSION = 1
OFFSET_VALUE_VERSION = 3
OFFSET_VALUE_WITH_EXPIRY_VERSION = 1  # the only version that has an expire timestamp
GROUP_KEY_VERSION = 2
GROUP_VALUE_VERSION = 3


@dataclass(slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int
    expire_timestamp: int = -1  # only set by OffsetCommit v1-v4 with an explicit retention time


@functools.lru_cache(maxsize=65_536)
def offset_key(group: str, topic: str, partition: int) -> bytes:
    """Cached: a group commits the same partitions over and over."""
    return data.encode(OffsetCommitKey(group, topic, partition), OFFSET_KEY_VERSION)


def offset_record(group: str, topic: str, partition: int, value: CommittedOffset | None) -> Record:
    key = offset_key(group, topic, partition)
    if value is None:
        return Record(key=key, value=None)
    version = OFFSET_VALUE_WITH_EXPIRY_VERSION if value.expire_timestamp >= 0 else OFFSET_VALUE_VERSION
    encoded = data.encode(
        OffsetCommitValue(
            offset=value.offset,
            leader_epoch=value.leader_epoch,
            metadata=value.metadata,
            commit_timestamp=value.commit_timestamp,
            expire_timestamp=value.expire_timestamp,
        ),
        version,
    )
    return Record(key=key, value=encoded)


def group_record(group: str, value: GroupMetadataValue | None) -> Record:
    key = data.encode(GroupMetadataKey(group), GROUP_KEY_VERSION)
    return Record(key=key, value=None if value is None else data.encode(value, GROUP_VALUE_VERSION))


def encode_records(records: list[Record], now: int, producer: tuple[int, int] | None = None) -> bytes:
    """A batch of the records; with `producer` (id, epoch), one of that producer's transaction."""
    for record in records:
        record.timestamp = now
    if producer is None:
        return encode_batch(records)
    return encode_batch(records, producer_id=producer[0], producer_epoch=producer[1], transactional=True)


@dataclass(slots=True)
class LoadedOffset:
    group: str
    topic: str
    partition: int
    value: CommittedOffset | None  # None: a tombstone


    producer_id: int = -1  # committed in this producer's transaction: in force once it commits


@dataclass(slots=True)
class LoadedGroup:
    group: str
    value: GroupMetadataValue | None  # None: a tombstone


@dataclass(slots=True)
class LoadedMarker:
    """The end of a producer's transaction: its offsets commit with it, or are dropped."""

    producer_id: int
    commit: bool


def replay(plog: PartitionLog) -> Iterator[LoadedOffset | LoadedGroup | LoadedMarker]:
    """Every record of one `__consumer_offsets` partition, decoded, in log order.

    Records we cannot read (other key types, such as KIP-848 groups, or damaged values) are
    logged and skipped: one bad record must not keep the broker from starting.
    """
    def unreadable(offset: int, exc: ProtocolError) -> None:
        log.warning("%s-%d offset %d: skipping a batch we cannot read: %s", TOPIC, plog.partition, offset, exc)

    for batch in plog.replay_batches(unreadable):
        header = batch.header
        if header.is_control:
            try:
                kind = batch.control_type
            except ProtocolError as exc:
                unreadable(header.base_offset, exc)
                continue
            if kind is not None:
                yield LoadedMarker(header.producer_id, kind is ControlType.COMMIT)
            continue
        for record in batch.records:
            if record.key is None:
                continue
            try:
                item = _decode(record)
            except ProtocolError as exc:
                log.warning("%s-%d offset %s: skipping a record we cannot read: %s", TOPIC, plog.partition,
                            record.offset, exc)
                continue
            if isinstance(item, LoadedOffset) and header.is_transactional:
                item.producer_id = header.producer_id
            if item is not None:
                yield item


def _decode(record: Record) -> LoadedOffset | LoadedGroup | None:
    assert record.key is not None
    version = data.version_of(record.key)
    if version not in (0, 1, 2):
        log.debug("skipping a %s record with key version %d", TOPIC, version)
        return None
    key = data.decode_offsets_key(record.key)
    if isinstance(key, OffsetCommitKey):
        committed = None
        if record.value is not None:
            value: OffsetCommitValue = data.decode(OffsetCommitValue, record.value)
            committed = CommittedOffset(value.offset, value.leader_epoch, value.metadata, value.commit_timestamp,
                                        value.expire_timestamp)
        return LoadedOffset(key.group, key.topic, key.partition, committed)
    group_value = None if record.value is None else data.decode(GroupMetadataValue, record.value)
    return LoadedGroup(key.group, group_value)
