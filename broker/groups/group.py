"""A classic group and its members, as the coordinator keeps them in memory."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kctl.protocol import data
from kctl.protocol.clock import now_ms
from kctl.protocol.data import ConsumerProtocolSubscription, GroupMetadataValue, MemberMetadata
from kctl.protocol.errors import ProtocolError

from .offsets_topic import CommittedOffset
from .state import INITIAL_DELAY_MOVES, DelayHappening, GroupState, InitialDelay, check_transition

log = logging.getLogger("broker.groups")

CONSUMER_PROTOCOL = "consumer"


@dataclass(slots=True)
class JoinResult:
    error: int
    member_id: str
    generation: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    #: (member id, group instance id, metadata) for the leader; empty for everyone else.
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    skip_assignment: bool = False


@dataclass(slots=True)
class SyncResult:
    error: int
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(slots=True)
class MemberSettings:
    """What a member says of itself when it joins: who it is, its timeouts, its protocols."""

    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]


@dataclass(eq=False, slots=True)
class Member(MemberSettings):
    assignment: bytes = b""
    join_ticket: int | None = None  # a JoinGroup parked until the join phase ends
    sync_ticket: int | None = None  # a SyncGroup parked until the leader's arrives
    last_heartbeat: float = 0.0  # monotonic seconds
    session_armed: bool = False
    is_new: bool = False
    joined_at: float = 0.0
    serial: int = 0  # names the member's session timer: a static member's id can change

    @property
    def awaiting_join(self) -> bool:
        return self.join_ticket is not None

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_ticket is not None

    def metadata_for(self, protocol: str | None) -> bytes:
        return next((meta for name, meta in self.protocols if name == protocol), b"")

    def same_protocols(self, protocols: list[tuple[str, bytes]]) -> bool:
        return self.protocols == protocols


class CommittedOffsets(dict[tuple[str, int], CommittedOffset]):
    """A group's committed offsets by (topic, partition), keeping `answers`: the group's part of
    an OffsetFetch response, encoded once per response version and dropped when an offset an
    answer shows changes. Lag tools ask every group for every offset again and again, while
    most groups have not moved since the last look; a commit that repeats the same offsets (an
    idle consumer's auto-commit) keeps the answers."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.answers: dict[int, bytes] = {}

    def _shown_change(self, key: tuple[str, int], value: CommittedOffset) -> bool:
        old = self.get(key)
        return (old is None or old.offset != value.offset or old.leader_epoch != value.leader_epoch
                or old.metadata != value.metadata)

    def __setitem__(self, key: tuple[str, int], value: CommittedOffset) -> None:
        if self.answers and self._shown_change(key, value):
            self.answers.clear()
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = dict(*args, **kwargs)
        if self.answers and any(self._shown_change(k, v) for k, v in changes.items()):
            self.answers.clear()
        super().update(changes)

    def __delitem__(self, key: tuple[str, int]) -> None:
        self.answers.clear()
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self.answers.clear()
        return super().pop(*args)

    def popitem(self) -> tuple[tuple[str, int], CommittedOffset]:
        self.answers.clear()
        return super().popitem()

    def setdefault(self, key: tuple[str, int], default: CommittedOffset) -> CommittedOffset:
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        self.answers.clear()
        super().clear()

    def __ior__(self, other: Any) -> CommittedOffsets:  # type: ignore[override,misc]
        self.update(other)
        return self

class Group:
    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.state = GroupState.EMPTY
        self.state_since_ms = now_ms()
        self.generation = 0
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.leader_id: str | None = None
        self.members: dict[str, Member] = {}
        self.static_members: dict[str, str] = {}  # group.instance.id -> member id
        self.pending_members: set[str] = set()  # ids handed out with MEMBER_ID_REQUIRED
        self.pending_sync: set[str] = set()
        self.offsets = CommittedOffsets()
        self.initial_delay = InitialDelay.OFF  # moved by `membership.INITIAL_DELAY_MOVES`
        self.initial_delay_remaining_ms = 0
        self.rebalance_reason = ""  # why the next (or current) rebalance, for the log

    def __repr__(self) -> str:
        return f"<Group {self.group_id!r} {self.state.value} gen {self.generation} members {len(self.members)}>"

    # ---- state -------------------------------------------------------------------------------
    def move_initial_delay(self, happening: DelayHappening) -> None:
        self.initial_delay = INITIAL_DELAY_MOVES.get((self.initial_delay, happening), self.initial_delay)

    def transition(self, target: GroupState) -> None:
        check_transition(self.group_id, self.state, target)
        log.debug("group %s: %s -> %s", self.group_id, self.state.value, target.value)
        self.state = target
        self.state_since_ms = now_ms()

    # ---- membership --------------------------------------------------------------------------
    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        self.pending_sync.discard(member_id)
        if member.instance_id is not None and self.static_members.get(member.instance_id) == member_id:
            del self.static_members[member.instance_id]
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def replace_static_member(self, instance_id: str, old_id: str, new_id: str) -> Member:
        member = self.members.pop(old_id)
        member.member_id = new_id
        self.members[new_id] = member
        self.static_members[instance_id] = new_id
        if self.leader_id == old_id:
            self.leader_id = new_id
        if old_id in self.pending_sync:
            self.pending_sync.discard(old_id)
            self.pending_sync.add(new_id)
        return member

    @property
    def all_joined(self) -> bool:
        return not self.pending_members and all(m.awaiting_join for m in self.members.values())

    @property
    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # ---- protocols -----------------------------------------------------------------------------
    def candidate_protocols(self) -> set[str]:
        members = list(self.members.values())
        if not members:
            return set()
        common = {name for name, _ in members[0].protocols}
        for member in members[1:]:
            common &= {name for name, _ in member.protocols}
        return common

    def supports(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        if not self.members:
            return bool(protocol_type) and bool(protocols)
        return protocol_type == self.protocol_type and any(n in self.candidate_protocols() for n, _ in protocols)

    def select_protocol(self) -> str:
        """Each member votes for its most preferred protocol that every member supports."""
        candidates = self.candidate_protocols()
        if not candidates:
            raise RuntimeError(f"group {self.group_id!r} has no protocol all members support")
        votes: Counter[str] = Counter()
        order: list[str] = []
        for member in self.members.values():
            choice = next(name for name, _ in member.protocols if name in candidates)
            votes[choice] += 1
            if choice not in order:
                order.append(choice)
        return max(order, key=lambda name: votes[name])  # ties go to the earliest choice

    def subscribed_topics(self) -> set[str] | None:
        """Topics the members subscribe to, or None when that cannot be known."""
        if self.protocol_type != CONSUMER_PROTOCOL or self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            try:
                subscription = data.decode(ConsumerProtocolSubscription, member.metadata_for(self.protocol_name))
            except ProtocolError:
                return None
            topics.update(subscription.topics)
        return topics

    # ---- persistence --------------------------------------------------------------------------
    def metadata_value(self) -> GroupMetadataValue:
        return GroupMetadataValue(
            protocol_type=self.protocol_type or "",
            generation=self.generation,
            protocol=self.protocol_name,
            leader=self.leader_id,
            current_state_timestamp=self.state_since_ms,
            members=[
                MemberMetadata(
                    member_id=m.member_id,
                    group_instance_id=m.instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    rebalance_timeout=m.rebalance_timeout_ms,
                    session_timeout=m.session_timeout_ms,
                    subscription=m.metadata_for(self.protocol_name),
                    assignment=m.assignment,
                )
                for m in self.members.values()
            ],
        )
