"""kctl's consumer on the consumer group protocol (KIP-848, `group_protocol="consumer"`), on the
built-in broker and on Apache Kafka 4.4: the coordinator assigns, members share the partitions,
one leaving hands its partitions to the other, and commits carry the member epoch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kctl.client import Admin, Cluster, KafkaError
from kctl.client.consumer import Consumer
from kctl.client.consumer_group_member import ConsumerProtocolMember
from tests.broker.conftest import BrokerProcess
from tests.conftest import FAST_CONSUMER_GROUPS
from tests.support.apache_kafka import KafkaCluster

from .conftest import eventually, unique
from .test_consumer import fill


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("kip848") / "data",
                      {k: int(v) for k, v in FAST_CONSUMER_GROUPS.items() if not k.startswith("group.consumer.min")})
    b.start()
    yield b
    assert b.stop() == 0, b.log()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    return broker.bootstrap


def member(consumer: Consumer) -> ConsumerProtocolMember:
    assert isinstance(consumer.member, ConsumerProtocolMember)
    return consumer.member


async def read_all(consumers: list[Consumer], wanted: int, seen: set[tuple[int, int]]) -> None:
    async def until_done() -> None:
        while len(seen) < wanted:
            for consumer in consumers:
                for tp, records in (await consumer.getmany(timeout_ms=100)).items():
                    seen.update((tp.partition, r.offset) for r in records)
                await consumer.commit()

    await asyncio.wait_for(until_done(), 60)


async def test_two_members_share_a_topic_and_one_hands_over_on_leaving(bootstrap: str) -> None:
    async with Cluster(bootstrap) as cluster:
        topic, group = unique("kip848"), unique("kip848-group")
        await fill(cluster, topic, 4, 100)
        consumers = [Consumer(cluster, group_id=group, group_protocol="consumer", auto_offset_reset="earliest",
                              enable_auto_commit=False) for _ in range(2)]
        for consumer in consumers:
            consumer.subscribe([topic])
            await consumer.start()
        seen: set[tuple[int, int]] = set()
        await read_all(consumers, 400, seen)
        await eventually(lambda: sorted(len(c.assignment()) for c in consumers) == [2, 2], timeout=30)
        assert member(consumers[0]).generation > 0 and member(consumers[0]).member_id

        await consumers[0].close()  # leaves (epoch -1): the other gets everything at once
        await eventually(lambda: len(consumers[1].assignment()) == 4, timeout=30)
        await fill_more(cluster, topic)
        await read_all(consumers[1:], 800, seen)
        await consumers[1].commit()
        offsets = (await Admin(cluster).list_group_offsets({group: None}))[group]
        assert {tp.partition: o.offset for tp, o in offsets.items()} == {p: 200 for p in range(4)}
        await consumers[1].close()
        described = (await Admin(cluster).describe_groups([group]))[group]
        assert (described.type, described.state) == ("consumer", "Empty")


async def fill_more(cluster: Cluster, topic: str) -> None:
    from kctl.client.producer import Producer

    async with Producer(cluster, linger_ms=5) as producer:
        for p in range(4):
            for i in range(100):
                await producer.send(topic, f"{p}:{100 + i}".encode(), partition=p)
        await producer.flush()


async def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(KafkaError, match="group_protocol must be classic or consumer"):
        Consumer(Cluster("127.0.0.1:1"), group_id="g", group_protocol="share")
