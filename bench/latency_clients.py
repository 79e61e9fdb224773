"""End-to-end latency the way clients see it, for bench/broker.py.

Each client library both produces and consumes: one record at a time with acks=all, waiting for
each acknowledgement before the next (a request/response service's traffic), while a consumer of
the same library reads the partition: in a process of its own for the thread-based clients
(librdkafka, kafka-python), in the same event loop for the asyncio ones. The record carries its
send time; the delay is measured when the consumer hands it to the application. A broker that
misses the append that should wake a parked fetch shows here as records arriving a whole fetch
wait late.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import time
from collections.abc import Awaitable, Callable
from typing import Any

Delays = list[float]  # milliseconds, one per record
_SPAWN = multiprocessing.get_context("spawn")  # a fork would copy librdkafka's threads' locks

#: Each client sends for at most this long: a broker whose fetches wait out their timeout (500 ms
#: a record) would otherwise take over an hour for 10,000 samples. Fewer samples are then reported.
BUDGET_S = 60.0


def _stamp() -> bytes:
    return str(time.perf_counter_ns()).encode()


def _delay(value: bytes) -> float:
    return (time.perf_counter_ns() - int(value)) / 1e6


def _collect(reader: Callable[..., None], reader_args: tuple[object, ...], samples: int, send: Callable[[], None],
             settle: Callable[[], None]) -> Delays:
    """A reader process polls while this process sends `samples` records one at a time.

    The reader is a process of its own, as a consumer is a service of its own: with the
    producer's threads in the same interpreter, a woken reader waits for the GIL (up to its
    5 ms switch interval), and that wait, not the broker, would be what the p99 measures.
    Both processes stamp times with the same monotonic clock.
    """
    settle()
    ready, stop, out = _SPAWN.Event(), _SPAWN.Event(), _SPAWN.Queue()
    proc = _SPAWN.Process(target=_read_into, args=(reader, reader_args, ready, stop, out), daemon=True)
    proc.start()
    delays: Delays = []
    sent = 0
    try:
        if not ready.wait(60):
            raise RuntimeError("the reader process did not start")
        budget_ends = time.monotonic() + BUDGET_S
        while sent < samples and time.monotonic() < budget_ends:
            send()
            sent += 1
        deadline = time.monotonic() + 30
        while len(delays) < sent and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                delays.extend(out.get(timeout=0.5))
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    if len(delays) < sent:
        raise RuntimeError(f"received {len(delays)} of {sent} records")
    return delays


def _read_into(reader: Callable[..., None], reader_args: tuple[object, ...], ready: Any, stop: Any, out: Any) -> None:
    """The reader process: `reader` builds its consumer, then calls `poll` until `stop`."""
    def deliver(values: list[bytes]) -> None:
        if values:
            out.put([_delay(v) for v in values])

    reader(*reader_args, ready=ready, stop=stop, deliver=deliver)


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

    def settle() -> None:
        producer.produce(topic, b"0", partition=0)
        producer.flush(10)

    def send() -> None:
        producer.produce(topic, _stamp(), partition=0)
        producer.flush(10)

    return _collect(_librdkafka_reader, (bootstrap, topic, fetch_wait_ms), samples, send, settle)


def _librdkafka_reader(bootstrap: str, topic: str, fetch_wait_ms: int, *, ready: Any, stop: Any,
                       deliver: Callable[[list[bytes]], None]) -> None:
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"lat-{topic}", "enable.auto.commit": False,
                            "fetch.wait.max.ms": fetch_wait_ms, "fetch.min.bytes": 1})
    try:
        end = consumer.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([ck.TopicPartition(topic, 0, end)])  # an explicit offset: nothing is skipped
        consumer.consume(1, timeout=0.5)
        ready.set()
        while not stop.is_set():
            m = consumer.poll(0.05)
            deliver([m.value()] if m is not None and not m.error() else [])
    finally:
        consumer.close()


def kafka_python(bootstrap: str, topic: str, samples: int) -> Delays:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)

    def settle() -> None:
        producer.send(topic, b"0", partition=0).get(10)

    def send() -> None:
        producer.send(topic, _stamp(), partition=0).get(10)

    try:
        return _collect(_kafka_python_reader, (bootstrap, topic), samples, send, settle)
    finally:
        producer.close()


def _kafka_python_reader(bootstrap: str, topic: str, *, ready: Any, stop: Any,
                         deliver: Callable[[list[bytes]], None]) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        consumer.seek_to_end(tp)
        consumer.position(tp)
        ready.set()
        while not stop.is_set():
            deliver([r.value for records in consumer.poll(timeout_ms=50).values() for r in records])
    finally:
        consumer.close()


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
