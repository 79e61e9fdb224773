"""Consumer groups of the KIP-848 protocol as a sans-IO state machine: heartbeats in, answers and
timer effects out, the time passed in.

The rules are Kafka's (GroupMetadataManager, CurrentAssignmentBuilder):
1. A heartbeat creates or updates its member. A new member, a changed subscription, or a change
   in the subscribed topics (created, deleted, more partitions) bumps the group epoch.
2. When the group epoch is ahead of the target assignment, the assignor (`uniform` or `range`)
   computes a new target for every member.
3. The member reconciles towards its part of the target. One table, `RECONCILE`, drives it: a
   member first gives up the partitions it must lose (keeping its epoch until it reports them
   gone), then takes the new target's epoch and the partitions no other member still holds.
Members are fenced when their session lapses (no heartbeat for `group.consumer.session.timeout.ms`)
or when they do not give up partitions within their rebalance timeout. Static members
(`group.instance.id`) that leave with epoch -2 keep their place and partitions for a session.

Nothing here reads a clock, touches a socket or writes a file. Topics come through a `Catalog`
and timers are asked for with `Arm` and `Cancel` effects, like the classic `membership`.
"""

from __future__ import annotations

import enum
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from kctl.protocol.errors import ErrorCode

from .assignors import ASSIGNORS, MemberSpec, TopicPartitions
from .consumer_group import (
    ClassicSettings,
    ConsumerGroup,
    ConsumerMember,
    MemberState,
    TopicShape,
    decode_subscription,
    encode_assignment,
)
from .group import CONSUMER_PROTOCOL, Group, JoinResult, SyncResult
from .membership import Arm, Cancel, JoinRequest, SyncRequest

if TYPE_CHECKING:
    from .kinds import AnyGroup

log = logging.getLogger("broker.groups")

LEAVE_EPOCH = -1
LEAVE_STATIC_EPOCH = -2


class ConsumerTimer(enum.Enum):
    SESSION = "consumer session"  # keyed by member id
    REVOCATION = "revocation deadline"  # keyed by member id


class Catalog(Protocol):
    """The broker's topics, as the machine needs them."""

    @property
    def version(self) -> int:
        """Moves on whenever a topic is created or deleted, or gains partitions."""
        ...

    def shape(self, name: str) -> TopicShape | None: ...

    def user_topics(self) -> Iterable[str]:
        """Names a regex subscription may match (internal topics left out)."""
        ...


@dataclass(frozen=True, slots=True)
class ConsumerLimits:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    max_size: int = 2**31 - 1
    assignors: tuple[str, ...] = ("uniform", "range")


@dataclass(slots=True)
class HeartbeatRequest:
    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: list[str] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned: list[tuple[UUID, list[int]]] | None = None  # None: not said (unchanged since the last)
    client_id: str = ""
    client_host: str = ""
    api_version: int = 1


@dataclass(slots=True)
class HeartbeatResult:
    error: int
    message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: dict[UUID, list[int]] | None = None  # None: unchanged, not sent


@dataclass(frozen=True, slots=True)
class Downgrade:
    """Every member left speaks the classic protocol: make the group a classic one again."""

    group_id: str


Effect = Arm | Cancel | Downgrade


class Refused(Exception):
    """A heartbeat answered with an error, in Kafka's words."""

    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = error.code
        self.message = message


# ---- the reconciliation table ----------------------------------------------------------------------
class Event(enum.Enum):
    """What a heartbeat finds about a member that is not reconciled to the target."""

    TARGET_MOVED = "the target assignment has an epoch the member has not reached"
    REVOCATION_PENDING = "the member still reports partitions it was asked to give up"
    REVOKED = "the member no longer reports the partitions it was asked to give up"
    RELEASE_AWAITED = "partitions the member is owed may have been released by others"


class Step(enum.Enum):
    STAY = "stay"
    NEXT_AT_SAME_EPOCH = "next assignment, revocations asked at the member's epoch"
    NEXT_AT_FOLLOWING_EPOCH = "next assignment, revocations asked at the member's epoch + 1"


#: (member state, event) -> the step that follows. The step itself says the next state:
#: UNREVOKED_PARTITIONS while partitions are to be given up, UNRELEASED_PARTITIONS while owed
#: partitions are held by others, else STABLE.
RECONCILE: dict[tuple[MemberState, Event], Step] = {
    (MemberState.STABLE, Event.TARGET_MOVED): Step.NEXT_AT_SAME_EPOCH,
    (MemberState.UNREVOKED_PARTITIONS, Event.REVOCATION_PENDING): Step.STAY,
    (MemberState.UNREVOKED_PARTITIONS, Event.REVOKED): Step.NEXT_AT_FOLLOWING_EPOCH,
    (MemberState.UNRELEASED_PARTITIONS, Event.RELEASE_AWAITED): Step.NEXT_AT_SAME_EPOCH,
    (MemberState.UNRELEASED_PARTITIONS, Event.TARGET_MOVED): Step.NEXT_AT_SAME_EPOCH,
}


def _copy(assignment: TopicPartitions) -> TopicPartitions:
    return {t: set(ps) for t, ps in assignment.items() if ps}


def _owns_any(owned: list[tuple[UUID, list[int]]] | None, partitions: TopicPartitions) -> bool:
    """Whether the member still reports any of `partitions` (not saying counts as yes)."""
    if owned is None:
        return True
    return any(p in partitions.get(topic_id, ()) for topic_id, ps in owned for p in ps)


def _subset(owned: list[tuple[UUID, list[int]]] | None, assigned: TopicPartitions) -> bool:
    if owned is None:
        return False
    return all(p in assigned.get(topic_id, ()) for topic_id, ps in owned for p in ps)


class ConsumerMembership:
    """Every consumer group's membership. `groups` is the coordinator's map of every group; this
    machine only touches the `ConsumerGroup`s in it, and the empty classic groups it converts."""

    def __init__(self, groups: dict[str, AnyGroup], limits: ConsumerLimits, catalog: Catalog,
                 timing: Callable[[str], tuple[int, int]] | None = None) -> None:
        self.groups = groups
        self.limits = limits
        self.catalog = catalog
        #: A group's (session timeout, heartbeat interval) in ms: its own configs, else the broker's.
        self.timing = timing or (lambda _group_id: (limits.session_timeout_ms, limits.heartbeat_interval_ms))
        self._effects: list[Effect] = []
        self._regexes: dict[str, re.Pattern[str] | None] = {}

    def take_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects

    # ---- the heartbeat -----------------------------------------------------------------------------
    def heartbeat(self, req: HeartbeatRequest, now: float) -> HeartbeatResult:
        try:
            self._validate(req)
            if req.member_epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH):
                return self._leave(req, now)
            return self._heartbeat(req, now)
        except Refused as refused:
            return HeartbeatResult(refused.code, refused.message, req.member_id or None, req.member_epoch)

    def _validate(self, req: HeartbeatRequest) -> None:
        def invalid(message: str) -> Refused:
            return Refused(ErrorCode.INVALID_REQUEST, message)

        if not req.group_id:
            raise invalid("GroupId can't be empty.")
        if req.instance_id == "":
            raise invalid("InstanceId can't be empty.")
        if req.rack_id == "":
            raise invalid("RackId can't be empty.")
        epoch = req.member_epoch
        if (epoch > 0 or epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH) or req.api_version >= 1) and not req.member_id:
            raise invalid("MemberId can't be empty.")
        if epoch == 0:
            if req.rebalance_timeout_ms == -1:
                raise invalid("RebalanceTimeoutMs must be provided in first request.")
            if req.owned is None or any(ps for _, ps in req.owned):
                raise invalid("TopicPartitions must be empty when (re-)joining.")
            if not req.subscribed_topic_names and not req.subscribed_topic_regex:
                raise invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
        elif epoch == LEAVE_STATIC_EPOCH:
            if req.instance_id is None:
                raise invalid("InstanceId can't be null.")
        elif epoch < LEAVE_EPOCH:
            raise invalid("MemberEpoch is invalid.")
        if req.server_assignor is not None and req.server_assignor not in self.limits.assignors:
            raise Refused(ErrorCode.UNSUPPORTED_ASSIGNOR,
                          f"ServerAssignor {req.server_assignor} is not supported. Supported assignors: "
                          f"{', '.join(self.limits.assignors)}.")
        if req.subscribed_topic_regex and self._pattern(req.subscribed_topic_regex) is None:
            raise Refused(ErrorCode.INVALID_REGULAR_EXPRESSION,
                              f"SubscribedTopicRegex {req.subscribed_topic_regex} is not a valid regular expression.")

    def _pattern(self, regex: str) -> re.Pattern[str] | None:
        if regex not in self._regexes:
            try:
                self._regexes[regex] = re.compile(regex)
            except re.error:
                self._regexes[regex] = None
        return self._regexes[regex]

    def _group(self, req: HeartbeatRequest) -> ConsumerGroup:
        group = self.groups.get(req.group_id)
        if isinstance(group, ConsumerGroup) and not group.deleted:
            return group
        if group is None or (isinstance(group, Group) and not group.members and req.member_epoch == 0):
            if req.member_epoch != 0:
                raise Refused(ErrorCode.UNKNOWN_MEMBER_ID,
                              f"Member {req.member_id} is not a member of group {req.group_id}.")
            # A new group, or an empty classic one (offsets only) that becomes a consumer group.
            offsets = group.offsets if isinstance(group, Group) else None
            created = ConsumerGroup(req.group_id, offsets)
            self.groups[req.group_id] = created
            log.info("group %s: created as a consumer group", req.group_id)
            return created
        raise Refused(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {req.group_id} is not a consumer group.")

    def _member(self, group: ConsumerGroup, req: HeartbeatRequest, now: float) -> tuple[ConsumerMember, bool]:
        """The member the heartbeat is from, and whether it (re)joins now."""
        member_id = req.member_id or str(uuid.uuid4())
        if req.member_epoch == 0:
            known = group.members.get(member_id)
            if known is None and len(group.members) >= self.limits.max_size:
                raise Refused(ErrorCode.GROUP_MAX_SIZE_REACHED,
                              f"The consumer group has reached its maximum capacity of {self.limits.max_size} members.")
            if req.instance_id is not None:
                static = group.static_member(req.instance_id)
                if static is not None and static.member_id != member_id:
                    if static.epoch != LEAVE_STATIC_EPOCH:
                        raise Refused(ErrorCode.UNRELEASED_INSTANCE_ID,
                                      f"Static member {member_id} with instance id {req.instance_id} cannot join the "
                                      f"group because the instance id is owned by {static.member_id} member.")
                    return self._replace_static(group, static, member_id), True
            if known is not None:
                # A member coming back with epoch 0 has given everything up: it starts afresh.
                self._remove(group, known, "rejoined with epoch 0")
            member = ConsumerMember(member_id, last_seen=now)
            log.info("group %s: member %s joins%s", group.group_id, member_id,
                     f" (static, instance {req.instance_id})" if req.instance_id else "")
            return member, True
        if req.instance_id is not None:
            static = group.static_member(req.instance_id)
            if static is None:
                raise Refused(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {req.instance_id} is unknown.")
            if static.member_id != member_id:
                raise Refused(ErrorCode.FENCED_INSTANCE_ID,
                              f"Static member {member_id} with instance id {req.instance_id} was fenced by member "
                              f"{static.member_id}.")
            member = static
        else:
            found = group.members.get(member_id)
            if found is None:
                raise Refused(ErrorCode.UNKNOWN_MEMBER_ID,
                              f"Member {member_id} is not a member of group {group.group_id}.")
            member = found
        self._check_epoch(member, req.member_epoch, req.owned)
        return member, False

    @staticmethod
    def _check_epoch(member: ConsumerMember, received: int, owned: list[tuple[UUID, list[int]]] | None) -> None:
        if received > member.epoch:
            raise Refused(ErrorCode.FENCED_MEMBER_EPOCH,
                          f"The consumer group member has a greater member epoch ({received}) than the one known by "
                          f"the group coordinator ({member.epoch}). The member must abandon all its partitions and "
                          "rejoin.")
        if received < member.epoch and (received != member.previous_epoch or not _subset(owned, member.assigned)):
            # A member one epoch behind that holds no more than it is assigned only lost a response.
            raise Refused(ErrorCode.FENCED_MEMBER_EPOCH,
                          f"The consumer group member has a smaller member epoch ({received}) than the one known by "
                          f"the group coordinator ({member.epoch}). The member must abandon all its partitions and "
                          "rejoin.")

    def _replace_static(self, group: ConsumerGroup, old: ConsumerMember, member_id: str) -> ConsumerMember:
        """A static member back after leaving with epoch -2 takes its old place under its new id:
        same target, same partitions, no rebalance."""
        self._cancel_timers(group, old.member_id)
        group.members.pop(old.member_id, None)
        target = group.target.pop(old.member_id, None)
        old.member_id, old.epoch, old.previous_epoch = member_id, 0, 0
        old.session_armed = False
        group.put(old)
        if target is not None:
            group.target[member_id] = target
        group.hold(old)
        log.info("group %s: static member %s rejoins as %s", group.group_id, old.instance_id, member_id)
        return old

    def _heartbeat(self, req: HeartbeatRequest, now: float) -> HeartbeatResult:
        group = self._group(req)
        member, joining = self._member(group, req, now)
        before_assigned = _copy(member.assigned) if not joining else None
        bump = joining and member.member_id not in group.members
        if req.subscribed_topic_names is not None and tuple(req.subscribed_topic_names) != member.subscribed_names:
            member.subscribed_names = tuple(req.subscribed_topic_names)
            bump = True
        if req.subscribed_topic_regex is not None:
            regex = req.subscribed_topic_regex or None
            if regex != member.subscribed_regex:
                member.subscribed_regex = regex
                bump = True
        if req.instance_id is not None:
            member.instance_id = req.instance_id
        if req.rack_id is not None:
            member.rack_id = req.rack_id
        if req.rebalance_timeout_ms != -1:
            member.rebalance_timeout_ms = req.rebalance_timeout_ms
        if req.server_assignor is not None:
            member.server_assignor = req.server_assignor or None
        member.client_id, member.client_host = req.client_id, req.client_host
        member.last_seen = now
        member.classic = None  # it speaks the consumer protocol now
        group.put(member)
        if (bump or group.resolved_version != self.catalog.version) and self._resolve_subscription(group):
            bump = True
        if bump:
            group.group_epoch += 1
            log.info("group %s: epoch %d (%s)", group.group_id, group.group_epoch,
                     f"member {member.member_id} joined or changed its subscription" if joining or bump else "")
        if group.group_epoch > group.assignment_epoch:
            self._assign(group)
        self._reconcile(group, member, req.owned, now)
        self._arm_session(group, member)
        group.refresh_state()
        full = req.member_epoch == 0 or (req.rebalance_timeout_ms != -1 and req.subscribed_topic_names is not None
                                         and req.owned is not None)
        send = full or before_assigned != member.assigned
        return HeartbeatResult(
            ErrorCode.NONE.code, None, member.member_id, member.epoch, self.timing(group.group_id)[1],
            {t: sorted(ps) for t, ps in sorted(member.assigned.items())} if send else None,
        )

    # ---- subscriptions and the target assignment -----------------------------------------------------
    def _member_topics(self, member: ConsumerMember) -> set[str]:
        names = set(member.subscribed_names)
        if member.subscribed_regex:
            pattern = self._pattern(member.subscribed_regex)
            if pattern is not None:
                names.update(t for t in self.catalog.user_topics() if pattern.fullmatch(t))
        return names

    def _resolve_subscription(self, group: ConsumerGroup) -> bool:
        """Resolve every member's subscription against the topics there are now; whether the
        group's subscribed topics (names, ids or partition counts) changed."""
        names: set[str] = set()
        for m in group.members.values():
            names |= self._member_topics(m)
        shapes = {n: shape for n in sorted(names) if (shape := self.catalog.shape(n)) is not None}
        group.resolved_version = self.catalog.version
        if shapes == group.subscription:
            return False
        group.subscription = shapes
        return True

    def _assignor(self, group: ConsumerGroup) -> str:
        """The server assignor most members ask for, else the broker's first."""
        votes: dict[str, int] = {}
        for m in group.members.values():
            if m.server_assignor:
                votes[m.server_assignor] = votes.get(m.server_assignor, 0) + 1
        if not votes:
            return self.limits.assignors[0]
        return max(sorted(votes), key=lambda name: votes[name])

    def _assign(self, group: ConsumerGroup) -> None:
        name = self._assignor(group)
        specs = {}
        for m in group.members.values():
            subscribed = frozenset(group.subscription[n].topic_id for n in self._member_topics(m)
                                   if n in group.subscription)
            specs[m.member_id] = MemberSpec(subscribed, group.target.get(m.member_id, {}))
        partitions = {shape.topic_id: shape.partitions for shape in group.subscription.values()}
        group.target = ASSIGNORS[name](specs, partitions)
        group.assignment_epoch = group.group_epoch
        group.assignor_name = name
        log.info("group %s: target assignment for epoch %d by %s: %s", group.group_id, group.assignment_epoch, name,
                 {m: {str(t)[:8]: sorted(ps) for t, ps in a.items()} for m, a in group.target.items()})

    # ---- reconciling a member ----------------------------------------------------------------------
    def _event(self, group: ConsumerGroup, member: ConsumerMember,
               owned: list[tuple[UUID, list[int]]] | None) -> Event | None:
        if member.state is MemberState.UNREVOKED_PARTITIONS:
            return Event.REVOCATION_PENDING if _owns_any(owned, member.pending_revocation) else Event.REVOKED
        if member.state is MemberState.UNRELEASED_PARTITIONS:
            return Event.RELEASE_AWAITED
        if member.epoch != group.assignment_epoch:
            return Event.TARGET_MOVED
        return None

    def _reconcile(self, group: ConsumerGroup, member: ConsumerMember,
                   owned: list[tuple[UUID, list[int]]] | None, now: float) -> None:
        if member.reconciled_to(group.assignment_epoch):
            return
        event = self._event(group, member, owned)
        if event is None:
            return
        step = RECONCILE.get((member.state, event))
        if step is None or step is Step.STAY:
            return
        epoch = member.epoch + 1 if step is Step.NEXT_AT_FOLLOWING_EPOCH else member.epoch
        before = (member.state, member.epoch)
        self._next_assignment(group, member, epoch, owned)
        if (member.state, member.epoch) != before:
            log.debug("group %s: member %s now %s at epoch %d", group.group_id, member.member_id,
                      member.state.value, member.epoch)
        if member.classic is not None:
            return  # a classic member gives partitions up by rejoining; its session bounds that
        if member.state is MemberState.UNREVOKED_PARTITIONS:
            self._effects.append(Arm((ConsumerTimer.REVOCATION, group.group_id, member.member_id),
                                     now + member.rebalance_timeout_ms / 1000))
        else:
            self._effects.append(Cancel((ConsumerTimer.REVOCATION, group.group_id, member.member_id)))

    def _next_assignment(self, group: ConsumerGroup, member: ConsumerMember, epoch: int,
                         owned: list[tuple[UUID, list[int]]] | None) -> None:
        target = group.target.get(member.member_id, {})
        target_epoch = group.assignment_epoch
        keep: TopicPartitions = {}
        revoke: TopicPartitions = {}
        take: TopicPartitions = {}
        unreleased = False
        for topic_id in set(target) | set(member.assigned):
            wanted = target.get(topic_id, set())
            current = member.assigned.get(topic_id, set())
            kept = current & wanted
            if kept:
                keep[topic_id] = kept
            if current - kept:
                revoke[topic_id] = current - kept
            free = {p for p in wanted - kept if group.partition_epochs.get((topic_id, p), -1) == -1}
            unreleased = unreleased or len(free) < len(wanted - kept)
            if free:
                take[topic_id] = free
        group.release(member)
        if revoke and _owns_any(owned, revoke):
            member.state = MemberState.UNREVOKED_PARTITIONS
            self._set_epoch(member, epoch)
            member.assigned, member.pending_revocation = keep, revoke
        else:
            for topic_id, ps in take.items():
                keep.setdefault(topic_id, set()).update(ps)
                for p in ps:
                    member.assigned_since[(topic_id, p)] = target_epoch
            member.state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
            self._set_epoch(member, target_epoch)
            member.assigned, member.pending_revocation = keep, {}
        member.assigned_since = {tp: e for tp, e in member.assigned_since.items() if tp[1] in keep.get(tp[0], ())}
        group.hold(member)

    @staticmethod
    def _set_epoch(member: ConsumerMember, epoch: int) -> None:
        if epoch != member.epoch:
            member.previous_epoch, member.epoch = member.epoch, epoch

    # ---- leaving, fencing, timers --------------------------------------------------------------------
    def _leave(self, req: HeartbeatRequest, now: float) -> HeartbeatResult:
        group = self.groups.get(req.group_id)
        if not isinstance(group, ConsumerGroup) or group.deleted:
            raise Refused(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {req.group_id} not found.")
        if req.instance_id is None:
            member = group.members.get(req.member_id)
            if member is None:
                raise Refused(ErrorCode.UNKNOWN_MEMBER_ID,
                              f"Member {req.member_id} is not a member of group {group.group_id}.")
        else:
            static = group.static_member(req.instance_id)
            if static is None:
                raise Refused(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {req.instance_id} is unknown.")
            if static.member_id != req.member_id:
                raise Refused(ErrorCode.FENCED_INSTANCE_ID,
                              f"Static member {req.member_id} with instance id {req.instance_id} was fenced by "
                              f"member {static.member_id}.")
            member = static
            if req.member_epoch == LEAVE_STATIC_EPOCH:
                # It will be back: it keeps its partitions (nobody else gets them) for a session.
                group.release(member)
                member.pending_revocation = {}
                member.epoch = LEAVE_STATIC_EPOCH
                group.hold(member)
                self._effects.append(Cancel((ConsumerTimer.REVOCATION, group.group_id, member.member_id)))
                group.refresh_state()
                log.info("group %s: static member %s (instance %s) left for now", group.group_id,
                         member.member_id, req.instance_id)
                return HeartbeatResult(ErrorCode.NONE.code, None, member.member_id, LEAVE_STATIC_EPOCH)
        self._fence(group, member, "left the group")
        return HeartbeatResult(ErrorCode.NONE.code, None, req.member_id, req.member_epoch)

    def _remove(self, group: ConsumerGroup, member: ConsumerMember, why: str) -> None:
        group.drop(member.member_id)
        self._cancel_timers(group, member.member_id)
        group.resolved_version = -1  # its topics may have been the only reason to subscribe to some
        group.group_epoch += 1
        log.info("group %s: member %s %s; epoch %d", group.group_id, member.member_id, why, group.group_epoch)

    def _fence(self, group: ConsumerGroup, member: ConsumerMember, why: str) -> None:
        self._remove(group, member, why)
        if member.classic is None and group.members and all(m.classic for m in group.members.values()):
            # The last member of the consumer protocol is gone: back to a classic group (KIP-848's
            # online downgrade), which the driver does on this effect.
            for member_id in group.members:
                self._cancel_timers(group, member_id)
            self._effects.append(Downgrade(group.group_id))
            return
        if not group.members:
            # Nobody is left to heartbeat the new epoch into a target: settle it now.
            group.subscription, group.target = {}, {}
            group.assignment_epoch = group.group_epoch
        group.refresh_state()

    def _cancel_timers(self, group: ConsumerGroup, member_id: str) -> None:
        for timer in ConsumerTimer:
            self._effects.append(Cancel((timer, group.group_id, member_id)))

    def _session_ms(self, group: ConsumerGroup, member: ConsumerMember) -> int:
        """A classic member keeps the session timeout it joined with; the others the group's."""
        return member.classic.session_timeout_ms if member.classic is not None else self.timing(group.group_id)[0]

    def _arm_session(self, group: ConsumerGroup, member: ConsumerMember) -> None:
        if not member.session_armed:
            member.session_armed = True
            self._effects.append(Arm((ConsumerTimer.SESSION, group.group_id, member.member_id),
                                     member.last_seen + self._session_ms(group, member) / 1000))

    def timer(self, key: tuple[ConsumerTimer, str, int | str], now: float) -> None:
        kind, group_id, member_id = key
        group = self.groups.get(group_id)
        if not isinstance(group, ConsumerGroup) or group.deleted:
            return
        member = group.members.get(str(member_id))
        if member is None:
            return
        if kind is ConsumerTimer.SESSION:
            member.session_armed = False
            session_ms = self._session_ms(group, member)
            if now >= member.last_seen + session_ms / 1000:
                self._fence(group, member, f"timed out (no heartbeat for {session_ms} ms)")
            else:
                self._arm_session(group, member)
        elif kind is ConsumerTimer.REVOCATION and member.state is MemberState.UNREVOKED_PARTITIONS:
            self._fence(group, member, f"did not give up its partitions within {member.rebalance_timeout_ms} ms")

    # ---- members of the classic protocol in a consumer group (KIP-848 migration) -------------------------
    def classic_join(self, group: ConsumerGroup, req: JoinRequest, now: float) -> JoinResult:
        """JoinGroup from a classic consumer: the coordinator assigns, so the answer names no leader
        and its generation is the member's epoch; SyncGroup hands over the assignment."""
        def fail(error: ErrorCode, member_id: str = req.member_id) -> JoinResult:
            return JoinResult(error.code, member_id)

        if req.protocol_type != CONSUMER_PROTOCOL or not req.protocols:
            return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        member_id = req.member_id
        if not member_id:
            member_id = f"{req.client_id}-{uuid.uuid4()}"
            if req.require_known_member_id:
                return fail(ErrorCode.MEMBER_ID_REQUIRED, member_id)
        try:
            subscription = decode_subscription(req.protocols[0][1])
        except ValueError:
            return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        member = self._classic_member(group, req, member_id, now)
        if isinstance(member, int):
            return JoinResult(member, member_id)
        bump = member.member_id not in group.members or tuple(subscription.topics) != member.subscribed_names
        member.subscribed_names = tuple(subscription.topics)
        member.subscribed_regex = None
        member.rack_id = subscription.rack_id
        member.rebalance_timeout_ms = req.rebalance_timeout_ms
        member.client_id, member.client_host = req.client_id, req.client_host
        member.classic = ClassicSettings(req.session_timeout_ms, list(req.protocols))
        member.last_seen = now
        group.put(member)
        if (bump or group.resolved_version != self.catalog.version) and self._resolve_subscription(group):
            bump = True
        if bump:
            group.group_epoch += 1
            log.info("group %s: epoch %d (classic member %s joined or changed its subscription)", group.group_id,
                     group.group_epoch, member.member_id)
        if group.group_epoch > group.assignment_epoch:
            self._assign(group)
        owned = [(shape.topic_id, list(o.partitions)) for o in subscription.owned_partitions
                 if (shape := self.catalog.shape(o.topic)) is not None]
        self._reconcile(group, member, owned, now)
        self._arm_session(group, member)
        group.refresh_state()
        return JoinResult(ErrorCode.NONE.code, member.member_id, member.epoch, CONSUMER_PROTOCOL,
                          member.classic.protocol_name, "")

    def _classic_member(self, group: ConsumerGroup, req: JoinRequest, member_id: str,
                        now: float) -> ConsumerMember | int:
        if req.instance_id is not None:
            static = group.static_member(req.instance_id)
            if static is not None and static.member_id != member_id:
                if req.member_id:
                    return ErrorCode.FENCED_INSTANCE_ID.code
                return self._replace_static(group, static, member_id)
            if static is not None:
                return static
        known = group.members.get(member_id)
        if known is not None:
            return known
        # A new member, or one back with the id MEMBER_ID_REQUIRED gave it: it joins (as Kafka's
        # coordinator creates any classic member of a consumer group it does not know).
        if len(group.members) >= self.limits.max_size:
            return ErrorCode.GROUP_MAX_SIZE_REACHED.code
        log.info("group %s: classic member %s joins the consumer group", group.group_id, member_id)
        return ConsumerMember(member_id, req.instance_id, last_seen=now)

    def _classic_known(self, group: ConsumerGroup, member_id: str, instance_id: str | None,
                       generation: int) -> ConsumerMember | int:
        if instance_id is not None:
            member = group.static_member(instance_id)
            if member is None:
                return ErrorCode.UNKNOWN_MEMBER_ID.code
            if member.member_id != member_id:
                return ErrorCode.FENCED_INSTANCE_ID.code
        else:
            found = group.members.get(member_id)
            if found is None:
                return ErrorCode.UNKNOWN_MEMBER_ID.code
            member = found
        if member.classic is None:
            return ErrorCode.UNKNOWN_MEMBER_ID.code  # it speaks the consumer protocol
        if generation != member.epoch:
            return ErrorCode.ILLEGAL_GENERATION.code
        return member

    def classic_sync(self, group: ConsumerGroup, req: SyncRequest, now: float) -> SyncResult:
        member = self._classic_known(group, req.member_id, req.instance_id, req.generation)
        if isinstance(member, int):
            return SyncResult(member)
        assert member.classic is not None
        if (req.protocol_type is not None and req.protocol_type != CONSUMER_PROTOCOL) or (
                req.protocol_name is not None and req.protocol_name != member.classic.protocol_name):
            return SyncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL.code)
        if group.group_epoch > member.epoch and member.state is not MemberState.UNREVOKED_PARTITIONS:
            return SyncResult(ErrorCode.REBALANCE_IN_PROGRESS.code)
        member.last_seen = now
        names = {shape.topic_id: name for name, shape in group.subscription.items()}
        return SyncResult(ErrorCode.NONE.code, encode_assignment(member.assigned, names,
                                                                 member.classic.subscription_version()),
                          CONSUMER_PROTOCOL, member.classic.protocol_name)

    def classic_heartbeat(self, group: ConsumerGroup, generation: int, member_id: str, instance_id: str | None,
                          now: float) -> int:
        member = self._classic_known(group, member_id, instance_id, generation)
        if isinstance(member, int):
            return member
        member.last_seen = now
        owed = {(t, p) for t, ps in group.target.get(member.member_id, {}).items() for p in ps
                if p not in member.assigned.get(t, ())}
        released = any(group.partition_epochs.get(tp, -1) == -1 for tp in owed)
        if (member.epoch < group.group_epoch or member.state is MemberState.UNREVOKED_PARTITIONS
                or (member.state is MemberState.UNRELEASED_PARTITIONS and released)):
            return ErrorCode.REBALANCE_IN_PROGRESS.code  # rejoin to move on
        return ErrorCode.NONE.code

    def classic_leave(self, group: ConsumerGroup, leaving: list[tuple[str, str | None]]) -> list[int]:
        errors = []
        for member_id, instance_id in leaving:
            if instance_id is not None:
                member = group.static_member(instance_id)
                if member is None or (member_id and member.member_id != member_id):
                    errors.append(ErrorCode.UNKNOWN_MEMBER_ID.code if member is None
                                  else ErrorCode.FENCED_INSTANCE_ID.code)
                    continue
            else:
                found = group.members.get(member_id)
                if found is None:
                    errors.append(ErrorCode.UNKNOWN_MEMBER_ID.code)
                    continue
                member = found
            if member.classic is None:
                errors.append(ErrorCode.UNKNOWN_MEMBER_ID.code)
                continue
            self._fence(group, member, "left the group (classic LeaveGroup)")
            errors.append(ErrorCode.NONE.code)
        return errors

    def adopted(self, group: ConsumerGroup, now: float) -> None:
        """A classic group just taken over: its members get a full session to heartbeat."""
        for member in group.members.values():
            member.last_seen = now
            member.session_armed = False
            self._arm_session(group, member)

    # ---- offsets: who may commit and fetch ------------------------------------------------------------
    def check_commit(self, group: ConsumerGroup, member_id: str, epoch: int, api_version: int,
                     transactional: bool) -> int | Callable[[str, int], int]:
        """NONE, an error for the whole commit, or (a commit from an older epoch) a check of
        each partition: good while the member has held it since that epoch (KIP-1251)."""
        if epoch < 0 and not group.members:
            return ErrorCode.NONE.code  # admin tools and assign()-style consumers, while nobody is a member
        member = group.members.get(member_id)
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID.code
        if member.classic is not None:
            return ErrorCode.NONE.code if epoch == member.epoch else ErrorCode.ILLEGAL_GENERATION.code
        if not transactional and api_version < 9:
            return ErrorCode.UNSUPPORTED_VERSION.code
        stale = ErrorCode.ILLEGAL_GENERATION.code if transactional else ErrorCode.STALE_MEMBER_EPOCH.code
        if epoch == member.epoch:
            return ErrorCode.NONE.code
        if epoch > member.epoch or epoch < 0:
            return stale

        def partition(topic: str, index: int) -> int:
            shape = group.subscription.get(topic)
            since = None if shape is None else member.assigned_since.get((shape.topic_id, index))
            return ErrorCode.NONE.code if since is not None and since <= epoch else stale

        return partition

    def check_fetch(self, group: ConsumerGroup, member_id: str | None, epoch: int) -> int:
        if epoch < 0 and not member_id:
            return ErrorCode.NONE.code
        member = group.members.get(member_id or "")
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID.code
        if epoch != member.epoch:
            return ErrorCode.STALE_MEMBER_EPOCH.code
        return ErrorCode.NONE.code

    def deleted(self, group: ConsumerGroup) -> None:
        group.deleted = True
        for member_id in list(group.members):
            self._cancel_timers(group, member_id)

