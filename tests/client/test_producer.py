"""The producer against real brokers; what it wrote is read back by confluent-kafka or raw fetches."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from kctl.client import Admin, Cluster, KafkaError, NewTopic, TopicPartition
from kctl.client.partitioner import murmur2, partition_for_key
from kctl.client.producer import Producer
from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kctl.protocol.records import iter_batch_headers
from tests.broker.conftest import BrokerProcess

from .conftest import TansuProcess, unique

ck = pytest.importorskip("confluent_kafka")


def read_back(bootstrap: str, topic: str, partitions: int, expected: int) -> list[object]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("reader"),
                            "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    eof: set[int] = set()
    deadline = time.monotonic() + 30
    while (len(eof) < partitions or len(out) < expected) and time.monotonic() < deadline:
        for m in consumer.consume(1000, timeout=0.2):
            if m.error():
                eof.add(m.partition())
            else:
                out.append(m)
    consumer.close()
    return out


async def raw_batches(cluster: Cluster, tp: TopicPartition) -> list[object]:
    node = await cluster.leader(tp)
    response = await cluster.send(node, FetchRequest(
        replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=10 << 20,
        topics=[FetchTopic(tp.topic, [FetchPartition(tp.partition, fetch_offset=0, partition_max_bytes=10 << 20)])]))
    records = response.responses[0].partitions[0].records or b""
    return [header for _, header in iter_batch_headers(records)]


def test_murmur2_matches_the_java_client() -> None:
    # From Kafka's UtilsTest.testMurmur2.
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829, b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             b"abc": 479470107}
    assert {k: murmur2(k) for k in cases} == cases
    kafka = pytest.importorskip("kafka.partitioner.default")
    for _ in range(300):  # and kafka-python's port agrees on anything
        key = os.urandom(os.urandom(1)[0] % 40)
        assert (murmur2(key) & 0x7FFFFFFF) == (kafka.murmur2(key) & 0x7FFFFFFF)


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
async def test_records_round_trip_with_every_codec(any_broker: BrokerProcess | TansuProcess, compression: str) -> None:
    async with Cluster(any_broker.bootstrap) as cluster:
        topic = unique(f"codec-{compression}")
        await Admin(cluster).create_topics([NewTopic(topic, 3)])
        base = int(time.time() * 1000) - 60_000
        async with Producer(cluster, compression=compression, linger_ms=20) as producer:
            futures = [await producer.send(topic, f"value-{i}".encode() * (i % 7 + 1), f"key-{i}".encode(),
                                           headers=[("n", str(i).encode()), ("none", None)], timestamp_ms=base + i)
                       for i in range(600)]
            results = await asyncio.gather(*futures)
    for i, meta in enumerate(results):
        assert meta.partition == partition_for_key(f"key-{i}".encode(), 3)  # where Java would put it
    got = read_back(any_broker.bootstrap, topic, 3, 600)
    assert len(got) == 600
    for m in got:
        i = int(m.key().decode().split("-")[1])
        assert m.value() == f"value-{i}".encode() * (i % 7 + 1)
        assert m.headers() == [("n", str(i).encode()), ("none", None)]
        assert m.timestamp()[1] == base + i
        assert (m.partition(), m.offset()) == (results[i].partition, results[i].offset)


async def test_acks_and_delivery_results(cluster: Cluster, kctl_broker: BrokerProcess) -> None:
    topic = unique("acks")
    await Admin(cluster).create_topics([NewTopic(topic, 1)])
    async with Producer(cluster, acks=1) as producer:
        offsets = [(await producer.send_and_wait(topic, b"one")).offset for _ in range(3)]
        assert offsets == [0, 1, 2]
    async with Producer(cluster, acks=0) as producer:
        fire_and_forget = await producer.send_and_wait(topic, b"zero")
        assert fire_and_forget.offset == -1  # nobody tells an acks=0 producer where it went
    assert len(read_back(kctl_broker.bootstrap, topic, 1, 4)) == 4
    with pytest.raises(KafkaError, match="idempotent"):
        Producer(cluster, acks=1, enable_idempotence=True)
    with pytest.raises(KafkaError, match="compression"):
        Producer(cluster, compression="brotli")


async def test_idempotent_batches_carry_the_producer_id_and_sequences(cluster: Cluster) -> None:
    topic = unique("idempotent")
    await Admin(cluster).create_topics([NewTopic(topic, 1)])
    async with Producer(cluster, linger_ms=0, batch_size=2000) as producer:
        assert producer.producer_id >= 0
        futures = [await producer.send(topic, b"x" * 100) for _ in range(100)]
        await producer.flush()
        offsets = [f.result().offset for f in futures]
    assert offsets == list(range(100))
    headers = await raw_batches(cluster, TopicPartition(topic, 0))
    assert len(headers) > 1
    expected_sequence = 0
    for h in headers:
        assert (h.producer_id, h.producer_epoch) == (producer.producer_id, producer.producer_epoch)
        assert h.base_sequence == expected_sequence
        expected_sequence += h.records_count


async def test_linger_and_batch_size_decide_the_batches(cluster: Cluster) -> None:
    topic = unique("batching")
    await Admin(cluster).create_topics([NewTopic(topic, 2)])
    async with Producer(cluster, linger_ms=200) as producer:
        started = time.monotonic()
        futures = [await producer.send(topic, b"x" * 10, partition=0) for _ in range(50)]
        await asyncio.gather(*futures)
        assert time.monotonic() - started >= 0.15  # it waited for more records
    assert len(await raw_batches(cluster, TopicPartition(topic, 0))) == 1
    async with Producer(cluster, linger_ms=1000, batch_size=1000) as producer:
        futures = [await producer.send(topic, b"x" * 100, partition=1) for _ in range(50)]
        started = time.monotonic()
        await asyncio.gather(*futures[:40])  # the full batches; the last one is still lingering
        assert time.monotonic() - started < 0.9  # full batches left without waiting out the linger
        await producer.flush()
    assert len(await raw_batches(cluster, TopicPartition(topic, 1))) >= 5


async def test_bad_sends_fail_fast_and_clearly(cluster: Cluster) -> None:
    topic = unique("bad-sends")
    await Admin(cluster).create_topics([NewTopic(topic, 2)])
    async with Producer(cluster, max_request_size=10_000) as producer:
        with pytest.raises(KafkaError, match="no partition 5"):
            await producer.send(topic, b"x", partition=5)
        with pytest.raises(KafkaError) as too_big:
            await producer.send(topic, b"x" * 20_000)
        assert too_big.value.code is ErrorCode.MESSAGE_TOO_LARGE
        await Admin(cluster).alter_group_offsets(unique("g"), {})  # makes sure __consumer_offsets exists
        started = time.monotonic()
        with pytest.raises(KafkaError) as refused:
            await producer.send_and_wait("__consumer_offsets", b"sneaky", b"key")
        assert refused.value.code is ErrorCode.INVALID_TOPIC_EXCEPTION
        assert time.monotonic() - started < 5  # not retried until the delivery timeout
    with pytest.raises(KafkaError, match="not started"):
        await Producer(cluster).send(topic, b"x")
