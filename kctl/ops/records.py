"""Where to start reading, and records as lossless JSON both ways: for `kctl tail`, `kctl produce`
and the console's tail."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kctl.client.admin import Admin
from kctl.client.types import EARLIEST, ConsumerRecord, TopicPartition
from kctl.ops.times import parse_timestamp_ms

from .errors import BadUsage

if TYPE_CHECKING:
    from kctl.client.schema_registry import Decoded

START_SPECS = "beginning, end, OFFSET, -N, @TIME or @-1h"


async def start_offsets(admin: Admin, partitions: list[TopicPartition], spec: str,
                        ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    """First offset to read per partition for a `--from` spec: beginning, end, OFFSET, -N (the
    last N of each partition), @TIME or @-DURATION (the first record at or after that time)."""
    spec = spec.strip()
    if spec in ("end", "latest"):
        return {tp: ends[tp] for tp in partitions}
    if spec in ("beginning", "earliest"):
        return {tp: o.offset for tp, o in (await admin.list_offsets(dict.fromkeys(partitions, EARLIEST))).items()}
    if spec.startswith("@"):
        when = parse_timestamp_ms(spec[1:])
        found = await admin.list_offsets(dict.fromkeys(partitions, when))
        return {tp: (o.offset if o.offset >= 0 else ends[tp]) for tp, o in found.items()}
    if spec.startswith("-") and spec[1:].isdigit():
        starts = await admin.list_offsets(dict.fromkeys(partitions, EARLIEST))
        return {tp: max(ends[tp] - int(spec[1:]), starts[tp].offset) for tp in partitions}
    if spec.isdigit():
        return dict.fromkeys(partitions, int(spec))
    raise BadUsage(f"cannot read the start position {spec!r}", START_SPECS)


def text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), "base64"


def record_json(r: ConsumerRecord, key_schema: Decoded | None = None,
                value_schema: Decoded | None = None) -> dict[str, Any]:
    """A record as `tail -o jsonl` prints it: lossless (base64 where the bytes are not UTF-8).

    A key or value decoded with its registry schema is shown as JSON, with `key_schema_id` /
    `value_schema_id`; one that could not be decoded keeps its bytes and says why in
    `key_schema_error` / `value_schema_error`.
    """
    key, key_encoding = text_or_base64(r.key)
    value, value_encoding = text_or_base64(r.value)
    out: dict[str, Any] = {"topic": r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
                           "key": key, "value": value, "headers": {}}
    origin = r.origin
    if origin.control is not None:  # a transaction marker (`tail --show-control`)
        out["control"] = origin.control
    if origin.transactional:  # which producer's transaction it belongs to, to match with its marker
        out["producer_id"] = origin.producer_id
    for name, raw in r.headers:
        text, encoding = text_or_base64(raw)
        out["headers"][name] = text if encoding is None else {"base64": text}
    for part, decoded, encoding in (("key", key_schema, key_encoding), ("value", value_schema, value_encoding)):
        if decoded is not None:
            out[f"{part}_schema_id"] = decoded.schema_id
            if decoded.error is None:
                out[part] = decoded.value
                continue
            out[f"{part}_schema_error"] = decoded.error
        if encoding:
            out[f"{part}_encoding"] = encoding
    return out


@dataclass(slots=True)
class OutgoingRecord:
    """A record to produce."""

    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    partition: int | None = None  # None: the partitioner picks
    timestamp_ms: int | None = None  # None: now


def _decode_field(obj: dict[str, Any], name: str, line: int) -> bytes | None:
    value = obj.get(name)
    if value is None:
        return None
    if obj.get(f"{name}_encoding") == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise BadUsage(f"line {line}: {name} is not valid base64") from None
    if not isinstance(value, str):
        return json.dumps(value).encode()
    return value.encode()


def record_from_json(text: str, line: int) -> OutgoingRecord:
    """A JSON line as `tail -o jsonl` writes it (key, value, headers, partition, timestamp, and
    `*_encoding: base64` for bytes that are not UTF-8) as a record to produce."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise BadUsage(f"line {line} is not JSON: {exc}",
                       "one object per line: {\"key\": ..., \"value\": ...}") from None
    if not isinstance(obj, dict):
        raise BadUsage(f"line {line} is not a JSON object")
    headers = obj.get("headers") or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else [tuple(h) for h in headers]
    timestamp = obj.get("timestamp")
    if isinstance(timestamp, str):
        timestamp = parse_timestamp_ms(timestamp)
    return OutgoingRecord(_decode_field(obj, "value", line), _decode_field(obj, "key", line),
                          [(str(h), None if v is None else str(v).encode()) for h, v in pairs],
                          obj.get("partition"), timestamp)


def record_from_text(text: str, line: int, *, key: str | None = None, key_separator: str | None = None,
                     headers: Sequence[tuple[str, bytes | None]] = ()) -> OutgoingRecord:
    """A line of text as a record: the whole line as the value, or KEY<separator>VALUE."""
    k = key.encode() if key is not None else None
    value = text
    if key_separator is not None:
        if key_separator not in text:
            raise BadUsage(f"line {line} has no key separator {key_separator!r}")
        k_text, value = text.split(key_separator, 1)
        k = k_text.encode()
    return OutgoingRecord(value.encode(), k, list(headers))
