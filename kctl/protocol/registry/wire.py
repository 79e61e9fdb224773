"""Confluent's wire format: magic byte 0, the schema id as a big-endian int32, then the body.

Protobuf bodies start with the message indexes: which message of the schema's file was written, as
a path through nested messages, in zigzag varints with the count first. The common case, the first
top-level message, is a single 0 byte.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .._wire import read_varint, zigzag_varint

MAGIC = 0
_HEADER = struct.Struct(">bI")


@dataclass(frozen=True, slots=True)
class Framed:
    schema_id: int
    #: Where the body starts in the record's bytes.
    body_start: int


def unframe(data: bytes | memoryview | None) -> Framed | None:
    """The schema id of bytes in Confluent's format, or None for anything else."""
    if data is None or len(data) < _HEADER.size or data[0] != MAGIC:
        return None
    _, schema_id = _HEADER.unpack_from(data, 0)
    return Framed(schema_id, _HEADER.size)


def frame(schema_id: int, body: bytes, indexes: Sequence[int] | None = None) -> bytes:
    """The record bytes for `body` written with schema `schema_id` (Protobuf: with `indexes`)."""
    head = _HEADER.pack(MAGIC, schema_id)
    if indexes is None:
        return head + body
    return head + encode_indexes(indexes) + body


def encode_indexes(indexes: Sequence[int]) -> bytes:
    if list(indexes) == [0]:
        return b"\x00"
    return zigzag_varint(len(indexes)) + b"".join(zigzag_varint(i) for i in indexes)


def decode_indexes(data: bytes | memoryview, pos: int) -> tuple[list[int], int]:
    """The message indexes at `pos` and where the message starts (Java's 32-bit zigzag varints)."""
    if isinstance(data, memoryview):
        data = bytes(data[: pos + 5 * 101])  # the indexes alone: at most 101 varints of 5 bytes
    count, pos = read_varint(data, pos)
    if count == 0:
        return [0], pos
    if count < 0 or count > 100:
        raise ValueError(f"{count} message indexes: not Protobuf in Confluent's format")
    out = []
    for _ in range(count):
        index, pos = read_varint(data, pos)
        out.append(index)
    return out, pos
