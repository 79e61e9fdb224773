"""Seconds of lag cost one fetch per waiting (partition, offset), however many groups wait there,
and none where nothing lags or no seconds are asked for. Against the built-in broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kctl.client import Admin, Cluster, NewTopic, TopicPartition
from kctl.client.producer import Producer
from kctl.ops.groups import LagRows, add_record_age, iter_lag
from kctl.protocol.messages.fetch import FetchRequest
from tests.broker.conftest import BrokerProcess

TOPIC = "ages"
COMMITTED = {  # group: committed offset on partitions 0 and 1 (10 records each)
    "a": (2, 10), "b": (2, 10), "c": (7, 10), "d": (10, 4), "caught-up": (10, 10),
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("ages") / "data", {}).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def born(broker: BrokerProcess) -> int:
    """Seeds the topic and groups; returns the first record's timestamp (a minute apart each)."""
    import asyncio

    first = int(time.time() * 1000) - 600_000

    async def seed() -> None:
        async with Cluster(broker.bootstrap) as cluster:
            admin = Admin(cluster)
            await admin.create_topics([NewTopic(TOPIC, 2, 1)])
            await cluster.refresh_metadata([TOPIC])
            async with Producer(cluster, linger_ms=0) as producer:
                for partition in (0, 1):
                    for i in range(10):  # a batch per record: a fetch brings back several
                        await producer.send(TOPIC, b"x", partition=partition, timestamp_ms=first + i * 60_000)
                        await producer.flush()
            for group, offsets in COMMITTED.items():
                await admin.alter_group_offsets(group, {TopicPartition(TOPIC, p): o for p, o in enumerate(offsets)})

    asyncio.run(seed())
    return first


def counting_fetches(cluster: Cluster) -> list[dict[int, int]]:
    """The fetch offsets, per partition, of every Fetch the cluster sends from now on."""
    sent: list[dict[int, int]] = []
    send = cluster.send

    async def counted(node_id: int, request: Any, **kwargs: Any) -> Any:
        if isinstance(request, FetchRequest):
            sent.append({p.partition: p.fetch_offset for t in request.topics for p in t.partitions})
        return await send(node_id, request, **kwargs)

    cluster.send = counted  # type: ignore[method-assign]
    return sent


async def lag_of(cluster: Cluster, *, ages: bool) -> dict[str, LagRows]:
    return {rows.group: rows async for batch in iter_lag(cluster, sorted(COMMITTED), ages=ages) for rows in batch}


async def test_each_waiting_offset_is_fetched_once_for_all_groups(broker: BrokerProcess, born: int) -> None:
    async with Cluster(broker.bootstrap) as cluster:
        fetches = counting_fetches(cluster)
        lag = await lag_of(cluster, ages=True)
        # Three keys wait: (0, 2) for a and b, (0, 7) for c, (1, 4) for d. One Fetch asks the lowest
        # on each partition; 7 is in the batches that come back for 2.
        assert fetches == [{0: 2, 1: 4}]
        now = time.time()
        expected_age = {offset: now - (born + offset * 60_000) / 1000 for offset in range(10)}
        for group, offsets in COMMITTED.items():
            seconds = lag[group].lag_seconds
            assert seconds is not None
            for partition, committed in enumerate(offsets):
                if committed == 10:
                    assert seconds[partition] == 0.0, (group, partition)
                else:
                    assert seconds[partition] == pytest.approx(expected_age[committed], abs=30), (group, partition)


async def test_nothing_is_fetched_without_lag_or_when_seconds_are_not_asked_for(broker: BrokerProcess,
                                                                              born: int) -> None:
    async with Cluster(broker.bootstrap) as cluster:
        fetches = counting_fetches(cluster)
        lag = await lag_of(cluster, ages=False)
        assert fetches == [] and all(rows.lag_seconds is None for rows in lag.values())
        await add_record_age(cluster, [lag["caught-up"]])
        assert fetches == [] and lag["caught-up"].lag_seconds == [0.0, 0.0]
        # Timestamps found once are kept from one look to the next.
        known: dict[tuple[str, int, int], int | None] = {}
        await add_record_age(cluster, [lag["c"]], known)
        await add_record_age(cluster, [lag["a"], lag["c"]], known)
        assert fetches == [{0: 7}, {0: 2}]
