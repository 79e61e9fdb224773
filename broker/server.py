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
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from kctl.protocol.api import ApiKey
from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.events import NEED_DATA, Authenticated, AuthenticationFailed, RequestReceived, UnsupportedRequest
from kctl.protocol.framing import AnswerPlace, FileRange, NotAuthenticated, ServerConnection
from kctl.protocol.headers import RequestHeader
from kctl.protocol.sasl import ServerAuthentication

from .config import ConfigError
from .context import Peer
from .handlers import ROUTES, CloseConnection, advertised_versions, error_response
from .quotas import FETCH, PRODUCE

if TYPE_CHECKING:
    from .config import BrokerConfig
    from .context import ServingContext
    from .listeners import Listener

log = logging.getLogger("broker.server")

#: Requests a connection may have in flight before we stop reading from it, and their bytes:
#: produce requests that wait for an fsync would otherwise pile up in memory as fast as a client
#: sends them (Kafka reads one request per connection at a time).
MAX_IN_FLIGHT = 200
MAX_IN_FLIGHT_BYTES = 16 << 20


class ConnectionLimits:
    """`max.connections` and `max.connections.per.ip` (with `max.connections.per.ip.overrides`):
    a connection past either limit is closed as soon as it is accepted, as Kafka does for the
    per-address one."""

    def __init__(self, total: int, per_address: int, overrides: dict[str, int]) -> None:
        self.total = total
        self.per_address = per_address
        self.overrides = overrides
        self.by_address: Counter[str] = Counter()

    @classmethod
    def from_config(cls, config: BrokerConfig) -> ConnectionLimits:
        overrides: dict[str, int] = {}
        for entry in (config["max.connections.per.ip.overrides"] or "").split(","):
            if entry.strip():
                host, _, count = entry.strip().rpartition(":")
                if not host or not count.isdigit():
                    raise ConfigError(f"max.connections.per.ip.overrides: {entry.strip()!r} is not HOST:COUNT")
                overrides[host] = int(count)
        return cls(config["max.connections"], config["max.connections.per.ip"], overrides)

    def admit(self, address: str, open_now: int) -> str | None:
        """Count a new connection from `address` in, or say why it is refused."""
        if open_now >= self.total:
            return f"max.connections ({self.total}) reached"
        limit = self.overrides.get(address, self.per_address)
        if self.by_address[address] >= limit:
            return f"max.connections.per.ip ({limit}) reached for {address}"
        self.by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


class KafkaConnection(asyncio.BufferedProtocol):
    """One client connection on a listener: SASL first where the listener takes it; `principal`
    is the TLS client certificate's, if the listener asked for one."""

    def __init__(self, broker: ServingContext, listener: Listener, principal: str | None = None) -> None:
        self.broker = broker
        self.listener = listener
        self.principal = principal
        mechanisms = broker.sasl.mechanisms if listener.sasl else []
        self.conn = ServerConnection(broker.config["socket.request.max.bytes"],
                                     ServerAuthentication(mechanisms, broker.sasl.server_for,
                                                          max_reauth_ms=broker.config["connections.max.reauth.ms"]))
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.peer_host = "?"
        self.who = Peer("?", listener.name, principal)
        self.tasks: set[asyncio.Task[Any]] = set()
        self._read_paused = False
        self._write_paused = False
        self._throttle_timer: asyncio.TimerHandle | None = None  # while a quota keeps this connection unread
        self.closed = False
        self._sendfile_fd: int | None = None
        # The response being written, in pieces: bytes, and [FileRange, bytes of it sent].
        self._sending: deque[bytes | list[Any]] = deque()
        # While a file range waits for a full socket: a duplicate of the socket's descriptor,
        # watched for room (the event loop lets only the transport watch the transport's own).
        self._watch_fd: int | None = None
        self._counted = False  # in the broker's connections and the per-address counts
        self._held = False  # requests are waiting in the buffer until this connection is unblocked
        self._close_timer: asyncio.TimerHandle | None = None  # closing after a failed login
        self.last_active = 0.0  # loop time of the last bytes in or out, for connections.max.idle.ms

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
        self.who = Peer(self.peer_host, self.listener.name, self.principal)
        self.last_active = asyncio.get_running_loop().time()
        refusal = self.broker.connection_limits.admit(self.peer_host, len(self.broker.connections))
        if refusal is not None:
            log.info("closing connection from %s: %s", self.peer, refusal)
            self.abort()
            return
        self.broker.connections.add(self)
        self._counted = True
        log.debug("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._counted:
            self._counted = False
            self.broker.connection_limits.release(self.peer_host)
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._throttle_timer is not None:
            self._throttle_timer.cancel()
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
        self.last_active = asyncio.get_running_loop().time()
        self._update_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.conn.buffer_updated(nbytes)
        self.last_active = asyncio.get_running_loop().time()
        self._process()

    def _blocked(self) -> bool:
        """Whether to take no more requests from this connection for now, as Kafka mutes one: its
        answers are not being read, too many are outstanding, a quota holds it back, or it is
        about to be closed after a failed login."""
        conn = self.conn
        return (self._write_paused or conn.unanswered >= MAX_IN_FLIGHT or conn.unanswered_bytes >= MAX_IN_FLIGHT_BYTES
                or self._throttle_timer is not None or self._close_timer is not None)

    def _process(self) -> None:
        conn = self.conn
        self._held = False
        while not self.closed:
            if self._blocked():
                # The requests already read wait in the buffer; none is handled, so none is
                # answered, until the block lifts (`_update_reading` picks them up again).
                self._held = True
                break
            try:
                event = conn.next_event(now_ms())
            except NotAuthenticated as exc:
                log.warning("closing connection from %s: %s", self.peer, exc)
                self.abort()
                return
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
            elif isinstance(event, Authenticated):
                log.info("%s authenticated as %r with %s", self.peer, event.user, event.mechanism)
                self.principal = f"User:{event.user}"
                self.who = Peer(self.peer_host, self.listener.name, self.principal)
            elif isinstance(event, AuthenticationFailed):
                # As Kafka: the error answer goes out, then the connection closes after a delay
                # (connection.failed.authentication.delay.ms), so guessing costs a reconnect each.
                log.info("SASL %s from %s failed: %s; closing the connection", event.mechanism, self.peer,
                         event.reason)
                delay = self.broker.config["connection.failed.authentication.delay.ms"] / 1000
                self._close_timer = asyncio.get_running_loop().call_later(delay, self.abort)
        self._drain()

    # ---- requests ----------------------------------------------------------------------------
    def _handle(self, header: RequestHeader, request: Any) -> None:
        """A request the connection let through (SASL is its own business): route it, and give
        its answer a place in line."""
        key, version = header.api_key, header.api_version
        known = ROUTES.get(key)  # type: ignore[call-overload]  # an IntEnum key is found by its int
        route = known if known is not None and known.serves(version) and known.handler is not None else None
        if route is None:
            response = error_response(header, request, ErrorCode.UNSUPPORTED_VERSION.code)
            if response is None:
                log.warning("closing connection from %s: %s v%d is not supported", self.peer,
                            type(request).__name__, version)
                self.abort()
                return
            log.info("answering %s v%d from %s with UNSUPPORTED_VERSION", type(request).__name__, version, self.peer)
            self.conn.answer_now(header, response)
            return
        handler = route.handler
        assert handler is not None
        metrics = self.broker.metrics
        started = time.perf_counter() if metrics is not None else 0.0
        try:
            result = handler(self.broker, header, request, self.who)
        except CloseConnection as exc:
            log.info("closing connection from %s: %s", self.peer, exc)
            self.abort()
            return
        except Exception:
            log.exception("%s v%d from %s failed", type(request).__name__, version, self.peer)
            if metrics is not None:
                metrics.failed(key, version, started)
            response = error_response(header, request, ErrorCode.UNKNOWN_SERVER_ERROR.code)
            if response is None:
                self.abort()
            else:
                self.conn.answer_now(header, response)
            return
        if result is None:
            self._throttle(header, request, None)  # acks=0 still counts against the quota
            return  # acks=0: no answer, no place in line
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._finish(header, request, self.conn.reserve(), result, started))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            if metrics is not None:
                metrics.answered(key, version, result, started)
            self._throttle(header, request, result)
            self.conn.answer_now(header, result)

    async def _finish(self, header: RequestHeader, request: Any, place: AnswerPlace, pending: Any,
                      started: float) -> None:
        metrics = self.broker.metrics
        try:
            response = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s from %s failed", type(request).__name__, self.peer)
            if metrics is not None:
                metrics.failed(header.api_key, header.api_version, started)
            response = error_response(header, request, ErrorCode.UNKNOWN_SERVER_ERROR.code)
            if response is None:
                self.abort()
                return
        else:
            if metrics is not None:
                metrics.answered(header.api_key, header.api_version, response, started)
            self._throttle(header, request, response)
        self.conn.answer(place, header, response)
        self._drain()

    def _throttle(self, header: RequestHeader, request: Any, response: Any) -> None:
        """Count produced or fetched bytes against the client's quota; over it, the answer says
        how long to back off and this connection is not read for that long (as Kafka mutes it)."""
        quotas = self.broker.quotas
        if not quotas.quotas or header.api_key not in (ApiKey.PRODUCE, ApiKey.FETCH):
            return
        if header.api_key == ApiKey.PRODUCE:
            key, size = PRODUCE, sum(len(p.records or b"") for t in request.topic_data for p in t.partition_data)
        else:
            key = FETCH
            size = sum(len(p.records) for t in response.responses for p in t.partitions if p.records is not None)
        throttle_ms = quotas.record(key, self.who.user, header.client_id or "", size)
        if throttle_ms <= 0:
            return
        if key == FETCH:  # over the quota: answered empty, as Kafka does, the data fetched again later
            for topic in response.responses:
                for part in topic.partitions:
                    if part.records:
                        part.records = b""
        if response is not None:
            response.throttle_time_ms = max(response.throttle_time_ms, throttle_ms)
        loop = asyncio.get_running_loop()
        until = loop.time() + throttle_ms / 1000
        if self._throttle_timer is None or until > self._throttle_timer.when():
            if self._throttle_timer is not None:
                self._throttle_timer.cancel()
            self._throttle_timer = loop.call_at(until, self._unthrottle)
        self._update_reading()

    def _unthrottle(self) -> None:
        self._throttle_timer = None
        self._update_reading()

    def _unsupported(self, header: RequestHeader) -> None:
        if header.api_key == ApiKey.API_VERSIONS:
            self.conn.answer_api_versions_fallback(header, advertised_versions())
            return
        log.warning("closing connection from %s: API key %d v%d is not supported", self.peer,
                    header.api_key, header.api_version)
        self.abort()

    def _drain(self) -> None:
        """Write the answers that are ready, in request order."""
        # While a file range waits for the socket, later answers wait behind it.
        while not self._sending and self.transport is not None and not self.closed:
            data = self.conn.next_answer()
            if data is None:
                break
            self._write(data)
            self.last_active = asyncio.get_running_loop().time()
        self._update_reading()

    def idle_since(self) -> float | None:
        """When this connection last moved bytes, if nothing is outstanding on it now."""
        if self.conn.unanswered or self.tasks or self._sending or self.conn.buffered:
            return None
        return self.last_active

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
        should_pause = self._blocked()
        if should_pause and not self._read_paused:
            transport.pause_reading()
            self._read_paused = True
        elif not should_pause and self._read_paused:
            transport.resume_reading()
            self._read_paused = False
        if not should_pause and self._held:
            self._held = False
            asyncio.get_running_loop().call_soon(self._process)  # not from within _drain: no recursion

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

