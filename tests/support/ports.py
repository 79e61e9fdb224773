"""Free TCP ports for servers the tests start."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port free now, below the range the kernel picks client ports from: a port the kernel
    handed out as free can be taken by an outgoing connection before the server binds it."""
    low, high = 10_000, _ephemeral_range()[0]
    # Parallel test workers (pytest-xdist's gw0, gw1, ...) each draw from their own slice, so
    # two workers never race for one port between finding it free and binding it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and worker[2:].isdigit() and workers > 1:
        size = (high - low) // workers
        low += int(worker[2:]) % workers * size
        high = low + size
    for _ in range(200):
        port = random.randrange(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # a crowded range: whatever the kernel gives
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
