"""Every admin call against the built-in broker (and the portable ones against Tansu too)."""

from __future__ import annotations

import time

import pytest

from kctl.client import (
    EARLIEST,
    LATEST,
    MAX_TIMESTAMP,
    Admin,
    Cluster,
    KafkaError,
    NewTopic,
    TopicPartition,
    UnsupportedVersion,
)
from kctl.client.producer import Producer
from kctl.protocol.enums import ConfigResourceType
from kctl.protocol.errors import ErrorCode
from tests.broker.conftest import BrokerProcess

from .conftest import TansuProcess, unique


async def produce(cluster: Cluster, topic: str, count: int, partition: int = 0, *, start_ms: int | None = None) -> None:
    async with Producer(cluster, linger_ms=0) as producer:
        for i in range(count):
            ts = None if start_ms is None else start_ms + i * 1000
            await producer.send(topic, f"v{i}".encode(), partition=partition, timestamp_ms=ts)
        await producer.flush()


async def test_topics_lifecycle(any_broker: BrokerProcess | TansuProcess) -> None:
    async with Cluster(any_broker.bootstrap) as cluster:
        admin = Admin(cluster)
        cluster_id, controller, brokers = await admin.describe_cluster()
        assert cluster_id and brokers and controller in {b.node_id for b in brokers}
        topic = unique("admin-topic")
        assert await admin.create_topics([NewTopic(topic, 3)]) == {topic: None}
        again = await admin.create_topics([NewTopic(topic, 3)])
        assert isinstance(again[topic], KafkaError) and again[topic].code is ErrorCode.TOPIC_ALREADY_EXISTS
        listed = await admin.list_topics()
        assert topic in listed and len(listed[topic].partitions) == 3
        described = await admin.describe_topics([topic, unique("missing")])
        info = described[topic]
        assert not isinstance(info, KafkaError)
        assert all(p.leader >= 0 and p.replicas for p in info.partitions.values())
        missing = [v for k, v in described.items() if k != topic]
        assert isinstance(missing[0], KafkaError)
        if isinstance(any_broker, TansuProcess):
            # Tansu has no CreatePartitions: the client says so instead of sending a request.
            with pytest.raises(UnsupportedVersion, match="CreatePartitions"):
                await admin.create_partitions({topic: 5})
        else:
            assert await admin.create_partitions({topic: 5}) == {topic: None}
            assert len((await admin.list_topics())[topic].partitions) == 5
        assert await admin.delete_topics([topic]) == {topic: None}
        assert topic not in await admin.list_topics()


async def test_create_topics_validate_only_and_bad_names(cluster: Cluster) -> None:
    admin = Admin(cluster)
    topic = unique("validated")
    assert await admin.create_topics([NewTopic(topic, 2, configs={"retention.ms": "1000"})],
                                     validate_only=True) == {topic: None}
    assert topic not in await admin.list_topics()
    bad = await admin.create_topics([NewTopic("no spaces please", 1)])
    assert isinstance(bad["no spaces please"], KafkaError)
    await admin.alter_group_offsets(unique("makes-offsets-topic"), {})  # the offsets topic exists from here on
    assert "__consumer_offsets" not in await admin.list_topics()
    assert (await admin.list_topics(internal=True))["__consumer_offsets"].internal


async def test_configs_describe_and_alter_both_ways(kctl_broker: BrokerProcess) -> None:
    for caps in ({}, {44: -1}):  # IncrementalAlterConfigs, then plain AlterConfigs as old brokers have
        async with Cluster(kctl_broker.bootstrap, version_caps=caps) as cluster:
            admin = Admin(cluster)
            topic = unique("configs")
            await admin.create_topics([NewTopic(topic, 1, configs={"cleanup.policy": "compact"})])
            await admin.alter_configs(ConfigResourceType.TOPIC, topic, set_configs={"retention.ms": "3600000"})
            entries = (await admin.describe_configs(ConfigResourceType.TOPIC, [topic]))[topic]
            assert not isinstance(entries, KafkaError)
            by_name = {e.name: e for e in entries}
            assert (by_name["retention.ms"].value, by_name["retention.ms"].source) == ("3600000", "topic")
            assert by_name["cleanup.policy"].value == "compact"  # kept by both paths
            assert by_name["segment.bytes"].source == "default" and by_name["segment.bytes"].is_default
            await admin.alter_configs(ConfigResourceType.TOPIC, topic, delete=["retention.ms"])
            entries = (await admin.describe_configs(ConfigResourceType.TOPIC, [topic]))[topic]
            assert not isinstance(entries, KafkaError)
            assert {e.name: e.source for e in entries}["retention.ms"] == "default"
            with pytest.raises(KafkaError, match=r"retention\.ms"):
                await admin.alter_configs(ConfigResourceType.TOPIC, topic, set_configs={"retention.ms": "soon"})
    async with Cluster(kctl_broker.bootstrap) as cluster:
        brokers = await Admin(cluster).describe_configs(ConfigResourceType.BROKER, ["0"])
        entries = brokers["0"]
        assert not isinstance(entries, KafkaError)
        assert "num.partitions" in {e.name for e in entries}


async def test_list_offsets_by_spec_in_one_request_per_leader(any_broker: BrokerProcess | TansuProcess) -> None:
    async with Cluster(any_broker.bootstrap) as cluster:
        admin = Admin(cluster)
        topic = unique("offsets")
        await admin.create_topics([NewTopic(topic, 3)])
        base = int(time.time() * 1000) - 100_000
        await produce(cluster, topic, 10, 0, start_ms=base)
        tps = [TopicPartition(topic, p) for p in range(3)]
        await cluster.refresh_metadata([topic])
        before = cluster.requests_sent
        latest = await admin.list_offsets(dict.fromkeys(tps, LATEST))
        assert cluster.requests_sent - before == 1  # one broker leads them all: one request
        if isinstance(any_broker, TansuProcess):
            pytest.skip("Tansu answers LATEST with the last batch's base offset, not the log end")
        assert [latest[tp].offset for tp in tps] == [10, 0, 0]
        earliest = await admin.list_offsets(dict.fromkeys(tps, EARLIEST))
        assert [earliest[tp].offset for tp in tps] == [0, 0, 0]
        by_time = await admin.list_offsets({tps[0]: base + 4500})
        assert by_time[tps[0]].offset == 5
        assert (await admin.list_offsets({tps[0]: base + 10**7}))[tps[0]].offset == -1
        newest = await admin.list_offsets({tps[0]: MAX_TIMESTAMP})
        assert newest[tps[0]].offset == 9 and newest[tps[0]].timestamp == base + 9000


async def test_delete_records_and_log_dirs(cluster: Cluster) -> None:
    admin = Admin(cluster)
    topic = unique("records")
    await admin.create_topics([NewTopic(topic, 1)])
    await produce(cluster, topic, 20)
    tp = TopicPartition(topic, 0)
    assert await admin.delete_records({tp: 12}) == {tp: 12}
    assert (await admin.list_offsets({tp: EARLIEST}))[tp].offset == 12
    with pytest.raises(KafkaError, match="OFFSET_OUT_OF_RANGE"):
        await admin.delete_records({tp: 99})
    dirs = await admin.describe_log_dirs()
    sizes = [d.partition_sizes.get(tp) for ds in dirs.values() for d in ds]
    assert any(size and size > 0 for size in sizes)


async def test_groups_and_their_offsets(any_broker: BrokerProcess | TansuProcess) -> None:
    async with Cluster(any_broker.bootstrap) as cluster:
        admin = Admin(cluster)
        topic = unique("group-offsets")
        await admin.create_topics([NewTopic(topic, 2)])
        await produce(cluster, topic, 5)
        groups = [unique("admin-group") for _ in range(3)]
        tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        for i, group in enumerate(groups):
            assert await admin.alter_group_offsets(group, {tp0: i + 1, tp1: 0}) == {tp0: None, tp1: None}
        committed = await admin.list_group_offsets(groups)
        assert {g: committed[g][tp0].offset for g in groups} == {g: i + 1 for i, g in enumerate(groups)}
        listed = {g.group_id: g for g in await admin.list_groups()}
        assert set(groups) <= set(listed)
        if isinstance(any_broker, BrokerProcess):
            assert listed[groups[0]].state == "Empty"  # Tansu says "Unknown" for groups without members
        described = await admin.describe_groups(groups[:1])
        description = described[groups[0]]
        assert not isinstance(description, KafkaError) and description.members == []
        if isinstance(any_broker, TansuProcess):
            with pytest.raises(UnsupportedVersion, match="OffsetDelete"):  # Tansu has no OffsetDelete
                await admin.delete_group_offsets(groups[0], [tp1])
        else:
            assert await admin.delete_group_offsets(groups[0], [tp1]) == {tp1: None}
            assert set((await admin.list_group_offsets([groups[0]]))[groups[0]]) == {tp0}
        deleted = await admin.delete_groups(groups[1:])
        assert deleted == {g: None for g in groups[1:]}
        assert set(groups[1:]).isdisjoint(g.group_id for g in await admin.list_groups())


async def test_lag_of_500_groups_over_1000_partitions_takes_a_handful_of_round_trips(cluster: Cluster) -> None:
    admin = Admin(cluster)
    topics = [unique("lag") for _ in range(2)]
    await admin.create_topics([NewTopic(t, 500) for t in topics])
    partitions = [TopicPartition(t, p) for t in topics for p in range(500)]
    await produce(cluster, topics[0], 30, 7)
    groups = [unique("lag-group") for _ in range(500)]
    for i, group in enumerate(groups):
        # Each group commits a slice of the partitions; together they cover all 1,000.
        mine = partitions[(i * 2) % 1000:(i * 2) % 1000 + 20] or partitions[:20]
        await admin.alter_group_offsets(group, dict.fromkeys(mine, 0))
    await admin.alter_group_offsets(groups[3], {TopicPartition(topics[0], 7): 10})
    cluster.forget_coordinator("unused")
    before = cluster.requests_sent
    lag = await admin.group_lag(groups)
    trips = cluster.requests_sent - before
    assert trips <= 6, f"{trips} requests for 500 groups"
    assert len(lag) == 500
    covered = {tp for per_group in lag.values() for tp in per_group}
    assert covered == set(partitions)
    assert lag[groups[3]][TopicPartition(topics[0], 7)].lag == 20
