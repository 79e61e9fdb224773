"""The partition log on real files: append/read, indexes, rolling, recovery, retention, compaction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.config import BrokerConfig, TopicConfig
from broker.storage.log import AppendError, OffsetOutOfRange, PartitionLog
from broker.storage.manager import LogManager, TopicError
from kctl.protocol.compression import Compression
from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import Record, TimestampType, decode_batches, encode_batch

NOW = 1_700_000_000_000


def config(**overrides: object) -> TopicConfig:
    return TopicConfig.resolve(BrokerConfig(), overrides)


def batch(values: list[bytes], *, key: bytes | None = b"k", ts: int = NOW, **kw: object) -> bytes:
    records = [Record(key=key, value=v, timestamp=ts + i) for i, v in enumerate(values)]
    return encode_batch(records, **kw)  # type: ignore[arg-type]


def open_log(path: Path, recovery_point: int | None = None, **overrides: object) -> PartitionLog:
    plog = PartitionLog(path, "t", 0, config(**overrides))
    plog.open(recovery_point, 0)
    return plog


def values(data: bytes) -> list[bytes | None]:
    return [r.value for b in decode_batches(data) for r in b.records]


def test_append_assigns_offsets_and_read_returns_the_same_bytes(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p")
    first = plog.append(batch([b"a", b"b", b"c"]), NOW)
    second = plog.append(batch([b"d"]), NOW)
    assert (first.base_offset, second.base_offset, plog.log_end_offset) == (0, 3, 4)
    data = plog.read(0, 1 << 20)
    assert values(data) == [b"a", b"b", b"c", b"d"]
    assert [b.header.base_offset for b in decode_batches(data)] == [0, 3]
    # A fetch inside a batch returns that whole batch (clients skip the earlier records).
    assert values(plog.read(1, 1 << 20))[:3] == [b"a", b"b", b"c"]
    assert plog.read(4, 1 << 20) == b""
    with pytest.raises(OffsetOutOfRange):
        plog.read(5, 1 << 20)


def test_max_bytes_returns_whole_batches_and_at_least_one(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p")
    for i in range(5):
        plog.append(batch([bytes([i]) * 1000]), NOW)
    one = plog.read(0, 10)  # smaller than a batch: still the first batch, whole
    assert len(decode_batches(one)) == 1
    two = plog.read(0, 2500)
    assert len(decode_batches(two)) == 2 and len(two) <= 2500


@pytest.mark.parametrize(
    ("records", "error"),
    [
        (b"\x00" * 30, ErrorCode.CORRUPT_MESSAGE),
        (encode_batch([Record(value=b"x")], base_offset=7), ErrorCode.INVALID_RECORD),
        (encode_batch([Record(value=b"x")], control=True), ErrorCode.INVALID_RECORD),
        (encode_batch([Record(value=b"x")], producer_id=5, producer_epoch=0, base_sequence=-1),
         ErrorCode.INVALID_RECORD),
    ],
    ids=["garbage", "offsets-not-from-zero", "control-batch-from-a-client", "producer-without-sequence"],
)
def test_bad_batches_are_refused_and_nothing_is_written(tmp_path: Path, records: bytes, error: ErrorCode) -> None:
    plog = open_log(tmp_path / "p")
    plog.append(batch([b"keep"]), NOW)
    with pytest.raises(AppendError) as exc:
        plog.append(records, NOW)
    assert exc.value.error is error
    assert plog.log_end_offset == 1 and values(plog.read(0, 1 << 20)) == [b"keep"]


def test_crc_mismatch_is_refused(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p")
    data = bytearray(batch([b"payload"]))
    data[-1] ^= 1
    with pytest.raises(AppendError) as exc:
        plog.append(bytes(data), NOW)
    assert exc.value.error is ErrorCode.CORRUPT_MESSAGE


def test_batch_larger_than_max_message_bytes_is_refused(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"max.message.bytes": 500})
    with pytest.raises(AppendError) as exc:
        plog.append(batch([b"x" * 1000]), NOW)
    assert exc.value.error is ErrorCode.MESSAGE_TOO_LARGE


def test_idempotent_retry_returns_the_original_offset_and_gaps_are_refused(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p")
    ids = {"producer_id": 42, "producer_epoch": 0}
    first = batch([b"a", b"b"], base_sequence=0, **ids)
    assert plog.append(first, NOW).base_offset == 0
    assert plog.append(batch([b"c"], base_sequence=2, **ids), NOW).base_offset == 2
    retry = plog.append(first, NOW)
    assert retry.duplicate and retry.base_offset == 0 and plog.log_end_offset == 3
    with pytest.raises(AppendError) as exc:
        plog.append(batch([b"d"], base_sequence=9, **ids), NOW)
    assert exc.value.error is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    with pytest.raises(AppendError) as exc:
        plog.append(batch([b"d"], base_sequence=3, producer_id=42, producer_epoch=-1 + 0), NOW)
    assert exc.value.error is ErrorCode.INVALID_PRODUCER_EPOCH


def test_producer_state_survives_a_clean_restart_and_a_crash(tmp_path: Path) -> None:
    ids = {"producer_id": 7, "producer_epoch": 0}
    first = batch([b"a"], base_sequence=0, **ids)
    plog = open_log(tmp_path / "p")
    plog.append(first, NOW)
    plog.close()
    plog = open_log(tmp_path / "p")
    assert plog.append(first, NOW).duplicate
    # Crash: no close(), no snapshot; the state is rebuilt from the log.
    plog.append(batch([b"b"], base_sequence=1, **ids), NOW)
    plog = open_log(tmp_path / "p", recovery_point=0)
    assert plog.append(batch([b"b"], base_sequence=1, **ids), NOW).duplicate
    assert plog.log_end_offset == 2
    # A snapshot beyond the log's end (the log lost its tail below it) is dropped, not trusted
    # later, and the state is rebuilt from the whole log instead.
    plog.producers.save(tmp_path / "p" / "producer.snapshot", 10)
    plog = open_log(tmp_path / "p", recovery_point=0)
    assert not (tmp_path / "p" / "producer.snapshot").exists()
    assert plog.append(batch([b"b"], base_sequence=1, **ids), NOW).duplicate
    assert not plog.append(batch([b"c"], base_sequence=0, producer_id=8, producer_epoch=0), NOW).duplicate


def test_segments_roll_by_size_with_kafka_names(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"internal.segment.bytes": 4096})
    for i in range(20):
        plog.append(batch([bytes([i]) * 500]), NOW)
    names = sorted(p.name for p in (tmp_path / "p").glob("*.log"))
    assert len(names) == 3 and names[0] == f"{0:020d}.log"
    assert all(len(n) == 24 for n in names)
    assert values(plog.read(13, 1 << 20))[0] == bytes([13]) * 500


def test_segments_roll_by_time(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"segment.ms": 1000})
    plog.append(batch([b"old"], ts=NOW), NOW)
    plog.append(batch([b"new"], ts=NOW + 5000), NOW + 5000)
    assert [s.base_offset for s in plog.segments] == [0, 1]


def test_index_lookup_after_reopen_with_and_without_index_files(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"index.interval.bytes": 100})
    for i in range(200):
        plog.append(batch([str(i).encode() * 20], ts=NOW + i), NOW)
    plog.close()
    plog = open_log(tmp_path / "p")
    assert plog.log_end_offset == 200
    assert values(plog.read(150, 1))[0] == b"150" * 20
    assert plog.find_offset_by_timestamp(NOW + 150) == (150, NOW + 150)
    assert plog.max_timestamp() == (199, NOW + 199)
    plog.close()
    for index in (tmp_path / "p").glob("*index"):
        index.write_bytes(b"\xff" * 13)  # damaged: not a whole number of entries
    plog = open_log(tmp_path / "p")
    assert values(plog.read(199, 1))[0] == b"199" * 20
    assert plog.find_offset_by_timestamp(NOW + 120) == (120, NOW + 120)


def test_recovery_truncates_a_torn_tail_and_keeps_the_rest(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p")
    for i in range(10):
        plog.append(batch([str(i).encode()]), NOW)
    segment = plog.active.log_path
    whole = segment.stat().st_size
    del plog  # simulated crash: nothing flushed or closed
    with open(segment, "ab") as f:
        f.write(batch([b"torn"])[:40])
    plog = open_log(tmp_path / "p", recovery_point=0)
    assert segment.stat().st_size == whole
    assert plog.log_end_offset == 10
    assert plog.append(batch([b"next"]), NOW).base_offset == 10


def test_list_offsets_by_timestamp_and_max_timestamp(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"internal.segment.bytes": 300})
    plog.append(batch([b"a", b"b"], ts=NOW), NOW)  # timestamps NOW, NOW+1
    plog.append(batch([b"c"], ts=NOW + 100), NOW)
    plog.append(batch([b"d"], ts=NOW + 50), NOW)  # out of order on purpose
    plog.close()
    plog = open_log(tmp_path / "p")  # answers must not depend on in-memory history
    assert plog.find_offset_by_timestamp(NOW) == (0, NOW)
    assert plog.find_offset_by_timestamp(NOW + 1) == (1, NOW + 1)
    assert plog.find_offset_by_timestamp(NOW + 2) == (2, NOW + 100)
    assert plog.find_offset_by_timestamp(NOW + 101) is None
    assert plog.max_timestamp() == (2, NOW + 100)


def test_retention_by_time_and_size(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"internal.segment.bytes": 200, "retention.ms": 1000})
    for i in range(6):
        plog.append(batch([bytes([i]) * 100], ts=NOW + i * 1000), NOW + i * 1000)
    assert len(plog.segments) == 6
    assert plog.apply_retention(NOW + 5000) == 4  # segments whose newest record is older than 1 s
    assert plog.log_start_offset == 4
    with pytest.raises(OffsetOutOfRange):
        plog.read(0, 100)
    sized = open_log(tmp_path / "q", **{"internal.segment.bytes": 200, "retention.bytes": 300})
    for i in range(6):
        sized.append(batch([bytes([i]) * 100], ts=NOW), NOW)
    sized.apply_retention(NOW)
    assert sized.size <= 300 + sized.active.size and sized.log_start_offset > 0
    assert sized.log_end_offset == 6


def test_delete_records_moves_the_log_start_and_survives_restart(tmp_path: Path) -> None:
    manager = LogManager(tmp_path / "data", BrokerConfig())
    manager.open()
    manager.create_topic("t", 1, {"internal.segment.bytes": 200})
    plog = manager.partition("t", 0)
    assert plog is not None
    for i in range(10):
        plog.append(batch([bytes([i]) * 100]), NOW)
    assert plog.delete_records_before(7) == 7
    manager.write_log_start_offsets()
    with pytest.raises(OffsetOutOfRange):
        plog.delete_records_before(11)
    assert all(s.next_offset > 7 for s in plog.segments[1:])
    manager.close()
    manager = LogManager(tmp_path / "data", BrokerConfig())
    manager.open()
    reopened = manager.partition("t", 0)
    assert reopened is not None and reopened.log_start_offset == 7
    assert values(reopened.read(7, 1 << 20))[0] == bytes([7]) * 100
    manager.close()


def test_compaction_keeps_the_last_value_per_key_and_expires_tombstones(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"cleanup.policy": "compact", "internal.segment.bytes": 250,
                                       "delete.retention.ms": 1000})
    for i in range(12):
        key = f"k{i % 3}".encode()
        value = None if i == 10 else f"v{i}".encode()  # k1's last write is a tombstone
        plog.append(encode_batch([Record(key=key, value=value, timestamp=NOW + i)]), NOW)
    plog.append(encode_batch([Record(key=b"tail", value=b"active", timestamp=NOW)]), NOW)
    assert plog.compact(NOW + 100) > 0
    kept = [(r.key, r.value) for b in decode_batches(plog.read(0, 1 << 20)) for r in b.records]
    latest = {}
    for key, value in kept:
        latest[key] = value
    assert latest[b"k0"] == b"v9" and latest[b"k2"] == b"v11" and latest[b"k1"] is None
    assert len([k for k, _ in kept if k == b"k0"]) == 1
    # Offsets stay where they were; the active segment is untouched.
    assert plog.log_end_offset == 13
    plog.compact(NOW + 10_000)  # past delete.retention.ms: the tombstone goes
    kept = [(r.key, r.value) for b in decode_batches(plog.read(0, 1 << 20)) for r in b.records]
    assert (b"k1", None) not in kept


def test_compacted_topic_refuses_records_without_keys(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"cleanup.policy": "compact"})
    with pytest.raises(AppendError) as exc:
        plog.append(batch([b"x"], key=None), NOW)
    assert exc.value.error is ErrorCode.INVALID_RECORD


def test_log_append_time_and_forced_compression(tmp_path: Path) -> None:
    stamped = open_log(tmp_path / "a", **{"message.timestamp.type": "LogAppendTime"})
    result = stamped.append(batch([b"x"], ts=5), NOW)
    assert result.log_append_time == NOW
    (b,) = decode_batches(stamped.read(0, 1 << 20))  # CRC verified
    assert b.header.timestamp_type is TimestampType.LOG_APPEND_TIME and b.records[0].timestamp == NOW
    forced = open_log(tmp_path / "b", **{"compression.type": "zstd"})
    forced.append(batch([b"y" * 1000]), NOW)
    (b,) = decode_batches(forced.read(0, 1 << 20))
    assert b.header.compression == Compression.ZSTD and b.records[0].value == b"y" * 1000


def test_manager_rejects_bad_topics_and_keeps_ids_stable(tmp_path: Path) -> None:
    manager = LogManager(tmp_path / "data", BrokerConfig())
    manager.open()
    topic = manager.create_topic("orders.v1", 3)
    for bad in ("", "..", "a/b", "x" * 250):
        with pytest.raises(TopicError):
            manager.check_new_topic(bad, 1, {})
    with pytest.raises(TopicError) as exc:
        manager.check_new_topic("orders_v1", 1, {})
    assert exc.value.error is ErrorCode.INVALID_TOPIC_EXCEPTION
    with pytest.raises(TopicError) as exc:
        manager.check_new_topic("other", 1, {"retention.ms": "soon"})
    assert exc.value.error is ErrorCode.INVALID_CONFIG
    manager.close()
    again = LogManager(tmp_path / "data", BrokerConfig())
    again.open()
    assert again.topics["orders.v1"].topic_id == topic.topic_id
    assert len(again.topics["orders.v1"].partitions) == 3
    assert not (tmp_path / "data" / "orders.v1-0").exists()  # files are made on first use
    assert again.partition("orders.v1", 0) is not None
    metadata = (tmp_path / "data" / "orders.v1-0" / "partition.metadata").read_text()
    assert str(topic.topic_id) in metadata
    again.close()


def test_a_second_broker_cannot_open_the_same_directory(tmp_path: Path) -> None:
    first = LogManager(tmp_path / "data", BrokerConfig())
    first.open()
    with pytest.raises(RuntimeError, match="in use"):
        LogManager(tmp_path / "data", BrokerConfig()).open()
    first.close()


def test_damaged_topics_file_stops_startup_instead_of_losing_topics(tmp_path: Path) -> None:
    manager = LogManager(tmp_path / "data", BrokerConfig())
    manager.open()
    manager.create_topic("keep", 1).partitions[0].append(batch([b"x"]), NOW)
    manager.close()
    (tmp_path / "data" / "topics.json").write_text("{not json")
    with pytest.raises(RuntimeError, match="damaged"):
        LogManager(tmp_path / "data", BrokerConfig()).open()
    assert (tmp_path / "data" / "keep-0").is_dir()


def _manager(data: Path) -> LogManager:
    manager = LogManager(data, BrokerConfig())
    manager.open()
    return manager


def _fill(manager: LogManager, topic: str, partitions: int, records: int) -> None:
    manager.create_topic(topic, partitions)
    for plog in manager.topics[topic].partitions:
        for i in range(records):
            plog.append(batch([f"{plog.partition}-{i}".encode()]), NOW)


def test_partitions_open_on_first_use_and_keep_their_checkpoints_until_then(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "data")
    _fill(manager, "t", 4, 5)
    first = manager.partition("t", 1)
    assert first is not None and first.delete_records_before(2) == 2
    manager.close()

    manager = _manager(tmp_path / "data")
    assert manager.unopened == 4 and not list(manager.opened_partitions())
    manager.close()  # a stop before anything opened must not forget log starts or recovery points
    manager = _manager(tmp_path / "data")
    assert manager.recovery_points() == {("t", p): 5 for p in range(4)}
    reopened = manager.partition("t", 1)
    assert reopened is not None and manager.unopened == 3
    assert (reopened.log_start_offset, reopened.log_end_offset) == (2, 5)
    assert values(reopened.read(2, 1 << 20)) == [b"1-2", b"1-3", b"1-4"]
    assert manager.open_some(10.0) == 0 and len(list(manager.opened_partitions())) == 4
    manager.close()


def test_recovery_a_crash_left_owed_is_done_even_after_a_later_clean_stop(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "data")
    _fill(manager, "t", 2, 3)
    manager.close()
    manager = _manager(tmp_path / "data")  # the clean-shutdown marker is consumed: a crash from here
    segment = tmp_path / "data" / "t-0" / f"{0:020d}.log"
    data = bytearray(segment.read_bytes())
    data[len(data) // 3 * 2 + 70] ^= 0xFF  # inside the third batch's records: a bad CRC, whole length
    segment.write_bytes(bytes(data))
    del manager  # the crash: no close, so the next open recovers from the checkpoints
    (tmp_path / "data" / ".lock").unlink()

    manager = _manager(tmp_path / "data")
    assert manager.recovered
    manager.close()  # clean, with t-0 never opened: its recovery is still owed
    manager = _manager(tmp_path / "data")
    assert not manager.recovered
    damaged = manager.partition("t", 0)
    assert damaged is not None and damaged.log_end_offset == 2
    assert values(damaged.read(0, 1 << 20)) == [b"0-0", b"0-1"]
    manager.close()
    assert (tmp_path / "data" / "recovery-owed-checkpoint").read_text().split("\n")[1:3] == ["1", "t 1 3"]
    manager = _manager(tmp_path / "data")
    assert manager.open_some(10.0) == 0
    manager.close()
    assert not (tmp_path / "data" / "recovery-owed-checkpoint").exists()


def test_deleting_or_reconfiguring_a_topic_that_has_not_opened(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "data")
    _fill(manager, "gone", 3, 1)
    _fill(manager, "kept", 1, 1)
    manager.close()
    manager = _manager(tmp_path / "data")
    manager.delete_topic("gone")
    assert manager.remove_leftovers(10.0) == 0  # the broker does this a slice at a time
    assert not any((tmp_path / "data" / f"gone-{p}").exists() for p in range(3))
    manager.set_topic_overrides("kept", {"internal.segment.bytes": 200})
    kept = manager.partition("kept", 0)
    assert kept is not None and kept.config.segment_bytes == 200
    assert manager.open_some(10.0) == 0
    manager.close()
    manager = _manager(tmp_path / "data")
    assert list(manager.topics) == ["kept"] and manager.recovery_points() == {("kept", 0): 1}
    manager.close()


def test_a_partition_nothing_was_appended_to_closes_without_writing(tmp_path: Path) -> None:
    """A clean stop of 100,000 idle partitions must not rewrite 300,000 files."""
    plog = open_log(tmp_path / "p", **{"index.interval.bytes": 100})
    for i in range(5):
        plog.append(batch([bytes([i]) * 150], producer_id=7, producer_epoch=0, base_sequence=i), NOW)
    plog.close()
    files = [tmp_path / "p" / name for name in (f"{0:020d}.index", f"{0:020d}.timeindex", "producer.snapshot")]
    before = [(f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes()) for f in files]
    plog = open_log(tmp_path / "p", **{"index.interval.bytes": 100})
    plog.close()
    assert [(f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes()) for f in files] == before
    plog = open_log(tmp_path / "p", **{"index.interval.bytes": 100})
    assert plog.append(batch([b"late"], producer_id=7, producer_epoch=0, base_sequence=5), NOW).base_offset == 5
    plog.close()
    assert all(f.read_bytes() != b[2] for f, b in zip(files, before, strict=True))  # each took the new batch
    again = open_log(tmp_path / "p", **{"index.interval.bytes": 100})
    assert again.find_offset_by_timestamp(NOW) == (0, NOW) and again.log_end_offset == 6


def test_directories_of_deleted_topics_go_after_start_and_never_a_new_topics(tmp_path: Path) -> None:
    """A crash during a big deletion leaves directories: the next start lists them at once and
    removes them later, in slices, keeping any that a new topic of the same name now owns."""
    manager = _manager(tmp_path / "data")
    _fill(manager, "big", 50, 1)
    manager.delete_topic("big")
    # A crash now, before any was removed: the broker forgot the topic but not its files.
    os.close(manager._lock_fd)
    again = LogManager(tmp_path / "data", BrokerConfig())
    again.open()
    assert len(again.leftovers) == 50
    again.create_topic("big", 2).partitions[1].append(batch([b"new"]), NOW)
    assert again.remove_leftovers(10.0) == 0
    assert sorted(p.name for p in (tmp_path / "data").iterdir() if p.name.startswith("big-")) == ["big-1"]
    assert values(again.topics["big"].partitions[1].read(0, 1 << 20)) == [b"new"]
    assert again.topics["big"].partitions[0].log_end_offset == 0  # not the deleted topic's data
    again.close()


def test_a_topic_of_100000_partitions_is_created_and_deleted_in_well_under_a_second(tmp_path: Path) -> None:
    import time

    manager = _manager(tmp_path / "data")
    started = time.monotonic()
    manager.create_topic("huge", 100_000)
    # What makes it quick: no partition has a directory or a file until it is first used. The
    # time bound is loose (a busy 2-core machine); bench/partitions.py measures it properly.
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith("huge-")]
    assert time.monotonic() - started < 5
    started = time.monotonic()
    manager.delete_topic("huge")
    assert time.monotonic() - started < 5
    manager.close()
