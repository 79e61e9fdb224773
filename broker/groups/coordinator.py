"""The group coordinator: membership, rebalances, committed offsets, group admin.

Classic groups' membership and rebalances are `membership.Membership`, and consumer groups'
(KIP-848) are `consumer_membership.ConsumerMembership`: sans-IO state machines over one map of
groups, a group id being of one type at a time. This class is their thin asyncio driver. It
passes the loop's time in, turns tickets into futures the handlers await, arms loop timers for
`Arm` effects, and writes classic groups to `__consumer_offsets` for `Persist` effects, before the
client hears about it. Committed offsets and group administration live here, for every type.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kctl.protocol.clock import now_ms
from kctl.protocol.data import partition_for
from kctl.protocol.enums import ConfigResourceType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import Record

from ..config import BrokerConfig
from ..entity_configs import EntityConfigs
from ..share.coordinator import ShareCoordinator
from ..share.sessions import ShareSessions
from ..storage.log import AppendError, PartitionLog
from ..storage.manager import LogManager
from .consumer_group import ConsumerGroup, TopicShape, from_classic, to_classic
from .consumer_membership import (
    ConsumerLimits,
    ConsumerMembership,
    ConsumerTimer,
    Downgrade,
    HeartbeatRequest,
    HeartbeatResult,
)
from .group import CONSUMER_PROTOCOL, CommittedOffsets, Group, JoinResult, Member, SyncResult
from .membership import (
    DEAD,
    EMPTY,
    STABLE,
    Answer,
    Arm,
    Cancel,
    Effect,
    JoinRequest,
    Limits,
    Membership,
    Persist,
    SyncRequest,
    TimerKey,
)
from .offsets_topic import (
    TOPIC,
    CommittedOffset,
    LoadedGroup,
    LoadedMarker,
    encode_records,
    group_record,
    offset_record,
    replay,
)
from .share_group import (
    Assigned,
    MemberGone,
    ShareEffect,
    ShareGroup,
    ShareHeartbeat,
    ShareHeartbeatResult,
    ShareLimits,
    ShareMembership,
    ShareTimer,
)
from .state import GroupState

log = logging.getLogger("broker.groups")


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
    group_type: str = "classic"


class TopicCatalog:
    """The broker's topics as consumer-group subscriptions see them."""

    def __init__(self, logs: LogManager) -> None:
        self._logs = logs

    @property
    def version(self) -> int:
        return self._logs.catalog_version

    def shape(self, name: str) -> TopicShape | None:
        topic = self._logs.topics.get(name)
        if topic is None or topic.internal:
            return None
        return TopicShape(topic.topic_id, len(topic.partitions))

    def user_topics(self) -> list[str]:
        return [name for name, topic in self._logs.topics.items() if not topic.internal]


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
        after_append: Callable[[PartitionLog], asyncio.Future[None] | None],
        entity_configs: EntityConfigs | None = None,
    ) -> None:
        self.logs = logs
        self.entity_configs = entity_configs
        self.groups: dict[str, Group | ConsumerGroup | ShareGroup] = {}
        self._after_append = after_append  # the broker's durability policy (Flusher.after_append)
        self.membership = Membership(self.groups, Limits(
            config["group.initial.rebalance.delay.ms"], config["group.min.session.timeout.ms"],
            config["group.max.session.timeout.ms"], config["group.max.size"]))
        self.consumer = ConsumerMembership(self.groups, ConsumerLimits(
            config["group.consumer.session.timeout.ms"], config["group.consumer.heartbeat.interval.ms"],
            config["group.consumer.max.size"],
            tuple(a.strip() for a in config["group.consumer.assignors"].split(",") if a.strip()) or ("uniform",),
        ), TopicCatalog(logs), self._consumer_timing)
        self.share = ShareMembership(self.groups, ShareLimits(
            config["group.share.session.timeout.ms"], config["group.share.heartbeat.interval.ms"],
            config["group.share.max.size"]), TopicCatalog(logs), self._share_timing)
        self.share_partitions = ShareCoordinator(config, logs, after_append, entity_configs)
        self.share_sessions = ShareSessions()
        self._parked: dict[int, asyncio.Future[Any]] = {}  # ticket -> what its handler awaits
        self._timers: dict[TimerKey, asyncio.TimerHandle] = {}
        self.retention_ms: int = config["offsets.retention.minutes"] * 60_000
        self.metadata_max_bytes: int = config["offset.metadata.max.bytes"]
        self.offsets_partitions: int = config["offsets.topic.num.partitions"]
        self.offsets_segment_bytes: int = config["offsets.topic.segment.bytes"]
        #: Offsets committed inside transactions not yet ended: producer id -> group -> offsets.
        #: They take effect when the transaction's commit marker reaches the group's partition.
        self.pending: dict[int, dict[str, dict[tuple[str, int], CommittedOffset]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _consumer_timing(self, group_id: str) -> tuple[int, int]:
        """A consumer group's session timeout and heartbeat interval: its group configs, else the broker's."""
        limits = self.consumer.limits
        if self.entity_configs is None:
            return limits.session_timeout_ms, limits.heartbeat_interval_ms
        own = self.entity_configs.overrides(ConfigResourceType.GROUP, group_id)
        return (own.get("consumer.session.timeout.ms", limits.session_timeout_ms),
                own.get("consumer.heartbeat.interval.ms", limits.heartbeat_interval_ms))

    def _share_timing(self, group_id: str) -> tuple[int, int]:
        limits = self.share.limits
        if self.entity_configs is None:
            return limits.session_timeout_ms, limits.heartbeat_interval_ms
        own = self.entity_configs.overrides(ConfigResourceType.GROUP, group_id)
        return (own.get("share.session.timeout.ms", limits.session_timeout_ms),
                own.get("share.heartbeat.interval.ms", limits.heartbeat_interval_ms))

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
            pending: dict[int, dict[str, dict[tuple[str, int], CommittedOffset]]] = {}
            for item in replay(plog):
                count += 1
                if isinstance(item, LoadedMarker):
                    ended = pending.pop(item.producer_id, {})
                    if item.commit:
                        for group_id, committed in ended.items():
                            offsets.setdefault(group_id, {}).update(committed)
                elif isinstance(item, LoadedGroup):
                    metadata[item.group] = item.value
                    if item.value is None:
                        offsets.pop(item.group, None)
                elif item.value is None:
                    offsets.get(item.group, {}).pop((item.topic, item.partition), None)
                elif item.producer_id >= 0:
                    pending.setdefault(item.producer_id, {}).setdefault(item.group, {})[
                        (item.topic, item.partition)] = item.value
                else:
                    offsets.setdefault(item.group, {})[(item.topic, item.partition)] = item.value
            for producer_id, by_group in pending.items():  # undecided: the transaction coordinator ends them
                for group_id, committed in by_group.items():
                    self.pending.setdefault(producer_id, {}).setdefault(group_id, {}).update(committed)
        for group_id in sorted(set(metadata) | set(offsets) | {g for by in self.pending.values() for g in by}):
            value = metadata.get(group_id)
            group_offsets = offsets.get(group_id, {})
            if value is None and not group_offsets and not any(group_id in by for by in self.pending.values()):
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

    def restore_share_groups(self) -> None:
        """Share groups whose partitions have state come back (empty until members rejoin)."""
        for group_id, _, _ in self.share_partitions.partitions:
            if group_id not in self.groups:
                self.groups[group_id] = ShareGroup(group_id)

    def start(self) -> None:
        """Arm session timers for members loaded from the log (they get a full session to return)."""
        self._loop = asyncio.get_running_loop()
        self.membership.restored(self._loop.time())
        self._apply(self.membership.take_effects())
        self.share_partitions.start()

    def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.share_partitions.stop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _now(self) -> float:
        """The time the machine is given: the loop's clock (its timers run on it), or before the
        loop runs (loading, tests of offsets alone) the same monotonic clock asyncio uses."""
        return self._loop.time() if self._loop is not None else time.monotonic()

    # ---- driving the membership machine ---------------------------------------------------------
    def _apply(self, effects: Sequence[Effect | Downgrade | ShareEffect]) -> None:
        for effect in effects:
            if isinstance(effect, Answer):
                future = self._parked.pop(effect.ticket, None)
                if future is not None and not future.done():
                    future.set_result(effect.result)
            elif isinstance(effect, Arm):
                old = self._timers.pop(effect.key, None)
                if old is not None:
                    old.cancel()
                loop = self.loop
                self._timers[effect.key] = loop.call_at(max(effect.at, loop.time()), self._timer_due, effect.key)
            elif isinstance(effect, Cancel):
                handle = self._timers.pop(effect.key, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(effect, Persist):
                group = self.groups.get(effect.group_id)
                if isinstance(group, Group):
                    self._store_group(group)
            elif isinstance(effect, Downgrade):
                self._downgrade(effect.group_id)
            elif isinstance(effect, Assigned):
                self.share_partitions.initialize(effect.group_id, effect.partitions)
            elif isinstance(effect, MemberGone):
                self.share_sessions.close_member(effect.group_id, effect.member_id)
                self.share_partitions.release(effect.group_id, effect.member_id)

    def _downgrade(self, group_id: str) -> None:
        """Every member left speaks the classic protocol: the classic coordinator takes the group
        back, keeping assignments, and has everyone rejoin (KIP-848's online downgrade)."""
        group = self.groups.get(group_id)
        if not isinstance(group, ConsumerGroup):
            return
        classic = to_classic(group)
        self.groups[group_id] = classic
        log.info("group %s: back to the classic protocol with %d member(s)", group_id, len(classic.members))
        self.membership.adopted(classic, self.loop.time())
        self._apply(self.membership.take_effects())

    def _upgrade(self, classic: Group) -> None:
        """A member of the consumer protocol joins a live classic group of consumers: the group
        becomes a consumer group, its members staying on as classic members (KIP-848's online
        upgrade). Left a classic group when it cannot be (another protocol type, or unreadable)."""
        if classic.protocol_type != CONSUMER_PROTOCOL or len(classic.members) >= self.consumer.limits.max_size:
            return
        try:
            group = from_classic(classic, self.consumer.catalog.shape)
        except ValueError as exc:
            log.warning("group %s: cannot move to the consumer protocol: %s", classic.group_id, exc)
            return
        self.membership.released(classic)
        self._apply(self.membership.take_effects())
        self.groups[classic.group_id] = group
        self.consumer.adopted(group, self.loop.time())
        self._apply(self.consumer.take_effects())
        log.info("group %s: moved to the consumer protocol with %d classic member(s)", group.group_id,
                 len(group.members))

    def _timer_due(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        try:
            if isinstance(key[0], ConsumerTimer):
                self.consumer.timer(key, self.loop.time())  # type: ignore[arg-type]
            elif isinstance(key[0], ShareTimer):
                self.share.timer(key, self.loop.time())  # type: ignore[arg-type]
            else:
                self.membership.timer(key, self.loop.time())
        except Exception:
            log.exception("group timer %s failed", key)
        self._apply(self.membership.take_effects())
        self._apply(self.consumer.take_effects())
        self._apply(self.share.take_effects())

    def _answer(self, outcome: Any) -> Any:
        """A result at once, or a future for a parked request (registered before the effects
        are applied: they may already answer it)."""
        if isinstance(outcome, int):
            future: asyncio.Future[Any] = self.loop.create_future()
            self._parked[outcome] = future
            outcome = future
        self._apply(self.membership.take_effects())
        return outcome

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

    def _write(self, group_id: str, records: list[Record],
               producer: tuple[int, int] | None = None) -> asyncio.Future[None] | None:
        """Append to the group's partition now (in `producer`'s transaction, if given); returns
        what to await when acks must wait for fsync."""
        plog = self.offsets_partition(group_id)
        plog.append(encode_records(records, now_ms(), producer), trusted=True)
        return self._after_append(plog)

    def _store_group(self, group: Group) -> None:
        try:
            self._write(group.group_id, [group_record(group.group_id, group.metadata_value())])
        except (AppendError, OSError) as exc:
            log.error("group %s: could not store its metadata: %s", group.group_id, exc)

    # ---- membership requests ---------------------------------------------------------------------
    def join(self, req: JoinRequest) -> JoinResult | asyncio.Future[JoinResult]:
        existing = self.groups.get(req.group_id)
        if isinstance(existing, ConsumerGroup) and not existing.deleted:
            if existing.members:
                joined = self.consumer.classic_join(existing, req, self.loop.time())
                self._apply(self.consumer.take_effects())
                return joined
            # An empty consumer group becomes a classic one again, keeping its offsets.
            replaced = Group(req.group_id)
            replaced.offsets = existing.offsets
            self.consumer.deleted(existing)
            self._apply(self.consumer.take_effects())
            self.groups[req.group_id] = replaced
        return self._answer(self.membership.join(req, self.loop.time()))  # type: ignore[no-any-return]

    def share_heartbeat(self, req: ShareHeartbeat) -> ShareHeartbeatResult:
        result = self.share.heartbeat(req, self.loop.time())
        self._apply(self.share.take_effects())
        return result

    def consumer_heartbeat(self, req: HeartbeatRequest) -> HeartbeatResult:
        existing = self.groups.get(req.group_id)
        if isinstance(existing, Group) and existing.members and req.member_epoch == 0:
            self._upgrade(existing)
        result = self.consumer.heartbeat(req, self.loop.time())
        self._apply(self.consumer.take_effects())
        if isinstance(existing, Group) and self.groups.get(req.group_id) is not existing:
            # A classic group turned into a consumer group: its metadata record goes.
            try:
                self._write(req.group_id, [group_record(req.group_id, None)])
            except (AppendError, OSError) as exc:
                log.error("group %s: could not remove its classic metadata: %s", req.group_id, exc)
        return result

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
        request = SyncRequest(group_id, generation, member_id, instance_id, protocol_type, protocol_name, assignments)
        group = self._consumer_group(group_id)
        if group is not None:
            return self.consumer.classic_sync(group, request, self.loop.time())
        return self._answer(self.membership.sync(request, self.loop.time()))  # type: ignore[no-any-return]

    def heartbeat(self, group_id: str, generation: int, member_id: str, instance_id: str | None) -> int:
        group = self._consumer_group(group_id)
        if group is not None:
            code = self.consumer.classic_heartbeat(group, generation, member_id, instance_id, self.loop.time())
            self._apply(self.consumer.take_effects())
            return code
        code = self.membership.heartbeat(group_id, generation, member_id, instance_id, self.loop.time())
        self._apply(self.membership.take_effects())
        return code

    def leave(self, group_id: str, leaving: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
        """Remove members (member id, instance id); returns a group-level error and one per member."""
        group = self._consumer_group(group_id)
        if group is not None:
            errors = self.consumer.classic_leave(group, leaving)
            self._apply(self.consumer.take_effects())
            return ErrorCode.NONE.code, errors
        outcome = self.membership.leave(group_id, leaving, self.loop.time())
        self._apply(self.membership.take_effects())
        return outcome

    def _consumer_group(self, group_id: str) -> ConsumerGroup | None:
        """The live consumer group of that id, whose classic members the consumer machine serves."""
        group = self.groups.get(group_id)
        return group if isinstance(group, ConsumerGroup) and not group.deleted else None

    # ---- offsets -----------------------------------------------------------------------------
    def commit(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        instance_id: str | None,
        retention_ms: int,
        offsets: list[OffsetToCommit],
        producer: tuple[int, int] | None = None,
        api_version: int = 9,
    ) -> tuple[list[int], asyncio.Future[None] | None]:
        """Validate and write a commit; returns an error per offset and what to await, if anything.
        With `producer` (id, epoch) the commit is part of that producer's transaction
        (TxnOffsetCommit): it is written now and takes effect when the transaction commits."""
        if not group_id:
            return [ErrorCode.INVALID_GROUP_ID.code] * len(offsets), None
        partition_check: Callable[[str, int], int] | None = None
        group = self.groups.get(group_id)
        if group is None:
            if generation >= 0:
                return [ErrorCode.ILLEGAL_GENERATION.code] * len(offsets), None
            group = Group(group_id)  # a "simple" group: offsets only, no members
        elif isinstance(group, ShareGroup):
            return [ErrorCode.GROUP_ID_NOT_FOUND.code] * len(offsets), None
        elif isinstance(group, ConsumerGroup):
            verdict = (ErrorCode.COORDINATOR_NOT_AVAILABLE.code if group.deleted else
                       self.consumer.check_commit(group, member_id, generation, api_version, producer is not None))
            if isinstance(verdict, int):
                if verdict != ErrorCode.NONE.code:
                    return [verdict] * len(offsets), None
            else:
                partition_check = verdict
        elif producer is not None and generation < 0 and not member_id:
            pass  # a transactional commit that names no member (before KIP-447) is not checked
        else:
            error = self.membership.check_commit(group, generation, member_id, instance_id, self._now())
            if error != ErrorCode.NONE.code:
                return [error] * len(offsets), None
        now = now_ms()
        errors: list[int] = []
        accepted: list[tuple[tuple[str, int], CommittedOffset]] = []
        for item in offsets:
            if self.logs.partition(item.topic, item.partition) is None:
                errors.append(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
                continue
            code = partition_check(item.topic, item.partition) if partition_check is not None else ErrorCode.NONE.code
            if code != ErrorCode.NONE.code:
                errors.append(code)
                continue
            metadata = item.metadata or ""
            if len(metadata.encode()) > self.metadata_max_bytes:
                errors.append(ErrorCode.OFFSET_METADATA_TOO_LARGE.code)
                continue
            commit_ts = item.commit_timestamp if item.commit_timestamp >= 0 else now
            expire_ts = commit_ts + retention_ms if retention_ms >= 0 else -1
            accepted.append(((item.topic, item.partition), CommittedOffset(item.offset, item.leader_epoch, metadata,
                                                                           commit_ts, expire_ts)))
            errors.append(ErrorCode.NONE.code)
        if not accepted:
            return errors, None
        records = [offset_record(group_id, t, p, value) for (t, p), value in accepted]
        try:
            wait = self._write(group_id, records, producer)
        except AppendError as exc:
            code = (
                ErrorCode.INVALID_COMMIT_OFFSET_SIZE.code
                if exc.error in (ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE)
                else ErrorCode.COORDINATOR_NOT_AVAILABLE.code
            )
            return [code if e == ErrorCode.NONE.code else e for e in errors], None
        except OSError as exc:
            log.error("group %s: could not write offsets: %s", group_id, exc)
            return [ErrorCode.COORDINATOR_NOT_AVAILABLE.code if e == ErrorCode.NONE.code else e for e in errors], None
        self.groups.setdefault(group_id, group)
        if producer is None:
            group.offsets.update(accepted)
        else:
            self.pending.setdefault(producer[0], {}).setdefault(group_id, {}).update(accepted)
        return errors, wait

    def end_transaction(self, producer_id: int, commit: bool, offsets_partition: int) -> None:
        """A transaction's marker reached `__consumer_offsets` partition `offsets_partition`: the
        offsets it committed for the groups there take effect, or are dropped."""
        by_group = self.pending.get(producer_id)
        if not by_group:
            return
        partitions = len(self.logs.topics[TOPIC].partitions)
        for group_id in [g for g in by_group if partition_for(g, partitions) == offsets_partition]:
            committed = by_group.pop(group_id)
            if commit:
                self.groups.setdefault(group_id, Group(group_id)).offsets.update(committed)
        if not by_group:
            del self.pending[producer_id]

    def unstable(self, group_id: str) -> set[tuple[str, int]]:
        """Partitions with offsets committed in a transaction of `group_id` not yet ended."""
        return {tp for by_group in self.pending.values() for tp in by_group.get(group_id, ())}

    def check_fetch(self, group_id: str, member_id: str | None, member_epoch: int) -> int:
        """Whether an OffsetFetch (v9+) naming a member may read the group's offsets."""
        group = self.groups.get(group_id)
        if isinstance(group, ConsumerGroup) and not group.deleted:
            return self.consumer.check_fetch(group, member_id, member_epoch)
        return ErrorCode.NONE.code

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
            GroupListing(g.group_id, g.protocol_type or "", g.state,
                         "classic" if isinstance(g, Group) else g.group_type)
            for g in self.groups.values()
            if g.state is not DEAD and (states is None or g.state in states)
        ]

    def describe(self, group_id: str) -> GroupDescription | None:
        """A classic group as DescribeGroups shows it (None: no such classic group)."""
        group = self.groups.get(group_id)
        if not isinstance(group, Group) or group.state is DEAD:
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
                results.append(ErrorCode.INVALID_GROUP_ID.code)
            elif group is None or group.state is DEAD:
                results.append(ErrorCode.GROUP_ID_NOT_FOUND.code)
            elif group.state is not EMPTY:
                results.append(ErrorCode.NON_EMPTY_GROUP.code)
            else:
                try:
                    self._remove_group(group)
                except (AppendError, OSError) as exc:
                    log.error("group %s: could not delete: %s", group_id, exc)
                    results.append(ErrorCode.COORDINATOR_NOT_AVAILABLE.code)
                    continue
                log.info("group %s deleted", group_id)
                results.append(ErrorCode.NONE.code)
        return results

    def _remove_group(self, group: Group | ConsumerGroup | ShareGroup) -> None:
        if isinstance(group, ShareGroup):
            self.share_partitions.forget(group.group_id)
            for session in self.share_sessions.close_group(group.group_id):
                log.debug("group %s: share session of %s closed", group.group_id, session.member_id)
            self.share.deleted(group)
            self._apply(self.share.take_effects())
            del self.groups[group.group_id]
            return
        records = [offset_record(group.group_id, t, p, None) for t, p in sorted(group.offsets)]
        records.append(group_record(group.group_id, None))
        self._write(group.group_id, records)
        group.offsets.clear()
        if isinstance(group, ConsumerGroup):
            self.consumer.deleted(group)
            self._apply(self.consumer.take_effects())
        else:
            self.membership.deleted(group)
            self._apply(self.membership.take_effects())
        del self.groups[group.group_id]

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[int, list[int]]:
        """OffsetDelete: a group-level error, and one per partition."""
        group = self.groups.get(group_id)
        if group is None or group.state is DEAD or isinstance(group, ShareGroup):
            return ErrorCode.GROUP_ID_NOT_FOUND.code, []
        subscribed: set[str] = set()
        if isinstance(group, ConsumerGroup):
            subscribed = group.subscribed_topics() if group.members else set()
        elif group.state is not EMPTY:
            topics = group.subscribed_topics()
            if group.protocol_type != CONSUMER_PROTOCOL or topics is None:
                return ErrorCode.NON_EMPTY_GROUP.code, []
            subscribed = topics
        errors = [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC.code if t in subscribed else ErrorCode.NONE.code
                  for t, _ in partitions]
        doomed = sorted({tp for tp, e in zip(partitions, errors, strict=True)
                         if e == ErrorCode.NONE.code and tp in group.offsets})
        if doomed:
            try:
                self._write(group_id, [offset_record(group_id, t, p, None) for t, p in doomed])
            except (AppendError, OSError) as exc:
                log.error("group %s: could not delete offsets: %s", group_id, exc)
                return ErrorCode.COORDINATOR_NOT_AVAILABLE.code, []
            for tp in doomed:
                del group.offsets[tp]
        return ErrorCode.NONE.code, errors

    def topic_deleted(self, topic: str) -> int:
        """Drop every group's offsets on a deleted topic, as Kafka's coordinator does when
        partitions are deleted; returns offsets removed. An empty group left with none stays
        listed until the next retention check removes it (`expire_offsets`), as in Kafka."""
        removed = 0
        for group in list(self.groups.values()):
            doomed = sorted(tp for tp in group.offsets if tp[0] == topic)
            if not doomed:
                continue
            try:
                self._write(group.group_id, [offset_record(group.group_id, t, p, None) for t, p in doomed])
                for tp in doomed:
                    del group.offsets[tp]
                removed += len(doomed)
                log.info("group %s: offsets of deleted topic %s removed", group.group_id, topic)
            except (AppendError, OSError) as exc:
                log.error("group %s: could not remove the offsets of deleted topic %s: %s", group.group_id, topic, exc)
        return removed

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
            if isinstance(group, ShareGroup):
                continue  # no committed offsets: a share group stays until deleted
            if group.state is EMPTY:
                topics = None
                from_state = group.protocol_type is not None
            elif isinstance(group, ConsumerGroup):
                if group.deleted:
                    continue
                topics, from_state = group.subscribed_topics(), False
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
