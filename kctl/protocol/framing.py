"""Length-prefixed frames and the sans-IO connection objects built on them.

Neither class touches a socket. The owner feeds bytes in with `receive_data()`, takes decoded
messages out with `next_event()` (which answers `NEED_DATA` when a frame is incomplete) and
writes whatever bytes the `send_*` methods return.

    conn = ClientConnection(client_id="kctl")
    correlation_id, data = conn.send_request(MetadataRequest(topics=None), version=12)
    sock.sendall(data)
    conn.receive_data(sock.recv(65536))
    event = conn.next_event()   # ResponseReceived(...) or NEED_DATA
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from struct import Struct
from typing import Any, Final

from .api import API_BY_KEY, API_BY_REQUEST_TYPE, API_VERSIONS_KEY, decode_request, decode_response
from .api import encode_request as encode_request_body
from .api import encode_response as encode_response_body
from .errors import CorrelationError, EncodeError, ErrorCode, FrameTooLargeError, UnsupportedVersionError
from .headers import (
    RequestHeader,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
)

_LENGTH = Struct(">i")
_UNSUPPORTED_VERSION = ErrorCode.UNSUPPORTED_VERSION.code.to_bytes(2, "big")

#: Kafka's socket.request.max.bytes default.
DEFAULT_MAX_FRAME_SIZE: Final = 100 * 1024 * 1024


class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"


#: Returned by `next_event()` when the buffered bytes do not hold a whole frame yet.
NEED_DATA: Final = _NeedData.NEED_DATA


class FrameBuffer:
    """Accumulates bytes and cuts them into frames at the int32 length prefixes."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]  # compact once the consumed head dominates
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out as frames."""
        return len(self._buf) - self._pos

    def next_frame(self) -> bytes | None:
        """The next complete frame without its length prefix, or None when more is needed."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 4:
            return None
        (size,) = _LENGTH.unpack_from(buf, pos)
        if size < 0 or size > self.max_frame_size:
            raise FrameTooLargeError(f"frame length {size} outside 0..{self.max_frame_size}")
        end = pos + 4 + size
        if len(buf) < end:
            return None
        frame = bytes(buf[pos + 4 : end])
        self._pos = end
        if end == len(buf):
            buf.clear()
            self._pos = 0
        return frame


def frame(*parts: bytes) -> bytes:
    """Join parts into one length-prefixed frame."""
    body = b"".join(parts)
    return _LENGTH.pack(len(body)) + body


# ---- server side ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequestReceived:
    header: RequestHeader
    body: Any


@dataclass(frozen=True, slots=True)
class UnsupportedRequest:
    """A request for an API key or version we do not speak; the body was not decoded."""

    header: RequestHeader


ServerEvent = RequestReceived | UnsupportedRequest | _NeedData


class ServerConnection:
    """The server's half of one connection: frames in, requests out, responses framed."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._frames = FrameBuffer(max_frame_size)

    @property
    def buffered(self) -> int:
        return self._frames.buffered

    def receive_data(self, data: bytes) -> None:
        self._frames.feed(data)

    def next_event(self) -> ServerEvent:
        """The next request, NEED_DATA, or a `DecodeError` if the peer sent garbage."""
        data = self._frames.next_frame()
        if data is None:
            return NEED_DATA
        header, offset = decode_request_header(data)
        spec = API_BY_KEY.get(header.api_key)
        if spec is None or not spec.supports(header.api_version):
            return UnsupportedRequest(header)
        body, _ = decode_request(header.api_key, header.api_version, data, offset)
        return RequestReceived(header, body)

    def send_response(self, header: RequestHeader, body: object) -> bytes:
        """Frame the response to `header`'s request, in the version the request used."""
        spec = API_BY_KEY.get(header.api_key)
        if spec is None:
            raise UnsupportedVersionError(header.api_key, header.api_version)
        return frame(
            encode_response_header(header.correlation_id, spec.response_header_version(header.api_version)),
            encode_response_body(body, header.api_version),
        )

    def send_api_versions_fallback(self, header: RequestHeader, api_keys: list[Any] | None = None) -> bytes:
        """KIP-511: answer an ApiVersions request of a version we do not know.

        The answer is an ApiVersions v0 body with UNSUPPORTED_VERSION and the ranges we speak
        (all of them unless `api_keys` narrows it), under a v0 response header, so that the
        client can retry with a version we both know.
        """
        from .messages.api_versions import ApiVersion, ApiVersionsResponse

        if api_keys is None:
            api_keys = [
                ApiVersion(spec.key, spec.min_version, spec.max_version)
                for spec in sorted(API_BY_KEY.values(), key=lambda s: s.key)
            ]
        body = ApiVersionsResponse(error_code=ErrorCode.UNSUPPORTED_VERSION.code, api_keys=api_keys)
        return frame(encode_response_header(header.correlation_id, 0), encode_response_body(body, 0))


# ---- client side ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResponseReceived:
    correlation_id: int
    api_key: int
    api_version: int
    body: Any


ClientEvent = ResponseReceived | _NeedData


class ClientConnection:
    """The client's half of one connection: numbers requests and matches responses to them."""

    def __init__(self, client_id: str | None = "kctl", max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.client_id = client_id
        self._frames = FrameBuffer(max_frame_size)
        self._next_correlation_id = 0
        self._in_flight: dict[int, tuple[int, int]] = {}

    @property
    def in_flight(self) -> int:
        """Requests sent whose responses have not arrived yet."""
        return len(self._in_flight)

    def send_request(self, body: object, version: int, *, expect_response: bool = True) -> tuple[int, bytes]:
        """Frame a request; return its correlation id and the bytes to write.

        Pass `expect_response=False` for requests the server never answers (Produce with acks=0).
        """
        spec = API_BY_REQUEST_TYPE.get(type(body))
        if spec is None:
            raise EncodeError(f"{type(body).__name__} is not a request")
        correlation_id = self._next_correlation_id
        self._next_correlation_id = (correlation_id + 1) & 0x7FFFFFFF
        header = RequestHeader(spec.key, version, correlation_id, self.client_id)
        data = frame(
            encode_request_header(header, spec.request_header_version(version)),
            encode_request_body(body, version),
        )
        if expect_response:
            self._in_flight[correlation_id] = (spec.key, version)
        return correlation_id, data

    def receive_data(self, data: bytes) -> None:
        self._frames.feed(data)

    def next_event(self) -> ClientEvent:
        data = self._frames.next_frame()
        if data is None:
            return NEED_DATA
        # Every response header starts with the correlation id; read it to learn the rest.
        if len(data) < 4:
            raise CorrelationError("response shorter than its header")
        (correlation_id,) = _LENGTH.unpack_from(data, 0)
        pending = self._in_flight.pop(correlation_id, None)
        if pending is None:
            raise CorrelationError(f"response with unknown correlation id {correlation_id}")
        api_key, version = pending
        spec = API_BY_KEY[api_key]
        _, offset = decode_response_header(data, spec.response_header_version(version))
        if api_key == API_VERSIONS_KEY and data[offset : offset + 2] == _UNSUPPORTED_VERSION:
            version = 0  # KIP-511: the server answered in v0 with the versions it speaks
        body, _ = decode_response(api_key, version, data, offset)
        return ResponseReceived(correlation_id, api_key, version, body)


__all__ = [
    "API_VERSIONS_KEY",
    "DEFAULT_MAX_FRAME_SIZE",
    "NEED_DATA",
    "ClientConnection",
    "ClientEvent",
    "FrameBuffer",
    "RequestReceived",
    "ResponseReceived",
    "ServerConnection",
    "ServerEvent",
    "UnsupportedRequest",
    "frame",
]
