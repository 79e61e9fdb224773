"""SASL mechanisms as sans-IO exchanges of tokens: PLAIN (RFC 4616), SCRAM-SHA-256/512
(RFC 5802, RFC 7677) and OAUTHBEARER (RFC 7628, as Kafka's KIP-255 and KIP-342 carry it). The
client connection and the broker carry the tokens in SaslAuthenticate requests; these classes only
turn tokens into tokens.

A client exchange: `first()` gives the first token; each server token goes to `next()`, which
returns the next token to send, or None when the exchange is complete (and verified). A server
exchange: each client token goes to `respond()`, which returns the token to send back;
`done` and `user` tell when and who. Bad input raises `SaslError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from .events import Authenticated, AuthenticationFailed

if TYPE_CHECKING:
    from .messages.sasl_authenticate import SaslAuthenticateRequest, SaslAuthenticateResponse
    from .messages.sasl_handshake import SaslHandshakeRequest, SaslHandshakeResponse

#: What kctl's client speaks (GSSAPI through the system's Kerberos: `kctl.client.kerberos`).
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
#: The mechanisms that carry a username and password.
PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
SCRAM_ITERATIONS = 4096
_GS2_HEADER = "n,,"


class SaslError(Exception):
    """The exchange failed: bad credentials, a malformed token, or a server that cannot prove itself."""


# ---- PLAIN --------------------------------------------------------------------------------------------
class PlainClient:
    def __init__(self, username: str, password: str) -> None:
        self._token = f"\0{username}\0{password}".encode()

    def first(self) -> bytes:
        return self._token

    def next(self, server_token: bytes) -> bytes | None:
        return None


class PlainServer:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.done = False
        self.user: str | None = None

    def respond(self, token: bytes) -> bytes:
        try:
            _authzid, user, password = token.decode().split("\0")
        except ValueError:
            raise SaslError("malformed PLAIN token") from None
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise SaslError(f"authentication failed for user {user!r}")
        self.done, self.user = True, user
        return b""


# ---- SCRAM --------------------------------------------------------------------------------------------
def _hmac(key: bytes, message: bytes, algorithm: str) -> bytes:
    return hmac.new(key, message, algorithm).digest()


def _attributes(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise SaslError(f"malformed SCRAM message {message!r}")
        out.setdefault(key, value)
    return out


def _saslname(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def _unsaslname(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


@dataclass(frozen=True, slots=True)
class ScramCredential:
    """What a server keeps of a password (never the password): salt, iterations and two keys."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def derive(cls, mechanism: str, password: str, *, salt: bytes | None = None,
               iterations: int = SCRAM_ITERATIONS) -> ScramCredential:
        salt = salt if salt is not None else secrets.token_bytes(16)
        return cls.from_salted_password(mechanism, salted_password(mechanism, password, salt, iterations), salt,
                                        iterations)

    @classmethod
    def from_salted_password(cls, mechanism: str, salted: bytes, salt: bytes, iterations: int) -> ScramCredential:
        """From SaltedPassword (what AlterUserScramCredentials carries) to what the server keeps."""
        algorithm = _HASHES[mechanism]
        client_key = _hmac(salted, b"Client Key", algorithm)
        return cls(salt, iterations, hashlib.new(algorithm, client_key).digest(),
                   _hmac(salted, b"Server Key", algorithm))


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    """SCRAM's SaltedPassword: Hi(password, salt, iterations), PBKDF2 with the mechanism's hash."""
    return hashlib.pbkdf2_hmac(_HASHES[mechanism], password.encode(), salt, iterations)


class ScramClient:
    def __init__(self, mechanism: str, username: str, password: str, *, nonce: str | None = None) -> None:
        if mechanism not in _HASHES:
            raise SaslError(f"unknown SCRAM mechanism {mechanism!r}")
        self.algorithm = _HASHES[mechanism]
        self.password = password
        self.nonce = nonce or secrets.token_urlsafe(24)
        self.client_first_bare = f"n={_saslname(username)},r={self.nonce}"
        self._server_signature: bytes | None = None

    def first(self) -> bytes:
        return (_GS2_HEADER + self.client_first_bare).encode()

    def next(self, server_token: bytes) -> bytes | None:
        message = server_token.decode(errors="replace")
        if self._server_signature is None:
            return self._final(message)
        attrs = _attributes(message)
        if "e" in attrs:
            raise SaslError(f"the broker refused: {attrs['e']}")
        if not hmac.compare_digest(base64.b64decode(attrs.get("v", "")), self._server_signature):
            raise SaslError("the broker could not prove it knows the password (server signature mismatch)")
        return None

    def _final(self, server_first: str) -> bytes:
        attrs = _attributes(server_first)
        if "e" in attrs:
            raise SaslError(f"the broker refused: {attrs['e']}")
        nonce, salt, iterations = attrs.get("r", ""), attrs.get("s"), attrs.get("i", "")
        if not nonce.startswith(self.nonce) or salt is None or not iterations.isdigit():
            raise SaslError("malformed SCRAM server-first message")
        salted = hashlib.pbkdf2_hmac(self.algorithm, self.password.encode(), base64.b64decode(salt), int(iterations))
        client_key = _hmac(salted, b"Client Key", self.algorithm)
        stored_key = hashlib.new(self.algorithm, client_key).digest()
        without_proof = f"c={base64.b64encode(_GS2_HEADER.encode()).decode()},r={nonce}"
        auth_message = f"{self.client_first_bare},{server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message, self.algorithm)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = _hmac(salted, b"Server Key", self.algorithm)
        self._server_signature = _hmac(server_key, auth_message, self.algorithm)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


class ScramServer:
    def __init__(self, mechanism: str, credentials: dict[str, ScramCredential], *, nonce: str | None = None) -> None:
        self.algorithm = _HASHES[mechanism]
        self.credentials = credentials
        self.nonce = nonce or secrets.token_urlsafe(24)
        self.done = False
        self.user: str | None = None
        self._state: tuple[str, str, ScramCredential] | None = None  # client-first-bare, server-first, credential

    def respond(self, token: bytes) -> bytes:
        message = token.decode(errors="replace")
        if self._state is None:
            return self._first(message)
        return self._final(message)

    def _first(self, message: str) -> bytes:
        if not message.startswith(("n,", "y,")):
            raise SaslError("SCRAM channel binding is not supported")
        bare = message.split(",", 2)[2] if message.count(",") >= 2 else ""
        attrs = _attributes(bare)
        user, client_nonce = _unsaslname(attrs.get("n", "")), attrs.get("r", "")
        credential = self.credentials.get(user)
        if credential is None or not client_nonce:
            raise SaslError(f"authentication failed for user {user!r}")
        self.user = user
        server_first = (f"r={client_nonce}{self.nonce},s={base64.b64encode(credential.salt).decode()},"
                        f"i={credential.iterations}")
        self._state = (bare, server_first, credential)
        return server_first.encode()

    def _final(self, message: str) -> bytes:
        assert self._state is not None
        bare, server_first, credential = self._state
        without_proof, sep, proof_part = message.rpartition(",p=")
        attrs = _attributes(without_proof) if sep else {}
        # Kafka's rule: the final nonce must end with the server's. Debian's librdkafka 2.0 puts its
        # own nonce in front once more, and Kafka takes that.
        if not sep or not attrs.get("r", "").endswith(_attributes(server_first)["r"]):
            raise SaslError("malformed SCRAM client-final message")
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        signature = _hmac(credential.stored_key, auth_message, self.algorithm)
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise SaslError("malformed SCRAM proof") from None
        if len(proof) != len(signature):
            raise SaslError(f"authentication failed for user {self.user!r}")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self.algorithm, client_key).digest(), credential.stored_key):
            raise SaslError(f"authentication failed for user {self.user!r}")
        self.done = True
        return f"v={base64.b64encode(_hmac(credential.server_key, auth_message, self.algorithm)).decode()}".encode()


# ---- OAUTHBEARER -----------------------------------------------------------------------------------------
_KVSEP = "\x01"
#: RFC 7628's key and value grammar for the key-value pairs after the token (Kafka's SASL extensions).
_EXTENSION_KEY = re.compile(r"[A-Za-z]+")
_EXTENSION_VALUE = re.compile(r"[\x21-\x7E \t\r\n]*")
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def oauthbearer_message(token: str, extensions: Mapping[str, str] | None = None) -> bytes:
    """The client's first (and only) message: `n,,^Aauth=Bearer TOKEN^Akey=value^A...^A^A`."""
    if not _BEARER_TOKEN.fullmatch(token):
        raise SaslError("the OAuth token is not a bearer token (RFC 6750's characters only)")
    pairs = [f"auth=Bearer {token}"]
    for key, value in (extensions or {}).items():
        if key == "auth" or not _EXTENSION_KEY.fullmatch(key) or not _EXTENSION_VALUE.fullmatch(value):
            raise SaslError(f"SASL extension {key!r}: keys are letters (not 'auth'), values printable text")
        pairs.append(f"{key}={value}")
    return (_GS2_HEADER + _KVSEP + _KVSEP.join(pairs) + _KVSEP + _KVSEP).encode()


def parse_oauthbearer_message(message: bytes) -> tuple[str, dict[str, str]]:
    """The token and the extensions of a client's first message; SaslError if it is malformed."""
    try:
        text = message.decode()
    except UnicodeDecodeError:
        raise SaslError("malformed OAUTHBEARER message (not UTF-8)") from None
    header, sep, rest = text.partition(_KVSEP)
    if not sep or not header.startswith(("n,", "y,")) or not rest.endswith(_KVSEP + _KVSEP):
        raise SaslError("malformed OAUTHBEARER message")
    pairs: dict[str, str] = {}
    for pair in rest[:-2].split(_KVSEP):
        key, eq, value = pair.partition("=")
        if not eq or not _EXTENSION_KEY.fullmatch(key) or key in pairs:
            raise SaslError(f"malformed OAUTHBEARER key-value pair {pair[:40]!r}")
        pairs[key] = value
    scheme, _, token = pairs.pop("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not _BEARER_TOKEN.fullmatch(token.strip()):
        raise SaslError("the OAUTHBEARER message has no bearer token")
    return token.strip(), pairs


class OAuthBearerClient:
    """Sends the token. A broker that refuses it answers with an RFC 7628 error (JSON) instead of
    success; the client then sends ^A, as the RFC says, and the broker fails the exchange."""

    def __init__(self, token: str, extensions: Mapping[str, str] | None = None) -> None:
        self._message = oauthbearer_message(token, extensions)
        self.refusal: dict[str, object] | None = None

    def first(self) -> bytes:
        return self._message

    def next(self, server_token: bytes) -> bytes | None:
        if not server_token:
            return None
        if self.refusal is not None:
            raise SaslError("the broker sent a second OAUTHBEARER challenge")
        try:
            refusal = json.loads(server_token)
        except ValueError:
            refusal = {"status": server_token.decode(errors="replace")}
        self.refusal = refusal if isinstance(refusal, dict) else {"status": str(refusal)}
        return _KVSEP.encode()


class Grant(NamedTuple):
    """Whom a checked token names, and when it expires (epoch ms; None: it does not say)."""

    principal: str
    expires_at_ms: int | None = None


class OAuthBearerServer:
    """Checks the token with `validate` (token, extensions -> Grant, or SaslError saying why).
    A refused token gets RFC 7628's `{"status": "invalid_token"}`; the client's ^A after it ends
    the exchange in SASL_AUTHENTICATION_FAILED with the reason, as Kafka's broker does."""

    def __init__(self, validate: Callable[[str, dict[str, str]], Grant]) -> None:
        self._validate = validate
        self.done = False
        self.user: str | None = None
        self.expires_at_ms: int | None = None  # the token's: a session never outlives it
        self.extensions: dict[str, str] = {}
        self._refused: str | None = None

    def respond(self, token: bytes) -> bytes:
        if self._refused is not None:
            if token != _KVSEP.encode():
                raise SaslError("malformed OAUTHBEARER message after an error")
            raise SaslError(self._refused)
        bearer, extensions = parse_oauthbearer_message(token)
        try:
            self.user, self.expires_at_ms = self._validate(bearer, extensions)
        except SaslError as exc:
            self._refused = f"invalid_token: {exc}"
            return json.dumps({"status": "invalid_token"}).encode()
        self.extensions = extensions
        self.done = True
        return b""


def client_for(mechanism: str, username: str, password: str) -> PlainClient | ScramClient:
    """The exchange for a mechanism that takes a username and password."""
    if mechanism == "PLAIN":
        return PlainClient(username, password)
    if mechanism in _HASHES:
        return ScramClient(mechanism, username, password)
    raise SaslError(f"SASL {mechanism!r} takes no username and password (those that do: "
                    f"{', '.join(PASSWORD_MECHANISMS)})")


# ---- a listener's side of one connection ----------------------------------------------------------------
ServerExchange = PlainServer | ScramServer | OAuthBearerServer


class ServerAuthentication:
    """One connection's SASL state on a listener, sans-IO: the mechanisms it offers, the exchange
    under way, and whether the peer has authenticated. It answers SaslHandshake (v1) and
    SaslAuthenticate requests; the connection lets nothing but those and ApiVersions through
    before `authenticated`. With no mechanisms the peer counts as authenticated from the start.

    With `max_reauth_ms` (Kafka's connections.max.reauth.ms, KIP-368), a session lasts that long,
    and no longer than an OAUTHBEARER token; SaslAuthenticate says so (session_lifetime_ms). The
    peer logs in again on the same connection with the same mechanism and principal; once the
    session has ended, `expired` says so and the connection closes at its next request."""

    def __init__(self, mechanisms: list[str], exchange_for: Callable[[str], ServerExchange], *,
                 max_reauth_ms: int = 0) -> None:
        self.mechanisms = mechanisms
        self.authenticated = not mechanisms
        self.max_reauth_ms = max_reauth_ms
        self.user: str | None = None
        self.mechanism: str | None = None
        self.session_ends_ms: int | None = None
        self._exchange_for = exchange_for
        self._exchange: tuple[str, ServerExchange] | None = None

    def expired(self, now_ms: int) -> bool:
        return self.session_ends_ms is not None and now_ms >= self.session_ends_ms

    def handshake(self, request: SaslHandshakeRequest) -> SaslHandshakeResponse:
        from .errors import ErrorCode
        from .messages.sasl_handshake import SaslHandshakeResponse

        offered = self.mechanisms
        if not offered or self._exchange is not None:
            return SaslHandshakeResponse(ErrorCode.ILLEGAL_SASL_STATE.code, offered)
        if request.mechanism not in offered:
            return SaslHandshakeResponse(ErrorCode.UNSUPPORTED_SASL_MECHANISM.code, offered)
        if self.authenticated and request.mechanism != self.mechanism:  # KIP-368: the same mechanism
            return SaslHandshakeResponse(ErrorCode.ILLEGAL_SASL_STATE.code, offered)
        self._exchange = (request.mechanism, self._exchange_for(request.mechanism))
        return SaslHandshakeResponse(0, offered)

    def authenticate(self, request: SaslAuthenticateRequest, now_ms: int = 0
                     ) -> tuple[SaslAuthenticateResponse, Authenticated | AuthenticationFailed | None]:
        """The answer, and what happened: authenticated, failed, or a step of the exchange (None)."""
        from .errors import ErrorCode
        from .messages.sasl_authenticate import SaslAuthenticateResponse

        if self._exchange is None:
            return SaslAuthenticateResponse(ErrorCode.ILLEGAL_SASL_STATE.code, "send SaslHandshake first"), None
        mechanism, exchange = self._exchange
        try:
            token = exchange.respond(request.auth_bytes)
            if exchange.done and self.authenticated and exchange.user != self.user:
                raise SaslError(f"re-authentication as {exchange.user!r} on a connection of {self.user!r}: "
                                "a connection keeps its principal")
        except SaslError as exc:
            self._exchange = None  # a failed exchange is over: anything but a new handshake closes
            self.authenticated = False
            return (SaslAuthenticateResponse(ErrorCode.SASL_AUTHENTICATION_FAILED.code, str(exc)),
                    AuthenticationFailed(mechanism, str(exc)))
        if not exchange.done:
            return SaslAuthenticateResponse(0, None, token, 0), None
        self.authenticated = True
        self.user, self.mechanism = exchange.user, mechanism
        self._exchange = None
        lifetime = self._lifetime(exchange, now_ms)
        self.session_ends_ms = now_ms + lifetime if lifetime else None
        return SaslAuthenticateResponse(0, None, token, lifetime), Authenticated(exchange.user, mechanism)

    def _lifetime(self, exchange: ServerExchange, now_ms: int) -> int:
        if self.max_reauth_ms <= 0:
            return 0
        lifetime = self.max_reauth_ms
        token_expiry = getattr(exchange, "expires_at_ms", None)
        if token_expiry is not None:
            lifetime = min(lifetime, max(token_expiry - now_ms, 1))
        return lifetime
