"""Keep large buffers in the heap so that reusing them does not fault in fresh pages.

Every produce frame and fetch response is a buffer of up to several MB. glibc hands blocks that
big out with mmap and returns them with munmap, so each request pays for zero-filling new pages,
which costs more than the data copy itself. Raising the mmap and trim thresholds makes freed
blocks go back to the heap, where the next request finds them already mapped. RSS settles at the
working set of in-flight buffers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("broker")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20


def keep_large_buffers_in_heap() -> bool:
    """Tune glibc's allocator; returns False (and changes nothing) on other C libraries."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not ok:
        log.debug("mallopt refused the buffer thresholds")
    return ok
