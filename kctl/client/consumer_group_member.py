"""Membership of a consumer group on the consumer protocol (KIP-848): ConsumerGroupHeartbeat.

The coordinator assigns; the member only heartbeats. Its first heartbeat (epoch 0) says what it
subscribes to; each answer may carry its new assignment (topic ids), and the member gives up
what it no longer has (committing first, through `on_revoked`), takes what is new, and tells the
coordinator what it owns on its next heartbeat, sent at once. A member the coordinator fenced
(UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH) loses its partitions and joins again with epoch 0.

Same face as the classic `GroupMember`, so the consumer uses either: `run()`, `leave()`,
`request_rejoin()`, `member_id`, `generation` (here the member epoch, as commits carry it) and
`owned`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import Callable
from uuid import UUID

from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.consumer_group_heartbeat import (
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
    TopicPartitions,
)

from .cluster import COORDINATOR_MOVED, Cluster
from .errors import ConnectionFailed, KafkaError
from .group import PartitionsCallback
from .types import TopicPartition

log = logging.getLogger("kctl.client.group")

CONSUMER_GROUP_HEARTBEAT = 68
LEAVE_EPOCH = -1
LEAVE_STATIC_EPOCH = -2
#: Errors after which the member cannot go on (Kafka's consumer gives up on these too).
FATAL = frozenset({
    ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.INVALID_REQUEST,
    ErrorCode.UNSUPPORTED_ASSIGNOR, ErrorCode.GROUP_MAX_SIZE_REACHED, ErrorCode.UNRELEASED_INSTANCE_ID,
    ErrorCode.FENCED_INSTANCE_ID, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.GROUP_ID_NOT_FOUND,
    ErrorCode.INVALID_REGULAR_EXPRESSION,
})
FENCED = frozenset({ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_MEMBER_EPOCH})


def new_member_id() -> str:
    """A member id as Kafka's clients make them: a random UUID in URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class ConsumerProtocolMember:
    def __init__(
        self,
        cluster: Cluster,
        group_id: str,
        *,
        topics: Callable[[], list[str]],
        on_revoked: PartitionsCallback,
        on_assigned: PartitionsCallback,
        instance_id: str | None = None,
        rebalance_timeout_ms: int = 300_000,
        server_assignor: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.group_id = group_id
        self.instance_id = instance_id
        self.topics = topics
        self.on_revoked = on_revoked
        self.on_assigned = on_assigned
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.server_assignor = server_assignor
        self.member_id = new_member_id()
        self.generation = 0  # the member epoch
        self.owned: set[TopicPartition] = set()
        self.rebalances = 0
        self._interval_s = 1.0
        self._sent_topics: list[str] | None = None
        self._sent_owned: set[TopicPartition] | None = None
        self._wake = asyncio.Event()
        self._stable = asyncio.Event()
        self._closed = False

    def __repr__(self) -> str:
        return f"<ConsumerProtocolMember {self.group_id} {self.member_id} epoch {self.generation}>"

    def request_rejoin(self, reason: str) -> None:
        """Heartbeat now (a changed subscription goes with it)."""
        log.debug("group %s: heartbeat now: %s", self.group_id, reason)
        self._wake.set()

    async def wait_stable(self) -> None:
        await self._stable.wait()

    # ---- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = 0.1
        while not self._closed:
            try:
                await self._beat()
                backoff = 0.1
            except KafkaError as exc:
                if exc.code in FATAL:
                    raise
                if exc.code in FENCED:
                    await self._fenced(exc)
                elif exc.code in COORDINATOR_MOVED or isinstance(exc, ConnectionFailed) or exc.code is None:
                    self.cluster.forget_coordinator(self.group_id)
                log.info("group %s: %s; heartbeating again", self.group_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            self._wake.clear()
            if self._sent_owned != self.owned:
                continue  # tell the coordinator what we own now, at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)

    async def _fenced(self, exc: KafkaError) -> None:
        log.info("group %s: member %s fenced (%s); its partitions are lost", self.group_id, self.member_id,
                 exc.code.name if exc.code else exc)
        lost, self.owned = self.owned, set()
        self._stable.clear()
        if lost:
            await self.on_revoked(lost)
        self.generation, self._sent_topics, self._sent_owned = 0, None, None

    def _request(self, epoch: int) -> ConsumerGroupHeartbeatRequest:
        joining = epoch == 0
        topics = sorted(set(self.topics()))
        request = ConsumerGroupHeartbeatRequest(
            group_id=self.group_id, member_id=self.member_id, member_epoch=epoch, instance_id=self.instance_id,
            rebalance_timeout_ms=self.rebalance_timeout_ms if joining else -1,
            subscribed_topic_names=topics if joining or topics != self._sent_topics else None,
            server_assignor=self.server_assignor if joining else None,
        )
        if joining:
            request.topic_partitions = []
        elif self._sent_owned != self.owned:
            request.topic_partitions = self._by_id(self.owned)
        return request

    def _by_id(self, partitions: set[TopicPartition]) -> list[TopicPartitions]:
        by_topic: dict[UUID, list[int]] = {}
        for tp in sorted(partitions):
            info = self.cluster.topics.get(tp.topic)
            if info is not None and info.topic_id is not None:
                by_topic.setdefault(info.topic_id, []).append(tp.partition)
        return [TopicPartitions(t, ps) for t, ps in by_topic.items()]

    async def _beat(self) -> None:
        node = await self.cluster.coordinator(self.group_id)
        request = self._request(self.generation)
        response: ConsumerGroupHeartbeatResponse = await self.cluster.send(node, request, timeout=30)
        if response.error_code:
            raise KafkaError.from_code(response.error_code, f"heartbeat to group {self.group_id!r}"
                                       + (f": {response.error_message}" if response.error_message else ""))
        if request.subscribed_topic_names is not None:
            self._sent_topics = request.subscribed_topic_names
        if request.topic_partitions is not None:
            self._sent_owned = {tp for tp in self.owned}
        if response.member_id:
            self.member_id = response.member_id
        self.generation = response.member_epoch
        self._interval_s = max(response.heartbeat_interval_ms, 100) / 1000
        if response.assignment is not None:
            await self._reconcile(response.assignment.topic_partitions)
        elif self._sent_owned == self.owned:
            self._stable.set()

    async def _reconcile(self, assigned: list[TopicPartitions]) -> None:
        names = await self._names([tp.topic_id for tp in assigned])
        target = {TopicPartition(names[tp.topic_id], p) for tp in assigned if tp.topic_id in names
                  for p in tp.partitions}
        revoked, added = self.owned - target, target - self.owned
        if revoked:
            await self.on_revoked(revoked)
        self.owned = target
        if added or revoked:
            self.rebalances += 1
            log.info("group %s: epoch %d, %d partition(s) assigned", self.group_id, self.generation, len(target))
        await self.on_assigned(added)
        if self._sent_owned == self.owned:
            self._stable.set()

    async def _names(self, topic_ids: list[UUID]) -> dict[UUID, str]:
        """Topic names of the assignment's ids (metadata is refreshed when one is not known yet)."""
        def known() -> dict[UUID, str]:
            return {info.topic_id: name for name, info in self.cluster.topics.items() if info.topic_id is not None}

        names = known()
        if any(t not in names for t in topic_ids):
            await self.cluster.refresh_metadata(None)
            names = known()
        return names

    async def leave(self) -> None:
        """Give up the partitions and leave; a static member leaves for now (epoch -2): its
        partitions wait for it for a session."""
        self._closed = True
        if self.owned:
            revoked, self.owned = self.owned, set()
            await self.on_revoked(revoked)
        if self.generation > 0:
            epoch = LEAVE_EPOCH if self.instance_id is None else LEAVE_STATIC_EPOCH
            try:
                node = await self.cluster.coordinator(self.group_id)
                await self.cluster.send(node, ConsumerGroupHeartbeatRequest(
                    group_id=self.group_id, member_id=self.member_id, member_epoch=epoch,
                    instance_id=self.instance_id), timeout=5)
            except KafkaError as exc:
                log.info("group %s: leaving failed (%s); the session timeout will remove us", self.group_id, exc)
        self.generation = -1
