"""The transaction coordinator's state machine, without sockets or files: Kafka's transitions,
fencing, timeouts and epoch exhaustion, and that a decision whose write fails changes nothing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.transactions.machine import (
    ENTERED_FROM,
    MAX_EPOCH,
    Decision,
    IllegalTransition,
    TransactionMachine,
    TxnMetadata,
    TxnState,
)
from kctl.protocol.errors import ErrorCode

T0 = 1_000_000
A, B = ("orders", 0), ("orders", 1)


def machine() -> TransactionMachine:
    ids = itertools.count(1000)
    return TransactionMachine(lambda: next(ids), max_timeout_ms=60_000)


def run(m: TransactionMachine, decision: Decision, now: int = T0) -> Decision:
    """Do what a decision asks, as the broker does: persist, then the markers and the completion."""
    if decision.persist is not None:
        m.applied(decision.persist)
    if decision.markers is not None:
        done = m.markers_written(decision.persist.transactional_id if decision.persist else "", now)
        if done.persist is not None:
            m.applied(done.persist)
    return decision


def init(m: TransactionMachine, txn: str = "t", now: int = T0, timeout_ms: int = 10_000,
         expected: tuple[int, int] | None = None) -> Decision:
    return run(m, m.init_producer_id(txn, timeout_ms, expected, now), now)


def test_a_new_transactional_id_gets_a_producer_id_and_each_init_fences_the_last() -> None:
    m = machine()
    first = init(m)
    assert (first.error, first.producer_id, first.producer_epoch) == (ErrorCode.NONE, 1000, 0)
    assert m.transactions["t"].state is TxnState.EMPTY
    second = init(m)
    assert (second.producer_id, second.producer_epoch) == (1000, 1)
    # The first producer is a zombie now.
    assert m.add_partitions("t", 1000, 0, [A], T0).error is ErrorCode.PRODUCER_FENCED
    assert m.end_txn("t", 1000, 0, True, T0).error is ErrorCode.PRODUCER_FENCED
    assert m.add_partitions("t", 999, 1, [A], T0).error is ErrorCode.INVALID_PRODUCER_ID_MAPPING
    assert m.add_partitions("nope", 1000, 1, [A], T0).error is ErrorCode.INVALID_PRODUCER_ID_MAPPING


@pytest.mark.parametrize("commit", [True, False])
def test_a_transaction_from_its_first_partition_to_its_markers(commit: bool) -> None:
    m = machine()
    pid, epoch = init(m).producer_id, 0
    added = m.add_partitions("t", pid, epoch, [A], T0 + 5)
    assert added.persist is not None and added.persist.state is TxnState.ONGOING
    m.applied(added.persist)
    assert m.add_partitions("t", pid, epoch, [A], T0 + 6) == Decision()  # nothing new, nothing written
    m.applied(m.add_partitions("t", pid, epoch, [A, B], T0 + 7).persist)  # type: ignore[arg-type]
    assert m.transactions["t"].partitions == {A, B} and m.transactions["t"].start_ms == T0 + 5
    ending = m.end_txn("t", pid, epoch, commit, T0 + 10)
    assert ending.error is ErrorCode.NONE and ending.markers is not None and ending.persist is not None
    assert ending.persist.state is (TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT)
    assert (ending.markers.commit, ending.markers.partitions, ending.markers.producer_epoch) == (commit, {A, B}, 0)
    m.applied(ending.persist)
    assert m.end_txn("t", pid, epoch, commit, T0 + 11).error is ErrorCode.CONCURRENT_TRANSACTIONS
    assert m.add_partitions("t", pid, epoch, [A], T0 + 11).error is ErrorCode.CONCURRENT_TRANSACTIONS
    assert m.init_producer_id("t", 10_000, None, T0 + 11).error is ErrorCode.CONCURRENT_TRANSACTIONS
    assert m.end_txn("t", pid, epoch, not commit, T0 + 11).error is ErrorCode.INVALID_TXN_STATE
    completed = m.markers_written("t", T0 + 12)
    assert completed.persist is not None
    m.applied(completed.persist)
    assert m.transactions["t"].state is (TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT)
    assert m.transactions["t"].partitions == frozenset()
    assert m.end_txn("t", pid, epoch, commit, T0 + 13) == Decision()  # a retry after it was done
    assert m.end_txn("t", pid, epoch, not commit, T0 + 13).error is ErrorCode.INVALID_TXN_STATE
    # The next transaction starts from there, with the same epoch.
    again = m.add_partitions("t", pid, epoch, [B], T0 + 20)
    assert again.persist is not None and again.persist.start_ms == T0 + 20


def test_ending_nothing_is_an_invalid_state() -> None:
    m = machine()
    pid = init(m).producer_id
    assert m.end_txn("t", pid, 0, True, T0).error is ErrorCode.INVALID_TXN_STATE
    assert m.end_txn("", pid, 0, True, T0).error is ErrorCode.INVALID_REQUEST


def test_init_during_a_transaction_aborts_it_with_a_bumped_epoch_and_asks_to_retry() -> None:
    m = machine()
    pid = init(m).producer_id
    m.applied(m.add_partitions("t", pid, 0, [A], T0).persist)  # type: ignore[arg-type]
    fenced = m.init_producer_id("t", 10_000, None, T0 + 1)
    assert fenced.error is ErrorCode.CONCURRENT_TRANSACTIONS
    assert fenced.markers is not None and not fenced.markers.commit and fenced.markers.producer_epoch == 1
    assert fenced.persist is not None and fenced.persist.state is TxnState.PREPARE_ABORT
    run(m, fenced, T0 + 1)
    assert m.transactions["t"].state is TxnState.COMPLETE_ABORT
    retried = init(m, now=T0 + 2)
    assert (retried.error, retried.producer_epoch) == (ErrorCode.NONE, 2)  # the fence's epoch was never handed out
    assert m.end_txn("t", pid, 0, True, T0 + 3).error is ErrorCode.PRODUCER_FENCED


def test_a_transaction_past_its_timeout_is_fenced_and_aborted() -> None:
    m = machine()
    pid = init(m, timeout_ms=5_000).producer_id
    m.applied(m.add_partitions("t", pid, 0, [A], T0).persist)  # type: ignore[arg-type]
    assert m.timed_out(T0 + 5_000) == []
    [expired] = m.timed_out(T0 + 5_001)
    assert expired.error is ErrorCode.NONE and expired.markers is not None and not expired.markers.commit
    run(m, expired, T0 + 5_001)
    assert m.transactions["t"].state is TxnState.COMPLETE_ABORT and m.transactions["t"].producer_epoch == 1
    assert m.end_txn("t", pid, 0, True, T0 + 5_002).error is ErrorCode.PRODUCER_FENCED
    assert m.timed_out(T0 + 100_000) == []


def test_timeouts_over_the_maximum_are_refused() -> None:
    m = machine()
    assert m.init_producer_id("t", 60_001, None, T0).error is ErrorCode.INVALID_TRANSACTION_TIMEOUT
    assert m.init_producer_id("t", 0, None, T0).error is ErrorCode.INVALID_TRANSACTION_TIMEOUT
    assert m.init_producer_id("", 1000, None, T0).error is ErrorCode.INVALID_REQUEST


def test_an_exhausted_epoch_gets_a_new_producer_id() -> None:
    m = machine()
    init(m)
    current = m.transactions["t"]
    m.applied(TxnMetadata("t", current.producer_id, MAX_EPOCH, 10_000, TxnState.COMPLETE_COMMIT))
    rotated = init(m)
    assert (rotated.producer_id, rotated.producer_epoch) == (1001, 0)
    assert m.transactions["t"].last_producer_id == 1000


def test_kip_360_a_producer_recovering_its_own_id() -> None:
    m = machine()
    pid = init(m).producer_id
    bumped = init(m, expected=(pid, 0))
    assert (bumped.error, bumped.producer_epoch) == (ErrorCode.NONE, 1)
    # The answer was lost and it asks again with the epoch it had: the same epoch, not another.
    again = init(m, expected=(pid, 0))
    assert (again.error, again.producer_epoch) == (ErrorCode.NONE, 1)
    assert init(m, expected=(pid + 7, 1)).error is ErrorCode.PRODUCER_FENCED
    assert m.init_producer_id("t", 10_000, (pid, 5), T0).error is ErrorCode.PRODUCER_FENCED


def test_a_decision_whose_write_fails_changes_nothing() -> None:
    m = machine()
    pid = init(m).producer_id
    m.applied(m.add_partitions("t", pid, 0, [A], T0).persist)  # type: ignore[arg-type]
    before = dict(m.transactions)
    m.end_txn("t", pid, 0, True, T0 + 1)  # never applied: its write to __transaction_state failed
    m.init_producer_id("t", 10_000, None, T0 + 1)
    m.timed_out(T0 + 10**9)
    assert m.transactions == before
    assert run(m, m.end_txn("t", pid, 0, True, T0 + 2)).error is ErrorCode.NONE  # the retry goes through


def test_load_rebuilds_and_finishes_what_was_preparing() -> None:
    m = machine()
    prepared = TxnMetadata("p", 5, 3, 10_000, TxnState.PREPARE_COMMIT, frozenset({A}), T0, T0)
    done = TxnMetadata("d", 6, 0, 10_000, TxnState.COMPLETE_ABORT)
    pending = m.load([("p", prepared), ("d", done), ("gone", done), ("gone", None)])
    assert set(m.transactions) == {"p", "d"}
    [finish] = pending
    assert finish.markers is not None and finish.markers.commit and finish.markers.partitions == {A}
    m.applied(m.markers_written("p", T0 + 1).persist)  # type: ignore[arg-type]
    assert m.transactions["p"].state is TxnState.COMPLETE_COMMIT


def test_ids_at_rest_past_their_expiration_go() -> None:
    m = machine()
    init(m, "old", now=T0)
    pid = init(m, "busy", now=T0).producer_id
    m.applied(m.add_partitions("busy", pid, 0, [A], T0).persist)  # type: ignore[arg-type]
    decisions = m.expired_ids(T0 + 8 * 86_400_000, 7 * 86_400_000)
    assert [d.persist.transactional_id for d in decisions if d.persist] == ["old"]
    for decision in decisions:
        m.applied(decision.persist)  # type: ignore[arg-type]
    assert set(m.transactions) == {"busy"}


def test_the_table_refuses_every_transition_it_does_not_list() -> None:
    for to, sources in ENTERED_FROM.items():
        for state in TxnState:
            metadata = TxnMetadata("t", 1, 0, 1000, state)
            if state in sources:
                assert TransactionMachine._transit(metadata, to, T0).state is to
            else:
                with pytest.raises(IllegalTransition):
                    TransactionMachine._transit(metadata, to, T0)


requests = st.lists(st.tuples(
    st.sampled_from(["init", "add", "commit", "abort", "tick", "fail"]),
    st.sampled_from(["a", "b"]), st.integers(0, 3), st.integers(0, 20_000)), max_size=60)


@given(requests)
@settings(max_examples=400, deadline=None)
def test_any_sequence_of_requests_keeps_kafkas_invariants(steps: list[tuple[str, str, int, int]]) -> None:
    """Whatever clients send, in whatever order (stale epochs, retries, timeouts, failed writes):
    no illegal transition, epochs never go back, nothing at rest holds partitions, and markers
    always carry the epoch in force."""
    m = machine()
    now = T0
    seen: dict[str, tuple[int, int]] = {}
    for kind, txn, stale, dt in steps:
        now += dt
        current = m.transactions.get(txn)
        pid = current.producer_id if current else 0
        epoch = max((current.producer_epoch if current else 0) - stale, 0)
        if kind == "init":
            decision = m.init_producer_id(txn, 10_000, None, now)
        elif kind == "add":
            decision = m.add_partitions(txn, pid, epoch, [A] if stale % 2 else [A, B], now)
        elif kind in ("commit", "abort"):
            decision = m.end_txn(txn, pid, epoch, kind == "commit", now)
        elif kind == "tick":
            for expired in m.timed_out(now):
                run(m, expired, now)
            continue
        else:  # a decision made but never written
            m.end_txn(txn, pid, epoch, True, now)
            continue
        run(m, decision, now)
        for name, meta in m.transactions.items():
            key = (meta.producer_id, meta.producer_epoch)
            assert key >= seen.get(name, (-1, -1)), "a producer id or epoch went back"
            seen[name] = key
            if meta.state in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT):
                assert meta.partitions == frozenset()
            if decision.markers is not None and decision.persist and decision.persist.transactional_id == name:
                assert decision.markers.producer_epoch == decision.persist.producer_epoch
