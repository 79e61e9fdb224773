"""Versioned schemas carried inside other data, each behind an int16 version prefix.

- ConsumerProtocolSubscription / ConsumerProtocolAssignment: the opaque metadata and assignment
  bytes of JoinGroup and SyncGroup for the "consumer" protocol type.
- OffsetCommitKey/Value and GroupMetadataKey/Value: the records of `__consumer_offsets`. A key's
  version tells which it is: 0 and 1 are offset commits, 2 is group metadata.
- TransactionLogKey/Value: the records of `__transaction_state`, a transactional id and its state.
"""

from __future__ import annotations

import functools
from struct import Struct
from struct import error as StructError
from typing import Any, TypeVar

from .errors import DecodeError, EncodeError
from .messages import data as generated
from .messages.data import (
    AssignedTopicPartition,
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadata,
    OffsetCommitKey,
    OffsetCommitValue,
    OwnedTopicPartition,
    PartitionsSchema,
    TransactionLogKey,
    TransactionLogValue,
)

T = TypeVar("T")
_VERSION = Struct(">h")

#: Schemas whose later versions only append fields, so a newer version is read as our newest.
_FORWARD_COMPATIBLE = (ConsumerProtocolSubscription, ConsumerProtocolAssignment)


def encode(value: object, version: int) -> bytes:
    codecs = generated.CODECS.get(type(value))
    if codecs is None:
        raise EncodeError(f"{type(value).__name__} is not a versioned data schema")
    encoder = codecs[0].get(version)
    if encoder is None:
        raise EncodeError(f"{type(value).__name__} has no version {version}")
    buf = bytearray(_VERSION.pack(version))
    try:
        encoder(value, buf)
    except (StructError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot encode {type(value).__name__} v{version}: {exc}") from exc
    return bytes(buf)


def version_of(data: bytes) -> int:
    if len(data) < 2:
        raise DecodeError("versioned data shorter than its version prefix")
    (version,) = _VERSION.unpack_from(data)
    return int(version)


def decode(cls: type[T], data: bytes) -> T:
    codecs = generated.CODECS.get(cls)
    if codecs is None:
        raise DecodeError(f"{cls.__name__} is not a versioned data schema")
    decoders = codecs[1]
    version = version_of(data)
    if version not in decoders and cls in _FORWARD_COMPATIBLE and version > max(decoders):
        version = max(decoders)
    decoder = decoders.get(version)
    if decoder is None:
        raise DecodeError(f"{cls.__name__} version {version} is not one we know")
    try:
        value, _ = decoder(data, 2)
    except DecodeError:
        raise
    except (StructError, IndexError, ValueError, OverflowError) as exc:
        raise DecodeError(f"malformed {cls.__name__} v{version}: {exc}") from exc
    return value  # type: ignore[no-any-return]


def decode_offsets_key(data: bytes) -> OffsetCommitKey | GroupMetadataKey:
    """A `__consumer_offsets` record key: an offset commit (v0, v1) or group metadata (v2)."""
    version = version_of(data)
    if version in (0, 1):
        return decode(OffsetCommitKey, data)
    if version == 2:
        return decode(GroupMetadataKey, data)
    raise DecodeError(f"__consumer_offsets key version {version} is not one we know")


def decode_offsets_value(key: OffsetCommitKey | GroupMetadataKey, data: bytes | None) -> Any:
    """The value for `key`, or None for a tombstone."""
    if data is None:
        return None
    if isinstance(key, OffsetCommitKey):
        return decode(OffsetCommitValue, data)
    return decode(GroupMetadataValue, data)


__all__ = [
    "AssignedTopicPartition",
    "ConsumerProtocolAssignment",
    "ConsumerProtocolSubscription",
    "GroupMetadataKey",
    "GroupMetadataValue",
    "MemberMetadata",
    "OffsetCommitKey",
    "OffsetCommitValue",
    "OwnedTopicPartition",
    "PartitionsSchema",
    "TransactionLogKey",
    "TransactionLogValue",
    "decode",
    "decode_offsets_key",
    "decode_offsets_value",
    "encode",
    "java_string_hash",
    "partition_for",
    "version_of",
]


# ---- where a group's (or a transactional id's) records go -------------------------------------
def java_string_hash(text: str) -> int:
    """Java's String.hashCode: over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    raw = text.encode("utf-16-be")
    for i in range(0, len(raw), 2):
        h = (31 * h + (raw[i] << 8 | raw[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


@functools.lru_cache(maxsize=4096)
def partition_for(group_id: str, partitions: int) -> int:
    """The `__consumer_offsets` partition of a group, as Kafka computes it (Utils.abs(hash) % n)."""
    h = java_string_hash(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % partitions
