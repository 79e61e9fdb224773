"""Request handlers called in-process on a broker context built from parts: no socket, no
subprocess. What the wire tests show end to end, shown here at the handler seam."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broker.authorizer import Authorizer
from broker.config import BrokerConfig
from broker.context import BrokerContext, Peer
from broker.durability import Flusher
from broker.groups.coordinator import GroupCoordinator
from broker.handlers import ROUTES
from broker.quotas import ClientQuotas
from broker.sasl import SaslSettings
from broker.storage.manager import LogManager
from kctl.protocol.api import ApiKey
from kctl.protocol.framing import FileRange
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.create_topics import CreatableTopic, CreateTopicsRequest
from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kctl.protocol.messages.list_offsets import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kctl.protocol.messages.metadata import MetadataRequest
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Record, decode_batches, encode_batch


@dataclass
class Parts:
    """A BrokerContext from its parts."""

    config: BrokerConfig
    logs: LogManager
    groups: GroupCoordinator
    flusher: Flusher
    sasl: SaslSettings
    quotas: ClientQuotas
    authorizer: Authorizer
    node_id: int = 0
    stopping: bool = False

    def advertised_for(self, listener: str) -> tuple[str, int]:
        return "broker.test", 9092

    def produced(self, topic: str, size: int) -> None:
        pass


@contextlib.contextmanager
def in_process(tmp_path: Path) -> Iterator[Parts]:
    """A broker's parts on `tmp_path`, with an event loop, for calling handlers directly."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    config = BrokerConfig()
    logs = LogManager(tmp_path, config)
    logs.open()
    flusher = Flusher()
    try:
        yield Parts(config, logs, GroupCoordinator(config, logs, flusher.after_append), flusher,
                    SaslSettings.from_config(config, tmp_path), ClientQuotas(tmp_path), Authorizer(config, tmp_path))
    finally:
        logs.close()
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def context(tmp_path: Path) -> Iterator[BrokerContext]:
    with in_process(tmp_path) as parts:
        yield parts


def call(context: BrokerContext, key: ApiKey, version: int, request: Any) -> Any:
    handler = ROUTES[key].handler
    assert handler is not None and ROUTES[key].serves(version)
    result = handler(context, RequestHeader(key, version, 1, "test"), request, Peer("127.0.0.1"))
    if inspect.isawaitable(result):
        return asyncio.get_event_loop().run_until_complete(result)  # type: ignore[arg-type]
    return result


def test_create_produce_list_offsets_and_fetch_in_process(context: BrokerContext) -> None:
    created = call(context, ApiKey.CREATE_TOPICS, 7, CreateTopicsRequest([CreatableTopic("orders", 2, 1)]))
    assert [(t.name, t.error_code, t.num_partitions) for t in created.topics] == [("orders", 0, 2)]

    batch = encode_batch([Record(key=b"k", value=b"v%d" % i, timestamp=1_700_000_000_000) for i in range(3)])
    produced = call(context, ApiKey.PRODUCE, 9, ProduceRequest(None, -1, 1000, [
        TopicProduceData("orders", [PartitionProduceData(1, batch)])]))
    [part] = produced.responses[0].partition_responses
    assert (part.index, part.error_code, part.base_offset) == (1, 0, 0)

    ends = call(context, ApiKey.LIST_OFFSETS, 7, ListOffsetsRequest(-1, 0, [
        ListOffsetsTopic("orders", [ListOffsetsPartition(p, -1, -1) for p in (0, 1)])]))
    assert {p.partition_index: p.offset for p in ends.topics[0].partitions} == {0: 0, 1: 3}

    fetched = call(context, ApiKey.FETCH, 12, FetchRequest(max_wait_ms=0, min_bytes=0, topics=[
        FetchTopic("orders", [FetchPartition(1, fetch_offset=0, partition_max_bytes=1 << 20)])]))
    answer = fetched.responses[0].partitions[0]
    assert (answer.error_code, answer.high_watermark) == (0, 3)
    # The records are a range of the segment file, for the server to sendfile: read it here.
    records = answer.records
    assert isinstance(records, FileRange)
    segment, _ = records.source
    data = os.pread(segment.fd, records.size, records.position)
    assert [r.value for b in decode_batches(data) for r in b.records] == [b"v0", b"v1", b"v2"]


def test_metadata_names_the_advertised_address_and_every_partition(context: BrokerContext) -> None:
    call(context, ApiKey.CREATE_TOPICS, 7, CreateTopicsRequest([CreatableTopic("audit", 3, 1)]))
    answer = call(context, ApiKey.METADATA, 12, MetadataRequest(topics=None))
    assert [(b.node_id, b.host, b.port) for b in answer.brokers] == [(0, "broker.test", 9092)]
    audit = next(t for t in answer.topics if t.name == "audit")
    assert sorted(p.partition_index for p in audit.partitions) == [0, 1, 2]
    assert all(p.leader_id == 0 for p in audit.partitions)


def test_a_parked_fetch_is_answered_by_the_next_produce(context: BrokerContext) -> None:
    call(context, ApiKey.CREATE_TOPICS, 7, CreateTopicsRequest([CreatableTopic("quiet", 1, 1)]))
    request = FetchRequest(max_wait_ms=60_000, min_bytes=1, topics=[
        FetchTopic("quiet", [FetchPartition(0, fetch_offset=0, partition_max_bytes=1 << 20)])])
    fetch = ROUTES[ApiKey.FETCH].handler
    assert fetch is not None

    async def main() -> Any:
        pending = fetch(context, RequestHeader(ApiKey.FETCH, 12, 1, "test"), request, Peer("127.0.0.1"))
        assert inspect.isawaitable(pending)
        task = asyncio.ensure_future(pending)
        await asyncio.sleep(0.1)
        assert not task.done()  # parked: nothing to read yet
        call_now = ROUTES[ApiKey.PRODUCE].handler
        assert call_now is not None
        call_now(context, RequestHeader(ApiKey.PRODUCE, 9, 2, "test"), ProduceRequest(None, 1, 1000, [
            TopicProduceData("quiet", [PartitionProduceData(0, encode_batch([Record(value=b"hello")]))])]),
            Peer("127.0.0.1"))
        return await asyncio.wait_for(task, 5)  # well before the 60 s wait is over

    answer = asyncio.get_event_loop().run_until_complete(main())
    assert answer.responses[0].partitions[0].high_watermark == 1


def test_replica_management_is_answered_as_for_a_one_broker_cluster(context: BrokerContext) -> None:
    from kctl.protocol.messages.alter_partition_reassignments import (
        AlterPartitionReassignmentsRequest,
        ReassignablePartition,
        ReassignableTopic,
    )
    from kctl.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersTopicPartitions
    from kctl.protocol.messages.list_partition_reassignments import ListPartitionReassignmentsRequest

    call(context, ApiKey.CREATE_TOPICS, 7, CreateTopicsRequest([CreatableTopic("moves", 1, 1)]))
    asked = [([0], 0), ([0, 1], 39), ([0, 0], 39), ([], 39), (None, 85)]  # 39 bad assignment, 85 nothing to cancel
    answer = call(context, ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, AlterPartitionReassignmentsRequest(
        topics=[ReassignableTopic("moves", [ReassignablePartition(0, replicas)]) for replicas, _ in asked]
        + [ReassignableTopic("nowhere", [ReassignablePartition(0, [0])])]))
    codes = [r.partitions[0].error_code for r in answer.responses]
    assert codes == [code for _, code in asked] + [3]
    assert "no broker 1" in (answer.responses[1].partitions[0].error_message or "")
    assert call(context, ApiKey.LIST_PARTITION_REASSIGNMENTS, 0, ListPartitionReassignmentsRequest()).topics == []
    elected = call(context, ApiKey.ELECT_LEADERS, 2, ElectLeadersRequest(0, [
        ElectLeadersTopicPartitions("moves", [0, 7])]))
    assert [(p.partition_id, p.error_code) for p in elected.replica_election_results[0].partition_result] == \
        [(0, 84), (7, 3)]  # election not needed; no such partition
    assert call(context, ApiKey.ELECT_LEADERS, 2, ElectLeadersRequest(0, None)).replica_election_results == []
