"""`_schemas`: the registry's compacted topic, in the record format Confluent's registry writes.

Keys and values are JSON. Keys are written with a fixed field order so that compaction, which
compares key bytes, keeps only the newest record of each; a null value is a tombstone.

    {"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1}
        {"subject":"orders-value","version":1,"id":1,"schemaType":"PROTOBUF","references":[...],
         "schema":"...","deleted":false}            (schemaType and references only when set)
    {"keytype":"CONFIG","subject":null,"magic":0}     {"compatibilityLevel":"FULL"}
    {"keytype":"MODE","subject":"orders-value","magic":0}   {"mode":"READONLY"}
    {"keytype":"DELETE_SUBJECT","subject":"orders-value","magic":0}   {"subject":...,"version":3}
    {"keytype":"NOOP","magic":0}                      (written by Confluent's registry; ignored)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kctl.protocol.records import Record
from kctl.protocol.registry import Reference, SchemaType

from ..storage.log import PartitionLog
from .levels import Compatibility, Mode

log = logging.getLogger("broker.registry")

TOPIC = "_schemas"


@dataclass(frozen=True, slots=True)
class SchemaKey:
    subject: str
    version: int


@dataclass(frozen=True, slots=True)
class ConfigKey:
    subject: str | None


@dataclass(frozen=True, slots=True)
class ModeKey:
    subject: str | None


@dataclass(frozen=True, slots=True)
class DeleteSubjectKey:
    subject: str


@dataclass(frozen=True, slots=True)
class SchemaValue:
    subject: str
    version: int
    schema_id: int
    schema_type: SchemaType
    schema: str
    references: tuple[Reference, ...]
    deleted: bool


StoreKey = SchemaKey | ConfigKey | ModeKey | DeleteSubjectKey
#: A key and its value: a SchemaValue, a level, a mode, the last deleted version, or None (a tombstone).
StoreRecord = tuple[StoreKey, SchemaValue | Compatibility | Mode | int | None]


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def encode(record: StoreRecord) -> Record:
    key, value = record
    if isinstance(key, SchemaKey):
        raw_key = _dump({"keytype": "SCHEMA", "subject": key.subject, "version": key.version, "magic": 1})
        if not isinstance(value, SchemaValue):
            return Record(key=raw_key, value=None)
        body: dict[str, Any] = {"subject": value.subject, "version": value.version, "id": value.schema_id}
        if value.schema_type is not SchemaType.AVRO:
            body["schemaType"] = value.schema_type.value
        if value.references:
            body["references"] = [r.to_json() for r in value.references]
        body["schema"] = value.schema
        body["deleted"] = value.deleted
        return Record(key=raw_key, value=_dump(body))
    if isinstance(key, ConfigKey):
        raw_key = _dump({"keytype": "CONFIG", "subject": key.subject, "magic": 0})
        return Record(key=raw_key, value=None if value is None else _dump({"compatibilityLevel": str(value)}))
    if isinstance(key, ModeKey):
        raw_key = _dump({"keytype": "MODE", "subject": key.subject, "magic": 0})
        return Record(key=raw_key, value=None if value is None else _dump({"mode": str(value)}))
    raw_key = _dump({"keytype": "DELETE_SUBJECT", "subject": key.subject, "magic": 0})
    return Record(key=raw_key, value=_dump({"subject": key.subject, "version": value}))


def decode(record: Record) -> StoreRecord | None:
    """The registry record, or None for one to skip (NOOP, or a key type we do not know)."""
    assert record.key is not None
    key = json.loads(bytes(record.key))
    value = None if record.value is None else json.loads(bytes(record.value))
    kind = key.get("keytype")
    if kind == "SCHEMA":
        schema_key = SchemaKey(key["subject"], int(key["version"]))
        if value is None:
            return schema_key, None
        references = tuple(Reference(r["name"], r["subject"], int(r["version"])) for r in value.get("references") or ())
        return schema_key, SchemaValue(
            value["subject"],
            int(value["version"]),
            int(value["id"]),
            SchemaType.parse(value.get("schemaType")),
            value["schema"],
            references,
            bool(value.get("deleted", False)),
        )
    if kind == "CONFIG":
        level = None if value is None else Compatibility(value.get("compatibilityLevel") or value["compatibility"])
        return ConfigKey(key.get("subject")), level
    if kind == "MODE":
        return ModeKey(key.get("subject")), None if value is None else Mode(value["mode"])
    if kind == "DELETE_SUBJECT":
        return DeleteSubjectKey(key["subject"]), None if value is None else int(value["version"])
    return None


class Skipped:
    """Records of `_schemas` the registry could not read: each logged, all counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, offset: int | None, why: object) -> None:
        self.count += 1
        log.warning("%s offset %s: skipping a record the registry cannot read: %s", TOPIC, offset, why)


def replay(plog: PartitionLog, skipped: Skipped | None = None) -> Iterator[StoreRecord]:
    """The registry records of `_schemas` in log order; ones we cannot read, whole batches of
    them included, are logged, counted and skipped."""
    skipped = skipped if skipped is not None else Skipped()
    for record in plog.replay(skipped):
        if record.key is None:
            continue
        try:
            item = decode(record)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            skipped(record.offset, exc)
            continue
        if item is not None:
            yield item
