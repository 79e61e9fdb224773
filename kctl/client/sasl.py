"""SASL for the client: SaslHandshake v1, then the mechanism's tokens in SaslAuthenticate requests.

    Cluster(..., authenticator=SaslAuthenticator("SCRAM-SHA-512", "ops", password))

Mechanisms that need more than a password bring their own authenticator (`oauth.py`), and all of
them run their exchange through `exchange_tokens`. A refusal raises `KafkaError` with
SASL_AUTHENTICATION_FAILED (or UNSUPPORTED_SASL_MECHANISM and the mechanisms the broker offers),
which the connection turns into a closed connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest, SaslAuthenticateResponse
from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest, SaslHandshakeResponse
from kctl.protocol.sasl import SaslError, client_for

from .errors import KafkaError

if TYPE_CHECKING:
    from .connection import BrokerConnection


class ClientExchange(Protocol):
    """A mechanism's client side, sans-IO (see `kctl.protocol.sasl`)."""

    def first(self) -> bytes: ...

    def next(self, server_token: bytes) -> bytes | None: ...


async def exchange_tokens(connection: BrokerConnection, mechanism: str, exchange: ClientExchange,
                          who: str) -> int:
    """Handshake for `mechanism`, then the exchange's tokens until it completes. Returns the
    session lifetime the broker grants (ms; 0 for none)."""
    handshake: SaslHandshakeResponse = await connection.request(SaslHandshakeRequest(mechanism), version=1)
    if handshake.error_code:
        offered = ", ".join(handshake.mechanisms) or "none"
        raise KafkaError(f"{connection.address} does not take SASL {mechanism} (it offers: {offered})",
                         ErrorCode.of(handshake.error_code), retriable=False)
    token: bytes | None = exchange.first()
    lifetime = 0
    while token is not None:
        response: SaslAuthenticateResponse = await connection.request(SaslAuthenticateRequest(auth_bytes=token))
        if response.error_code:
            raise KafkaError(f"{connection.address}: SASL {mechanism} as {who} refused: "
                             f"{response.error_message or 'authentication failed'}",
                             ErrorCode.of(response.error_code), retriable=False)
        lifetime = response.session_lifetime_ms or 0
        try:
            token = exchange.next(response.auth_bytes)
        except SaslError as exc:
            raise KafkaError(f"{connection.address}: {exc}", ErrorCode.SASL_AUTHENTICATION_FAILED,
                             retriable=False) from None
    return lifetime


class SaslAuthenticator:
    """PLAIN and SCRAM: a username and a password."""

    def __init__(self, mechanism: str, username: str, password: str) -> None:
        client_for(mechanism, username, password)  # an unknown mechanism fails here, not at connect
        self.mechanism = mechanism
        self.username = username
        self._password = password

    @property
    def principal(self) -> str:
        return self.username

    async def authenticate(self, connection: BrokerConnection) -> int:
        exchange = client_for(self.mechanism, self.username, self._password)
        return await exchange_tokens(connection, self.mechanism, exchange, repr(self.username))
