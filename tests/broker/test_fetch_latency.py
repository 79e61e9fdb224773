"""End to end with librdkafka, the way clients behave: one record at a time, acks=all, flushed
after each, a consumer with fetch.wait.max.ms=100. A fetch that misses the append that should
wake it delivers that record only when its wait runs out: about 100 ms late."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BrokerProcess

ck = pytest.importorskip("confluent_kafka")

RECORDS = 1000
FETCH_WAIT_MS = 100


@pytest.fixture
def latency_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data").start()
    yield b
    b.stop()


def test_no_record_waits_for_the_fetch_timeout(latency_broker: BrokerProcess) -> None:
    bootstrap = latency_broker.bootstrap
    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    producer.produce("latency", b"warm-up")
    producer.flush(10)
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "latency", "enable.auto.commit": False,
                            "fetch.wait.max.ms": FETCH_WAIT_MS, "fetch.min.bytes": 1})
    consumer.assign([ck.TopicPartition("latency", 0, ck.OFFSET_END)])
    consumer.consume(1, timeout=1)  # settled at the end
    delays: list[float] = []
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            m = consumer.poll(0.05)
            if m is not None and not m.error() and m.value() != b"warm-up":
                delays.append((time.perf_counter_ns() - int(m.value())) / 1e6)

    reader = threading.Thread(target=receive)
    reader.start()
    try:
        for _ in range(RECORDS):
            producer.produce("latency", str(time.perf_counter_ns()).encode(), partition=0)
            producer.flush(10)
        deadline = time.monotonic() + 10
        while len(delays) < RECORDS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join()
        consumer.close()
    assert len(delays) == RECORDS
    late = sorted(d for d in delays if d >= 0.9 * FETCH_WAIT_MS)
    assert len(late) < RECORDS // 100, f"{len(late)} of {RECORDS} records waited out the fetch: {late[:10]} ms"
