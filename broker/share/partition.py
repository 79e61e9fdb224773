"""One share partition (KIP-932): which records of a topic partition a share group has delivered,
to whom, how often, and what became of them. A sans-IO state machine: the driver passes in the
time, the offsets the log holds, and the group's settings; nothing here reads a clock or a file.

Records below the share-partition start offset (SPSO) are done. From there on each record is
AVAILABLE (never delivered, released, or its lock ran out), ACQUIRED by one member until its lock
expires, ACKNOWLEDGED, or ARCHIVED (rejected, a gap, or delivered `delivery_count_limit` times).
Records past the end offset (SPEO) have never been acquired. One table, `ACKNOWLEDGE`, says what
each acknowledgement does to an acquired record.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from kctl.protocol.errors import ErrorCode


class RecordState(enum.IntEnum):
    """As Kafka numbers them (they are persisted)."""

    AVAILABLE = 0
    ACQUIRED = 1
    ACKNOWLEDGED = 2
    ARCHIVED = 4


class AckType(enum.IntEnum):
    GAP = 0  # the offset holds no record (compacted away, or a transaction marker)
    ACCEPT = 1
    RELEASE = 2
    REJECT = 3
    RENEW = 4  # keep the lock a while longer (ShareFetch/ShareAcknowledge v2)


class Outcome(enum.Enum):
    DONE = "done"  # acknowledged
    ARCHIVE = "archive"
    RELEASE = "release"  # available again, unless delivered too often already
    RENEW = "renew"


#: What an acknowledgement does to a record the member holds.
ACKNOWLEDGE: dict[AckType, Outcome] = {
    AckType.GAP: Outcome.ARCHIVE,
    AckType.ACCEPT: Outcome.DONE,
    AckType.RELEASE: Outcome.RELEASE,
    AckType.REJECT: Outcome.ARCHIVE,
    AckType.RENEW: Outcome.RENEW,
}


@dataclass(slots=True)
class InFlight:
    state: RecordState
    delivery_count: int
    owner: str | None = None
    deadline: float = 0.0  # when the lock of an ACQUIRED record runs out


@dataclass(frozen=True, slots=True)
class Acquired:
    first_offset: int
    last_offset: int
    delivery_count: int


class AcknowledgeError(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = error.code
        self.message = message


class SharePartition:
    def __init__(self, start_offset: int, state_epoch: int = 0) -> None:
        self.start_offset = start_offset
        self.end_offset = start_offset  # the next offset never acquired
        self.state_epoch = state_epoch
        self.in_flight: dict[int, InFlight] = {}  # offsets in [start, end) not yet done with

    def __repr__(self) -> str:
        return f"<SharePartition start {self.start_offset} end {self.end_offset} in flight {len(self.in_flight)}>"

    # ---- what may be delivered next ---------------------------------------------------------------
    def next_offset(self) -> int:
        """Where the next delivery may start: the first available record, else the end offset."""
        available = [o for o, r in self.in_flight.items() if r.state is RecordState.AVAILABLE]
        return min(available, default=self.end_offset)

    def acquire(self, member_id: str, candidates: Iterable[tuple[int, int]], max_records: int, *,
                now: float, lock_ms: int, max_in_flight: int, strict: bool = False) -> list[Acquired]:
        """Lock for `member_id` up to `max_records` available records among the `candidates`
        (first, last offset of each record batch the log holds, in order). Without `strict`, a
        batch begun is taken whole, as Kafka's batch-optimized mode does."""
        taken: list[tuple[int, int]] = []  # (offset, delivery count)
        deadline = now + lock_ms / 1000
        for first, last in candidates:
            if len(taken) >= max_records:
                break
            for offset in range(max(first, self.start_offset), last + 1):
                if strict and len(taken) >= max_records:
                    break
                record = self.in_flight.get(offset)
                if record is None:
                    if offset < self.end_offset:
                        continue  # done with already
                    if self.end_offset - self.start_offset >= max_in_flight:
                        break
                    record = self.in_flight[offset] = InFlight(RecordState.AVAILABLE, 0)
                    self.end_offset = offset + 1
                if record.state is not RecordState.AVAILABLE:
                    continue
                record.state, record.owner, record.deadline = RecordState.ACQUIRED, member_id, deadline
                record.delivery_count += 1
                taken.append((offset, record.delivery_count))
        return _ranges(taken)

    # ---- acknowledgements and locks --------------------------------------------------------------------
    def acknowledge(self, member_id: str, batches: Iterable[tuple[int, int, list[int]]], *, now: float,
                    lock_ms: int, delivery_limit: int) -> None:
        """Apply a member's acknowledgements (first, last offset, one type or one per offset): all
        of them, or none when any names a record the member does not hold."""
        changes: list[tuple[int, AckType]] = []
        for first, last, types in batches:
            if last < first or not types or (len(types) != 1 and len(types) != last - first + 1):
                raise AcknowledgeError(ErrorCode.INVALID_REQUEST, f"bad acknowledgement batch {first}-{last}")
            for offset in range(first, last + 1):
                try:
                    kind = AckType(types[0] if len(types) == 1 else types[offset - first])
                except ValueError:
                    raise AcknowledgeError(ErrorCode.INVALID_REQUEST, f"unknown acknowledge type at {offset}") from None
                record = self.in_flight.get(offset)
                if record is None or record.state is not RecordState.ACQUIRED or record.owner != member_id:
                    raise AcknowledgeError(ErrorCode.INVALID_RECORD_STATE,
                                           f"offset {offset} is not held by member {member_id}")
                changes.append((offset, kind))
        for offset, kind in changes:
            record = self.in_flight[offset]
            outcome = ACKNOWLEDGE[kind]
            if outcome is Outcome.RENEW:
                record.deadline = now + lock_ms / 1000
            elif outcome is Outcome.DONE:
                self._finish(record, RecordState.ACKNOWLEDGED)
            elif outcome is Outcome.ARCHIVE:
                self._finish(record, RecordState.ARCHIVED)
            else:
                self._release(record, delivery_limit)
        self._advance()

    def expire(self, now: float, delivery_limit: int) -> int:
        """Locks that ran out go back (or to the archive, once delivered `delivery_limit` times);
        returns how many."""
        expired = [r for r in self.in_flight.values() if r.state is RecordState.ACQUIRED and r.deadline <= now]
        for record in expired:
            self._release(record, delivery_limit)
        self._advance()
        return len(expired)

    def release_member(self, member_id: str, delivery_limit: int) -> int:
        """A member left or its share session closed: what it held goes back."""
        held = [r for r in self.in_flight.values() if r.state is RecordState.ACQUIRED and r.owner == member_id]
        for record in held:
            self._release(record, delivery_limit)
        self._advance()
        return len(held)

    def next_deadline(self) -> float | None:
        return min((r.deadline for r in self.in_flight.values() if r.state is RecordState.ACQUIRED), default=None)

    def _finish(self, record: InFlight, state: RecordState) -> None:
        record.state, record.owner = state, None

    def _release(self, record: InFlight, delivery_limit: int) -> None:
        record.owner = None
        record.state = RecordState.ARCHIVED if record.delivery_count >= delivery_limit else RecordState.AVAILABLE

    def _advance(self) -> None:
        """Move the start offset over every record done with at the front."""
        offset = self.start_offset
        while offset < self.end_offset:
            record = self.in_flight.get(offset)
            if record is not None and record.state not in (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED):
                break
            self.in_flight.pop(offset, None)
            offset += 1
        self.start_offset = offset

    # ---- what an operator sees -------------------------------------------------------------------------
    def done_past_start(self) -> int:
        """Records past the start offset already acknowledged or archived (they do not count as lag)."""
        return sum(1 for r in self.in_flight.values()
                   if r.state in (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED))

    def lag(self, high_watermark: int) -> int:
        return max(high_watermark - self.start_offset - self.done_past_start(), 0)

    def reset(self, start_offset: int) -> None:
        """AlterShareGroupOffsets: start over from `start_offset`, forgetting every delivery."""
        self.start_offset = self.end_offset = start_offset
        self.in_flight.clear()
        self.state_epoch += 1

    # ---- persistence -----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, object]:
        """What survives a restart: acquired records are kept as available (their locks die with the
        broker), with their delivery counts."""
        batches: list[list[int]] = []
        for offset in sorted(self.in_flight):
            record = self.in_flight[offset]
            state = RecordState.AVAILABLE if record.state is RecordState.ACQUIRED else record.state
            if batches and batches[-1][1] == offset - 1 and batches[-1][2:] == [state, record.delivery_count]:
                batches[-1][1] = offset
            else:
                batches.append([offset, offset, int(state), record.delivery_count])
        return {"start": self.start_offset, "end": self.end_offset, "epoch": self.state_epoch, "batches": batches}

    @classmethod
    def restore(cls, snapshot: dict[str, object]) -> SharePartition:
        start, end, epoch = int(snapshot["start"]), int(snapshot["end"]), int(snapshot["epoch"])  # type: ignore[call-overload]
        partition = cls(start, epoch)
        partition.end_offset = end
        for first, last, state, count in snapshot["batches"]:  # type: ignore[attr-defined]
            for offset in range(first, last + 1):
                partition.in_flight[offset] = InFlight(RecordState(state), count)
        return partition


def _ranges(taken: list[tuple[int, int]]) -> list[Acquired]:
    """Consecutive offsets with the same delivery count, as AcquiredRecords ranges."""
    out: list[Acquired] = []
    for offset, count in taken:
        if out and out[-1].last_offset == offset - 1 and out[-1].delivery_count == count:
            out[-1] = Acquired(out[-1].first_offset, offset, count)
        else:
            out.append(Acquired(offset, offset, count))
    return out
