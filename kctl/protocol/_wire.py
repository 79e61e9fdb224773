"""Primitive readers and writers shared by the generated message modules.

Readers take `(buffer, offset)` and return `(value, new_offset)`; writers append to a bytearray.
Readers check every length against the buffer before slicing, so a lying length prefix raises
`DecodeError` instead of returning a short value or allocating what the peer asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from struct import Struct
from struct import error as StructError
from typing import Any, Generic, TypeVar
from uuid import UUID

from .errors import DecodeError, EncodeError

__all__ = ["FRESH", "ZERO_UUID", "Any", "Message", "Request", "Struct", "StructError"]

T = TypeVar("T")
Encoder = Callable[[T, bytearray], None]
Decoder = Callable[[bytes, int], "tuple[T, int]"]

ZERO_UUID = UUID(int=0)

#: The default of a list or struct field: the constructor puts a new empty one in its place.
FRESH: Any = object()


class Message:
    """Base of the generated message classes: equality and repr over their `__slots__`."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        names: tuple[str, ...] = self.__slots__
        return all(getattr(self, name) == getattr(other, name) for name in names)

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


ResponseT = TypeVar("ResponseT", bound=Message)


class Request(Message, Generic[ResponseT]):
    """Base of the generated request classes: each names its response type, so a client's
    `request(MetadataRequest(...))` is typed as returning a `MetadataResponse`."""

    __slots__ = ()


_I8 = Struct(">b")
_I16 = Struct(">h")
_I32 = Struct(">i")
unpack_i8 = _I8.unpack_from
unpack_i16 = _I16.unpack_from
unpack_i32 = _I32.unpack_from
pack_i16 = _I16.pack
pack_i32 = _I32.pack

# Single-byte unsigned varints, prebuilt: nearly every compact length is one of these.
_SMALL_UVARINT = [bytes((i,)) for i in range(128)]


def truncated(what: str) -> DecodeError:
    return DecodeError(f"truncated {what}")


def invalid(what: str) -> DecodeError:
    return DecodeError(what)


# ---- varints -------------------------------------------------------------------------------
def _unsigned_varint(raw: int) -> bytes:
    if raw < 128:
        return _SMALL_UVARINT[raw]
    out = bytearray()
    while raw >= 0x80:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def uvarint(value: int) -> bytes:
    """Unsigned varint (LEB128), as used for compact lengths and tag numbers."""
    if value < 0 or value > 0xFFFFFFFF:
        raise EncodeError(f"unsigned varint out of range: {value}")
    return _unsigned_varint(value)


def read_uvarint(b: bytes | bytearray, o: int) -> tuple[int, int]:
    """Read an unsigned 32-bit varint; at most 5 bytes."""
    if o < len(b) and b[o] < 0x80:  # the common one-byte case
        return b[o], o + 1
    value, o = _read_unsigned(b, o, 5)
    if value > 0xFFFFFFFF:
        raise DecodeError("varint does not fit in 32 bits")
    return value, o


def zigzag_varint(value: int) -> bytes:
    """Signed varint (zigzag), as used inside records; 32-bit."""
    if not -0x80000000 <= value <= 0x7FFFFFFF:
        raise EncodeError(f"varint out of range: {value}")
    return _unsigned_varint(((value << 1) ^ (value >> 31)) & 0xFFFFFFFF)


def zigzag_varlong(value: int) -> bytes:
    """Signed varlong (zigzag); 64-bit."""
    if not -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
        raise EncodeError(f"varlong out of range: {value}")
    return _unsigned_varint(((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF)


def _read_unsigned(b: bytes | bytearray, o: int, max_bytes: int) -> tuple[int, int]:
    value = 0
    shift = 0
    end = o + max_bytes
    while True:
        if o >= end:
            raise DecodeError(f"varint longer than {max_bytes} bytes")
        try:
            byte = b[o]
        except IndexError:
            raise truncated("varint") from None
        o += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, o
        shift += 7


def read_varint(b: bytes | bytearray, o: int) -> tuple[int, int]:
    """Read a zigzag-encoded signed 32-bit varint."""
    raw, o = _read_unsigned(b, o, 5)
    if raw > 0xFFFFFFFF:
        raise DecodeError("varint does not fit in 32 bits")
    return (raw >> 1) ^ -(raw & 1), o


def read_varlong(b: bytes | bytearray, o: int) -> tuple[int, int]:
    """Read a zigzag-encoded signed 64-bit varlong."""
    raw, o = _read_unsigned(b, o, 10)
    if raw > 0xFFFFFFFFFFFFFFFF:
        raise DecodeError("varlong does not fit in 64 bits")
    return (raw >> 1) ^ -(raw & 1), o


# ---- strings and bytes ---------------------------------------------------------------------
def _text(b: bytes | bytearray, o: int, end: int) -> str:
    if end > len(b):
        raise truncated("string")
    try:
        return b[o:end].decode()
    except UnicodeDecodeError as exc:
        raise DecodeError(f"string is not valid UTF-8: {exc.reason}") from None


def read_string(b: bytes | bytearray, o: int) -> tuple[str, int]:
    (n,) = unpack_i16(b, o)
    if n < 0:
        raise DecodeError("null string in a non-nullable field")
    o += 2
    return _text(b, o, o + n), o + n


def read_nullable_string(b: bytes | bytearray, o: int) -> tuple[str | None, int]:
    (n,) = unpack_i16(b, o)
    o += 2
    if n < 0:
        return None, o
    return _text(b, o, o + n), o + n


def read_compact_string(b: bytes | bytearray, o: int) -> tuple[str, int]:
    n, o = read_uvarint(b, o)
    if n == 0:
        raise DecodeError("null string in a non-nullable field")
    return _text(b, o, o + n - 1), o + n - 1


def read_compact_nullable_string(b: bytes | bytearray, o: int) -> tuple[str | None, int]:
    n, o = read_uvarint(b, o)
    if n == 0:
        return None, o
    return _text(b, o, o + n - 1), o + n - 1


def _blob(b: bytes | bytearray, o: int, end: int) -> bytes:
    if end > len(b):
        raise truncated("bytes")
    # A frame read straight into a bytearray still yields immutable bytes fields: one copy either way.
    return b[o:end] if type(b) is bytes else bytes(memoryview(b)[o:end])


def read_bytes(b: bytes | bytearray, o: int) -> tuple[bytes, int]:
    (n,) = unpack_i32(b, o)
    if n < 0:
        raise DecodeError("null bytes in a non-nullable field")
    o += 4
    return _blob(b, o, o + n), o + n


def read_nullable_bytes(b: bytes | bytearray, o: int) -> tuple[bytes | None, int]:
    (n,) = unpack_i32(b, o)
    o += 4
    if n < 0:
        return None, o
    return _blob(b, o, o + n), o + n


def read_compact_bytes(b: bytes | bytearray, o: int) -> tuple[bytes, int]:
    n, o = read_uvarint(b, o)
    if n == 0:
        raise DecodeError("null bytes in a non-nullable field")
    return _blob(b, o, o + n - 1), o + n - 1


def read_compact_nullable_bytes(b: bytes | bytearray, o: int) -> tuple[bytes | None, int]:
    n, o = read_uvarint(b, o)
    if n == 0:
        return None, o
    return _blob(b, o, o + n - 1), o + n - 1


def read_uuid(b: bytes | bytearray, o: int) -> tuple[UUID, int]:
    end = o + 16
    if end > len(b):
        raise truncated("uuid")
    return UUID(bytes=bytes(b[o:end])), end


def null_in_version(name: str) -> EncodeError:
    return EncodeError(f"{name} is null, which this version cannot carry")


def _not_null(value: object) -> None:
    raise EncodeError("null value in a field that is not nullable in this version")


def write_string(buf: bytearray, value: str | None) -> None:
    if value is None:
        _not_null(value)
        return
    data = value.encode()
    if len(data) > 0x7FFF:
        raise EncodeError("string longer than 32767 bytes")
    buf += pack_i16(len(data))
    buf += data


def write_nullable_string(buf: bytearray, value: str | None) -> None:
    if value is None:
        buf += b"\xff\xff"
    else:
        write_string(buf, value)


def write_compact_string(buf: bytearray, value: str | None) -> None:
    if value is None:
        _not_null(value)
        return
    data = value.encode()
    buf += uvarint(len(data) + 1)
    buf += data


def write_compact_nullable_string(buf: bytearray, value: str | None) -> None:
    if value is None:
        buf += b"\x00"
    else:
        write_compact_string(buf, value)


def write_bytes(buf: bytearray, value: bytes | None) -> None:
    if value is None:
        _not_null(value)
        return
    buf += pack_i32(len(value))
    buf += value


class FileRange:
    """Bytes of a file that a `records` field carries without reading them: a broker's fetch
    answer, sent from the file to the socket by sendfile (as Kafka's FileRecords.transferTo).
    `source` is the sender's: whatever tells it which file, and whether it still holds them."""

    __slots__ = ("position", "size", "source")

    def __init__(self, source: Any, position: int, size: int) -> None:
        self.source = source
        self.position = position
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"FileRange({self.source!r}, position={self.position}, size={self.size})"


class Frame(bytearray):
    """An encoded frame with holes: `ranges` lists (where in the bytes, FileRange) for file
    bytes that go out between the bytes, in order. The length prefix counts them."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ranges: list[tuple[int, FileRange]] = []

    @property
    def wire_size(self) -> int:
        return len(self) + sum(r.size for _, r in self.ranges)


def _file_range(buf: bytearray, value: FileRange) -> None:
    if not isinstance(buf, Frame):
        raise EncodeError("a file range can only be encoded into a Frame (the broker's responses)")
    buf.ranges.append((len(buf), value))


def write_nullable_bytes(buf: bytearray, value: bytes | FileRange | None) -> None:
    if value is None:
        buf += b"\xff\xff\xff\xff"
    elif isinstance(value, FileRange):
        buf += pack_i32(value.size)
        _file_range(buf, value)
    else:
        buf += pack_i32(len(value))
        buf += value


def write_compact_bytes(buf: bytearray, value: bytes | None) -> None:
    if value is None:
        _not_null(value)
        return
    buf += uvarint(len(value) + 1)
    buf += value


def write_compact_nullable_bytes(buf: bytearray, value: bytes | FileRange | None) -> None:
    if value is None:
        buf += b"\x00"
    elif isinstance(value, FileRange):
        buf += uvarint(value.size + 1)
        _file_range(buf, value)
    else:
        buf += uvarint(len(value) + 1)
        buf += value


# ---- arrays of fixed-width values ----------------------------------------------------------
_ARRAY_STRUCTS: dict[tuple[str, int], Struct] = {}
_WIDTH = {"?": 1, "b": 1, "h": 2, "H": 2, "i": 4, "q": 8, "d": 8}


def _array_struct(fmt: str, count: int) -> Struct:
    key = (fmt, count)
    packer = _ARRAY_STRUCTS.get(key)
    if packer is None:
        packer = Struct(f">{count}{fmt}")
        if count <= 64:  # cache the common small shapes only
            _ARRAY_STRUCTS[key] = packer
    return packer


def pack_array(fmt: str, values: Sequence[object]) -> bytes:
    return _array_struct(fmt, len(values)).pack(*values)


def unpack_array(fmt: str, b: bytes, o: int, count: int) -> tuple[list[object], int]:
    end = o + count * _WIDTH[fmt]
    if end > len(b):
        raise truncated("array")
    return list(_array_struct(fmt, count).unpack_from(b, o)), end


def skip_tags(b: bytes | bytearray, o: int) -> int:
    """Skip a tagged-field section whose tags this version does not know."""
    try:
        if b[o] == 0:  # nearly always: no tagged fields
            return o + 1
    except IndexError:
        raise truncated("tagged fields") from None
    count, o = read_uvarint(b, o)
    for _ in range(count):
        _tag, o = read_uvarint(b, o)
        size, o = read_uvarint(b, o)
        o += size
        if o > len(b):
            raise truncated("tagged field")
    return o
