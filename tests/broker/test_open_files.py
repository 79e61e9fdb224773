"""Descriptors stay bounded however many partitions there are: segment files are opened when used
and the least recently used closed beyond a limit; running out anyway names the limit."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from broker.storage.log import PartitionLog
from broker.storage.segment import OpenFiles

from .conftest import BrokerProcess
from .test_storage import config

ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")


def test_idle_segments_give_their_descriptors_back_and_reopen_when_used(tmp_path: Path) -> None:
    from kctl.protocol.records import Record, decode_batches, encode_batch

    files = OpenFiles(4)
    logs = [PartitionLog(tmp_path / f"t-{i}", "t", i, config(), files) for i in range(10)]
    for plog in logs:
        plog.open(None, 0)
    for round_ in range(3):
        for i, plog in enumerate(logs):
            plog.append(encode_batch([Record(value=f"{i}:{round_}".encode())]))
            assert len(files) <= 4
    # Unflushed data of a segment whose descriptor was closed still reaches the disk.
    fds = [fd for plog in logs for fd in plog.dirty_fds()]
    for fd in fds:
        os.fsync(fd)
        os.close(fd)
    for i, plog in enumerate(logs):
        batches = decode_batches(bytes(plog.read(0, 1 << 20)))
        assert [bytes(r.value or b"") for b in batches for r in b.records] == [f"{i}:{n}".encode() for n in range(3)]
        plog.close()
    assert len(files) == 0


def test_a_whole_file_system_flushes_in_one_call(tmp_path: Path) -> None:
    from broker.storage.disk import can_sync_filesystem, sync_filesystem

    assert can_sync_filesystem()  # Linux's syncfs(2)
    (tmp_path / "written").write_bytes(b"x" * 4096)
    sync_filesystem(tmp_path)
    with pytest.raises(OSError):
        sync_filesystem(tmp_path / "missing")


def test_running_out_of_descriptors_names_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = OpenFiles(8)
    plog = PartitionLog(tmp_path / "t-0", "t", 0, config(), files)

    def no_more(*args: object) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "open", no_more)
    with pytest.raises(OSError) as raised:
        plog.open(None, 0)
    message = str(raised.value)
    assert "Too many open files" in message and "RLIMIT_NOFILE" in message and "ulimit -n" in message


def test_thousands_of_partitions_under_a_small_descriptor_limit(tmp_path: Path) -> None:
    # 2,000 partitions under a limit of 256 descriptors: without the bound, creating them fails
    # with "Too many open files"; with it, produce, fetch, kill -9 and restart all work.
    # Checkpoints every second: each one flushes every partition, a chunk at a time.
    broker = BrokerProcess(tmp_path / "data", {"log.flush.offset.checkpoint.interval.ms": 1000},
                           max_open_files=256).start()
    try:
        admin = ck_admin.AdminClient({"bootstrap.servers": broker.bootstrap})
        topics = [f"many-{i:02d}" for i in range(20)]
        futures = admin.create_topics([ck_admin.NewTopic(t, 100, 1) for t in topics])
        for future in futures.values():
            future.result(60)
        producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for t in topics:
            for p in range(100):
                producer.produce(t, value=f"{t}/{p}".encode(), partition=p)
        assert producer.flush(60) == 0
        del producer, admin
        time.sleep(2.5)  # two checkpoints over 2,000 dirty partitions
        assert broker.open_files() < 256
        assert read_everything(broker.bootstrap, topics) == {f"{t}/{p}" for t in topics for p in range(100)}
        # A clean stop with 2,000 partitions to flush: one syncfs, not 2,000 fsyncs.
        started = time.monotonic()
        assert broker.stop() == 0
        assert time.monotonic() - started < 15
        before = len(broker.log())
        broker.start()
        assert read_everything(broker.bootstrap, topics) == {f"{t}/{p}" for t in topics for p in range(100)}
        assert "recovering" not in broker.log()[before:]  # the clean stop left nothing to check
        broker.kill()
        before = len(broker.log())
        broker.start()
        assert read_everything(broker.bootstrap, topics) == {f"{t}/{p}" for t in topics for p in range(100)}
        # Partitions open on first use and the rest in the background, within the same bound.
        deadline = time.monotonic() + 60
        while "every partition is open" not in broker.log()[before:] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "every partition is open" in broker.log()[before:]
        assert broker.open_files() < 256
    finally:
        broker.stop()


def read_everything(bootstrap: str, topics: list[str]) -> set[str]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "readall", "enable.auto.commit": False,
                            "enable.partition.eof": False})
    consumer.assign([ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for t in topics for p in range(100)])
    seen: set[str] = set()
    try:
        for _ in range(200):
            for message in consumer.consume(500, timeout=0.5):
                assert message.error() is None, message.error()
                seen.add(message.value().decode())
            if len(seen) == 2000:
                break
    finally:
        consumer.close()
    return seen
