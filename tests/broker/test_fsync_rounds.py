"""A group-commit round's fsyncs: all of a round's descriptors synced (in parallel) and closed,
and a failing fsync reported only once every other one is over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.durability import _fsync_all


def closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_every_descriptor_is_synced_and_closed(tmp_path: Path) -> None:
    fds = []
    for i in range(5):
        fd = os.open(tmp_path / f"segment-{i}", os.O_CREAT | os.O_WRONLY)
        os.write(fd, b"x" * 4096)
        fds.append(fd)
    _fsync_all(fds)
    assert all(map(closed, fds))
    assert [(tmp_path / f"segment-{i}").stat().st_size for i in range(5)] == [4096] * 5


def test_a_failed_fsync_is_raised_after_the_others_and_nothing_stays_open(tmp_path: Path) -> None:
    files = [os.open(tmp_path / f"segment-{i}", os.O_CREAT | os.O_WRONLY) for i in range(3)]
    read_end, write_end = os.pipe()  # fsync on a pipe fails (EINVAL)
    fds = [files[0], read_end, files[1], files[2]]
    with pytest.raises(OSError):
        _fsync_all(fds)
    assert all(map(closed, fds))
    os.close(write_end)


def test_a_rounds_fsyncs_run_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A disk takes several fsyncs at once in about the time of one: a round must not queue them.
    import threading
    import time

    real_fsync, lock = os.fsync, threading.Lock()
    running, most = 0, 0

    def slow_fsync(fd: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)
        real_fsync(fd)
        with lock:
            running -= 1

    monkeypatch.setattr(os, "fsync", slow_fsync)
    fds = [os.open(tmp_path / f"segment-{i}", os.O_CREAT | os.O_WRONLY) for i in range(4)]
    _fsync_all(fds)
    assert most == 4 and all(map(closed, fds))
