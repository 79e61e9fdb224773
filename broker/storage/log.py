"""The log of one partition: an ordered list of segments, the last one active.

The produce path never decodes records: each batch's header is parsed, its CRC checked, its base
offset and leader epoch patched by writing a fresh 16-byte prefix, and the rest of the producer's
bytes are written with one `writev`. Only compacted topics, LogAppendTime topics and topics with a
forced compression codec look inside batches, because their semantics require it.
"""

from __future__ import annotations

import logging
import os
import random
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from struct import Struct

from kctl.protocol.clock import now_ms
from kctl.protocol.compression import Compression, decompress
from kctl.protocol.errors import CorruptRecordError, DecodeError, ErrorCode, InvalidRecordError, ProtocolError
from kctl.protocol.framing import FileRange
from kctl.protocol.records import (
    ATTRIBUTES_OFFSET,
    BATCH_LENGTH_OFFSET,
    CRC_OFFSET,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    TIMESTAMP_TYPE_BIT,
    BatchHeader,
    ControlType,
    Record,
    RecordBatch,
    TimestampType,
    check_crc,
    check_records,
    compute_crc,
    decode_batch,
    encode_batch,
    iter_batch_headers,
    read_batch_header,
)

from ..config import TopicConfig
from . import disk
from .cleaner import CompactionJob
from .producer_state import ProducerState, SequenceError
from .segment import OpenFiles, Segment, segment_name

_REPLAY_CHUNK = 1 << 20

log = logging.getLogger("broker.storage")

_PREFIX = Struct(">qii")  # base offset, batch length, partition leader epoch: up to MAGIC_OFFSET
_LENGTH = Struct(">i")
_MAX_TS = Struct(">hiqq")  # attributes, last offset delta, base timestamp, max timestamp
LEADER_EPOCH = 0
#: The most bytes one produced batch may inflate to. Kafka has no such bound; here it keeps one
#: small compressed batch (a decompression bomb) from taking gigabytes of memory and the event loop.
MAX_INFLATED_BATCH = 64 << 20
_CONTROL_KEY = Struct(">hh")  # a marker's key: version 0, then abort (0) or commit (1)
_MARKER_VALUE = Struct(">hi").pack(0, 0)  # version 0, coordinator epoch: one coordinator, never moved
_CODEC_BY_NAME = {
    "uncompressed": Compression.NONE,
    "gzip": Compression.GZIP,
    "snappy": Compression.SNAPPY,
    "lz4": Compression.LZ4,
    "zstd": Compression.ZSTD,
}


class AppendError(Exception):
    """A produce the log refused; nothing from the request was written."""

    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


class OffsetOutOfRange(Exception):
    pass


@dataclass(slots=True)
class AppendResult:
    base_offset: int
    log_append_time: int  # -1 unless the topic stamps append time
    duplicate: bool = False


class PartitionLog:
    def __init__(self, directory: Path, topic: str, partition: int, config: TopicConfig,
                 files: OpenFiles | None = None) -> None:
        self.directory = directory
        self.files = files if files is not None else OpenFiles(64)
        self.topic = topic
        self.partition = partition
        self.config = config
        self.segments: list[Segment] = []
        self._bases: list[int] = []
        self.log_start_offset = 0
        self.producers = ProducerState()
        self.listeners: set[Callable[[], None]] = set()  # woken after every append
        self.last_flush_ms = now_ms()
        self.deleted_files: list[Path] = []  # of segments retention dropped, not yet unlinked
        self.cleaned_up_to = 0  # offsets below this have been compacted already
        self.cleaned_at_ms = -1
        self.unflushed_since_ms = -1
        self.recovery_point = 0  # everything below this offset is known to be on disk and valid
        self._snapshot_offset = -1  # the log end offset the producer snapshot on disk was taken at
        self.write_error: OSError | None = None  # why the last write failed, until one succeeds
        self.uncleanable: str | None = None  # why the cleaner cannot read this log, if it cannot

    # ---- opening -------------------------------------------------------------------------------
    def open(self, recovery_point: int | None, log_start_offset: int) -> None:
        """Load the segments; with a recovery point, CRC-check everything from there on.

        `recovery_point=None` means the broker shut down cleanly and nothing needs checking.
        """
        try:
            names = os.listdir(self.directory)  # one directory read: at 100,000 partitions, three cost seconds
        except FileNotFoundError:
            self.directory.mkdir(parents=True)
            names = []
        bases = sorted(int(name[:-4]) for name in names if name.endswith(".log") and name[:-4].isdigit())
        known = set(bases)
        for name in names:
            stem, _, suffix = name.partition(".")
            # Cleanings and deletions a crash interrupted, and indexes of segments that are gone.
            if suffix in ("cleaned", "log.deleted", "index.deleted", "timeindex.deleted") or (
                    suffix == "index" and not (stem.isdigit() and int(stem) in known)):
                (self.directory / name).unlink()
        snapshot_path = self.directory / "producer.snapshot"
        state, snapshot_offset = ProducerState.load(snapshot_path)
        self.producers = state
        self._snapshot_offset = snapshot_offset
        for i, base in enumerate(bases):
            segment = Segment(self.directory, base, self.config.index_interval_bytes, self.files)
            next_base = bases[i + 1] if i + 1 < len(bases) else None
            recover = recovery_point is not None and (next_base is None or next_base > recovery_point)
            if recover and segment.size:
                log.info("recovering %s-%d segment %s", self.topic, self.partition, segment_name(base))
            truncated = segment.load(recover=recover)
            self.segments.append(segment)
            if truncated and next_base is not None:
                # Everything after a torn batch is suspect: Kafka drops the later segments too.
                for later in bases[i + 1 :]:
                    log.warning("%s-%d: dropping segment %s after corruption", self.topic, self.partition,
                                segment_name(later))
                    Segment(self.directory, later, self.config.index_interval_bytes, self.files).delete()
                break
        if not self.segments:
            self.segments.append(Segment(self.directory, max(log_start_offset, 0),
                                         self.config.index_interval_bytes, self.files))
        self._bases = [s.base_offset for s in self.segments]
        self.log_start_offset = max(log_start_offset, self.segments[0].base_offset)
        if self.log_start_offset > self.log_end_offset:
            self.log_start_offset = self.log_end_offset
        if snapshot_offset > self.log_end_offset:
            # The log was truncated below the snapshot: it must not be read again, and the whole
            # log is replayed instead (its open and aborted transactions are in it).
            self.producers = ProducerState()
            snapshot_path.unlink(missing_ok=True)
            self._snapshot_offset = -1
            snapshot_offset = 0
        # Replay producer state from batches the snapshot does not cover.
        if snapshot_offset < self.log_end_offset:
            if snapshot_offset < self.segments[0].base_offset:
                self.producers = ProducerState()
            for segment in self.segments:
                if segment.next_offset <= snapshot_offset:
                    continue
                for found in segment.iter_batches(segment.position_for(snapshot_offset)):
                    if found.header.base_offset >= snapshot_offset:
                        self._track(found.header, segment, found.position)
        # A snapshot at or below the log end stays: the next start replays from its offset again,
        # and a clean stop replaces it. (Unlinking one per partition was a sixth of a restart.)
        self.recovery_point = self.log_end_offset

    def _track(self, header: BatchHeader, segment: Segment, position: int) -> None:
        """Bring the producer state up to date with a batch read back from the log."""
        if not header.is_control:
            self.producers.update(header, header.base_offset)
            return
        try:
            kind = decode_batch(segment.read(position, header.size), verify_crc=False).control_type
        except ProtocolError as exc:
            log.warning("%s-%d offset %d: an unreadable transaction marker: %s", self.topic, self.partition,
                        header.base_offset, exc)
            return
        if kind is not None:
            self.producers.end_transaction(header.producer_id, header.producer_epoch, kind is ControlType.COMMIT,
                                           header.base_offset, header.max_timestamp)

    # ---- offsets -----------------------------------------------------------------------------
    @property
    def last_stable_offset(self) -> int:
        """Below it every transaction is decided: what read_committed consumers may read up to."""
        first_unstable = self.producers.first_unstable_offset()
        return self.log_end_offset if first_unstable is None else first_unstable

    @property
    def active(self) -> Segment:
        return self.segments[-1]

    @property
    def log_end_offset(self) -> int:
        return self.segments[-1].next_offset

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    def _segment_index(self, offset: int) -> int:
        return max(bisect_right(self._bases, offset) - 1, 0)

    # ---- appending ---------------------------------------------------------------------------
    def append(self, records: bytes, now: int | None = None, *, trusted: bool = False,
               in_transaction: Callable[[BatchHeader], ErrorCode | None] | None = None) -> AppendResult:
        """Validate and append a produce request's batches for this partition.

        `trusted` is for batches the broker built itself (group state, transaction markers):
        their CRCs and keys are known good, so they are not checked or rewritten again.
        `in_transaction` says whether a transactional batch's producer has added this partition
        to its transaction (None when it has; else the error to answer).
        """
        # One function on purpose: it is the produce path, once per partition per request, and
        # keeps its checks, offsets and writes in the order Kafka's LogValidator has them.
        if now is None:
            now = now_ms()
        config = self.config
        headers: list[tuple[int, BatchHeader]] = []
        pos, end = 0, len(records)
        try:
            while pos < end:
                header = read_batch_header(records, pos)
                if not trusted:
                    check_crc(records, pos, header)
                headers.append((pos, header))
                pos += header.size
        except (DecodeError, CorruptRecordError) as exc:
            raise AppendError(ErrorCode.CORRUPT_MESSAGE, f"invalid record batch: {exc}") from None
        if not headers:
            raise AppendError(ErrorCode.INVALID_RECORD, "produce request with no record batches")
        for _, header in headers:
            if header.size > config.max_message_bytes:
                raise AppendError(
                    ErrorCode.MESSAGE_TOO_LARGE,
                    f"record batch of {header.size} bytes exceeds max.message.bytes {config.max_message_bytes}",
                )
            if header.base_offset != 0:
                raise AppendError(ErrorCode.INVALID_RECORD, "a produced record batch must have base offset 0")
            if header.is_control and not trusted:
                raise AppendError(ErrorCode.INVALID_RECORD, "control batches are written by the transaction "
                                  "coordinator only")
            if header.is_transactional and not trusted:
                if header.producer_id < 0 or header.base_sequence < 0:
                    raise AppendError(ErrorCode.INVALID_RECORD, "a transactional batch needs a producer id and "
                                      "a sequence")
                refused = ErrorCode.INVALID_TXN_STATE if in_transaction is None else in_transaction(header)
                if refused is not None:
                    raise AppendError(refused, f"producer {header.producer_id} epoch {header.producer_epoch} has no "
                                      f"transaction that includes {self.topic}-{self.partition}")
            if header.records_count != header.last_offset_delta + 1:
                raise AppendError(ErrorCode.INVALID_RECORD, "record count does not match the batch's offset delta")
            if header.producer_id >= 0 and header.base_sequence < 0 and not trusted:
                raise AppendError(ErrorCode.INVALID_RECORD, "idempotent batch without a base sequence")
        if not trusted:
            # As Kafka's LogValidator: every record is read (inflated first, within a bound)
            # before anything is stored, so the log never holds what a reader cannot read.
            keys_required = "compact" in config.cleanup_policy
            for pos, header in headers:
                low, high = _check_batch(records, pos, header, keys_required,
                                         min(config.max_decompressed_bytes, MAX_INFLATED_BATCH))
                if not config.log_append_time and header.timestamp_type is TimestampType.CREATE_TIME:
                    _check_timestamps(header.base_timestamp + low, header.base_timestamp + high, now, config)

        if len(headers) == 1 and headers[0][1].producer_id >= 0:
            try:
                duplicate = self.producers.check(headers[0][1])
            except SequenceError as exc:
                raise AppendError(exc.error, str(exc)) from None
            if duplicate is not None:
                return AppendResult(duplicate.first_offset, -1, duplicate=True)
        else:
            for _, header in headers:
                try:
                    if self.producers.check(header) is not None:
                        raise AppendError(
                            ErrorCode.DUPLICATE_SEQUENCE_NUMBER, "duplicate batch in a multi-batch append"
                        )
                except SequenceError as exc:
                    raise AppendError(exc.error, str(exc)) from None

        rewrite = None if trusted and not config.log_append_time else self._rewriter(now)
        view = memoryview(records)
        pieces: list[bytes | memoryview] = []
        written: list[BatchHeader] = []
        offset = self.log_end_offset
        total = 0
        for pos, header in headers:
            if rewrite is not None:
                batch = rewrite(records, pos, header)
                header = read_batch_header(batch, 0)
                pieces.append(_PREFIX.pack(offset, header.batch_length, LEADER_EPOCH))
                pieces.append(memoryview(batch)[MAGIC_OFFSET:])
            else:
                pieces.append(_PREFIX.pack(offset, header.batch_length, LEADER_EPOCH))
                pieces.append(view[pos + MAGIC_OFFSET : pos + header.size])
            written.append(_rebased(header, offset))
            offset += header.last_offset_delta + 1
            total += header.size
        try:
            self._maybe_roll(total, now, offset)
            self.active.append(pieces, written)
        except OSError as exc:
            # Nothing of this request is in the log: the segment cut its torn write off again.
            self._write_failed(exc)
            raise AppendError(ErrorCode.KAFKA_STORAGE_ERROR, f"cannot write to the log: {disk.describe(exc)}") from None
        if self.write_error is not None:
            log.warning("%s-%d: writes succeed again", self.topic, self.partition)
            self.write_error = None
        base = written[0].base_offset
        for header in written:
            self.producers.update(header, header.base_offset)
        if self.unflushed_since_ms < 0:
            self.unflushed_since_ms = now
        for wake in list(self.listeners):
            wake()
        return AppendResult(base, now if config.log_append_time else -1)

    def append_marker(self, producer_id: int, producer_epoch: int, commit: bool, now: int | None = None) -> int:
        """Write a transaction's commit or abort marker (a control batch); returns its offset.
        Raises AppendError if it cannot be written."""
        now = now_ms() if now is None else now
        marker = Record(_CONTROL_KEY.pack(0, ControlType.COMMIT if commit else ControlType.ABORT),
                        _MARKER_VALUE, timestamp=now)
        batch = encode_batch([marker], producer_id=producer_id, producer_epoch=producer_epoch, transactional=True,
                             control=True, partition_leader_epoch=LEADER_EPOCH)
        offset = self.append(batch, now, trusted=True).base_offset
        self.producers.end_transaction(producer_id, producer_epoch, commit, offset, now)
        return offset

    def _write_failed(self, exc: OSError) -> None:
        """Say once (not once per produce) that this partition cannot be written to."""
        if self.write_error is None:
            log.error("%s-%d: cannot write to the log: %s; produce requests get KAFKA_STORAGE_ERROR until "
                      "a write succeeds again%s", self.topic, self.partition, disk.describe(exc),
                      " (free some space)" if exc.errno in disk.FULL else "")
        self.write_error = exc

    def _rewriter(self, now: int) -> Callable[[bytes, int, BatchHeader], bytes] | None:
        """What must change inside batches before they are stored, if anything."""
        config = self.config
        compact = "compact" in config.cleanup_policy
        codec = _CODEC_BY_NAME.get(config.compression_type)
        if not compact and codec is None and not config.log_append_time:
            return None

        def rewrite(records: bytes, pos: int, header: BatchHeader) -> bytes:
            batch = bytes(records[pos : pos + header.size])
            needs_records = compact or (codec is not None and codec != header.compression)
            if needs_records:
                try:
                    decoded = decode_batch(batch, limit=MAX_INFLATED_BATCH)
                except ProtocolError as exc:
                    raise AppendError(ErrorCode.CORRUPT_MESSAGE, f"invalid record batch: {exc}") from None
                if codec is not None and codec != header.compression:
                    batch = encode_batch(
                        decoded.records, compression=codec, compression_level=config.compression_level,
                        timestamp_type=decoded.header.timestamp_type,
                        producer_id=header.producer_id, producer_epoch=header.producer_epoch,
                        base_sequence=header.base_sequence,
                    )
            if config.log_append_time:
                batch = _stamp_log_append_time(batch, now)
            return batch

        return rewrite

    def _maybe_roll(self, incoming: int, now: int, next_offset: int) -> None:
        active = self.active
        if active.is_empty:
            return
        too_big = active.size + incoming > self.config.segment_bytes
        too_old = (active.first_timestamp >= 0
                   and now - active.first_timestamp >= self.config.segment_ms - active.roll_jitter_ms)
        offsets_overflow = next_offset - active.base_offset > 2**31 - 2
        if too_big or too_old or offsets_overflow:
            self.roll()

    def roll(self) -> Segment:
        """Start a new active segment at the log end offset."""
        old = self.active
        if old.is_empty:
            return old
        old.write_indexes()
        segment = Segment(self.directory, self.log_end_offset, self.config.index_interval_bytes, self.files)
        if self.config.segment_jitter_ms:  # so that partitions made together do not all roll together
            segment.roll_jitter_ms = random.randrange(min(self.config.segment_jitter_ms, self.config.segment_ms))
        self.segments.append(segment)
        self._bases.append(segment.base_offset)
        log.debug("rolled %s-%d to segment %s", self.topic, self.partition, segment_name(segment.base_offset))
        return segment

    # ---- reading -----------------------------------------------------------------------------
    def read(self, offset: int, max_bytes: int) -> bytes:
        """Whole batches starting with the one that contains `offset`, up to `max_bytes`.

        The first batch is returned whole even when it alone exceeds `max_bytes` (KIP-74), so a
        consumer can always make progress.
        """
        found = self._locate(offset, max_bytes)
        if found is None:
            return b""
        segment, position, size, first_size = found
        data = segment.read(position, size)
        return data if len(data) <= first_size else _whole_batches(data, first_size)

    def replay(self, unreadable: Callable[[int, ProtocolError], None] | None = None) -> Iterator[Record]:
        """Every record from the log start to its end, in order: how the broker's own topics
        (`__consumer_offsets`, `_schemas`) are read back at start. A batch that cannot be read
        (old data, bit rot) is skipped and handed to `unreadable` with its offset; without it,
        the error is raised."""
        for batch in self.replay_batches(unreadable):
            yield from batch.records

    def replay_batches(self, unreadable: Callable[[int, ProtocolError], None] | None = None
                       ) -> Iterator[RecordBatch]:
        """`replay` by batch, for readers that need the batches' producers and markers; records
        below the log start offset are left out."""
        position, end = self.log_start_offset, self.log_end_offset
        while position < end:
            chunk = self.read(position, _REPLAY_CHUNK)
            if not chunk:
                break
            for at, header in iter_batch_headers(chunk):
                try:
                    batch = decode_batch(chunk, at, verify_crc=False)
                except ProtocolError as exc:
                    if unreadable is None:
                        raise
                    unreadable(header.base_offset, exc)
                    position = header.next_offset
                    continue
                if header.base_offset < position:
                    batch.records = [r for r in batch.records if r.offset is None or r.offset >= position]
                yield batch
                position = batch.header.next_offset

    def read_range(self, offset: int, max_bytes: int, upto: int | None = None) -> FileRange | bytes:
        """Like `read`, for fetches: where the bytes are rather than the bytes, to be sent by
        sendfile (the segment and its generation tell the sender whether they are still there).
        The range ends at `max_bytes` even inside a batch, as Kafka's fetches do (clients drop a
        partial batch at the end); only the first batch is always whole. No descriptor is held
        meanwhile: a fetch over thousands of partitions must not need thousands of them.
        With `upto` (the last stable offset, for read_committed), nothing from there on."""
        found = self._locate(offset, max_bytes)
        if found is None:
            return b""
        segment, position, size, _ = found
        if upto is not None and segment.next_offset > upto:
            if offset >= upto:
                return b""
            stop = segment.find_batch(upto)
            if stop is not None:  # transactions begin on a batch: `upto` is the first offset of one
                size = min(size, stop.position - position)
        return FileRange((segment, segment.generation), position, size)

    def _locate(self, offset: int, max_bytes: int) -> tuple[Segment, int, int, int] | None:
        """(segment, position, size, size of the first batch) of what a read from `offset`
        returns: from the batch holding `offset`, `max_bytes` but at least that whole batch."""
        if offset < self.log_start_offset or offset > self.log_end_offset:
            raise OffsetOutOfRange(offset)
        if offset == self.log_end_offset:
            return None
        for i in range(self._segment_index(offset), len(self.segments)):
            segment = self.segments[i]
            found = segment.find_batch(offset)
            if found is None:
                continue
            first_size = found.header.size
            return segment, found.position, min(segment.size - found.position, max(max_bytes, first_size)), first_size
        return None

    def find_offset_by_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record at or after `timestamp`, if there is one."""
        for segment in self.segments:
            if segment.max_timestamp < timestamp:
                continue
            for found in segment.iter_batches(segment.timestamp_start(timestamp)):
                header = found.header
                if header.max_timestamp < timestamp or header.next_offset <= self.log_start_offset:
                    continue
                try:
                    batch = decode_batch(segment.read(found.position, header.size), verify_crc=False)
                except ProtocolError:  # unreadable (old data, bit rot): the batch is the best answer
                    return max(header.base_offset, self.log_start_offset), header.max_timestamp
                for record in batch.records:
                    if (
                        record.timestamp is not None
                        and record.timestamp >= timestamp
                        and record.offset is not None
                        and record.offset >= self.log_start_offset
                    ):
                        return record.offset, record.timestamp
        return None

    def max_timestamp(self) -> tuple[int, int] | None:
        """(offset, timestamp) of the record with the largest timestamp (the first such)."""
        best: Segment | None = None
        for segment in self.segments:
            if segment.max_timestamp >= 0 and (best is None or segment.max_timestamp > best.max_timestamp):
                best = segment
        if best is None:
            return None
        if best.offset_of_max_timestamp >= 0:
            found = best.find_batch(best.offset_of_max_timestamp)
        else:  # loaded from index files, which keep the maximum but not where it is
            found = next((f for f in best.iter_batches() if f.header.max_timestamp == best.max_timestamp), None)
        if found is None:
            return None
        try:
            batch = decode_batch(best.read(found.position, found.header.size), verify_crc=False)
        except ProtocolError:  # unreadable (old data, bit rot): the batch is the best answer
            return found.header.base_offset, best.max_timestamp
        for record in batch.records:
            if record.timestamp == best.max_timestamp and record.offset is not None:
                return record.offset, record.timestamp
        return found.header.base_offset, best.max_timestamp

    # ---- deleting ------------------------------------------------------------------------------
    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: move the log start offset forward; returns the new low watermark."""
        if offset < 0 or offset > self.log_end_offset:
            raise OffsetOutOfRange(offset)
        if offset > self.log_start_offset:
            self.log_start_offset = offset
            self.producers.forget_aborted_below(offset)
            self._drop_segments_below_start()
        return self.log_start_offset

    def _drop_segments_below_start(self) -> None:
        while len(self.segments) > 1 and self.segments[1].base_offset <= self.log_start_offset:
            self._delete_oldest("below the log start offset")
        if self.active.next_offset <= self.log_start_offset and not self.active.is_empty:
            self.roll()
            self._delete_oldest("below the log start offset")

    def _delete_oldest(self, why: str) -> None:
        """Drop the oldest segment from the log at once; its files are renamed *.deleted and
        removed later, off the event loop (`remove_deleted_files`), or at the next start."""
        segment = self.segments.pop(0)
        self._bases.pop(0)
        log.info("%s-%d: deleting segment %s (%s)", self.topic, self.partition,
                 segment_name(segment.base_offset), why)
        self.deleted_files.extend(segment.mark_deleted())
        self.log_start_offset = max(self.log_start_offset, self.segments[0].base_offset)
        self.producers.forget_aborted_below(self.log_start_offset)

    def remove_deleted_files(self) -> None:
        """Unlink the files of deleted segments: any thread, as it touches only those files."""
        files, self.deleted_files = self.deleted_files, []
        for path in files:
            path.unlink(missing_ok=True)

    def apply_retention(self, now: int) -> int:
        """Delete segments past retention.ms or beyond retention.bytes; returns how many went."""
        config = self.config
        if "delete" not in config.cleanup_policy:
            return 0
        deleted = 0
        if config.retention_ms >= 0:
            horizon = now - config.retention_ms
            while self.segments and 0 <= self.segments[0].max_timestamp < horizon:
                if len(self.segments) == 1:
                    if self.active.is_empty:
                        break
                    self.roll()
                self._delete_oldest(f"older than retention.ms={config.retention_ms}")
                deleted += 1
        if config.retention_bytes >= 0:
            total = self.size
            while len(self.segments) > 1 and total - self.segments[0].size >= config.retention_bytes:
                total -= self.segments[0].size
                self._delete_oldest(f"beyond retention.bytes={config.retention_bytes}")
                deleted += 1
        return deleted

    # ---- compaction ------------------------------------------------------------------------------
    def compaction_job(self, now: int) -> CompactionJob | None:
        """What a cleaning would rewrite now: the closed segments older than min.compaction.lag.ms
        (the active one never). None when there is nothing to clean."""
        config = self.config
        if "compact" not in config.cleanup_policy or len(self.segments) < 2:
            return None
        lag_horizon = now - config.min_compaction_lag_ms
        stable = self.last_stable_offset  # as Kafka's cleaner: never past an undecided transaction
        cleanable = []
        for segment in self.segments[:-1]:
            if segment.next_offset > stable:
                break
            if segment.max_timestamp <= lag_horizon:
                cleanable.append(segment)
        if not cleanable:
            return None
        return CompactionJob(self, cleanable, now, now - config.delete_retention_ms)

    def compact(self, now: int) -> int:
        """Clean at once, on this thread; returns records removed. The broker runs the job's
        reading and writing on a worker thread instead (`CompactionJob`)."""
        job = self.compaction_job(now)
        if job is None:
            return 0
        job.run()
        return job.finish()

    def needs_compaction(self, now: int) -> bool:
        """As Kafka's cleaner chooses: once min.cleanable.dirty.ratio of the closed segments is
        dirty (not cleaned yet), or a dirty record is older than max.compaction.lag.ms, or
        tombstones kept at the last cleaning are past delete.retention.ms."""
        config = self.config
        if "compact" not in config.cleanup_policy or len(self.segments) < 2 or self.uncleanable:
            return False
        if 0 <= self.cleaned_at_ms <= now - config.delete_retention_ms:
            return True
        closed = self.segments[:-1]
        dirty = [s for s in closed if s.next_offset > self.cleaned_up_to]
        if not dirty:
            return False
        total = sum(s.size for s in closed)
        if total == 0 or sum(s.size for s in dirty) / total >= config.min_cleanable_ratio:
            return True
        return any(0 <= s.first_timestamp <= now - config.max_compaction_lag_ms for s in dirty)

    # ---- durability ------------------------------------------------------------------------------
    def dirty_fds(self) -> list[int]:
        """Duplicated descriptors of segments with unflushed data, safe to fsync on another thread."""
        return [os.dup(s.fd) for s in self.segments if not s.closed and s.unflushed_messages]

    def mark_flushed(self, flushed_end: int) -> None:
        """Record that everything below `flushed_end` reached the disk."""
        self.recovery_point = max(self.recovery_point, min(flushed_end, self.log_end_offset))
        if flushed_end >= self.log_end_offset:
            for segment in self.segments:
                segment.unflushed_messages = 0
            self.unflushed_since_ms = -1
        for segment in self.segments:
            if not segment.closed:
                segment.write_indexes()
        self.last_flush_ms = now_ms()

    @property
    def unflushed_messages(self) -> int:
        return sum(s.unflushed_messages for s in self.segments[-2:])

    def flush(self) -> None:
        end = self.log_end_offset
        for segment in self.segments:
            if segment.unflushed_messages and not segment.closed:
                disk.fsync(segment.fd)
        self.mark_flushed(end)

    def close(self, *, flush: bool = True) -> bool:
        """Flush, save the producer state and close. Without `flush` the caller makes it all
        durable at once (one syncfs for every partition) and then moves the recovery point.
        False if something could not be written: the next start must recover this partition."""
        whole = True
        if flush:
            try:
                self.flush()
            except OSError as exc:
                log.error("%s-%d: cannot flush at shutdown: %s", self.topic, self.partition, disk.describe(exc))
                whole = False
        else:
            for segment in self.segments:
                segment.write_indexes()
        if self._snapshot_offset != self.log_end_offset:  # else the snapshot on disk says it all
            try:
                self.producers.save(self.directory / "producer.snapshot", self.log_end_offset)
                self._snapshot_offset = self.log_end_offset
            except OSError as exc:  # the next start replays producer state from the log instead
                log.warning("%s-%d: cannot save the producer state: %s", self.topic, self.partition,
                            disk.describe(exc))
        for segment in self.segments:
            whole = segment.cut_torn_tail() and whole
            segment.close()
        return whole


def _check_batch(records: bytes, pos: int, header: BatchHeader, keys_required: bool,
                 inflate_limit: int = MAX_INFLATED_BATCH) -> tuple[int, int]:
    """Refuse a produced batch whose records cannot be read back whole, with the error Kafka
    gives: CORRUPT_MESSAGE for bytes that do not read, INVALID_RECORD for broken rules. Returns
    its records' smallest and largest timestamp deltas."""
    body = memoryview(records)[pos + HEADER_SIZE : pos + header.size]
    try:
        if header.compression == Compression.NONE:
            return check_records(body, header.records_count, keys_required)
        payload = decompress(header.compression, bytes(body), inflate_limit)
        return check_records(payload, header.records_count, keys_required)
    except InvalidRecordError as exc:
        raise AppendError(ErrorCode.INVALID_RECORD, f"invalid record batch: {exc}") from None
    except ProtocolError as exc:
        raise AppendError(ErrorCode.CORRUPT_MESSAGE, f"invalid record batch: {exc}") from None


def _check_timestamps(earliest: int, latest: int, now: int, config: TopicConfig) -> None:
    """message.timestamp.before.max.ms and .after.max.ms, for CreateTime records (KIP-937)."""
    low, high = now - config.timestamp_before_max_ms, now + config.timestamp_after_max_ms
    for timestamp in (earliest, latest):
        if not low <= timestamp <= high:
            raise AppendError(ErrorCode.INVALID_TIMESTAMP,
                              f"Timestamp {timestamp} of a record is out of range. The timestamp should be within "
                              f"[{max(low, 0)}, {high}]")


def _rebased(header: BatchHeader, base_offset: int) -> BatchHeader:
    return BatchHeader(
        base_offset, header.batch_length, LEADER_EPOCH, header.magic, header.crc, header.attributes,
        header.last_offset_delta, header.base_timestamp, header.max_timestamp, header.producer_id,
        header.producer_epoch, header.base_sequence, header.records_count,
    )


def _whole_batches(data: bytes, first_size: int) -> bytes:
    """Cut `data` after its last complete batch (a view, not a copy)."""
    pos = first_size
    end = len(data)
    unpack = _LENGTH.unpack_from
    while end - pos >= LOG_OVERHEAD:
        size = unpack(data, pos + BATCH_LENGTH_OFFSET)[0] + LOG_OVERHEAD
        if size < HEADER_SIZE or pos + size > end:
            break
        pos += size
    return data if pos == end else memoryview(data)[:pos]  # type: ignore[return-value]


def _stamp_log_append_time(batch: bytes, now: int) -> bytes:
    """Set LogAppendTime on a batch: the attribute bit and max timestamp, then a fresh CRC."""
    buf = bytearray(batch)
    attributes, last_delta, base_ts, _ = _MAX_TS.unpack_from(buf, ATTRIBUTES_OFFSET)
    _MAX_TS.pack_into(buf, ATTRIBUTES_OFFSET, attributes | TIMESTAMP_TYPE_BIT, last_delta, base_ts, now)
    crc = compute_crc(buf, 0, len(buf))
    buf[CRC_OFFSET:ATTRIBUTES_OFFSET] = crc.to_bytes(4, "big")
    return bytes(buf)


__all__ = ["AppendError", "AppendResult", "OffsetOutOfRange", "PartitionLog", "Record"]
