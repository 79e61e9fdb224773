"""The share coordinator: every share partition of every share group, their share sessions, and
their persistence, driving the sans-IO `SharePartition` and `ShareSessions` with the loop's time,
the partitions' logs and a timer per partition for the acquisition locks.

State is kept in the compacted internal topic `__kctl_share_state`, one record per share
partition holding its snapshot (start offset, and the state and delivery count of every record in
flight), written before an acknowledgement is answered: after a kill -9 and restart, a share group
resumes where it was, records it had acknowledged staying acknowledged and those it held going
back to be delivered again. (Kafka keeps the same in `__share_group_state`, in its own format;
this topic is ours and named so.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from kctl.protocol.clock import now_ms
from kctl.protocol.enums import ConfigResourceType
from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.records import Record, encode_batch, iter_batch_headers

from ..config import BrokerConfig
from ..entity_configs import EntityConfigs
from ..storage.log import AppendError, PartitionLog
from ..storage.manager import LogManager
from .partition import AcknowledgeError, Acquired, SharePartition

log = logging.getLogger("broker.share")

STATE_TOPIC = "__kctl_share_state"

ShareKey = tuple[str, UUID, int]  # (group id, topic id, partition)


@dataclass(slots=True)
class Delivery:
    """What one partition of a ShareFetch gets: whole batches, and which of their records are
    this member's (the rest are someone else's, or done with)."""

    records: bytes
    acquired: list[Acquired]
    error: int = ErrorCode.NONE.code


def _key_bytes(key: ShareKey) -> bytes:
    return json.dumps([key[0], str(key[1]), key[2]]).encode()


def _duration_ms(text: str) -> int:
    """An ISO-8601 duration of days, hours, minutes and seconds (share.auto.offset.reset=by_duration:...)."""
    found = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text)
    if found is None:
        raise ValueError(f"not a duration: {text}")
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000


class ShareCoordinator:
    def __init__(self, config: BrokerConfig, logs: LogManager,
                 after_append: Callable[[PartitionLog], asyncio.Future[None] | None],
                 entity_configs: EntityConfigs | None = None) -> None:
        self.logs = logs
        self.entity_configs = entity_configs
        self._after_append = after_append
        self.delivery_limit: int = config["group.share.delivery.count.limit"]
        self.lock_ms: int = config["group.share.record.lock.duration.ms"]
        self.max_in_flight: int = config["group.share.partition.max.record.locks"]
        self.partitions: dict[ShareKey, SharePartition] = {}
        self._timers: dict[ShareKey, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle -----------------------------------------------------------------------------
    def load(self) -> int:
        """Every share partition's last snapshot; returns how many."""
        topic = self.logs.topics.get(STATE_TOPIC)
        if topic is None:
            return 0

        def unreadable(offset: int, exc: ProtocolError) -> None:
            log.warning("%s offset %d: skipping a batch we cannot read: %s", STATE_TOPIC, offset, exc)

        for batch in topic.partitions[0].replay_batches(unreadable):
            for record in batch.records:
                if record.key is None:
                    continue
                try:
                    group, topic_id, partition = json.loads(record.key)
                    key = (str(group), UUID(topic_id), int(partition))
                    if record.value is None:
                        self.partitions.pop(key, None)
                    else:
                        self.partitions[key] = SharePartition.restore(json.loads(record.value))
                except (ValueError, TypeError, KeyError) as exc:
                    log.warning("%s: skipping a record we cannot read: %s", STATE_TOPIC, exc)
        return len(self.partitions)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    # ---- settings of a group ----------------------------------------------------------------------
    def _group_setting(self, group_id: str, key: str) -> object:
        if self.entity_configs is None:
            return {"share.record.lock.duration.ms": self.lock_ms, "share.auto.offset.reset": "latest",
                    "share.isolation.level": "read_uncommitted"}[key]
        own = self.entity_configs.overrides(ConfigResourceType.GROUP, group_id)
        if key == "share.record.lock.duration.ms" and key not in own:
            return self.lock_ms
        return self.entity_configs.value(ConfigResourceType.GROUP, group_id, key)

    def lock_duration_ms(self, group_id: str) -> int:
        value = self._group_setting(group_id, "share.record.lock.duration.ms")
        assert isinstance(value, int)
        return value

    # ---- the state topic ---------------------------------------------------------------------------
    def _state_log(self) -> PartitionLog:
        topic = self.logs.topics.get(STATE_TOPIC)
        if topic is None:
            topic = self.logs.create_topic(STATE_TOPIC, 1, {"cleanup.policy": "compact",
                                                            "compression.type": "producer"})
        return topic.partitions[0]

    def _persist(self, keys: Iterable[ShareKey]) -> asyncio.Future[None] | None:
        """Write the snapshots of `keys` (tombstones for those gone); what to await for fsync."""
        records = []
        for key in keys:
            partition = self.partitions.get(key)
            value = None if partition is None else json.dumps(partition.snapshot()).encode()
            records.append(Record(key=_key_bytes(key), value=value, timestamp=now_ms()))
        if not records:
            return None
        plog = self._state_log()
        plog.append(encode_batch(records), trusted=True)
        return self._after_append(plog)

    # ---- share partitions ---------------------------------------------------------------------------
    def initialize(self, group_id: str, partitions: Iterable[tuple[UUID, int]]) -> None:
        """Partitions a share group reads for the first time start where share.auto.offset.reset
        says: the earliest record, the latest, or the first at most a duration old."""
        by_id = {t.topic_id: t for t in self.logs.topics.values()}
        fresh: list[ShareKey] = []
        for topic_id, index in partitions:
            key = (group_id, topic_id, index)
            topic = by_id.get(topic_id)
            if key in self.partitions or topic is None or index >= len(topic.partitions):
                continue
            plog = topic.partitions[index]
            reset = str(self._group_setting(group_id, "share.auto.offset.reset"))
            if reset == "earliest":
                start = plog.log_start_offset
            elif reset.startswith("by_duration:"):
                found = plog.find_offset_by_timestamp(now_ms() - _duration_ms(reset.split(":", 1)[1]))
                start = found[0] if found is not None else plog.log_end_offset
            else:
                start = plog.log_end_offset
            self.partitions[key] = SharePartition(start)
            fresh.append(key)
            log.info("group %s: share partition %s-%d starts at %d (%s)", group_id, topic.name, index, start, reset)
        try:
            self._persist(fresh)
        except (AppendError, OSError) as exc:
            log.error("group %s: could not store new share partitions: %s", group_id, exc)

    def fetch(self, group_id: str, member_id: str, keys: Iterable[tuple[UUID, int]], *, max_records: int,
              max_bytes: int, strict: bool) -> dict[tuple[UUID, int], Delivery]:
        """Acquire records for a member across its session's partitions."""
        now = self.loop.time()
        lock_ms = self.lock_duration_ms(group_id)
        read_committed = self._group_setting(group_id, "share.isolation.level") == "read_committed"
        by_id = {t.topic_id: t for t in self.logs.topics.values()}
        out: dict[tuple[UUID, int], Delivery] = {}
        changed: list[ShareKey] = []
        budget, room = max(max_records, 1), max_bytes
        for topic_id, index in keys:
            topic = by_id.get(topic_id)
            if topic is None or index >= len(topic.partitions):
                out[(topic_id, index)] = Delivery(b"", [], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
                continue
            key = (group_id, topic_id, index)
            if key not in self.partitions:
                self.initialize(group_id, [(topic_id, index)])
            partition = self.partitions[key]
            if budget <= 0 or room <= 0:
                out[(topic_id, index)] = Delivery(b"", [])
                continue
            plog = topic.partitions[index]
            start = max(partition.next_offset(), plog.log_start_offset)
            upto = plog.last_stable_offset if read_committed else plog.log_end_offset
            chunk = plog.read(start, room) if start < upto else b""
            batches = []
            aborted = plog.producers.aborted_between(start, upto) if read_committed else []
            for at, header in iter_batch_headers(chunk):
                if header.base_offset >= upto:
                    break
                data = bytes(chunk[at:at + header.size])
                if header.is_control or any(a.producer_id == header.producer_id
                                            and a.first_offset <= header.base_offset <= a.last_offset
                                            for a in aborted):
                    continue  # markers and aborted records are never handed out
                batches.append((header.base_offset, header.last_offset, data))
            acquired = partition.acquire(member_id, [(first, last) for first, last, _ in batches], budget, now=now,
                                         lock_ms=lock_ms, max_in_flight=self.max_in_flight, strict=strict)
            if acquired:
                changed.append(key)
                budget -= sum(a.last_offset - a.first_offset + 1 for a in acquired)
                lo, hi = acquired[0].first_offset, acquired[-1].last_offset
                records = b"".join(data for first, last, data in batches if last >= lo and first <= hi)
                room -= len(records)
                out[(topic_id, index)] = Delivery(records, acquired)
                self._arm(key)
            else:
                out[(topic_id, index)] = Delivery(b"", [])
        try:
            self._persist(changed)  # delivery counts survive a restart
        except (AppendError, OSError) as exc:
            log.error("group %s: could not store share partitions: %s", group_id, exc)
        return out

    def acknowledge(self, group_id: str, member_id: str,
                    acks: dict[tuple[UUID, int], list[tuple[int, int, list[int]]]]
                    ) -> tuple[dict[tuple[UUID, int], tuple[int, str | None]], asyncio.Future[None] | None]:
        """Apply a member's acknowledgements, partition by partition; the errors, and what to
        await before answering (the state written)."""
        now = self.loop.time()
        lock_ms = self.lock_duration_ms(group_id)
        errors: dict[tuple[UUID, int], tuple[int, str | None]] = {}
        changed: list[ShareKey] = []
        for (topic_id, index), batches in acks.items():
            key = (group_id, topic_id, index)
            partition = self.partitions.get(key)
            if partition is None:
                errors[(topic_id, index)] = (ErrorCode.INVALID_RECORD_STATE.code,
                                             "the share group has delivered nothing from this partition")
                continue
            try:
                partition.acknowledge(member_id, batches, now=now, lock_ms=lock_ms, delivery_limit=self.delivery_limit)
            except AcknowledgeError as exc:
                errors[(topic_id, index)] = (exc.code, exc.message)
                continue
            errors[(topic_id, index)] = (ErrorCode.NONE.code, None)
            changed.append(key)
            self._arm(key)
        try:
            wait = self._persist(changed)
        except (AppendError, OSError) as exc:
            log.error("group %s: could not store acknowledgements: %s", group_id, exc)
            return {k: (ErrorCode.COORDINATOR_NOT_AVAILABLE.code, "the share state could not be written")
                    if e == ErrorCode.NONE.code else (e, m) for k, (e, m) in errors.items()}, None
        return errors, wait

    def release(self, group_id: str, member_id: str, keys: Iterable[tuple[UUID, int]] | None = None) -> None:
        """Records the member holds go back (its session closed, or it left the group)."""
        changed = []
        only = None if keys is None else set(keys)
        for key, partition in self.partitions.items():
            if key[0] != group_id or (only is not None and (key[1], key[2]) not in only):
                continue
            if partition.release_member(member_id, self.delivery_limit):
                changed.append(key)
        try:
            self._persist(changed)
        except (AppendError, OSError) as exc:
            log.error("group %s: could not store released records: %s", group_id, exc)

    def _arm(self, key: ShareKey) -> None:
        partition = self.partitions.get(key)
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        deadline = None if partition is None else partition.next_deadline()
        if deadline is not None:
            self._timers[key] = self.loop.call_at(deadline, self._locks_due, key)

    def _locks_due(self, key: ShareKey) -> None:
        self._timers.pop(key, None)
        partition = self.partitions.get(key)
        if partition is None:
            return
        if partition.expire(self.loop.time(), self.delivery_limit):
            try:
                self._persist([key])
            except (AppendError, OSError) as exc:
                log.error("could not store expired locks of %s: %s", key, exc)
        self._arm(key)

    # ---- offsets, as operators see and change them -----------------------------------------------------
    def group_partitions(self, group_id: str) -> dict[tuple[UUID, int], SharePartition]:
        return {(t, p): sp for (g, t, p), sp in self.partitions.items() if g == group_id}

    def alter(self, group_id: str, offsets: dict[tuple[UUID, int], int]) -> asyncio.Future[None] | None:
        keys = []
        for (topic_id, index), offset in offsets.items():
            key = (group_id, topic_id, index)
            partition = self.partitions.get(key)
            if partition is None:
                self.partitions[key] = SharePartition(offset)
            else:
                partition.reset(offset)
            self._arm(key)
            keys.append(key)
        return self._persist(keys)

    def forget(self, group_id: str, topic_ids: set[UUID] | None = None) -> asyncio.Future[None] | None:
        """Drop the group's share partitions (of those topics): they start afresh when next read."""
        keys = [k for k in self.partitions if k[0] == group_id and (topic_ids is None or k[1] in topic_ids)]
        for key in keys:
            del self.partitions[key]
            handle = self._timers.pop(key, None)
            if handle is not None:
                handle.cancel()
        return self._persist(keys)

    def topic_deleted(self, topic_id: UUID) -> None:
        keys = [k for k in self.partitions if k[1] == topic_id]
        for key in keys:
            del self.partitions[key]
        try:
            self._persist(keys)
        except (AppendError, OSError) as exc:
            log.error("could not forget share partitions of a deleted topic: %s", exc)
