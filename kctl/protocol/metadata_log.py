"""The records of a KRaft `__cluster_metadata` log, read offline (`kctl log dump`).

A record's value is framed as unsigned varints, the frame version (1), the record's type and its
version, and then the record, whose layout `schema/metadata_records.py` defines. Keys are null.
"""

from __future__ import annotations

from struct import error as StructError
from typing import Any

from . import _wire as w
from .errors import DecodeError
from .messages import data as generated

FRAME_VERSION = 1


def decode_metadata_record(value: bytes) -> tuple[str, int, Any]:
    """(record name, version, record) of one metadata record value; DecodeError saying why not."""
    from .schema.metadata_records import METADATA_RECORDS

    try:
        frame, offset = w.read_uvarint(value, 0)
        kind, offset = w.read_uvarint(value, offset)
        version, offset = w.read_uvarint(value, offset)
    except (IndexError, StructError) as exc:
        raise DecodeError(f"metadata record frame cut short: {exc}") from None
    if frame != FRAME_VERSION:
        raise DecodeError(f"metadata record frame version {frame} (kctl reads {FRAME_VERSION})")
    schema = METADATA_RECORDS.get(kind)
    if schema is None:
        raise DecodeError(f"metadata record type {kind} is not one kctl knows")
    cls = getattr(generated, schema.name)
    decoder = generated.CODECS[cls][1].get(version)
    if decoder is None:
        raise DecodeError(f"{schema.name} version {version} is newer than kctl knows")
    try:
        record, end = decoder(value, offset)
    except (IndexError, StructError, ValueError, OverflowError) as exc:
        raise DecodeError(f"malformed {schema.name} v{version}: {exc}") from None
    if end != len(value):
        raise DecodeError(f"{schema.name} v{version}: {len(value) - end} byte(s) left after the record")
    return schema.name, version, record
