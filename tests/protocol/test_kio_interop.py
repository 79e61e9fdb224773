"""Cross-implementation check against kio, an independent codec generated from Kafka's specs.

For every API key and every version both sides speak, a message is encoded by kio and decoded
by us, encoded again by us and compared byte for byte with kio's encoding, then decoded by kio.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import types
import typing
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kctl.protocol.api import decode_request, decode_response, encode_request, encode_response
from kctl.protocol.codegen import attr
from kctl.protocol.schema.apis import APIS
from kctl.protocol.schema.dsl import Array, Message, Struct

from .strategies import api_module_path, message_strategy

kio_index = pytest.importorskip("kio.index")
kio_serial = pytest.importorskip("kio.serial")
kio_primitive = pytest.importorskip("kio.static.primitive")
kio_errors = pytest.importorskip("kio.schema.errors")


def kio_schema(api_key: int, version: int, side: str) -> type | None:
    load = kio_index.load_request_schema if side == "request" else kio_index.load_response_schema
    try:
        return load(api_key, version)  # type: ignore[no-any-return]
    except kio_index.KioIndexError:
        return None


def to_kio(value: Any, hint: Any, schema: Any, version: int) -> Any:
    """Our value as kio represents it, given kio's annotation and our schema for the field."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        if value is None:
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is tuple:
        element_hint = typing.get_args(hint)[0]
        element_schema = schema.element if isinstance(schema, Array) else schema
        return tuple(to_kio(v, element_hint, element_schema, version) for v in value)
    if dataclasses.is_dataclass(hint):
        return struct_to_kio(value, schema, hint, version)
    if hint in (kio_primitive.i32Timedelta, kio_primitive.i64Timedelta):
        return hint.parse(datetime.timedelta(milliseconds=value))
    if hint is kio_primitive.TZAware:
        return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
    if hint is kio_errors.ErrorCode:
        return kio_errors.ErrorCode(value)
    if hint is uuid.UUID and value == uuid.UUID(int=0):
        return None
    return value


def struct_to_kio(value: Any, struct: Struct, kio_cls: Any, version: int) -> Any:
    present = [f for f in struct.fields if f.present_in(version)]
    kio_fields = dataclasses.fields(kio_cls)
    hints = typing.get_type_hints(kio_cls)
    # kio drops the unit from time fields it types as timedelta or datetime (timeout_ms -> timeout).
    names = [(attr(f.name), attr(f.name).removesuffix("_ms")) for f in present]
    assert len(names) == len(kio_fields), kio_cls
    assert all(theirs.name in ours for ours, theirs in zip(names, kio_fields, strict=True)), kio_cls
    args = {}
    for ours, theirs in zip(present, kio_fields, strict=True):
        schema = ours.type.element if isinstance(ours.type, Array) else ours.type
        args[theirs.name] = to_kio(getattr(value, attr(ours.name)), hints[theirs.name], schema, version)
    return kio_cls(**args)


def kio_encode(entity: Any) -> bytes:
    buf = io.BytesIO()
    kio_serial.entity_writer(type(entity))(buf, entity)
    return buf.getvalue()


CASES = [
    pytest.param(spec, version, side, id=f"{spec.name}-v{version}-{side}")
    for spec in APIS
    for version in spec.request.all_versions()
    for side in ("request", "response")
]


@pytest.mark.parametrize(("spec", "version", "side"), CASES)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(st.data())
def test_matches_kio_both_ways(spec: Any, version: int, side: str, data: st.DataObject) -> None:
    kio_cls = kio_schema(spec.key, version, side)
    if kio_cls is None:
        pytest.skip(f"kio has no {spec.name} v{version} {side}")
    message: Message = spec.request if side == "request" else spec.response
    ours = data.draw(message_strategy(api_module_path(spec.name), message, version, kio_domain=True))
    theirs = struct_to_kio(ours, Struct(message.name, message.fields), kio_cls, version)

    kio_bytes = kio_encode(theirs)
    decode = decode_request if side == "request" else decode_response
    decoded, end = decode(spec.key, version, kio_bytes)
    assert end == len(kio_bytes)
    assert struct_to_kio(decoded, Struct(message.name, message.fields), kio_cls, version) == theirs

    encode = encode_request if side == "request" else encode_response
    our_bytes = encode(decoded, version)
    assert our_bytes == kio_bytes
    back, _ = kio_serial.entity_reader(kio_cls)(our_bytes, 0)
    assert back == theirs


def test_every_api_key_is_covered_by_kio() -> None:
    missing = [
        spec.name
        for spec in APIS
        if kio_schema(spec.key, spec.versions.low, "request") is None
        and kio_schema(spec.key, spec.versions.high or 0, "request") is None
    ]
    assert missing == []
