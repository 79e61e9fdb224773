"""`__transaction_state` records: every state written and read back, tombstones, Kafka's
partitioning of transactional ids, and a coordinator rebuilt from the log, bad records skipped."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from broker.transactions.log import metadata_of, partition_of, record_of, replay
from broker.transactions.machine import TransactionMachine, TxnMetadata, TxnState
from kctl.protocol.records import Record, encode_batch

from .test_storage import NOW, open_log


@pytest.mark.parametrize("state", [s for s in TxnState if s is not TxnState.DEAD])
def test_every_state_is_written_and_read_back(state: TxnState) -> None:
    metadata = TxnMetadata("orders-app", 4242, 7, 60_000, state, frozenset({("orders", 0), ("orders", 3), ("x", 1)}),
                           start_ms=NOW, last_update_ms=NOW + 5, last_producer_id=4000)
    assert metadata_of(record_of(metadata)) == ("orders-app", metadata)


def test_an_expired_id_is_a_tombstone() -> None:
    dead = TxnMetadata("gone", 1, 0, 1000, TxnState.DEAD, last_update_ms=NOW)
    record = record_of(dead)
    assert record.value is None and metadata_of(record) == ("gone", None)


def test_transactional_ids_land_where_kafka_puts_them() -> None:
    # Kafka: Utils.abs(transactionalId.hashCode) % transaction.state.log.num.partitions (50); the
    # expected values are Java's own, from String.hashCode.
    assert [partition_of(t, 50) for t in ("a", "my-txn", "streams-app-0_0", "é")] == [47, 45, 23, 33]


def test_the_coordinator_is_rebuilt_from_the_log_skipping_what_does_not_read(tmp_path: Path) -> None:
    ids = itertools.count(1)
    machine = TransactionMachine(lambda: next(ids))
    plog = open_log(tmp_path / "p")
    decision = machine.init_producer_id("t", 10_000, None, NOW)
    assert decision.persist is not None
    machine.applied(decision.persist)
    plog.append(encode_batch([record_of(decision.persist)]), NOW, trusted=True)
    added = machine.add_partitions("t", 1, 0, [("orders", 0)], NOW)
    assert added.persist is not None
    machine.applied(added.persist)
    plog.append(encode_batch([record_of(added.persist)]), NOW, trusted=True)
    plog.append(encode_batch([Record(b"\x00\x00\x00\x03bad", b"\x00\x09junk")]), NOW, trusted=True)
    ending = machine.end_txn("t", 1, 0, True, NOW)
    assert ending.persist is not None
    machine.applied(ending.persist)
    plog.append(encode_batch([record_of(ending.persist)]), NOW, trusted=True)  # then a crash: no markers yet
    rebuilt = TransactionMachine(lambda: next(ids))
    pending = rebuilt.load(replay([plog]))
    assert rebuilt.transactions == machine.transactions
    [finish] = pending
    assert finish.markers is not None and finish.markers.commit and finish.markers.partitions == {("orders", 0)}
