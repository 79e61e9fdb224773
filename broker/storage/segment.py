"""One log segment: a `.log` file of record batches plus sparse offset and time indexes.

Batches are stored exactly as the producer sent them, with only the base offset and leader epoch
patched, so fetches serve the same bytes back. The indexes are sparse (an entry every
`index.interval.bytes`) and disposable: they live in memory, are written beside the log on flush,
and are rebuilt by scanning batch headers whenever they look wrong.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from struct import Struct

from kctl.protocol.errors import CorruptRecordError, DecodeError
from kctl.protocol.records import HEADER_SIZE, BatchHeader, check_crc, peek_batch_header

from . import disk

log = logging.getLogger("broker.storage")

_OFFSET_ENTRY = Struct(">ii")  # relative offset, file position
_TIME_ENTRY = Struct(">qi")  # max timestamp so far, relative offset
_SCAN_CHUNK = 1 << 20


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


@dataclass(slots=True)
class BatchPosition:
    """Where a batch sits in its segment file, with the header fields readers need."""

    position: int
    header: BatchHeader


def descriptor_limit() -> int:
    """The most descriptors this process may hold: its soft RLIMIT_NOFILE, first raised to the
    hard limit (as the JVM does for Apache Kafka)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class OpenFiles:
    """Descriptors of segment files: opened when a segment is used, and closed, least recently
    used first, beyond `limit`. One descriptor per segment would stop a broker at about as many
    partitions as the process may hold descriptors, sockets included.

    Used from one thread at a time (the event loop; at start-up, the loader). Another thread
    that needs a descriptor (to fsync) takes an `os.dup` of it, which no eviction closes.
    Closing a file keeps its unwritten pages: fsync through any later descriptor flushes them.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 1)
        self._open: OrderedDict[Segment, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def fd(self, segment: Segment) -> int:
        fd = self._open.get(segment)
        if fd is not None:
            self._open.move_to_end(segment)
            return fd
        while len(self._open) >= self.limit:
            _, idle = self._open.popitem(last=False)
            os.close(idle)
        try:
            fd = disk.open_segment(segment.log_path)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                raise OSError(exc.errno, f"{exc.strerror}: the broker may hold {descriptor_limit()} descriptors "
                              f"(RLIMIT_NOFILE) and keeps at most {self.limit} segment files open; raise the "
                              "limit with `ulimit -n` (or LimitNOFILE= under systemd)", str(segment.log_path)) from exc
            raise
        self._open[segment] = fd
        return fd

    def close(self, segment: Segment) -> None:
        fd = self._open.pop(segment, None)
        if fd is not None:
            os.close(fd)


class Segment:
    """An append-only segment file with its in-memory sparse indexes. Its descriptor comes from
    `files` for each use: it may be closed while the segment sits idle."""

    def __init__(self, directory: Path, base_offset: int, index_interval_bytes: int, files: OpenFiles) -> None:
        self.directory = directory
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self.files = files
        self.closed = False
        self.generation = 0  # a new one each time compaction swaps the file for another
        self.log_path = directory / f"{segment_name(base_offset)}.log"
        self.index_path = directory / f"{segment_name(base_offset)}.index"
        self.time_index_path = directory / f"{segment_name(base_offset)}.timeindex"
        self.size = os.fstat(self.fd).st_size
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.first_timestamp = -1  # max timestamp of the first batch, for time-based rolling
        self.created_ms = -1
        self._index_offsets = array("q")  # absolute offsets of indexed batches
        self._index_positions = array("q")
        self._time_stamps = array("q")
        self._time_offsets = array("q")
        self._bytes_since_index = 0
        self._flushed_index_entries = 0
        self._flushed_time_entries = 0
        self.unflushed_messages = 0
        self._last_base = self._last_position = -1  # the batch appended (or found on load) last
        self.torn = False  # bytes of a failed write may lie past `size`
        self.roll_jitter_ms = 0  # rolled this much before segment.ms (segment.jitter.ms)

    # ---- loading ------------------------------------------------------------------------------
    def load(self, *, recover: bool) -> bool:
        """Read the indexes (or rebuild them) and find the end of the segment.

        With `recover`, every batch is CRC-checked and the file is truncated at the first bad or
        torn batch; the return value says whether anything was truncated.
        """
        if recover:
            self._reset_indexes()
            return self._scan(0, check=True)
        if not self._read_index_files():
            self._reset_indexes()
            return self._scan(0, check=False)
        start = self._index_positions[-1] if self._index_positions else 0
        on_disk = len(self._index_offsets), len(self._time_stamps)
        if self._index_offsets:
            # Re-scan from the last indexed batch so its header sets the end offset and timestamp.
            self._truncate_index_at(len(self._index_offsets) - 1)
        truncated = self._scan(start, check=False)
        if not truncated:
            # The re-scan put back the entries the files hold already: they need no writing again.
            if len(self._index_offsets) >= on_disk[0]:
                self._flushed_index_entries = on_disk[0]
            if len(self._time_stamps) >= on_disk[1]:
                self._flushed_time_entries = on_disk[1]
        return truncated

    def _reset_indexes(self) -> None:
        for arr in (self._index_offsets, self._index_positions, self._time_stamps, self._time_offsets):
            del arr[:]
        self._last_base = self._last_position = -1
        self._flushed_index_entries = self._flushed_time_entries = 0
        self._bytes_since_index = 0
        self.max_timestamp = self.offset_of_max_timestamp = self.first_timestamp = -1
        self.next_offset = self.base_offset

    def _truncate_index_at(self, entry: int) -> None:
        cut_offset = self._index_offsets[entry]
        del self._index_offsets[entry:]
        del self._index_positions[entry:]
        self._flushed_index_entries = min(self._flushed_index_entries, entry)
        keep = bisect_left(self._time_offsets, cut_offset)
        del self._time_stamps[keep:]
        del self._time_offsets[keep:]
        self._flushed_time_entries = min(self._flushed_time_entries, keep)
        self.max_timestamp = self._time_stamps[-1] if self._time_stamps else -1

    def _read_index_files(self) -> bool:
        try:
            raw = self.index_path.read_bytes()
            raw_time = self.time_index_path.read_bytes()
        except FileNotFoundError:
            return False
        if len(raw) % _OFFSET_ENTRY.size or len(raw_time) % _TIME_ENTRY.size:
            return False
        last_offset = last_position = -1
        for rel, position in _OFFSET_ENTRY.iter_unpack(raw):
            if rel <= last_offset - self.base_offset or position <= last_position or position >= self.size:
                return False
            if rel < 0:
                return False
            last_offset, last_position = self.base_offset + rel, position
            self._index_offsets.append(last_offset)
            self._index_positions.append(position)
        last_ts = -1
        for timestamp, rel in _TIME_ENTRY.iter_unpack(raw_time):
            if timestamp < last_ts or rel < 0:
                return False
            last_ts = timestamp
            self._time_stamps.append(timestamp)
            self._time_offsets.append(self.base_offset + rel)
        self._flushed_index_entries = len(self._index_offsets)
        self._flushed_time_entries = len(self._time_stamps)
        if self._time_stamps:
            self.max_timestamp = self._time_stamps[-1]
        return True

    def _scan(self, start: int, *, check: bool) -> bool:
        """Walk batch headers from `start`, indexing them; stop and truncate at the first bad one."""
        position = start
        truncated = False
        chunk = b""
        chunk_start = start
        while position < self.size:
            rel = position - chunk_start
            if len(chunk) - rel < HEADER_SIZE:
                chunk = os.pread(self.fd, max(_SCAN_CHUNK, HEADER_SIZE), position)
                chunk_start, rel = position, 0
            try:
                header = peek_batch_header(chunk, rel)
                if header.base_offset < self.next_offset or position + header.size > self.size:
                    raise CorruptRecordError(
                        f"batch at {position} has offset {header.base_offset} (expected >= "
                        f"{self.next_offset}) or runs past the end of the file"
                    )
                if check:
                    if len(chunk) - rel < header.size:
                        chunk = os.pread(self.fd, max(_SCAN_CHUNK, header.size), position)
                        chunk_start, rel = position, 0
                    check_crc(chunk, rel, header)
            except (CorruptRecordError, DecodeError) as exc:
                log.warning(
                    "segment %s: corrupt or torn data at byte %d of %d (%s); truncating %d bytes",
                    self.log_path, position, self.size, exc, self.size - position,
                )
                disk.truncate(self.fd, position)
                self.size = position
                truncated = True
                break
            self._track(header, position)
            position += header.size
        return truncated

    # ---- appending ---------------------------------------------------------------------------
    def _track(self, header: BatchHeader, position: int) -> None:
        """Account for a batch that now sits at `position`: offsets, timestamps, indexes."""
        if self.first_timestamp < 0:
            self.first_timestamp = header.max_timestamp
        if header.max_timestamp > self.max_timestamp:
            self.max_timestamp = header.max_timestamp
            self.offset_of_max_timestamp = header.base_offset
        if position == 0 or self._bytes_since_index >= self.index_interval_bytes:
            self._index_offsets.append(header.base_offset)
            self._index_positions.append(position)
            self._time_stamps.append(max(self.max_timestamp, self._time_stamps[-1] if self._time_stamps else -1))
            self._time_offsets.append(header.base_offset)
            self._bytes_since_index = 0
        self._bytes_since_index += header.size
        self.next_offset = header.base_offset + header.last_offset_delta + 1
        self._last_base, self._last_position = header.base_offset, position

    def append(self, pieces: list[bytes | memoryview], headers: list[BatchHeader]) -> int:
        """Write already-patched batch bytes and index them; returns the position written at.

        All or nothing: a write that fails (a full disk) is cut off again before the OSError
        goes up, so the file and this segment's accounting are exactly as they were."""
        position = self.size
        fd = self.fd
        if self.torn:
            disk.truncate(fd, position)  # an earlier failed write could not be cut off then
            self.torn = False
        try:
            disk.write_at(fd, pieces, position)
        except OSError:
            try:
                disk.truncate(fd, position)
            except OSError:
                self.torn = True  # cut off before the next write, or by recovery after a crash
            raise
        pos = position
        for header in headers:
            self._track(header, pos)
            self.unflushed_messages += header.last_offset_delta + 1
            pos += header.size
        self.size = pos
        return position

    # ---- reading -----------------------------------------------------------------------------
    def position_for(self, offset: int) -> int:
        """File position of a batch at or before `offset` (a place to start scanning): the last
        batch appended when `offset` is in it or later (consumers at the tail ask for just that),
        else the indexed batch before it."""
        if offset >= self._last_base >= 0:
            return self._last_position
        i = bisect_right(self._index_offsets, offset) - 1
        return self._index_positions[i] if i >= 0 else 0

    def find_batch(self, offset: int) -> BatchPosition | None:
        """The first batch whose last offset is at least `offset`."""
        for found in self.iter_batches(self.position_for(offset)):
            if found.header.base_offset + found.header.last_offset_delta >= offset:
                return found
        return None

    def iter_batches(self, start: int = 0) -> Iterator[BatchPosition]:
        position = start
        chunk = b""
        chunk_start = start
        size = self.size
        while position < size:
            rel = position - chunk_start
            if len(chunk) - rel < HEADER_SIZE:
                chunk = os.pread(self.fd, 65536, position)
                chunk_start, rel = position, 0
                if len(chunk) < HEADER_SIZE:
                    return
            header = peek_batch_header(chunk, rel)
            yield BatchPosition(position, header)
            position += header.size

    def read(self, position: int, length: int) -> bytes:
        return os.pread(self.fd, length, position)

    def timestamp_start(self, timestamp: int) -> int:
        """A file position from which every batch before it has only timestamps below `timestamp`."""
        i = bisect_right(self._time_stamps, timestamp - 1) - 1
        if i < 0:
            return 0
        return self.position_for(self._time_offsets[i])

    # ---- durability --------------------------------------------------------------------------
    def pending_index_bytes(self) -> tuple[bytes, bytes]:
        """Index entries not yet written to the index files."""
        offsets = b"".join(
            _OFFSET_ENTRY.pack(self._index_offsets[i] - self.base_offset, self._index_positions[i])
            for i in range(self._flushed_index_entries, len(self._index_offsets))
        )
        times = b"".join(
            _TIME_ENTRY.pack(self._time_stamps[i], self._time_offsets[i] - self.base_offset)
            for i in range(self._flushed_time_entries, len(self._time_stamps))
        )
        return offsets, times

    def write_indexes(self) -> bool:
        """Append the unwritten index entries to the index files (rewriting them if out of step).

        Indexes are disposable: if the write fails, the files are removed and rewritten whole
        next time (a start without them rebuilds them by scanning); False says it failed."""
        if (
            self._flushed_index_entries == len(self._index_offsets)
            and self._flushed_time_entries == len(self._time_stamps)
            and self._flushed_index_entries
        ):
            return True
        start_over = self._flushed_index_entries == 0 or not self.index_path.exists()
        if start_over:
            self._flushed_index_entries = self._flushed_time_entries = 0
        offsets, times = self.pending_index_bytes()
        try:
            disk.append_file(self.index_path, offsets, start_over=start_over)
            disk.append_file(self.time_index_path, times, start_over=start_over)
        except OSError as exc:
            log.warning("segment %s: cannot write its index (%s); it is rebuilt from the log when needed",
                        self.log_path, disk.describe(exc))
            for path in (self.index_path, self.time_index_path):
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            self._flushed_index_entries = self._flushed_time_entries = 0
            return False
        self._flushed_index_entries = len(self._index_offsets)
        self._flushed_time_entries = len(self._time_stamps)
        return True

    def cut_torn_tail(self) -> bool:
        """Cut off what a failed write left past the end, if anything; False if it is still there."""
        if not self.torn or self.closed:
            return True
        try:
            disk.truncate(self.fd, self.size)
        except OSError:
            return False
        self.torn = False
        return True

    @property
    def fd(self) -> int:
        """A descriptor for the log file, valid until the next segment asks for one."""
        if self.closed:
            raise ValueError(f"segment {self.log_path} is closed")
        return self.files.fd(self)

    def close(self) -> None:
        self.cut_torn_tail()
        self.files.close(self)
        self.closed = True

    def delete(self) -> None:
        self.close()
        for path in (self.log_path, self.index_path, self.time_index_path):
            path.unlink(missing_ok=True)

    def mark_deleted(self) -> list[Path]:
        """Close and rename the files *.deleted (a start removes any it finds); returns them, to
        be unlinked where it costs the event loop nothing."""
        self.close()
        renamed = []
        for path in (self.log_path, self.index_path, self.time_index_path):
            target = path.with_name(path.name + ".deleted")
            try:
                disk.rename(path, target)
            except FileNotFoundError:
                continue  # an index not written yet
            renamed.append(target)
        return renamed

    def replace_file(self, new_log: Path) -> None:
        """Swap in a rewritten log file (compaction) and rebuild the indexes from it."""
        self.files.close(self)
        self.generation += 1
        disk.replace(new_log, self.log_path)
        self.index_path.unlink(missing_ok=True)
        self.time_index_path.unlink(missing_ok=True)
        self.size = os.fstat(self.fd).st_size
        self._reset_indexes()
        self._scan(0, check=False)

    @property
    def is_empty(self) -> bool:
        return self.size == 0

    def __repr__(self) -> str:
        return f"Segment({self.log_path.name}, size={self.size}, next_offset={self.next_offset})"

