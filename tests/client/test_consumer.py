"""The consumer: assignment, seeks, pause, commits, and groups of our consumers and librdkafka's."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from kctl.client import Admin, Cluster, KafkaError, NewTopic, TopicPartition
from kctl.client.consumer import Consumer
from kctl.client.producer import Producer
from tests.broker.conftest import BrokerProcess

from .conftest import TansuProcess, eventually, unique

QUICK_GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 200, "auto_offset_reset": "earliest"}


async def fill(
    cluster: Cluster, topic: str, partitions: int, per_partition: int, *, start_ms: int | None = None
) -> None:
    await Admin(cluster).create_topics([NewTopic(topic, partitions)])
    async with Producer(cluster, linger_ms=5) as producer:
        for p in range(partitions):
            for i in range(per_partition):
                ts = None if start_ms is None else start_ms + i * 1000
                await producer.send(topic, f"{p}:{i}".encode(), partition=p, timestamp_ms=ts)
        await producer.flush()


async def drain(consumer: Consumer, count: int, timeout: float = 20) -> list[tuple[int, int, bytes | None]]:
    got: list[tuple[int, int, bytes | None]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for tp, records in (await consumer.getmany(timeout_ms=200)).items():
            got.extend((tp.partition, r.offset, r.value) for r in records)
    return got


async def test_assign_and_seek_every_way(any_broker: BrokerProcess | TansuProcess) -> None:
    async with Cluster(any_broker.bootstrap) as cluster:
        topic = unique("seek")
        base = int(time.time() * 1000) - 100_000
        await fill(cluster, topic, 2, 20, start_ms=base)
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        async with Consumer(cluster, auto_offset_reset="earliest") as consumer:
            consumer.assign(tps)
            records = await drain(consumer, 40)
            assert sorted((p, o) for p, o, _ in records) == [(p, o) for p in (0, 1) for o in range(20)]
            for p in (0, 1):  # per-partition order kept
                assert [o for q, o, _ in records if q == p] == list(range(20))
            consumer.seek(tps[0], 15)
            assert [(p, o) for p, o, _ in await drain(consumer, 5)] == [(0, o) for o in range(15, 20)]
            if isinstance(any_broker, BrokerProcess):  # Tansu answers a timestamp lookup with the start
                await consumer.seek_to_timestamp({tps[1]: base + 10_500})
                assert [o for _, o, _ in await drain(consumer, 9)] == list(range(11, 20))
            await consumer.seek_to_beginning(tps[0])
            assert consumer.position(tps[0]) == 0
            assert len(await drain(consumer, 20)) == 20
            if isinstance(any_broker, BrokerProcess):  # Tansu's latest is the last batch's base offset
                await consumer.seek_to_end()
                assert consumer.position(tps[0]) == 20 and await consumer.getmany(timeout_ms=300) == {}


async def test_async_iteration_and_pause_resume(cluster: Cluster) -> None:
    topic = unique("iterate")
    await fill(cluster, topic, 2, 10)
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    async with Consumer(cluster, auto_offset_reset="earliest") as consumer:
        consumer.assign(tps)
        consumer.pause(tps[1])
        seen = []
        async for record in consumer:
            seen.append((record.partition, record.offset))
            if len(seen) == 10:
                break
        assert seen == [(0, o) for o in range(10)]
        assert await consumer.getmany(timeout_ms=300) == {}  # partition 1 is paused
        assert consumer.paused() == {tps[1]}
        consumer.resume(tps[1])
        assert sorted(o for _, o, _ in await drain(consumer, 10)) == list(range(10))


async def test_explicit_and_automatic_commits(cluster: Cluster) -> None:
    topic, group = unique("commits"), unique("commit-group")
    await fill(cluster, topic, 1, 30)
    tp = TopicPartition(topic, 0)
    async with Consumer(cluster, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest") as consumer:
        consumer.assign([tp])
        await drain(consumer, 30)
        await consumer.commit({tp: 12})
        assert (await consumer.committed([tp]))[tp].offset == 12
    async with Consumer(cluster, group_id=group, auto_offset_reset="earliest") as consumer:
        consumer.assign([tp])  # no seek: it starts at the committed offset
        got = await drain(consumer, 18)
        assert [o for _, o, _ in got] == list(range(12, 30))
    # closing committed what had been handed out (automatic commits are on by default with a group)
    offsets = await Admin(cluster).list_group_offsets([group])
    assert offsets[group][tp].offset == 30
    with pytest.raises(KafkaError, match="group_id"):
        await Consumer(cluster).commit()


class Recorder:
    def __init__(self) -> None:
        self.revoked: list[set[TopicPartition]] = []
        self.assigned: list[set[TopicPartition]] = []

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        self.revoked.append(partitions)

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        self.assigned.append(partitions)


async def run_members(bootstrap: str, topic: str, group: str, count: int, assignor: str, stop: asyncio.Event,
                      consumers: list[Consumer], recorders: list[Recorder], delay: float = 0) -> None:
    async def member(i: int) -> None:
        await asyncio.sleep(delay * i)
        async with Cluster(bootstrap, client_id=f"member-{i}") as cluster:
            recorder = Recorder()
            consumer = Consumer(cluster, group_id=group, assignors=[assignor], listener=recorder, **QUICK_GROUP)
            consumer.subscribe([topic])
            consumers.append(consumer)
            recorders.append(recorder)
            async with consumer:
                while not stop.is_set():
                    await consumer.getmany(timeout_ms=100)

    await asyncio.gather(*(member(i) for i in range(count)))


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "cooperative-sticky"])
async def test_our_consumers_share_a_topic(any_broker: BrokerProcess | TansuProcess, assignor: str) -> None:
    topic, group = unique(f"share-{assignor}"), unique("share-group")
    async with Cluster(any_broker.bootstrap) as cluster:
        await fill(cluster, topic, 6, 5)
    stop = asyncio.Event()
    consumers: list[Consumer] = []
    recorders: list[Recorder] = []
    members = asyncio.create_task(run_members(any_broker.bootstrap, topic, group, 3, assignor, stop, consumers,
                                              recorders))
    try:
        def spread() -> bool:
            held = [c.assignment() for c in consumers]
            return len(held) == 3 and all(len(h) == 2 for h in held) and len(set().union(*held)) == 6

        await eventually(spread, 30, "three members with two partitions each")
    finally:
        stop.set()
        await members


async def test_cooperative_rebalance_keeps_what_stays(kctl_broker: BrokerProcess) -> None:
    topic, group = unique("sticky"), unique("sticky-group")
    async with Cluster(kctl_broker.bootstrap) as cluster:
        await fill(cluster, topic, 6, 1)
    stop = asyncio.Event()
    consumers: list[Consumer] = []
    recorders: list[Recorder] = []
    first = asyncio.create_task(run_members(kctl_broker.bootstrap, topic, group, 2, "cooperative-sticky", stop,
                                            consumers, recorders))
    try:
        await eventually(lambda: len(consumers) == 2 and all(len(c.assignment()) == 3 for c in consumers), 30,
                         "two members with three partitions each")
        before = [set(c.assignment()) for c in consumers]
        # Revocations from here on: the first two may already have split six partitions between them.
        seen = [len(r.revoked) for r in recorders[:2]]
        third = asyncio.create_task(run_members(kctl_broker.bootstrap, topic, group, 1, "cooperative-sticky", stop,
                                                consumers, recorders))
        await eventually(lambda: len(consumers) == 3 and all(len(c.assignment()) == 2 for c in consumers), 30,
                         "three members with two partitions each")
        for consumer, held in zip(consumers[:2], before, strict=True):
            assert consumer.assignment() <= held  # kept partitions stayed put
        for recorder, held, skip in zip(recorders[:2], before, seen, strict=True):
            revoked = set().union(*recorder.revoked[skip:])
            assert len(revoked) == 1 and revoked <= held  # only the one that moved was given up
    finally:
        stop.set()
        await first
        await third


async def test_a_group_of_our_consumer_and_librdkafka(kctl_broker: BrokerProcess) -> None:
    ck = pytest.importorskip("confluent_kafka")
    topic, group = unique("mixed"), unique("mixed-group")
    async with Cluster(kctl_broker.bootstrap) as cluster:
        await fill(cluster, topic, 6, 10)
    stop = threading.Event()
    theirs: list[int] = []
    their_records: list[tuple[int, int]] = []

    def librdkafka_member() -> None:
        consumer = ck.Consumer({"bootstrap.servers": kctl_broker.bootstrap, "group.id": group,
                                "partition.assignment.strategy": "range", "auto.offset.reset": "earliest",
                                "session.timeout.ms": 6000, "heartbeat.interval.ms": 300})
        consumer.subscribe([topic])
        while not stop.is_set():
            for m in consumer.consume(100, timeout=0.1):
                if not m.error():
                    their_records.append((m.partition(), m.offset()))
            theirs[:] = sorted(tp.partition for tp in consumer.assignment())
        consumer.close()

    thread = threading.Thread(target=librdkafka_member)
    thread.start()
    try:
        async with Cluster(kctl_broker.bootstrap) as cluster:
            ours = Consumer(cluster, group_id=group, assignors=["range"], **QUICK_GROUP)
            ours.subscribe([topic])
            async with ours:
                our_records: list[tuple[int, int]] = []

                async def split() -> bool:
                    for tp, records in (await ours.getmany(timeout_ms=100)).items():
                        our_records.extend((tp.partition, r.offset) for r in records)
                    mine = sorted(tp.partition for tp in ours.assignment())
                    return len(mine) == 3 and len(theirs) == 3 and sorted(mine + theirs) == list(range(6))

                await eventually(split, 40, "our consumer and librdkafka's to split six partitions")
                await eventually(lambda: len(set(our_records + their_records)) >= 60, 20, "all 60 records read")
    finally:
        stop.set()
        thread.join()


async def test_a_fatal_group_error_surfaces_from_the_next_call(kctl_broker: BrokerProcess) -> None:
    topic, group = unique("fatal"), unique("fatal-group")
    async with Cluster(kctl_broker.bootstrap) as cluster:
        await fill(cluster, topic, 1, 1)
        first = Consumer(cluster, group_id=group, assignors=["roundrobin"], **QUICK_GROUP)
        first.subscribe([topic])
        async with first:
            await eventually(lambda: bool(first.assignment()), 20, "the first member's assignment")
            # No protocol in common with the member already there: the coordinator refuses us for good.
            second = Consumer(cluster, group_id=group, assignors=["range"], **QUICK_GROUP)
            second.subscribe([topic])
            async with second:
                with pytest.raises(KafkaError, match="INCONSISTENT_GROUP_PROTOCOL"):
                    for _ in range(50):
                        await second.getmany(timeout_ms=200)


async def test_subscribe_after_start_joins_the_group(cluster: Cluster) -> None:
    topic, group = unique("late-subscribe"), unique("late-group")
    await fill(cluster, topic, 2, 3)
    async with Consumer(cluster, group_id=group, **QUICK_GROUP) as consumer:
        consumer.subscribe([topic])
        assert len(await drain(consumer, 6)) == 6
