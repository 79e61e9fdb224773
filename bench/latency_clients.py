"""End-to-end latency the way clients see it, for bench/broker.py.

Each client library both produces and consumes: one record at a time with acks=all, waiting for
each acknowledgement before the next (a request/response service's traffic), while a consumer of
the same library reads the partition. The record carries its send time; the delay is measured
when the consumer hands it to the application. A broker that misses the append that should wake
a parked fetch shows here as records arriving a whole fetch wait late.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

Delays = list[float]  # milliseconds, one per record

#: Each client sends for at most this long: a broker whose fetches wait out their timeout (500 ms
#: a record) would otherwise take over an hour for 10,000 samples. Fewer samples are then reported.
BUDGET_S = 60.0


def _stamp() -> bytes:
    return str(time.perf_counter_ns()).encode()


def _delay(value: bytes) -> float:
    return (time.perf_counter_ns() - int(value)) / 1e6


def _collect(poll: Callable[[], list[bytes]], samples: int, send: Callable[[], None], settle: Callable[[], None]
             ) -> Delays:
    """A reader thread polls while this thread sends `samples` records one at a time."""
    delays: Delays = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            delays.extend(_delay(v) for v in poll())

    settle()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        budget_ends = time.monotonic() + BUDGET_S
        while sent < samples and time.monotonic() < budget_ends:
            send()
            sent += 1
        deadline = time.monotonic() + 30
        while len(delays) < sent and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join(10)
    if len(delays) < sent:
        raise RuntimeError(f"received {len(delays)} of {sent} records")
    return delays


async def _collect_async(poll: Callable[[], Awaitable[list[bytes]]], samples: int,
                         send: Callable[[], Awaitable[None]]) -> Delays:
    """The asyncio clients' form of `_collect`: a reader task polls while records go one at a time."""
    delays: Delays = []
    sent, sending = 0, True

    async def read() -> None:
        while sending or len(delays) < sent:
            delays.extend(_delay(v) for v in await poll())

    reader = asyncio.create_task(read())
    budget_ends = time.monotonic() + BUDGET_S
    while sent < samples and time.monotonic() < budget_ends:
        await send()
        sent += 1
    sending = False
    await asyncio.wait_for(reader, 30)
    return delays


def librdkafka(bootstrap: str, topic: str, samples: int, fetch_wait_ms: int) -> Delays:
    import confluent_kafka as ck

    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"lat-{topic}", "enable.auto.commit": False,
                            "fetch.wait.max.ms": fetch_wait_ms, "fetch.min.bytes": 1})

    def settle() -> None:
        producer.produce(topic, b"0", partition=0)
        producer.flush(10)
        end = consumer.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([ck.TopicPartition(topic, 0, end)])  # an explicit offset: nothing is skipped
        consumer.consume(1, timeout=0.5)

    def poll() -> list[bytes]:
        m = consumer.poll(0.05)
        return [m.value()] if m is not None and not m.error() else []

    def send() -> None:
        producer.produce(topic, _stamp(), partition=0)
        producer.flush(10)

    try:
        return _collect(poll, samples, send, settle)
    finally:
        consumer.close()


def kafka_python(bootstrap: str, topic: str, samples: int) -> Delays:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    tp = TopicPartition(topic, 0)

    def settle() -> None:
        producer.send(topic, b"0", partition=0).get(10)
        consumer.assign([tp])
        consumer.seek_to_end(tp)
        consumer.position(tp)

    def poll() -> list[bytes]:
        return [r.value for records in consumer.poll(timeout_ms=50).values() for r in records]

    def send() -> None:
        producer.send(topic, _stamp(), partition=0).get(10)

    try:
        return _collect(poll, samples, send, settle)
    finally:
        consumer.close()
        producer.close()


def aiokafka(bootstrap: str, topic: str, samples: int) -> Delays:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    async def run() -> Delays:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
        await producer.start()
        await consumer.start()
        tp = TopicPartition(topic, 0)
        try:
            await producer.send_and_wait(topic, b"0", partition=0)
            consumer.assign([tp])
            await consumer.seek_to_end(tp)
            await consumer.position(tp)

            async def poll() -> list[bytes]:
                return [r.value for rs in (await consumer.getmany(timeout_ms=50)).values() for r in rs]

            async def send() -> None:
                await producer.send_and_wait(topic, _stamp(), partition=0)

            return await _collect_async(poll, samples, send)
        finally:
            await consumer.stop()
            await producer.stop()

    return asyncio.run(run())


def kctl_client(bootstrap: str, topic: str, samples: int) -> Delays:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from kctl.client import Cluster, TopicPartition
    from kctl.client.consumer import Consumer
    from kctl.client.producer import Producer

    async def run() -> Delays:
        async with Cluster(bootstrap) as cluster, Producer(cluster, linger_ms=0) as producer:
            await producer.send_and_wait(topic, b"0", partition=0)
            consumer = Consumer(cluster, fetch_max_wait_ms=100)
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            async with consumer:
                await consumer.seek_to_end(tp)

                async def poll() -> list[bytes]:
                    return [r.value or b"0" for rs in (await consumer.getmany(timeout_ms=50)).values() for r in rs]

                async def send() -> None:
                    await producer.send_and_wait(topic, _stamp(), partition=0)

                return await _collect_async(poll, samples, send)

    return asyncio.run(run())


def percentiles(delays: Delays) -> tuple[float, float, float, float]:
    """p50, p99, p99.9 and max, in ms."""
    ordered = sorted(delays)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, max(0, round(q * n) - 1))]

    return at(0.50), at(0.99), at(0.999), ordered[-1]


#: name -> run(bootstrap, topic, samples)
CLIENTS: dict[str, Callable[[str, str, int], Delays]] = {
    "librdkafka, fetch wait 100 ms": lambda b, t, n: librdkafka(b, t, n, 100),
    "librdkafka, fetch wait 500 ms": lambda b, t, n: librdkafka(b, t, n, 500),
    "kafka-python": kafka_python,
    "aiokafka": aiokafka,
    "kctl client": kctl_client,
}
