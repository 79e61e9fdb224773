"""Avro decoding: `kctl tail` next to confluent-kafka's AvroDeserializer, on the same records.

A built-in broker with its Schema Registry holds N Avro records of an order (a long, strings, a
decimal, a timestamp, an enum, a union and an array of items) in Confluent's format. Two rows:

- end to end, what a user sees: `kctl tail TOPIC --from beginning -n N -o jsonl` into a pipe,
  next to a confluent-kafka Consumer that deserializes each record with AvroDeserializer and
  writes it as a JSON line (as a script would), both reading the same topic from the same broker;
- decode only, in one process: kctl's record decoder and AvroDeserializer over the same payloads.

Target: kctl at least as fast as AvroDeserializer (records/s) in both rows.

    python bench/schemas.py            # 200,000 records
    python bench/schemas.py --quick    # 20,000 records, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.broker.conftest import BrokerProcess, free_port  # noqa: E402

ORDER = {
    "type": "record", "name": "Order", "namespace": "bench",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "items", "type": {"type": "array", "items": {
            "type": "record", "name": "Item", "fields": [{"name": "sku", "type": "string"},
                                                         {"name": "qty", "type": "int"}]}}},
    ],
}
TOPIC = "orders"


def payloads(url: str, count: int) -> list[bytes]:
    from datetime import UTC, datetime

    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serializer = AvroSerializer(SchemaRegistryClient({"url": url}), json.dumps(ORDER))
    ctx = SerializationContext(TOPIC, MessageField.VALUE)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [serializer({"id": i, "customer": f"customer-{i % 997}", "price": Decimal(f"{i % 10000}.{i % 100:02d}"),
                        "at": at, "status": "PAID", "note": None if i % 3 else "gift",
                        "items": [{"sku": f"sku-{i % 50}", "qty": 1 + i % 4}, {"sku": "bag", "qty": 1}]}, ctx)
            for i in range(count)]


def load(bootstrap: str, values: list[bytes]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 2_000_000})
    for value in values:
        while True:
            try:
                producer.produce(TOPIC, value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def kctl_tail(bootstrap: str, url: str, count: int) -> tuple[float, int]:
    env = {**os.environ, "KCTL_BOOTSTRAP_SERVERS": bootstrap, "KCTL_SCHEMA_REGISTRY": url}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kctl", "tail", TOPIC, "--from", "beginning", "-n", str(count),
                           "-o", "jsonl"], env=env, capture_output=True, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-1000:])
    lines = done.stdout.count(b"\n")
    return elapsed, lines


CONFLUENT_SCRIPT = """
import json, sys
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

bootstrap, url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deserialize = AvroDeserializer(SchemaRegistryClient({"url": url}))
ctx = SerializationContext(topic, MessageField.VALUE)
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                     "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
consumer.assign([TopicPartition(topic, 0, 0)])
write, seen = sys.stdout.write, 0
while seen < count:
    for m in consumer.consume(10000, 5):
        if m.error():
            continue
        value = deserialize(m.value(), ctx)
        write(json.dumps({"topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                          "value": value}, default=str) + "\\n")
        seen += 1
consumer.close()
"""


def confluent_tail(bootstrap: str, url: str, count: int) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CONFLUENT_SCRIPT, bootstrap, url, TOPIC, str(count)],
                          capture_output=True, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-1000:])
    return elapsed, done.stdout.count(b"\n")


def decode_only(url: str, values: list[bytes]) -> tuple[float, float]:
    """Records/s of kctl's decoder and of AvroDeserializer over the same payloads, in this process."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from kctl.client.schema_registry import RecordDecoder, RegistryClient, RegistrySettings

    async def ours() -> float:
        async with RegistryClient(RegistrySettings(url)) as registry:
            decoder = RecordDecoder(registry)
            await decoder.prepare(values[:1])
            decode = decoder.decode
            started = time.perf_counter()
            for value in values:
                decode(value)
            return len(values) / (time.perf_counter() - started)

    kctl_rate = asyncio.run(ours())
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": url}))
    ctx = SerializationContext(TOPIC, MessageField.VALUE)
    deserialize(values[0], ctx)
    started = time.perf_counter()
    for value in values:
        deserialize(value, ctx)
    return kctl_rate, len(values) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records (CI smoke run)")
    args = parser.parse_args()
    count = 20_000 if args.quick else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        broker = BrokerProcess(Path(tmp) / "data", {"num.partitions": 1}, registry_port=free_port()).start()
        try:
            values = payloads(broker.registry_url, count)
            load(broker.bootstrap, values)
            rows: dict[str, Any] = {}
            for name, run in (("kctl tail -o jsonl", kctl_tail), ("confluent-kafka + AvroDeserializer",
                                                                  confluent_tail)):
                times = []
                for _ in range(1 if args.quick else 3):
                    elapsed, lines = run(broker.bootstrap, broker.registry_url, count)
                    if lines != count:
                        raise RuntimeError(f"{name} printed {lines} records, not {count}")
                    times.append(elapsed)
                rows[name] = count / min(times)
            ours, theirs = decode_only(broker.registry_url, values)
        finally:
            broker.stop()
    print(f"\nAvro decoding, {count:,} records of a 7-field order (decimal, timestamp, enum, union, array)")
    print(f"{'':44}{'kctl':>14}{'confluent-kafka':>18}{'ratio':>8}")
    end_to_end = rows["kctl tail -o jsonl"], rows["confluent-kafka + AvroDeserializer"]
    print(f"{'  end to end, records/s (JSON lines out)':44}{end_to_end[0]:>14,.0f}{end_to_end[1]:>18,.0f}"
          f"{end_to_end[0] / end_to_end[1]:>8.2f}")
    print(f"{'  decode only, records/s':44}{ours:>14,.0f}{theirs:>18,.0f}{ours / theirs:>8.2f}")
    met = end_to_end[0] >= end_to_end[1] and ours >= theirs
    print(f"\ntarget: kctl at least as fast as AvroDeserializer: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
