"""Golden byte cases, checked in both directions: our encoder writes exactly these bytes and our
decoder reads them back to the same value. The bytes are worked out by hand from the protocol
guide, so they pin the wire format independently of our own code."""

from __future__ import annotations

from typing import Any

import pytest

from kctl.protocol import _wire as w
from kctl.protocol.api import decode_request, decode_response, encode_request, encode_response
from kctl.protocol.events import ResponseReceived, UnsupportedRequest
from kctl.protocol.framing import ClientConnection, ServerConnection
from kctl.protocol.headers import RequestHeader, decode_request_header, encode_request_header
from kctl.protocol.messages.api_versions import ApiVersion, ApiVersionsRequest, ApiVersionsResponse
from kctl.protocol.messages.find_coordinator import FindCoordinatorRequest
from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic

UVARINTS = [
    (0, b"\x00"),
    (1, b"\x01"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (300, b"\xac\x02"),
    (2**32 - 1, b"\xff\xff\xff\xff\x0f"),
]
ZIGZAG = [
    (0, b"\x00"),
    (-1, b"\x01"),
    (1, b"\x02"),
    (-2, b"\x03"),
    (63, b"\x7e"),
    (-64, b"\x7f"),
    (64, b"\x80\x01"),
    (2**31 - 1, b"\xfe\xff\xff\xff\x0f"),
    (-(2**31), b"\xff\xff\xff\xff\x0f"),
]


@pytest.mark.parametrize(("value", "raw"), UVARINTS)
def test_unsigned_varint(value: int, raw: bytes) -> None:
    assert w.uvarint(value) == raw
    assert w.read_uvarint(raw, 0) == (value, len(raw))


@pytest.mark.parametrize(("value", "raw"), ZIGZAG)
def test_zigzag_varint(value: int, raw: bytes) -> None:
    assert w.zigzag_varint(value) == raw
    assert w.read_varint(raw, 0) == (value, len(raw))


def test_zigzag_varlong_extremes() -> None:
    assert w.zigzag_varlong(-(2**63)) == b"\xff" * 9 + b"\x01"
    assert w.read_varlong(b"\xff" * 9 + b"\x01", 0) == (-(2**63), 10)
    assert w.read_varlong(w.zigzag_varlong(2**63 - 1), 0) == (2**63 - 1, 10)


BODIES: list[tuple[str, Any, int, bytes]] = [
    # Metadata v0: topics is a non-nullable int32-counted array of int16-length strings.
    ("request", MetadataRequest(topics=[MetadataRequestTopic(name="ab")]), 0, b"\x00\x00\x00\x01\x00\x02ab"),
    # Metadata v1: a null topic array means "all topics".
    ("request", MetadataRequest(topics=None), 1, b"\xff\xff\xff\xff"),
    # Metadata v9 (flexible): compact array (n+1), compact string (n+1), tagged-field bytes,
    # then allow_auto_topic_creation, include_cluster_authorized_operations (v8-10),
    # include_topic_authorized_operations and the message's own tagged-field byte.
    (
        "request",
        MetadataRequest(topics=[MetadataRequestTopic(name="ab")], allow_auto_topic_creation=False),
        9,
        b"\x02\x03ab\x00\x00\x00\x00\x00",
    ),
    # Metadata v10: each topic carries a 16-byte topic id before its name.
    ("request", MetadataRequest(topics=[]), 10, b"\x01\x01\x00\x00\x00"),
    (
        "request",
        ApiVersionsRequest(client_software_name="kctl", client_software_version="1"),
        3,
        b"\x05kctl\x021\x00",
    ),
    ("request", FindCoordinatorRequest(key="g"), 0, b"\x00\x01g"),
    (
        "request",
        FindCoordinatorRequest(key_type=0, coordinator_keys=["g1", "g2"]),
        4,
        b"\x00\x03\x03g1\x03g2\x00",
    ),
    (
        "response",
        ApiVersionsResponse(error_code=0, api_keys=[ApiVersion(18, 0, 4)]),
        0,
        b"\x00\x00\x00\x00\x00\x01\x00\x12\x00\x00\x00\x04",
    ),
    (
        "response",
        ApiVersionsResponse(error_code=0, api_keys=[ApiVersion(18, 0, 4)], throttle_time_ms=7),
        3,
        b"\x00\x00\x02\x00\x12\x00\x00\x00\x04\x00\x00\x00\x00\x07\x00",
    ),
]


@pytest.mark.parametrize(
    ("side", "message", "version", "raw"), BODIES, ids=lambda x: getattr(x, "__name__", None)
)
def test_golden_bodies(side: str, message: Any, version: int, raw: bytes) -> None:
    encode = encode_request if side == "request" else encode_response
    decode = decode_request if side == "request" else decode_response
    key = (
        3
        if isinstance(message, MetadataRequest)
        else 10
        if isinstance(message, FindCoordinatorRequest)
        else 18
    )
    assert encode(message, version) == raw
    decoded, end = decode(key, version, raw)
    assert end == len(raw)
    assert decoded == message


def test_request_header_v1_and_v2() -> None:
    header = RequestHeader(api_key=18, api_version=3, correlation_id=7, client_id="c")
    v1 = b"\x00\x12\x00\x03\x00\x00\x00\x07\x00\x01c"
    assert encode_request_header(header, 1) == v1
    # v2 keeps the client id as a classic string and adds an empty tagged-field section.
    assert encode_request_header(header, 2) == v1 + b"\x00"
    assert decode_request_header(v1 + b"\x00") == (header, len(v1) + 1)
    null_client = RequestHeader(3, 0, 1, None)
    assert encode_request_header(null_client, 1) == b"\x00\x03\x00\x00\x00\x00\x00\x01\xff\xff"


def test_api_versions_response_always_uses_header_v0() -> None:
    client, server = ClientConnection(client_id="c"), ServerConnection()
    _, data = client.send_request(ApiVersionsRequest(), 3)
    server.receive_data(data)
    event = server.next_event()
    out = server.send_response(event.header, ApiVersionsResponse(api_keys=[ApiVersion(18, 0, 4)]))  # type: ignore[union-attr]
    # length, correlation id, then the body at once: no tagged-field byte after the correlation id
    assert (
        out
        == b"\x00\x00\x00\x13"
        + b"\x00\x00\x00\x00"
        + b"\x00\x00\x02\x00\x12\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00"
    )
    client.receive_data(out)
    event = client.next_event()
    assert isinstance(event, ResponseReceived)
    assert event.body.api_keys == [ApiVersion(18, 0, 4)]


def test_unknown_api_versions_version_gets_kip511_answer() -> None:
    server = ServerConnection()
    # ApiVersions v99, correlation id 5, client id "x", followed by a body we cannot know.
    request = b"\x00\x12\x00\x63\x00\x00\x00\x05\x00\x01x" + b"\x00\x01\x02"
    server.receive_data(len(request).to_bytes(4, "big") + request)
    event = server.next_event()
    assert isinstance(event, UnsupportedRequest)
    assert (event.header.api_key, event.header.api_version, event.header.correlation_id) == (18, 99, 5)
    out = server.send_api_versions_fallback(event.header, [ApiVersion(18, 0, 4)])
    # v0 header (correlation id only), v0 body: error 35, one key: 18 in 0..4
    assert (
        out
        == b"\x00\x00\x00\x10"
        + b"\x00\x00\x00\x05"
        + b"\x00\x23"
        + b"\x00\x00\x00\x01\x00\x12\x00\x00\x00\x04"
    )


def test_client_reads_kip511_answer_as_v0() -> None:
    client = ClientConnection()
    correlation_id, _ = client.send_request(ApiVersionsRequest(), 4)
    body = b"\x00\x23\x00\x00\x00\x01\x00\x12\x00\x00\x00\x02"
    client.receive_data((4 + len(body)).to_bytes(4, "big") + correlation_id.to_bytes(4, "big") + body)
    event = client.next_event()
    assert isinstance(event, ResponseReceived)
    assert event.body.error_code == 35
    assert event.body.api_keys == [ApiVersion(18, 0, 2)]
