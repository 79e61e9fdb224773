"""Schema Registry formats without sockets: Confluent's framing, Avro, Protobuf and JSON Schema
values both ways, errors that name the field, references, and compatibility verdicts."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kctl.protocol.registry import EncodeError, InvalidSchema, SchemaType, frame, parse_schema, unframe
from kctl.protocol.registry.protobuf import ProtobufSchema
from kctl.protocol.registry.wire import decode_indexes, encode_indexes

ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "blob", "type": "bytes"},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 2}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["NEW", "PAID"]}},
        {"name": "tags", "type": {"type": "map", "values": "int"}},
        {"name": "ratio", "type": "double"},
        {"name": "items", "type": {"type": "array", "items": {
            "type": "record", "name": "Item", "fields": [{"name": "sku", "type": "string"}]}}},
    ],
}
ORDER_VALUE = {
    "id": 5, "price": "12.50", "at": "2026-01-02T03:04:05.006Z", "day": "2026-01-02", "blob": "AAE=",
    "digest": "q80=", "note": None, "kind": "PAID", "tags": {"a": 1}, "ratio": "NaN", "items": [{"sku": "x"}],
}

PROTO = """
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  repeated string tags = 2;
  map<string, int32> counts = 3;
  optional string note = 4;
  oneof payment { string card = 5; Voucher voucher = 6; }
  google.protobuf.Timestamp at = 7;
  Status status = 8;
  message Voucher { string code = 1; }
  enum Status { NEW = 0; PAID = 1; }
  reserved 9, 11 to 13;
}
message Refund { string order = 1; }
"""


# ---- framing -----------------------------------------------------------------------------------------
def test_framing_carries_the_schema_id_and_leaves_other_bytes_alone() -> None:
    data = frame(258, b"body")
    assert data == b"\x00\x00\x00\x01\x02body"
    framed = unframe(data)
    assert framed is not None and framed.schema_id == 258 and data[framed.body_start:] == b"body"
    for plain in (None, b"", b"\x00\x00\x01", b'{"id": 1}', b"\x01\x00\x00\x00\x01x"):
        assert unframe(plain) is None


@given(st.lists(st.integers(min_value=0, max_value=2**31 - 1), min_size=1, max_size=5))
def test_protobuf_message_indexes_round_trip(indexes: list[int]) -> None:
    encoded = encode_indexes(indexes)
    assert decode_indexes(encoded + b"rest", 0) == (indexes, len(encoded))
    if indexes == [0]:
        assert encoded == b"\x00"  # the common case is one byte, as Confluent writes it


# ---- Avro --------------------------------------------------------------------------------------------
def test_avro_values_map_to_json_both_ways() -> None:
    avro = parse_schema(SchemaType.AVRO, json.dumps(ORDER))
    decoded = avro.decode(avro.encode(ORDER_VALUE))
    assert decoded == {**ORDER_VALUE, "at": "2026-01-02T03:04:05.006000Z"}
    # Timestamps, dates and decimals also accept the numbers Avro stores.
    numbers = {**ORDER_VALUE, "at": 1_767_323_045_006, "day": 20_455, "price": 12.5}
    assert avro.decode(avro.encode(numbers))["day"] == "2026-01-02"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "5"}, "field id: expected a long, got the string '5'"),
        ({"id": 2**63}, "field id: 9223372036854775808 does not fit in an Avro long"),
        ({"price": "1.234"}, "field price: 1.234 has more than 2 digits after the point"),
        ({"items": [{"sku": "x"}, {"sku": 7}]}, "field items[1].sku: expected a string, got the number 7"),
        ({"kind": "LOST"}, "field kind: expected one of NEW, PAID, got the string 'LOST'"),
        ({"digest": "AAAA"}, "field digest: expected 2 bytes, got 3"),
        ({"blob": "not base64!"}, "field blob: expected base64 bytes"),
        ({"note": 5}, "field note: expected one of null, string, got the number 5"),
        ({"extra": 1}, "field extra: not in record shop.Order"),
        ({"tags": {"a": "b"}}, "field tags.a: expected an int"),
    ],
)
def test_avro_input_that_does_not_match_names_the_field(change: dict[str, object], message: str) -> None:
    avro = parse_schema(SchemaType.AVRO, json.dumps(ORDER))
    with pytest.raises(EncodeError) as caught:
        avro.encode({**ORDER_VALUE, **change})
    assert str(caught.value).startswith(message)


def test_avro_missing_fields_take_their_defaults_or_are_named() -> None:
    avro = parse_schema(SchemaType.AVRO, json.dumps(ORDER))
    assert avro.decode(avro.encode({k: v for k, v in ORDER_VALUE.items() if k != "note"}))["note"] is None
    with pytest.raises(EncodeError, match="field kind: missing, and it has no default"):
        avro.encode({k: v for k, v in ORDER_VALUE.items() if k != "kind"})


def test_avro_references_resolve_named_types_from_other_schemas() -> None:
    address = json.dumps({"type": "record", "name": "Address", "namespace": "shop",
                          "fields": [{"name": "city", "type": "string"}]})
    customer = json.dumps({"type": "record", "name": "Customer", "namespace": "shop",
                           "fields": [{"name": "home", "type": "shop.Address"}]})
    parsed = parse_schema(SchemaType.AVRO, customer, [("shop.Address", address)])
    assert parsed.decode(parsed.encode({"home": {"city": "Oslo"}})) == {"home": {"city": "Oslo"}}
    with pytest.raises(InvalidSchema, match=re.escape("unknown type 'shop.Address'")):
        parse_schema(SchemaType.AVRO, customer)


@pytest.mark.parametrize("text", ['{"type": "record"', '{"type": "record", "name": "x"}', '{"type": "nope"}'])
def test_invalid_avro_is_refused(text: str) -> None:
    with pytest.raises(InvalidSchema):
        parse_schema(SchemaType.AVRO, text)


# ---- Protobuf ----------------------------------------------------------------------------------------
def test_protobuf_from_text_with_nested_types_maps_oneofs_and_well_known_imports() -> None:
    proto = parse_schema(SchemaType.PROTOBUF, PROTO)
    value = {"id": "5", "tags": ["a"], "counts": {"x": 2}, "voucher": {"code": "V"}, "at": "2026-01-01T00:00:00Z",
             "status": "PAID"}
    body = proto.encode(value)
    assert body[:1] == b"\x00"  # message indexes [0]: the first message
    assert proto.decode(body) == value


def test_protobuf_writes_any_message_of_the_file_with_its_indexes() -> None:
    proto = parse_schema(SchemaType.PROTOBUF, PROTO)
    assert isinstance(proto, ProtobufSchema)
    refund = proto.encode({"order": "o-1"}, "Refund")
    assert decode_indexes(refund, 0)[0] == [1]
    voucher = proto.encode({"code": "V"}, "shop.Order.Voucher")
    # Nested types are counted as the descriptor has them, the map's entry type (CountsEntry) first,
    # as Confluent's serializers count them.
    assert decode_indexes(voucher, 0)[0] == [0, 1]
    assert proto.decode(voucher) == {"code": "V"}
    with pytest.raises(EncodeError, match="no message 'Nope'"):
        proto.encode({}, "Nope")


def test_protobuf_input_that_does_not_match_names_the_field() -> None:
    proto = parse_schema(SchemaType.PROTOBUF, PROTO)
    with pytest.raises(EncodeError, match="no field named \"idx\""):
        proto.encode({"idx": 1})
    with pytest.raises(EncodeError, match="Failed to parse id field"):
        proto.encode({"id": "five"})


def test_protobuf_text_and_a_serialized_descriptor_are_the_same_schema() -> None:
    proto = parse_schema(SchemaType.PROTOBUF, PROTO)
    assert isinstance(proto, ProtobufSchema)
    again = parse_schema(SchemaType.PROTOBUF, proto.serialized())
    assert again.canonical() == proto.canonical()
    assert parse_schema(SchemaType.PROTOBUF, proto.canonical()).canonical() == proto.canonical()


def test_protobuf_imports_come_from_references() -> None:
    common = 'syntax = "proto3"; package common; message Money { int64 cents = 1; string currency = 2; }'
    text = 'syntax = "proto3"; import "common/money.proto"; message Price { common.Money amount = 1; }'
    parsed = parse_schema(SchemaType.PROTOBUF, text, [("common/money.proto", common)])
    value = {"amount": {"cents": "250", "currency": "EUR"}}
    assert parsed.decode(parsed.encode(value)) == value
    with pytest.raises(InvalidSchema, match=re.escape("imports common/money.proto, which is neither referenced")):
        parse_schema(SchemaType.PROTOBUF, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('syntax = "proto3"; message A { int32 a = 1 }', "line 1:"),
        ('syntax = "proto3"; message A { Missing a = 1; }', "Missing"),
        ('syntax = "proto3";', "defines no message"),
    ],
)
def test_invalid_protobuf_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidSchema, match=message):
        parse_schema(SchemaType.PROTOBUF, text)


# ---- JSON Schema -------------------------------------------------------------------------------------
def test_json_schema_validates_with_references_and_names_the_field() -> None:
    address = json.dumps({"type": "object", "properties": {"city": {"type": "string"}}})
    schema = json.dumps({"type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer"}, "home": {"$ref": "address.json"}}})
    parsed = parse_schema(SchemaType.JSON, schema, [("address.json", address)])
    assert parsed.decode(parsed.encode({"id": 1, "home": {"city": "Oslo"}})) == {"id": 1, "home": {"city": "Oslo"}}
    with pytest.raises(EncodeError, match=re.escape("field home.city: 7 is not of type 'string'")):
        parsed.encode({"id": 1, "home": {"city": 7}})
    with pytest.raises(EncodeError, match="'id' is a required property"):
        parsed.encode({})
    with pytest.raises(InvalidSchema):
        parse_schema(SchemaType.JSON, '{"type": 12}')


# ---- compatibility -----------------------------------------------------------------------------------
def _avro(fields: list[dict[str, object]], name: str = "Order") -> str:
    return json.dumps({"type": "record", "name": name, "fields": fields})


@pytest.mark.parametrize(
    ("reader", "writer", "readable"),
    [
        (_avro([{"name": "id", "type": "long"}]), _avro([{"name": "id", "type": "int"}]), True),  # promotion
        (_avro([{"name": "id", "type": "int"}]), _avro([{"name": "id", "type": "long"}]), False),
        (_avro([{"name": "id", "type": "long"}, {"name": "n", "type": "int"}]),
         _avro([{"name": "id", "type": "long"}]), False),  # a new field without a default
        (_avro([{"name": "id", "type": "long"}, {"name": "n", "type": "int", "default": 0}]),
         _avro([{"name": "id", "type": "long"}]), True),
        (_avro([{"name": "id", "type": ["null", "long"]}]), _avro([{"name": "id", "type": "long"}]), True),
        (_avro([{"name": "id", "type": "long"}]), _avro([{"name": "id", "type": ["null", "long"]}]), False),
        (_avro([{"name": "id", "type": "long"}], "Other"), _avro([{"name": "id", "type": "long"}]), False),
        (_avro([{"name": "s", "type": "string"}]), _avro([{"name": "s", "type": "bytes"}]), True),
    ],
)
def test_avro_resolution_rules(reader: str, writer: str, readable: bool) -> None:
    issues = parse_schema(SchemaType.AVRO, reader).issues_reading(parse_schema(SchemaType.AVRO, writer))
    assert (not issues) is readable, issues


def test_protobuf_compatibility_looks_at_field_numbers_and_kinds() -> None:
    old = parse_schema(SchemaType.PROTOBUF, PROTO)
    renamed = parse_schema(SchemaType.PROTOBUF, PROTO.replace("int64 id = 1", "int64 order_id = 1"))
    widened = parse_schema(SchemaType.PROTOBUF, PROTO.replace("int64 id = 1", "uint64 id = 1"))
    retyped = parse_schema(SchemaType.PROTOBUF, PROTO.replace("int64 id = 1", "string id = 1"))
    dropped = parse_schema(SchemaType.PROTOBUF, PROTO.replace("message Refund { string order = 1; }", ""))
    assert renamed.issues_reading(old) == [] and widened.issues_reading(old) == []
    assert retyped.issues_reading(old) == ["message shop.Order: field 1 (id) changed from int64 to string"]
    assert dropped.issues_reading(old) == ["message shop.Refund was removed"]


def test_json_schema_compatibility_sees_required_and_closed_content_models() -> None:
    old = parse_schema(SchemaType.JSON, json.dumps({"type": "object", "properties": {"id": {"type": "integer"}}}))
    required = parse_schema(SchemaType.JSON, json.dumps(
        {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}))
    wider = parse_schema(SchemaType.JSON, json.dumps({"type": "object", "properties": {"id": {"type": "number"}}}))
    closed = parse_schema(SchemaType.JSON, json.dumps({"type": "object", "properties": {}, "additionalProperties":
                                                       False}))
    assert wider.issues_reading(old) == []
    assert required.issues_reading(old) == ["#: the reader requires id, which the writer may leave out"]
    assert closed.issues_reading(old)
    assert old.issues_reading(wider) == ["#/properties/id: the reader does not accept type number"]


def test_avro_recursive_types_decode_and_encode() -> None:
    node = json.dumps({"type": "record", "name": "Node", "fields": [
        {"name": "payload", "type": "bytes"}, {"name": "next", "type": ["null", "Node"], "default": None}]})
    parsed = parse_schema(SchemaType.AVRO, node)
    chain = {"payload": "AQ==", "next": {"payload": "Ag==", "next": None}}
    assert parsed.decode(parsed.encode(chain)) == chain
