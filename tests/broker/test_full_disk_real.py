"""A really full file system: the broker's data directory on a small tmpfs, filled up while a
confluent-kafka producer sends with acks=all. Every record acknowledged before the disk filled
and after space was freed is there after a clean stop and after kill -9; the failed ones were
refused with KAFKA_STORAGE_ERROR, and the broker never stopped serving."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BrokerProcess
from .reading import read_partition

ck = pytest.importorskip("confluent_kafka")

SIZE_MB = 24


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def produce(bootstrap: str, topic: str, values: list[str]) -> tuple[set[str], list[str]]:
    """Send each value; the acknowledged ones, and the errors of the rest."""
    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                            "message.timeout.ms": 4000, "retry.backoff.ms": 200, "batch.size": 16384})
    acked: set[str] = set()
    errors: list[str] = []

    def report(err: object, msg: object) -> None:
        if err is None:
            acked.add(msg.value().decode())  # type: ignore[attr-defined]
        else:
            errors.append(str(err.name()))  # type: ignore[attr-defined]

    for value in values:
        producer.produce(topic, value.encode().ljust(1000, b"."), key=value.encode(), on_delivery=report)
        producer.poll(0)
    assert producer.flush(60) == 0
    return {v.rstrip(".") for v in acked}, errors


def consume_values(bootstrap: str, topic: str) -> list[str]:
    return [value.decode().rstrip(".") for _, value in read_partition(bootstrap, topic) if value is not None]


def fill(mount: Path, leave: int) -> Path:
    """A file that takes all but `leave` bytes of the file system."""
    stats = os.statvfs(mount)
    free = stats.f_bavail * stats.f_frsize
    filler = mount / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(free - leave, 0))
    return filler


@pytest.mark.parametrize("stop", ["sigterm", "kill-9"])
def test_a_full_disk_loses_no_acknowledged_record(small_fs: Path, tmp_path: Path, stop: str) -> None:
    broker = BrokerProcess(small_fs / "data")
    broker.log_path = tmp_path / "broker.log"  # not on the file system that fills up
    broker.start()
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("full", 1, 1, config={"internal.segment.bytes": str(256 * 1024)})])["full"].result(10)
    filler = fill(small_fs, 400 * 1024)

    acked_while_full, errors = produce(broker.bootstrap, "full", [f"before-{i}" for i in range(1500)])
    assert errors, "the disk never filled up"
    assert set(errors) <= {"KAFKA_STORAGE_ERROR", "_MSG_TIMED_OUT"}, errors
    assert 0 < len(acked_while_full) < 1500, set(errors)
    assert "KAFKA_STORAGE_ERROR" in broker.log() or "No space left" in broker.log()

    filler.unlink()
    acked_after, errors_after = produce(broker.bootstrap, "full", [f"after-{i}" for i in range(300)])
    assert not errors_after and len(acked_after) == 300  # writes work again once there is room
    acked = acked_while_full | acked_after
    assert set(consume_values(broker.bootstrap, "full")) >= acked  # reads, before any restart

    if stop == "sigterm":
        assert broker.stop() == 0, broker.log()
    else:
        broker.kill()
    broker.start()
    stored = consume_values(broker.bootstrap, "full")
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    assert set(stored) <= {f"before-{i}" for i in range(1500)} | {f"after-{i}" for i in range(300)}
    assert broker.stop() == 0, broker.log()
