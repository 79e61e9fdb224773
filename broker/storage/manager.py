"""All topics of one data directory: their metadata, their partition logs and the checkpoints.

Layout, after Kafka's: one `<topic>-<partition>` directory per partition holding segments and a
`partition.metadata` file with the topic id; `topics.json` with each topic's id, partition count
and config overrides; `meta.properties` with the cluster id; `recovery-point-offset-checkpoint`
and `log-start-offset-checkpoint`; and a `.kafka_cleanshutdown` marker left by a clean stop.

Partitions open on first use, not at start: a broker with 100,000 partitions listens within a
second or two instead of after half a minute, and the broker opens the rest in small slices
between requests. A partition never opened keeps its checkpointed recovery point and log start.
Crash recovery a partition still owes when the broker stops cleanly is listed in
`recovery-owed-checkpoint`, so the next start recovers it even though the stop was clean.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode

from ..config import BrokerConfig, ConfigError, TopicConfig, parse_topic_configs
from . import disk
from .disk import BULK_SYNC_PARTITIONS
from .log import PartitionLog
from .segment import OpenFiles, descriptor_limit

log = logging.getLogger("broker.storage")

CLEAN_SHUTDOWN = ".kafka_cleanshutdown"
RECOVERY_POINTS = "recovery-point-offset-checkpoint"
LOG_START_OFFSETS = "log-start-offset-checkpoint"
RECOVERY_OWED = "recovery-owed-checkpoint"
TOPICS_FILE = "topics.json"
MAX_TOPIC_NAME = 249
MAX_PARTITIONS = 100_000
_LEGAL_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_PARTITION_DIR = re.compile(r".+-\d+$")
_PRODUCER_ID_BLOCK = 1000
#: Topics the broker itself writes; clients may read them but not write, create, resize or delete them.
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__kctl_share_state"})


class TopicError(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


class PartitionSlots:
    """A topic's partition logs by index, each opened the first time it is asked for."""

    __slots__ = ("_logs", "_open")

    def __init__(self, open_log: Callable[[int], PartitionLog]) -> None:
        self._logs: list[PartitionLog | None] = []
        self._open = open_log

    def __len__(self) -> int:
        return len(self._logs)

    def __getitem__(self, index: int) -> PartitionLog:
        plog = self._logs[index]
        if plog is None:
            plog = self._logs[index] = self._open(index)
        return plog

    def __iter__(self) -> Iterator[PartitionLog]:
        for index in range(len(self._logs)):
            yield self[index]

    def append(self, plog: PartitionLog | None) -> None:
        """Add the next partition: open already, or None to open on first use."""
        self._logs.append(plog)

    def truncate(self, count: int) -> None:
        """Drop partitions from `count` on (partitions being added, whose addition failed)."""
        del self._logs[count:]

    def if_open(self, index: int) -> PartitionLog | None:
        return self._logs[index]

    def opened(self) -> Iterator[PartitionLog]:
        return (plog for plog in self._logs if plog is not None)


@dataclass(slots=True)
class Topic:
    name: str
    topic_id: UUID
    overrides: dict[str, Any]
    partitions: PartitionSlots

    @property
    def internal(self) -> bool:
        return self.name in INTERNAL_TOPICS


@dataclass(slots=True)
class Unopened:
    """What a partition not opened yet carries from the checkpoints."""

    recovery_point: int
    log_start: int
    owes_recovery: bool  # its tail must be CRC-checked from `recovery_point` when it opens


def refuse_internal(name: str, action: str) -> None:
    if name in INTERNAL_TOPICS:
        raise TopicError(ErrorCode.INVALID_REQUEST, f"cannot {action} {name}: the broker manages this internal topic")


def validate_topic_name(name: str) -> None:
    if not name or name in (".", ".."):
        raise TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, f"topic name {name!r} is not allowed")
    if len(name) > MAX_TOPIC_NAME:
        raise TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, f"topic name is longer than {MAX_TOPIC_NAME} characters")
    if not _LEGAL_NAME.match(name):
        raise TopicError(
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"topic name {name!r} may contain only ASCII letters, digits, '.', '_' and '-'",
        )


def _read_checkpoint(path: Path) -> dict[tuple[str, int], int]:
    """Kafka's checkpoint text format: version, count, then `topic partition offset` lines."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    try:
        if lines[0].strip() != "0":
            raise ValueError
        count = int(lines[1])
        entries = {}
        for line in lines[2 : 2 + count]:
            topic, partition, offset = line.split()
            entries[(topic, int(partition))] = int(offset)
        return entries
    except (IndexError, ValueError):
        log.warning("%s is unreadable; ignoring it", path)
        return {}


def _format_checkpoint(entries: Mapping[tuple[str, int], int]) -> str:
    lines = ["0", str(len(entries))] + [f"{t} {p} {o}" for (t, p), o in sorted(entries.items())]
    return "\n".join(lines) + "\n"


class LogManager:
    def __init__(self, data_dir: Path, config: BrokerConfig) -> None:
        self.data_dir = data_dir
        self.config = config
        self.topics: dict[str, Topic] = {}
        #: Moves on with every change to the set of topics or their partition counts (group
        #: coordinators resolve subscriptions again when it does).
        self.catalog_version = 0
        self.cluster_id = ""
        self.next_producer_id = 0
        self._producer_id_limit = 0
        self._lock_fd = -1
        self.recovered = False
        self._unopened: dict[tuple[str, int], Unopened] = {}
        self._opening_order: deque[tuple[str, int]] = deque()
        #: Partition directories of deleted topics, removed a slice at a time between requests.
        self.leftovers: deque[Path] = deque()
        # Half the process's descriptors for segment files; the rest for sockets and the like.
        self.files = OpenFiles(max(64, descriptor_limit() // 2))

    # ---- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise RuntimeError(f"{self.data_dir} is in use by another broker") from None
        self._load_meta_properties()
        marker = self.data_dir / CLEAN_SHUTDOWN
        clean = marker.exists()
        recovery_points = _read_checkpoint(self.data_dir / RECOVERY_POINTS)
        log_starts = _read_checkpoint(self.data_dir / LOG_START_OFFSETS)
        # After a crash every partition recovers from its checkpoint; after a clean stop only
        # those whose recovery an earlier crash left owed because they were never opened.
        owed = _read_checkpoint(self.data_dir / RECOVERY_OWED).keys() if clean else None
        if not clean and (self.data_dir / TOPICS_FILE).exists():
            log.warning("no clean-shutdown marker in %s: recovering logs after their last checkpoint", self.data_dir)
        self.recovered = not clean and (self.data_dir / TOPICS_FILE).exists()
        meta = self._load_topics_file()
        self.next_producer_id = self._producer_id_limit = int(meta.get("producer_id_limit", 0))
        known_dirs: set[str] = set()
        for name, raw in meta.get("topics", {}).items():
            topic = self._new_topic(name, UUID(raw["id"]), dict(raw.get("configs", {})))
            self.topics[name] = topic
            for p in range(int(raw["partitions"])):
                known_dirs.add(f"{name}-{p}")
                key = (name, p)
                self._unopened[key] = Unopened(recovery_points.get(key, 0), log_starts.get(key, 0),
                                               owed is None or key in owed)
                self._opening_order.append(key)
                topic.partitions.append(None)
        for entry in os.listdir(self.data_dir):
            if entry not in known_dirs and _PARTITION_DIR.match(entry) and (self.data_dir / entry).is_dir():
                self.leftovers.append(self.data_dir / entry)
        if self.leftovers:  # removed after the broker listens (`remove_leftovers`), said once
            log.info("%d partition directories belong to no topic (left by deleted topics); removing them in "
                     "the background", len(self.leftovers))
        # The marker is consumed now, so a crash from here on is detected at the next start.
        marker.unlink(missing_ok=True)
        self._write_checkpoints()

    def _load_meta_properties(self) -> None:
        path = self.data_dir / "meta.properties"
        props: dict[str, str] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if "=" in line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    props[key.strip()] = value.strip()
        if "cluster.id" not in props:
            props["cluster.id"] = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            props["version"] = "1"
            props["node.id"] = str(self.config["node.id"])
            disk.write_atomically(path, "".join(f"{k}={v}\n" for k, v in props.items()))
        self.cluster_id = props["cluster.id"]

    def _load_topics_file(self) -> dict[str, Any]:
        path = self.data_dir / TOPICS_FILE
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return data
        except ValueError as exc:
            raise RuntimeError(f"{path} is damaged ({exc}); refusing to start rather than lose topics") from None

    def _save_topics_file(self) -> None:
        data = {
            "topics": {
                t.name: {"id": str(t.topic_id), "partitions": len(t.partitions), "configs": t.overrides}
                for t in self.topics.values()
            },
            "producer_id_limit": self._producer_id_limit,
        }
        self.catalog_version += 1  # before the write: a failed one is undone by another change
        disk.write_atomically(self.data_dir / TOPICS_FILE, json.dumps(data, indent=1, sort_keys=True))

    def _new_topic(self, name: str, topic_id: UUID, overrides: dict[str, Any]) -> Topic:
        topic = Topic(name, topic_id, overrides, PartitionSlots(lambda index: self._open_deferred(topic, index)))
        return topic

    def _open_deferred(self, topic: Topic, index: int) -> PartitionLog:
        carried = self._unopened[(topic.name, index)]
        plog = self._open_partition(topic, index, carried.recovery_point if carried.owes_recovery else None,
                                    carried.log_start)
        del self._unopened[(topic.name, index)]  # only now: a partition that failed to open still owes it all
        return plog

    @property
    def unopened(self) -> int:
        """Partitions not opened yet."""
        return len(self._unopened)

    def open_some(self, seconds: float) -> int:
        """Open partitions not opened yet, in topic order, for about `seconds`; how many remain."""
        deadline = time.monotonic() + seconds
        while self._opening_order and time.monotonic() < deadline:
            name, index = self._opening_order.popleft()
            if (name, index) in self._unopened:
                _ = self.topics[name].partitions[index]  # indexing opens it
        return len(self._unopened)

    def _open_partition(self, topic: Topic, index: int, recovery_point: int | None, log_start: int) -> PartitionLog:
        directory = self.data_dir / f"{topic.name}-{index}"
        plog = PartitionLog(directory, topic.name, index, self.topic_config(topic.overrides), self.files)
        plog.open(recovery_point, log_start)
        metadata = directory / "partition.metadata"
        if not metadata.exists():
            disk.write_atomically(metadata, f"version: 0\ntopic_id: {topic.topic_id}\n")
        return plog

    def close(self) -> None:
        """Flush and close every log; one that could not be flushed or cut back to its last
        whole batch is recovered at the next start, as after a crash."""
        plogs = list(self.opened_partitions())
        dirty = sum(1 for plog in plogs if plog.unflushed_messages)
        bulk = dirty > BULK_SYNC_PARTITIONS and disk.can_sync_filesystem()
        unfinished = [plog for plog in plogs if not plog.close(flush=not bulk)]
        if bulk:
            try:
                disk.sync_filesystem(self.data_dir)  # the logs, indexes and producer snapshots just written
            except OSError as exc:
                log.error("cannot flush %s at shutdown: %s; the next start recovers every log", self.data_dir,
                          exc.strerror)
                unfinished = plogs
            else:
                for plog in plogs:
                    plog.recovery_point = plog.log_end_offset
        try:
            self._write_checkpoints()
        except OSError as exc:  # the old checkpoints stay: they are behind, never ahead
            log.error("cannot write checkpoints at shutdown: %s", exc.strerror)
        owed = {key: carried.recovery_point for key, carried in self._unopened.items() if carried.owes_recovery}
        owed.update({(plog.topic, plog.partition): plog.recovery_point for plog in unfinished})
        try:
            if owed:
                disk.write_atomically(self.data_dir / RECOVERY_OWED, _format_checkpoint(owed))
            else:
                (self.data_dir / RECOVERY_OWED).unlink(missing_ok=True)
            (self.data_dir / CLEAN_SHUTDOWN).touch()
        except OSError as exc:  # no marker: the next start recovers every log, as after a crash
            log.error("cannot mark the shutdown clean: %s; the next start recovers the logs", exc.strerror)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
        log.info("logs closed in %s", self.data_dir)

    # ---- checkpoints ---------------------------------------------------------------------------
    def recovery_points(self) -> dict[tuple[str, int], int]:
        points = {key: carried.recovery_point for key, carried in self._unopened.items()}
        points.update({(p.topic, p.partition): p.recovery_point for p in self.opened_partitions()})
        return points

    def _write_checkpoints(self) -> None:
        self.write_recovery_points()
        self.write_log_start_offsets()

    def write_recovery_points(self) -> None:
        disk.write_atomically(self.data_dir / RECOVERY_POINTS, _format_checkpoint(self.recovery_points()))

    def write_log_start_offsets(self) -> None:
        starts = {key: carried.log_start for key, carried in self._unopened.items()}
        starts.update({(p.topic, p.partition): p.log_start_offset for p in self.opened_partitions()})
        disk.write_atomically(self.data_dir / LOG_START_OFFSETS, _format_checkpoint(starts))

    # ---- topics ------------------------------------------------------------------------------
    def topic_config(self, overrides: Mapping[str, Any]) -> TopicConfig:
        return TopicConfig.resolve(self.config, overrides)

    def opened_partitions(self) -> Iterator[PartitionLog]:
        """The partitions opened so far: those not opened yet have nothing to flush, expire or
        measure."""
        for topic in self.topics.values():
            yield from topic.partitions.opened()

    def partition(self, topic: str, index: int) -> PartitionLog | None:
        t = self.topics.get(topic)
        if t is None or not 0 <= index < len(t.partitions):
            return None
        return t.partitions[index]

    def check_new_topic(self, name: str, partitions: int, raw_configs: Mapping[str, str | None]) -> dict[str, Any]:
        """Validate a CreateTopics entry; returns the parsed config overrides."""
        validate_topic_name(name)
        if name in self.topics:
            raise TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
        collides = [t for t in self.topics if t.replace(".", "_") == name.replace(".", "_")]
        if collides:
            raise TopicError(
                ErrorCode.INVALID_TOPIC_EXCEPTION,
                f"topic {name!r} collides with existing topic {collides[0]!r}"
                " ('.' and '_' are the same in metric names)",
            )
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise TopicError(
                ErrorCode.INVALID_PARTITIONS, f"partition count must be 1..{MAX_PARTITIONS}, got {partitions}"
            )
        try:
            return parse_topic_configs(raw_configs)
        except ConfigError as exc:
            raise TopicError(ErrorCode.INVALID_CONFIG, str(exc)) from None

    def create_topic(self, name: str, partitions: int, overrides: Mapping[str, Any] | None = None) -> Topic:
        """A new topic; its partitions' files are made when each is first used, so that a topic
        of 100,000 partitions costs the request a list, not 100,000 directories."""
        parsed = self.check_new_topic(name, partitions, {})
        parsed.update(overrides or {})
        topic = self._new_topic(name, uuid.uuid4(), parsed)
        left = self._leftover_directories(name)
        for p in range(partitions):
            self._add_empty_partition(topic, p, left)
        self.topics[name] = topic
        try:
            self._save_topics_file()
        except OSError:
            del self.topics[name]
            for p in range(partitions):
                del self._unopened[(name, p)]
            raise
        log.info("created topic %s with %d partition(s)", name, partitions)
        return topic

    def _leftover_directories(self, topic: str) -> set[str]:
        """The directories named like the topic's partitions (left by a deleted topic of the same
        name): one listing of the data dir, not a look-up per partition, which for 100,000
        partitions would hold the event loop for seconds."""
        prefix = f"{topic}-"
        with os.scandir(self.data_dir) as entries:
            return {entry.name for entry in entries if entry.name.startswith(prefix)}

    def _add_empty_partition(self, topic: Topic, index: int, leftovers: set[str] | None = None) -> None:
        """Add partition `index`, empty and not opened yet (`leftovers`: `_leftover_directories`)."""
        name = f"{topic.name}-{index}"
        left = name in leftovers if leftovers is not None else os.path.lexists(self.data_dir / name)
        if left:  # left by a deleted topic of the same name
            disk.remove_tree(self.data_dir / name)
        key = (topic.name, index)
        self._unopened[key] = Unopened(0, 0, owes_recovery=False)
        topic.partitions.append(None)

    def delete_topic(self, name: str) -> Topic:
        """Forget the topic at once; its directories go a slice at a time (`remove_leftovers`),
        or at the next start if the broker stops first."""
        topic = self.topics.pop(name, None)
        if topic is None:
            raise TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist")
        try:
            self._save_topics_file()
        except OSError:
            self.topics[name] = topic
            raise
        for index in range(len(topic.partitions)):
            plog = topic.partitions.if_open(index)
            if plog is not None:
                for segment in plog.segments:
                    segment.close()
            else:
                del self._unopened[(name, index)]
            self.leftovers.append(self.data_dir / f"{name}-{index}")
        try:
            self.write_log_start_offsets()
        except OSError as exc:  # it lists the deleted partitions until the next checkpoint: harmless
            log.warning("cannot write %s: %s", LOG_START_OFFSETS, exc.strerror)
        log.info("deleted topic %s", name)
        return topic

    def add_partitions(self, name: str, count: int) -> None:
        topic = self.topics[name]
        before = len(topic.partitions)
        for p in range(before, count):
            self._add_empty_partition(topic, p)
        try:
            self._save_topics_file()
        except OSError:
            for p in range(before, count):
                del self._unopened[(name, p)]
            topic.partitions.truncate(before)
            raise
        log.info("topic %s now has %d partitions", name, count)

    def remove_leftovers(self, seconds: float) -> int:
        """Remove directories of deleted topics for about `seconds`; how many are left. One that
        a topic of the same name has taken over meanwhile is that topic's now, and stays."""
        deadline = time.monotonic() + seconds
        while self.leftovers and time.monotonic() < deadline:
            path = self.leftovers.popleft()
            topic_name, _, index = path.name.rpartition("-")
            topic = self.topics.get(topic_name)
            if topic is not None and int(index) < len(topic.partitions):
                continue
            disk.remove_tree(path)
        return len(self.leftovers)

    def set_topic_overrides(self, name: str, overrides: dict[str, Any]) -> None:
        """Save the topic's new overrides, then put them in force (not at all if saving fails)."""
        topic = self.topics[name]
        before, topic.overrides = topic.overrides, overrides
        try:
            self._save_topics_file()
        except OSError:
            topic.overrides = before
            raise
        config = self.topic_config(overrides)
        for plog in topic.partitions.opened():  # the others take it when they open
            plog.config = config
        log.info("topic %s configs now %s", name, overrides or "default")

    # ---- producer ids --------------------------------------------------------------------------
    def allocate_producer_id(self) -> int:
        """A producer id never handed out before, even across crashes (ids are reserved in blocks)."""
        if self.next_producer_id >= self._producer_id_limit:
            before, self._producer_id_limit = self._producer_id_limit, self.next_producer_id + _PRODUCER_ID_BLOCK
            try:
                self._save_topics_file()
            except OSError:  # the block is not reserved: hand out none of it
                self._producer_id_limit = before
                raise
        pid = self.next_producer_id
        self.next_producer_id += 1
        return pid

    def expire_producers(self) -> None:
        horizon = now_ms() - int(self.config["producer.id.expiration.ms"])
        for plog in self.opened_partitions():
            plog.producers.expire(horizon)
