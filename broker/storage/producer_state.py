"""Producer bookkeeping for one partition: idempotence and transactions.

Kafka keeps the sequence ranges of the last five batches per producer id, matching the client's
cap of five in-flight requests, so a retried batch is recognised and answered with the offsets it
got the first time instead of being written twice.

For transactions it keeps, as Kafka's ProducerStateManager does, where each producer's open
transaction began in this partition (the earliest of those is the last stable offset, below
which read_committed consumers may read), and the index of aborted transactions that a
read_committed fetch returns so the consumer can drop their records.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import BatchHeader

from . import disk

BATCHES_TO_RETAIN = 5


@dataclass(slots=True)
class BatchRange:
    first_sequence: int
    last_sequence: int
    first_offset: int
    last_offset: int


@dataclass(slots=True)
class ProducerEntry:
    epoch: int
    batches: deque[BatchRange] = field(default_factory=lambda: deque(maxlen=BATCHES_TO_RETAIN))
    last_timestamp: int = -1


@dataclass(frozen=True, slots=True)
class AbortedTxn:
    """An aborted transaction's records in this partition: from its first offset to the offset
    of its abort marker."""

    producer_id: int
    first_offset: int
    last_offset: int


class SequenceError(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error


def _next_sequence(sequence: int, count: int) -> int:
    """Sequences wrap at int32 max back to zero, as in Kafka."""
    return (sequence + count) % (2**31)


class ProducerState:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}
        self.ongoing: dict[int, int] = {}  # producer id -> first offset of its open transaction
        self.aborted: list[AbortedTxn] = []  # by last offset, as the markers were written

    def check(self, header: BatchHeader) -> BatchRange | None:
        """Validate a batch's sequence; a duplicate returns the range it was first written at.

        Raises SequenceError for a fenced epoch or a gap in the sequence.
        """
        pid = header.producer_id
        if pid < 0 or header.base_sequence < 0:  # not idempotent (the broker's own batches)
            return None
        entry = self.producers.get(pid)
        if entry is None:
            return None  # unknown or expired producer: accept whatever sequence it starts at
        if header.producer_epoch < entry.epoch:
            raise SequenceError(
                ErrorCode.INVALID_PRODUCER_EPOCH,
                f"producer {pid} epoch {header.producer_epoch} is older than {entry.epoch}",
            )
        if header.producer_epoch > entry.epoch:
            if header.base_sequence != 0:
                raise SequenceError(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    f"producer {pid} new epoch {header.producer_epoch} must start at sequence 0",
                )
            return None
        last_sequence = _next_sequence(header.base_sequence, header.last_offset_delta)
        for batch in entry.batches:
            if batch.first_sequence == header.base_sequence and batch.last_sequence == last_sequence:
                return batch
        if entry.batches:
            expected = _next_sequence(entry.batches[-1].last_sequence, 1)
            if header.base_sequence != expected:
                raise SequenceError(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    f"producer {pid} sent sequence {header.base_sequence}, expected {expected}",
                )
        return None

    def update(self, header: BatchHeader, first_offset: int) -> None:
        pid = header.producer_id
        if pid < 0:
            return
        if header.is_transactional and not header.is_control and pid not in self.ongoing:
            self.ongoing[pid] = first_offset
        if header.base_sequence < 0:
            return
        entry = self.producers.get(pid)
        if entry is None or header.producer_epoch != entry.epoch:
            entry = ProducerEntry(header.producer_epoch)
            self.producers[pid] = entry
        entry.batches.append(
            BatchRange(
                header.base_sequence,
                _next_sequence(header.base_sequence, header.last_offset_delta),
                first_offset,
                first_offset + header.last_offset_delta,
            )
        )
        entry.last_timestamp = header.max_timestamp

    def end_transaction(self, producer_id: int, epoch: int, commit: bool, marker_offset: int,
                        timestamp: int) -> AbortedTxn | None:
        """A commit or abort marker was written at `marker_offset`: the producer's transaction here
        is over. A marker of a newer epoch (a fenced producer's transaction aborted by the
        coordinator) makes that epoch the current one, so the fenced producer cannot write."""
        first = self.ongoing.pop(producer_id, None)
        entry = self.producers.get(producer_id)
        if entry is None:
            self.producers[producer_id] = ProducerEntry(epoch, last_timestamp=timestamp)
        elif epoch > entry.epoch:
            entry.epoch = epoch
            entry.batches.clear()
            entry.last_timestamp = timestamp
        if commit or first is None:
            return None
        aborted = AbortedTxn(producer_id, first, marker_offset)
        self.aborted.append(aborted)
        return aborted

    def first_unstable_offset(self) -> int | None:
        """Where the earliest open transaction began, if one is open."""
        return min(self.ongoing.values()) if self.ongoing else None

    def aborted_between(self, start: int, end: int) -> list[AbortedTxn]:
        """Aborted transactions with records in [start, end): what a read_committed fetch of that
        range must be told about."""
        first = bisect_left(self.aborted, start, key=lambda a: a.last_offset)
        return [a for a in self.aborted[first:] if a.first_offset < end]

    def forget_aborted_below(self, log_start_offset: int) -> None:
        """Retention or DeleteRecords removed everything below `log_start_offset`."""
        first = bisect_left(self.aborted, log_start_offset, key=lambda a: a.last_offset)
        if first:
            del self.aborted[:first]

    def expire(self, older_than_ms: int) -> None:
        stale = [pid for pid, e in self.producers.items()
                 if 0 <= e.last_timestamp < older_than_ms and pid not in self.ongoing]
        for pid in stale:
            del self.producers[pid]

    # ---- snapshots -----------------------------------------------------------------------------
    def save(self, path: Path, offset: int) -> None:
        data = {
            "offset": offset,
            "producers": {
                str(pid): {
                    "epoch": e.epoch,
                    "last_timestamp": e.last_timestamp,
                    "batches": [[b.first_sequence, b.last_sequence, b.first_offset, b.last_offset] for b in e.batches],
                }
                for pid, e in self.producers.items()
            },
            "ongoing": {str(pid): first for pid, first in self.ongoing.items()},
            "aborted": [[a.producer_id, a.first_offset, a.last_offset] for a in self.aborted],
        }
        # Not fsynced: a clean stop syncs every file at once, and a lost snapshot is replayed.
        disk.write_atomically(path, json.dumps(data), durable=False)

    @classmethod
    def load(cls, path: Path) -> tuple[ProducerState, int]:
        """The saved state and the log offset it covers up to; empty at offset 0 if unreadable."""
        state = cls()
        try:
            data = json.loads(path.read_text())
            for pid, raw in data["producers"].items():
                entry = ProducerEntry(int(raw["epoch"]), last_timestamp=int(raw["last_timestamp"]))
                for b in raw["batches"]:
                    entry.batches.append(BatchRange(*(int(x) for x in b)))
                state.producers[int(pid)] = entry
            state.ongoing = {int(pid): int(first) for pid, first in data.get("ongoing", {}).items()}
            state.aborted = [AbortedTxn(int(p), int(f), int(last)) for p, f, last in data.get("aborted", [])]
            return state, int(data["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return cls(), 0
