"""The transaction coordinator as a sans-IO state machine: requests in, decisions out.

Each request (InitProducerId with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn,
EndTxn) and each timeout check comes in with the current time; nothing here reads a clock or
touches a file. A `Decision` says what to answer and what must be written first: the transaction
metadata to persist in `__transaction_state` (in force only once `applied` is told it was
written, so a failed write changes nothing), and the commit or abort markers to write to the
transaction's partitions after that. Once the markers are written, `markers_written` gives the
completing transition. One table, `ENTERED_FROM`, says which states each state may be entered
from; `_transit` is the only place a transaction's state changes, and it refuses any other.

The rules are those of Kafka's TransactionCoordinator with transaction version 1 (KIP-98,
KIP-360): InitProducerId bumps the epoch and so fences a zombie, and an ongoing transaction it
finds is aborted first (CONCURRENT_TRANSACTIONS until that is done); a producer whose epoch is
exhausted gets a new producer id; EndTxn moves an ongoing transaction to PrepareCommit or
PrepareAbort, and the markers then complete it; a retried EndTxn of a completed transaction is
answered NONE; a transaction open longer than its timeout is fenced and aborted.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from kctl.protocol.errors import ErrorCode

NO_PRODUCER_ID = -1
NO_EPOCH = -1
#: The last epoch a producer id may have: then the coordinator hands out a new producer id.
MAX_EPOCH = 32767 - 1

TopicPartition = tuple[str, int]


class TxnState(enum.Enum):
    """Kafka's states, by the names DescribeTransactions shows; `code` is the one persisted."""

    EMPTY = ("Empty", 0)
    ONGOING = ("Ongoing", 1)
    PREPARE_COMMIT = ("PrepareCommit", 2)
    PREPARE_ABORT = ("PrepareAbort", 3)
    COMPLETE_COMMIT = ("CompleteCommit", 4)
    COMPLETE_ABORT = ("CompleteAbort", 5)
    DEAD = ("Dead", 6)
    PREPARE_EPOCH_FENCE = ("PrepareEpochFence", 7)

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def code(self) -> int:
        return self.value[1]

    @classmethod
    def of_code(cls, code: int) -> TxnState:
        for state in cls:
            if state.code == code:
                return state
        raise ValueError(f"unknown transaction state {code}")

    @classmethod
    def of_label(cls, label: str) -> TxnState:
        for state in cls:
            if state.label == label:
                return state
        raise ValueError(f"unknown transaction state {label!r}")


S = TxnState
#: The states each state may be entered from (Kafka's validPreviousStates, transaction version 1).
ENTERED_FROM: dict[TxnState, frozenset[TxnState]] = {
    S.EMPTY: frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.ONGOING: frozenset({S.ONGOING, S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.PREPARE_COMMIT: frozenset({S.ONGOING}),
    S.PREPARE_ABORT: frozenset({S.ONGOING, S.PREPARE_EPOCH_FENCE}),
    S.COMPLETE_COMMIT: frozenset({S.PREPARE_COMMIT}),
    S.COMPLETE_ABORT: frozenset({S.PREPARE_ABORT}),
    S.DEAD: frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.PREPARE_EPOCH_FENCE: frozenset({S.ONGOING}),
}
#: States with no transaction under way: InitProducerId may bump the epoch, a transactional id
#: may expire.
AT_REST = frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT})


class IllegalTransition(Exception):
    """A transition `ENTERED_FROM` does not allow: a bug, never a client's doing."""


@dataclass(frozen=True, slots=True)
class TxnMetadata:
    """One transactional id's state, as `__transaction_state` keeps it."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState
    partitions: frozenset[TopicPartition] = frozenset()
    start_ms: int = -1  # when the transaction under way began (its first partition)
    last_update_ms: int = -1
    last_producer_id: int = NO_PRODUCER_ID  # before a rotation to a new producer id
    last_producer_epoch: int = NO_EPOCH  # before the last bump, to recognise a retried InitProducerId


@dataclass(frozen=True, slots=True)
class Markers:
    """Write a commit or abort marker, with this producer id and epoch, to each partition."""

    producer_id: int
    producer_epoch: int
    commit: bool
    partitions: frozenset[TopicPartition]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a request, and what to do before giving it.

    `persist`: write it to `__transaction_state`, then tell `applied`; if that write fails,
    answer its error instead and nothing has changed. `markers`: after `persist` is in force,
    write them and then call `markers_written` for the completing transition. `answer_after`:
    answer only once the markers are written and that transition is in force (a fence inside
    InitProducerId); otherwise answer once `persist` is.
    """

    error: ErrorCode = ErrorCode.NONE
    persist: TxnMetadata | None = None
    markers: Markers | None = None
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_EPOCH


@dataclass(slots=True)
class TransactionMachine:
    allocate_producer_id: Callable[[], int]
    max_timeout_ms: int = 900_000  # transaction.max.timeout.ms
    transactions: dict[str, TxnMetadata] = field(default_factory=dict)
    by_producer: dict[int, str] = field(default_factory=dict)  # producer id -> its transactional id

    # ---- persisted state ------------------------------------------------------------------------
    def applied(self, metadata: TxnMetadata) -> None:
        """`metadata` was written to `__transaction_state`: it is in force now."""
        self._put(metadata.transactional_id, None if metadata.state is S.DEAD else metadata)

    def _put(self, transactional_id: str, metadata: TxnMetadata | None) -> None:
        old = self.transactions.pop(transactional_id, None)
        if old is not None and self.by_producer.get(old.producer_id) == transactional_id:
            del self.by_producer[old.producer_id]
        if metadata is not None:
            self.transactions[transactional_id] = metadata
            self.by_producer[metadata.producer_id] = transactional_id

    def of_producer_id(self, producer_id: int) -> TxnMetadata | None:
        """The transaction of the producer id, if a transactional id has it now."""
        transactional_id = self.by_producer.get(producer_id)
        return None if transactional_id is None else self.transactions.get(transactional_id)

    def load(self, records: Iterable[tuple[str, TxnMetadata | None]]) -> list[Decision]:
        """Rebuild from `__transaction_state` (the newest record per id wins; None deletes), and
        say what is left to do: the markers of transactions that were preparing to end."""
        for transactional_id, metadata in records:
            self._put(transactional_id, metadata)
        return [Decision(markers=markers_of(m)) for m in self.transactions.values()
                if m.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT)]

    # ---- requests -------------------------------------------------------------------------------
    def init_producer_id(self, transactional_id: str, timeout_ms: int, expected: tuple[int, int] | None,
                         now: int) -> Decision:
        """InitProducerId for a transactional producer; `expected` is the (producer id, epoch)
        a producer recovering its own (KIP-360) sends, else None."""
        if not transactional_id:
            return Decision(ErrorCode.INVALID_REQUEST)
        if not 0 < timeout_ms <= self.max_timeout_ms:
            return Decision(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
        current = self.transactions.get(transactional_id)
        if current is None:
            created = TxnMetadata(transactional_id, self.allocate_producer_id(), 0, timeout_ms, S.EMPTY,
                                  last_update_ms=now)
            return _reply(created)
        if expected is not None and not _may_recover(current, *expected):
            return Decision(ErrorCode.PRODUCER_FENCED)
        if current.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return Decision(ErrorCode.CONCURRENT_TRANSACTIONS)  # markers under way: retry soon
        if current.state is S.ONGOING:
            # Fence the producer that began it (epoch + 1, never handed out) and abort; the
            # client retries and then gets the epoch after that.
            return self._fence_and_abort(current, now, ErrorCode.CONCURRENT_TRANSACTIONS)
        if current.state not in AT_REST:
            raise IllegalTransition(f"{transactional_id} is {current.state.label} at InitProducerId")
        if expected is not None and expected[1] != current.producer_epoch and current.producer_epoch != NO_EPOCH:
            if expected[1] == current.last_producer_epoch:
                return _reply(current)  # a retry of a bump whose answer was lost: that epoch again
            return Decision(ErrorCode.PRODUCER_FENCED)
        if current.producer_epoch >= MAX_EPOCH:
            bumped = replace(current, producer_id=self.allocate_producer_id(), producer_epoch=0,
                             last_producer_id=current.producer_id, last_producer_epoch=NO_EPOCH)
        else:
            bumped = replace(current, producer_epoch=current.producer_epoch + 1,
                             last_producer_epoch=current.producer_epoch)
        return _reply(self._transit(replace(bumped, timeout_ms=timeout_ms), S.EMPTY, now,
                                    partitions=frozenset(), start_ms=-1))

    def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                       partitions: Iterable[TopicPartition], now: int) -> Decision:
        """AddPartitionsToTxn (and AddOffsetsToTxn, with the group's `__consumer_offsets`
        partition)."""
        current = self._of_producer(transactional_id, producer_id, producer_epoch)
        if isinstance(current, Decision):
            return current
        if current.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return Decision(ErrorCode.CONCURRENT_TRANSACTIONS)
        wanted = frozenset(partitions)
        if current.state is S.ONGOING and wanted <= current.partitions:
            return Decision()  # nothing new: no write
        start = current.start_ms if current.state is S.ONGOING else now
        return Decision(persist=self._transit(current, S.ONGOING, now, partitions=current.partitions | wanted,
                                              start_ms=start))

    def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool,
                now: int) -> Decision:
        """EndTxn from the producer: commit or abort the transaction under way."""
        current = self._of_producer(transactional_id, producer_id, producer_epoch)
        if isinstance(current, Decision):
            return current
        return self._end(current, commit, now)

    def markers_written(self, transactional_id: str, now: int) -> Decision:
        """The markers of a transaction preparing to end are all written: complete it."""
        current = self.transactions.get(transactional_id)
        if current is None or current.state not in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return Decision()  # completed already (markers written twice after a restart)
        done = S.COMPLETE_COMMIT if current.state is S.PREPARE_COMMIT else S.COMPLETE_ABORT
        return Decision(persist=self._transit(current, done, now, partitions=frozenset()),
                        producer_id=current.producer_id, producer_epoch=current.producer_epoch)

    def timed_out(self, now: int) -> list[Decision]:
        """Transactions open longer than their timeout: each is fenced and aborted."""
        return [self._fence_and_abort(m, now, ErrorCode.NONE) for m in list(self.transactions.values())
                if m.state is S.ONGOING and m.start_ms >= 0 and now - m.start_ms > m.timeout_ms]

    def expired_ids(self, now: int, expiration_ms: int) -> list[Decision]:
        """Transactional ids at rest and unused for `transactional.id.expiration.ms`: each goes."""
        return [Decision(persist=self._transit(m, S.DEAD, now)) for m in list(self.transactions.values())
                if m.state in AT_REST and now - m.last_update_ms > expiration_ms]

    def _of_producer(self, transactional_id: str, producer_id: int, epoch: int) -> TxnMetadata | Decision:
        """The transaction a client's request names, or the refusal: it must name the
        transaction's producer id and its current epoch."""
        if not transactional_id:
            return Decision(ErrorCode.INVALID_REQUEST)
        current = self.transactions.get(transactional_id)
        if current is None or current.producer_id != producer_id:
            return Decision(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        if epoch != current.producer_epoch:
            return Decision(ErrorCode.PRODUCER_FENCED)
        return current

    # ---- the transitions ------------------------------------------------------------------------
    def _end(self, current: TxnMetadata, commit: bool, now: int) -> Decision:
        state = current.state
        wanted_prepare = S.PREPARE_COMMIT if commit else S.PREPARE_ABORT
        wanted_complete = S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT
        if state is S.ONGOING:
            prepared = self._transit(current, wanted_prepare, now)
            return Decision(persist=prepared, markers=markers_of(prepared))
        if state is wanted_complete:
            return Decision()  # a retry of an EndTxn that was done
        if state is wanted_prepare:
            return Decision(ErrorCode.CONCURRENT_TRANSACTIONS)  # a retry while the markers go out
        if state in (S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT, S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return Decision(ErrorCode.INVALID_TXN_STATE)
        raise IllegalTransition(f"{current.transactional_id} is {state.label} at EndTxn")

    def _fence_and_abort(self, current: TxnMetadata, now: int, answer: ErrorCode) -> Decision:
        """Kafka's epoch fence: the epoch goes up by one (PrepareEpochFence, never persisted on
        its own), then the transaction is aborted with that epoch, so markers and the next
        InitProducerId fence the producer that began it."""
        fenced = self._transit(current, S.PREPARE_EPOCH_FENCE, now)
        epoch = current.producer_epoch + 1 if current.producer_epoch < MAX_EPOCH else current.producer_epoch
        aborting = self._transit(replace(fenced, producer_epoch=epoch, last_producer_epoch=NO_EPOCH),
                                 S.PREPARE_ABORT, now)
        return Decision(answer, persist=aborting, markers=markers_of(aborting))

    @staticmethod
    def _transit(current: TxnMetadata, to: TxnState, now: int, **changes: object) -> TxnMetadata:
        if current.state not in ENTERED_FROM[to]:
            raise IllegalTransition(f"{current.transactional_id}: {current.state.label} -> {to.label}")
        return replace(current, state=to, last_update_ms=now, **changes)  # type: ignore[arg-type]


def _reply(metadata: TxnMetadata) -> Decision:
    return Decision(persist=metadata, producer_id=metadata.producer_id, producer_epoch=metadata.producer_epoch)


def markers_of(metadata: TxnMetadata) -> Markers:
    return Markers(metadata.producer_id, metadata.producer_epoch, metadata.state is S.PREPARE_COMMIT,
                   metadata.partitions)


def _may_recover(current: TxnMetadata, producer_id: int, epoch: int) -> bool:
    """KIP-360: whether a producer that names its own id and epoch may be given the next one."""
    return (current.producer_epoch == NO_EPOCH or producer_id == current.producer_id
            or (producer_id == current.last_producer_id and epoch >= MAX_EPOCH))
