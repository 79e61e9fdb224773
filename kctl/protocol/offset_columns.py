"""OffsetFetch answers (v8 and later) read column by column, for lag over many groups.

The generated decoder builds an object per partition; at 500 groups of 1,000 partitions that is
half a million objects. This reads each group's offsets straight into three columns (topic,
partition, committed offset). When no entry of a group has metadata or tagged fields, as commits
by consumers almost always do, each entry is 20 bytes and all of the group's entries are unpacked
at once by `struct.iter_unpack`; otherwise its entries are read one by one.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from . import _wire as w
from .errors import DecodeError

#: partition_index, committed_offset, committed_leader_epoch, metadata length (0: null, 1: ""),
#: error_code, tagged field count.
_PLAIN_ENTRY = struct.Struct(">iqiBhB")
_PLAIN_SIZE = _PLAIN_ENTRY.size  # 20
_PARTITION_OFFSET = struct.Struct(">iq")
_INT16 = struct.Struct(">h")


class GroupCommitted(NamedTuple):
    """A group's committed offsets, row by row in three columns sorted by topic and partition:
    only partitions with an offset committed and no error."""

    group_id: str
    error_code: int
    topics: list[str]
    partitions: list[int]
    offsets: list[int]


class _NotPlain(Exception):
    """Some entry has metadata or tagged fields, or a topic's name takes more than one length
    byte: read the group entry by entry."""


def decode_offset_fetch_columns(b: bytes | bytearray, o: int, version: int) -> list[GroupCommitted]:
    """An OffsetFetch response body (v8+) from offset `o`: per group, its committed offsets."""
    if version < 8:
        raise ValueError(f"OffsetFetch v{version} has no groups array; read it with the generated decoder")
    o += 4  # throttle_time_ms
    groups: list[GroupCommitted] = []
    names: dict[bytes, str] = {}  # topic names repeat in every group
    count, o = _array_length(b, o, "groups")
    for _ in range(count):
        group_id, o = w.read_compact_string(b, o)
        try:
            topics, partitions, offsets, o = _plain_topics(b, o, names)
        except (_NotPlain, IndexError, UnicodeDecodeError, DecodeError):
            topics, partitions, offsets, o = _topics(b, o)
        if len(b) < o + 2:
            raise w.truncated("group error code")
        (error_code,) = _INT16.unpack_from(b, o)
        o = _skip_tags(b, o + 2)
        groups.append(GroupCommitted(group_id, error_code, topics, partitions, offsets))
    _skip_tags(b, o)
    return groups


def _plain_topics(b: bytes | bytearray, o: int, names: dict[bytes, str]
                  ) -> tuple[list[str], list[int], list[int], int]:
    """A group's topics when every entry is 20 bytes: all its entries unpacked at once."""
    count, o = _array_length(b, o, "topics")
    spans: list[tuple[str, int, int]] = []  # topic, where its entries start, how many
    for _ in range(count):
        size = b[o]
        if not 0 < size < 128:
            raise _NotPlain
        raw = bytes(b[o + 1:o + size])
        name = names.get(raw)
        if name is None:
            name = names[raw] = raw.decode()
        o += size
        entries = b[o] - 1  # a compact array's length: one byte up to 126 entries
        if 0 <= entries < 127:
            o += 1
        else:
            entries, o = _array_length(b, o, "partitions")
        spans.append((name, o, entries))
        o += entries * _PLAIN_SIZE
        if b[o]:  # the topic's tagged fields
            raise _NotPlain
        o += 1
    spans.sort()
    joined = b"".join([b[start:start + n * _PLAIN_SIZE] for _, start, n in spans])
    # Each entry is checked at its own metadata-length and tag-count bytes: if both say
    # "nothing", it is 20 bytes and the next one starts where the stride says: the check is sound.
    if (len(joined) != sum(n for _, _, n in spans) * _PLAIN_SIZE or not _only(joined[16::_PLAIN_SIZE], b"\x00\x01")
            or not _only(joined[19::_PLAIN_SIZE], b"\x00")):
        raise _NotPlain
    rows = list(_PLAIN_ENTRY.iter_unpack(joined))
    topics: list[str] = []
    at = 0
    for name, _, n in spans:
        topics += [name] * n
        if n > 1:
            rows[at:at + n] = sorted(rows[at:at + n])
        at += n
    partitions = [r[0] for r in rows]
    offsets = [r[1] for r in rows]
    if not (_only(joined[17::_PLAIN_SIZE], b"\x00") and _only(joined[18::_PLAIN_SIZE], b"\x00")
            and (not offsets or min(offsets) >= 0)):
        kept = [i for i, r in enumerate(rows) if r[1] >= 0 and not r[4]]
        topics = [topics[i] for i in kept]
        partitions, offsets = [partitions[i] for i in kept], [offsets[i] for i in kept]
    return topics, partitions, offsets, o


def _topics(b: bytes | bytearray, o: int) -> tuple[list[str], list[int], list[int], int]:
    """A group's topics, entry by entry."""
    rows: list[tuple[str, int, int]] = []
    count, o = _array_length(b, o, "topics")
    for _ in range(count):
        name, o = w.read_compact_string(b, o)
        entries, o = _array_length(b, o, "partitions")
        for _ in range(entries):
            if len(b) < o + 16:
                raise w.truncated("partition")
            partition, offset = _PARTITION_OFFSET.unpack_from(b, o)
            _, o = w.read_compact_nullable_string(b, o + 16)  # metadata
            if len(b) < o + 2:
                raise w.truncated("partition error code")
            (error_code,) = _INT16.unpack_from(b, o)
            o = _skip_tags(b, o + 2)
            if offset >= 0 and not error_code:
                rows.append((name, partition, offset))
        o = _skip_tags(b, o)
    rows.sort()
    return [t for t, _, _ in rows], [p for _, p, _ in rows], [c for _, _, c in rows], o


def _only(column: bytes | bytearray, allowed: bytes) -> bool:
    """Whether every byte of `column` is one of `allowed`."""
    return not column.translate(None, allowed)


def _array_length(b: bytes | bytearray, o: int, what: str) -> tuple[int, int]:
    if o >= len(b):
        raise w.truncated(f"array {what}")
    raw, o = w.read_uvarint(b, o)
    if raw == 0:
        raise w.invalid(f"null array in non-nullable field {what}")
    if raw - 1 > len(b) - o:
        raise w.truncated(f"array {what}")
    return raw - 1, o


def _skip_tags(b: bytes | bytearray, o: int) -> int:
    if o >= len(b):
        raise w.truncated("tagged fields")
    return o + 1 if b[o] == 0 else w.skip_tags(b, o)
