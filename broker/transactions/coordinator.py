"""The transaction coordinator: the asyncio driver of `TransactionMachine`.

It passes the wall clock in, carries out each `Decision` in the order the machine requires
(persist to `__transaction_state`, then the markers, then the completing transition) and answers
the client once what the answer depends on is in force. Markers are appended in-process, so a
transaction's partitions hear of its end in the same step as its PrepareCommit is written; a
marker that cannot be written (a full disk) is retried by `tick` until it is, and the
transaction stays PrepareCommit or PrepareAbort, undecided to readers, until then.

At start the machine is rebuilt from `__transaction_state`; transactions a crash left preparing
get their markers then, so each is committed or aborted everywhere, never half visible.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import BatchHeader, encode_batch

from ..config import BrokerConfig
from ..groups.coordinator import GroupCoordinator
from ..groups.offsets_topic import TOPIC as OFFSETS_TOPIC
from ..storage.log import AppendError, PartitionLog
from ..storage.manager import LogManager
from .log import TOPIC, partition_of, record_of, replay
from .machine import (
    AT_REST,
    Decision,
    Markers,
    TopicPartition,
    TransactionMachine,
    TxnMetadata,
    TxnState,
    markers_of,
)

log = logging.getLogger("broker.transactions")

Waits = list["asyncio.Future[None]"]


@dataclass(slots=True)
class Outcome:
    """What a request gets: its error, the producer id and epoch (InitProducerId), and the
    writes to wait for before answering (fsync, under a flush policy)."""

    error: ErrorCode = ErrorCode.NONE
    producer_id: int = -1
    producer_epoch: int = -1
    waits: Waits = field(default_factory=list)


class TransactionCoordinator:
    def __init__(self, config: BrokerConfig, logs: LogManager, groups: GroupCoordinator,
                 after_append: Callable[[PartitionLog], asyncio.Future[None] | None]) -> None:
        self.logs = logs
        self.groups = groups
        self._after_append = after_append
        self.machine = TransactionMachine(logs.allocate_producer_id, config["transaction.max.timeout.ms"])
        self.state_partitions: int = config["transaction.state.log.num.partitions"]
        self.state_segment_bytes: int = config["transaction.state.log.segment.bytes"]
        self.id_expiration_ms: int = config["transactional.id.expiration.ms"]
        #: Transactions whose markers are not all written: transactional id -> partitions left.
        self.unfinished: dict[str, set[TopicPartition]] = {}
        self._resume: list[Decision] = []

    # ---- lifecycle ------------------------------------------------------------------------------
    def load(self) -> int:
        """Rebuild the machine from `__transaction_state` (any thread, before serving); returns
        how many records were read."""
        topic = self.logs.topics.get(TOPIC)
        if topic is None:
            return 0
        records = list(replay(topic.partitions))
        self._resume = self.machine.load(records)
        return len(records)

    def start(self, now: int | None = None) -> None:
        """Finish what a crash interrupted: the markers of transactions that were ending."""
        now = now_ms() if now is None else now
        for decision in self._resume:
            assert decision.markers is not None
            ending = self.machine.of_producer_id(decision.markers.producer_id)
            if ending is None:
                continue
            log.info("transaction %s: writing the %s markers a restart interrupted", ending.transactional_id,
                     "commit" if decision.markers.commit else "abort")
            self._write_markers(ending.transactional_id, decision.markers, now, [])
        self._resume = []

    # ---- the state topic ----------------------------------------------------------------------
    def state_log(self, transactional_id: str) -> PartitionLog:
        """The `__transaction_state` partition of `transactional_id` (made on first use)."""
        topic = self.logs.topics.get(TOPIC)
        if topic is None:
            topic = self.logs.create_topic(TOPIC, self.state_partitions, {
                "cleanup.policy": "compact", "segment.bytes": self.state_segment_bytes,
                "compression.type": "uncompressed", "min.insync.replicas": 1})
        return topic.partitions[partition_of(transactional_id, len(topic.partitions))]

    def _persist(self, metadata: TxnMetadata, waits: Waits) -> bool:
        """Write `metadata` and put it in force; False (nothing changed) if it cannot be written."""
        plog = self.state_log(metadata.transactional_id)
        try:
            plog.append(encode_batch([record_of(metadata)]), trusted=True)
        except (AppendError, OSError) as exc:
            log.error("transaction %s: cannot write its state: %s", metadata.transactional_id, exc)
            return False
        self.machine.applied(metadata)
        wait = self._after_append(plog)
        if wait is not None:
            waits.append(wait)
        return True

    # ---- carrying out decisions ---------------------------------------------------------------
    def _carry_out(self, decision: Decision, now: int) -> Outcome:
        outcome = Outcome(decision.error, decision.producer_id, decision.producer_epoch)
        if decision.persist is not None and not self._persist(decision.persist, outcome.waits):
            return Outcome(ErrorCode.COORDINATOR_NOT_AVAILABLE)  # retriable: the client tries again
        if decision.markers is not None and decision.persist is not None:
            self._write_markers(decision.persist.transactional_id, decision.markers, now, outcome.waits)
        return outcome

    def _write_markers(self, transactional_id: str, markers: Markers, now: int, waits: Waits) -> None:
        """Write the markers still owed, then complete the transaction; what cannot be written
        now is left in `unfinished` for `tick`."""
        left = self.unfinished.setdefault(transactional_id, set(markers.partitions))
        for topic, partition in sorted(left):
            plog = self.logs.partition(topic, partition)
            if plog is not None:  # else the topic was deleted meanwhile: nobody reads it
                try:
                    plog.append_marker(markers.producer_id, markers.producer_epoch, markers.commit, now)
                except AppendError as exc:
                    log.error("transaction %s: cannot write its %s marker to %s-%d: %s; trying again",
                              transactional_id, "commit" if markers.commit else "abort", topic, partition,
                              exc.message)
                    return
                if topic == OFFSETS_TOPIC:
                    self.groups.end_transaction(markers.producer_id, markers.commit, partition)
                wait = self._after_append(plog)
                if wait is not None:
                    waits.append(wait)
            left.discard((topic, partition))
        completing = self.machine.markers_written(transactional_id, now)
        if completing.persist is None or self._persist(completing.persist, waits):
            del self.unfinished[transactional_id]

    def tick(self, now: int | None = None) -> None:
        """Retry owed markers, and abort transactions open longer than their timeout."""
        now = now_ms() if now is None else now
        for transactional_id in list(self.unfinished):
            current = self.machine.transactions.get(transactional_id)
            if current is None or current.state in AT_REST:
                del self.unfinished[transactional_id]
                continue
            self._write_markers(transactional_id, markers_of(current), now, [])
        for decision in self.machine.timed_out(now):
            assert decision.persist is not None
            log.info("transaction %s (producer %d) timed out after %d ms: aborting it",
                     decision.persist.transactional_id, decision.persist.producer_id, decision.persist.timeout_ms)
            self._carry_out(decision, now)

    def expire_ids(self, now: int | None = None) -> int:
        """Forget transactional ids unused for `transactional.id.expiration.ms`."""
        now = now_ms() if now is None else now
        expired = 0
        for decision in self.machine.expired_ids(now, self.id_expiration_ms):
            if self._carry_out(decision, now).error is ErrorCode.NONE:
                expired += 1
        return expired

    # ---- requests -------------------------------------------------------------------------------
    def init_producer_id(self, transactional_id: str, timeout_ms: int, expected: tuple[int, int] | None) -> Outcome:
        now = now_ms()
        if transactional_id in self.unfinished:
            return Outcome(ErrorCode.CONCURRENT_TRANSACTIONS)
        try:
            decision = self.machine.init_producer_id(transactional_id, timeout_ms, expected, now)
        except OSError:  # a new producer id's block could not be reserved on disk
            return Outcome(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        return self._carry_out(decision, now)

    def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                       partitions: Iterable[TopicPartition]) -> Outcome:
        now = now_ms()
        if transactional_id in self.unfinished:
            return Outcome(ErrorCode.CONCURRENT_TRANSACTIONS)
        return self._carry_out(self.machine.add_partitions(transactional_id, producer_id, producer_epoch,
                                                           partitions, now), now)

    def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool) -> Outcome:
        now = now_ms()
        return self._carry_out(self.machine.end_txn(transactional_id, producer_id, producer_epoch, commit, now), now)

    def check_member(self, transactional_id: str, producer_id: int, producer_epoch: int,
                     partition: TopicPartition) -> ErrorCode | None:
        """Whether the producer's ongoing transaction includes `partition` (TxnOffsetCommit's and a
        transactional produce's check); None if it does."""
        current = self.machine.transactions.get(transactional_id)
        if current is None or current.producer_id != producer_id:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING
        if producer_epoch != current.producer_epoch:
            return ErrorCode.PRODUCER_FENCED
        if current.state is not TxnState.ONGOING or partition not in current.partitions:
            return ErrorCode.INVALID_TXN_STATE
        return None

    def produce_check(self, topic: str, partition: int) -> Callable[[BatchHeader], ErrorCode | None]:
        """For the log: whether a transactional batch's producer has `topic`-`partition` in its
        ongoing transaction (the verification KIP-890 added to Kafka 3.6)."""
        def check(header: BatchHeader) -> ErrorCode | None:
            current = self.machine.of_producer_id(header.producer_id)
            if current is None:
                return ErrorCode.INVALID_PRODUCER_ID_MAPPING
            if header.producer_epoch != current.producer_epoch:
                return ErrorCode.INVALID_PRODUCER_EPOCH
            if current.state is not TxnState.ONGOING or (topic, partition) not in current.partitions:
                return ErrorCode.INVALID_TXN_STATE
            return None

        return check

    def write_marker(self, topic: str, partition: int, producer_id: int, producer_epoch: int, commit: bool,
                     waits: Waits) -> ErrorCode:
        """WriteTxnMarkers: a marker asked for from outside, as an administrator aborts a hanging
        transaction (one this coordinator does not know has the partition) with."""
        plog = self.logs.partition(topic, partition)
        if plog is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        known = plog.producers.producers.get(producer_id)
        if known is not None and producer_epoch < known.epoch:
            return ErrorCode.INVALID_PRODUCER_EPOCH
        try:
            plog.append_marker(producer_id, producer_epoch, commit)
        except AppendError as exc:
            return exc.error
        log.info("%s marker written to %s-%d for producer %d (epoch %d) on request",
                 "commit" if commit else "abort", topic, partition, producer_id, producer_epoch)
        if topic == OFFSETS_TOPIC:
            self.groups.end_transaction(producer_id, commit, partition)
        wait = self._after_append(plog)
        if wait is not None:
            waits.append(wait)
        return ErrorCode.NONE

    # ---- describing -------------------------------------------------------------------------------
    def describe(self, transactional_id: str) -> TxnMetadata | None:
        return self.machine.transactions.get(transactional_id)

    def listing(self) -> list[TxnMetadata]:
        return list(self.machine.transactions.values())
