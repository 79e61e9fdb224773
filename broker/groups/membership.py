"""Classic group membership as a sans-IO state machine, the h11 way: events in, effects out.

Events are the requests (join, sync, heartbeat, leave, a commit's member check) and the timers
coming due (initial delay over, join deadline, sync deadline, session expired, a pending member
id expired), each with the current time passed in; nothing here reads a clock, touches a socket
or a file. Effects tell the driver (`coordinator.GroupCoordinator`) what to do: answer a parked
request, arm or cancel a timer, persist the group. One table, `TRANSITIONS`, says for each
(state, group event) the next state and the steps that follow; `_fire` is the only place a
group's state changes.

The rules are Kafka's classic coordinator's: members join (a dynamic member first gets an id with
MEMBER_ID_REQUIRED), the join phase ends when every known member has rejoined or the rebalance
timeout passes (after an initial delay for a group that was empty), the leader's SyncGroup hands
out the assignment, and heartbeats keep members alive for their session timeout. Static members
(group.instance.id) keep their place across restarts.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kctl.protocol.errors import ErrorCode

from .group import Group, JoinResult, Member, MemberSettings, SyncResult
from .state import DelayHappening, GroupState, IllegalTransition, InitialDelay

if TYPE_CHECKING:
    from .kinds import AnyGroup

log = logging.getLogger("broker.groups")


#: A member that joined but never finished its first rebalance is dropped after this long.
NEW_MEMBER_JOIN_TIMEOUT_S = 300.0

EMPTY, PREPARING, COMPLETING, STABLE, DEAD = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)

Ticket = int  # a parked request, answered later by an `Answer` effect


# ---- effects ----------------------------------------------------------------------------------------
class Timer(enum.Enum):
    INITIAL_DELAY = "initial delay"
    JOIN_DEADLINE = "join deadline"
    SYNC_DEADLINE = "sync deadline"  # keyed by generation
    SESSION = "session"  # keyed by the member's serial (a static member's id changes)
    PENDING_MEMBER = "pending member"  # keyed by the member id handed out


#: (timer, group id, generation / member serial / member id / ""); consumer groups key theirs by their own
#: timer kinds (`consumer_membership.ConsumerTimer`).
TimerKey = tuple[enum.Enum, str, int | str]


@dataclass(frozen=True, slots=True)
class Answer:
    ticket: Ticket
    result: JoinResult | SyncResult


@dataclass(frozen=True, slots=True)
class Arm:
    """Call `Membership.timer(key, now)` at `at` (replacing any timer with the same key)."""

    key: TimerKey
    at: float


@dataclass(frozen=True, slots=True)
class Cancel:
    key: TimerKey


@dataclass(frozen=True, slots=True)
class Persist:
    """Write the group's metadata to __consumer_offsets."""

    group_id: str


Effect = Answer | Arm | Cancel | Persist


# ---- requests -----------------------------------------------------------------------------------------
@dataclass(slots=True)
class JoinRequest(MemberSettings):
    group_id: str
    require_known_member_id: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SyncRequest:
    group_id: str
    generation: int
    member_id: str
    instance_id: str | None
    protocol_type: str | None
    protocol_name: str | None
    assignments: dict[str, bytes]


@dataclass(frozen=True, slots=True)
class Limits:
    initial_delay_ms: int
    min_session_ms: int
    max_session_ms: int
    max_group_size: int


# ---- the table ----------------------------------------------------------------------------------------
class Event(enum.Enum):
    """What happens to a group as a whole; requests and timers turn into these."""

    JOINED = "a member joined"
    REJOINED = "a member rejoined with new metadata, or as the leader"
    REMOVED = "a member left, timed out, or missed the sync"
    INITIAL_DELAY_EXTENDED = "members kept arriving during the initial delay"
    WAITING_FOR_STATIC = "only static members that have not rejoined are left"
    JOIN_COMPLETE = "the join phase ended with members"
    JOIN_COMPLETE_EMPTY = "the join phase ended with no members"
    LEADER_SYNCED = "the leader sent the assignment"


class KnownJoin(enum.Enum):
    """A JoinGroup from a member the group already has, as the table below tells them apart."""

    SAME = "a follower, with the protocols it joined with"
    CHANGED = "a follower, with other protocols"
    LEADER_SAME = "the leader, with the protocols it joined with"
    LEADER_CHANGED = "the leader, with other protocols"


class JoinAnswer(enum.Enum):
    REJOIN = "rebalance, parking the request until the join phase ends"
    SAME_GENERATION = "the generation again (it missed the answer), the members too for the leader"
    CURRENT_GENERATION = "the current generation, without the members"
    UNKNOWN_MEMBER = "UNKNOWN_MEMBER_ID: the group is not in a generation the member can join"


#: (state, which member and what it sent) -> the answer. Every pair is listed.
KNOWN_MEMBER_JOINS: dict[tuple[GroupState, KnownJoin], JoinAnswer] = {
    **{(PREPARING, kind): JoinAnswer.REJOIN for kind in KnownJoin},
    (COMPLETING, KnownJoin.SAME): JoinAnswer.SAME_GENERATION,
    (COMPLETING, KnownJoin.LEADER_SAME): JoinAnswer.SAME_GENERATION,
    (COMPLETING, KnownJoin.CHANGED): JoinAnswer.REJOIN,
    (COMPLETING, KnownJoin.LEADER_CHANGED): JoinAnswer.REJOIN,
    (STABLE, KnownJoin.SAME): JoinAnswer.CURRENT_GENERATION,
    (STABLE, KnownJoin.CHANGED): JoinAnswer.REJOIN,
    (STABLE, KnownJoin.LEADER_SAME): JoinAnswer.REJOIN,  # the leader asks for a new assignment
    (STABLE, KnownJoin.LEADER_CHANGED): JoinAnswer.REJOIN,
    **{(state, kind): JoinAnswer.UNKNOWN_MEMBER for state in (EMPTY, DEAD) for kind in KnownJoin},
}


class Step(enum.Enum):
    BEGIN_REBALANCE = "begin_rebalance"
    CHECK_JOIN = "check_join"
    ARM_INITIAL_DELAY = "arm_initial_delay"
    ARM_JOIN_DEADLINE = "arm_join_deadline"
    AWAIT_SYNCS = "await_syncs"
    DISTRIBUTE = "distribute"
    PERSIST = "persist"


_REBALANCE = (PREPARING, (Step.BEGIN_REBALANCE,))
_CHECK = (PREPARING, (Step.CHECK_JOIN,))

#: (state, event) -> (next state, steps). A pair not listed is a coordinator bug: `_fire` raises.
TRANSITIONS: dict[tuple[GroupState, Event], tuple[GroupState, tuple[Step, ...]]] = {
    (EMPTY, Event.JOINED): _REBALANCE,
    (EMPTY, Event.REMOVED): (EMPTY, ()),  # a group handed back from the consumer protocol with no one in it
    (PREPARING, Event.JOINED): _CHECK,
    (COMPLETING, Event.JOINED): _REBALANCE,
    (STABLE, Event.JOINED): _REBALANCE,
    (PREPARING, Event.REJOINED): _CHECK,
    (COMPLETING, Event.REJOINED): _REBALANCE,
    (STABLE, Event.REJOINED): _REBALANCE,
    (PREPARING, Event.REMOVED): _CHECK,
    (COMPLETING, Event.REMOVED): _REBALANCE,
    (STABLE, Event.REMOVED): _REBALANCE,
    (PREPARING, Event.INITIAL_DELAY_EXTENDED): (PREPARING, (Step.ARM_INITIAL_DELAY,)),
    (PREPARING, Event.WAITING_FOR_STATIC): (PREPARING, (Step.ARM_JOIN_DEADLINE,)),
    (PREPARING, Event.JOIN_COMPLETE): (COMPLETING, (Step.AWAIT_SYNCS,)),
    (PREPARING, Event.JOIN_COMPLETE_EMPTY): (EMPTY, (Step.PERSIST,)),
    (COMPLETING, Event.LEADER_SYNCED): (STABLE, (Step.PERSIST, Step.DISTRIBUTE)),
}


class Membership:
    """Every group's membership. Each call returns its immediate answer (or a ticket for a parked
    request); `take_effects()` returns what the driver must do because of it."""

    def __init__(self, groups: dict[str, AnyGroup], limits: Limits) -> None:
        self.groups = groups
        self.limits = limits
        self._effects: list[Effect] = []
        self._next_ticket = 0
        self._next_serial = 0
        self._steps: dict[Step, Callable[[Group, GroupState, float], None]] = {
            Step.BEGIN_REBALANCE: self._begin_rebalance,
            Step.CHECK_JOIN: lambda group, _, now: self._check_join(group, now),
            Step.ARM_INITIAL_DELAY: self._arm_initial_delay,
            Step.ARM_JOIN_DEADLINE: lambda group, _, now: self._arm(group, Timer.JOIN_DEADLINE, "",
                                                                    now + group.rebalance_timeout_ms / 1000),
            Step.AWAIT_SYNCS: self._await_syncs,
            Step.DISTRIBUTE: self._distribute,
            Step.PERSIST: lambda group, _, now: self._effects.append(Persist(group.group_id)),
        }

    def _classic(self, group_id: str) -> Group | None:
        """The classic group of that id; a consumer group's members are unknown here."""
        group = self.groups.get(group_id)
        return group if isinstance(group, Group) else None

    def take_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects

    def _fire(self, group: Group, event: Event, now: float) -> None:
        found = TRANSITIONS.get((group.state, event))
        if found is None:
            raise IllegalTransition(f"group {group.group_id!r}: {event.value} while {group.state.value}, "
                                    "which the membership table does not list")
        previous = group.state
        target, steps = found
        if target is not previous:
            group.transition(target)
        for step in steps:
            self._steps[step](group, previous, now)

    # ---- tickets, timers and members ----------------------------------------------------------------
    def _park_join(self, member: Member) -> Ticket:
        self._answer_join(member, JoinResult(ErrorCode.REBALANCE_IN_PROGRESS.code,
                                             member.member_id))  # a superseded request
        member.join_ticket = self._ticket()
        return member.join_ticket

    def _park_sync(self, member: Member) -> Ticket:
        self._answer_sync(member, SyncResult(ErrorCode.REBALANCE_IN_PROGRESS.code))  # a superseded request
        member.sync_ticket = self._ticket()
        return member.sync_ticket

    def _ticket(self) -> Ticket:
        self._next_ticket += 1
        return self._next_ticket

    def _answer_join(self, member: Member, result: JoinResult) -> None:
        if member.join_ticket is not None:
            self._effects.append(Answer(member.join_ticket, result))
            member.join_ticket = None

    def _answer_sync(self, member: Member, result: SyncResult) -> None:
        if member.sync_ticket is not None:
            self._effects.append(Answer(member.sync_ticket, result))
            member.sync_ticket = None

    def _arm(self, group: Group, timer: Timer, which: int | str, at: float) -> None:
        self._effects.append(Arm((timer, group.group_id, which), at))

    def _cancel_group_timers(self, group: Group) -> None:
        for timer in (Timer.INITIAL_DELAY, Timer.JOIN_DEADLINE):
            self._effects.append(Cancel((timer, group.group_id, "")))
        self._effects.append(Cancel((Timer.SYNC_DEADLINE, group.group_id, group.generation)))

    def _arm_session(self, group: Group, member: Member) -> None:
        if not member.session_armed:
            member.session_armed = True
            self._arm(group, Timer.SESSION, member.serial, member.last_heartbeat + member.session_timeout_ms / 1000)

    def _new_member(self, req: JoinRequest, member_id: str, now: float) -> Member:
        self._next_serial += 1
        return Member(member_id, req.instance_id, req.client_id, req.client_host, req.session_timeout_ms,
                      req.rebalance_timeout_ms, req.protocol_type, list(req.protocols), is_new=True,
                      joined_at=now, last_heartbeat=now, serial=self._next_serial)

    def restored(self, now: float) -> None:
        """Members loaded from the log get a full session to come back."""
        for group in self.groups.values():
            if not isinstance(group, Group):
                continue
            for member in group.members.values():
                self._next_serial += 1
                member.serial = self._next_serial
                member.last_heartbeat = now
                self._arm_session(group, member)

    def released(self, group: Group) -> None:
        """The group goes over to the consumer protocol (KIP-848's online upgrade): every parked
        request is told to rejoin, and no timer of the group or its members is left to fire."""
        for member in group.members.values():
            self._answer_join(member, JoinResult(ErrorCode.REBALANCE_IN_PROGRESS.code, member.member_id))
            self._answer_sync(member, SyncResult(ErrorCode.REBALANCE_IN_PROGRESS.code))
            if member.session_armed:
                member.session_armed = False
                self._effects.append(Cancel((Timer.SESSION, group.group_id, member.serial)))
        for pending in group.pending_members:
            self._effects.append(Cancel((Timer.PENDING_MEMBER, group.group_id, pending)))
        self._cancel_group_timers(group)

    def adopted(self, group: Group, now: float) -> None:
        """A consumer group handed back to the classic protocol (KIP-848's online downgrade): its
        members get a session, and a rebalance asks them all to rejoin."""
        for member in group.members.values():
            self._next_serial += 1
            member.serial, member.last_heartbeat, member.session_armed = self._next_serial, now, False
            self._arm_session(group, member)
        group.rebalance_reason = "the group went back to the classic protocol"
        self._fire(group, Event.REMOVED, now)

    def deleted(self, group: Group) -> None:
        """The group is gone (deleted, or emptied of offsets): no timer of its may fire."""
        self._cancel_group_timers(group)
        group.transition(DEAD)

    # ---- JoinGroup ---------------------------------------------------------------------------------------
    def join(self, req: JoinRequest, now: float) -> JoinResult | Ticket:
        def fail(error: ErrorCode) -> JoinResult:
            return JoinResult(error.code, req.member_id)

        limits = self.limits
        if not req.group_id:
            return fail(ErrorCode.INVALID_GROUP_ID)
        if not limits.min_session_ms <= req.session_timeout_ms <= limits.max_session_ms:
            return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
        found = self.groups.get(req.group_id)
        if found is not None and not isinstance(found, Group):
            return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)  # another kind (an empty consumer group
        group = found  # is turned back by the coordinator first)
        if group is None:
            if req.member_id:
                return fail(ErrorCode.UNKNOWN_MEMBER_ID)
            if not req.protocol_type or not req.protocols:
                return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
            group = self.groups[req.group_id] = Group(req.group_id)
        if group.state is DEAD:
            return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if not group.supports(req.protocol_type, req.protocols):
            return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        if req.member_id:
            return self._join_known(group, req, now)
        if len(group.members) + len(group.pending_members) >= limits.max_group_size:
            return fail(ErrorCode.GROUP_MAX_SIZE_REACHED)
        if req.instance_id is not None:
            return self._join_new_static(group, req, now)
        new_id = f"{req.client_id}-{uuid.uuid4()}"
        if req.require_known_member_id:
            # The client must come back with this id; until then it holds a place for a session.
            group.pending_members.add(new_id)
            self._arm(group, Timer.PENDING_MEMBER, new_id, now + req.session_timeout_ms / 1000)
            return JoinResult(ErrorCode.MEMBER_ID_REQUIRED.code, new_id)
        return self._add_member(group, req, new_id, now)

    def _join_known(self, group: Group, req: JoinRequest, now: float) -> JoinResult | Ticket:
        member_id = req.member_id
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            self._effects.append(Cancel((Timer.PENDING_MEMBER, group.group_id, member_id)))
            return self._add_member(group, req, member_id, now)
        error = self._validate_member(group, member_id, req.instance_id)
        if error != ErrorCode.NONE.code:
            return JoinResult(error, member_id)
        member = group.members[member_id]
        leader, same = member_id == group.leader_id, member.same_protocols(req.protocols)
        kind = (KnownJoin.LEADER_SAME if same else KnownJoin.LEADER_CHANGED) if leader else \
            (KnownJoin.SAME if same else KnownJoin.CHANGED)
        answer = KNOWN_MEMBER_JOINS[(group.state, kind)]
        if answer is JoinAnswer.REJOIN:
            return self._rejoin(group, member, req, now)
        if answer is JoinAnswer.SAME_GENERATION:
            return self._generation_result(group, member_id, with_members=leader)
        if answer is JoinAnswer.CURRENT_GENERATION:
            return self._generation_result(group, member_id, with_members=False)
        return JoinResult(ErrorCode.UNKNOWN_MEMBER_ID.code, member_id)

    def _join_new_static(self, group: Group, req: JoinRequest, now: float) -> JoinResult | Ticket:
        assert req.instance_id is not None
        new_id = f"{req.instance_id}-{uuid.uuid4()}"
        old_id = group.static_members.get(req.instance_id)
        if old_id is None:
            return self._add_member(group, req, new_id, now)
        # A known instance restarted: it takes over its old place, fencing the previous member id.
        member = group.members[old_id]
        self._answer_join(member, JoinResult(ErrorCode.FENCED_INSTANCE_ID.code, old_id))
        self._answer_sync(member, SyncResult(ErrorCode.FENCED_INSTANCE_ID.code))
        group.replace_static_member(req.instance_id, old_id, new_id)
        member.client_id, member.client_host = req.client_id, req.client_host
        member.session_timeout_ms, member.rebalance_timeout_ms = req.session_timeout_ms, req.rebalance_timeout_ms
        member.last_heartbeat = now
        log.info("group %s: static member %s rejoined as %s", group.group_id, req.instance_id, new_id)
        if group.state is STABLE:
            selected = group.protocol_name
            if member.metadata_for(selected) == dict(req.protocols).get(selected or "", None):
                member.protocols = req.protocols
                self._effects.append(Persist(group.group_id))
                is_leader = group.leader_id == new_id
                result = self._generation_result(group, new_id, with_members=is_leader)
                result.skip_assignment = is_leader
                return result
        # Changed metadata, or a rebalance under way (in which the old id may already be in the
        # assignment the leader is about to send): rebalance with the new id.
        return self._rejoin(group, member, req, now)

    def _add_member(self, group: Group, req: JoinRequest, member_id: str, now: float) -> Ticket:
        member = self._new_member(req, member_id, now)
        ticket = self._park_join(member)
        group.add(member)
        group.move_initial_delay(DelayHappening.ARRIVED)
        self._arm_session(group, member)
        log.info("group %s: member %s (client %s, %s) joins", group.group_id, member_id, req.client_id,
                 req.client_host)
        group.rebalance_reason = f"member {member_id} joined"
        self._fire(group, Event.JOINED, now)
        return ticket

    def _rejoin(self, group: Group, member: Member, req: JoinRequest, now: float) -> Ticket:
        ticket = self._park_join(member)
        member.protocols = list(req.protocols)
        member.rebalance_timeout_ms = req.rebalance_timeout_ms
        member.session_timeout_ms = req.session_timeout_ms
        member.last_heartbeat = now
        group.rebalance_reason = f"member {member.member_id} rejoined" + (f" ({req.reason})" if req.reason else "")
        self._fire(group, Event.REJOINED, now)
        return ticket

    def _generation_result(self, group: Group, member_id: str, *, with_members: bool) -> JoinResult:
        members = (
            [(m.member_id, m.instance_id, m.metadata_for(group.protocol_name)) for m in group.members.values()]
            if with_members else []
        )
        return JoinResult(ErrorCode.NONE.code, member_id, group.generation, group.protocol_type, group.protocol_name,
                          group.leader_id or "", members)

    # ---- rebalancing steps -------------------------------------------------------------------------------
    def _begin_rebalance(self, group: Group, previous: GroupState, now: float) -> None:
        if previous is COMPLETING:
            for member in group.members.values():
                member.assignment = b""
                self._answer_sync(member, SyncResult(ErrorCode.REBALANCE_IN_PROGRESS.code))
        self._cancel_group_timers(group)
        group.pending_sync.clear()
        log.info("group %s: rebalancing (generation %d): %s", group.group_id, group.generation,
                 group.rebalance_reason)
        timeout_ms = group.rebalance_timeout_ms
        if previous is EMPTY:
            # Wait a moment for the other members of a group that is starting up, so it does not
            # rebalance once per arriving member.
            group.move_initial_delay(DelayHappening.BEGUN)
            group.initial_delay_remaining_ms = timeout_ms
            self._arm_initial_delay(group, previous, now)
        else:
            group.move_initial_delay(DelayHappening.ENDED)
            self._arm(group, Timer.JOIN_DEADLINE, "", now + timeout_ms / 1000)
            self._check_join(group, now)

    def _arm_initial_delay(self, group: Group, previous: GroupState, now: float) -> None:
        delay = min(self.limits.initial_delay_ms, group.initial_delay_remaining_ms)
        group.initial_delay_remaining_ms = max(group.initial_delay_remaining_ms - self.limits.initial_delay_ms, 0)
        group.move_initial_delay(DelayHappening.REARMED)
        self._arm(group, Timer.INITIAL_DELAY, "", now + delay / 1000)

    def _initial_delay_over(self, group: Group, now: float) -> None:
        if group.state is not PREPARING:
            return
        if group.initial_delay is InitialDelay.ARRIVALS and group.initial_delay_remaining_ms > 0:
            self._fire(group, Event.INITIAL_DELAY_EXTENDED, now)
            return
        group.move_initial_delay(DelayHappening.ENDED)
        self._end_join_phase(group, now)

    def _check_join(self, group: Group, now: float) -> None:
        """End the join phase early once every member is back (not during the initial delay)."""
        if group.state is PREPARING and group.initial_delay is InitialDelay.OFF and group.all_joined:
            self._end_join_phase(group, now)

    def _end_join_phase(self, group: Group, now: float) -> None:
        if group.state is not PREPARING:
            return
        self._cancel_group_timers(group)
        for member in list(group.members.values()):
            if not member.awaiting_join and member.instance_id is None:
                log.info("group %s: member %s did not rejoin in time and is removed", group.group_id,
                         member.member_id)
                self._remove_member(group, member.member_id)
        joined = [m for m in group.members.values() if m.awaiting_join]
        if group.members and not joined:
            self._fire(group, Event.WAITING_FOR_STATIC, now)  # another round for them
            return
        if group.leader_id is None or group.leader_id not in {m.member_id for m in joined}:
            group.leader_id = joined[0].member_id if joined else None
        group.generation += 1
        if not group.members:
            group.protocol_name = None
            log.info("group %s: now empty (generation %d)", group.group_id, group.generation)
            self._fire(group, Event.JOIN_COMPLETE_EMPTY, now)
            return
        group.protocol_name = group.select_protocol()
        self._fire(group, Event.JOIN_COMPLETE, now)

    def _await_syncs(self, group: Group, previous: GroupState, now: float) -> None:
        """A new generation: every member that rejoined hears of it; the leader with the members."""
        group.pending_sync = set(group.members)
        for member in group.members.values():
            if member.awaiting_join:
                self._answer_join(member, self._generation_result(
                    group, member.member_id, with_members=member.member_id == group.leader_id))
            member.is_new = False
            member.last_heartbeat = now
        log.info("group %s: generation %d with %d member(s), protocol %s, leader %s", group.group_id,
                 group.generation, len(group.members), group.protocol_name, group.leader_id)
        self._arm(group, Timer.SYNC_DEADLINE, group.generation, now + group.rebalance_timeout_ms / 1000)

    def _distribute(self, group: Group, previous: GroupState, now: float) -> None:
        log.info("group %s: stable at generation %d", group.group_id, group.generation)
        for m in group.members.values():
            self._answer_sync(m, SyncResult(ErrorCode.NONE.code, m.assignment, group.protocol_type,
                                            group.protocol_name))

    # ---- timers ------------------------------------------------------------------------------------------
    def timer(self, key: TimerKey, now: float) -> None:
        """A timer the driver armed came due."""
        kind, group_id, which = key
        group = self._classic(group_id)
        if group is None or group.state is DEAD:
            return
        if kind is Timer.INITIAL_DELAY:
            self._initial_delay_over(group, now)
        elif kind is Timer.JOIN_DEADLINE:
            self._end_join_phase(group, now)
        elif kind is Timer.SYNC_DEADLINE:
            self._sync_expired(group, int(which), now)
        elif kind is Timer.SESSION:
            member = next((m for m in group.members.values() if m.serial == which), None)
            if member is not None:
                member.session_armed = False
                self._session_check(group, member, now)
        elif kind is Timer.PENDING_MEMBER and which in group.pending_members:
            group.pending_members.discard(str(which))
            log.debug("group %s: pending member %s never rejoined", group.group_id, which)
            self._check_join(group, now)

    def _sync_expired(self, group: Group, generation: int, now: float) -> None:
        if group.generation != generation or group.state not in (COMPLETING, STABLE) or not group.pending_sync:
            return
        for member_id in sorted(group.pending_sync):
            log.info("group %s: member %s never sent SyncGroup and is removed", group.group_id, member_id)
            self._remove_member(group, member_id)
        group.rebalance_reason = "members did not sync in time"
        self._fire(group, Event.REMOVED, now)

    def _session_check(self, group: Group, member: Member, now: float) -> None:
        """Heartbeats only move `last_heartbeat`; the timer re-arms itself until it really expires."""
        if member.awaiting_join and not (member.is_new and now - member.joined_at >= NEW_MEMBER_JOIN_TIMEOUT_S):
            member.last_heartbeat = now  # a parked JoinGroup is a sign of life
        elif member.awaiting_sync:
            member.last_heartbeat = now
        elif now >= member.last_heartbeat + member.session_timeout_ms / 1000:
            log.info("group %s: member %s timed out (no heartbeat for %d ms)", group.group_id, member.member_id,
                     member.session_timeout_ms)
            self._remove_member(group, member.member_id)
            group.rebalance_reason = f"member {member.member_id} timed out"
            self._fire(group, Event.REMOVED, now)
            return
        self._arm_session(group, member)

    # ---- members leaving -----------------------------------------------------------------------------
    def _remove_member(self, group: Group, member_id: str) -> None:
        member = group.remove(member_id)
        if member is not None:
            if member.session_armed:
                member.session_armed = False
                self._effects.append(Cancel((Timer.SESSION, group.group_id, member.serial)))
            self._answer_join(member, JoinResult(ErrorCode.UNKNOWN_MEMBER_ID.code, member_id))
            self._answer_sync(member, SyncResult(ErrorCode.UNKNOWN_MEMBER_ID.code))

    def _validate_member(self, group: Group, member_id: str, instance_id: str | None) -> int:
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is None:
                return ErrorCode.UNKNOWN_MEMBER_ID.code
            return ErrorCode.NONE.code if known == member_id else ErrorCode.FENCED_INSTANCE_ID.code
        return ErrorCode.NONE.code if member_id in group.members else ErrorCode.UNKNOWN_MEMBER_ID.code

    def _checked(self, group_id: str, member_id: str, instance_id: str | None, generation: int) -> int | Group:
        """The group of a member's request, or the error that answers it."""
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID.code
        group = self._classic(group_id)
        if group is None:
            return ErrorCode.UNKNOWN_MEMBER_ID.code
        if group.state is DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE.code
        error = self._validate_member(group, member_id, instance_id)
        if error != ErrorCode.NONE.code:
            return error
        if generation != group.generation:
            return ErrorCode.ILLEGAL_GENERATION.code
        return group

    # ---- SyncGroup, Heartbeat, LeaveGroup, a commit's member ---------------------------------------------
    def sync(self, req: SyncRequest, now: float) -> SyncResult | Ticket:
        group = self._checked(req.group_id, req.member_id, req.instance_id, req.generation)
        if isinstance(group, int):
            return SyncResult(group)
        if (req.protocol_type is not None and req.protocol_type != group.protocol_type) or (
            req.protocol_name is not None and req.protocol_name != group.protocol_name
        ):
            return SyncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL.code)
        member = group.members[req.member_id]
        member.last_heartbeat = now
        if group.state is PREPARING:
            return SyncResult(ErrorCode.REBALANCE_IN_PROGRESS.code)
        if group.state is STABLE:
            self._synced(group, req.member_id)
            return SyncResult(ErrorCode.NONE.code, member.assignment, group.protocol_type, group.protocol_name)
        if group.state is not COMPLETING:
            return SyncResult(ErrorCode.UNKNOWN_MEMBER_ID.code)
        ticket = self._park_sync(member)
        self._synced(group, req.member_id)
        if req.member_id == group.leader_id:
            for m in group.members.values():
                m.assignment = req.assignments.get(m.member_id, b"")
            self._fire(group, Event.LEADER_SYNCED, now)
        return ticket

    def _synced(self, group: Group, member_id: str) -> None:
        group.pending_sync.discard(member_id)
        if not group.pending_sync:
            self._effects.append(Cancel((Timer.SYNC_DEADLINE, group.group_id, group.generation)))

    def heartbeat(self, group_id: str, generation: int, member_id: str, instance_id: str | None, now: float) -> int:
        group = self._checked(group_id, member_id, instance_id, generation)
        if isinstance(group, int):
            return group
        group.members[member_id].last_heartbeat = now
        return ErrorCode.REBALANCE_IN_PROGRESS.code if group.state is PREPARING else ErrorCode.NONE.code

    def leave(self, group_id: str, leaving: list[tuple[str, str | None]], now: float) -> tuple[int, list[int]]:
        """Remove members (member id, instance id); returns a group-level error and one per member."""
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID.code, [ErrorCode.INVALID_GROUP_ID.code] * len(leaving)
        group = self._classic(group_id)
        if group is None:
            return ErrorCode.UNKNOWN_MEMBER_ID.code, [ErrorCode.UNKNOWN_MEMBER_ID.code] * len(leaving)
        if group.state is DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE.code, [ErrorCode.COORDINATOR_NOT_AVAILABLE.code] * len(leaving)
        errors = [self._leave_one(group, member_id, instance_id) for member_id, instance_id in leaving]
        if ErrorCode.NONE.code in errors:
            group.rebalance_reason = "members left"
            self._fire(group, Event.REMOVED, now)
        return ErrorCode.NONE.code, errors

    def _leave_one(self, group: Group, member_id: str, instance_id: str | None) -> int:
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is None:
                return ErrorCode.UNKNOWN_MEMBER_ID.code
            if member_id and member_id != known:
                return ErrorCode.FENCED_INSTANCE_ID.code
            member_id = known
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            self._effects.append(Cancel((Timer.PENDING_MEMBER, group.group_id, member_id)))
            return ErrorCode.NONE.code
        if member_id not in group.members:
            return ErrorCode.UNKNOWN_MEMBER_ID.code
        log.info("group %s: member %s leaves", group.group_id, member_id)
        self._remove_member(group, member_id)
        return ErrorCode.NONE.code

    def check_commit(self, group: Group, generation: int, member_id: str, instance_id: str | None,
                     now: float) -> int:
        """Whether a member (or, outside any generation, an admin tool) may commit to the group now."""
        if group.state is DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE.code
        if generation < 0 and group.state is EMPTY:
            return ErrorCode.NONE.code  # admin tools and assign()-style consumers commit outside any generation
        if generation >= 0 or member_id or instance_id is not None:
            error = self._validate_member(group, member_id, instance_id)
            if error != ErrorCode.NONE.code:
                return error
            if generation != group.generation:
                return ErrorCode.ILLEGAL_GENERATION.code
        elif group.state is not EMPTY:
            return ErrorCode.UNKNOWN_MEMBER_ID.code  # commits without a generation only while nobody is a member
        if group.state is COMPLETING:
            return ErrorCode.REBALANCE_IN_PROGRESS.code
        if member_id in group.members:
            group.members[member_id].last_heartbeat = now
        return ErrorCode.NONE.code
