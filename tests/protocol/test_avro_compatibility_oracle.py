"""The registry's Avro compatibility against Apache Avro's Java `SchemaCompatibility`: every ordered
pair of a set of schemas that differ in the ways schemas evolve gets the same verdict from both."""

from __future__ import annotations

import itertools
import json
from typing import Any

from kctl.protocol.registry import SchemaType, parse_schema
from tests.support.avro_java import compatible


def record(*fields: dict[str, Any], name: str = "Order", **extra: Any) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "shop", "fields": list(fields), **extra})


def field(name: str, kind: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **extra}


STATUS = {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}
ITEM = {"type": "record", "name": "Item", "fields": [field("sku", "string")]}
ID = field("id", "long")

EVOLUTIONS = [
    record(ID),
    record(field("id", "int")),
    record(field("id", "float")),
    record(field("id", "double")),
    record(field("id", "string")),
    record(field("id", ["null", "long"], default=None)),
    record(field("id", ["null", "int", "string"], default=None)),
    record(ID, field("note", "string")),
    record(ID, field("note", "string", default="")),
    record(ID, field("note", "bytes", default="")),
    record(ID, field("status", STATUS)),
    record(ID, field("status", {**STATUS, "symbols": ["NEW", "PAID", "LOST"]})),
    record(ID, field("status", {**STATUS, "symbols": ["NEW", "PAID", "LOST"], "default": "NEW"})),
    record(ID, field("status", {**STATUS, "name": "State"})),
    record(ID, field("items", {"type": "array", "items": ITEM})),
    record(ID, field("items", {"type": "array", "items": {**ITEM, "fields": [field("sku", "string"),
                                                                             field("qty", "int")]}})),
    record(ID, field("items", {"type": "array", "items": {**ITEM, "fields": [field("sku", "string"),
                                                                             field("qty", "int", default=1)]}})),
    record(ID, field("tags", {"type": "map", "values": "int"})),
    record(ID, field("tags", {"type": "map", "values": "long"})),
    record(ID, field("digest", {"type": "fixed", "name": "Digest", "size": 16})),
    record(ID, field("digest", {"type": "fixed", "name": "Digest", "size": 32})),
    record(field("order_id", "long", aliases=["id"])),
    record(ID, name="Purchase"),
    record(ID, name="Purchase", aliases=["shop.Order"]),
    record(ID, field("next", ["null", "Order"], default=None)),  # recursive
]


def test_every_pair_gets_avros_own_verdict() -> None:
    pairs = list(itertools.product(EVOLUTIONS, repeat=2))
    oracle = compatible(pairs)
    parsed = {text: parse_schema(SchemaType.AVRO, text) for text in EVOLUTIONS}
    ours = [not parsed[reader].issues_reading(parsed[writer]) for reader, writer in pairs]
    differ = [
        f"reader {reader}\nwriter {writer}\nAvro says {'compatible' if want else 'incompatible'}, we say "
        f"{parsed[reader].issues_reading(parsed[writer]) or 'compatible'}"
        for (reader, writer), want, got in zip(pairs, oracle, ours, strict=True)
        if want != got
    ]
    assert not differ, f"{len(differ)} of {len(pairs)} verdicts differ:\n\n" + "\n\n".join(differ[:10])
    assert sum(oracle) not in (0, len(pairs))  # the set has both verdicts


def test_top_level_unions_and_primitives() -> None:
    schemas = ['"int"', '"long"', '"string"', '"bytes"', '["null", "string"]', '["int", "string"]',
               '{"type": "array", "items": "int"}', '{"type": "array", "items": "double"}']
    pairs = list(itertools.product(schemas, repeat=2))
    oracle = compatible(pairs)
    for (reader, writer), want in zip(pairs, oracle, strict=True):
        issues = parse_schema(SchemaType.AVRO, reader).issues_reading(parse_schema(SchemaType.AVRO, writer))
        assert (not issues) is want, (reader, writer, issues)
