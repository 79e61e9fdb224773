"""The classic group coordinator: membership, rebalances, committed offsets, group admin.

The rules follow Kafka's classic coordinator. Members join (a dynamic member first gets an id with
MEMBER_ID_REQUIRED), the join phase ends when every known member has rejoined or the rebalance
timeout passes, the leader's SyncGroup hands out the assignment, and heartbeats keep members alive
for their session timeout. Static members (group.instance.id) keep their place across restarts.

Everything runs on the event loop; timers are loop callbacks that check the group is still in the
state they were armed for. State that must survive a restart is written to `__consumer_offsets`
before the client hears about it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import Record

from ..config import BrokerConfig
from ..storage.log import AppendError, PartitionLog
from ..storage.manager import LogManager
from .group import CONSUMER_PROTOCOL, CommittedOffsets, Group, JoinResult, Member, SyncResult, now_ms
from .offsets_topic import (
    TOPIC,
    CommittedOffset,
    LoadedGroup,
    encode_records,
    group_record,
    offset_record,
    partition_for,
    replay,
)
from .state import GroupState

log = logging.getLogger("broker.groups")

NONE = ErrorCode.NONE.code
UNKNOWN_MEMBER_ID = ErrorCode.UNKNOWN_MEMBER_ID.code
ILLEGAL_GENERATION = ErrorCode.ILLEGAL_GENERATION.code
REBALANCE_IN_PROGRESS = ErrorCode.REBALANCE_IN_PROGRESS.code
FENCED_INSTANCE_ID = ErrorCode.FENCED_INSTANCE_ID.code
COORDINATOR_NOT_AVAILABLE = ErrorCode.COORDINATOR_NOT_AVAILABLE.code
INVALID_GROUP_ID = ErrorCode.INVALID_GROUP_ID.code
GROUP_ID_NOT_FOUND = ErrorCode.GROUP_ID_NOT_FOUND.code

#: A member that joined but never finished its first rebalance is dropped after this long.
NEW_MEMBER_JOIN_TIMEOUT_S = 300.0

EMPTY, PREPARING, COMPLETING, STABLE, DEAD = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)


@dataclass(slots=True)
class JoinRequest:
    group_id: str
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    require_known_member_id: bool
    reason: str | None = None


@dataclass(slots=True)
class OffsetToCommit:
    topic: str
    partition: int
    offset: int
    leader_epoch: int
    metadata: str | None
    commit_timestamp: int  # -1: now


@dataclass(slots=True)
class GroupListing:
    group_id: str
    protocol_type: str
    state: GroupState


@dataclass(slots=True)
class GroupDescription:
    group_id: str
    state: GroupState
    protocol_type: str
    protocol_name: str
    #: (member id, instance id, client id, client host, metadata, assignment)
    members: list[tuple[str, str | None, str, str, bytes, bytes]]


class GroupCoordinator:
    def __init__(
        self,
        config: BrokerConfig,
        logs: LogManager,
        flush_soon: Callable[[PartitionLog], asyncio.Future[None]],
    ) -> None:
        self.logs = logs
        self.groups: dict[str, Group] = {}
        self._flush_soon = flush_soon
        self.initial_delay_ms: int = config["group.initial.rebalance.delay.ms"]
        self.min_session_ms: int = config["group.min.session.timeout.ms"]
        self.max_session_ms: int = config["group.max.session.timeout.ms"]
        self.max_group_size: int = config["group.max.size"]
        self.retention_ms: int = config["offsets.retention.minutes"] * 60_000
        self.metadata_max_bytes: int = config["offset.metadata.max.bytes"]
        self.offsets_partitions: int = config["offsets.topic.num.partitions"]
        self.offsets_segment_bytes: int = config["offsets.topic.segment.bytes"]
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    def load(self) -> int:
        """Rebuild every group from `__consumer_offsets`; returns how many records were read."""
        topic = self.logs.topics.get(TOPIC)
        if topic is None:
            return 0
        metadata: dict[str, Any] = {}
        offsets: dict[str, dict[tuple[str, int], CommittedOffset]] = {}
        count = 0
        for plog in topic.partitions:
            for item in replay(plog):
                count += 1
                if isinstance(item, LoadedGroup):
                    metadata[item.group] = item.value
                    if item.value is None:
                        offsets.pop(item.group, None)
                elif item.value is None:
                    offsets.get(item.group, {}).pop((item.topic, item.partition), None)
                else:
                    offsets.setdefault(item.group, {})[(item.topic, item.partition)] = item.value
        for group_id in sorted(set(metadata) | set(offsets)):
            value = metadata.get(group_id)
            group_offsets = offsets.get(group_id, {})
            if value is None and not group_offsets:
                continue
            group = Group(group_id)
            group.offsets = CommittedOffsets(group_offsets)
            if value is not None:
                group.generation = value.generation
                group.protocol_type = value.protocol_type or None
                group.protocol_name = value.protocol
                group.state_since_ms = value.current_state_timestamp if value.current_state_timestamp >= 0 else now_ms()
                for m in value.members:
                    member = Member(m.member_id, m.group_instance_id, m.client_id, m.client_host, m.session_timeout,
                                    m.rebalance_timeout, value.protocol_type,
                                    [(value.protocol or "", m.subscription)], assignment=m.assignment)
                    group.add(member)
                group.leader_id = value.leader if value.leader in group.members else next(iter(group.members), None)
                if group.members:
                    group.state = STABLE  # as Kafka loads it: members that are gone time out
            self.groups[group_id] = group
        return count

    def start(self) -> None:
        """Arm session timers for members loaded from the log (they get a full session to return)."""
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        for group in self.groups.values():
            for member in group.members.values():
                member.last_heartbeat = now
                self._arm_session(group, member)

    def stop(self) -> None:
        for group in self.groups.values():
            self._cancel_group_timers(group)
            for member in group.members.values():
                member.cancel_timer()
            for handle in group.pending_members.values():
                handle.cancel()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _call_later(self, delay_s: float, callback: Callable[..., None], *args: Any) -> asyncio.TimerHandle:
        def guarded() -> None:
            try:
                callback(*args)
            except Exception:
                log.exception("group timer %s failed", getattr(callback, "__name__", callback))

        return self.loop.call_later(max(delay_s, 0.0), guarded)

    # ---- the offsets topic -------------------------------------------------------------------
    def offsets_partition(self, group_id: str) -> PartitionLog:
        topic = self.logs.topics.get(TOPIC)
        if topic is None:
            topic = self.logs.create_topic(
                TOPIC,
                self.offsets_partitions,
                {"cleanup.policy": "compact", "segment.bytes": self.offsets_segment_bytes,
                 "compression.type": "producer"},
            )
        return topic.partitions[partition_for(group_id, len(topic.partitions))]

    def _write(self, group_id: str, records: list[Record]) -> asyncio.Future[None] | None:
        """Append to the group's partition now; returns what to await when acks must wait for fsync."""
        plog = self.offsets_partition(group_id)
        plog.append(encode_records(records, now_ms()), trusted=True)
        flush_messages = plog.config.flush_messages
        if flush_messages == 1:
            return self._flush_soon(plog)
        if plog.unflushed_messages >= flush_messages:
            self._flush_soon(plog)
        return None

    def _store_group(self, group: Group) -> None:
        try:
            self._write(group.group_id, [group_record(group.group_id, group.metadata_value())])
        except (AppendError, OSError) as exc:
            log.error("group %s: could not store its metadata: %s", group.group_id, exc)

    # ---- JoinGroup ---------------------------------------------------------------------------
    def join(self, req: JoinRequest) -> JoinResult | asyncio.Future[JoinResult]:
        def fail(error: ErrorCode) -> JoinResult:
            return JoinResult(error.code, req.member_id)

        if not req.group_id:
            return fail(ErrorCode.INVALID_GROUP_ID)
        if not self.min_session_ms <= req.session_timeout_ms <= self.max_session_ms:
            return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
        group = self.groups.get(req.group_id)
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
        if not req.member_id:
            if len(group.members) + len(group.pending_members) >= self.max_group_size:
                return fail(ErrorCode.GROUP_MAX_SIZE_REACHED)
            if req.instance_id is not None:
                return self._join_new_static(group, req)
            new_id = f"{req.client_id}-{uuid.uuid4()}"
            if req.require_known_member_id:
                # The client must come back with this id; until then it holds a place for a session.
                group.pending_members[new_id] = self._call_later(
                    req.session_timeout_ms / 1000, self._expire_pending, group, new_id
                )
                return JoinResult(ErrorCode.MEMBER_ID_REQUIRED.code, new_id)
            return self._add_member_and_rebalance(group, req, new_id)
        return self._join_known(group, req)

    def _join_known(self, group: Group, req: JoinRequest) -> JoinResult | asyncio.Future[JoinResult]:
        member_id = req.member_id
        pending = group.pending_members.pop(member_id, None)
        if pending is not None:
            pending.cancel()
            return self._add_member_and_rebalance(group, req, member_id)
        error = self._validate_member(group, member_id, req.instance_id)
        if error != NONE:
            return JoinResult(error, member_id)
        member = group.members[member_id]
        if group.state is PREPARING:
            return self._update_member_and_rebalance(group, member, req)
        if group.state is COMPLETING:
            if member.same_protocols(req.protocols):
                # It missed the JoinGroup response: send the same generation again.
                return self._generation_result(group, member_id, with_members=member_id == group.leader_id)
            return self._update_member_and_rebalance(group, member, req)
        if group.state is STABLE:
            if member_id == group.leader_id or not member.same_protocols(req.protocols):
                return self._update_member_and_rebalance(group, member, req)
            return self._generation_result(group, member_id, with_members=False)
        return JoinResult(UNKNOWN_MEMBER_ID, member_id)

    def _join_new_static(self, group: Group, req: JoinRequest) -> JoinResult | asyncio.Future[JoinResult]:
        assert req.instance_id is not None
        new_id = f"{req.instance_id}-{uuid.uuid4()}"
        old_id = group.static_members.get(req.instance_id)
        if old_id is None:
            return self._add_member_and_rebalance(group, req, new_id)
        # A known instance restarted: it takes over its old place, fencing the previous member id.
        member = group.members[old_id]
        member.complete_join(JoinResult(FENCED_INSTANCE_ID, old_id))
        member.complete_sync(SyncResult(FENCED_INSTANCE_ID))
        group.replace_static_member(req.instance_id, old_id, new_id)
        member.client_id, member.client_host = req.client_id, req.client_host
        member.session_timeout_ms, member.rebalance_timeout_ms = req.session_timeout_ms, req.rebalance_timeout_ms
        member.last_heartbeat = self.loop.time()
        log.info("group %s: static member %s rejoined as %s", group.group_id, req.instance_id, new_id)
        if group.state is STABLE:
            selected = group.protocol_name
            if member.metadata_for(selected) == dict(req.protocols).get(selected or "", None):
                member.protocols = req.protocols
                self._store_group(group)
                is_leader = group.leader_id == new_id
                result = self._generation_result(group, new_id, with_members=is_leader)
                result.skip_assignment = is_leader
                return result
        # Changed metadata, or a rebalance under way (in which the old id may already be in the
        # assignment the leader is about to send): rebalance with the new id.
        return self._update_member_and_rebalance(group, member, req)

    def _add_member_and_rebalance(self, group: Group, req: JoinRequest, member_id: str) -> asyncio.Future[JoinResult]:
        now = self.loop.time()
        member = Member(member_id, req.instance_id, req.client_id, req.client_host, req.session_timeout_ms,
                        req.rebalance_timeout_ms, req.protocol_type, list(req.protocols), is_new=True,
                        joined_at=now, last_heartbeat=now)
        future: asyncio.Future[JoinResult] = self.loop.create_future()
        member.join_future = future
        group.add(member)
        group.new_member_added = True
        self._arm_session(group, member)
        log.info("group %s: member %s (client %s, %s) joins", group.group_id, member_id, req.client_id,
                 req.client_host)
        self._rebalance_or_complete(group, f"member {member_id} joined")
        return future

    def _update_member_and_rebalance(
        self, group: Group, member: Member, req: JoinRequest
    ) -> asyncio.Future[JoinResult]:
        member.complete_join(JoinResult(REBALANCE_IN_PROGRESS, member.member_id))  # a superseded request
        member.protocols = list(req.protocols)
        member.rebalance_timeout_ms = req.rebalance_timeout_ms
        member.session_timeout_ms = req.session_timeout_ms
        member.last_heartbeat = self.loop.time()
        future: asyncio.Future[JoinResult] = self.loop.create_future()
        member.join_future = future
        reason = f"member {member.member_id} rejoined" + (f" ({req.reason})" if req.reason else "")
        self._rebalance_or_complete(group, reason)
        return future

    def _rebalance_or_complete(self, group: Group, reason: str) -> None:
        if group.state in (EMPTY, STABLE, COMPLETING):
            self._prepare_rebalance(group, reason)
        elif group.state is PREPARING:
            self._check_join(group)

    def _generation_result(self, group: Group, member_id: str, *, with_members: bool) -> JoinResult:
        members = (
            [(m.member_id, m.instance_id, m.metadata_for(group.protocol_name)) for m in group.members.values()]
            if with_members else []
        )
        return JoinResult(NONE, member_id, group.generation, group.protocol_type, group.protocol_name,
                          group.leader_id or "", members)

    # ---- rebalancing -------------------------------------------------------------------------
    def _prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.state is COMPLETING:
            for member in group.members.values():
                member.assignment = b""
                member.complete_sync(SyncResult(REBALANCE_IN_PROGRESS))
        self._cancel_group_timers(group)
        group.pending_sync.clear()
        initial = group.state is EMPTY
        group.transition(PREPARING)
        timeout_ms = group.rebalance_timeout_ms
        log.info("group %s: rebalancing (generation %d): %s", group.group_id, group.generation, reason)
        if initial:
            # Wait a moment for the other members of a group that is starting up, so it does
            # not rebalance once per arriving member.
            delay = min(self.initial_delay_ms, timeout_ms)
            group.in_initial_delay = True
            group.initial_delay_remaining_ms = max(timeout_ms - self.initial_delay_ms, 0)
            group.new_member_added = False
            group.join_timer = self._call_later(delay / 1000, self._initial_delay_over, group)
        else:
            group.in_initial_delay = False
            group.join_timer = self._call_later(timeout_ms / 1000, self._complete_join, group)
            self._check_join(group)

    def _initial_delay_over(self, group: Group) -> None:
        group.join_timer = None
        if group.state is not PREPARING:
            return
        remaining = group.initial_delay_remaining_ms
        if group.new_member_added and remaining > 0:
            group.new_member_added = False
            delay = min(self.initial_delay_ms, remaining)
            group.initial_delay_remaining_ms = max(remaining - self.initial_delay_ms, 0)
            group.join_timer = self._call_later(delay / 1000, self._initial_delay_over, group)
            return
        group.in_initial_delay = False
        self._complete_join(group)

    def _check_join(self, group: Group) -> None:
        """End the join phase early once every member is back (not during the initial delay)."""
        if group.state is PREPARING and not group.in_initial_delay and group.all_joined:
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        if group.state is not PREPARING:
            return
        self._cancel_group_timers(group)
        for member in list(group.members.values()):
            if not member.awaiting_join and member.instance_id is None:
                log.info("group %s: member %s did not rejoin in time and is removed", group.group_id,
                         member.member_id)
                group.remove(member.member_id)
        joined = [m for m in group.members.values() if m.awaiting_join]
        if group.members and not joined:
            # Only static members that have not come back yet: give them another round.
            group.join_timer = self._call_later(group.rebalance_timeout_ms / 1000, self._complete_join, group)
            return
        if group.leader_id is None or group.leader_id not in {m.member_id for m in joined}:
            group.leader_id = joined[0].member_id if joined else None
        group.generation += 1
        if not group.members:
            group.protocol_name = None
            group.transition(EMPTY)
            log.info("group %s: now empty (generation %d)", group.group_id, group.generation)
            self._store_group(group)
            return
        group.protocol_name = group.select_protocol()
        group.transition(COMPLETING)
        group.pending_sync = set(group.members)
        now = self.loop.time()
        for member in group.members.values():
            if member.awaiting_join:
                member.complete_join(
                    self._generation_result(group, member.member_id, with_members=member.member_id == group.leader_id)
                )
            member.is_new = False
            member.last_heartbeat = now
        log.info("group %s: generation %d with %d member(s), protocol %s, leader %s", group.group_id,
                 group.generation, len(group.members), group.protocol_name, group.leader_id)
        group.sync_timer = self._call_later(group.rebalance_timeout_ms / 1000, self._sync_expired, group,
                                            group.generation)

    def _sync_expired(self, group: Group, generation: int) -> None:
        group.sync_timer = None
        if group.generation != generation or group.state not in (COMPLETING, STABLE) or not group.pending_sync:
            return
        for member_id in sorted(group.pending_sync):
            log.info("group %s: member %s never sent SyncGroup and is removed", group.group_id, member_id)
            self._remove_member(group, member_id)
        self._after_removal(group, "members did not sync in time")

    def _cancel_group_timers(self, group: Group) -> None:
        for name in ("join_timer", "sync_timer"):
            handle = getattr(group, name)
            if handle is not None:
                handle.cancel()
                setattr(group, name, None)

    # ---- members leaving -----------------------------------------------------------------------
    def _remove_member(self, group: Group, member_id: str) -> None:
        member = group.remove(member_id)
        if member is not None:
            member.complete_join(JoinResult(UNKNOWN_MEMBER_ID, member_id))
            member.complete_sync(SyncResult(UNKNOWN_MEMBER_ID))

    def _after_removal(self, group: Group, reason: str) -> None:
        if group.state in (STABLE, COMPLETING):
            self._prepare_rebalance(group, reason)
        elif group.state is PREPARING:
            self._check_join(group)

    def _expire_pending(self, group: Group, member_id: str) -> None:
        if group.pending_members.pop(member_id, None) is not None:
            log.debug("group %s: pending member %s never rejoined", group.group_id, member_id)
            self._check_join(group)

    def _arm_session(self, group: Group, member: Member) -> None:
        if member.session_timer is None:
            deadline = member.last_heartbeat + member.session_timeout_ms / 1000
            member.session_timer = self._call_later(deadline - self.loop.time(), self._session_check, group, member)

    def _session_check(self, group: Group, member: Member) -> None:
        """Heartbeats only move `last_heartbeat`; the timer re-arms itself until it really expires."""
        member.session_timer = None
        if group.members.get(member.member_id) is not member:
            return
        now = self.loop.time()
        if member.awaiting_join and not (member.is_new and now - member.joined_at >= NEW_MEMBER_JOIN_TIMEOUT_S):
            member.last_heartbeat = now  # a parked JoinGroup is a sign of life
        elif member.awaiting_sync:
            member.last_heartbeat = now
        elif now < member.last_heartbeat + member.session_timeout_ms / 1000:
            pass
        else:
            log.info("group %s: member %s timed out (no heartbeat for %d ms)", group.group_id, member.member_id,
                     member.session_timeout_ms)
            self._remove_member(group, member.member_id)
            self._after_removal(group, f"member {member.member_id} timed out")
            return
        self._arm_session(group, member)

    def _validate_member(self, group: Group, member_id: str, instance_id: str | None) -> int:
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is None:
                return UNKNOWN_MEMBER_ID
            return NONE if known == member_id else FENCED_INSTANCE_ID
        return NONE if member_id in group.members else UNKNOWN_MEMBER_ID

    # ---- SyncGroup, Heartbeat, LeaveGroup -----------------------------------------------------
    def sync(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
    ) -> SyncResult | asyncio.Future[SyncResult]:
        if not group_id:
            return SyncResult(INVALID_GROUP_ID)
        group = self.groups.get(group_id)
        if group is None:
            return SyncResult(UNKNOWN_MEMBER_ID)
        if group.state is DEAD:
            return SyncResult(COORDINATOR_NOT_AVAILABLE)
        error = self._validate_member(group, member_id, instance_id)
        if error != NONE:
            return SyncResult(error)
        if generation != group.generation:
            return SyncResult(ILLEGAL_GENERATION)
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
            protocol_name is not None and protocol_name != group.protocol_name
        ):
            return SyncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL.code)
        member = group.members[member_id]
        member.last_heartbeat = self.loop.time()
        if group.state is PREPARING:
            return SyncResult(REBALANCE_IN_PROGRESS)
        if group.state is STABLE:
            self._synced(group, member_id)
            return SyncResult(NONE, member.assignment, group.protocol_type, group.protocol_name)
        if group.state is not COMPLETING:
            return SyncResult(UNKNOWN_MEMBER_ID)
        member.complete_sync(SyncResult(REBALANCE_IN_PROGRESS))  # a superseded request
        future: asyncio.Future[SyncResult] = self.loop.create_future()
        member.sync_future = future
        self._synced(group, member_id)
        if member_id == group.leader_id:
            for m in group.members.values():
                m.assignment = assignments.get(m.member_id, b"")
            group.transition(STABLE)
            self._store_group(group)
            log.info("group %s: stable at generation %d", group.group_id, group.generation)
            for m in group.members.values():
                m.complete_sync(SyncResult(NONE, m.assignment, group.protocol_type, group.protocol_name))
        return future

    def _synced(self, group: Group, member_id: str) -> None:
        group.pending_sync.discard(member_id)
        if not group.pending_sync and group.sync_timer is not None:
            group.sync_timer.cancel()
            group.sync_timer = None

    def heartbeat(self, group_id: str, generation: int, member_id: str, instance_id: str | None) -> int:
        if not group_id:
            return INVALID_GROUP_ID
        group = self.groups.get(group_id)
        if group is None:
            return UNKNOWN_MEMBER_ID
        if group.state is DEAD:
            return COORDINATOR_NOT_AVAILABLE
        error = self._validate_member(group, member_id, instance_id)
        if error != NONE:
            return error
        if generation != group.generation:
            return ILLEGAL_GENERATION
        group.members[member_id].last_heartbeat = self.loop.time()
        if group.state is PREPARING:
            return REBALANCE_IN_PROGRESS
        return NONE

    def leave(self, group_id: str, leaving: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
        """Remove members (member id, instance id); returns a group-level error and one per member."""
        if not group_id:
            return INVALID_GROUP_ID, [INVALID_GROUP_ID] * len(leaving)
        group = self.groups.get(group_id)
        if group is None:
            return UNKNOWN_MEMBER_ID, [UNKNOWN_MEMBER_ID] * len(leaving)
        if group.state is DEAD:
            return COORDINATOR_NOT_AVAILABLE, [COORDINATOR_NOT_AVAILABLE] * len(leaving)
        errors: list[int] = []
        removed = False
        for member_id, instance_id in leaving:
            if instance_id is not None:
                known = group.static_members.get(instance_id)
                if known is None:
                    errors.append(UNKNOWN_MEMBER_ID)
                    continue
                if member_id and member_id != known:
                    errors.append(FENCED_INSTANCE_ID)
                    continue
                member_id = known
            pending = group.pending_members.pop(member_id, None)
            if pending is not None:
                pending.cancel()
                errors.append(NONE)
                removed = True
                continue
            if member_id not in group.members:
                errors.append(UNKNOWN_MEMBER_ID)
                continue
            log.info("group %s: member %s leaves", group.group_id, member_id)
            self._remove_member(group, member_id)
            errors.append(NONE)
            removed = True
        if removed:
            self._after_removal(group, "members left")
        return NONE, errors

    # ---- offsets -----------------------------------------------------------------------------
    def commit(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        instance_id: str | None,
        retention_ms: int,
        offsets: list[OffsetToCommit],
    ) -> tuple[list[int], asyncio.Future[None] | None]:
        """Validate and write a commit; returns an error per offset and what to await, if anything."""
        if not group_id:
            return [INVALID_GROUP_ID] * len(offsets), None
        group = self.groups.get(group_id)
        if group is None:
            if generation >= 0:
                return [ILLEGAL_GENERATION] * len(offsets), None
            group = Group(group_id)  # a "simple" group: offsets only, no members
        else:
            error = self._validate_commit(group, generation, member_id, instance_id)
            if error != NONE:
                return [error] * len(offsets), None
        now = now_ms()
        errors: list[int] = []
        accepted: list[tuple[tuple[str, int], CommittedOffset]] = []
        for item in offsets:
            if self.logs.partition(item.topic, item.partition) is None:
                errors.append(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
                continue
            metadata = item.metadata or ""
            if len(metadata.encode()) > self.metadata_max_bytes:
                errors.append(ErrorCode.OFFSET_METADATA_TOO_LARGE.code)
                continue
            commit_ts = item.commit_timestamp if item.commit_timestamp >= 0 else now
            expire_ts = commit_ts + retention_ms if retention_ms >= 0 else -1
            accepted.append(((item.topic, item.partition), CommittedOffset(item.offset, item.leader_epoch, metadata,
                                                                           commit_ts, expire_ts)))
            errors.append(NONE)
        if not accepted:
            return errors, None
        records = [offset_record(group_id, t, p, value) for (t, p), value in accepted]
        try:
            wait = self._write(group_id, records)
        except AppendError as exc:
            code = (
                ErrorCode.INVALID_COMMIT_OFFSET_SIZE.code
                if exc.error in (ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE)
                else COORDINATOR_NOT_AVAILABLE
            )
            return [code if e == NONE else e for e in errors], None
        except OSError as exc:
            log.error("group %s: could not write offsets: %s", group_id, exc)
            return [COORDINATOR_NOT_AVAILABLE if e == NONE else e for e in errors], None
        self.groups.setdefault(group_id, group)
        group.offsets.update(accepted)
        return errors, wait

    def _validate_commit(self, group: Group, generation: int, member_id: str, instance_id: str | None) -> int:
        if group.state is DEAD:
            return COORDINATOR_NOT_AVAILABLE
        if generation < 0 and group.state is EMPTY:
            return NONE  # admin tools and assign()-style consumers commit outside any generation
        if generation >= 0 or member_id or instance_id is not None:
            error = self._validate_member(group, member_id, instance_id)
            if error != NONE:
                return error
            if generation != group.generation:
                return ILLEGAL_GENERATION
        elif group.state is not EMPTY:
            return UNKNOWN_MEMBER_ID  # commits without a generation only while nobody is a member
        if group.state is COMPLETING:
            return REBALANCE_IN_PROGRESS
        if member_id in group.members:
            group.members[member_id].last_heartbeat = self.loop.time()
        return NONE

    def committed(
        self, group_id: str, wanted: Iterable[tuple[str, int]] | None
    ) -> list[tuple[str, int, CommittedOffset | None]]:
        """Committed offsets of `wanted` partitions (None: every partition the group has)."""
        group = self.groups.get(group_id)
        offsets = group.offsets if group is not None and group.state is not DEAD else {}
        if wanted is None:
            return [(t, p, offsets[(t, p)]) for t, p in sorted(offsets)]
        return [(t, p, offsets.get((t, p))) for t, p in wanted]

    def encoded_answers(self, group_id: str) -> dict[int, bytes] | None:
        """Where the OffsetFetch handler keeps a live group's encoded answer for all its offsets,
        by version (None: no such group). Emptied whenever an offset it shows changes."""
        group = self.groups.get(group_id)
        return group.offsets.answers if group is not None and group.state is not DEAD else None

    # ---- group administration ------------------------------------------------------------------
    def list_groups(self, states: set[GroupState] | None) -> list[GroupListing]:
        return [
            GroupListing(g.group_id, g.protocol_type or "", g.state)
            for g in self.groups.values()
            if g.state is not DEAD and (states is None or g.state in states)
        ]

    def describe(self, group_id: str) -> GroupDescription | None:
        group = self.groups.get(group_id)
        if group is None or group.state is DEAD:
            return None
        stable = group.state is STABLE
        return GroupDescription(
            group.group_id,
            group.state,
            group.protocol_type or "",
            (group.protocol_name or "") if stable else "",
            [
                (m.member_id, m.instance_id, m.client_id, m.client_host,
                 m.metadata_for(group.protocol_name) if stable else b"", m.assignment if stable else b"")
                for m in group.members.values()
            ],
        )

    def delete_groups(self, group_ids: list[str]) -> list[int]:
        results: list[int] = []
        for group_id in group_ids:
            group = self.groups.get(group_id)
            if not group_id:
                results.append(INVALID_GROUP_ID)
            elif group is None or group.state is DEAD:
                results.append(GROUP_ID_NOT_FOUND)
            elif group.state is not EMPTY:
                results.append(ErrorCode.NON_EMPTY_GROUP.code)
            else:
                try:
                    self._remove_group(group)
                except (AppendError, OSError) as exc:
                    log.error("group %s: could not delete: %s", group_id, exc)
                    results.append(COORDINATOR_NOT_AVAILABLE)
                    continue
                log.info("group %s deleted", group_id)
                results.append(NONE)
        return results

    def _remove_group(self, group: Group) -> None:
        records = [offset_record(group.group_id, t, p, None) for t, p in sorted(group.offsets)]
        records.append(group_record(group.group_id, None))
        self._write(group.group_id, records)
        group.offsets.clear()
        self._cancel_group_timers(group)
        group.transition(DEAD)
        del self.groups[group.group_id]

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[int, list[int]]:
        """OffsetDelete: a group-level error, and one per partition."""
        group = self.groups.get(group_id)
        if group is None or group.state is DEAD:
            return GROUP_ID_NOT_FOUND, []
        subscribed: set[str] = set()
        if group.state is not EMPTY:
            topics = group.subscribed_topics()
            if group.protocol_type != CONSUMER_PROTOCOL or topics is None:
                return ErrorCode.NON_EMPTY_GROUP.code, []
            subscribed = topics
        errors = [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC.code if t in subscribed else NONE for t, _ in partitions]
        doomed = sorted({tp for tp, e in zip(partitions, errors, strict=True) if e == NONE and tp in group.offsets})
        if doomed:
            try:
                self._write(group_id, [offset_record(group_id, t, p, None) for t, p in doomed])
            except (AppendError, OSError) as exc:
                log.error("group %s: could not delete offsets: %s", group_id, exc)
                return COORDINATOR_NOT_AVAILABLE, []
            for tp in doomed:
                del group.offsets[tp]
        return NONE, errors

    # ---- offsets retention -----------------------------------------------------------------------
    def expire_offsets(self, now: int | None = None) -> int:
        """Drop offsets past retention, and empty groups left with none; returns offsets removed.

        As in Kafka: an empty consumer group's offsets expire `offsets.retention.minutes` after it
        became empty; a simple group's after their commit; a stable group's only for topics it no
        longer subscribes to; an explicit expire timestamp (OffsetCommit v1-v4) wins.
        """
        now = now_ms() if now is None else now
        removed = 0
        for group in list(self.groups.values()):
            if group.state is EMPTY:
                topics = None
                from_state = group.protocol_type is not None
            elif group.state is STABLE and (topics := group.subscribed_topics()) is not None:
                from_state = False
            else:
                continue
            expired = []
            for (topic, partition), value in group.offsets.items():
                if topics is not None and topic in topics:
                    continue
                if value.expire_timestamp >= 0:
                    if now >= value.expire_timestamp:
                        expired.append((topic, partition))
                elif now - (group.state_since_ms if from_state else value.commit_timestamp) >= self.retention_ms:
                    expired.append((topic, partition))
            try:
                if expired:
                    self._write(group.group_id, [offset_record(group.group_id, t, p, None) for t, p in expired])
                    for tp in expired:
                        del group.offsets[tp]
                    removed += len(expired)
                    log.info("group %s: %d committed offset(s) expired", group.group_id, len(expired))
                if group.state is EMPTY and not group.offsets:
                    self._remove_group(group)
                    log.info("group %s removed: empty and without offsets", group.group_id)
            except (AppendError, OSError) as exc:
                log.error("group %s: could not expire offsets: %s", group.group_id, exc)
        return removed
