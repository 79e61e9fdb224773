"""TLS on a listener, done by the broker itself over memory BIOs rather than by the event loop.

The loop's own TLS (asyncio's and uvloop's) drops a failed or stalled handshake without a word.
Here the broker sees each handshake through: a plaintext client on a TLS port, a client that does
not trust our certificate, a client certificate that does not verify or has expired, or a
handshake that stalls past `ssl.handshake.timeout.ms` each close that connection with one log
line, and nothing else waits on it. After the handshake, a `TlsTransport` gives the Kafka
connection what it expects of a transport; fetched records are then read and written as bytes (TLS
needs them in user space to encrypt them), where plaintext listeners send them by sendfile.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

log = logging.getLogger("broker.tls")

#: How much plaintext one SSLObject.read takes at a time.
_READ_CHUNK = 256 * 1024


def principal_of(certificate: dict[str, Any] | None) -> str | None:
    """Kafka's default principal for a client certificate: `User:` and its subject in RFC 2253
    form, most specific part first (`User:CN=alice,OU=ops,O=example`)."""
    if not certificate or not certificate.get("subject"):
        return None
    parts = []
    names = {"commonName": "CN", "organizationalUnitName": "OU", "organizationName": "O", "countryName": "C",
             "localityName": "L", "stateOrProvinceName": "ST", "domainComponent": "DC", "userId": "UID",
             "emailAddress": "EMAILADDRESS"}
    for rdn in reversed(certificate["subject"]):
        parts.append("+".join(f"{names.get(key, key)}={value}" for key, value in rdn))
    return "User:" + ",".join(parts)


class TlsTransport(asyncio.Transport):
    """The decrypted side of a TLS connection, as a transport for the Kafka connection."""

    def __init__(self, raw: asyncio.Transport, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO,
                 context: ssl.SSLContext) -> None:
        super().__init__()
        self._raw = raw
        self._tls = tls
        self._outgoing = outgoing
        self._context = context

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._raw.is_closing():
            return
        self._tls.write(data)
        self._raw.write(self._outgoing.read())

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sslcontext":
            return self._context
        if name == "ssl_object":
            return self._tls
        if name == "peercert":
            return self._tls.getpeercert()
        if name == "socket":
            return None  # no sendfile under TLS: the bytes must be encrypted on the way
        return self._raw.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_reading(self) -> bool:
        return self._raw.is_reading()

    def is_closing(self) -> bool:
        return self._raw.is_closing()

    def close(self) -> None:
        self._raw.close()

    def abort(self) -> None:
        self._raw.abort()


class TlsAcceptor(asyncio.Protocol):
    """One connection on a TLS listener: the handshake, then ciphertext in and out for the
    Kafka connection `make_connection` builds once it is done (told the client's principal)."""

    def __init__(self, context: ssl.SSLContext, listener: str, timeout_s: float,
                 make_connection: Callable[[str | None], asyncio.BufferedProtocol]) -> None:
        self.context = context
        self.listener = listener
        self.timeout_s = timeout_s
        self.make_connection = make_connection
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.raw: asyncio.Transport | None = None
        self.app: asyncio.BufferedProtocol | None = None
        self.peer = "?"
        self._timer: asyncio.TimerHandle | None = None

    # ---- the raw socket ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._timer = asyncio.get_running_loop().call_later(self.timeout_s, self._stalled)

    def data_received(self, data: bytes) -> None:
        self.incoming.write(data)
        if self.app is None:
            self._handshake()
        if self.app is not None:
            self._decrypt()

    def eof_received(self) -> bool:
        return False  # close: TLS has its own end of stream (close_notify)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self.app is not None:
            self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.app is not None:
            self.app.pause_writing()

    def resume_writing(self) -> None:
        if self.app is not None:
            self.app.resume_writing()

    # ---- the handshake -----------------------------------------------------------------------
    def _handshake(self) -> None:
        assert self.raw is not None
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._flush()  # the alert, so the client hears why
            self._refuse(_reason(exc))
            return
        self._flush()
        self._cancel_timer()
        principal = principal_of(self.tls.getpeercert())
        log.debug("TLS from %s on %s: %s%s", self.peer, self.listener, self.tls.version(),
                  f" as {principal}" if principal else "")
        self.app = self.make_connection(principal)
        self.app.connection_made(TlsTransport(self.raw, self.tls, self.outgoing, self.context))

    def _stalled(self) -> None:
        self._timer = None
        if self.app is None:
            self._refuse(f"no TLS handshake within {self.timeout_s:g}s")

    def _refuse(self, reason: str) -> None:
        log.warning("closing connection from %s on %s: %s", self.peer, self.listener, reason)
        self._cancel_timer()
        if self.raw is not None:
            self.raw.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self) -> None:
        pending = self.outgoing.read()
        if pending and self.raw is not None and not self.raw.is_closing():
            self.raw.write(pending)

    # ---- after it ------------------------------------------------------------------------------
    def _decrypt(self) -> None:
        app = self.app
        assert app is not None
        while self.raw is not None and not self.raw.is_closing():
            try:
                plain = self.tls.read(_READ_CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # the client's close_notify
                self.raw.close()
                break
            except ssl.SSLError as exc:
                self._refuse(_reason(exc, "TLS error"))
                break
            if not plain:
                break
            view = memoryview(plain)
            while view:
                buffer = memoryview(app.get_buffer(len(view)))
                n = min(len(buffer), len(view))
                buffer[:n] = view[:n]
                view = view[n:]
                app.buffer_updated(n)
        self._flush()  # a key update or alert TLS wrote while reading


def _reason(exc: ssl.SSLError, during: str = "TLS handshake failed") -> str:
    text = str(exc.reason or exc.strerror or exc).replace("_", " ").lower()
    detail = getattr(exc, "verify_message", None)  # e.g. "certificate has expired"
    return f"{during}: {text}" + (f" ({detail})" if detail else "")
