"""The socket side: one asyncio Protocol per connection over the sans-IO ServerConnection.

Requests are decoded as they arrive and handled at once; handlers that must wait (a long-polled
fetch, an ack that waits for fsync) finish later, but responses still leave in request order, as
Kafka clients require. acks=0 produces get no response at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections import deque
from typing import TYPE_CHECKING, Any

from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.framing import NEED_DATA, FileRange, RequestReceived, ServerConnection, UnsupportedRequest
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
        self._sendfile_fd: int | None = None
        # The response being written, in pieces: bytes, and [FileRange, bytes of it sent].
        self._sending: deque[bytes | list[Any]] = deque()
        # While a file range waits for a full socket: a duplicate of the socket's descriptor,
        # watched for room (the event loop lets only the transport watch the transport's own).
        self._watch_fd: int | None = None
        self.sasl_exchange: Any = None

    # ---- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        # Where fetched records go straight from the segment files: a plain socket (TLS would
        # need the bytes in user space to encrypt them).
        if sock is not None and not transport.get_extra_info("sslcontext"):
            self._sendfile_fd = sock.fileno()
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.peer_host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.broker.connections.add(self)
        log.debug("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._sending.clear()
        self._stop_watching()
        self._sendfile_fd = None
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
        if not self.queue and self.transport is not None and not self.closed:
            self._write(data)
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
        queue = self.queue
        while queue and queue[0].data is not None and self.transport is not None and not self.closed:
            if self._sending:
                break  # a file range is waiting for the socket: later answers wait behind it
            self._write(queue.popleft().data)  # type: ignore[arg-type]
        self._update_reading()

    def _write(self, data: bytes) -> None:
        """One response onto the wire. File ranges in it (fetched records) go from the segment
        file to the socket by sendfile, as Kafka's FileRecords.transferTo does, waiting for the
        socket when it is full; without sendfile (TLS) they are read and written as bytes."""
        assert self.transport is not None
        ranges: list[tuple[int, FileRange]] = getattr(data, "ranges", None) or []
        if not ranges and not self._sending:
            self.transport.write(data)
            return
        view = memoryview(data)
        start = 0
        for at, file_range in ranges:
            if at > start:
                self._sending.append(bytes(view[start:at]))
            self._sending.append([file_range, 0])
            start = at
        if start < len(view):
            self._sending.append(bytes(view[start:]))
        self._pump()

    def _pump(self) -> None:
        """Write pieces of the current response until done or the socket is full."""
        transport = self.transport
        while self._sending and transport is not None and not self.closed:
            piece = self._sending[0]
            if isinstance(piece, bytes):
                transport.write(piece)
                self._sending.popleft()
                continue
            if not self._send_range(piece):
                if not self.closed and self._watch_fd is None and self._sendfile_fd is not None:
                    self._watch_fd = os.dup(self._sendfile_fd)
                    asyncio.get_running_loop().add_writer(self._watch_fd, self._resume_sending)
                return
            self._sending.popleft()
        self._stop_watching()

    def _stop_watching(self) -> None:
        if self._watch_fd is not None:
            asyncio.get_running_loop().remove_writer(self._watch_fd)
            os.close(self._watch_fd)
            self._watch_fd = None

    def _resume_sending(self) -> None:
        self._pump()
        if not self._sending:
            self._drain()

    def _send_range(self, piece: list[Any]) -> bool:
        """Send what is left of a file range; False while the socket (or what the transport
        still holds, which must go first) is full."""
        assert self.transport is not None
        file_range: FileRange = piece[0]
        segment, generation = file_range.source
        if segment.closed or segment.generation != generation:
            # Retention deleted the segment, or compaction rewrote it, while this answer waited
            # its turn: the bytes it promised are gone, so the stream cannot go on. The client
            # reconnects and fetches again.
            log.info("closing connection from %s: a fetched segment went away before it was sent", self.peer)
            self.abort()
            return True
        fd = segment.fd
        if self._sendfile_fd is None:
            data = os.pread(fd, file_range.size, file_range.position)
            if len(data) != file_range.size:
                log.error("closing connection from %s: a segment file was shorter than its fetch", self.peer)
                self.abort()
                return True
            self.transport.write(data)
            self.broker.fetch_bytes_sent[1] += len(data)
            return True
        if self.transport.get_write_buffer_size():
            return False  # bytes written before this range are still on their way
        sent: int = piece[1]
        try:
            while sent < file_range.size:
                n = os.sendfile(self._sendfile_fd, fd, file_range.position + sent, file_range.size - sent)
                if n == 0:  # the file ends before the range: the frame's length cannot be kept
                    log.error("closing connection from %s: a segment file was shorter than its fetch", self.peer)
                    self.abort()
                    return True
                sent += n
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            log.info("closing connection from %s: %s", self.peer, exc)
            self.abort()
            return True
        finally:
            self.broker.fetch_bytes_sent[0] += sent - piece[1]
            piece[1] = sent
        return sent >= file_range.size

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

