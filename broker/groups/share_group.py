"""Share groups (KIP-932): membership as a sans-IO state machine, heartbeats in, answers and
timer effects out, the time passed in.

A share group's members do not own partitions: several may read one partition, records being
handed out one by one (`broker.share`). So there is no revocation to wait for: when members or
subscriptions change the group epoch moves on, the `simple` assignor spreads the partitions
(every partition to at least one member; with more members than partitions, partitions to
several), and each member takes its new assignment at the group's epoch on its next heartbeat.
Members are removed when their session lapses. The group is Empty or Stable.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode

from .assignors import TopicPartitions
from .consumer_group import TopicShape
from .consumer_membership import Catalog, Refused
from .group import CommittedOffsets
from .membership import Arm, Cancel
from .state import GroupState

if TYPE_CHECKING:
    from .kinds import AnyGroup

log = logging.getLogger("broker.groups")

SHARE_GROUP_TYPE = "share"
LEAVE_EPOCH = -1


class ShareTimer(enum.Enum):
    SESSION = "share session"  # keyed by member id


@dataclass(eq=False, slots=True)
class ShareMember:
    member_id: str
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_names: tuple[str, ...] = ()
    epoch: int = 0
    previous_epoch: int = -1
    assigned: TopicPartitions = field(default_factory=dict)
    last_seen: float = 0.0
    session_armed: bool = False


class ShareGroup:
    group_type = SHARE_GROUP_TYPE
    protocol_type: str | None = "share"

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, ShareMember] = {}
        self.target: dict[str, TopicPartitions] = {}  # member id -> its part of the assignment
        self.subscription: dict[str, TopicShape] = {}
        self.resolved_version = -1
        self.offsets = CommittedOffsets()  # share groups commit no offsets: always empty
        self.state_since_ms = now_ms()
        self.deleted = False
        self._state = GroupState.EMPTY

    @property
    def state(self) -> GroupState:
        return GroupState.DEAD if self.deleted else self._state

    def refresh_state(self) -> None:
        state = GroupState.STABLE if self.members else GroupState.EMPTY
        if state is not self._state:
            self._state, self.state_since_ms = state, now_ms()

    def subscribed_topics(self) -> set[str]:
        return set(self.subscription)

    def topic_names(self) -> dict[UUID, str]:
        return {shape.topic_id: name for name, shape in self.subscription.items()}


def simple_assignment(members: dict[str, set[UUID]], partitions: dict[UUID, int]) -> dict[str, TopicPartitions]:
    """Kafka's `simple` share assignor: each topic's partitions go round the members subscribed to
    it; when there are more such members than partitions, the partitions go round again so every
    member has one."""
    result: dict[str, TopicPartitions] = {m: {} for m in members}
    for topic_id in sorted(partitions):
        takers = sorted(m for m, topics in members.items() if topic_id in topics)
        count = partitions[topic_id]
        if not takers or not count:
            continue
        for i in range(max(count, len(takers))):
            result[takers[i % len(takers)]].setdefault(topic_id, set()).add(i % count)
    return result


@dataclass(frozen=True, slots=True)
class ShareLimits:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    max_size: int = 200


@dataclass(slots=True)
class ShareHeartbeat:
    group_id: str
    member_id: str
    member_epoch: int
    rack_id: str | None = None
    subscribed_topic_names: list[str] | None = None
    client_id: str = ""
    client_host: str = ""


@dataclass(slots=True)
class ShareHeartbeatResult:
    error: int
    message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: dict[UUID, list[int]] | None = None


@dataclass(frozen=True, slots=True)
class Assigned:
    """A share group now reads these partitions: the driver makes sure each has its state."""

    group_id: str
    partitions: frozenset[tuple[UUID, int]]


@dataclass(frozen=True, slots=True)
class MemberGone:
    """What a member held must go back (it left or timed out)."""

    group_id: str
    member_id: str


ShareEffect = Arm | Cancel | Assigned | MemberGone


class ShareMembership:
    def __init__(self, groups: dict[str, AnyGroup], limits: ShareLimits, catalog: Catalog,
                 timing: Callable[[str], tuple[int, int]] | None = None) -> None:
        self.groups = groups
        self.limits = limits
        self.catalog = catalog
        #: A group's (session timeout, heartbeat interval): its group configs, else the broker's.
        self.timing = timing or (lambda _group_id: (limits.session_timeout_ms, limits.heartbeat_interval_ms))
        self._effects: list[ShareEffect] = []

    def take_effects(self) -> list[ShareEffect]:
        effects, self._effects = self._effects, []
        return effects

    def heartbeat(self, req: ShareHeartbeat, now: float) -> ShareHeartbeatResult:
        try:
            self._validate(req)
            if req.member_epoch == LEAVE_EPOCH:
                return self._leave(req)
            return self._heartbeat(req, now)
        except Refused as refused:
            return ShareHeartbeatResult(refused.code, refused.message, req.member_id or None, req.member_epoch)

    @staticmethod
    def _validate(req: ShareHeartbeat) -> None:
        def invalid(message: str) -> Refused:
            return Refused(ErrorCode.INVALID_REQUEST, message)

        if not req.group_id:
            raise invalid("GroupId can't be empty.")
        if req.rack_id == "":
            raise invalid("RackId can't be empty.")
        if not req.member_id:
            raise invalid("MemberId can't be empty.")
        if req.member_epoch == 0 and not req.subscribed_topic_names:
            raise invalid("SubscribedTopicNames must be set in first request.")
        if req.member_epoch < LEAVE_EPOCH:
            raise invalid("MemberEpoch is invalid.")

    def _group(self, req: ShareHeartbeat) -> ShareGroup:
        group = self.groups.get(req.group_id)
        if isinstance(group, ShareGroup) and not group.deleted:
            return group
        if group is None and req.member_epoch == 0:
            created = ShareGroup(req.group_id)
            self.groups[req.group_id] = created
            log.info("group %s: created as a share group", req.group_id)
            return created
        if group is None:
            raise Refused(ErrorCode.UNKNOWN_MEMBER_ID, f"Member {req.member_id} is not a member of group "
                                                       f"{req.group_id}.")
        raise Refused(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {req.group_id} is not a share group.")

    def _heartbeat(self, req: ShareHeartbeat, now: float) -> ShareHeartbeatResult:
        group = self._group(req)
        member = group.members.get(req.member_id)
        bump = False
        if member is None:
            if req.member_epoch != 0:
                raise Refused(ErrorCode.UNKNOWN_MEMBER_ID,
                              f"Member {req.member_id} is not a member of group {group.group_id}.")
            if len(group.members) >= self.limits.max_size:
                raise Refused(ErrorCode.GROUP_MAX_SIZE_REACHED, "The share group has reached its maximum capacity "
                              f"of {self.limits.max_size} members.")
            member = ShareMember(req.member_id, last_seen=now)
            group.members[member.member_id] = member
            bump = True
            log.info("group %s: share member %s joins", group.group_id, member.member_id)
        elif req.member_epoch > member.epoch or (req.member_epoch < member.epoch
                                                 and req.member_epoch not in (member.previous_epoch, 0)):
            raise Refused(ErrorCode.FENCED_MEMBER_EPOCH,
                          f"The share group member has a {'greater' if req.member_epoch > member.epoch else 'smaller'}"
                          f" member epoch ({req.member_epoch}) than the one known by the group coordinator "
                          f"({member.epoch}). The member must abandon all its partitions and rejoin.")
        before = {t: set(ps) for t, ps in member.assigned.items()}
        if req.subscribed_topic_names is not None and tuple(req.subscribed_topic_names) != member.subscribed_names:
            member.subscribed_names = tuple(req.subscribed_topic_names)
            bump = True
        if req.rack_id is not None:
            member.rack_id = req.rack_id
        member.client_id, member.client_host, member.last_seen = req.client_id, req.client_host, now
        if (bump or group.resolved_version != self.catalog.version) and self._resolve(group):
            bump = True
        if bump:
            group.group_epoch += 1
        if group.group_epoch > group.assignment_epoch:
            self._assign(group)
        target = group.target.get(member.member_id, {})
        if member.epoch != group.assignment_epoch:
            member.previous_epoch, member.epoch = member.epoch, group.assignment_epoch
            member.assigned = target
        self._arm_session(group, member)
        group.refresh_state()
        send = req.member_epoch == 0 or before != member.assigned
        return ShareHeartbeatResult(
            ErrorCode.NONE.code, None, member.member_id, member.epoch, self.timing(group.group_id)[1],
            {t: sorted(ps) for t, ps in sorted(member.assigned.items())} if send else None)

    def _resolve(self, group: ShareGroup) -> bool:
        names = {n for m in group.members.values() for n in m.subscribed_names}
        shapes = {n: shape for n in sorted(names) if (shape := self.catalog.shape(n)) is not None}
        group.resolved_version = self.catalog.version
        if shapes == group.subscription:
            return False
        group.subscription = shapes
        return True

    def _assign(self, group: ShareGroup) -> None:
        subscribed = {m.member_id: {group.subscription[n].topic_id for n in m.subscribed_names
                                    if n in group.subscription} for m in group.members.values()}
        partitions = {shape.topic_id: shape.partitions for shape in group.subscription.values()}
        target = group.target = simple_assignment(subscribed, partitions)
        group.assignment_epoch = group.group_epoch
        every = frozenset((t, p) for a in target.values() for t, ps in a.items() for p in ps)
        if every:
            self._effects.append(Assigned(group.group_id, every))
        log.info("group %s: share assignment for epoch %d over %d member(s)", group.group_id,
                 group.assignment_epoch, len(group.members))

    def _leave(self, req: ShareHeartbeat) -> ShareHeartbeatResult:
        group = self.groups.get(req.group_id)
        if not isinstance(group, ShareGroup) or req.member_id not in group.members:
            raise Refused(ErrorCode.UNKNOWN_MEMBER_ID,
                          f"Member {req.member_id} is not a member of group {req.group_id}.")
        self._remove(group, group.members[req.member_id], "left the group")
        return ShareHeartbeatResult(ErrorCode.NONE.code, None, req.member_id, LEAVE_EPOCH)

    def _remove(self, group: ShareGroup, member: ShareMember, why: str) -> None:
        group.members.pop(member.member_id, None)
        group.target.pop(member.member_id, None)
        self._effects.append(Cancel((ShareTimer.SESSION, group.group_id, member.member_id)))
        self._effects.append(MemberGone(group.group_id, member.member_id))
        group.group_epoch += 1
        group.resolved_version = -1
        if not group.members:
            group.subscription = {}
            group.assignment_epoch = group.group_epoch
        group.refresh_state()
        log.info("group %s: share member %s %s; epoch %d", group.group_id, member.member_id, why, group.group_epoch)

    def _arm_session(self, group: ShareGroup, member: ShareMember) -> None:
        if not member.session_armed:
            member.session_armed = True
            self._effects.append(Arm((ShareTimer.SESSION, group.group_id, member.member_id),
                                     member.last_seen + self.timing(group.group_id)[0] / 1000))

    def timer(self, key: tuple[ShareTimer, str, int | str], now: float) -> None:
        _, group_id, member_id = key
        group = self.groups.get(group_id)
        if not isinstance(group, ShareGroup) or group.deleted:
            return
        member = group.members.get(str(member_id))
        if member is None:
            return
        member.session_armed = False
        session_ms = self.timing(group_id)[0]
        if now >= member.last_seen + session_ms / 1000:
            self._remove(group, member, f"timed out (no heartbeat for {session_ms} ms)")
        else:
            self._arm_session(group, member)

    def is_member(self, group_id: str, member_id: str) -> bool:
        group = self.groups.get(group_id)
        return isinstance(group, ShareGroup) and member_id in group.members

    def deleted(self, group: ShareGroup) -> None:
        group.deleted = True
        for member_id in list(group.members):
            self._effects.append(Cancel((ShareTimer.SESSION, group.group_id, member_id)))
