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
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from .config import ConfigError

log = logging.getLogger("broker.tls")

#: How much plaintext one SSLObject.read takes at a time.
_READ_CHUNK = 256 * 1024


class NoMatchingRule(Exception):
    """No rule of ssl.principal.mapping.rules matched a client certificate's subject."""


@dataclass(frozen=True, slots=True)
class MappingRule:
    """One entry of `ssl.principal.mapping.rules`: DEFAULT (pattern None), or
    RULE:pattern/replacement/[LU]."""

    pattern: re.Pattern[str] | None
    replacement: str = ""
    case: str = ""

    def apply(self, subject: str) -> str | None:
        if self.pattern is None:
            return subject
        if self.pattern.fullmatch(subject) is None:  # Java's Matcher.matches: the whole subject
            return None
        name = self.pattern.sub(lambda m: _expand(self.replacement, m), subject)
        return name.lower() if self.case == "L" else name.upper() if self.case == "U" else name


def _expand(replacement: str, match: re.Match[str]) -> str:
    """Java's replacement syntax: $n is group n, a backslash takes the next character as it is."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1])
            i += 2
        elif char == "$" and i + 1 < len(replacement) and replacement[i + 1].isdigit():
            j = i + 1
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            out.append(match.group(int(replacement[i + 1:j])) or "")
            i = j
        else:
            out.append(char)
            i += 1
    return "".join(out)


#: One rule of the list, as Kafka's SslPrincipalMapper reads them: slashes inside a pattern or a
#: replacement are escaped with a backslash.
_RULE = re.compile(r"\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:,|$)")


class PrincipalMapper:
    """Client certificate subject -> principal name, by `ssl.principal.mapping.rules` (Kafka's
    syntax; the first rule that matches wins; DEFAULT keeps the whole subject)."""

    def __init__(self, rules: list[MappingRule]) -> None:
        self.rules = rules

    @classmethod
    def parse(cls, text: str) -> PrincipalMapper:
        rules: list[MappingRule] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _RULE.match(text, position)
            if found is None or found.end() == position:
                raise ConfigError(f"ssl.principal.mapping.rules: cannot read {text[position:]!r}; each rule is "
                                  "DEFAULT or RULE:pattern/replacement/ with L or U after it for lower or upper case")
            if found.group(1):
                rules.append(MappingRule(None))
            else:
                try:
                    pattern = re.compile(found.group(2).replace("\\/", "/"))
                except re.error as exc:
                    raise ConfigError(f"ssl.principal.mapping.rules: {found.group(2)!r} is not a pattern: {exc}") \
                        from None
                rules.append(MappingRule(pattern, found.group(3).replace("\\/", "/"), found.group(4)))
            position = found.end()
        return cls(rules or [MappingRule(None)])

    def name_for(self, subject: str) -> str:
        for rule in self.rules:
            name = rule.apply(subject)
            if name is not None:
                return name
        raise NoMatchingRule(f"no rule of ssl.principal.mapping.rules matches {subject!r}")


DEFAULT_MAPPER = PrincipalMapper([MappingRule(None)])


def subject_of(certificate_der: bytes) -> str:
    """A certificate's subject as Java's X500Principal.getName() writes it, which is Kafka's
    default principal: RFC 2253, most specific part first, the characters `,=+<>#;"\\` in values
    and leading or trailing spaces escaped (so a CN of `admin,O=example` can never read as two
    parts), and attribute types without an RFC 2253 keyword as OID=#hex of the value's DER."""
    subject = x509.load_der_x509_certificate(certificate_der).subject
    return ",".join("+".join(_rfc2253(attribute) for attribute in rdn) for rdn in reversed(subject.rdns))


_KEYWORDS = {
    NameOID.COMMON_NAME: "CN", NameOID.COUNTRY_NAME: "C", NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST", NameOID.ORGANIZATION_NAME: "O", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.STREET_ADDRESS: "STREET", NameOID.DOMAIN_COMPONENT: "DC", NameOID.USER_ID: "UID",
}
_ESCAPED = frozenset(',=+<>#;"\\')
#: How each ASN.1 string type's characters are encoded in its DER bytes.
_STRING_ENCODINGS = {12: "utf-8", 30: "utf-16-be", 28: "utf-32-be"}


def _rfc2253(attribute: x509.NameAttribute[Any]) -> str:
    keyword = _KEYWORDS.get(attribute.oid)
    value = attribute.value
    if keyword is None or not isinstance(value, str):
        raw = value if isinstance(value, bytes) else value.encode(_STRING_ENCODINGS.get(attribute._type.value,
                                                                                       "latin-1"))
        return f"{attribute.oid.dotted_string}=#{_der(attribute._type.value, raw).hex()}"
    escaped = ["\\" + char if char in _ESCAPED else char for char in value]
    lead = next((i for i, char in enumerate(escaped) if char not in (" ", "\r")), len(escaped))
    trail = next((i for i in range(len(escaped) - 1, -1, -1) if escaped[i] not in (" ", "\r")), -1)
    return keyword + "=" + "".join("\\" + char if i < lead or i > trail else char for i, char in enumerate(escaped))


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def principal_of(certificate_der: bytes | None, mapper: PrincipalMapper = DEFAULT_MAPPER) -> str | None:
    """`User:` and the mapped subject of a client certificate; None without one. Raises
    NoMatchingRule when the rules have no name for it."""
    if not certificate_der:
        return None
    subject = subject_of(certificate_der)
    if not subject:
        return None
    return "User:" + mapper.name_for(subject)


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
                 make_connection: Callable[[str | None], asyncio.BufferedProtocol],
                 mapper: PrincipalMapper = DEFAULT_MAPPER) -> None:
        self.context = context
        self.mapper = mapper
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
        try:
            principal = principal_of(self.tls.getpeercert(binary_form=True), self.mapper)
        except NoMatchingRule as exc:
            self._refuse(str(exc))
            return
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
