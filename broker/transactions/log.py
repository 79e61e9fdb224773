"""`__transaction_state`: where the transaction coordinator keeps each transactional id's state,
in Kafka's own record format (key v0, value v1, a tombstone when an id expires), so Kafka's tools
read it. The coordinator's state machine is rebuilt from it at start."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from kctl.protocol import data
from kctl.protocol.data import PartitionsSchema, TransactionLogKey, TransactionLogValue, partition_for
from kctl.protocol.errors import ProtocolError
from kctl.protocol.records import Record

from ..storage.log import PartitionLog
from .machine import TxnMetadata, TxnState

log = logging.getLogger("broker.transactions")

TOPIC = "__transaction_state"
KEY_VERSION = 0
VALUE_VERSION = 1


def partition_of(transactional_id: str, partitions: int) -> int:
    """The `__transaction_state` partition of a transactional id, as Kafka computes it."""
    return partition_for(transactional_id, partitions)


def record_of(metadata: TxnMetadata) -> Record:
    """The record that says `metadata` (a tombstone for a Dead id)."""
    key = data.encode(TransactionLogKey(metadata.transactional_id), KEY_VERSION)
    if metadata.state is TxnState.DEAD:
        return Record(key, None, timestamp=metadata.last_update_ms)
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(metadata.partitions):
        by_topic.setdefault(topic, []).append(partition)
    value = TransactionLogValue(
        producer_id=metadata.producer_id,
        previous_producer_id=metadata.last_producer_id,
        producer_epoch=metadata.producer_epoch,
        transaction_timeout_ms=metadata.timeout_ms,
        transaction_status=metadata.state.code,
        transaction_partitions=[PartitionsSchema(t, ps) for t, ps in by_topic.items()],
        transaction_last_update_timestamp_ms=metadata.last_update_ms,
        transaction_start_timestamp_ms=metadata.start_ms,
    )
    return Record(key, data.encode(value, VALUE_VERSION), timestamp=metadata.last_update_ms)


def metadata_of(record: Record) -> tuple[str, TxnMetadata | None]:
    """(transactional id, its state, or None for a tombstone) from a record; ProtocolError or
    ValueError for one that does not read."""
    if record.key is None:
        raise ValueError("a __transaction_state record without a key")
    key = data.decode(TransactionLogKey, bytes(record.key))
    if record.value is None:
        return key.transactional_id, None
    value = data.decode(TransactionLogValue, bytes(record.value))
    partitions = frozenset((p.topic, i) for p in value.transaction_partitions or [] for i in p.partition_ids)
    return key.transactional_id, TxnMetadata(
        transactional_id=key.transactional_id,
        producer_id=value.producer_id,
        producer_epoch=value.producer_epoch,
        timeout_ms=value.transaction_timeout_ms,
        state=TxnState.of_code(value.transaction_status),
        partitions=partitions,
        start_ms=value.transaction_start_timestamp_ms,
        last_update_ms=value.transaction_last_update_timestamp_ms,
        last_producer_id=value.previous_producer_id,
    )


def replay(plogs: Iterable[PartitionLog]) -> Iterator[tuple[str, TxnMetadata | None]]:
    """Every transactional id's records in log order; ones that do not read are logged and
    skipped, so one bad record cannot keep the broker from starting."""
    for plog in plogs:
        def unreadable(offset: int, exc: ProtocolError, plog: PartitionLog = plog) -> None:
            log.warning("%s-%d offset %d: skipping a batch we cannot read: %s", TOPIC, plog.partition, offset, exc)

        for record in plog.replay(unreadable):
            try:
                yield metadata_of(record)
            except (ProtocolError, ValueError) as exc:
                log.warning("%s-%d offset %s: skipping a record we cannot read: %s", TOPIC, plog.partition,
                            record.offset, exc)
