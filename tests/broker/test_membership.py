"""Rebalances on the membership state machine alone: no sockets, no event loop, no real time.

A small driver keeps the timers the machine arms and the answers it gives; time moves only when
a test says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from broker.groups.group import Group, JoinResult, SyncResult
from broker.groups.membership import (
    TRANSITIONS,
    Answer,
    Arm,
    Cancel,
    JoinRequest,
    Limits,
    Membership,
    Persist,
    SyncRequest,
    TimerKey,
)
from broker.groups.state import TRANSITIONS as ALLOWED
from kctl.protocol.enums import GroupState
from kctl.protocol.errors import ErrorCode

NONE = 0
SESSION_MS = 10_000
REBALANCE_MS = 30_000


class Driver:
    def __init__(self, initial_delay_ms: int = 3000) -> None:
        self.groups: dict[str, Group] = {}
        self.machine = Membership(self.groups, Limits(initial_delay_ms, 1000, 300_000, 100))
        self.now = 1000.0
        self.timers: dict[TimerKey, float] = {}
        self.answers: dict[int, JoinResult | SyncResult] = {}
        self.persisted: list[str] = []

    def _effects(self) -> None:
        for effect in self.machine.take_effects():
            if isinstance(effect, Answer):
                assert effect.ticket not in self.answers, "a request answered twice"
                self.answers[effect.ticket] = effect.result
            elif isinstance(effect, Arm):
                assert effect.at >= self.now
                self.timers[effect.key] = effect.at
            elif isinstance(effect, Cancel):
                self.timers.pop(effect.key, None)
            elif isinstance(effect, Persist):
                self.persisted.append(effect.group_id)

    def advance(self, seconds: float) -> None:
        """Move time on, firing every timer that comes due, in order."""
        end = self.now + seconds
        while True:
            due = sorted(((at, key) for key, at in self.timers.items() if at <= end), key=lambda due: due[0])
            if not due:
                break
            at, key = due[0]
            del self.timers[key]
            self.now = at
            self.machine.timer(key, at)
            self._effects()
        self.now = end

    def join(self, member_id: str = "", *, instance: str | None = None, protocols: Any = None,
             require_known_id: bool = False, group: str = "g") -> Any:
        req = JoinRequest(member_id, instance, "client", "10.0.0.1", SESSION_MS, REBALANCE_MS, "consumer",
                          protocols or [("range", b"meta")], group_id=group, require_known_member_id=require_known_id)
        out = self.machine.join(req, self.now)
        self._effects()
        return out

    def sync(self, member_id: str, generation: int, assignments: dict[str, bytes] | None = None) -> Any:
        out = self.machine.sync(SyncRequest("g", generation, member_id, None, None, None, assignments or {}),
                                self.now)
        self._effects()
        return out

    def heartbeat(self, member_id: str, generation: int) -> int:
        out = self.machine.heartbeat("g", generation, member_id, None, self.now)
        self._effects()
        return out

    def answer(self, ticket: Any) -> Any:
        assert isinstance(ticket, int), f"answered at once: {ticket}"
        return self.answers.get(ticket)

    def outcome(self, answer: Any) -> Any:
        """What a request got, at once or parked and answered since."""
        return self.answers.get(answer) if isinstance(answer, int) else answer

    @property
    def state(self) -> GroupState:
        return self.groups["g"].state


def stable_group(d: Driver, count: int) -> list[str]:
    """`count` members joined in the initial delay, synced: a stable generation 1."""
    tickets = [d.join() for _ in range(count)]
    assert d.state is GroupState.PREPARING_REBALANCE and all(d.answer(t) is None for t in tickets)
    # The initial delay, once more when members arrived during it.
    d.advance(3.0 if count == 1 else 6.0)
    joined = [d.answer(t) for t in tickets]
    assert all(j.error == NONE and j.generation == 1 for j in joined)
    members = [j.member_id for j in joined]
    leader = joined[0].leader
    assert [j.member_id for j in joined if j.members] == [leader]  # only the leader gets the members
    syncs = [d.sync(m, 1, {m2: m2.encode() for m2 in members} if m == leader else None) for m in members]
    assert d.state is GroupState.STABLE
    assert all(d.outcome(s).assignment == m.encode() for s, m in zip(syncs, members, strict=True))
    return members


def test_every_transition_the_table_drives_is_one_the_group_allows() -> None:
    for (state, _event), (target, _steps) in TRANSITIONS.items():
        assert target is state or target in ALLOWED[state], (state, target)


def test_a_group_forms_after_the_initial_delay_and_is_persisted_when_stable() -> None:
    d = Driver()
    stable_group(d, 3)
    assert d.persisted == ["g"]
    assert d.groups["g"].generation == 1


def test_members_arriving_during_the_initial_delay_extend_it_until_one_passes_quietly() -> None:
    d = Driver()
    first = d.join()  # at 0 s: the delay runs to 3 s
    for _ in range(3):
        d.advance(2.9)
        d.join()  # at 2.9, 5.8 and 8.7 s: each delay that saw an arrival is followed by another
    d.advance(3.2)  # 11.9 s
    assert d.answer(first) is None
    d.advance(0.2)  # 12 s: the delay from 9 to 12 s saw nobody arrive
    assert d.answer(first).generation == 1 and len(d.answer(first).members) == 4


def test_the_initial_delay_never_outlasts_the_rebalance_timeout() -> None:
    d = Driver()
    start = d.now
    first = d.join()
    for _ in range(20):  # a member every 2 s, for 40 s
        d.advance(2.0)
        if d.answer(first) is not None:
            break
        d.join()
    assert d.answer(first) is not None and d.now - start <= REBALANCE_MS / 1000


def test_a_new_member_rebalances_a_stable_group_and_the_join_phase_ends_when_all_are_back() -> None:
    d = Driver()
    a, b = stable_group(d, 2)
    newcomer = d.join()
    assert d.state is GroupState.PREPARING_REBALANCE
    assert d.heartbeat(a, 1) == ErrorCode.REBALANCE_IN_PROGRESS.code
    again_a = d.join(a)
    assert d.answer(newcomer) is None  # b has not rejoined yet
    again_b = d.join(b)  # the last one back ends the join phase at once, well before the timeout
    assert d.state is GroupState.COMPLETING_REBALANCE
    assert {d.answer(t).generation for t in (newcomer, again_a, again_b)} == {2}


def test_a_member_that_does_not_rejoin_in_time_is_dropped() -> None:
    d = Driver()
    a, b = stable_group(d, 2)
    d.join(a, protocols=[("range", b"changed")])  # a rebalance
    for _ in range(10):  # b stays alive but never rejoins
        assert d.state is GroupState.PREPARING_REBALANCE
        assert d.heartbeat(b, 1) == ErrorCode.REBALANCE_IN_PROGRESS.code
        d.advance(3.0)
    assert d.state is GroupState.COMPLETING_REBALANCE  # the join deadline passed
    assert list(d.groups["g"].members) == [a] and d.groups["g"].generation == 2


def test_a_silent_member_times_out_and_the_group_rebalances() -> None:
    d = Driver()
    a, _ = stable_group(d, 2)
    for _ in range(3):
        d.advance(3.0)
        assert d.heartbeat(a, 1) == NONE  # a keeps beating, b says nothing
    d.advance(3.0)
    assert d.heartbeat(a, 1) == ErrorCode.REBALANCE_IN_PROGRESS.code  # b's session ran out at 10 s
    assert d.state is GroupState.PREPARING_REBALANCE
    assert list(d.groups["g"].members) == [a]
    ticket = d.join(a)
    assert d.answer(ticket).generation == 2 and d.state is GroupState.COMPLETING_REBALANCE


def test_a_member_that_never_syncs_is_removed_when_the_sync_deadline_passes() -> None:
    d = Driver()
    first, second = d.join(), d.join()
    d.advance(6.0)
    leader = d.answer(first).leader
    follower = d.answer(second).member_id if d.answer(first).member_id == leader else d.answer(first).member_id
    d.sync(leader, 1, {leader: b"x", follower: b"y"})
    assert d.state is GroupState.STABLE  # the leader's assignment makes the group stable at once
    d2 = Driver()
    t1, t2 = d2.join(), d2.join()
    d2.advance(6.0)
    d2.sync(d2.answer(t2).member_id, 1)  # the follower waits for the leader, who never comes
    for _ in range(11):
        d2.advance(3.0)
        d2.heartbeat(d2.answer(t2).member_id, 1)
    assert d2.answer(t1).member_id not in d2.groups["g"].members
    assert d2.state is GroupState.PREPARING_REBALANCE


def test_a_restarted_static_member_takes_its_place_back_without_a_rebalance() -> None:
    d = Driver()
    ticket = d.join(instance="host-1")
    d.advance(3.0)
    old = d.answer(ticket).member_id
    d.sync(old, 1, {old: b"mine"})
    assert d.state is GroupState.STABLE
    again = d.join(instance="host-1")  # the same instance, restarted: no member id yet
    assert isinstance(again, JoinResult) and again.error == NONE and again.member_id != old
    assert again.generation == 1 and d.state is GroupState.STABLE  # no rebalance
    assert d.heartbeat(old, 1) == ErrorCode.UNKNOWN_MEMBER_ID.code  # the old id is fenced
    assert d.machine.heartbeat("g", 1, old, "host-1", d.now) == ErrorCode.FENCED_INSTANCE_ID.code
    # Its session timer follows it under the new id: silent past the session, it goes.
    d.advance(SESSION_MS / 1000 + 1)
    assert again.member_id not in d.groups["g"].members


def test_a_member_id_handed_out_but_never_used_expires_with_the_session() -> None:
    d = Driver()
    required = d.join(require_known_id=True)
    assert required.error == ErrorCode.MEMBER_ID_REQUIRED.code
    assert d.groups["g"].pending_members == {required.member_id}
    d.advance(SESSION_MS / 1000)
    assert not d.groups["g"].pending_members
    ticket = d.join(require_known_id=True)
    joined = d.join(ticket.member_id, require_known_id=True)  # comes back with it: joins
    d.advance(3.0)
    assert d.answer(joined).member_id == ticket.member_id


def test_a_superseded_join_is_answered_rebalance_in_progress() -> None:
    d = Driver()
    a, _ = stable_group(d, 2)
    first = d.join(a, protocols=[("range", b"v2")])
    second = d.join(a, protocols=[("range", b"v3")])  # the client gave up on the first and retried
    assert d.answer(first).error == ErrorCode.REBALANCE_IN_PROGRESS.code
    assert d.answer(second) is None


@pytest.mark.parametrize("leaving", ["leave", "timeout"])
def test_the_last_member_going_empties_the_group_and_persists_it(leaving: str) -> None:
    d = Driver()
    [a] = stable_group(d, 1)
    if leaving == "leave":
        assert d.machine.leave("g", [(a, None)], d.now) == (NONE, [NONE])
        d._effects()
    else:
        d.advance(SESSION_MS / 1000 + 1)
    # Nobody is left to wait for: the rebalance ends at once, in a new, empty generation.
    assert d.state is GroupState.EMPTY and d.groups["g"].generation == 2
    assert d.persisted == ["g", "g"]


def test_the_tables_list_every_pair_and_an_unlisted_transition_is_an_error() -> None:
    from broker.groups.membership import KNOWN_MEMBER_JOINS, Event, KnownJoin
    from broker.groups.state import CLASSIC_STATES, IllegalTransition

    # A known member's JoinGroup: an answer for every state and every kind of request.
    assert set(KNOWN_MEMBER_JOINS) == {(state, kind) for state in CLASSIC_STATES for kind in KnownJoin}
    # A pair the membership table does not list is a coordinator bug, said loudly.
    d = Driver()
    stable_group(d, 1)
    group = d.groups["g"]
    assert (group.state, Event.LEADER_SYNCED) not in TRANSITIONS
    with pytest.raises(IllegalTransition, match="the leader sent the assignment while Stable"):
        d.machine._fire(group, Event.LEADER_SYNCED, 100.0)
    assert group.state is GroupState.STABLE  # and nothing changed


def test_the_initial_delay_moves_as_its_table_says() -> None:
    """One table drives the initial delay (no flags): it begins quiet, new members mark it,
    re-arming its timer quiets it again, and the end of the join phase turns it off. A member
    joining a group that is not starting up starts no delay."""
    from broker.groups.group import Group
    from broker.groups.state import DelayHappening, InitialDelay

    group = Group("g")
    moves = [(DelayHappening.ARRIVED, InitialDelay.OFF), (DelayHappening.BEGUN, InitialDelay.QUIET),
             (DelayHappening.REARMED, InitialDelay.QUIET), (DelayHappening.ARRIVED, InitialDelay.ARRIVALS),
             (DelayHappening.ARRIVED, InitialDelay.ARRIVALS), (DelayHappening.REARMED, InitialDelay.QUIET),
             (DelayHappening.ARRIVED, InitialDelay.ARRIVALS), (DelayHappening.ENDED, InitialDelay.OFF),
             (DelayHappening.REARMED, InitialDelay.OFF)]
    for happening, expected in moves:
        group.move_initial_delay(happening)
        assert group.initial_delay is expected, happening
