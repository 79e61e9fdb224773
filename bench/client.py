"""Client benchmark: kctl's client next to aiokafka and kafka-python, against the same broker.

One built-in broker is started; each client in turn produces the same records (acks=all,
idempotent, 5 ms linger, 256 KiB batches) to a fresh 8-partition topic, then reads them all back
by assignment. Asyncio clients run on uvloop when it is installed, all of them on the same loop
kind.

    python bench/client.py            # 300,000 records of 100 B and 100,000 of 1 KB
    python bench/client.py --quick    # a tenth of that, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.broker.conftest import BrokerProcess  # noqa: E402

PARTITIONS = 8
BATCH = 256 * 1024
LINGER_MS = 5


# ---- kctl ----------------------------------------------------------------------------------------
async def kctl_produce(bootstrap: str, topic: str, value: bytes, count: int) -> None:
    from kctl.client import Cluster
    from kctl.client.producer import Producer

    async with Cluster(bootstrap) as cluster, Producer(cluster, linger_ms=LINGER_MS, batch_size=BATCH) as producer:
        send = producer.send
        for _ in range(count):
            await send(topic, value)
        await producer.flush()


async def kctl_consume(bootstrap: str, topic: str, count: int) -> None:
    from kctl.client import Cluster, TopicPartition
    from kctl.client.consumer import Consumer

    async with Cluster(bootstrap) as cluster, Consumer(cluster, auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        got = 0
        while got < count:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                got += len(records)


# ---- aiokafka ------------------------------------------------------------------------------------
async def aiokafka_produce(bootstrap: str, topic: str, value: bytes, count: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=LINGER_MS, max_batch_size=BATCH)
    await producer.start()
    try:
        send = producer.send
        for _ in range(count):
            await send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()


async def aiokafka_consume(bootstrap: str, topic: str, count: int) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        got = 0
        while got < count:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                got += len(records)
    finally:
        await consumer.stop()


# ---- kafka-python --------------------------------------------------------------------------------
def kafka_python_produce(bootstrap: str, topic: str, value: bytes, count: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=LINGER_MS, batch_size=BATCH)
    send = producer.send
    for _ in range(count):
        send(topic, value)
    producer.flush()
    producer.close()


def kafka_python_consume(bootstrap: str, topic: str, count: int) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    got = 0
    while got < count:
        for records in consumer.poll(1000, max_records=100_000).values():
            got += len(records)
    consumer.close()


def create_topic(bootstrap: str, topic: str) -> None:
    from kctl.client import Admin, Cluster, NewTopic

    async def create() -> None:
        async with Cluster(bootstrap) as cluster:
            errors = await Admin(cluster).create_topics([NewTopic(topic, PARTITIONS)])
            if errors[topic] is not None:
                raise errors[topic]

    asyncio.run(create())


def timed(run: Callable[..., object], *args: object) -> float:
    """Seconds for one run; coroutines get a fresh event loop, started before the clock."""
    if asyncio.iscoroutinefunction(run):
        async def measured() -> float:
            started = time.perf_counter()
            await run(*args)
            return time.perf_counter() - started

        return asyncio.run(measured())
    started = time.perf_counter()
    run(*args)
    return time.perf_counter() - started


CLIENTS: dict[str, tuple[Callable[..., object], Callable[..., object]]] = {
    "kctl": (kctl_produce, kctl_consume),
    "aiokafka": (aiokafka_produce, aiokafka_consume),
    "kafka-python": (kafka_python_produce, kafka_python_consume),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (CI smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="runs per figure; the median is shown")
    args = parser.parse_args()
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    scale = 10 if args.quick else 1
    rounds = args.rounds or (1 if args.quick else 3)
    sizes = {100: 300_000 // scale, 1000: 100_000 // scale}
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-client-bench-")) / "data").start()
    results: dict[str, dict[str, float]] = {name: {} for name in CLIENTS}
    try:
        for size, count in sizes.items():
            value = os.urandom(size)
            for name, (produce, consume) in CLIENTS.items():
                produce_times, consume_times = [], []
                for round_ in range(rounds):
                    topic = f"bench-{name}-{size}-{round_}"
                    create_topic(broker.bootstrap, topic)
                    produce_times.append(timed(produce, broker.bootstrap, topic, value, count))
                    consume_times.append(timed(consume, broker.bootstrap, topic, count))
                results[name][f"produce {size} B records/s"] = count / statistics.median(produce_times)
                results[name][f"consume {size} B records/s"] = count / statistics.median(consume_times)
                results[name][f"produce {size} B MB/s"] = count * size / statistics.median(produce_times) / 1e6
                results[name][f"consume {size} B MB/s"] = count * size / statistics.median(consume_times) / 1e6
    finally:
        broker.stop()

    names = list(CLIENTS)
    print(f"\nclients against kctl's broker, {loop_name}, median of {rounds}")
    print(f"{'':28}" + "".join(f"{n:>14}" for n in names) + "   kctl/aiokafka")
    for label in results["kctl"]:
        values = [results[n][label] for n in names]
        fmt = ",.0f" if "records" in label else ".1f"
        print(f"{label:28}" + "".join(f"{v:>14{fmt}}" for v in values) + f"   {values[0] / values[1]:12.2f}x")
    worst = min(results["kctl"][k] / results["aiokafka"][k] for k in results["kctl"])
    print(f"\ntarget: kctl at least aiokafka on every figure: {'met' if worst >= 1 else 'MISSED'} "
          f"(lowest ratio {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
