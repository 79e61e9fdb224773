"""Fetched records go from the segment files to the socket by sendfile, as Kafka's
FileRecords.transferTo does, waiting for a full socket rather than copying; the client reads
exactly what was produced, in order."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kctl.protocol.records import decode_batches

from .conftest import BrokerProcess
from .rawclient import RawClient

ck = pytest.importorskip("confluent_kafka")
RECORDS = 20_000
VALUE = 1000


def sent_by_sendfile(broker: BrokerProcess) -> tuple[int, int]:
    """(bytes by sendfile, bytes copied), from the line the broker logs when it stops."""
    found = re.search(r"fetched records sent: (\d+) bytes by sendfile, (\d+) bytes copied", broker.log())
    assert found, broker.log()[-2000:]
    return int(found.group(1)), int(found.group(2))


def produce(bootstrap: str, topic: str) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 1 << 20})
    for i in range(RECORDS):
        producer.produce(topic, value=str(i).encode().ljust(VALUE, b"."), partition=0)
    assert producer.flush(60) == 0


def test_a_consumer_with_large_fetches_gets_every_record_through_sendfile(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {"num.partitions": 1}).start()
    try:
        produce(broker.bootstrap, "big")
        consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "zc",
                                "auto.offset.reset": "earliest", "fetch.max.bytes": 50 << 20,
                                "max.partition.fetch.bytes": 10 << 20})
        consumer.subscribe(["big"])
        values = []
        deadline = time.monotonic() + 60
        while len(values) < RECORDS and time.monotonic() < deadline:
            for message in consumer.consume(5000, timeout=1.0):
                assert message.error() is None, message.error()
                values.append(int(message.value().rstrip(b".")))
        consumer.close()
        assert values == list(range(RECORDS))
    finally:
        broker.stop()
    by_sendfile, copied = sent_by_sendfile(broker)
    # Fetches end inside a batch (as Kafka's do), so a little more than the log goes out.
    assert by_sendfile + copied >= RECORDS * VALUE
    assert copied == 0, (by_sendfile, copied)


def test_a_reader_slower_than_the_socket_still_gets_everything_by_sendfile_in_order(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {"num.partitions": 1}).start()
    try:
        produce(broker.bootstrap, "slow")
        client = RawClient(broker.bootstrap, timeout=30)
        request = FetchRequest(replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=64 << 20, topics=[
            FetchTopic("slow", [FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=64 << 20)])])
        # Several fetches before reading any answer: the socket fills up, the broker waits for
        # it, and an answer queued behind a waiting file range keeps its place.
        for _ in range(4):
            client.send(request, 11)
        time.sleep(1.0)
        for _ in range(4):
            response = client.receive().body
            records = response.responses[0].partitions[0].records
            values = [int(bytes(r.value or b"").rstrip(b".")) for b in decode_batches(records) for r in b.records]
            assert values == list(range(RECORDS))
        client.close()
    finally:
        broker.stop()
    by_sendfile, copied = sent_by_sendfile(broker)
    assert copied == 0 and by_sendfile == 4 * response_size(broker, "slow")


def response_size(broker: BrokerProcess, topic: str) -> int:
    """The partition's log size: what a fetch from offset 0 with room for everything carries."""
    return sum(p.stat().st_size for p in (broker.data_dir / f"{topic}-0").glob("*.log"))
