"""Consumer-group membership: join, sync, heartbeat, leave (the classic protocol).

`GroupMember.run()` is one supervised task per consumer. It finds the coordinator, joins (with
the MEMBER_ID_REQUIRED round trip), runs the assignor when it is the leader, syncs, and then
heartbeats until the coordinator asks for a rebalance. The consumer hears about partitions through
two callbacks: revoked (commit before giving them up) and assigned. With an eager protocol
(range, roundrobin) everything is revoked before each join; with cooperative-sticky only the
partitions that move, followed by one more rebalance to hand them over.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence

from kctl.protocol import data
from kctl.protocol.data import (
    AssignedTopicPartition,
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
    OwnedTopicPartition,
)
from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.messages.heartbeat import HeartbeatRequest
from kctl.protocol.messages.join_group import JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse
from kctl.protocol.messages.leave_group import LeaveGroupRequest, MemberIdentity
from kctl.protocol.messages.sync_group import SyncGroupRequest, SyncGroupRequestAssignment

from .assignors import COOPERATIVE, EAGER, Assignor, MemberSubscription
from .cluster import COORDINATOR_MOVED, Cluster
from .errors import ConnectionFailed, KafkaError
from .types import TopicPartition

log = logging.getLogger("kctl.client.group")

CONSUMER = "consumer"
SUBSCRIPTION_VERSION = 1  # carries owned partitions, which cooperative rebalancing needs
ASSIGNMENT_VERSION = 1
LEAVE_GROUP = 13
#: Errors after which this member cannot go on.
FATAL = frozenset({
    ErrorCode.FENCED_INSTANCE_ID, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ErrorCode.GROUP_AUTHORIZATION_FAILED,
    ErrorCode.INVALID_SESSION_TIMEOUT, ErrorCode.INVALID_GROUP_ID, ErrorCode.GROUP_MAX_SIZE_REACHED,
})


class MemberState(enum.Enum):
    UNJOINED = "unjoined"
    JOINING = "joining"
    SYNCING = "syncing"
    STABLE = "stable"
    CLOSED = "closed"


#: From each state, the states a member may move to.
TRANSITIONS: dict[MemberState, frozenset[MemberState]] = {
    MemberState.UNJOINED: frozenset({MemberState.JOINING, MemberState.CLOSED}),
    MemberState.JOINING: frozenset({MemberState.SYNCING, MemberState.UNJOINED, MemberState.CLOSED}),
    MemberState.SYNCING: frozenset({MemberState.STABLE, MemberState.UNJOINED, MemberState.CLOSED}),
    MemberState.STABLE: frozenset({MemberState.UNJOINED, MemberState.CLOSED}),
    MemberState.CLOSED: frozenset(),
}


class IllegalMemberTransition(RuntimeError):
    """A transition the table does not allow: a client bug."""


PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class GroupMember:
    def __init__(
        self,
        cluster: Cluster,
        group_id: str,
        *,
        assignors: Sequence[Assignor],
        topics: Callable[[], list[str]],
        on_revoked: PartitionsCallback,
        on_assigned: PartitionsCallback,
        instance_id: str | None = None,
        session_timeout_ms: int = 45_000,
        rebalance_timeout_ms: int = 300_000,
        heartbeat_interval_ms: int = 3_000,
    ) -> None:
        if not assignors:
            raise KafkaError("a group member needs at least one assignor")
        self.cluster = cluster
        self.group_id = group_id
        self.instance_id = instance_id
        self.assignors = list(assignors)
        self.protocol = COOPERATIVE if all(a.protocol == COOPERATIVE for a in assignors) else EAGER
        self.topics = topics
        self.on_revoked = on_revoked
        self.on_assigned = on_assigned
        self.session_timeout_ms = session_timeout_ms
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.heartbeat_interval_s = heartbeat_interval_ms / 1000
        self.state = MemberState.UNJOINED
        self.member_id = ""
        self.generation = -1
        self.protocol_name: str | None = None
        self.leader_id = ""
        self.owned: set[TopicPartition] = set()
        self.rebalances = 0
        self._rejoin = asyncio.Event()
        self._stable = asyncio.Event()
        self._metadata_snapshot: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<GroupMember {self.group_id} {self.member_id or '-'} gen {self.generation} {self.state.value}>"

    def _move(self, target: MemberState) -> None:
        if target is self.state:
            return
        if target not in TRANSITIONS[self.state]:
            raise IllegalMemberTransition(f"{self.group_id}: {self.state.value} -> {target.value}")
        self.state = target
        if target is MemberState.STABLE:
            self._stable.set()
        else:
            self._stable.clear()

    @property
    def is_leader(self) -> bool:
        return bool(self.member_id) and self.member_id == self.leader_id

    def request_rejoin(self, reason: str) -> None:
        if not self._rejoin.is_set():
            log.debug("group %s: rejoin requested: %s", self.group_id, reason)
            self._rejoin.set()

    async def wait_stable(self) -> None:
        await self._stable.wait()

    # ---- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = 0.1
        while self.state is not MemberState.CLOSED:
            try:
                await self._join_and_sync()
                backoff = 0.1
                await self._heartbeat_until_rejoin()
            except KafkaError as exc:
                if exc.code in FATAL:
                    self._move(MemberState.CLOSED)
                    raise
                self._handle_error(exc)
                self._move(MemberState.UNJOINED)
                log.info("group %s: %s; joining again", self.group_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _handle_error(self, exc: KafkaError) -> None:
        if exc.code is ErrorCode.UNKNOWN_MEMBER_ID:
            self.member_id, self.generation = "", -1
        elif exc.code is ErrorCode.ILLEGAL_GENERATION:
            self.generation = -1
        elif exc.code in COORDINATOR_MOVED or isinstance(exc, ConnectionFailed) or exc.code is None:
            self.cluster.forget_coordinator(self.group_id)

    async def _join_and_sync(self) -> None:
        self._rejoin.clear()
        if self.protocol == EAGER and self.owned:
            revoked, self.owned = self.owned, set()
            await self.on_revoked(revoked)
        self._move(MemberState.JOINING)
        node = await self.cluster.coordinator(self.group_id)
        topics = sorted(set(self.topics()))
        owned = sorted(self.owned) if self.protocol == COOPERATIVE else []
        metadata = data.encode(ConsumerProtocolSubscription(
            topics=topics, owned_partitions=_owned(owned), generation_id=self.generation), SUBSCRIPTION_VERSION)
        timeout = self.rebalance_timeout_ms / 1000 + 5
        while True:
            request = JoinGroupRequest(
                group_id=self.group_id, session_timeout_ms=self.session_timeout_ms,
                rebalance_timeout_ms=self.rebalance_timeout_ms, member_id=self.member_id,
                group_instance_id=self.instance_id, protocol_type=CONSUMER,
                protocols=[JoinGroupRequestProtocol(a.name, metadata) for a in self.assignors],
            )
            joined: JoinGroupResponse = await self.cluster.send(node, request, timeout=timeout)
            if joined.error_code == ErrorCode.MEMBER_ID_REQUIRED.code:
                self.member_id = joined.member_id
                continue
            if joined.error_code:
                raise KafkaError.from_code(joined.error_code, f"joining group {self.group_id!r}")
            break
        self.member_id, self.generation = joined.member_id, joined.generation_id
        self.protocol_name, self.leader_id = joined.protocol_name, joined.leader
        self._move(MemberState.SYNCING)
        plan: dict[str, bytes] = {}
        if self.is_leader and not joined.skip_assignment:
            plan = await self._lead(joined)
        synced = await self.cluster.send(node, SyncGroupRequest(
            group_id=self.group_id, generation_id=self.generation, member_id=self.member_id,
            group_instance_id=self.instance_id, protocol_type=CONSUMER, protocol_name=self.protocol_name,
            assignments=[SyncGroupRequestAssignment(m, a) for m, a in plan.items()],
        ), timeout=timeout)
        if synced.error_code:
            raise KafkaError.from_code(synced.error_code, f"syncing group {self.group_id!r}")
        assigned = _decode_assignment(bytes(synced.assignment))
        revoked = self.owned - assigned
        added = assigned - self.owned
        if revoked:
            await self.on_revoked(revoked)
        self.owned = assigned
        self.rebalances += 1
        log.info("group %s: generation %d, %d partition(s) assigned%s", self.group_id, self.generation,
                 len(assigned), " (leader)" if self.is_leader else "")
        self._move(MemberState.STABLE)
        await self.on_assigned(added)
        if revoked and self.protocol == COOPERATIVE:
            self.request_rejoin("partitions were revoked: rejoin so they can be handed over")

    async def _lead(self, joined: JoinGroupResponse) -> dict[str, bytes]:
        members: list[MemberSubscription] = []
        for m in joined.members:
            try:
                subscription = data.decode(ConsumerProtocolSubscription, bytes(m.metadata))
            except ProtocolError as exc:
                raise KafkaError(f"member {m.member_id} sent a subscription we cannot read: {exc}") from None
            members.append(MemberSubscription(
                m.member_id, list(subscription.topics),
                [TopicPartition(o.topic, p) for o in subscription.owned_partitions for p in o.partitions],
                m.group_instance_id,
            ))
        topics = sorted({t for m in members for t in m.topics})
        await self.cluster.refresh_metadata(topics)
        counts = {t: len(self.cluster.topics[t].partitions) for t in topics if t in self.cluster.topics}
        self._metadata_snapshot = counts
        chosen = next(a for a in self.assignors if a.name == self.protocol_name)
        result = chosen.assign(members, counts)
        return {member_id: _encode_assignment(tps) for member_id, tps in result.items()}

    async def _heartbeat_until_rejoin(self) -> None:
        node = await self.cluster.coordinator(self.group_id)
        checks = 0
        while not self._rejoin.is_set():
            try:
                await asyncio.wait_for(self._rejoin.wait(), self.heartbeat_interval_s)
                break
            except TimeoutError:
                pass
            response = await self.cluster.send(node, HeartbeatRequest(
                self.group_id, self.generation, self.member_id, self.instance_id),
                timeout=self.session_timeout_ms / 1000)
            if response.error_code == ErrorCode.REBALANCE_IN_PROGRESS.code:
                log.info("group %s: the group is rebalancing", self.group_id)
                break
            if response.error_code:
                raise KafkaError.from_code(response.error_code, f"heartbeat to group {self.group_id!r}")
            checks += 1
            if self.is_leader and checks % 10 == 0 and await self._metadata_changed():
                log.info("group %s: subscribed topics changed; rebalancing", self.group_id)
                break
        self._move(MemberState.UNJOINED)

    async def _metadata_changed(self) -> bool:
        """As leader: did a subscribed topic gain partitions, appear or vanish since the assignment?"""
        topics = sorted(self._metadata_snapshot)
        try:
            await self.cluster.refresh_metadata(topics)
        except KafkaError:
            return False
        now = {t: len(self.cluster.topics[t].partitions) for t in topics if t in self.cluster.topics}
        return now != self._metadata_snapshot

    async def leave(self) -> None:
        """Give up the partitions and leave (static members stay until their session times out)."""
        if self.owned:
            revoked, self.owned = self.owned, set()
            await self.on_revoked(revoked)
        if self.member_id and self.instance_id is None:
            try:
                node = await self.cluster.coordinator(self.group_id)
                connection = await self.cluster.connection(node)
                if connection.supports(LEAVE_GROUP, 3):
                    request = LeaveGroupRequest(self.group_id, members=[MemberIdentity(self.member_id, None)])
                else:
                    request = LeaveGroupRequest(self.group_id, member_id=self.member_id)
                await connection.request(request, timeout=5)
            except KafkaError as exc:
                log.info("group %s: leaving failed (%s); the session timeout will remove us", self.group_id, exc)
        self.member_id, self.generation = "", -1
        self._move(MemberState.CLOSED)


def _owned(partitions: list[TopicPartition]) -> list[OwnedTopicPartition]:
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return [OwnedTopicPartition(t, ps) for t, ps in by_topic.items()]


def _encode_assignment(partitions: list[TopicPartition]) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for tp in sorted(partitions):
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    assignment = ConsumerProtocolAssignment([AssignedTopicPartition(t, ps) for t, ps in by_topic.items()])
    return data.encode(assignment, ASSIGNMENT_VERSION)


def _decode_assignment(raw: bytes) -> set[TopicPartition]:
    if not raw:
        return set()
    try:
        decoded = data.decode(ConsumerProtocolAssignment, raw)
    except ProtocolError as exc:
        raise KafkaError(f"the group leader sent an assignment we cannot read: {exc}") from None
    return {TopicPartition(t.topic, p) for t in decoded.assigned_partitions for p in t.partitions}
