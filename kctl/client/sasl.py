"""SASL for the client: SaslHandshake v1, then the mechanism's tokens in SaslAuthenticate requests.

    Cluster(..., authenticator=SaslAuthenticator("SCRAM-SHA-512", "ops", password))

A refusal raises `KafkaError` with SASL_AUTHENTICATION_FAILED (or UNSUPPORTED_SASL_MECHANISM and
the mechanisms the broker offers), which the connection turns into a closed connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest, SaslAuthenticateResponse
from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest, SaslHandshakeResponse
from kctl.protocol.sasl import SaslError, client_for

from .errors import KafkaError

if TYPE_CHECKING:
    from .connection import BrokerConnection


class SaslAuthenticator:
    def __init__(self, mechanism: str, username: str, password: str) -> None:
        client_for(mechanism, username, password)  # an unknown mechanism fails here, not at connect
        self.mechanism = mechanism
        self.username = username
        self._password = password

    async def authenticate(self, connection: BrokerConnection) -> None:
        handshake: SaslHandshakeResponse = await connection.request(SaslHandshakeRequest(self.mechanism), version=1)
        if handshake.error_code:
            offered = ", ".join(handshake.mechanisms) or "none"
            raise KafkaError(f"{connection.address} does not take SASL {self.mechanism} (it offers: {offered})",
                             ErrorCode.of(handshake.error_code), retriable=False)
        exchange = client_for(self.mechanism, self.username, self._password)
        token: bytes | None = exchange.first()
        while token is not None:
            response: SaslAuthenticateResponse = await connection.request(SaslAuthenticateRequest(auth_bytes=token))
            if response.error_code:
                raise KafkaError(f"{connection.address}: SASL {self.mechanism} as {self.username!r} refused: "
                                 f"{response.error_message or 'authentication failed'}",
                                 ErrorCode.of(response.error_code), retriable=False)
            try:
                token = exchange.next(response.auth_bytes)
            except SaslError as exc:
                raise KafkaError(f"{connection.address}: {exc}", ErrorCode.SASL_AUTHENTICATION_FAILED,
                                 retriable=False) from None
