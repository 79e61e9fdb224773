"""Batches an attacker (or a broken client) sends: each with a valid CRC, so only reading its
records tells that they are bad."""

from __future__ import annotations

import functools
import os
import struct

import zstandard
from crc32c import crc32c

from kctl.protocol import _wire as w
from kctl.protocol.compression import Compression, compress
from kctl.protocol.records import ATTRIBUTES_OFFSET, CRC_OFFSET, HEADER, HEADER_SIZE, Record, encode_batch


def with_body(body: bytes, *, count: int, codec: int = 0, last_offset_delta: int | None = None,
              timestamp: int = 1_700_000_000_000) -> bytes:
    """A batch with `body` as its (compressed) records section, a header that says `count`
    records, and a CRC that matches."""
    delta = count - 1 if last_offset_delta is None else last_offset_delta
    header = bytearray(HEADER.pack(0, HEADER_SIZE - 12 + len(body), -1, 2, 0, codec, max(delta, 0), timestamp,
                                   timestamp, -1, -1, -1, count))
    batch = header + body
    struct.pack_into(">I", batch, CRC_OFFSET, crc32c(bytes(batch[ATTRIBUTES_OFFSET:])))
    return bytes(batch)


def valid_section(*values: bytes) -> bytes:
    return encode_batch([Record(key=b"k", value=v, timestamp=1_700_000_000_000) for v in values])[HEADER_SIZE:]


def garbage_gzip() -> bytes:
    """A gzip batch whose payload is random bytes: the case that crash-looped the cleaner."""
    return with_body(os.urandom(300), count=3, codec=Compression.GZIP)


def zstd_bomb(inflated: int = 1 << 30) -> bytes:
    """A small zstd batch that inflates to `inflated` bytes (1 GiB: a few tens of KB compressed)."""
    compressor = zstandard.ZstdCompressor(level=3)
    chunk = b"\0" * (1 << 20)
    writer = compressor.chunker(size=inflated, chunk_size=1 << 20)
    out = b"".join(b"".join(writer.compress(chunk)) for _ in range(inflated // len(chunk)))
    out += b"".join(writer.finish())
    return with_body(out, count=1, codec=Compression.ZSTD)


@functools.cache
def cases() -> dict[str, tuple[bytes, str]]:
    """name: (batch, the error it must get: a name, or names separated by |)."""
    two = valid_section(b"a", b"b")
    return {
        "gzip garbage": (garbage_gzip(), "CORRUPT_MESSAGE"),
        "lz4 garbage": (with_body(os.urandom(300), count=1, codec=Compression.LZ4), "CORRUPT_MESSAGE"),
        "zstd garbage": (with_body(os.urandom(300), count=1, codec=Compression.ZSTD), "CORRUPT_MESSAGE"),
        "snappy garbage": (with_body(b"\xff" * 40, count=1, codec=Compression.SNAPPY), "CORRUPT_MESSAGE"),
        "codec 5": (with_body(two, count=2, codec=5), "CORRUPT_MESSAGE"),
        "codec 7": (with_body(two, count=2, codec=7), "CORRUPT_MESSAGE"),
        "count says more": (with_body(two, count=3), "CORRUPT_MESSAGE"),
        "count says fewer": (with_body(two, count=1), "CORRUPT_MESSAGE"),
        "length lies": (with_body(w.zigzag_varint(500) + two[1:], count=2), "CORRUPT_MESSAGE"),
        # Random bytes may read as far as a record whose offset is out of sequence: either error.
        "uncompressed garbage": (with_body(os.urandom(200), count=2), "CORRUPT_MESSAGE|INVALID_RECORD"),
        "gzip of garbage records": (with_body(compress(Compression.GZIP, os.urandom(200)), count=2,
                                              codec=Compression.GZIP), "CORRUPT_MESSAGE|INVALID_RECORD"),
        "offsets out of sequence": (with_body(encode_batch([Record(b"k", b"1", offset=0),
                                                            Record(b"k", b"2", offset=7)])[HEADER_SIZE:],
                                              count=2, last_offset_delta=1), "INVALID_RECORD"),
        "zstd bomb": (zstd_bomb(), "CORRUPT_MESSAGE"),
    }
