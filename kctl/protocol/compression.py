"""Compression codecs of record batches: none, gzip, snappy, lz4 (frame) and zstd.

Snappy is written with the xerial framing that the Java client uses, and read in both forms
(xerial-framed and raw), as Kafka brokers and clients do.
"""

from __future__ import annotations

import enum
import zlib
from struct import Struct

import cramjam
import lz4.frame
import zstandard

from .errors import CorruptRecordError, EncodeError

#: Refuse to inflate one batch beyond this many bytes (a decompression bomb, or garbage).
MAX_DECOMPRESSED_SIZE = 256 * 1024 * 1024

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = Struct(">8sii")  # magic, version, minimum compatible version
_XERIAL_BLOCK = 32 * 1024
_INT32 = Struct(">i")


class Compression(enum.IntEnum):
    """The codec in bits 0-2 of a batch's attributes."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4

    @classmethod
    def parse(cls, name: str) -> Compression:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown compression {name!r}; one of none, gzip, snappy, lz4, zstd") from None


def compress(codec: Compression, data: bytes, level: int | None = None) -> bytes:
    """Compress a batch's records; `level` is the codec's own (None: its default; snappy has none)."""
    if codec is Compression.NONE:
        return data
    if codec is Compression.GZIP:
        return bytes(cramjam.gzip.compress(data, level=level))
    if codec is Compression.SNAPPY:
        return _xerial_compress(data)
    if codec is Compression.LZ4:
        return bytes(cramjam.lz4.compress(data, level=level))
    if codec is Compression.ZSTD:
        return bytes(cramjam.zstd.compress(data, level=level))
    raise EncodeError(f"unknown compression codec {codec}")


def decompress(codec: int, data: bytes, limit: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Inflate a batch's records; raise CorruptRecordError for anything that does not inflate.

    Every codec stops as soon as the output passes `limit`, so a small batch that would inflate
    to gigabytes (a decompression bomb) costs at most `limit` bytes and the time to make them."""
    if codec not in _CODECS:
        raise CorruptRecordError(f"unknown compression codec {codec}")
    try:
        if codec == Compression.NONE:
            return data
        if codec == Compression.GZIP:
            out = _gunzip(data, limit)
        elif codec == Compression.SNAPPY:
            out = _snappy_decompress(data, limit)
        elif codec == Compression.LZ4:
            out = _lz4_decompress(data, limit)
        else:
            out = _zstd_decompress(data, limit)
    except (cramjam.DecompressionError, zlib.error, ValueError, RuntimeError, zstandard.ZstdError) as exc:
        raise CorruptRecordError(
            f"cannot decompress {Compression(codec).name.lower()} batch: {exc}"
        ) from None
    if len(out) > limit:
        raise CorruptRecordError(f"batch inflates beyond {limit} bytes")
    return out


_CODECS = frozenset(int(c) for c in Compression)


def _lz4_decompress(data: bytes, limit: int) -> bytes:
    """LZ4 frames, one after another, as Kafka writes them (KIP-57), to at most `limit` + 1 bytes."""
    out = bytearray()
    rest = memoryview(data)
    while rest.nbytes and len(out) <= limit:
        inflater = lz4.frame.LZ4FrameDecompressor()
        out += inflater.decompress(rest, max_length=limit + 1 - len(out))
        if not inflater.eof:
            if len(out) > limit:
                break
            raise CorruptRecordError("truncated lz4 frame")
        rest = rest[len(rest) - len(inflater.unused_data):] if inflater.unused_data else rest[:0]
    return bytes(out)


def _zstd_decompress(data: bytes, limit: int) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    out = reader.read(limit + 1)
    if len(out) <= limit and reader.read(1):
        raise CorruptRecordError("zstd stream does not end where its frames say")
    return bytes(out)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(data, limit + 1)
    if not inflater.eof:
        if len(out) > limit:
            raise CorruptRecordError(f"batch inflates beyond {limit} bytes")
        raise CorruptRecordError("truncated gzip stream")
    return out


def _xerial_compress(data: bytes) -> bytes:
    out = bytearray(_XERIAL_HEADER.pack(_XERIAL_MAGIC, 1, 1))
    view = memoryview(data)
    for start in range(0, len(data), _XERIAL_BLOCK):
        block = bytes(cramjam.snappy.compress_raw(view[start : start + _XERIAL_BLOCK]))
        out += _INT32.pack(len(block))
        out += block
    return bytes(out)


def _snappy_decompress(data: bytes, limit: int) -> bytes:
    if not data.startswith(_XERIAL_MAGIC):
        return _raw_snappy(data, limit)
    if len(data) < _XERIAL_HEADER.size:
        raise CorruptRecordError("truncated xerial snappy header")
    out = bytearray()
    o = _XERIAL_HEADER.size
    while o < len(data):
        if o + 4 > len(data):
            raise CorruptRecordError("truncated xerial snappy block length")
        (size,) = _INT32.unpack_from(data, o)
        o += 4
        if size < 0 or o + size > len(data):
            raise CorruptRecordError("xerial snappy block runs past the end")
        out += _raw_snappy(data[o : o + size], limit - len(out))
        o += size
    return bytes(out)


def _raw_snappy(data: bytes, limit: int) -> bytes:
    if cramjam.snappy.decompress_raw_len(data) > limit:
        raise CorruptRecordError(f"batch inflates beyond {limit} bytes")
    return bytes(cramjam.snappy.decompress_raw(data))
