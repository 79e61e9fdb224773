"""Lag kept column by column, on its own: rows, totals, verdicts and rates from the columns."""

from __future__ import annotations

from kctl.ops.groups import Health, LagHistory, LagRows, _lag_rows, single_look_health
from kctl.protocol.offset_columns import GroupCommitted


def test_rows_are_the_columns_read_across() -> None:
    rows = LagRows("g", ["a", "a", "b"], [0, 1, 0], [5, 9, 2], [10, 8, 2], [0, 0, 1])
    assert rows.lag == [5, 0, 0]  # committed past the log end (a truncated log): nothing to read
    rows.lag_seconds = [1.5, 0.0, 0.0]
    rows.health = Health.STOP
    assert list(rows) == [rows[0], rows[1], rows[2]] == rows[:]
    assert rows[0] == {"group": "g", "topic": "a", "partition": 0, "committed_offset": 5, "log_end_offset": 10,
                       "log_start_offset": 0, "lag": 5, "lag_seconds": 1.5, "health": "STOP"}
    assert list(rows.columns()) == list(rows[2])  # a row's keys, in the columns' order
    assert single_look_health(rows, "Empty") == Health.STOP and single_look_health(rows, "Stable") == Health.OK
    assert single_look_health(LagRows("g", ["a"], [0], [3], [3], [0]), "Empty") == Health.OK


def test_partitions_that_no_longer_exist_are_left_out() -> None:
    committed = GroupCommitted("g", 0, ["a", "gone", "gone", "z"], [0, 0, 1, 3], [1, 2, 3, 4])
    tps = list(zip(committed.topics, committed.partitions, strict=True))
    ends = {("a", 0): 10, ("z", 3): 4}
    starts = {("a", 0): 0, ("z", 3): 1}
    rows = _lag_rows(committed, tps, ends, starts, {("gone", 0), ("gone", 1)})
    assert [(r["topic"], r["partition"], r["lag"]) for r in rows] == [("a", 0, 9), ("z", 3, 0)]
    assert _lag_rows(committed._replace(topics=["a"], partitions=[0], offsets=[1]), [("a", 0)], ends, starts,
                     {("gone", 0)}).committed == [1]


def test_rates_and_time_to_catch_up_come_from_two_looks() -> None:
    history = LagHistory(min_gap_s=0.0)
    history.add(LagRows("g", ["t", "t"], [0, 1], [100, 50], [200, 50], [0, 0]), at=0.0)
    second = LagRows("g", ["t", "t", "t"], [0, 1, 2], [160, 50, 7], [220, 50, 9], [0, 0, 0])
    history.add(second, at=10.0)
    assert second.consume_rate == [6.0, 0.0, None]  # partition 2 is new since the first look
    assert second.produce_rate == [2.0, 0.0, None]
    assert second.catch_up_seconds == [15.0, 0.0, None]  # 60 behind, gaining 4 a second
    assert history.verdict("Stable") == Health.OK
    history.add(LagRows("g", ["t", "t", "t"], [0, 1, 2], [90, 50, 7], [220, 50, 9], [0, 0, 0]), at=20.0)
    assert history.verdict("Stable") == Health.REWIND  # partition 0 is behind where the window began
