"""Record batches, magic 2: Kafka's on-the-wire and on-disk unit of data.

A batch is a 61-byte header followed by its records, compressed as one blob when the batch is
compressed. The broker's hot path never decodes records: `read_batch_header`, `check_crc` and
`set_base_offset` are all it needs. `encode_batch` and `decode_batch` are for producers,
consumers and tools that look inside.

    baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
    attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
    producerId int64 | producerEpoch int16 | baseSequence int32 | recordsCount int32 | records

The CRC-32C covers everything from `attributes` to the end of the batch, so the base offset and
the leader epoch can be rewritten without recomputing it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from struct import Struct
from types import ModuleType
from typing import Any

from crc32c import crc32c

from . import _wire as w
from .compression import MAX_DECOMPRESSED_SIZE, Compression, compress, decompress
from .errors import CorruptRecordError, DecodeError, EncodeError, InvalidRecordError
from .native import extension

_check_records: ModuleType | None = extension("kctl.protocol._check_records")

HEADER = Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
#: Bytes before batchLength's count starts (baseOffset and batchLength themselves).
LOG_OVERHEAD = 12
# Where a batch header's fields start: what a log rewrites in place (offsets, leader epoch, the
# append-time stamp and its CRC), and what the CRC covers (attributes to the end).
BATCH_LENGTH_OFFSET = 8
LEADER_EPOCH_OFFSET = 12
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
MAGIC = 2
TIMESTAMP_TYPE_BIT = 0x08  # in attributes: 1 when the log stamped the append time

_BASE_OFFSET = Struct(">q")
_LEADER_EPOCH = Struct(">i")
_CRC_PART = Struct(">hiqqqhii")  # attributes .. recordsCount, the first part the CRC covers
_CONTROL_KEY = Struct(">hh")
_UINT32 = Struct(">I")

_COMPRESSION_MASK = 0x07
_TRANSACTIONAL_BIT = 0x10
_CONTROL_BIT = 0x20
_DELETE_HORIZON_BIT = 0x40


class TimestampType(enum.IntEnum):
    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class ControlType(enum.IntEnum):
    ABORT = 0
    COMMIT = 1


@dataclass(frozen=True, slots=True)
class BatchHeader:
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & _COMPRESSION_MASK

    @property
    def timestamp_type(self) -> TimestampType:
        return (
            TimestampType.LOG_APPEND_TIME
            if self.attributes & TIMESTAMP_TYPE_BIT
            else TimestampType.CREATE_TIME
        )

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & _TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & _CONTROL_BIT)

    @property
    def has_delete_horizon(self) -> bool:
        return bool(self.attributes & _DELETE_HORIZON_BIT)


def peek_batch_header(data: bytes | bytearray | memoryview, offset: int = 0) -> BatchHeader:
    """Parse and sanity-check the header at `offset`; the batch body need not be present.

    Storage uses this to walk a file a header at a time. Raises DecodeError when fewer than
    HEADER_SIZE bytes remain and CorruptRecordError when the header contradicts itself.
    """
    if len(data) - offset < HEADER_SIZE:
        raise DecodeError("truncated record batch header")
    header = BatchHeader(*HEADER.unpack_from(data, offset))
    if header.magic != MAGIC:
        raise CorruptRecordError(f"record batch magic {header.magic}; only magic 2 is supported")
    if header.batch_length < HEADER_SIZE - LOG_OVERHEAD:
        raise CorruptRecordError(f"record batch length {header.batch_length} is shorter than its header")
    if header.records_count < 0 or header.last_offset_delta < 0:
        raise CorruptRecordError("record batch with a negative record count or offset delta")
    return header


def read_batch_header(data: bytes | bytearray | memoryview, offset: int = 0) -> BatchHeader:
    """Parse and sanity-check the header of the batch at `offset`; the whole batch must be there.

    Raises DecodeError when `data` ends before the batch does (a partial batch, such as the tail
    of a size-limited fetch), and CorruptRecordError when the header contradicts itself.
    """
    header = peek_batch_header(data, offset)
    if offset + header.size > len(data):
        raise DecodeError("truncated record batch")
    return header


def compute_crc(data: bytes | bytearray | memoryview, offset: int, size: int) -> int:
    """CRC-32C of a batch's covered bytes (attributes to the end)."""
    with memoryview(data) as view:
        return int(crc32c(view[offset + ATTRIBUTES_OFFSET : offset + size]))


def check_crc(data: bytes | bytearray | memoryview, offset: int, header: BatchHeader) -> None:
    actual = compute_crc(data, offset, header.size)
    if actual != header.crc:
        raise CorruptRecordError(
            f"record batch at offset {header.base_offset} fails its CRC "
            f"(stored {header.crc:#010x}, computed {actual:#010x})"
        )


def set_base_offset(buf: bytearray | memoryview, offset: int, base_offset: int) -> None:
    """Give the batch at `offset` its log position; outside the CRC, so nothing else changes."""
    _BASE_OFFSET.pack_into(buf, offset, base_offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, offset: int, epoch: int) -> None:
    _LEADER_EPOCH.pack_into(buf, offset + LEADER_EPOCH_OFFSET, epoch)


def iter_batch_headers(
    data: bytes | bytearray | memoryview, *, allow_partial_tail: bool = True
) -> Iterator[tuple[int, BatchHeader]]:
    """Walk concatenated batches, yielding (position, header) without touching their records.

    A trailing partial batch (as fetch responses may carry) ends the walk quietly unless
    `allow_partial_tail` is False, when it raises DecodeError.
    """
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < LOG_OVERHEAD and allow_partial_tail:
            return
        try:
            header = read_batch_header(data, pos)
        except CorruptRecordError:
            raise
        except DecodeError:
            if allow_partial_tail:
                return
            raise
        yield pos, header
        pos += header.size


# ---- records -------------------------------------------------------------------------------
@dataclass(slots=True)
class Record:
    """One record, with absolute offset and timestamp."""

    key: bytes | None = None
    value: bytes | None = None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp: int | None = None  # milliseconds since the epoch; None means "now" when encoding
    offset: int | None = None  # None when encoding means "next in sequence"


@dataclass(slots=True)
class RecordBatch:
    header: BatchHeader
    records: list[Record]

    @property
    def base_offset(self) -> int:
        return self.header.base_offset

    @property
    def control_type(self) -> ControlType | None:
        """For a control batch, whether it commits or aborts a transaction."""
        if not self.header.is_control or not self.records or self.records[0].key is None:
            return None
        key = self.records[0].key
        if len(key) < 4:
            raise CorruptRecordError("control record key shorter than 4 bytes")
        _version, kind = _CONTROL_KEY.unpack_from(key)
        try:
            return ControlType(kind)
        except ValueError:
            raise CorruptRecordError(f"unknown control record type {kind}") from None


#: Zigzag varints of the small non-negative numbers that fill every record: deltas and lengths.
#: Spelled out by width (zigzag of n >= 0 is 2n), as calling the encoder 16,384 times would cost
#: every command that imports this module a few milliseconds.
_ZIGZAG_SMALL = (
    [bytes((v,)) for v in range(0, 1 << 7, 2)]
    + [bytes((v & 0x7F | 0x80, v >> 7)) for v in range(1 << 7, 1 << 14, 2)]
    + [bytes((v & 0x7F | 0x80, v >> 7 & 0x7F | 0x80, v >> 14)) for v in range(1 << 14, 1 << 15, 2)]
)
_NULL = b"\x01"  # zigzag(-1): a null key, value or header value
_NO_HEADERS = b"\x00"


def _zigzag(n: int) -> bytes:
    return _ZIGZAG_SMALL[n] if 0 <= n < 16384 else w.zigzag_varlong(n)


def _encode_records(records: Sequence[Record], timestamps: list[int], base_offset: int) -> tuple[list[bytes], int]:
    """The records' bytes as pieces to join, and the last offset delta.

    Built with table look-ups because this is the producer's hot path.
    """
    small = _ZIGZAG_SMALL
    base_timestamp = timestamps[0]
    out: list[bytes] = []
    offset_delta = -1
    for record, timestamp in zip(records, timestamps, strict=True):
        offset_delta = offset_delta + 1 if record.offset is None else record.offset - base_offset
        if offset_delta < 0:
            raise EncodeError("record offsets must not precede the batch's base offset")
        delta = timestamp - base_timestamp
        key, value = record.key, record.value
        parts = [
            b"\x00",  # attributes: unused, always 0
            small[delta] if 0 <= delta < 16384 else w.zigzag_varlong(delta),
            small[offset_delta] if offset_delta < 16384 else _zigzag(offset_delta),
        ]
        if key is None:
            parts.append(_NULL)
        else:
            parts.append(small[len(key)] if len(key) < 16384 else _zigzag(len(key)))
            parts.append(key)
        if value is None:
            parts.append(_NULL)
        else:
            parts.append(small[len(value)] if len(value) < 16384 else _zigzag(len(value)))
            parts.append(value)
        headers = record.headers
        if not headers:
            parts.append(_NO_HEADERS)
        else:
            parts.append(_zigzag(len(headers)))
            for name, header_value in headers:
                raw = name.encode()
                parts.append(_zigzag(len(raw)))
                parts.append(raw)
                if header_value is None:
                    parts.append(_NULL)
                else:
                    parts.append(_zigzag(len(header_value)))
                    parts.append(header_value)
        body = b"".join(parts)
        size = len(body)
        out.append(small[size] if size < 16384 else _zigzag(size))
        out.append(body)
    return out, offset_delta


def encode_batch(
    records: Sequence[Record],
    *,
    base_offset: int = 0,
    compression: Compression = Compression.NONE,
    compression_level: int | None = None,
    timestamp_type: TimestampType = TimestampType.CREATE_TIME,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    transactional: bool = False,
    control: bool = False,
) -> bytes:
    """Build one batch. Records without an offset take the next one in sequence."""
    if not records:
        raise EncodeError("a record batch needs at least one record")
    now = int(time.time() * 1000)
    timestamps = [now if r.timestamp is None else r.timestamp for r in records]
    base_timestamp = timestamps[0]
    pieces, offset_delta = _encode_records(records, timestamps, base_offset)
    payload = compress(compression, b"".join(pieces), compression_level)
    attributes = int(compression) | (int(timestamp_type) << 3)
    if transactional:
        attributes |= _TRANSACTIONAL_BIT
    if control:
        attributes |= _CONTROL_BIT
    covered = (
        _CRC_PART.pack(
            attributes,
            offset_delta,
            base_timestamp,
            max(timestamps),
            producer_id,
            producer_epoch,
            base_sequence,
            len(records),
        )
        + payload
    )
    crc = crc32c(covered)
    batch_length = len(covered) + 9  # partitionLeaderEpoch, magic, crc
    prefix = HEADER.pack(
        base_offset, batch_length, partition_leader_epoch, MAGIC, crc, 0, 0, 0, 0, 0, 0, 0, 0
    )
    return prefix[:ATTRIBUTES_OFFSET] + covered


_NO_RECORD_HEADERS: tuple[tuple[str, bytes | None], ...] = ()


def decode_record_fields(
    data: bytes, header: BatchHeader, tag: Any = None, row_type: type[tuple[Any, ...]] = tuple
) -> list[Any]:
    """The records of a decompressed batch payload as tuples: the consumer's hot path.

    Each row is `(offset, timestamp, key, value, headers, tag)`, built directly as `row_type`
    (a tuple subclass such as a NamedTuple), so a caller gets its own record type without a
    second object per record; `tag` is whatever the caller wants every row of the batch to
    carry. Varints of one or two bytes (nearly every length and delta) are read with table
    look-ups; longer ones go through the general reader. Headers come as a tuple of (name,
    value) pairs. Rows hold only immutable values, so the garbage collector stops tracking them
    after its first look, which matters when a consumer buffers hundreds of thousands.
    """
    try:
        return _decode_fields(data, header, tag, row_type)
    except IndexError:
        raise CorruptRecordError("record runs past the end of its batch") from None


#: Zigzag decoding of every one- and two-byte varint's raw value (7 and 14 bits).
_UNZIGZAG = [(raw >> 1) ^ -(raw & 1) for raw in range(1 << 14)]


def _decode_fields(data: bytes, header: BatchHeader, tag: Any, row_type: type[tuple[Any, ...]]) -> list[Any]:
    # One long function on purpose: this loop runs once per record consumed, and every call or
    # attribute lookup it would split into costs per record.
    out: list[Any] = []
    new = tuple.__new__
    o = 0
    end = len(data)
    base_offset, base_timestamp = header.base_offset, header.base_timestamp
    # With log-append time every record carries the batch's timestamp, whatever its delta says.
    log_append_time = header.max_timestamp if header.timestamp_type is TimestampType.LOG_APPEND_TIME else None
    read_varint, read_varlong = w.read_varint, w.read_varlong
    no_headers = _NO_RECORD_HEADERS
    unzigzag = _UNZIGZAG
    append = out.append
    for _ in range(header.records_count):
        # Each varint: one byte, two bytes (table look-ups), or the general reader.
        b = data[o]
        if b < 0x80:
            length = unzigzag[b]
            o += 1
        elif data[o + 1] < 0x80:
            length = unzigzag[(b & 0x7F) | (data[o + 1] << 7)]
            o += 2
        else:
            length, o = read_varint(data, o)
        record_end = o + length
        if length < 0 or record_end > end:
            raise CorruptRecordError("record runs past the end of its batch")
        b = data[o + 1]  # past the attributes byte
        if b < 0x80:
            timestamp_delta = unzigzag[b]
            o += 2
        elif data[o + 2] < 0x80:
            timestamp_delta = unzigzag[(b & 0x7F) | (data[o + 2] << 7)]
            o += 3
        else:
            timestamp_delta, o = read_varlong(data, o + 1)
        b = data[o]
        if b < 0x80:
            offset_delta = unzigzag[b]
            o += 1
        elif data[o + 1] < 0x80:
            offset_delta = unzigzag[(b & 0x7F) | (data[o + 1] << 7)]
            o += 2
        else:
            offset_delta, o = read_varint(data, o)
        b = data[o]
        if b == 1:  # zigzag(-1): a null key
            key: bytes | None = None
            o += 1
        else:
            if b < 0x80:
                key_len = unzigzag[b]
                o += 1
            else:
                key_len, o = read_varint(data, o)
            if key_len < 0:
                raise CorruptRecordError("negative key length")
            key = data[o : o + key_len]
            o += key_len
        b = data[o]
        if b < 0x80:
            value_len = unzigzag[b]
            o += 1
        elif data[o + 1] < 0x80:
            value_len = unzigzag[(b & 0x7F) | (data[o + 1] << 7)]
            o += 2
        else:
            value_len, o = read_varint(data, o)
        if value_len >= 0:
            value: bytes | None = data[o : o + value_len]
            o += value_len
        else:
            value = None
        if data[o] == 0:  # no headers, the common case
            o += 1
            headers = no_headers
        else:
            count, o = read_varint(data, o)
            if count < 0 or count > record_end - o:
                raise CorruptRecordError("record header count out of range")
            header_list: list[tuple[str, bytes | None]] = []
            for _ in range(count):
                name_len, o = read_varint(data, o)
                if name_len < 0:
                    raise CorruptRecordError("record header with a null key")
                try:
                    name = data[o : o + name_len].decode()
                except UnicodeDecodeError:
                    raise CorruptRecordError("record header key is not UTF-8") from None
                o += name_len
                header_len, o = read_varint(data, o)
                if header_len >= 0:
                    header_list.append((name, data[o : o + header_len]))
                    o += header_len
                else:
                    header_list.append((name, None))
            headers = tuple(header_list)
        if o != record_end:
            raise CorruptRecordError("record length does not match its contents")
        append(new(row_type, (base_offset + offset_delta, base_timestamp + timestamp_delta, key, value, headers, tag)))
    if o != end:
        raise CorruptRecordError("bytes left over after the batch's last record")
    if log_append_time is not None:  # rare: rebuild the rows with the batch's timestamp
        out = [new(row_type, (r[0], log_append_time, *r[2:])) for r in out]
    return out


def check_records(data: bytes | bytearray | memoryview, count: int, keys_required: bool) -> tuple[int, int]:
    """Check a batch's (decompressed) records section as Kafka's LogValidator reads it, without
    building anything: `count` records, each exactly as long as its length says, with offset
    deltas 0, 1, 2, ..., lengths that stay inside it, no null header keys, no bytes left over,
    and, with `keys_required` (a compacted topic), a key on every record. Returns the smallest
    and largest timestamp deltas. Raises CorruptRecordError for bytes that do not read as records, and
    InvalidRecordError for records that break a rule. The C version (`_check_records.c`) does
    the same on the produce path; this one is its definition, and the fallback."""
    if _check_records is None:
        return check_records_python(data, count, keys_required)
    first, second = _check_records.check_records(data, count, keys_required)
    if isinstance(second, str):
        raise (CorruptRecordError if first == 1 else InvalidRecordError)(second)
    return first, second


def check_records_python(data: bytes | bytearray | memoryview, count: int, keys_required: bool) -> tuple[int, int]:
    buf = bytes(data)
    end = len(buf)
    o = 0
    min_delta, max_delta = 2**63 - 1, -(2**63)
    try:
        for index in range(count):
            if o >= end:
                raise CorruptRecordError(f"the batch holds fewer records than its count of {count}")
            length, o = w.read_varint(buf, o)
            record_end = o + length
            if length < 0 or record_end > end:
                raise CorruptRecordError(f"record {index}'s length {length} runs past the end of its batch")
            o += 1  # attributes
            delta, o = w.read_varlong(buf, o)
            max_delta = max(max_delta, delta)
            min_delta = min(min_delta, delta)
            offset_delta, o = w.read_varint(buf, o)
            if offset_delta != index:
                raise InvalidRecordError(f"record {index} has offset delta {offset_delta}: offsets must be in sequence")
            key_len, o = w.read_varint(buf, o)
            if key_len < -1 or o + max(key_len, 0) > record_end:
                raise CorruptRecordError(f"record {index}'s key length {key_len} is out of range")
            if key_len == -1 and keys_required:
                raise InvalidRecordError("a compacted topic does not accept records without a key")
            o += max(key_len, 0)
            value_len, o = w.read_varint(buf, o)
            if value_len < -1 or o + max(value_len, 0) > record_end:
                raise CorruptRecordError(f"record {index}'s value length {value_len} is out of range")
            o += max(value_len, 0)
            headers, o = w.read_varint(buf, o)
            if headers < 0 or headers > record_end - o:
                raise CorruptRecordError(f"record {index}'s header count {headers} is out of range")
            for _ in range(headers):
                name_len, o = w.read_varint(buf, o)
                if name_len < 0 or o + name_len > record_end:
                    raise CorruptRecordError(f"record {index} has a header key of length {name_len}")
                o += name_len
                value_len, o = w.read_varint(buf, o)
                if value_len < -1 or o + max(value_len, 0) > record_end:
                    raise CorruptRecordError(f"record {index} has a header value of length {value_len}")
                o += max(value_len, 0)
            if o != record_end:
                raise CorruptRecordError(f"record {index}'s length {length} does not match its contents")
    except DecodeError as exc:
        if isinstance(exc, CorruptRecordError):
            raise
        raise CorruptRecordError(f"malformed record: {exc}") from None
    if o != end:
        raise CorruptRecordError(f"{end - o} bytes left over after the batch's {count} records")
    return (min_delta, max_delta) if count else (0, 0)


def _decode_records(data: bytes, header: BatchHeader) -> list[Record]:
    return [Record(key, value, list(headers), timestamp, offset)
            for offset, timestamp, key, value, headers, _ in decode_record_fields(data, header)]


def batch_payload(data: bytes, offset: int = 0, *, verify_crc: bool = True) -> tuple[BatchHeader, bytes]:
    """A batch's header and its decompressed records section, CRC-checked."""
    header = read_batch_header(data, offset)
    if verify_crc:
        check_crc(data, offset, header)
    return header, decompress(header.compression, data[offset + HEADER_SIZE : offset + header.size])


def decode_batch(data: bytes, offset: int = 0, *, verify_crc: bool = True,
                 limit: int = MAX_DECOMPRESSED_SIZE) -> RecordBatch:
    """One batch, its records decoded; `limit` bounds what its records may inflate to."""
    header = read_batch_header(data, offset)
    if verify_crc:
        check_crc(data, offset, header)
    body = data[offset + HEADER_SIZE : offset + header.size]
    if not isinstance(body, bytes):  # a view into a read buffer: records keep bytes of their own
        body = bytes(body)
    payload = decompress(header.compression, body, limit)
    try:
        records = _decode_records(payload, header)
    except CorruptRecordError:
        raise
    except DecodeError as exc:
        raise CorruptRecordError(f"malformed record: {exc}") from None
    return RecordBatch(header, records)


def decode_batches(data: bytes, *, verify_crc: bool = True) -> list[RecordBatch]:
    """Every complete batch in `data`; a partial trailing batch is left out."""
    return [decode_batch(data, pos, verify_crc=verify_crc) for pos, _ in iter_batch_headers(data)]


__all__ = [
    "ATTRIBUTES_OFFSET",
    "BATCH_LENGTH_OFFSET",
    "CRC_OFFSET",
    "HEADER_SIZE",
    "LEADER_EPOCH_OFFSET",
    "LOG_OVERHEAD",
    "MAGIC_OFFSET",
    "TIMESTAMP_TYPE_BIT",
    "BatchHeader",
    "Compression",
    "ControlType",
    "Record",
    "RecordBatch",
    "TimestampType",
    "batch_payload",
    "check_crc",
    "check_records",
    "compute_crc",
    "decode_batch",
    "decode_batches",
    "decode_record_fields",
    "encode_batch",
    "iter_batch_headers",
    "peek_batch_header",
    "read_batch_header",
    "set_base_offset",
    "set_partition_leader_epoch",
]
