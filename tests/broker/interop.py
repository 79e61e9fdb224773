"""The scenario every third-party client runs against the broker, and its checks.

Each client creates a 6-partition topic, produces 10,000 keyed records per compression codec
with headers and explicit timestamps into fixed partitions, then reads every partition back by
assignment. The checks compare what came back with what was sent, record for record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

PARTITIONS = 6
PER_CODEC = 10_000
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


@dataclass(frozen=True, slots=True)
class Sent:
    partition: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


@dataclass(frozen=True, slots=True)
class Got:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


def dataset(codec: str, codec_index: int, base_ts: int, count: int = PER_CODEC) -> list[Sent]:
    out = []
    for i in range(count):
        n = codec_index * count + i
        out.append(Sent(
            partition=n % PARTITIONS,
            key=f"key-{n}".encode(),
            value=f"{codec}:{n}:".encode() + b"v" * (n % 97),
            headers=(("n", str(n).encode()), ("codec", codec.encode())),
            timestamp=base_ts + n,
        ))
    return out


def base_timestamp() -> int:
    """An hour ago, well inside the default retention, on a whole second."""
    return (int(time.time()) - 3600) * 1000


def check_roundtrip(sent: list[Sent], got: list[Got]) -> dict[int, list[Got]]:
    """Every sent record came back once, in per-partition order, with everything intact."""
    by_partition: dict[int, list[Got]] = {}
    for g in got:
        by_partition.setdefault(g.partition, []).append(g)
    for p, records in by_partition.items():
        offsets = [r.offset for r in records]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), f"partition {p} out of order"
    for p in range(PARTITIONS):
        expected = [s for s in sent if s.partition == p]
        actual = by_partition.get(p, [])
        assert len(actual) == len(expected), f"partition {p}: {len(actual)} records, expected {len(expected)}"
        for s, g in zip(expected, actual, strict=True):
            assert (g.key, g.value, g.headers, g.timestamp) == (s.key, s.value, s.headers, s.timestamp), (
                f"partition {p} offset {g.offset}: got {g} for {s}"
            )
    return by_partition


def timestamp_probes(by_partition: dict[int, list[Got]]) -> list[tuple[int, int, int]]:
    """(partition, timestamp, expected offset) triples: the first record at or after the timestamp."""
    probes = []
    for p, records in sorted(by_partition.items()):
        picks = [records[i].timestamp for i in (0, 1, len(records) // 3, len(records) // 2, len(records) - 1)]
        picks.append(records[len(records) // 4].timestamp + 1)  # between records, unless two share it
        for ts in picks:
            expected = next(r.offset for r in records if r.timestamp >= ts) if records[-1].timestamp >= ts else -1
            probes.append((p, ts, expected))
    return [probe for probe in probes if probe[2] >= 0]
