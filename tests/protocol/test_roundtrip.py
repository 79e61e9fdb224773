"""Every message of every API, in every version we speak, survives encode then decode."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kctl.protocol import data
from kctl.protocol.api import decode_request, decode_response, encode_request, encode_response
from kctl.protocol.schema.apis import APIS, RECORD_SCHEMAS

from .strategies import api_module_path, message_strategy

CASES = [
    pytest.param(spec, version, id=f"{spec.name}-v{version}")
    for spec in APIS
    for version in spec.request.all_versions()
]


@pytest.mark.parametrize(("spec", "version"), CASES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_request_and_response_round_trip(spec: Any, version: int, data_: st.DataObject) -> None:
    module = api_module_path(spec.name)
    request = data_.draw(message_strategy(module, spec.request, version))
    encoded = encode_request(request, version)
    decoded, end = decode_request(spec.key, version, encoded)
    assert decoded == request
    assert end == len(encoded)

    response = data_.draw(message_strategy(module, spec.response, version))
    encoded = encode_response(response, version)
    decoded, end = decode_response(spec.key, version, encoded)
    assert decoded == response
    assert end == len(encoded)


RECORD_CASES = [
    pytest.param(schema, version, id=f"{schema.name}-v{version}")
    for schema in RECORD_SCHEMAS
    for version in schema.all_versions()
]


@pytest.mark.parametrize(("schema", "version"), RECORD_CASES)
@settings(max_examples=25, deadline=None)
@given(st.data())
def test_versioned_data_round_trip(schema: Any, version: int, data_: st.DataObject) -> None:
    value = data_.draw(message_strategy("kctl.protocol.messages.data", schema, version))
    encoded = data.encode(value, version)
    assert int.from_bytes(encoded[:2], "big") == version
    assert data.decode(type(value), encoded) == value
