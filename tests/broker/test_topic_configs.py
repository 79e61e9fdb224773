"""What the topic configs Kafka 4 added do here: compression levels when the broker compresses,
the timestamp bounds of KIP-937, segment jitter, and the cleaner's dirty ratio and maximum lag.
(Which configs exist, their defaults, types and validation are held to Apache Kafka's own in
tests/apache_kafka/test_topic_configs_like_kafka.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.config import ConfigError, parse_topic_configs
from broker.storage.log import AppendError, PartitionLog
from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import Record, encode_batch

from .test_storage import config


def open_log(path: Path, **overrides: object) -> PartitionLog:
    plog = PartitionLog(path, "t", 0, config(**parse_topic_configs({k: str(v) for k, v in overrides.items()})))
    plog.open(None, 0)
    return plog


def test_int_configs_refuse_values_past_the_int_maximum() -> None:
    with pytest.raises(ConfigError, match="Not a number of type INT"):
        parse_topic_configs({"segment.bytes": str(2**31)})
    assert parse_topic_configs({"segment.bytes": str(2**31 - 1)}) == {"segment.bytes": 2**31 - 1}
    with pytest.raises(ConfigError, match="at least 1048576"):
        parse_topic_configs({"segment.bytes": "200"})
    with pytest.raises(ConfigError, match="Tiered Storage"):
        parse_topic_configs({"remote.storage.enable": "true"})


@pytest.mark.parametrize("codec", ["gzip", "zstd", "lz4"])
def test_the_compression_level_is_used_when_the_broker_compresses(tmp_path: Path, codec: str) -> None:
    levels = {"gzip": (1, 9), "zstd": (-5, 19), "lz4": (1, 17)}[codec]
    text = b"".join(b"%d the quick brown fox %d jumps over %d " % (i, i * 7, i * 13) for i in range(3000))
    sizes = []
    for level in levels:
        plog = open_log(tmp_path / f"{codec}{level}", **{"compression.type": codec,
                                                           f"compression.{codec}.level": level})
        plog.append(encode_batch([Record(b"k", text)]))
        sizes.append(plog.size)
        assert [r.value for r in plog.replay()] == [text]
    assert sizes[1] < sizes[0], sizes


def test_create_time_records_outside_the_timestamp_bounds_are_refused(tmp_path: Path) -> None:
    now = now_ms()
    plog = open_log(tmp_path / "p", **{"message.timestamp.before.max.ms": 60_000})
    for ts in (now + 2 * 3_600_000, now - 120_000):  # after.max.ms is an hour by default
        with pytest.raises(AppendError) as refused:
            plog.append(encode_batch([Record(b"k", b"v", timestamp=ts)]), now)
        assert refused.value.error is ErrorCode.INVALID_TIMESTAMP
    # A batch whose first record is fine but a later one is not is refused too.
    with pytest.raises(AppendError):
        plog.append(encode_batch([Record(b"k", b"a", timestamp=now), Record(b"k", b"b", timestamp=now - 120_000)]),
                    now)
    assert plog.log_end_offset == 0
    plog.append(encode_batch([Record(b"k", b"v", timestamp=now - 1000)]), now)
    stamped = open_log(tmp_path / "q", **{"message.timestamp.type": "LogAppendTime"})
    stamped.append(encode_batch([Record(b"k", b"v", timestamp=now + 10 * 3_600_000)]), now)  # the broker's time


def test_segment_jitter_rolls_segments_early_by_a_random_part_of_it(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"segment.ms": 60_000, "segment.jitter.ms": 50_000})
    now = now_ms()
    for _ in range(30):
        plog.append(encode_batch([Record(b"k", b"v", timestamp=now)]), now)
        plog.roll()
    jitters = [s.roll_jitter_ms for s in plog.segments[1:]]
    assert all(0 <= j < 50_000 for j in jitters) and len(set(jitters)) > 1
    # The active segment rolls once segment.ms less its jitter has passed.
    active = plog.active
    plog.append(encode_batch([Record(b"k", b"v", timestamp=now)]), now)
    due = now + 60_000 - active.roll_jitter_ms
    plog.append(encode_batch([Record(b"k", b"v", timestamp=due - 1)]), due - 1)
    assert plog.active is active
    plog.append(encode_batch([Record(b"k", b"v", timestamp=due)]), due)
    assert plog.active is not active


def test_the_cleaner_waits_for_the_dirty_ratio_or_the_maximum_lag(tmp_path: Path) -> None:
    now = now_ms()
    plog = open_log(tmp_path / "p", **{"cleanup.policy": "compact", "internal.segment.bytes": 300,
                                       "min.cleanable.dirty.ratio": 0.6})
    for i in range(20):
        plog.append(encode_batch([Record(f"key-{i % 5}".encode(), os.urandom(100), timestamp=now)]), now)
    assert plog.needs_compaction(now)  # everything is dirty
    assert plog.compact(now) > 0
    assert not plog.needs_compaction(now)
    plog.append(encode_batch([Record(b"key-1", os.urandom(100), timestamp=now)]), now)
    plog.append(encode_batch([Record(b"key-2", os.urandom(100), timestamp=now)]), now)  # a little dirt
    assert not plog.needs_compaction(now)
    assert not plog.needs_compaction(now + 3_600_000)  # max.compaction.lag.ms is forever by default
    plog.config = config(**parse_topic_configs({"cleanup.policy": "compact", "internal.segment.bytes": "300",
                                                "min.cleanable.dirty.ratio": "0.6", "max.compaction.lag.ms": "1000"}))
    assert not plog.needs_compaction(now)
    assert plog.needs_compaction(now + 5000)  # the dirty records are older than the maximum lag
