"""Log segments read offline, with no broker running: what `kctl log dump` prints and what
`kctl log verify` checks, for files written by Apache Kafka or by the built-in broker (they share
Kafka's layout).

A partition directory holds segments named by their base offset: `N.log` (record batches),
`N.index` (offset -> file position, sparse) and `N.timeindex` (timestamp -> offset, sparse). The
files are only read, never changed, so it is safe on a copy of a live log dir (a log still being
written may end in a torn batch, which verify then reports).

Checks, each reported with its file and byte position:
- every batch: a readable header, magic 2, a CRC that matches, records that decompress and number
  what the header says, offsets that go up, none below the segment's base offset;
- a torn tail: bytes after the last whole batch;
- the offset index: entries whose offsets and positions go up, each at the start of a batch that
  holds its offset (Kafka writes a batch's last offset, the built-in broker its first: both hold);
- the time index: timestamps that never go down, each the largest timestamp of the log up to the
  batch holding its offset.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from struct import Struct
from typing import Any
from uuid import UUID

from kctl.protocol._wire import Message
from kctl.protocol.errors import ProtocolError
from kctl.protocol.records import (
    HEADER_SIZE,
    BatchHeader,
    RecordBatch,
    TimestampType,
    compute_crc,
    decode_batch,
    peek_batch_header,
)

from .errors import BadUsage, NotFound

_OFFSET_ENTRY = Struct(">ii")  # relative offset, file position
_TIME_ENTRY = Struct(">qi")  # timestamp, relative offset
_COMPRESSION = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
#: Internal topics whose records kctl decodes, by the partition directory's topic name.
DECODERS = {"__consumer_offsets": "offsets", "__transaction_state": "transactions", "__cluster_metadata": "metadata"}
#: Control record types: transaction markers, and KRaft's in `__cluster_metadata`.
CONTROL_TYPES = {0: "ABORT", 1: "COMMIT", 2: "LEADER_CHANGE", 3: "SNAPSHOT_HEADER", 4: "SNAPSHOT_FOOTER",
                 5: "KRAFT_VERSION", 6: "KRAFT_VOTERS"}
_CONTROL_KEY = Struct(">hh")  # version, type


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    position: int  # byte position in the file (an index file's: the entry's)
    what: str

    def row(self) -> dict[str, Any]:
        return {"file": self.file, "position": self.position, "problem": self.what}


def segment_files(path: Path) -> list[Path]:
    """The `.log` files `path` names: itself, or a partition directory's, in offset order."""
    if path.is_dir():
        found = sorted(path.glob("*.log"))
        if not found:
            raise NotFound(f"{path} holds no .log segment files",
                           "point at a partition directory (such as orders-0) or a .log file")
        return found
    if not path.exists():
        raise NotFound(f"{path} does not exist")
    if path.suffix not in (".log", ".index", ".timeindex"):
        raise BadUsage(f"{path} is not a segment file", "give a .log, .index or .timeindex file, or a partition dir")
    return [path.with_suffix(".log")]


def base_offset_of(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        raise BadUsage(f"{path.name}: a segment file is named by its base offset (00000000000000000000.log)") from None


def decoder_for(path: Path, wanted: str) -> str | None:
    """Which internal topic's records to decode: `wanted`, or for "auto" the partition
    directory's topic (`__consumer_offsets-N`, `__transaction_state-N`, `__cluster_metadata-0`)."""
    if wanted == "none":
        return None
    if wanted in DECODERS.values():
        return wanted
    if wanted != "auto":
        raise BadUsage(f"--decode {wanted!r}", "use auto, offsets, transactions, metadata or none")
    return DECODERS.get(path.parent.name.rpartition("-")[0])


# ---- the log ------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Scanned:
    """One batch read from a segment file: where, its header, its bytes; or what stopped the scan."""

    position: int
    header: BatchHeader | None
    data: bytes
    problem: str | None = None


def scan(data: bytes) -> Iterator[Scanned]:
    """The batches of a segment file's bytes, in order; a torn or unreadable tail ends it."""
    position = 0
    while position < len(data):
        left = len(data) - position
        if left < HEADER_SIZE:
            yield Scanned(position, None, b"", f"torn tail: {left} byte(s) after the last whole batch")
            return
        try:
            header = peek_batch_header(data, position)
        except ProtocolError as exc:
            yield Scanned(position, None, b"", f"unreadable batch header: {exc}")
            return
        if header.size > left:
            yield Scanned(position, header, b"", f"torn tail: a batch of {header.size} bytes with {left} "
                                                 "left in the file")
            return
        yield Scanned(position, header, data[position:position + header.size])
        position += header.size


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()


def _plain(value: Any) -> Any:
    """A decoded internal record (generated message classes) as plain data."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return _text(bytes(value))
    if isinstance(value, UUID):
        return str(value)  # as kctl shows topic ids everywhere
    if isinstance(value, Message):
        names: tuple[str, ...] = value.__slots__
        return {name: _plain(getattr(value, name)) for name in names}
    return value


def _decode_internal(kind: str, key: bytes | None, value: bytes | None) -> dict[str, Any]:
    from kctl.protocol import data

    if kind == "metadata":
        return _decode_metadata(value)
    if key is None:
        return {"error": "no key"}
    decoded_key: Any
    decoded_value: Any
    try:
        if kind == "offsets":
            decoded_key = data.decode_offsets_key(key)
            decoded_value = data.decode_offsets_value(decoded_key, value)
        else:
            decoded_key = data.decode(data.TransactionLogKey, key)
            decoded_value = None if value is None else data.decode(data.TransactionLogValue, value)
    except ProtocolError as exc:
        return {"error": str(exc)}
    return {"key": {"type": type(decoded_key).__name__, **_plain(decoded_key)},
            "value": None if decoded_value is None else {"type": type(decoded_value).__name__,
                                                         **_plain(decoded_value)}}


def _decode_metadata(value: bytes | None) -> dict[str, Any]:
    from kctl.protocol.metadata_log import decode_metadata_record

    if value is None:
        return {"error": "no value"}
    try:
        name, version, record = decode_metadata_record(value)
    except ProtocolError as exc:
        return {"error": str(exc)}
    return {"type": name, "version": version, **_plain(record)}


def _control_type(batch: RecordBatch) -> str | None:
    key = batch.records[0].key if batch.records else None
    if key is None or len(key) < _CONTROL_KEY.size:
        return None
    _version, kind = _CONTROL_KEY.unpack_from(key)
    return CONTROL_TYPES.get(kind, f"type {kind}")


def batch_row(scanned: Scanned, *, records: bool, decode: str | None) -> dict[str, Any]:
    """A batch as `kctl log dump` shows it: the fields kafka-dump-log.sh prints, and its records."""
    header = scanned.header
    assert header is not None
    data = scanned.data
    crc_valid = compute_crc(data, 0, header.size) == header.crc
    last_sequence = -1 if header.base_sequence < 0 else header.base_sequence + header.last_offset_delta
    row: dict[str, Any] = {
        "position": scanned.position, "base_offset": header.base_offset, "last_offset": header.last_offset,
        "count": header.records_count, "size": header.size, "magic": header.magic,
        "crc": header.crc, "crc_valid": crc_valid, "compression": _COMPRESSION.get(header.compression, "?"),
        "producer_id": header.producer_id, "producer_epoch": header.producer_epoch,
        "base_sequence": header.base_sequence, "last_sequence": last_sequence,
        "partition_leader_epoch": header.partition_leader_epoch,
        "transactional": header.is_transactional, "control": header.is_control,
        "timestamp_type": "LogAppendTime" if header.timestamp_type is TimestampType.LOG_APPEND_TIME else "CreateTime",
        "max_timestamp": header.max_timestamp,
    }
    if not records:
        return row
    try:
        batch = decode_batch(data, verify_crc=False)
    except ProtocolError as exc:
        row["error"] = f"records unreadable: {exc}"
        return row
    if header.is_control:
        row["control_type"] = _control_type(batch)
    row["records"] = [_record_row(batch, i, decode) for i in range(len(batch.records))]
    return row


def _record_row(batch: RecordBatch, i: int, decode: str | None) -> dict[str, Any]:
    record = batch.records[i]
    out: dict[str, Any] = {"offset": record.offset, "timestamp": record.timestamp, "key": _text(record.key),
                           "value": _text(record.value),
                           "headers": [[k, _text(v)] for k, v in record.headers or []]}
    if decode is not None and not batch.header.is_control:
        out["decoded"] = _decode_internal(decode, record.key, record.value)
    return out


def dump_log(path: Path, *, records: bool = True, decode: str = "auto") -> Iterator[dict[str, Any]]:
    """Every batch of a `.log` file, in order; a row with `problem` where the file is torn."""
    data = path.read_bytes()
    kind = decoder_for(path, decode)
    for scanned in scan(data):
        if scanned.problem is not None:
            yield {"position": scanned.position, "problem": scanned.problem}
            return
        yield batch_row(scanned, records=records, decode=kind)


# ---- the indexes -----------------------------------------------------------------------------------------
def offset_index(path: Path, base_offset: int) -> list[tuple[int, int, int]]:
    """(entry position, offset, file position) of each entry; a preallocated file's zero-filled
    tail (Kafka's active segment) ends the list, as in Kafka's own reader."""
    raw = path.read_bytes() if path.exists() else b""
    out = []
    for i, (relative, position) in enumerate(_OFFSET_ENTRY.iter_unpack(raw[: len(raw) // 8 * 8])):
        if i > 0 and relative == 0 and position == 0:
            break
        out.append((i * _OFFSET_ENTRY.size, base_offset + relative, position))
    return out


def time_index(path: Path, base_offset: int) -> list[tuple[int, int, int]]:
    """(entry position, timestamp, offset) of each entry, up to a zero-filled tail (which for
    Kafka's active segment may be the whole file: no entry has timestamp 0 at the base offset)."""
    raw = path.read_bytes() if path.exists() else b""
    out = []
    for i, (timestamp, relative) in enumerate(_TIME_ENTRY.iter_unpack(raw[: len(raw) // 12 * 12])):
        if timestamp == 0 and relative == 0:
            break
        out.append((i * _TIME_ENTRY.size, timestamp, base_offset + relative))
    return out


def dump_index(path: Path) -> Iterator[dict[str, Any]]:
    base = base_offset_of(path)
    if path.suffix == ".index":
        for at, offset, position in offset_index(path, base):
            yield {"entry_position": at, "offset": offset, "position": position}
    else:
        for at, timestamp, offset in time_index(path, base):
            yield {"entry_position": at, "timestamp": timestamp, "offset": offset}


# ---- verify ----------------------------------------------------------------------------------------------
def verify_segment(log_path: Path) -> tuple[int, list[Problem]]:
    """The batches read and the problems found in one segment and its indexes."""
    name = log_path.name
    base = base_offset_of(log_path)
    problems: list[Problem] = []
    batches: list[tuple[int, BatchHeader]] = []  # position, header
    previous_last = base - 1
    for scanned in scan(log_path.read_bytes()):
        if scanned.problem is not None:
            problems.append(Problem(name, scanned.position, scanned.problem))
            break
        header, at = scanned.header, scanned.position
        assert header is not None
        if header.magic != 2:
            problems.append(Problem(name, at, f"magic {header.magic}: only v2 record batches are read"))
            continue
        stored, computed = header.crc, compute_crc(scanned.data, 0, header.size)
        if stored != computed:
            problems.append(Problem(name, at, f"CRC mismatch in the batch at offset {header.base_offset}: "
                                              f"stored {stored:#010x}, computed {computed:#010x}"))
        else:
            try:
                batch = decode_batch(scanned.data, verify_crc=False)
                if len(batch.records) != header.records_count:
                    problems.append(Problem(name, at, f"the batch at offset {header.base_offset} holds "
                                                      f"{len(batch.records)} records, its header says "
                                                      f"{header.records_count}"))
            except ProtocolError as exc:
                problems.append(Problem(name, at, f"the records of the batch at offset {header.base_offset} "
                                                  f"cannot be read: {exc}"))
        if header.base_offset <= previous_last:
            problems.append(Problem(name, at, f"offset {header.base_offset} does not follow {previous_last}"))
        previous_last = max(previous_last, header.last_offset)
        batches.append((at, header))
    problems += _verify_offset_index(log_path.with_suffix(".index"), base, batches)
    problems += _verify_time_index(log_path.with_suffix(".timeindex"), base, batches)
    return len(batches), problems


def _containing(batches: list[tuple[int, BatchHeader]], offset: int) -> int | None:
    """The index in `batches` of the batch holding `offset`."""
    from bisect import bisect_right

    bases = [h.base_offset for _, h in batches]
    i = bisect_right(bases, offset) - 1
    if i >= 0 and batches[i][1].base_offset <= offset <= batches[i][1].last_offset:
        return i
    return None


def _verify_offset_index(path: Path, base: int, batches: list[tuple[int, BatchHeader]]) -> list[Problem]:
    if not path.exists():
        return []
    name = path.name
    problems = []
    if path.stat().st_size % _OFFSET_ENTRY.size:
        problems.append(Problem(name, path.stat().st_size // 8 * 8, "a partial entry at the end"))
    starts = {position: header for position, header in batches}
    last_offset = last_position = -1
    for at, offset, position in offset_index(path, base):
        if offset <= last_offset or position <= last_position:
            problems.append(Problem(name, at, f"entry ({offset}, {position}) does not follow "
                                              f"({last_offset}, {last_position})"))
        last_offset, last_position = max(last_offset, offset), max(last_position, position)
        header = starts.get(position)
        if header is None:
            problems.append(Problem(name, at, f"entry for offset {offset} points at position {position}, "
                                              "where no batch starts"))
        elif not header.base_offset <= offset <= header.last_offset:
            problems.append(Problem(name, at, f"entry for offset {offset} points at the batch of offsets "
                                              f"{header.base_offset}-{header.last_offset} (position {position})"))
    return problems


def _verify_time_index(path: Path, base: int, batches: list[tuple[int, BatchHeader]]) -> list[Problem]:
    if not path.exists():
        return []
    name = path.name
    problems = []
    running_max: list[int] = []
    highest = -1
    for _, header in batches:
        highest = max(highest, header.max_timestamp)
        running_max.append(highest)
    last = -1
    for at, timestamp, offset in time_index(path, base):
        if timestamp < last:
            problems.append(Problem(name, at, f"timestamp {timestamp} goes back from {last}"))
        last = max(last, timestamp)
        i = _containing(batches, offset)
        if i is None:
            problems.append(Problem(name, at, f"entry ({timestamp}, {offset}): no batch holds offset {offset}"))
        elif timestamp != running_max[i]:
            problems.append(Problem(name, at, f"entry ({timestamp}, {offset}): the log's largest timestamp up to "
                                              f"that batch is {running_max[i]}"))
    return problems


def verify(path: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Per segment what was read, and every problem found."""
    summary = []
    problems: list[Problem] = []
    for log_path in segment_files(path):
        count, found = verify_segment(log_path)
        summary.append({"segment": str(log_path), "batches": count, "problems": len(found)})
        problems += found
    return summary, problems
