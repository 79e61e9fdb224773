"""Poison batches: validated on produce as Kafka's LogValidator does, so nothing unreadable is
stored; and data that is unreadable on disk anyway never stops the broker."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from broker.storage.log import AppendError, PartitionLog
from kctl.protocol.compression import Compression, compress
from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.incremental_alter_configs import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kctl.protocol.messages.list_offsets import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData

from .conftest import BrokerProcess, free_port
from .poison import cases, garbage_gzip, valid_section, with_body, zstd_bomb
from .rawclient import RawClient
from .reading import read_partition
from .test_metrics_exposure import scrape
from .test_server import create
from .test_storage import NOW, config

ck = pytest.importorskip("confluent_kafka")


def open_log(path: Path, **overrides: object) -> PartitionLog:
    plog = PartitionLog(path, "t", 0, config(**overrides))
    plog.open(None, 0)
    return plog


@pytest.mark.parametrize("policy", ["delete", "compact"])
@pytest.mark.parametrize("name", list(cases()))
def test_a_poison_batch_is_refused_and_nothing_is_stored(tmp_path: Path, name: str, policy: str) -> None:
    plog = open_log(tmp_path / "p", **{"cleanup.policy": policy})
    plog.append(with_body(valid_section(b"before"), count=1), NOW)
    size = plog.size
    batch, error = cases()[name]
    started = time.monotonic()
    with pytest.raises(AppendError) as refused:
        plog.append(batch, NOW)
    assert refused.value.error.name in error.split("|"), refused.value.message
    assert time.monotonic() - started < 2  # a bomb stops at the bound, not after inflating a GiB
    assert (plog.size, plog.log_end_offset) == (size, 1)
    plog.append(with_body(valid_section(b"after"), count=1), NOW)
    assert [r.value for r in plog.replay()] == [b"before", b"after"]


def test_max_decompressed_message_bytes_bounds_what_a_batch_inflates_to(tmp_path: Path) -> None:
    """The topic's max.decompressed.message.bytes (Kafka 4.4): a compressed batch that inflates
    past it is refused and nothing is stored; one within it is kept."""
    plog = open_log(tmp_path / "p", **{"max.decompressed.message.bytes": 4096})
    small = with_body(compress(Compression.ZSTD, valid_section(b"x" * 1000)), count=1, codec=Compression.ZSTD)
    plog.append(small, NOW)
    with pytest.raises(AppendError) as refused:
        plog.append(zstd_bomb(1 << 20), NOW)  # a MiB of zeros, a few hundred bytes compressed
    assert refused.value.error is ErrorCode.CORRUPT_MESSAGE
    assert plog.log_end_offset == 1
    assert [r.value for r in plog.replay()] == [b"x" * 1000]


def test_a_produce_with_a_poison_batch_and_valid_ones_stores_none_of_them(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p")
    with pytest.raises(AppendError):
        plog.append(with_body(valid_section(b"ok"), count=1) + garbage_gzip(), NOW)
    assert plog.log_end_offset == 0 and plog.size == 0


def produce_raw(client: RawClient, topic: str, batch: bytes) -> tuple[int, str | None]:
    response = client.call(ProduceRequest(acks=-1, timeout_ms=5000, topic_data=[
        TopicProduceData(topic, [PartitionProduceData(0, batch)])]), 9)
    part = response.responses[0].partition_responses[0]
    return part.error_code, part.error_message


def peak_rss_mb(broker: BrokerProcess) -> float:
    assert broker.proc is not None
    status = Path(f"/proc/{broker.proc.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def test_the_cleaner_crash_loop_case_is_refused_at_produce(tmp_path: Path) -> None:
    """Tiny segments, a gzip batch of random bytes with a valid CRC, valid batches, then
    compaction: the poison is refused, the cleaner runs, and every valid record is read back."""
    broker = BrokerProcess(tmp_path / "data", {"log.cleaner.backoff.ms": 100}).start()
    client = RawClient(broker.bootstrap)
    try:
        create(client, "poison", internal_segment_bytes="200")
        for name, (batch, error) in cases().items():
            code, message = produce_raw(client, "poison", batch)
            assert code in [ErrorCode[e].code for e in error.split("|")], (name, code, message)
        assert peak_rss_mb(broker) < 400  # the 1 GiB bomb was never inflated
        for i in range(10):
            assert produce_raw(client, "poison", with_body(valid_section(f"v{i}".encode()), count=1))[0] == 0
        altered = client.call(IncrementalAlterConfigsRequest(resources=[AlterConfigsResource(
            2, "poison", [AlterableConfig("cleanup.policy", 0, "compact")])]), 1)
        assert altered.responses[0].error_code == 0
        time.sleep(1.5)  # a few cleaner passes
        listed = client.call(ListOffsetsRequest(replica_id=-1, topics=[ListOffsetsTopic(
            "poison", [ListOffsetsPartition(0, timestamp=-3)])]), 7)
        assert listed.topics[0].partitions[0].error_code == 0
        values = [value for _, value in read_partition(broker.bootstrap, "poison")]
        assert values[-1] == b"v9" and set(values) <= {f"v{i}".encode() for i in range(10)}
        assert broker.proc is not None and broker.proc.poll() is None
        assert "stopping the broker" not in broker.log()
    finally:
        client.close()
        assert broker.stop() == 0, broker.log()


def test_a_poison_batch_already_on_disk_makes_the_partition_uncleanable_not_the_broker_stop(
        tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {"log.cleaner.backoff.ms": 100}, metrics_port=free_port()).start()
    client = RawClient(broker.bootstrap)
    create(client, "old-data", internal_segment_bytes="200")
    for i in range(3):
        assert produce_raw(client, "old-data", with_body(valid_section(f"v{i}".encode()), count=1))[0] == 0
    client.close()
    assert broker.stop() == 0
    # Old data (or bit rot that kept the CRC): a gzip batch of garbage, written as the next batch.
    directory = tmp_path / "data" / "old-data-0"
    segment = max(directory.glob("*.log"))
    poison = bytearray(garbage_gzip())
    poison[0:8] = (3).to_bytes(8, "big")
    with open(segment, "ab") as f:
        f.write(poison)
    os.remove(tmp_path / "data" / ".kafka_cleanshutdown")  # so the restart checks every CRC too
    broker.start()
    client = RawClient(broker.bootstrap)
    try:
        for i in range(3, 6):
            assert produce_raw(client, "old-data", with_body(valid_section(f"v{i}".encode()), count=1))[0] == 0
        client.call(IncrementalAlterConfigsRequest(resources=[AlterConfigsResource(
            2, "old-data", [AlterableConfig("cleanup.policy", 0, "compact")])]), 1)
        deadline = time.monotonic() + 10
        while "marked uncleanable" not in broker.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "marked uncleanable" in broker.log()
        time.sleep(0.5)  # more passes: it is not tried again, and the broker serves on
        assert broker.log().count("marked uncleanable") == 1
        assert "kctl_broker_uncleanable_partitions 1.0" in scrape(broker.metrics_port)[1]  # type: ignore[arg-type]
        assert produce_raw(client, "old-data", with_body(valid_section(b"later"), count=1))[0] == 0
        listed = client.call(ListOffsetsRequest(replica_id=-1, topics=[ListOffsetsTopic(
            "old-data", [ListOffsetsPartition(0, timestamp=-3)])]), 7)
        assert listed.topics[0].partitions[0].error_code == 0
        assert broker.proc is not None and broker.proc.poll() is None
    finally:
        client.close()
        assert broker.stop() == 0, broker.log()
