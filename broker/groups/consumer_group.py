"""A consumer group of the KIP-848 protocol and its members, as the coordinator keeps them.

The group's epoch moves on whenever its members or their subscriptions change; the target
assignment is what the assignor computed for an epoch; each member reconciles towards its part of
the target at its own pace (`consumer_membership`). The group's state is derived from those, as
Kafka derives it: Empty, Assigning, Reconciling or Stable.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from kctl.protocol import data
from kctl.protocol.clock import now_ms
from kctl.protocol.data import AssignedTopicPartition, ConsumerProtocolAssignment, ConsumerProtocolSubscription
from kctl.protocol.errors import ProtocolError

from .assignors import TopicPartitions
from .group import CONSUMER_PROTOCOL, CommittedOffsets, Group, Member
from .state import GroupState

CONSUMER_GROUP_TYPE = "consumer"


class MemberState(enum.Enum):
    """Where a member is in reconciling towards its target (Kafka's MemberState)."""

    STABLE = "stable"  # holds exactly its part of the target, at the target's epoch
    UNREVOKED_PARTITIONS = "unrevoked_partitions"  # asked to give up partitions, not done yet
    UNRELEASED_PARTITIONS = "unreleased_partitions"  # owed partitions that others still hold


@dataclass(slots=True)
class ClassicSettings:
    """What a member of the classic protocol in a consumer group said in its JoinGroup."""

    session_timeout_ms: int
    protocols: list[tuple[str, bytes]]

    @property
    def protocol_name(self) -> str:
        return self.protocols[0][0] if self.protocols else ""

    def subscription_version(self) -> int:
        try:
            return data.version_of(self.protocols[0][1]) if self.protocols else 0
        except ProtocolError:
            return 0


@dataclass(eq=False, slots=True)
class ConsumerMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout_ms: int = 0
    subscribed_names: tuple[str, ...] = ()
    subscribed_regex: str | None = None
    server_assignor: str | None = None
    epoch: int = 0
    previous_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: TopicPartitions = field(default_factory=dict)
    pending_revocation: TopicPartitions = field(default_factory=dict)
    #: The epoch at which each assigned partition became the member's (KIP-1251): a commit from
    #: an older epoch is still good for a partition the member has held since then.
    assigned_since: dict[tuple[UUID, int], int] = field(default_factory=dict)
    last_seen: float = 0.0
    session_armed: bool = False
    classic: ClassicSettings | None = None  # set while the member speaks the classic protocol

    def reconciled_to(self, epoch: int) -> bool:
        return self.state is MemberState.STABLE and self.epoch == epoch

    def holdings(self) -> Iterator[tuple[UUID, int]]:
        """Every partition the member holds: assigned, or still to give up."""
        for source in (self.assigned, self.pending_revocation):
            for topic_id, partitions in source.items():
                for p in partitions:
                    yield topic_id, p


@dataclass(frozen=True, slots=True)
class TopicShape:
    topic_id: UUID
    partitions: int


class ConsumerGroup:
    group_type = CONSUMER_GROUP_TYPE
    protocol_type: str | None = "consumer"

    def __init__(self, group_id: str, offsets: CommittedOffsets | None = None) -> None:
        self.group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, ConsumerMember] = {}
        self.static_members: dict[str, str] = {}  # instance id -> member id
        self.target: dict[str, TopicPartitions] = {}  # member id -> its part of the target assignment
        #: (topic id, partition) -> epoch of the member holding it, assigned or pending revocation
        self.partition_epochs: dict[tuple[UUID, int], int] = {}
        #: The subscribed topics as last resolved, and the catalog version they were resolved at.
        self.subscription: dict[str, TopicShape] = {}
        self.resolved_version = -1
        self.offsets = offsets if offsets is not None else CommittedOffsets()
        self.assignor_name = ""
        self._state = GroupState.EMPTY
        self.state_since_ms = now_ms()
        self.deleted = False

    def __repr__(self) -> str:
        return (f"<ConsumerGroup {self.group_id!r} {self.state.value} epoch {self.group_epoch} "
                f"members {len(self.members)}>")

    @property
    def state(self) -> GroupState:
        return GroupState.DEAD if self.deleted else self._state

    def refresh_state(self) -> GroupState:
        if not self.members:
            state = GroupState.EMPTY
        elif self.group_epoch > self.assignment_epoch:
            state = GroupState.ASSIGNING
        elif all(m.reconciled_to(self.assignment_epoch) for m in self.members.values()):
            state = GroupState.STABLE
        else:
            state = GroupState.RECONCILING
        if state is not self._state:
            self._state = state
            self.state_since_ms = now_ms()
        return state

    # ---- members -----------------------------------------------------------------------------
    def put(self, member: ConsumerMember) -> None:
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id

    def drop(self, member_id: str) -> ConsumerMember | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        if member.instance_id is not None and self.static_members.get(member.instance_id) == member_id:
            del self.static_members[member.instance_id]
        self.target.pop(member_id, None)
        self.release(member)
        return member

    def static_member(self, instance_id: str) -> ConsumerMember | None:
        member_id = self.static_members.get(instance_id)
        return None if member_id is None else self.members.get(member_id)

    def release(self, member: ConsumerMember) -> None:
        for tp in member.holdings():
            self.partition_epochs.pop(tp, None)

    def hold(self, member: ConsumerMember) -> None:
        for tp in member.holdings():
            self.partition_epochs[tp] = member.epoch

    def subscribed_topics(self) -> set[str]:
        """Topics the members subscribe to (names and regex matches, as last resolved)."""
        return set(self.subscription)

    def topic_names(self, topic_ids: Iterable[UUID]) -> dict[UUID, str]:
        by_id = {shape.topic_id: name for name, shape in self.subscription.items()}
        return {t: by_id[t] for t in topic_ids if t in by_id}


def decode_subscription(metadata: bytes) -> ConsumerProtocolSubscription:
    """A classic member's embedded subscription; ValueError when it cannot be read."""
    try:
        return data.decode(ConsumerProtocolSubscription, metadata)
    except ProtocolError as exc:
        raise ValueError(f"the embedded consumer protocol cannot be read: {exc}") from None


def encode_assignment(assigned: TopicPartitions, names: dict[UUID, str], version: int) -> bytes:
    named = sorted((names[t], sorted(ps)) for t, ps in assigned.items() if t in names and ps)
    by_topic = [AssignedTopicPartition(name, partitions) for name, partitions in named]
    return data.encode(ConsumerProtocolAssignment(by_topic), min(max(version, 0), 3))


def from_classic(classic: Group, shape: Callable[[str], TopicShape | None]) -> ConsumerGroup:
    """A classic group of consumers taken over by the consumer protocol (KIP-848's online upgrade):
    its generation becomes the group epoch, each member keeps its assignment as its target and
    goes on speaking the classic protocol until it rejoins with the new one. ValueError when a
    member's embedded protocol cannot be read."""
    group = ConsumerGroup(classic.group_id, classic.offsets)
    group.group_epoch = group.assignment_epoch = classic.generation
    stable = classic.state is GroupState.STABLE
    for old in classic.members.values():
        metadata = old.metadata_for(classic.protocol_name) if classic.protocol_name else b""
        subscription = decode_subscription(metadata or (old.protocols[0][1] if old.protocols else b""))
        assigned: TopicPartitions = {}
        if stable and old.assignment:
            try:
                decoded = data.decode(ConsumerProtocolAssignment, old.assignment)
            except ProtocolError as exc:
                raise ValueError(f"member {old.member_id}'s assignment cannot be read: {exc}") from None
            for part in decoded.assigned_partitions:
                found = shape(part.topic)
                if found is not None:
                    held = {p for p in part.partitions if p < found.partitions}
                    assigned.setdefault(found.topic_id, set()).update(held)
        member = ConsumerMember(
            old.member_id, old.instance_id, subscription.rack_id, old.client_id, old.client_host,
            old.rebalance_timeout_ms, tuple(subscription.topics), epoch=classic.generation,
            previous_epoch=classic.generation - 1, assigned=assigned,
            assigned_since={(t, p): classic.generation for t, ps in assigned.items() for p in ps},
            last_seen=old.last_heartbeat, classic=ClassicSettings(old.session_timeout_ms, list(old.protocols)),
        )
        group.put(member)
        group.target[member.member_id] = {t: set(ps) for t, ps in assigned.items()}
        group.hold(member)
    group.refresh_state()
    return group


def to_classic(group: ConsumerGroup) -> Group:
    """A consumer group whose members all speak the classic protocol again, handed back to the
    classic coordinator (KIP-848's online downgrade): the epoch becomes the generation and each
    member's assignment is kept, encoded as its protocol expects."""
    names = {shape.topic_id: name for name, shape in group.subscription.items()}
    classic = Group(group.group_id)
    classic.offsets = group.offsets
    classic.generation = group.group_epoch
    for m in group.members.values():
        assert m.classic is not None
        classic.add(Member(m.member_id, m.instance_id, m.client_id, m.client_host, m.classic.session_timeout_ms,
                           m.rebalance_timeout_ms, CONSUMER_PROTOCOL, list(m.classic.protocols),
                           assignment=encode_assignment(m.assigned, names, m.classic.subscription_version()),
                           last_heartbeat=m.last_seen))
    classic.protocol_name = classic.select_protocol() if classic.members else None
    classic.state = GroupState.STABLE if classic.members else GroupState.EMPTY
    return classic
