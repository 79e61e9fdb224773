"""One flush for a whole file system, for when there are too many files to fsync one by one.

A broker with 100,000 partitions, each with a record not yet on disk, would spend minutes on
100,000 fsyncs at a clean shutdown or a checkpoint. Linux's syncfs(2) writes back every dirty
page and inode of the file system holding the data directory in one call (and, from Linux 5.8,
reports write-back errors as fsync does).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Any

#: More dirty partitions than this are flushed with one syncfs rather than one fsync each.
BULK_SYNC_PARTITIONS = 256


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
