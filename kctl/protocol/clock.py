"""Kafka's clock: wall time in milliseconds since the epoch, as record timestamps count it.

Read by the layers that do I/O (the broker's handlers, the client, the front ends); sans-IO code
takes the time as an argument instead.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
