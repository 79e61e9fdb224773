"""The sans-IO connections, driven through a fake link: no sockets."""

from __future__ import annotations

import pytest

from kctl.protocol.errors import CorrelationError, DecodeError, ErrorCode, FrameTooLargeError
from kctl.protocol.events import (
    NEED_DATA,
    Authenticated,
    AuthenticationFailed,
    RequestReceived,
    ResponseReceived,
    UnsupportedRequest,
)
from kctl.protocol.framing import ClientConnection, FrameBuffer, NotAuthenticated, ServerConnection
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic, MetadataResponse
from kctl.protocol.messages.produce import ProduceRequest
from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest
from kctl.protocol.sasl import ScramClient, ScramCredential, ScramServer, ServerAuthentication


def test_pipelined_requests_are_answered_in_order_by_correlation_id() -> None:
    client, server = ClientConnection(client_id="t"), ServerConnection()
    wire = b""
    ids = []
    for version in (2, 9, 12):
        correlation_id, data = client.send_request(
            MetadataRequest(topics=[MetadataRequestTopic(name=f"t{version}")]), version
        )
        ids.append(correlation_id)
        wire += data
    assert ids == [0, 1, 2] and client.in_flight == 3
    server.receive_data(wire)
    answers = b""
    while (event := server.next_event()) is not NEED_DATA:
        assert isinstance(event, RequestReceived)
        assert event.header.client_id == "t"
        answers += server.send_response(event.header, MetadataResponse(cluster_id=event.body.topics[0].name))
    # Feed the answers back one byte at a time: every prefix is NEED_DATA until a frame completes.
    seen = []
    for byte in answers:
        client.receive_data(bytes([byte]))
        while (response := client.next_event()) is not NEED_DATA:
            assert isinstance(response, ResponseReceived)
            seen.append((response.correlation_id, response.api_version, response.body.cluster_id))
    assert seen == [(0, 2, "t2"), (1, 9, "t9"), (2, 12, "t12")]
    assert client.in_flight == 0


def test_requests_without_response_are_not_awaited() -> None:
    client = ClientConnection()
    client.send_request(ProduceRequest(acks=0, timeout_ms=1), 9, expect_response=False)
    assert client.in_flight == 0


def test_unknown_correlation_id_is_an_error() -> None:
    client = ClientConnection()
    client.receive_data(b"\x00\x00\x00\x04\x00\x00\x00\x09")
    with pytest.raises(CorrelationError):
        client.next_event()


def test_unknown_api_key_and_version_are_events_not_crashes() -> None:
    server = ServerConnection()
    for key, version in ((999, 0), (3, 40), (0, -1)):
        header = (
            key.to_bytes(2, "big", signed=True)
            + version.to_bytes(2, "big", signed=True)
            + b"\x00\x00\x00\x01\xff\xff"
        )
        server.receive_data(len(header).to_bytes(4, "big") + header)
        event = server.next_event()
        assert isinstance(event, UnsupportedRequest)
        assert (event.header.api_key, event.header.api_version) == (key, version)


@pytest.mark.parametrize("length", [b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\x7f\xff\xff\xff"])
def test_negative_or_oversized_frame_length_is_rejected_before_allocating(length: bytes) -> None:
    frames = FrameBuffer(max_frame_size=1024)
    frames.feed(length + b"\x00")
    with pytest.raises(FrameTooLargeError):
        frames.next_frame()


def test_truncated_body_inside_a_whole_frame_is_a_decode_error() -> None:
    server = ServerConnection()
    # Metadata v0 claims one topic but the frame ends after the count.
    request = b"\x00\x03\x00\x00\x00\x00\x00\x01\xff\xff" + b"\x00\x00\x00\x01"
    server.receive_data(len(request).to_bytes(4, "big") + request)
    with pytest.raises(DecodeError):
        server.next_event()


def test_huge_array_count_fails_fast() -> None:
    server = ServerConnection()
    request = b"\x00\x03\x00\x00\x00\x00\x00\x01\xff\xff" + b"\x7f\xff\xff\xff"
    server.receive_data(len(request).to_bytes(4, "big") + request)
    with pytest.raises(DecodeError, match="array"):
        server.next_event()


def test_frame_buffer_compacts_and_keeps_partial_frames() -> None:
    frames = FrameBuffer()
    payload = b"\x00\x00\x00\x03abc" * 1000
    frames.feed(payload[:5])
    assert frames.next_frame() is None
    frames.feed(payload[5:])
    got = []
    while (frame := frames.next_frame()) is not None:
        got.append(frame)
    assert got == [b"abc"] * 1000
    assert frames.buffered == 0


def test_answers_leave_in_request_order_whenever_each_is_ready() -> None:
    client, server = ClientConnection(client_id="t"), ServerConnection()
    for name in ("a", "b", "c"):
        server.receive_data(client.send_request(MetadataRequest(topics=[MetadataRequestTopic(name=name)]), 12)[1])
    places = []
    while (event := server.next_event()) is not NEED_DATA:
        assert isinstance(event, RequestReceived)
        places.append((server.reserve(), event.header))
    assert server.unanswered == 3
    sizes = server.unanswered_bytes
    assert sizes == sum(p.size for p, _ in places) and all(p.size > 0 for p, _ in places)
    # The last request is answered first (a parked fetch ahead of it, say): nothing may leave yet.
    (first, h1), (second, h2), (third, h3) = places
    server.answer(third, h3, MetadataResponse(cluster_id="c"))
    assert server.next_answer() is None
    server.answer(first, h1, MetadataResponse(cluster_id="a"))
    out = server.next_answer()
    assert out is not None and server.next_answer() is None  # the second still holds the third back
    server.answer(second, h2, MetadataResponse(cluster_id="b"))
    while (data := server.next_answer()) is not None:
        out += data
    assert server.unanswered == 0 and server.unanswered_bytes == 0
    client.receive_data(out)
    got = []
    while (event := client.next_event()) is not NEED_DATA:
        got.append(event.body.cluster_id)
    assert got == ["a", "b", "c"]


def _scram_server() -> ServerConnection:
    users = {"alice": ScramCredential.derive("SCRAM-SHA-256", "secret")}
    return ServerConnection(authentication=ServerAuthentication(
        ["SCRAM-SHA-256"], lambda mechanism: ScramServer(mechanism, users)))


def _answers(server: ServerConnection, client: ClientConnection) -> list[object]:
    while (data := server.next_answer()) is not None:
        client.receive_data(data)
    out = []
    while (event := client.next_event()) is not NEED_DATA:
        out.append(event.body)
    return out


def test_the_connection_runs_the_sasl_exchange_and_lets_requests_through_only_after_it() -> None:
    client, server = ClientConnection(client_id="t"), _scram_server()
    server.receive_data(client.send_request(ApiVersionsRequest(), 3)[1])  # allowed before authenticating
    assert isinstance(server.next_event(), RequestReceived)
    server.answer_now(RequestHeader(18, 3, 0, "t"), ApiVersionsResponse())
    server.receive_data(client.send_request(SaslHandshakeRequest("SCRAM-SHA-256"), 1)[1])
    assert server.next_event() is NEED_DATA  # the connection answered the handshake itself
    scram = ScramClient("SCRAM-SHA-256", "alice", "secret")
    server.receive_data(client.send_request(SaslAuthenticateRequest(scram.first()), 2)[1])
    assert server.next_event() is NEED_DATA
    answers = _answers(server, client)
    assert [type(a).__name__ for a in answers] == ["ApiVersionsResponse", "SaslHandshakeResponse",
                                                   "SaslAuthenticateResponse"]
    final = scram.next(answers[-1].auth_bytes)
    assert final is not None
    server.receive_data(client.send_request(SaslAuthenticateRequest(final), 2)[1])
    event = server.next_event()
    assert event == Authenticated("alice", "SCRAM-SHA-256")
    assert scram.next(_answers(server, client)[-1].auth_bytes) is None  # the server proved itself too
    server.receive_data(client.send_request(MetadataRequest(topics=None), 12)[1])
    assert isinstance(server.next_event(), RequestReceived)


def test_a_request_before_authentication_is_refused_and_a_bad_password_is_reported() -> None:
    client, server = ClientConnection(client_id="t"), _scram_server()
    server.receive_data(client.send_request(MetadataRequest(topics=None), 12)[1])
    with pytest.raises(NotAuthenticated, match="MetadataRequest before SASL authentication"):
        server.next_event()
    client, server = ClientConnection(client_id="t"), _scram_server()
    server.receive_data(client.send_request(SaslHandshakeRequest("SCRAM-SHA-256"), 1)[1])
    scram = ScramClient("SCRAM-SHA-256", "alice", "wrong")
    server.receive_data(client.send_request(SaslAuthenticateRequest(scram.first()), 2)[1])
    assert server.next_event() is NEED_DATA
    final = scram.next(_answers(server, client)[-1].auth_bytes)
    server.receive_data(client.send_request(SaslAuthenticateRequest(final), 2)[1])
    event = server.next_event()
    assert isinstance(event, AuthenticationFailed) and "alice" in event.reason
    assert _answers(server, client)[-1].error_code == ErrorCode.SASL_AUTHENTICATION_FAILED.code
