"""The storage seam: every byte the broker writes to its data directory goes through here.

Callers use these functions through the module (`disk.write_at(...)`), so that the fault
injection tests can replace one of them and make it fail with ENOSPC or EIO part-way, as a full
or failing disk would. Each function either does all of its work or raises OSError; the caller
decides how to leave its own state as it was before (a log truncates the torn tail back).

It also holds the whole-file-system flush for when there are too many files to fsync one by
one: a broker with 100,000 partitions, each with a record not yet on disk, would spend minutes
on 100,000 fsyncs at a clean shutdown or a checkpoint. Linux's syncfs(2) writes back every dirty
page and inode of the file system holding the data directory in one call (and, from Linux 5.8,
reports write-back errors as fsync does).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: More dirty partitions than this are flushed with one syncfs rather than one fsync each.
BULK_SYNC_PARTITIONS = 256

#: errno values that mean "the disk is full", which freeing space cures, as against a failing disk.
FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def describe(exc: OSError) -> str:
    """A failed write, as an operator reads it: what and where."""
    what = exc.strerror or str(exc)
    return f"{what} ({exc.filename})" if exc.filename else what


# ---- segment files ---------------------------------------------------------------------------
def open_segment(path: Path) -> int:
    """A read-write descriptor of a segment file, created if missing. Not O_APPEND: appends
    write at the log's own idea of its end (`write_at`), so a torn write that could not be cut
    off is overwritten by the next one instead of being read as data after it."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def write_at(fd: int, pieces: Sequence[bytes | bytearray | memoryview], position: int) -> None:
    """Write `pieces` one after another from `position`, all of them or raise OSError (after
    which anything from `position` on may have been written: the caller truncates it)."""
    expected = sum(len(p) for p in pieces)
    written = os.pwritev(fd, pieces, position)
    if written < expected:  # a short write on a regular file is rare but legal
        rest = b"".join(bytes(p) for p in pieces)[written:]
        while rest:
            n = os.pwrite(fd, rest, position + written)
            if n <= 0:
                raise OSError(errno.EIO, "write made no progress")
            written += n
            rest = rest[n:]


def truncate(fd: int, size: int) -> None:
    os.ftruncate(fd, size)


def fsync(fd: int) -> None:
    os.fsync(fd)


# ---- whole files -------------------------------------------------------------------------------
def write_atomically(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data`: the new contents whole or the old ones, never a mix, and (if
    `durable`) on disk when this returns. A failure leaves the old file and no temporary one."""
    tmp = path.with_name(path.name + ".tmp")
    raw = data.encode() if isinstance(data, str) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_at(fd, [raw], 0)
            if durable:
                fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        sync_directory(path.parent)


def write_new_file(path: Path, data: bytes | bytearray) -> None:
    """Create `path` with `data`, fsynced; a failure removes whatever part of it was written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_at(fd, [data], 0)
            fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def append_file(path: Path, data: bytes, *, start_over: bool) -> None:
    """Add `data` at the end of `path` (or replace it, with `start_over`)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if start_over else 0)
    fd = os.open(path, flags, 0o644)
    try:
        end = 0 if start_over else os.fstat(fd).st_size
        if data:
            write_at(fd, [data], end)
    finally:
        os.close(fd)


def rename(source: Path, target: Path) -> None:
    """Rename within the data directory (a segment marked .deleted)."""
    os.rename(source, target)


def replace(source: Path, target: Path) -> None:
    """Put `source` in `target`'s place at once (a cleaned segment)."""
    os.replace(source, target)


def remove_tree(path: Path) -> None:
    """Remove a partition's directory, whatever is left of it."""
    shutil.rmtree(path, ignore_errors=True)


def sync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ---- the whole file system ---------------------------------------------------------------------
def _syncfs() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _syncfs()


def can_sync_filesystem() -> bool:
    return _SYNCFS is not None


def sync_filesystem(directory: Path) -> None:
    """Everything written to the file system holding `directory` so far is on disk when this
    returns. Raises OSError as fsync would; call only where `can_sync_filesystem()`."""
    assert _SYNCFS is not None
    fd = os.open(directory, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"syncfs: {os.strerror(code)}", str(directory))
    finally:
        os.close(fd)
