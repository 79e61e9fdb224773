"""kcat (Debian's build, librdkafka 2.0.x) against the broker.

kcat has no admin commands, so the 6-partition topic comes from auto-creation with
num.partitions=6, and timestamps are the producer's clock rather than chosen ones. Topic configs
through librdkafka are covered by the confluent-kafka test, which uses the same library.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from .conftest import BrokerProcess
from .interop import CODECS, PARTITIONS, Got, Sent, check_roundtrip

pytestmark = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")

PER_CODEC = 10_000


def kcat(broker: BrokerProcess, *args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(["kcat", "-b", broker.bootstrap, *args], input=data, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def test_kcat_end_to_end(shared_broker: BrokerProcess) -> None:
    broker = shared_broker
    topic = "interop-kcat"
    sent: list[Sent] = []
    started = int(time.time() * 1000)
    for index, codec in enumerate(CODECS):
        for p in range(PARTITIONS):
            batch = [
                Sent(p, f"key-{n}".encode(), f"{codec}:{n}:".encode() + b"v" * (n % 97),
                     (("codec", codec.encode()),), 0)
                for n in range(index * PER_CODEC + p, (index + 1) * PER_CODEC, PARTITIONS)
            ]
            lines = b"".join(s.key + b"\t" + s.value + b"\n" for s in batch)
            compression = [] if codec == "none" else ["-z", codec]
            kcat(broker, "-P", "-t", topic, "-p", str(p), "-K", "\t", "-H", f"codec={codec}", *compression,
                 "-X", "acks=all", data=lines)
            sent += batch
    finished = int(time.time() * 1000)

    listing = json.loads(kcat(broker, "-L", "-J", "-t", topic))
    assert listing["brokers"] == [{"id": 0, "name": broker.bootstrap}]
    assert len(listing["topics"][0]["partitions"]) == PARTITIONS

    got: list[Got] = []
    for p in range(PARTITIONS):
        out = kcat(broker, "-C", "-t", topic, "-p", str(p), "-o", "beginning", "-e", "-J")
        for line in out.splitlines():
            m = json.loads(line)
            headers = m.get("headers") or []
            got.append(Got(m["partition"], m["offset"], m["key"].encode(), m["payload"].encode(),
                           tuple((headers[i], headers[i + 1].encode()) for i in range(0, len(headers), 2)),
                           m["ts"]))
    # kcat stamps records with its own clock: check the window, then compare the rest exactly.
    assert all(started - 1000 <= g.timestamp <= finished + 1000 for g in got)
    by_partition = check_roundtrip([Sent(s.partition, s.key, s.value, s.headers, 0) for s in sent],
                                   [Got(g.partition, g.offset, g.key, g.value, g.headers, 0) for g in got])
    del by_partition
    real: dict[int, list[Got]] = {}
    for g in got:
        real.setdefault(g.partition, []).append(g)
    for p, records in real.items():
        assert [r.timestamp for r in records] == sorted(r.timestamp for r in records), "timestamps went back"
        for probe in {records[0].timestamp, records[len(records) // 2].timestamp, records[-1].timestamp}:
            expected = next(r.offset for r in records if r.timestamp >= probe)
            out = kcat(broker, "-C", "-t", topic, "-p", str(p), "-o", f"s@{probe}", "-c", "1", "-J")
            assert json.loads(out)["offset"] == expected, (p, probe)
