"""Wire-level behaviour of the broker, driven through our own sans-IO client over real sockets."""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.api_versions import ApiVersionsRequest
from kctl.protocol.messages.create_partitions import CreatePartitionsRequest, CreatePartitionsTopic
from kctl.protocol.messages.create_topics import CreatableTopic, CreatableTopicConfig, CreateTopicsRequest
from kctl.protocol.messages.delete_records import DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic
from kctl.protocol.messages.delete_topics import DeleteTopicsRequest
from kctl.protocol.messages.describe_cluster import DescribeClusterRequest
from kctl.protocol.messages.describe_configs import DescribeConfigsRequest, DescribeConfigsResource
from kctl.protocol.messages.describe_log_dirs import DescribeLogDirsRequest
from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kctl.protocol.messages.incremental_alter_configs import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kctl.protocol.messages.init_producer_id import InitProducerIdRequest
from kctl.protocol.messages.list_offsets import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kctl.protocol.messages.offset_for_leader_epoch import (
    OffsetForLeaderEpochRequest,
    OffsetForLeaderPartition,
    OffsetForLeaderTopic,
)
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Record, decode_batches, encode_batch

from .conftest import ROOT, BrokerProcess
from .rawclient import RawClient

NONE = 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("server") / "data", {"num.partitions": 2}).start()
    yield b
    assert b.stop() == 0, b.log()


def create(client: RawClient, name: str, partitions: int = 1, **configs: str) -> None:
    topic = CreatableTopic(name=name, num_partitions=partitions, replication_factor=1,
                           configs=[CreatableTopicConfig(k.replace("_", "."), v) for k, v in configs.items()])
    response = client.call(CreateTopicsRequest(topics=[topic], timeout_ms=5000), 7)
    assert response.topics[0].error_code == NONE, response


def produce(client: RawClient, topic: str, values: list[bytes], *, acks: int = -1, partition: int = 0) -> object:
    records = encode_batch([Record(value=v) for v in values])
    request = ProduceRequest(acks=acks, timeout_ms=5000, topic_data=[
        TopicProduceData(topic, [PartitionProduceData(partition, records)])])
    if acks == 0:
        client.send(request, 9, expect_response=False)
        return None
    return client.call(request, 9)


def fetch_request(topic: str, offset: int, *, max_wait_ms: int = 0, min_bytes: int = 1) -> FetchRequest:
    return FetchRequest(max_wait_ms=max_wait_ms, min_bytes=min_bytes, max_bytes=1 << 20, session_epoch=-1,
                        topics=[FetchTopic(topic, [FetchPartition(partition=0, fetch_offset=offset,
                                                                  partition_max_bytes=1 << 20)])])


def test_api_versions_lists_the_served_ranges(client: RawClient) -> None:
    response = client.call(ApiVersionsRequest(), 3)
    ranges = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert ranges[0] == (0, 11) and ranges[1] == (4, 12) and ranges[3] == (0, 12)
    assert ranges[11] == (0, 9) and ranges[9] == (1, 9) and ranges[47] == (0, 0)
    assert ranges[68] == (0, 1) and ranges[69] == (0, 1)  # KIP-848 consumer groups
    features = {f.name: (f.min_version, f.max_version) for f in response.supported_features}
    finalized = {f.name: f.max_version_level for f in response.finalized_features}
    assert features["group.version"] == (0, 1) and finalized["group.version"] == 1
    assert response.finalized_features_epoch >= 0


def test_unknown_api_versions_version_gets_the_kip_511_fallback(server: BrokerProcess) -> None:
    from kctl.protocol.framing import frame
    from kctl.protocol.headers import RequestHeader, encode_request_header

    c = RawClient(server.bootstrap)
    c.sock.sendall(frame(encode_request_header(RequestHeader(18, 99, 7, "future"), 2), b"\x00"))
    size = struct.unpack(">i", c.sock.recv(4))[0]
    body = b""
    while len(body) < size:
        body += c.sock.recv(size - len(body))
    correlation, error = struct.unpack(">ih", body[:6])
    assert (correlation, error) == (7, ErrorCode.UNSUPPORTED_VERSION.code)
    c.close()


def test_produce_v2_is_answered_with_unsupported_version(client: RawClient) -> None:
    create(client, "old-produce")
    records = encode_batch([Record(value=b"x")])
    response = client.call(ProduceRequest(acks=1, timeout_ms=1000, topic_data=[
        TopicProduceData("old-produce", [PartitionProduceData(0, records)])]), 2)
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.UNSUPPORTED_VERSION.code
    assert client.call(MetadataRequest(topics=None), 1) is not None  # the connection is still open


def test_pipelined_requests_are_answered_in_order(client: RawClient) -> None:
    create(client, "pipeline")
    ids = []
    for i in range(60):
        if i % 3 == 0:
            ids.append(client.send(MetadataRequest(topics=None), 12))
        elif i % 3 == 1:
            ids.append(client.send(fetch_request("pipeline", 0, max_wait_ms=50, min_bytes=1000), 11))
        else:
            ids.append(client.send(ApiVersionsRequest(), 3))
    assert [client.receive().correlation_id for _ in ids] == ids


def test_acks_zero_gets_no_response(client: RawClient) -> None:
    create(client, "fire-and-forget")
    produce(client, "fire-and-forget", [b"a"], acks=0)
    produce(client, "fire-and-forget", [b"b"], acks=0)
    cid = client.send(ListOffsetsRequest(replica_id=-1, topics=[
        ListOffsetsTopic("fire-and-forget", [ListOffsetsPartition(0, -1, -1, 1)])]), 5)
    response = client.receive()
    assert response.correlation_id == cid  # nothing queued ahead of it
    assert response.body.topics[0].partitions[0].offset == 2


def test_acks_zero_failure_closes_the_connection(server: BrokerProcess) -> None:
    c = RawClient(server.bootstrap)
    produce(c, "no-such-topic-for-acks0", [b"a"], acks=0)
    assert c.is_closed_by_peer()


def test_malformed_frame_closes_only_that_connection(server: BrokerProcess, client: RawClient) -> None:
    bad = RawClient(server.bootstrap)
    bad.sock.sendall(struct.pack(">i", 9) + b"\x00\x03\x00\x0c\xff\xff\xff\xff\xff")  # truncated header
    assert bad.is_closed_by_peer()
    huge = RawClient(server.bootstrap)
    huge.sock.sendall(struct.pack(">i", 2**31 - 1))
    assert huge.is_closed_by_peer()
    assert client.call(ApiVersionsRequest(), 3).error_code == NONE
    assert "malformed request" in server.log()


def test_fetch_long_poll_is_woken_by_an_append(server: BrokerProcess, client: RawClient) -> None:
    create(client, "long-poll")
    started = time.monotonic()
    client.send(fetch_request("long-poll", 0, max_wait_ms=10_000), 11)
    time.sleep(0.2)
    other = RawClient(server.bootstrap)
    produce(other, "long-poll", [b"wake"])
    response = client.receive().body
    waited = time.monotonic() - started
    assert waited < 2, "the fetch waited for its timeout instead of the append"
    (batch,) = decode_batches(response.responses[0].partitions[0].records)
    assert batch.records[0].value == b"wake"
    # With nothing new, the fetch waits out max_wait_ms and returns empty.
    started = time.monotonic()
    empty = client.call(fetch_request("long-poll", 1, max_wait_ms=300), 11)
    assert 0.25 < time.monotonic() - started < 3
    assert not empty.responses[0].partitions[0].records
    other.close()


def log_end(client: RawClient, topic: str) -> int:
    response = client.call(ListOffsetsRequest(replica_id=-1, topics=[
        ListOffsetsTopic(topic, [ListOffsetsPartition(0, -1, -1, 1)])]), 5)
    return int(response.topics[0].partitions[0].offset)


def test_a_connection_is_not_read_past_its_bound_of_unanswered_bytes(server: BrokerProcess, client: RawClient) -> None:
    # A parked fetch holds up every later answer on its connection (answers leave in order), so
    # the produce requests sent after it stay unanswered: the broker must stop reading the
    # connection once they come to MAX_IN_FLIGHT_BYTES, rather than take all of them into memory.
    from broker.server import MAX_IN_FLIGHT_BYTES

    create(client, "held-back")
    held = RawClient(server.bootstrap, timeout=30)
    held.send(fetch_request("held-back", 0, max_wait_ms=4000, min_bytes=1 << 30), 11)
    batch = encode_batch([Record(value=b"x" * (512 * 1024))])
    request = ProduceRequest(acks=1, timeout_ms=5000, topic_data=[
        TopicProduceData("held-back", [PartitionProduceData(0, batch)])])
    count = 3 * MAX_IN_FLIGHT_BYTES // len(batch)
    sender = threading.Thread(target=lambda: [held.send(request, 9) for _ in range(count)], daemon=True)
    sender.start()
    time.sleep(2)
    taken = log_end(client, "held-back")
    assert 0 < taken <= MAX_IN_FLIGHT_BYTES // len(batch) + 2, f"{taken} of {count} requests read"
    # When the fetch's wait ends, its answer and the others leave and the rest are read.
    sender.join(30)
    assert not sender.is_alive()
    answers = [held.receive().body for _ in range(count + 1)]
    assert all(r.responses[0].partition_responses[0].error_code == NONE for r in answers[1:])
    assert log_end(client, "held-back") == count
    held.close()


def test_fetch_errors_and_declined_sessions(client: RawClient) -> None:
    create(client, "fetch-errors")
    produce(client, "fetch-errors", [b"a"])
    out_of_range = client.call(fetch_request("fetch-errors", 5), 11)
    assert out_of_range.responses[0].partitions[0].error_code == ErrorCode.OFFSET_OUT_OF_RANGE.code
    unknown = client.call(fetch_request("no-such-topic", 0), 11)
    assert unknown.responses[0].partitions[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
    wants_session = fetch_request("fetch-errors", 0)
    wants_session.session_epoch = 0
    response = client.call(wants_session, 11)
    assert response.session_id == 0 and response.responses[0].partitions[0].high_watermark == 1
    stale = fetch_request("fetch-errors", 0)
    stale.session_id, stale.session_epoch = 99, 3
    assert client.call(stale, 11).error_code == ErrorCode.FETCH_SESSION_ID_NOT_FOUND.code


def test_metadata_auto_creates_and_can_be_told_not_to(client: RawClient) -> None:
    response = client.call(MetadataRequest(topics=[MetadataRequestTopic(name="auto-made")],
                                           allow_auto_topic_creation=True), 12)
    topic = response.topics[0]
    assert topic.error_code == NONE and len(topic.partitions) == 2  # num.partitions=2 in this broker's config
    response = client.call(MetadataRequest(topics=[MetadataRequestTopic(name="not-made")],
                                           allow_auto_topic_creation=False), 12)
    assert response.topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
    response = client.call(MetadataRequest(topics=[MetadataRequestTopic(name="bad/name")]), 12)
    assert response.topics[0].error_code == ErrorCode.INVALID_TOPIC_EXCEPTION.code


def test_create_topics_validation(client: RawClient) -> None:
    def one(topic: CreatableTopic, validate_only: bool = False) -> object:
        request = CreateTopicsRequest(topics=[topic], timeout_ms=1000, validate_only=validate_only)
        return client.call(request, 7).topics[0]

    dry = one(CreatableTopic("dry-run", 3, 1, [], []), validate_only=True)
    assert dry.error_code == NONE and dry.num_partitions == 3
    assert client.call(MetadataRequest(topics=[MetadataRequestTopic(name="dry-run")],
                                       allow_auto_topic_creation=False), 12).topics[0].error_code != NONE
    assert one(CreatableTopic("rf3", 1, 3, [], [])).error_code == ErrorCode.INVALID_REPLICATION_FACTOR.code
    bad_config = one(CreatableTopic("bad-config", 1, 1, [], [CreatableTopicConfig("retention.ms", "x")]))
    assert bad_config.error_code == ErrorCode.INVALID_CONFIG.code and "retention.ms" in bad_config.error_message
    made = one(CreatableTopic("made", -1, -1, [], [CreatableTopicConfig("cleanup.policy", "compact")]))
    assert made.error_code == NONE and made.num_partitions == 2
    assert {c.name: c.value for c in made.configs}["cleanup.policy"] == "compact"
    assert one(CreatableTopic("made", 1, 1, [], [])).error_code == ErrorCode.TOPIC_ALREADY_EXISTS.code


def test_partitions_records_and_deletion(client: RawClient) -> None:
    create(client, "admin-flow")
    produce(client, "admin-flow", [b"a", b"b", b"c", b"d"])
    grow = client.call(CreatePartitionsRequest(topics=[CreatePartitionsTopic("admin-flow", 4, None)],
                                               timeout_ms=1000), 3)
    assert grow.results[0].error_code == NONE
    shrink = client.call(CreatePartitionsRequest(topics=[CreatePartitionsTopic("admin-flow", 2, None)],
                                                 timeout_ms=1000), 3)
    assert shrink.results[0].error_code == ErrorCode.INVALID_PARTITIONS.code
    md = client.call(MetadataRequest(topics=[MetadataRequestTopic(name="admin-flow")]), 12)
    assert len(md.topics[0].partitions) == 4

    deleted = client.call(DeleteRecordsRequest(topics=[DeleteRecordsTopic("admin-flow", [
        DeleteRecordsPartition(0, 3)])], timeout_ms=1000), 2)
    assert deleted.topics[0].partitions[0].low_watermark == 3
    earliest = client.call(ListOffsetsRequest(replica_id=-1, topics=[
        ListOffsetsTopic("admin-flow", [ListOffsetsPartition(0, -1, -2, 1)])]), 8)
    assert earliest.topics[0].partitions[0].offset == 3

    dirs = client.call(DescribeLogDirsRequest(topics=None), 4)
    sizes = {(t.name, p.partition_index): p.partition_size for t in dirs.results[0].topics for p in t.partitions}
    assert sizes[("admin-flow", 0)] > 0 and sizes[("admin-flow", 3)] == 0

    gone = client.call(DeleteTopicsRequest(topic_names=["admin-flow", "never-was"], timeout_ms=1000), 5)
    codes = {r.name: r.error_code for r in gone.responses}
    assert codes == {"admin-flow": NONE, "never-was": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code}
    md = client.call(MetadataRequest(topics=[MetadataRequestTopic(name="admin-flow")],
                                     allow_auto_topic_creation=False), 12)
    assert md.topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code


def test_configs_describe_and_incremental_alter(client: RawClient) -> None:
    create(client, "configured", retention_ms="1000000")
    described = client.call(DescribeConfigsRequest(resources=[DescribeConfigsResource(2, "configured", None)],
                                                   include_synonyms=True, include_documentation=True), 4)
    entries = {c.name: c for c in described.results[0].configs}
    assert entries["retention.ms"].value == "1000000" and entries["retention.ms"].config_source == 1
    assert entries["segment.bytes"].config_source == 5 and entries["segment.bytes"].documentation
    assert all(not c.is_sensitive for c in entries.values())
    assert [s.name for s in entries["retention.ms"].synonyms] == ["retention.ms", "log.retention.ms"]

    def alter(*configs: AlterableConfig) -> int:
        response = client.call(IncrementalAlterConfigsRequest(resources=[
            AlterConfigsResource(2, "configured", list(configs))]), 1)
        return int(response.responses[0].error_code)

    assert alter(AlterableConfig("cleanup.policy", 2, "compact")) == NONE  # APPEND to a list
    assert alter(AlterableConfig("retention.ms", 1, None)) == NONE  # DELETE: back to the default
    assert alter(AlterableConfig("segment.bytes", 0, "tiny")) == ErrorCode.INVALID_CONFIG.code
    assert alter(AlterableConfig("no.such.config", 0, "1")) == ErrorCode.INVALID_CONFIG.code
    described = client.call(DescribeConfigsRequest(resources=[
        DescribeConfigsResource(2, "configured", ["cleanup.policy", "retention.ms", "segment.bytes"])]), 4)
    values = {c.name: c.value for c in described.results[0].configs}
    assert values == {"cleanup.policy": "delete,compact", "retention.ms": "604800000", "segment.bytes": "1073741824"}

    broker_configs = client.call(DescribeConfigsRequest(resources=[DescribeConfigsResource(4, "0", None)]), 4)
    names = {c.name: c for c in broker_configs.results[0].configs}
    assert names["num.partitions"].value == "2" and names["num.partitions"].config_source == 4
    assert names["log.retention.ms"].config_source == 5


def test_cluster_producer_ids_and_leader_epochs(client: RawClient) -> None:
    cluster = client.call(DescribeClusterRequest(), 1)
    assert cluster.error_code == NONE and cluster.brokers[0].broker_id == 0 and cluster.cluster_id
    first = client.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=-1), 4)
    second = client.call(InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=-1), 4)
    assert first.error_code == NONE and second.producer_id == first.producer_id + 1
    bumped = client.call(InitProducerIdRequest(None, -1, first.producer_id, 0), 4)
    assert (bumped.producer_id, bumped.producer_epoch) == (first.producer_id, 1)
    transactional = client.call(InitProducerIdRequest(transactional_id="tx", transaction_timeout_ms=1000), 4)
    assert (transactional.error_code, transactional.producer_id, transactional.producer_epoch) == (
        NONE, second.producer_id + 1, 0)
    again = client.call(InitProducerIdRequest(transactional_id="tx", transaction_timeout_ms=1000), 4)
    assert (again.producer_id, again.producer_epoch) == (transactional.producer_id, 1)  # the epoch fences
    too_long = client.call(InitProducerIdRequest(transactional_id="tx", transaction_timeout_ms=900_001), 4)
    assert too_long.error_code == ErrorCode.INVALID_TRANSACTION_TIMEOUT.code  # transaction.max.timeout.ms
    create(client, "epochs")
    produce(client, "epochs", [b"a", b"b"])
    response = client.call(OffsetForLeaderEpochRequest(replica_id=-1, topics=[
        OffsetForLeaderTopic("epochs", [OffsetForLeaderPartition(0, -1, 0)])]), 4)
    part = response.topics[0].partitions[0]
    assert (part.error_code, part.leader_epoch, part.end_offset) == (NONE, 0, 2)


def test_bad_config_file_is_reported_and_the_broker_does_not_start(tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text('"log.retention.ms" = "a week"\n')
    result = subprocess.run([sys.executable, "-m", "broker", "--data-dir", str(tmp_path / "d"), "--config",
                             str(config)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "log.retention.ms" in result.stderr
    config.write_text('"num.partitons" = 3\n')
    result = subprocess.run([sys.executable, "-m", "broker", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "unknown broker setting 'num.partitons'" in result.stderr
