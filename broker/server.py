"""The socket side: one asyncio Protocol per connection over the sans-IO ServerConnection.

Requests are decoded as they arrive and handled at once; handlers that must wait (a long-polled
fetch, an ack that waits for fsync) finish later, but responses still leave in request order, as
Kafka clients require. acks=0 produces get no response at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.framing import NEED_DATA, RequestReceived, ServerConnection, UnsupportedRequest
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest, SaslAuthenticateResponse
from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest, SaslHandshakeResponse
from kctl.protocol.sasl import SaslError

from .handlers import HANDLERS, CloseConnection, error_response, serves
from .handlers.versions import advertised_versions

if TYPE_CHECKING:
    from .app import Broker

log = logging.getLogger("broker.server")

API_VERSIONS = 18
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
#: Requests a connection may have in flight before we stop reading from it.
MAX_IN_FLIGHT = 200


class _Slot:
    """A response place in the per-connection queue; `data` stays None until it is ready."""

    __slots__ = ("close_after", "data")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.close_after = False


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.conn = ServerConnection(broker.config["socket.request.max.bytes"])
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.peer_host = "?"
        self.queue: deque[_Slot] = deque()
        self.tasks: set[asyncio.Task[Any]] = set()
        self._read_paused = False
        self._write_paused = False
        self.closed = False
        self.authenticated = not broker.sasl.required
        self.sasl_exchange: Any = None

    # ---- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.peer_host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.broker.connections.add(self)
        log.debug("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.broker.connections.discard(self)
        for task in self.tasks:
            task.cancel()
        log.debug("connection from %s closed", self.peer)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.conn.buffer_updated(nbytes)
        self._process()

    def _process(self) -> None:
        conn = self.conn
        while not self.closed:
            try:
                event = conn.next_event()
            except ProtocolError as exc:
                log.warning("closing connection from %s: malformed request: %s", self.peer, exc)
                self.abort()
                return
            if event is NEED_DATA:
                break
            if isinstance(event, RequestReceived):
                self._handle(event.header, event.body)
            elif isinstance(event, UnsupportedRequest):
                self._unsupported(event.header)
        self._update_reading()

    # ---- requests ----------------------------------------------------------------------------
    def _handle(self, header: RequestHeader, request: Any) -> None:
        key, version = header.api_key, header.api_version
        if key == SASL_HANDSHAKE and serves(key, version):
            self._enqueue_ready(header, self._sasl_handshake(request))
            return
        if key == SASL_AUTHENTICATE and serves(key, version):
            self._enqueue_ready(header, self._sasl_authenticate(request))
            return
        if not self.authenticated and key not in (API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE):
            log.warning("closing connection from %s: %s before SASL authentication", self.peer,
                        type(request).__name__)
            self.abort()
            return
        if not serves(key, version):
            response = error_response(header, request, ErrorCode.UNSUPPORTED_VERSION.code)
            if response is None:
                log.warning("closing connection from %s: %s v%d is not supported", self.peer,
                            type(request).__name__, version)
                self.abort()
                return
            log.info("answering %s v%d from %s with UNSUPPORTED_VERSION", type(request).__name__, version, self.peer)
            self._enqueue_ready(header, response)
            return
        try:
            result = HANDLERS[key](self.broker, header, request, self.peer_host)
        except CloseConnection as exc:
            log.info("closing connection from %s: %s", self.peer, exc)
            self.abort()
            return
        except Exception:
            log.exception("%s v%d from %s failed", type(request).__name__, version, self.peer)
            response = error_response(header, request, ErrorCode.UNKNOWN_SERVER_ERROR.code)
            if response is None:
                self.abort()
            else:
                self._enqueue_ready(header, response)
            return
        if result is None:
            return  # acks=0
        if inspect.isawaitable(result):
            slot = _Slot()
            self.queue.append(slot)
            task = asyncio.ensure_future(self._finish(header, request, slot, result))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            self._enqueue_ready(header, result)

    # ---- SASL ----------------------------------------------------------------------------------
    def _sasl_handshake(self, request: SaslHandshakeRequest) -> SaslHandshakeResponse:
        offered = self.broker.sasl.mechanisms
        if self.authenticated:
            return SaslHandshakeResponse(ErrorCode.ILLEGAL_SASL_STATE.code, offered)
        if request.mechanism not in offered:
            log.info("SASL %s from %s refused: this listener takes %s", request.mechanism, self.peer,
                     ", ".join(offered) or "none")
            return SaslHandshakeResponse(ErrorCode.UNSUPPORTED_SASL_MECHANISM.code, offered)
        self.sasl_exchange = (request.mechanism, self.broker.sasl.server_for(request.mechanism))
        return SaslHandshakeResponse(0, offered)

    def _sasl_authenticate(self, request: SaslAuthenticateRequest) -> SaslAuthenticateResponse:
        if self.sasl_exchange is None:
            return SaslAuthenticateResponse(ErrorCode.ILLEGAL_SASL_STATE.code, "send SaslHandshake first")
        mechanism, exchange = self.sasl_exchange
        try:
            token = exchange.respond(request.auth_bytes)
        except SaslError as exc:
            self.sasl_exchange = None  # a failed exchange is over: anything but a new handshake closes
            log.warning("SASL %s from %s failed: %s", mechanism, self.peer, exc)
            return SaslAuthenticateResponse(ErrorCode.SASL_AUTHENTICATION_FAILED.code, str(exc))
        if exchange.done:
            self.authenticated = True
            self.sasl_exchange = None
            log.info("%s authenticated as %r with %s", self.peer, exchange.user, mechanism)
        return SaslAuthenticateResponse(0, None, token, 0)

    async def _finish(self, header: RequestHeader, request: Any, slot: _Slot, pending: Any) -> None:
        try:
            response = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s from %s failed", type(request).__name__, self.peer)
            response = error_response(header, request, ErrorCode.UNKNOWN_SERVER_ERROR.code)
            if response is None:
                self.abort()
                return
        slot.data = self.conn.send_response(header, response)
        self._drain()

    def _enqueue_ready(self, header: RequestHeader, response: Any) -> None:
        data = self.conn.send_response(header, response)
        if not self.queue and self.transport is not None:
            self.transport.write(data)
            return
        slot = _Slot()
        slot.data = data
        self.queue.append(slot)
        self._drain()

    def _unsupported(self, header: RequestHeader) -> None:
        if header.api_key == API_VERSIONS:
            slot = _Slot()
            slot.data = self.conn.send_api_versions_fallback(header, advertised_versions())
            self.queue.append(slot)
            self._drain()
            return
        log.warning("closing connection from %s: API key %d v%d is not supported", self.peer,
                    header.api_key, header.api_version)
        self.abort()

    def _drain(self) -> None:
        queue, transport = self.queue, self.transport
        while queue and queue[0].data is not None and transport is not None and not self.closed:
            transport.write(queue.popleft().data)  # type: ignore[arg-type]
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        should_pause = self._write_paused or len(self.queue) >= MAX_IN_FLIGHT
        if should_pause and not self._read_paused:
            transport.pause_reading()
            self._read_paused = True
        elif not should_pause and self._read_paused:
            transport.resume_reading()
            self._read_paused = False

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

