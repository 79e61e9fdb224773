"""Share partitions, share sessions and share-group membership (KIP-932) on the state machines
alone: no sockets, no event loop, the time passed in."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from uuid import UUID

import pytest

from broker.groups.consumer_group import TopicShape
from broker.groups.membership import Arm, Cancel
from broker.groups.share_group import (
    Assigned,
    MemberGone,
    ShareGroup,
    ShareHeartbeat,
    ShareLimits,
    ShareMembership,
    ShareTimer,
    simple_assignment,
)
from broker.share.partition import ACKNOWLEDGE, AcknowledgeError, AckType, Acquired, RecordState, SharePartition
from broker.share.sessions import SessionError, ShareSessions
from kctl.protocol.enums import GroupState
from kctl.protocol.errors import ErrorCode

LOCK_MS = 30_000
LIMIT = 3
ACCEPT, RELEASE, REJECT, GAP, RENEW = (int(t) for t in (AckType.ACCEPT, AckType.RELEASE, AckType.REJECT,
                                                        AckType.GAP, AckType.RENEW))


def acquire(sp: SharePartition, member: str, batches: list[tuple[int, int]], max_records: int = 100, *,
            now: float = 0.0, strict: bool = False, max_in_flight: int = 2000) -> list[Acquired]:
    return sp.acquire(member, batches, max_records, now=now, lock_ms=LOCK_MS, max_in_flight=max_in_flight,
                      strict=strict)


def ack(sp: SharePartition, member: str, *batches: tuple[int, int, list[int]], now: float = 0.0) -> None:
    sp.acknowledge(member, list(batches), now=now, lock_ms=LOCK_MS, delivery_limit=LIMIT)


# ---- a share partition ---------------------------------------------------------------------------------
def test_every_acknowledgement_has_an_outcome() -> None:
    assert set(ACKNOWLEDGE) == set(AckType)


def test_records_are_handed_out_once_and_the_start_moves_past_what_is_done() -> None:
    sp = SharePartition(0)
    got = acquire(sp, "a", [(0, 4), (5, 9)], max_records=5)
    assert got == [Acquired(0, 4, 1)]  # the first batch whole, then stop at max_records
    assert acquire(sp, "b", [(0, 4), (5, 9)]) == [Acquired(5, 9, 1)]  # a's are locked: b gets the rest
    ack(sp, "a", (0, 4, [ACCEPT]))
    assert (sp.start_offset, sp.end_offset) == (5, 10)
    ack(sp, "b", (5, 9, [ACCEPT, ACCEPT, REJECT, ACCEPT, ACCEPT]))
    assert sp.start_offset == 10 and not sp.in_flight
    assert acquire(sp, "a", [(0, 9)]) == []


def test_a_released_record_comes_back_with_its_count_until_the_limit() -> None:
    sp = SharePartition(0)
    for delivery in range(1, LIMIT + 1):
        assert acquire(sp, "a", [(0, 0)]) == [Acquired(0, 0, delivery)]
        ack(sp, "a", (0, 0, [RELEASE]))
    assert sp.in_flight == {} and sp.start_offset == 1  # delivered LIMIT times: archived, not redelivered
    assert acquire(sp, "a", [(0, 0)]) == []


def test_rejected_records_are_never_delivered_again_and_do_not_count_as_lag() -> None:
    sp = SharePartition(0)
    acquire(sp, "a", [(0, 3)])
    ack(sp, "a", (1, 1, [REJECT]), (2, 2, [ACCEPT]))
    assert sp.start_offset == 0 and sp.lag(4) == 2  # offsets 0 and 3 still held; 1 and 2 done
    assert sp.in_flight[1].state is RecordState.ARCHIVED
    ack(sp, "a", (0, 0, [RELEASE]), (3, 3, [GAP]))
    assert acquire(sp, "b", [(0, 3)]) == [Acquired(0, 0, 2)]


def test_locks_run_out_and_renewal_keeps_them() -> None:
    sp = SharePartition(0)
    acquire(sp, "a", [(0, 1)], now=100.0)
    assert sp.next_deadline() == 100.0 + LOCK_MS / 1000
    ack(sp, "a", (1, 1, [RENEW]), now=120.0)
    assert sp.expire(130.0 + 0.1, LIMIT) == 1  # offset 0's lock ran out; offset 1 was renewed at 120
    assert sp.in_flight[0].state is RecordState.AVAILABLE and sp.in_flight[1].state is RecordState.ACQUIRED
    assert acquire(sp, "b", [(0, 1)], now=131.0) == [Acquired(0, 0, 2)]


def test_only_the_holder_may_acknowledge_and_a_bad_batch_changes_nothing() -> None:
    sp = SharePartition(0)
    acquire(sp, "a", [(0, 2)])
    with pytest.raises(AcknowledgeError) as wrong:
        ack(sp, "b", (0, 0, [ACCEPT]))
    assert wrong.value.code == ErrorCode.INVALID_RECORD_STATE.code
    with pytest.raises(AcknowledgeError):
        ack(sp, "a", (0, 0, [ACCEPT]), (5, 5, [ACCEPT]))  # offset 5 was never delivered
    assert all(r.state is RecordState.ACQUIRED for r in sp.in_flight.values())  # all or nothing
    with pytest.raises(AcknowledgeError) as bad:
        ack(sp, "a", (0, 2, [ACCEPT, ACCEPT]))  # two types for three offsets
    assert bad.value.code == ErrorCode.INVALID_REQUEST.code


def test_record_limit_mode_and_the_in_flight_cap() -> None:
    sp = SharePartition(0)
    assert acquire(sp, "a", [(0, 9)], max_records=3, strict=True) == [Acquired(0, 2, 1)]
    assert acquire(sp, "a", [(0, 9)], max_records=100, max_in_flight=5) == [Acquired(3, 4, 1)]


def test_a_member_leaving_gives_back_what_it_held() -> None:
    sp = SharePartition(0)
    acquire(sp, "a", [(0, 1)])
    acquire(sp, "b", [(0, 3)])
    assert sp.release_member("a", LIMIT) == 2
    assert acquire(sp, "c", [(0, 3)]) == [Acquired(0, 1, 2)]


def test_a_snapshot_keeps_what_was_done_and_returns_held_records() -> None:
    sp = SharePartition(10)
    acquire(sp, "a", [(10, 15)])
    ack(sp, "a", (10, 10, [ACCEPT]), (12, 12, [REJECT]), (13, 13, [RELEASE]))
    restored = SharePartition.restore(sp.snapshot())
    assert (restored.start_offset, restored.end_offset) == (11, 16)
    assert {o: (r.state, r.delivery_count) for o, r in restored.in_flight.items()} == {
        11: (RecordState.AVAILABLE, 1), 12: (RecordState.ARCHIVED, 1), 13: (RecordState.AVAILABLE, 1),
        14: (RecordState.AVAILABLE, 1), 15: (RecordState.AVAILABLE, 1)}
    assert acquire(restored, "b", [(10, 15)]) == [Acquired(11, 11, 2), Acquired(13, 15, 2)]


def test_a_reset_starts_over() -> None:
    sp = SharePartition(0)
    acquire(sp, "a", [(0, 5)])
    sp.reset(3)
    assert (sp.start_offset, sp.end_offset, sp.in_flight, sp.state_epoch) == (3, 3, {}, 1)


# ---- share sessions ----------------------------------------------------------------------------------------
def test_share_sessions_follow_their_epochs() -> None:
    t = uuid.uuid4()
    sessions = ShareSessions(max_sessions=1)
    session, replaced = sessions.fetch("g", "m", 0, [(t, 0), (t, 1)], [])
    assert (session.epoch, session.partitions, replaced) == (1, {(t, 0), (t, 1)}, None)
    session, _ = sessions.fetch("g", "m", 1, [], [(t, 1)])
    assert (session.epoch, session.partitions) == (2, {(t, 0)})
    with pytest.raises(SessionError) as stale:
        sessions.fetch("g", "m", 1, [], [])
    assert stale.value.code == ErrorCode.INVALID_SHARE_SESSION_EPOCH.code
    assert sessions.acknowledge("g", "m", 2).epoch == 3
    with pytest.raises(SessionError) as opening:
        sessions.acknowledge("g", "m", 0)
    assert opening.value.code == ErrorCode.INVALID_SHARE_SESSION_EPOCH.code
    with pytest.raises(SessionError) as full:
        sessions.fetch("g", "other", 0, [], [])
    assert full.value.code == ErrorCode.SHARE_SESSION_LIMIT_REACHED.code
    sessions.fetch("g", "m", -1, [], [])  # the final request closes it
    with pytest.raises(SessionError) as gone:
        sessions.fetch("g", "m", 4, [], [])
    assert gone.value.code == ErrorCode.SHARE_SESSION_NOT_FOUND.code


# ---- share-group membership ----------------------------------------------------------------------------
class Catalog:
    def __init__(self) -> None:
        self.topics: dict[str, TopicShape] = {}
        self.version = 0

    def create(self, name: str, partitions: int) -> UUID:
        self.topics[name] = TopicShape(uuid.uuid4(), partitions)
        self.version += 1
        return self.topics[name].topic_id

    def shape(self, name: str) -> TopicShape | None:
        return self.topics.get(name)

    def user_topics(self) -> Iterable[str]:
        return list(self.topics)


class Driver:
    def __init__(self) -> None:
        self.groups: dict[str, object] = {}
        self.catalog = Catalog()
        self.machine = ShareMembership(self.groups, ShareLimits(10_000, 1000, 3), self.catalog)  # type: ignore[arg-type]
        self.now = 0.0
        self.timers: dict[object, float] = {}
        self.effects: list[object] = []
        self.epochs: dict[str, int] = {}

    def beat(self, member: str, topics: list[str] | None = None, epoch: int | None = None) -> object:
        epoch = self.epochs.get(member, 0) if epoch is None else epoch
        result = self.machine.heartbeat(ShareHeartbeat("g", member, epoch, None, topics), self.now)
        for effect in self.machine.take_effects():
            if isinstance(effect, Arm):
                self.timers[effect.key] = effect.at
            elif isinstance(effect, Cancel):
                self.timers.pop(effect.key, None)
            else:
                self.effects.append(effect)
        if result.error == 0:
            self.epochs[member] = result.member_epoch
        return result

    def group(self) -> ShareGroup:
        found = self.groups["g"]
        assert isinstance(found, ShareGroup)
        return found


def test_share_members_split_partitions_and_share_them_when_more_than_partitions() -> None:
    d = Driver()
    t = d.catalog.create("tasks", 2)
    first = d.beat("a", ["tasks"])
    assert first.assignment == {t: [0, 1]} and first.member_epoch == 1  # type: ignore[attr-defined]
    assert Assigned("g", frozenset({(t, 0), (t, 1)})) in d.effects
    d.beat("b", ["tasks"])
    d.beat("c", ["tasks"])
    again = d.beat("a")
    assert again.member_epoch == 3 and again.assignment == {t: [0]}  # type: ignore[attr-defined]
    held = {m: {p for ps in d.group().members[m].assigned.values() for p in ps} for m in "abc"}
    assert held == {"a": {0}, "b": {1}, "c": {0}}
    assert d.group().state is GroupState.STABLE
    full = d.beat("d", ["tasks"])
    assert full.error == ErrorCode.GROUP_MAX_SIZE_REACHED.code  # type: ignore[attr-defined]


def test_a_share_member_that_goes_quiet_is_removed_and_its_records_go_back() -> None:
    d = Driver()
    d.catalog.create("tasks", 1)
    d.beat("a", ["tasks"])
    d.beat("b", ["tasks"])
    d.now = 11.0
    d.beat("b")
    key = (ShareTimer.SESSION, "g", "a")
    d.machine.timer(key, d.now)  # type: ignore[arg-type]
    d.effects += d.machine.take_effects()
    assert "a" not in d.group().members and MemberGone("g", "a") in d.effects
    left = d.beat("b", epoch=-1)
    assert left.member_epoch == -1 and d.group().state is GroupState.EMPTY  # type: ignore[attr-defined]


def test_share_heartbeats_with_kafkas_errors() -> None:
    d = Driver()
    d.catalog.create("tasks", 1)
    assert d.beat("a", None).error == ErrorCode.INVALID_REQUEST.code  # type: ignore[attr-defined]
    d.beat("a", ["tasks"])
    assert d.beat("a", epoch=9).error == ErrorCode.FENCED_MEMBER_EPOCH.code  # type: ignore[attr-defined]
    assert d.beat("ghost", epoch=1).error == ErrorCode.UNKNOWN_MEMBER_ID.code  # type: ignore[attr-defined]
    d.groups["classic"] = object()
    other = d.machine.heartbeat(ShareHeartbeat("classic", "x", 0, None, ["tasks"]), 0.0)
    assert (other.error, other.message) == (ErrorCode.GROUP_ID_NOT_FOUND.code, "Group classic is not a share group.")


def test_the_simple_assignor() -> None:
    t, u = uuid.uuid4(), uuid.uuid4()
    assert simple_assignment({"a": {t}, "b": {t}}, {t: 4}) == {"a": {t: {0, 2}}, "b": {t: {1, 3}}}
    assert simple_assignment({"a": {t, u}, "b": {u}}, {t: 1, u: 1}) == {"a": {t: {0}, u: {0}}, "b": {u: {0}}}
