"""Looks at a group over time: consume and produce rates, the time to catch up, and the verdicts
that need two looks (Burrow's REWIND, STALL, STOP).
"""

from __future__ import annotations

import math
import operator
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING

from kctl.protocol.enums import GroupState

if TYPE_CHECKING:
    pass
from .rows import Health, LagRows

RATE_WINDOW = 10  # looks


@dataclass(slots=True)
class Look:
    """One look at a group, kept compactly: thousands of partitions times many groups times
    the rate window would not fit as rows. `topics` and `partitions` (the look's partitions,
    row by row) are shared with the previous look while they are the same."""

    topics: list[str]
    partitions: list[int]
    committed: array[int]  # only partitions with an offset committed
    log_end: array[int]
    total: int
    at: float
    last_stable: array[int] | None = None  # None: the log end everywhere (no transaction held one back)

    @classmethod
    def of(cls, rows: LagRows, at: float, previous: Look | None) -> Look:
        topics, partitions = rows.topics, rows.partitions
        if previous is not None and previous.topics == topics and previous.partitions == partitions:
            topics, partitions = previous.topics, previous.partitions
        stable = None if rows.last_stable is rows.log_end else array("q", rows.last_stable)
        return cls(topics, partitions, array("q", rows.committed), array("q", rows.log_end), sum(rows.lag), at,
                   stable)

    def same_partitions(self, other: Look) -> bool:
        return other.topics is self.topics and other.partitions is self.partitions

    def aligned(self, other: Look) -> list[int]:
        """For each of this look's partitions, its index in `other` (-1: not there)."""
        if self.same_partitions(other):
            return list(range(len(self.topics)))
        where = {k: i for i, k in enumerate(zip(other.topics, other.partitions, strict=True))}
        return [where.get(k, -1) for k in zip(self.topics, self.partitions, strict=True)]

    def earlier(self, other: Look, column: str) -> array[int]:
        """`other`'s values of a column ("committed", "log_end" or "last_stable") for this look's
        partitions (-1: not there then)."""
        theirs: array[int] = getattr(other, column)
        if theirs is None:  # no last stable offset held back then: it was the log end
            theirs = other.log_end
        if self.same_partitions(other):
            return theirs
        return array("q", [theirs[j] if j >= 0 else -1 for j in self.aligned(other)])

    def moved_back(self, before: Look) -> bool:
        """Whether a committed offset is behind where it was: a reset, which consumption never does."""
        earlier = self.earlier(before, "committed")
        return any(then >= 0 and 0 <= now < then for now, then in zip(self.committed, earlier, strict=True))

    def index(self, topic: str, partition: int) -> int | None:
        for i, found in enumerate(zip(self.topics, self.partitions, strict=True)):
            if found == (topic, partition):
                return i
        return None


def health(first: Look, last: Look, looks: int, state: str) -> Health:
    """Burrow's verdicts between the first and the last look of a window, minus its false STOP
    on idle topics."""
    earlier = last.earlier(first, "committed") if looks > 1 else array("q")
    if earlier and any(map(operator.lt, last.committed, earlier)):
        return Health.REWIND  # a committed offset went back
    if looks > 1 and _pinned(first, last):
        return Health.PINNED
    if last.total == 0:
        return Health.OK  # caught up: an idle topic is not a stopped consumer
    if state in (GroupState.EMPTY, GroupState.DEAD):
        return Health.STOP
    if looks == 1:
        return Health.OK
    if last.committed == earlier:
        return Health.STALL
    if last.total > first.total:
        return Health.WARN
    return Health.OK


def _pinned(first: Look, last: Look) -> bool:
    """A partition whose consumer waits at a last stable offset that stayed put over the window
    while records came in behind it: an open transaction holds read_committed readers (a
    hanging one does so for ever; `kctl transactions find-hanging`)."""
    if first.last_stable is None or last.last_stable is None:
        return False
    then = last.earlier(first, "last_stable")
    ends_then = last.earlier(first, "log_end")
    return any(stable == before and stable < end and committed >= stable and end_then > stable
               for stable, before, end, end_then, committed
               in zip(last.last_stable, then, last.log_end, ends_then, last.committed, strict=True))


def _rates(now: array[int], then: array[int], seconds: float) -> list[float | None]:
    """Per second between two looks at an offset, to a tenth (None: the partition was not in
    the earlier look)."""
    if min(then, default=0) < 0:
        return [None if b < 0 else round((a - b) / seconds, 1) for a, b in zip(now, then, strict=True)]
    moved = list(map(operator.sub, now, then))
    if not any(moved):
        return [0.0] * len(moved)
    # round(x, 1), column at a time in C: floor(x * 10 + 0.5) / 10
    tenths = map(math.floor, map(operator.add, map(operator.mul, moved, repeat(10 / seconds)), repeat(0.5)))
    return list(map(operator.truediv, tenths, repeat(10)))


def _catch_up(lag: list[int], consume: list[float | None], produce: list[float | None]) -> list[float | None]:
    """Seconds until each partition is caught up at its current rates: 0 when it is, None when
    it is not catching up (or a rate is unknown)."""
    n = len(lag)
    if None not in consume and None not in produce and not any(map(operator.gt, consume, produce)):  # type: ignore[arg-type]
        # Nowhere catching up, the usual case when a look finds nothing moving: column at a time.
        if not any(lag):
            return [0.0] * n
        if min(lag) > 0:
            return [None] * n
        return [None if behind else 0.0 for behind in lag]
    return [(round(behind / (c - p), 1) if c is not None and p is not None and c > p else None) if behind else 0.0
            for behind, c, p in zip(lag, consume, produce, strict=True)]


def single_look_health(rows: LagRows, state: str) -> Health:
    """The verdict one look allows (REWIND and STALL need two), as `health` gives it."""
    if not any(rows.lag):
        return Health.OK  # caught up: an idle topic is not a stopped consumer
    return Health.STOP if state in (GroupState.EMPTY, GroupState.DEAD) else Health.OK


@dataclass(slots=True)
class LagHistory:
    """Looks at one group over time (newest last), bounded: total lag for the trend, and the
    last RATE_WINDOW looks per partition for rates and verdicts. Rows are not kept: at 500
    groups of 1,000 partitions they would be most of a console's memory."""

    limit: int = 60  # totals kept for the trend
    #: Looks closer together than this replace the previous one: a rate over a moment is noise.
    min_gap_s: float = 1.0
    looks: deque[Look] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))
    totals: list[int] = field(default_factory=list)
    #: The look rates are measured from when it is not the window's first: the first after a reset.
    rate_base: Look | None = None
    _restart_at_next: bool = False

    def add(self, rows: LagRows, at: float | None = None) -> None:
        """A new look; its rows get consume and produce rates and the time to catch up."""
        at = time.monotonic() if at is None else at
        if self.looks and at - self.looks[-1].at < self.min_gap_s:
            if self.looks.pop() is self.rate_base:
                self._restart_at_next = True
            self.totals.pop()
        look = Look.of(rows, at, self.looks[-1] if self.looks else None)
        if self._restart_at_next or (self.looks and look.moved_back(self.looks[-1])):
            # A reset, not consumption: rates start again from this look. The window keeps the
            # looks before it, so that the verdict still sees the rewind.
            self.rate_base, self._restart_at_next = look, False
        self.looks.append(look)
        self.totals.append(look.total)
        del self.totals[:-self.limit]
        base = next((seen for seen in self.looks if seen is self.rate_base), self.looks[0])
        if base is not look:
            self._add_rates(rows, base, look)

    @staticmethod
    def _add_rates(rows: LagRows, first: Look, last: Look) -> None:
        # Column at a time, in C where it can be: a --watch over half a million rows does this
        # at every refresh.
        seconds = last.at - first.at or 1.0
        consume = _rates(last.committed, last.earlier(first, "committed"), seconds)
        produce = _rates(last.log_end, last.earlier(first, "log_end"), seconds)
        rows.consume_rate, rows.produce_rate = consume, produce
        rows.catch_up_seconds = _catch_up(rows.lag, consume, produce)

    def restart(self) -> None:
        """Measure rates from the next look on: an offset reset made the committed offsets jump,
        and a rate across the jump would be made up."""
        self._restart_at_next = True

    def verdict(self, state: str) -> Health:
        return health(self.looks[0], self.looks[-1], len(self.looks), state) if self.looks else Health.OK

    def total_lag(self) -> list[int]:
        return list(self.totals)

    def partition_lag(self, topic: str, partition: int) -> list[int]:
        """The partition's lag in each look of the rate window."""
        lags = []
        for look in self.looks:
            i = look.index(topic, partition)
            if i is None:
                continue
            base = look.committed[i]
            end = look.log_end[i] if look.last_stable is None else look.last_stable[i]
            lags.append(max(end - base, 0) if base >= 0 else 0)
        return lags
