"""Faults injected at the storage seam (`broker.storage.disk`): ENOSPC or EIO from a chosen write,
part-way through it, as a full or failing disk does."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from broker.storage import disk


class DiskFaults:
    """Makes the seam's writes fail while `failing` is set: a write first puts down half of its
    bytes (a torn write), then raises. `truncate_fails` makes cutting a torn write off fail too."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.failing: int | None = None  # the errno to fail with, or None
        self.truncate_fails = False
        self.fsync_fails = 0  # how many of the next fsyncs fail
        self.failures = 0
        real_write_at, real_truncate, real_fsync = disk.write_at, disk.truncate, disk.fsync
        real_open = disk.open_segment

        def write_at(fd: int, pieces: Sequence[bytes | bytearray | memoryview], position: int) -> None:
            if self.failing is not None:
                flat = b"".join(bytes(p) for p in pieces)
                os.pwrite(fd, flat[: len(flat) // 2], position)  # torn: half of it is on disk
                self.failures += 1
                raise OSError(self.failing, os.strerror(self.failing))
            real_write_at(fd, pieces, position)

        def truncate(fd: int, size: int) -> None:
            if self.truncate_fails:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real_truncate(fd, size)

        def fsync(fd: int) -> None:
            if self.fsync_fails:
                self.fsync_fails -= 1
                self.failures += 1
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real_fsync(fd)

        def open_segment(path: Any) -> int:
            if self.failing is not None and not os.path.exists(path):
                self.failures += 1
                raise OSError(self.failing, os.strerror(self.failing), str(path))
            return real_open(path)

        monkeypatch.setattr(disk, "write_at", write_at)
        monkeypatch.setattr(disk, "truncate", truncate)
        monkeypatch.setattr(disk, "fsync", fsync)
        monkeypatch.setattr(disk, "open_segment", open_segment)

    @contextmanager
    def full(self, code: int = errno.ENOSPC) -> Iterator[None]:
        self.failing = code
        try:
            yield
        finally:
            self.failing = None


FAULTS = [errno.ENOSPC, errno.EIO]
