"""`__transaction_state` records as we write them, read by Apache Kafka's own decoder
(DumpLogSegments --transaction-log-decoder): every field, in both value versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from broker.transactions.machine import TxnState
from kctl.protocol import data
from kctl.protocol.data import PartitionsSchema, TransactionLogKey, TransactionLogValue
from kctl.protocol.records import Record, encode_batch
from tests.support.apache_kafka import require_jars, run_tool

VALUES = [
    TransactionLogValue(producer_id=1000, producer_epoch=3, transaction_timeout_ms=60_000, transaction_status=1,
                        transaction_partitions=[PartitionsSchema("orders", [0, 2]), PartitionsSchema("é-t", [7])],
                        transaction_last_update_timestamp_ms=1_700_000_000_123,
                        transaction_start_timestamp_ms=1_700_000_000_000, previous_producer_id=999,
                        next_producer_id=1001, client_transaction_version=2),
    TransactionLogValue(producer_id=5, producer_epoch=0, transaction_timeout_ms=1, transaction_status=0,
                        transaction_partitions=[], transaction_last_update_timestamp_ms=1,
                        transaction_start_timestamp_ms=-1),
    TransactionLogValue(producer_id=2**40, producer_epoch=32766, transaction_timeout_ms=900_000,
                        transaction_status=4, transaction_partitions=None,
                        transaction_last_update_timestamp_ms=2, transaction_start_timestamp_ms=2),
]


def test_kafka_reads_our_transaction_log_records(tmp_path: Path) -> None:
    require_jars()
    directory = tmp_path / "__transaction_state-0"
    directory.mkdir()
    records, expected = [], []
    for i, value in enumerate(VALUES):
        for version in (0, 1):
            records.append(Record(data.encode(TransactionLogKey(f"txn-{i}"), 0), data.encode(value, version),
                                  timestamp=1_700_000_000_000))
            expected.append((f"txn-{i}", version, value))
    (directory / "00000000000000000000.log").write_bytes(encode_batch(records))
    dumped = run_tool("dump-log", "--files", str(directory / "00000000000000000000.log"), "--print-data-log",
                      "--transaction-log-decoder").stdout
    rows = re.findall(r"key: (\{.*?\}) payload: (\{.*\})", dumped)
    assert len(rows) == len(expected), dumped
    for (key, payload), (txn, version, value) in zip(rows, expected, strict=True):
        assert json.loads(key)["data"] == {"transactionalId": txn}
        read = json.loads(payload)
        assert read["version"] == str(version)
        got = read["data"]
        # Older releases print the status's code, 4.4 its name.
        status = got["transactionStatus"]
        got["transactionStatus"] = status if isinstance(status, int) else TxnState.of_label(status).code
        assert (got["producerId"], got["producerEpoch"], got["transactionTimeoutMs"], got["transactionStatus"],
                got["transactionLastUpdateTimestampMs"], got["transactionStartTimestampMs"]) == (
            value.producer_id, value.producer_epoch, value.transaction_timeout_ms, value.transaction_status,
            value.transaction_last_update_timestamp_ms, value.transaction_start_timestamp_ms)
        partitions = [(p["topic"], p["partitionIds"]) for p in got.get("transactionPartitions") or []]
        assert partitions == [(p.topic, p.partition_ids) for p in value.transaction_partitions or []]
        if version == 1:  # tagged fields Kafka shows only when not their defaults
            assert got.get("previousProducerId", -1) == value.previous_producer_id
            assert got.get("nextProducerId", -1) == value.next_producer_id
            assert got.get("clientTransactionVersion", 0) == value.client_transaction_version


@pytest.mark.parametrize("version", [0, 1])
def test_our_records_read_back(version: int) -> None:
    for value in VALUES:
        back = data.decode(TransactionLogValue, data.encode(value, version))
        assert back.producer_id == value.producer_id
        assert back.transaction_partitions == value.transaction_partitions
        assert back.previous_producer_id == (value.previous_producer_id if version else -1)
