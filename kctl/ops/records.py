"""Where to start reading, and records as lossless JSON: for `kctl tail` and the console's tail."""

from __future__ import annotations

import base64
from typing import Any

from kctl.cli.errors import USAGE, CliError
from kctl.cli.timeparse import parse_timestamp_ms
from kctl.client.admin import Admin
from kctl.client.types import EARLIEST, ConsumerRecord, TopicPartition

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
    raise CliError(f"cannot read the start position {spec!r}", START_SPECS, USAGE)


def text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), "base64"


def record_json(r: ConsumerRecord) -> dict[str, Any]:
    """A record as `tail -o jsonl` prints it: lossless (base64 where the bytes are not UTF-8)."""
    key, key_encoding = text_or_base64(r.key)
    value, value_encoding = text_or_base64(r.value)
    out: dict[str, Any] = {"topic": r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
                           "key": key, "value": value, "headers": {}}
    for name, raw in r.headers:
        text, encoding = text_or_base64(raw)
        out["headers"][name] = text if encoding is None else {"base64": text}
    if key_encoding:
        out["key_encoding"] = key_encoding
    if value_encoding:
        out["value_encoding"] = value_encoding
    return out
