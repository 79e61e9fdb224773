"""Lag, column by column: the rows every group view is made of, and the health verdicts.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, overload

if TYPE_CHECKING:
    pass


class LagRow(TypedDict):
    """One group's lag on one partition, as a row."""

    group: str
    topic: str
    partition: int
    committed_offset: int
    log_end_offset: int
    log_start_offset: int
    lag: int  # as read_committed consumers see it: up to the last stable offset
    last_stable_offset: int  # the log end, unless an open transaction holds it back
    in_open_transactions: int  # records from the last stable offset to the log end
    lag_seconds: NotRequired[float | None]  # with record ages
    consume_rate: NotRequired[float]  # from the second look on
    produce_rate: NotRequired[float]
    catch_up_seconds: NotRequired[float | None]
    health: NotRequired[Health]


class Health(enum.StrEnum):
    """Burrow's verdicts on a group, worst last."""

    OK = "OK"
    WARN = "WARN"  # lag grows while offsets move
    PINNED = "PINNED"  # caught up to a last stable offset an open transaction keeps from moving
    STALL = "STALL"  # lag but committed offsets do not move
    STOP = "STOP"  # lag and no consumers
    REWIND = "REWIND"  # a committed offset went back


class LagRows(Sequence[LagRow]):
    """One group's lag on each partition it has committed on, column by column, sorted by topic
    and partition; a sequence of `LagRow`s to whoever wants rows.

    Columns because `kctl lag` over 500 groups of 1,000 partitions has half a million rows: the
    output layer writes them from `columns()`, and sums and verdicts read single columns.
    """

    __slots__ = ("catch_up_seconds", "committed", "consume_rate", "group", "health", "lag", "lag_seconds",
                 "last_stable", "log_end", "log_start", "partitions", "produce_rate", "topics")

    def __init__(self, group: str, topics: list[str], partitions: list[int], committed: list[int],
                 log_end: list[int], log_start: list[int], last_stable: list[int] | None = None) -> None:
        self.group = group
        self.topics = topics
        self.partitions = partitions
        self.committed = committed
        self.log_end = log_end
        self.log_start = log_start
        # The same list as log_end when no transaction is open: most clusters, most looks.
        self.last_stable = log_end if last_stable is None else last_stable
        lag = list(map(operator.sub, self.last_stable, committed))
        if lag and min(lag) < 0:  # committed past the log end (the log was truncated): nothing to read
            lag = [n if n > 0 else 0 for n in lag]
        self.lag = lag
        self.lag_seconds: list[float | None] | None = None  # with record ages
        self.consume_rate: list[float | None] | None = None  # from a group's second look on
        self.produce_rate: list[float | None] | None = None
        self.catch_up_seconds: list[float | None] | None = None
        self.health: Health | None = None  # the group's verdict, the same on every row

    def columns(self) -> dict[str, list[Any]]:
        """Every column a row has, in a row's key order."""
        n = len(self.partitions)
        out: dict[str, list[Any]] = {
            "group": [self.group] * n, "topic": self.topics, "partition": self.partitions,
            "committed_offset": self.committed, "log_end_offset": self.log_end, "log_start_offset": self.log_start,
            "lag": self.lag, "last_stable_offset": self.last_stable,
            "in_open_transactions": self.in_open_transactions(),
        }
        for key, column in (("lag_seconds", self.lag_seconds), ("consume_rate", self.consume_rate),
                            ("produce_rate", self.produce_rate), ("catch_up_seconds", self.catch_up_seconds)):
            if column is not None:
                out[key] = column
        if self.health is not None:
            out["health"] = [self.health] * n
        return out

    def in_open_transactions(self) -> list[int]:
        if self.last_stable is self.log_end:
            return [0] * len(self.partitions)
        return list(map(operator.sub, self.log_end, self.last_stable))

    def __len__(self) -> int:
        return len(self.partitions)

    @overload
    def __getitem__(self, index: int) -> LagRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[LagRow]: ...
    def __getitem__(self, index: int | slice) -> LagRow | list[LagRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return {k: column[index] for k, column in self.columns().items()}  # type: ignore[return-value]

    def __iter__(self) -> Iterator[LagRow]:
        columns = self.columns()
        keys = tuple(columns)
        for values in zip(*columns.values(), strict=True):
            yield dict(zip(keys, values, strict=True))  # type: ignore[misc]
