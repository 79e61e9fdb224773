"""kctl's transactional producer and read_committed consumer, on the built-in broker and on Apache
Kafka, checked against confluent-kafka reading the same topics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from kctl.client import Admin, Cluster, KafkaError, NewTopic, TopicPartition
from kctl.client.consumer import Consumer
from kctl.client.producer import Producer
from kctl.protocol.errors import ErrorCode
from tests.broker.conftest import BrokerProcess
from tests.support.apache_kafka import KafkaCluster

from .conftest import eventually, unique

ck = pytest.importorskip("confluent_kafka")


@pytest.fixture(params=["kctl_broker", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)  # started outside the loop
    return broker.bootstrap


@pytest.fixture
async def cluster(bootstrap: str) -> AsyncIterator[Cluster]:
    async with Cluster(bootstrap, client_id="kctl-txn-test") as c:
        yield c


async def create(cluster: Cluster, topic: str, partitions: int = 1) -> None:
    assert await Admin(cluster).create_topics([NewTopic(topic, partitions, 1)]) == {topic: None}


def confluent_read(bootstrap: str, topic: str, isolation: str) -> list[str]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("ck"), "isolation.level": isolation,
                            "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    out: list[str] = []
    quiet = time.monotonic()
    try:
        while time.monotonic() - quiet < 1.5:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                out.append(message.value().decode())
                quiet = time.monotonic()
    finally:
        consumer.close()
    return out


async def kctl_read(cluster: Cluster, topic: str, isolation: str, expected: int) -> list[str]:
    async with Consumer(cluster, isolation_level=isolation, auto_offset_reset="earliest") as consumer:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        out: list[str] = []
        deadline = time.monotonic() + 10
        while len(out) < expected and time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=300)
            out += [r.value.decode() for r in got.get(tp, []) if r.value is not None]
        got = await consumer.getmany(timeout_ms=500)  # nothing more comes
        out += [r.value.decode() for r in got.get(tp, []) if r.value is not None]
        return out


async def test_commit_abort_and_read_committed(cluster: Cluster, bootstrap: str) -> None:
    topic = unique("ktx")
    await create(cluster, topic)
    async with Producer(cluster, transactional_id=unique("ktx")) as producer:
        for kind, commit in (("committed", True), ("aborted", False), ("after", True)):
            producer.begin()
            for i in range(3):
                await producer.send(topic, f"{kind}-{i}".encode(), partition=0)
            if commit:
                await producer.commit()
            else:
                await producer.flush()  # on the broker, then aborted
                await producer.abort()
    committed = [f"committed-{i}" for i in range(3)] + [f"after-{i}" for i in range(3)]
    everything = [f"committed-{i}" for i in range(3)] + [f"aborted-{i}" for i in range(3)] + committed[3:]
    assert await kctl_read(cluster, topic, "read_committed", 6) == committed
    assert await kctl_read(cluster, topic, "read_uncommitted", 9) == everything
    assert confluent_read(bootstrap, topic, "read_committed") == committed


async def test_offsets_sent_to_a_transaction_commit_with_it(cluster: Cluster) -> None:
    source, group = unique("kin"), unique("kgroup")
    await create(cluster, source)
    tp = TopicPartition(source, 0)
    async with Producer(cluster, transactional_id=unique("koff")) as producer:
        producer.begin()
        await producer.send_offsets_to_transaction({tp: 3}, group)
        await producer.abort()
        producer.begin()
        await producer.send_offsets_to_transaction({tp: 5}, group)
        await producer.commit()

    async def committed() -> int | None:
        found = (await Admin(cluster).list_group_offsets([group]))[group].get(tp)
        return None if found is None else found.offset

    # Apache Kafka writes the markers after answering EndTxn: the offset shows a moment later.
    await eventually(lambda: committed(), what="the offset committed with the transaction")
    assert await committed() == 5  # never the aborted 3


async def test_a_second_producer_fences_the_first(cluster: Cluster) -> None:
    topic, txid = unique("kfence"), unique("kfence")
    await create(cluster, topic)
    async with Producer(cluster, transactional_id=txid) as zombie:
        zombie.begin()
        await (await zombie.send(topic, b"zombie", partition=0))
        async with Producer(cluster, transactional_id=txid) as successor:
            with pytest.raises(KafkaError) as fenced:
                await zombie.commit()
            assert fenced.value.code in (ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH)
            successor.begin()
            await successor.send(topic, b"successor", partition=0)
            await successor.commit()
    assert await kctl_read(cluster, topic, "read_committed", 1) == ["successor"]


async def test_sending_outside_a_transaction_is_refused(cluster: Cluster) -> None:
    async with Producer(cluster, transactional_id=unique("kout")) as producer:
        with pytest.raises(KafkaError, match="begin a transaction"):
            await producer.send(unique("none"), b"x")
        with pytest.raises(KafkaError, match="no transaction"):
            await producer.commit()
