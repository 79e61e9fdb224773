"""One connection to one broker: version negotiation, pipelined requests, timeouts.

The bytes are handled by the sans-IO `ClientConnection`; this class only moves them between it and
the socket. Requests are pipelined: each gets a correlation id and a future, and responses (which
Kafka sends in request order) resolve them. A request that times out breaks the connection, as in
the Java client, because every later response on it would be suspect.

A broker with connections.max.reauth.ms grants a SASL session a lifetime (KIP-368). The connection
then logs in again on the same socket after 85-95% of it, as Kafka's clients do: the cluster asks
for it before handing the connection out (`reauthentication_due`), the answers still in flight come
in first, and no other request goes out until it is done. One whose session has ended is closed.
"""

from __future__ import annotations

import asyncio
import enum
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kctl import __version__
from kctl.protocol._wire import Message
from kctl.protocol.api import API_BY_REQUEST_TYPE, ApiKey, Request, version_range
from kctl.protocol.errors import ErrorCode, ProtocolError
from kctl.protocol.events import NEED_DATA
from kctl.protocol.framing import ClientConnection, ResponseDecoder
from kctl.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse

from .errors import ConnectionFailed, KafkaError, RequestTimedOut, UnsupportedVersion

R = TypeVar("R", bound=Message)  # the response type a request names
T = TypeVar("T")


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    NEGOTIATING = "negotiating"  # ApiVersions
    AUTHENTICATING = "authenticating"  # SASL, when an authenticator is configured
    READY = "ready"
    CLOSED = "closed"


#: From each state, the states a connection may move to.
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    ConnectionState.CONNECTING: frozenset({ConnectionState.NEGOTIATING, ConnectionState.CLOSED}),
    ConnectionState.NEGOTIATING: frozenset(
        {ConnectionState.AUTHENTICATING, ConnectionState.READY, ConnectionState.CLOSED}
    ),
    ConnectionState.AUTHENTICATING: frozenset({ConnectionState.READY, ConnectionState.CLOSED}),
    ConnectionState.READY: frozenset({ConnectionState.AUTHENTICATING, ConnectionState.CLOSED}),  # re-authentication
    ConnectionState.CLOSED: frozenset(),
}


class IllegalConnectionTransition(RuntimeError):
    """A transition the table does not allow: a client bug."""


class Authenticator(Protocol):
    """Runs after version negotiation (SASL handshake and exchange), and again to re-authenticate;
    raise to refuse the connection. Returns the session lifetime the broker granted in ms (0 or
    None: the session does not end)."""

    async def authenticate(self, connection: BrokerConnection) -> int | None: ...


@dataclass(slots=True)
class ConnectionConfig:
    client_id: str = "kctl"
    request_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    ssl_context: ssl.SSLContext | None = None
    authenticator: Authenticator | None = None
    max_frame_size: int = 100 * 1024 * 1024
    #: API key -> highest version to use even when the broker offers more (tests, old brokers).
    version_caps: dict[int, int] = field(default_factory=dict)


class BrokerConnection(asyncio.BufferedProtocol):
    def __init__(self, host: str, port: int, config: ConnectionConfig, node_id: int = -1) -> None:
        self.host, self.port, self.node_id = host, port, node_id
        self.address = f"{host}:{port}"
        self.config = config
        self.state = ConnectionState.CONNECTING
        self.versions: dict[int, int] = {}  # API key -> version to use
        self.broker_versions: dict[int, tuple[int, int]] = {}
        self.requests_sent = 0
        self._conn = ClientConnection(config.client_id, config.max_frame_size)
        self._transport: asyncio.Transport | None = None
        self._pending: dict[int, tuple[asyncio.Future[Any], asyncio.TimerHandle | None, str]] = {}
        self._write_ready: asyncio.Future[None] | None = None
        self._closed_error: KafkaError | None = None
        self.on_close: Callable[[BrokerConnection], None] | None = None
        self.reauthenticate_at: float | None = None  # loop time; None: the session does not end
        self.session_ends_at: float | None = None
        self.reauthentications = 0
        self._reauthenticating: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<BrokerConnection {self.address} node {self.node_id} {self.state.value}>"

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    async def open(cls, host: str, port: int, config: ConnectionConfig, node_id: int = -1) -> BrokerConnection:
        loop = asyncio.get_running_loop()
        connection = cls(host, port, config, node_id)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: connection, host, port, ssl=config.ssl_context,
                                       server_hostname=host if config.ssl_context else None),
                config.connect_timeout_s,
            )
        except TimeoutError:
            raise ConnectionFailed(connection.address, f"no answer within {config.connect_timeout_s:g}s") from None
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else exc.strerror or str(exc)
            raise ConnectionFailed(connection.address, reason) from None
        try:
            connection._move(ConnectionState.NEGOTIATING)
            await connection._negotiate()
            if config.authenticator is not None:
                connection._move(ConnectionState.AUTHENTICATING)
                connection._session(await config.authenticator.authenticate(connection))
            connection._move(ConnectionState.READY)
        except BaseException:
            connection.close()
            raise
        return connection

    def _move(self, target: ConnectionState) -> None:
        if target not in TRANSITIONS[self.state]:
            raise IllegalConnectionTransition(f"{self.address}: {self.state.value} -> {target.value}")
        self.state = target

    async def _negotiate(self) -> None:
        """Ask which versions the broker speaks and keep, per API, the highest both sides speak."""
        request = ApiVersionsRequest(client_software_name="kctl", client_software_version=__version__)
        response: ApiVersionsResponse = await self.request(request, version=3)
        if response.error_code == ErrorCode.UNSUPPORTED_VERSION.code:
            # KIP-511: the broker answered in v0 with its own range; retry within it.
            theirs = next((k for k in response.api_keys if k.api_key == ApiKey.API_VERSIONS), None)
            if theirs is None:
                raise UnsupportedVersion("ApiVersions", self.address)
            response = await self.request(request, version=min(theirs.max_version, 3))
        if response.error_code:
            raise KafkaError.from_code(response.error_code, f"ApiVersions from {self.address}")
        for entry in response.api_keys:
            self.broker_versions[entry.api_key] = (entry.min_version, entry.max_version)
            ours = version_range(entry.api_key)  # no import of the API's module until it is used
            if ours is None:
                continue
            high = min(ours[1], entry.max_version, self.config.version_caps.get(entry.api_key, 1 << 15))
            if high >= max(ours[0], entry.min_version):
                self.versions[entry.api_key] = high

    def supports(self, api_key: int, min_version: int = 0) -> bool:
        return self.versions.get(api_key, -1) >= min_version

    # ---- requests ------------------------------------------------------------------------------
    # ---- re-authentication (KIP-368) --------------------------------------------------------------
    def _session(self, lifetime_ms: int | None) -> None:
        if not lifetime_ms or lifetime_ms <= 0:
            self.reauthenticate_at = self.session_ends_at = None
            return
        now = asyncio.get_running_loop().time()
        self.session_ends_at = now + lifetime_ms / 1000
        import random  # SASL sessions with a lifetime only: not every command pays for it

        self.reauthenticate_at = now + lifetime_ms / 1000 * random.uniform(0.85, 0.95)

    @property
    def reauthentication_due(self) -> bool:
        return self.reauthenticate_at is not None and asyncio.get_running_loop().time() >= self.reauthenticate_at

    @property
    def session_ended(self) -> bool:
        return self.session_ends_at is not None and asyncio.get_running_loop().time() >= self.session_ends_at

    async def reauthenticate(self) -> None:
        """Log in again on this connection (every caller waits for the one attempt); a refusal
        closes it and raises."""
        if self._reauthenticating is None:
            self._reauthenticating = asyncio.ensure_future(self._reauthenticate())
        await asyncio.shield(self._reauthenticating)

    async def _reauthenticate(self) -> None:
        authenticator = self.config.authenticator
        assert authenticator is not None
        try:
            # The broker reads the handshake as the start of a login: what is in flight comes first.
            while self._pending:
                await asyncio.wait([future for future, _, _ in self._pending.values()])
            self._move(ConnectionState.AUTHENTICATING)
            lifetime = await authenticator.authenticate(self)
            self._move(ConnectionState.READY)
            self._session(lifetime)
            self.reauthentications += 1
        except KafkaError as exc:
            self._fail(exc)
            raise
        finally:
            self._reauthenticating = None

    async def request(self, body: Request[R], *, version: int | None = None, timeout: float | None = None) -> R:
        """Send a request and wait for its response (decoded in the version it was sent in)."""
        waiting = self._reauthenticating
        if waiting is not None and asyncio.current_task() is not waiting:  # nothing else goes out meanwhile
            await asyncio.shield(waiting)
        future = self.send(body, version=version, timeout=timeout)
        return await future

    async def request_decoded(self, body: Request[Any], decode: Callable[[bytes | bytearray, int, int], T], *,
                              version: int | None = None, timeout: float | None = None) -> T:
        """Send a request and read its response body with `decode` (frame, body offset, version)
        rather than the generated decoder: for answers too large to become objects."""
        waiting = self._reauthenticating
        if waiting is not None and asyncio.current_task() is not waiting:
            await asyncio.shield(waiting)
        future: asyncio.Future[T] = self.send(body, version=version, timeout=timeout, decode=decode)
        return await future

    def send(self, body: Request[R], *, version: int | None = None, timeout: float | None = None,
             decode: ResponseDecoder | None = None) -> asyncio.Future[R]:
        """Send now; the returned future resolves with the response."""
        if self.state is ConnectionState.CLOSED or self._transport is None:
            raise self._closed_error or ConnectionFailed(self.address, "connection is closed")
        spec = API_BY_REQUEST_TYPE[type(body)]
        if version is None:
            version = self.versions.get(spec.key, -1)
            if version < 0:
                raise UnsupportedVersion(spec.name, self.address)
        loop = asyncio.get_running_loop()
        correlation_id, data = self._conn.send_request(body, version, decode=decode)
        future: asyncio.Future[R] = loop.create_future()
        wait = self.config.request_timeout_s if timeout is None else timeout
        handle = loop.call_later(wait, self._timed_out, correlation_id, wait) if wait > 0 else None
        self._pending[correlation_id] = (future, handle, spec.name)
        self.requests_sent += 1
        self._transport.write(data)
        return future

    def send_without_response(self, body: Any, *, version: int | None = None) -> None:
        """For requests the broker never answers (Produce with acks=0)."""
        spec = API_BY_REQUEST_TYPE[type(body)]
        version = self.versions.get(spec.key, -1) if version is None else version
        if version < 0:
            raise UnsupportedVersion(spec.name, self.address)
        if self.state is ConnectionState.CLOSED or self._transport is None:
            raise self._closed_error or ConnectionFailed(self.address, "connection is closed")
        _, data = self._conn.send_request(body, version, expect_response=False)
        self.requests_sent += 1
        self._transport.write(data)

    async def wait_writable(self) -> None:
        """Wait while the socket's send buffer is full (the broker is not reading)."""
        if self._write_ready is not None:
            await asyncio.shield(self._write_ready)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def _timed_out(self, correlation_id: int, seconds: float) -> None:
        pending = self._pending.get(correlation_id)
        if pending is None:
            return
        self._fail(RequestTimedOut(pending[2], self.address, seconds))

    # ---- asyncio callbacks ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._conn.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._conn.buffer_updated(nbytes)
        conn, pending = self._conn, self._pending
        while True:
            try:
                event = conn.next_event()
            except ProtocolError as exc:
                self._fail(ConnectionFailed(self.address, f"malformed response: {exc}"))
                return
            if event is NEED_DATA:
                return
            entry = pending.pop(event.correlation_id, None)
            if entry is None:
                continue
            future, handle, _ = entry
            if handle is not None:
                handle.cancel()
            if not future.done():
                future.set_result(event.body)

    def pause_writing(self) -> None:
        if self._write_ready is None:
            self._write_ready = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        ready, self._write_ready = self._write_ready, None
        if ready is not None and not ready.done():
            ready.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc) if exc else "closed by the broker"
        self._fail(self._closed_error or ConnectionFailed(self.address, reason))

    # ---- closing --------------------------------------------------------------------------------
    def _fail(self, error: KafkaError) -> None:
        """Close, failing every request still waiting."""
        if self._closed_error is None:
            self._closed_error = error
        if self.state is not ConnectionState.CLOSED:
            self._move(ConnectionState.CLOSED)
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        pending, self._pending = self._pending, {}
        for future, handle, _ in pending.values():
            if handle is not None:
                handle.cancel()
            if not future.done():
                future.set_exception(error)
                future.exception()  # nobody may be waiting any more; do not warn about it
        self.resume_writing()
        if self.on_close is not None:
            callback, self.on_close = self.on_close, None
            callback(self)

    def close(self) -> None:
        if self.state is not ConnectionState.CLOSED:
            self._fail(ConnectionFailed(self.address, "connection closed by the client"))

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED
