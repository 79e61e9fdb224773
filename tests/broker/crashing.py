"""`python -m broker`, killed with SIGKILL at a chosen call of the storage seam: the crash tests'
broker. KCTL_TEST_CRASH_AT=FUNCTION:N:WHEN[:PATH] kills the process just before (WHEN=before) or
just after (after) the Nth call of `broker.storage.disk.FUNCTION` (counting only calls whose first
argument, or the file its descriptor is open on, contains PATH, if given), as kill -9 would at
that moment: the write in progress is whole or not begun, as a process's writes are when it dies."""

from __future__ import annotations

import itertools
import os
import signal
import sys
from typing import Any

from broker.storage import disk


def arm(spec: str) -> None:
    name, nth, when, *path = spec.split(":")
    real = getattr(disk, name)
    calls = itertools.count(1)  # next() is atomic: fsyncs run on several threads at once

    def crashing(*args: Any, **kwargs: Any) -> Any:
        if path and path[0] not in _named(args[0]):
            return real(*args, **kwargs)
        this = next(calls)
        if this == int(nth) and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if this == int(nth) and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(disk, name, crashing)


def _named(first: Any) -> str:
    """A path argument as it is, a descriptor as the path it is open on."""
    if isinstance(first, int):
        try:
            return os.readlink(f"/proc/self/fd/{first}")
        except OSError:
            return ""
    return str(first)


if __name__ == "__main__":
    arm(os.environ["KCTL_TEST_CRASH_AT"])
    from broker.__main__ import main

    sys.exit(main(sys.argv[1:]))
