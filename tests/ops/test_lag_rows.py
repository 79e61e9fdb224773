"""Lag kept column by column, on its own: rows, totals, verdicts and rates from the columns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kctl.ops.groups import Health, LagHistory, LagRows, single_look_health
from kctl.ops.groups.history import _catch_up
from kctl.ops.groups.lag import _lag_rows, _Partitions
from kctl.protocol.offset_columns import GroupCommitted


def test_rows_are_the_columns_read_across() -> None:
    rows = LagRows("g", ["a", "a", "b"], [0, 1, 0], [5, 9, 2], [10, 8, 2], [0, 0, 1])
    assert rows.lag == [5, 0, 0]  # committed past the log end (a truncated log): nothing to read
    rows.lag_seconds = [1.5, 0.0, 0.0]
    rows.health = Health.STOP
    assert list(rows) == [rows[0], rows[1], rows[2]] == rows[:]
    assert rows[0] == {"group": "g", "topic": "a", "partition": 0, "committed_offset": 5, "log_end_offset": 10,
                       "log_start_offset": 0, "lag": 5, "last_stable_offset": 10, "in_open_transactions": 0,
                       "lag_seconds": 1.5, "health": "STOP"}
    assert list(rows.columns()) == list(rows[2])  # a row's keys, in the columns' order
    assert single_look_health(rows, "Empty") == Health.STOP and single_look_health(rows, "Stable") == Health.OK
    assert single_look_health(LagRows("g", ["a"], [0], [3], [3], [0]), "Empty") == Health.OK


def test_partitions_that_no_longer_exist_are_left_out() -> None:
    committed = GroupCommitted("g", 0, ["a", "gone", "gone", "z"], [0, 0, 1, 3], [1, 2, 3, 4])
    ends = {("a", 0): 10, ("z", 3): 4}
    starts = {("a", 0): 0, ("z", 3): 1}
    gone = {("gone", 0), ("gone", 1)}
    shared = _Partitions.of(committed, None)
    rows = _lag_rows(committed, shared, ends, starts, gone)
    assert [(r["topic"], r["partition"], r["lag"]) for r in rows] == [("a", 0, 9), ("z", 3, 0)]
    # The next group on the same partitions shares the columns and leaves out the same rows.
    other = committed._replace(group_id="h", offsets=[5, 6, 7, 1])
    assert _Partitions.of(other, shared) is shared
    again = _lag_rows(other, shared, ends, starts, gone)
    assert again.committed == [5, 1] and again.lag == [5, 3] and again.topics is rows.topics
    # A group on the rows that were left (not the same partitions as committed) is its own.
    fewer = committed._replace(topics=["a", "z"], partitions=[0, 3], offsets=[1, 2])
    assert _Partitions.of(fewer, shared) is not shared
    assert _lag_rows(committed._replace(topics=["a"], partitions=[0], offsets=[1]),
                     _Partitions(["a"], [0]), ends, starts, {("gone", 0)}).committed == [1]


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

    # The same partitions as the look before: the columns are shared, not copied.
    assert history.looks[-1].topics is history.looks[-2].topics
    assert history.partition_lag("t", 0) == [100, 60, 130]
    assert history.partition_lag("t", 2) == [2, 2] and history.partition_lag("t", 9) == []


def test_an_open_transaction_holds_lag_to_the_last_stable_offset_and_a_frozen_one_pins_the_group() -> None:
    # Partition 1: records up to 50, but an open transaction began at 40.
    committed = GroupCommitted("g", 0, ["t", "t"], [0, 1], [10, 40])
    shared = _Partitions.of(committed, None)
    rows = _lag_rows(committed, shared, {("t", 0): 10, ("t", 1): 50}, {("t", 0): 0, ("t", 1): 0}, set(),
                     {("t", 1): 40})
    assert rows.lag == [0, 0]  # as read_committed consumers see it: nothing more to read yet
    assert [(r["last_stable_offset"], r["in_open_transactions"]) for r in rows] == [(10, 0), (40, 10)]
    history = LagHistory(min_gap_s=0.0)
    history.add(rows, at=0.0)
    assert history.verdict("Stable") == Health.OK  # one look: an open transaction is normal
    # Records keep coming behind it, the last stable offset stays, the consumer waits there.
    later = LagRows("g", ["t", "t"], [0, 1], [10, 40], [10, 80], [0, 0], [10, 40])
    history.add(later, at=30.0)
    assert history.verdict("Stable") == Health.PINNED
    assert history.partition_lag("t", 1) == [0, 0]
    # Once the transaction ends, the group is behind (the records it held) and no longer pinned.
    ended = LagRows("g", ["t", "t"], [0, 1], [10, 40], [10, 81], [0, 0])
    history.add(ended, at=60.0)
    assert ended.lag == [0, 41] and history.verdict("Stable") != Health.PINNED


rates = st.one_of(st.none(), st.sampled_from([0.0, 1.5, 4.0]), st.floats(-10, 10))


@given(st.lists(st.tuples(st.integers(0, 3), rates, rates), max_size=8))
def test_time_to_catch_up_is_lag_over_what_is_gained_on_each_partition(
        partitions: list[tuple[int, float | None, float | None]]) -> None:
    lag, consume, produce = ([p[i] for p in partitions] for i in range(3))
    want = [0.0 if not behind else None if c is None or p is None or c <= p else round(behind / (c - p), 1)
            for behind, c, p in partitions]
    assert _catch_up(lag, consume, produce) == want


def test_a_reset_is_not_consumption_rates_start_again_after_it() -> None:
    def look(committed: int, log_end: int = 1_000) -> LagRows:
        return LagRows("g", ["t"], [0], [committed], [log_end], [0])

    history = LagHistory(min_gap_s=0.0)
    history.add(look(100), at=0.0)
    steady = look(150)
    history.add(steady, at=10.0)
    assert steady.consume_rate == [5.0]
    back = look(0)  # reset to the earliest: a jump back, noticed by the history itself
    history.add(back, at=20.0)
    assert back.consume_rate is None and history.verdict("Empty") == Health.REWIND  # the verdict still sees it
    after = look(30)
    history.add(after, at=30.0)
    assert after.consume_rate == [3.0], "measured from the reset on, not across it"

    forward = LagHistory(min_gap_s=0.0)
    forward.add(look(100), at=0.0)
    forward.restart()  # told of a reset (to the latest: a jump forward looks like consumption)
    jumped = look(1_000)
    forward.add(jumped, at=10.0)
    assert jumped.consume_rate is None
    later = look(1_020)
    forward.add(later, at=20.0)
    assert later.consume_rate == [2.0]
