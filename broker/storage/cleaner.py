"""Log compaction as a job in three steps, so the slow part runs off the event loop.

1. `PartitionLog.compaction_job` (event loop): which closed segments to clean. Closed segments are
   never appended to, so a worker thread may read them while the loop goes on serving.
2. `CompactionJob.run` (worker thread): read those segments through descriptors of its own, keep
   the latest record per key (and tombstones younger than delete.retention.ms), write each
   cleaned segment beside the original and fsync it.
3. `CompactionJob.finish` (event loop): swap each cleaned file in, unless retention deleted or
   another cleaning rewrote its segment meanwhile; then the segment's generation changes, so a
   fetch's file range into the old file is not sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kctl.protocol.compression import Compression
from kctl.protocol.records import (
    HEADER_SIZE,
    Record,
    RecordBatch,
    TimestampType,
    decode_batch,
    encode_batch,
    peek_batch_header,
)

from . import disk

if TYPE_CHECKING:
    from .log import PartitionLog
    from .segment import Segment

log = logging.getLogger("broker.storage")


class CompactionJob:
    def __init__(self, plog: PartitionLog, segments: list[Segment], now: int, tombstone_horizon: int) -> None:
        self.plog = plog
        self.now = now
        self.tombstone_horizon = tombstone_horizon
        # What the worker reads: the path, generation and size of each segment as it is now.
        self.sources = [(segment, segment.generation, segment.log_path, segment.size) for segment in segments]
        self.cleaned: list[tuple[Segment, int, Path, int]] = []  # segment, generation, cleaned file, dropped
        self.abandoned = False
        # Aborted transactions' records are dropped, and never hide an older committed value.
        self.aborted: dict[int, list[tuple[int, int]]] = {}
        for aborted in plog.producers.aborted:
            self.aborted.setdefault(aborted.producer_id, []).append((aborted.first_offset, aborted.last_offset))

    def run(self) -> None:
        """The reading and writing, on any thread: touches no state of the partition. A segment
        that retention deleted meanwhile ends the job with nothing cleaned. Raises ProtocolError
        for data it cannot read and OSError for files it cannot write: `discard` then."""
        try:
            self._clean()
        except FileNotFoundError:
            self.discard()

    def discard(self) -> None:
        """Drop what was cleaned so far: the partition stays exactly as it was."""
        for _, _, cleaned, _ in self.cleaned:
            cleaned.unlink(missing_ok=True)
        self.cleaned = []
        self.abandoned = True

    def _clean(self) -> None:
        latest: dict[bytes, int] = {}
        for _, _, path, size in self.sources:
            for batch in _batches(path, size):
                if batch.header.is_control or self._was_aborted(batch):
                    continue
                for record in batch.records:
                    if record.key is not None and record.offset is not None:
                        latest[record.key] = record.offset
        for segment, generation, path, size in self.sources:
            out = bytearray()
            dropped = 0
            for batch in _batches(path, size):
                if batch.header.is_control:  # kept: read_committed consumers need every marker
                    out += _rebuilt(batch, batch.records)
                    continue
                if self._was_aborted(batch):
                    dropped += len(batch.records)
                    continue
                keep = [r for r in batch.records
                        if r.key is None or (latest.get(r.key) == r.offset
                                             and not _expired_tombstone(r, self.tombstone_horizon))]
                dropped += len(batch.records) - len(keep)
                if keep:
                    out += _rebuilt(batch, keep)
            if not dropped:
                continue
            cleaned = path.with_suffix(".cleaned")
            disk.write_new_file(cleaned, out)
            self.cleaned.append((segment, generation, cleaned, dropped))

    def _was_aborted(self, batch: RecordBatch) -> bool:
        header = batch.header
        if not header.is_transactional:
            return False
        return any(first <= header.base_offset <= last for first, last in self.aborted.get(header.producer_id, ()))

    def finish(self) -> int:
        """Swap the cleaned files in (on the event loop); returns the records removed."""
        plog = self.plog
        removed = 0
        for segment, generation, cleaned, dropped in self.cleaned:
            if segment not in plog.segments or segment.generation != generation:
                cleaned.unlink(missing_ok=True)  # deleted by retention, or cleaned again meanwhile
                continue
            segment.replace_file(cleaned)
            removed += dropped
        if self.abandoned:
            return 0
        plog.cleaned_up_to = max(plog.cleaned_up_to, self.sources[-1][0].next_offset)
        plog.cleaned_at_ms = self.now
        if removed:
            log.info("%s-%d: compaction removed %d records", plog.topic, plog.partition, removed)
        return removed


def _batches(path: Path, size: int) -> Iterator[RecordBatch]:
    """The batches of the first `size` bytes of a segment file, through a descriptor of our own."""
    fd = os.open(path, os.O_RDONLY)
    try:
        position = 0
        while position + HEADER_SIZE <= size:
            header = peek_batch_header(os.pread(fd, HEADER_SIZE, position), 0)
            yield decode_batch(os.pread(fd, header.size, position), verify_crc=False)
            position += header.size
    finally:
        os.close(fd)


def _rebuilt(batch: RecordBatch, keep: list[Record]) -> bytes:
    h = batch.header
    if h.timestamp_type is TimestampType.LOG_APPEND_TIME:
        for r in keep:
            r.timestamp = h.max_timestamp
    return encode_batch(keep, base_offset=h.base_offset, compression=Compression(h.compression),
                        timestamp_type=h.timestamp_type, producer_id=h.producer_id,
                        producer_epoch=h.producer_epoch, base_sequence=h.base_sequence,
                        partition_leader_epoch=h.partition_leader_epoch, transactional=h.is_transactional,
                        control=h.is_control)


def _expired_tombstone(record: Record, horizon: int) -> bool:
    return record.value is None and (record.timestamp or 0) < horizon
