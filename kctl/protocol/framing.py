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

from collections import deque
from collections.abc import Callable
from struct import Struct
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ._wire import FileRange, Frame
from .api import API_BY_KEY, API_BY_REQUEST_TYPE, ApiKey, decode_request, decode_response
from .api import encode_request as encode_request_body
from .api import encode_response as encode_response_body
from .errors import (
    CorrelationError,
    EncodeError,
    ErrorCode,
    FrameTooLargeError,
    ProtocolError,
    UnsupportedVersionError,
)
from .events import (
    NEED_DATA,
    Authenticated,
    AuthenticationFailed,
    ClientEvent,
    RequestReceived,
    ResponseReceived,
    ServerEvent,
    UnsupportedRequest,
)
from .headers import (
    RequestHeader,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
)

if TYPE_CHECKING:
    from .sasl import ServerAuthentication

_LENGTH = Struct(">i")
_UNSUPPORTED_VERSION = ErrorCode.UNSUPPORTED_VERSION.code.to_bytes(2, "big")

#: Kafka's socket.request.max.bytes default.
DEFAULT_MAX_FRAME_SIZE: Final = 100 * 1024 * 1024
#: The largest frame a server reads from a peer that has not authenticated yet (as Kafka's
#: `sasl.server.max.receive.size`): SASL tokens are small, and an anonymous peer must not make
#: the server hold a large buffer.
MAX_UNAUTHENTICATED_FRAME_SIZE: Final = 512 * 1024


class FrameBuffer:
    """Cuts a byte stream into frames at the int32 length prefixes.

    Bytes come in either by `feed()` or, without an intermediate copy, through
    `get_buffer()`/`buffer_updated()` (the shape of `asyncio.BufferedProtocol`): large reads land
    in the frame's body directly. A body is allocated as its bytes arrive (up to 1 MiB at once,
    then doubling), not as its length prefix claims: a peer that announces a 100 MB frame and
    sends nothing more costs a megabyte, not a hundred.
    """

    _SCRATCH_SIZE = 65536
    _FIRST_BODY = 1 << 20

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._frames: deque[bytes | bytearray] = deque()
        self._length = bytearray()  # a partial length prefix
        self._body: bytearray | None = None  # the frame being filled, as much of it as is allocated
        self._size = 0  # its length
        self._filled = 0
        self._scratch = bytearray(self._SCRATCH_SIZE)
        self._into_body = False
        self._error: FrameTooLargeError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            return  # the stream is already broken; next_frame() reports it
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end:
            body = self._body
            if body is None:
                take = min(4 - len(self._length), end - pos)
                self._length += view[pos : pos + take]
                pos += take
                if len(self._length) < 4:
                    break
                (size,) = _LENGTH.unpack(self._length)
                self._length.clear()
                if size < 0 or size > self.max_frame_size:
                    self._error = FrameTooLargeError(f"frame length {size} outside 0..{self.max_frame_size}")
                    return
                if size == 0:
                    self._frames.append(b"")
                    continue
                body = self._body = bytearray(min(size, self._FIRST_BODY))
                self._size = size
                self._filled = 0
            take = min(self._size - self._filled, end - pos)
            body = self._room_for(self._filled + take)
            body[self._filled : self._filled + take] = view[pos : pos + take]
            self._filled += take
            pos += take
            if self._filled == self._size:
                self._complete(body)

    def _room_for(self, needed: int) -> bytearray:
        """The body, grown (doubling, up to the frame's length) to hold `needed` bytes."""
        body = self._body
        assert body is not None
        if len(body) >= needed:
            return body
        grown = bytearray(min(self._size, max(2 * len(body), needed)))
        grown[: self._filled] = memoryview(body)[: self._filled]
        self._body = grown
        return grown

    def _complete(self, body: bytearray) -> None:
        # Small frames become bytes (cheap, hashable slices); big ones stay as received.
        self._frames.append(bytes(body) if len(body) <= self._SCRATCH_SIZE else body)
        self._body = None
        self._filled = self._size = 0

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where the next read should land: straight into a large frame's body when possible."""
        if self._body is not None and self._size - self._filled >= self._SCRATCH_SIZE:
            self._into_body = True
            body = self._room_for(self._filled + self._SCRATCH_SIZE)
            return memoryview(body)[self._filled :]
        self._into_body = False
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> None:
        if self._into_body:
            assert self._body is not None
            self._filled += nbytes
            if self._filled == self._size:
                self._complete(self._body)
        else:
            self.feed(memoryview(self._scratch)[:nbytes])

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out as frames."""
        return sum(len(f) for f in self._frames) + len(self._length) + self._filled

    def next_frame(self) -> bytes | bytearray | None:
        """The next complete frame without its length prefix, or None when more is needed."""
        if self._frames:
            return self._frames.popleft()
        if self._error is not None:
            raise self._error
        return None


def frame(*parts: bytes) -> bytes:
    """Join parts into one length-prefixed frame."""
    body = b"".join(parts)
    return _LENGTH.pack(len(body)) + body


# ---- server side ---------------------------------------------------------------------------
class NotAuthenticated(ProtocolError):
    """A request other than ApiVersions or SASL's came before the peer authenticated."""


class EncodedBody(NamedTuple):
    """A response body already encoded, in the version of the request it answers: what a
    broker sends when it keeps answers encoded (see broker/handlers/groups.py, OffsetFetch)."""

    data: bytes


class AnswerPlace:
    """A request's place in the line of answers: answers leave in request order, as Kafka
    clients require, whenever each is ready. `size` is the request's, held until it is answered."""

    __slots__ = ("data", "size")

    def __init__(self, size: int = 0) -> None:
        self.data: bytes | None = None
        self.size = size


class ServerConnection:
    """The server's half of one connection: frames in, requests out, answers framed and put in
    request order, and, with `authentication`, the SASL exchange answered and enforced."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
                 authentication: ServerAuthentication | None = None,
                 max_unauthenticated_frame_size: int = MAX_UNAUTHENTICATED_FRAME_SIZE) -> None:
        self._frames = FrameBuffer(max_frame_size)
        self._max_frame_size = max_frame_size
        self.authentication = authentication
        # Until the peer authenticates, only small frames (Kafka's sasl.server.max.receive.size).
        if authentication is not None and not authentication.authenticated:
            self._frames.max_frame_size = min(max_frame_size, max_unauthenticated_frame_size)
        self._answers: deque[AnswerPlace] = deque()
        self._request_size = 0  # of the request `next_event` gave last
        self.unanswered_bytes = 0  # the sizes of the requests whose answers have not been taken

    @property
    def buffered(self) -> int:
        return self._frames.buffered

    @property
    def unanswered(self) -> int:
        """Requests received whose answers have not been taken by `next_answer` yet."""
        return len(self._answers)

    def receive_data(self, data: bytes) -> None:
        self._frames.feed(data)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """For `asyncio.BufferedProtocol`: where to read the next bytes into."""
        return self._frames.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._frames.buffer_updated(nbytes)

    def next_event(self, now_ms: int = 0) -> ServerEvent:
        """The next request (or SASL outcome), NEED_DATA, or a ProtocolError: a `DecodeError`
        if the peer sent garbage, `NotAuthenticated` for a request before authentication or
        after the SASL session ended (`now_ms`: the time, for sessions that end)."""
        while True:
            data = self._frames.next_frame()
            if data is None:
                return NEED_DATA
            self._request_size = len(data)
            header, offset = decode_request_header(data)
            spec = API_BY_KEY.get(header.api_key)
            if spec is None or not spec.supports(header.api_version):
                return UnsupportedRequest(header)
            body, _ = decode_request(header.api_key, header.api_version, data, offset)
            auth = self.authentication
            if auth is None:
                return RequestReceived(header, body)
            key = header.api_key
            if key == ApiKey.SASL_HANDSHAKE and header.api_version >= 1:  # v0 (raw tokens) is not served
                self.answer(self.reserve(), header, auth.handshake(body))
                continue
            if key == ApiKey.SASL_AUTHENTICATE:
                answer, outcome = auth.authenticate(body, now_ms)
                self.answer(self.reserve(), header, answer)
                if auth.authenticated:
                    self._frames.max_frame_size = self._max_frame_size
                if outcome is not None:
                    return outcome
                continue
            if not auth.authenticated and key not in (ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE):
                raise NotAuthenticated(f"{type(body).__name__} before SASL authentication")
            if auth.expired(now_ms):
                raise NotAuthenticated(f"{type(body).__name__} after the SASL session of {auth.user!r} ended "
                                       "(connections.max.reauth.ms): the client did not re-authenticate")
            return RequestReceived(header, body)

    # ---- answers, in request order --------------------------------------------------------------
    def reserve(self) -> AnswerPlace:
        """A place in line for the answer to the request just received (none for a request that
        gets no answer, such as Produce with acks=0)."""
        place = AnswerPlace(self._request_size)
        self._request_size = 0
        self.unanswered_bytes += place.size
        self._answers.append(place)
        return place

    def answer(self, place: AnswerPlace, header: RequestHeader, body: object) -> None:
        place.data = self.send_response(header, body)

    def answer_now(self, header: RequestHeader, body: object) -> None:
        self.answer(self.reserve(), header, body)

    def next_answer(self) -> bytes | None:
        """The next answer to send, once every earlier one has gone; None until then."""
        if self._answers and self._answers[0].data is not None:
            place = self._answers.popleft()
            self.unanswered_bytes -= place.size
            return place.data
        return None

    def send_response(self, header: RequestHeader, body: object) -> bytes:
        """Frame the response to `header`'s request, in the version the request used."""
        spec = API_BY_KEY.get(header.api_key)
        if spec is None:
            raise UnsupportedVersionError(header.api_key, header.api_version)
        # One buffer for prefix, header and body: record payloads are copied exactly once, and
        # those given as file ranges not at all (see Frame).
        buf = Frame(4)
        buf += encode_response_header(header.correlation_id, spec.response_header_version(header.api_version))
        if isinstance(body, EncodedBody):
            buf += body.data
        else:
            encode_response_body(body, header.api_version, buf)
        _LENGTH.pack_into(buf, 0, buf.wire_size - 4)
        return buf  # type: ignore[return-value]  # bytes-like; callers only write or compare it

    def answer_api_versions_fallback(self, header: RequestHeader, api_keys: list[Any] | None = None) -> None:
        """KIP-511, in its place among the answers (see `send_api_versions_fallback`)."""
        self.reserve().data = self.send_api_versions_fallback(header, api_keys)

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
#: Reads a response body another way than the generated decoder: (frame, body offset, version).
ResponseDecoder = Callable[[bytes | bytearray, int, int], Any]


class ClientConnection:
    """The client's half of one connection: numbers requests and matches responses to them."""

    def __init__(self, client_id: str | None = "kctl", max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.client_id = client_id
        self._frames = FrameBuffer(max_frame_size)
        self._next_correlation_id = 0
        self._in_flight: dict[int, tuple[int, int, ResponseDecoder | None]] = {}

    @property
    def in_flight(self) -> int:
        """Requests sent whose responses have not arrived yet."""
        return len(self._in_flight)

    def send_request(self, body: object, version: int, *, expect_response: bool = True,
                     decode: ResponseDecoder | None = None) -> tuple[int, bytes]:
        """Frame a request; return its correlation id and the bytes to write.

        Pass `expect_response=False` for requests the server never answers (Produce with acks=0),
        and `decode` to read the response body with it instead of the generated decoder.
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
            self._in_flight[correlation_id] = (spec.key, version, decode)
        return correlation_id, data

    def receive_data(self, data: bytes) -> None:
        self._frames.feed(data)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where the next bytes should be read into (see FrameBuffer)."""
        return self._frames.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._frames.buffer_updated(nbytes)

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
        api_key, version, decode = pending
        spec = API_BY_KEY[api_key]
        _, offset = decode_response_header(data, spec.response_header_version(version))
        if decode is not None:
            return ResponseReceived(correlation_id, api_key, version, decode(data, offset, version))
        if api_key == ApiKey.API_VERSIONS and data[offset : offset + 2] == _UNSUPPORTED_VERSION:
            version = 0  # KIP-511: the server answered in v0 with the versions it speaks
        body, _ = decode_response(api_key, version, data, offset)
        return ResponseReceived(correlation_id, api_key, version, body)


__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "NEED_DATA",
    "AnswerPlace",
    "Authenticated",
    "AuthenticationFailed",
    "ClientConnection",
    "ClientEvent",
    "EncodedBody",
    "FileRange",
    "Frame",
    "FrameBuffer",
    "NotAuthenticated",
    "RequestReceived",
    "ResponseReceived",
    "ServerConnection",
    "ServerEvent",
    "UnsupportedRequest",
    "frame",
]
