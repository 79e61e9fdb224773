"""SASL/GSSAPI (Kerberos V5, RFC 4752) for the client, through the `gssapi` package, a binding of
the system's Kerberos library: no Kerberos of our own.

    Cluster(..., authenticator=GssapiAuthenticator("kafka", principal="kctl@EXAMPLE.COM",
                                                   keytab="/etc/kctl/kctl.keytab"))

Credentials come from a keytab (`principal` and `keytab`), from a ticket cache (`ccache`, or
$KRB5CCNAME and the default cache as `kinit` leaves it). The broker's service principal is
`SERVICE/HOST@REALM`: SERVICE is sasl.kerberos.service.name (`kafka` by default) and HOST the
broker's host as the cluster's metadata names it, as Kafka's clients do.

The exchange: GSS-API context tokens until the context is established (mutual authentication),
then the broker's wrapped offer of security layers, answered with "no security layer" (Kafka
protects the connection with TLS, not with SASL's layers).
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING, Any

from kctl.protocol.errors import ErrorCode

from .errors import KafkaError
from .sasl import exchange_tokens

if TYPE_CHECKING:
    from .connection import BrokerConnection

#: RFC 4752: the security layer bit for "no security layer".
NO_SECURITY_LAYER = 1


class KerberosError(KafkaError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ErrorCode.SASL_AUTHENTICATION_FAILED, retriable=False)


def _gssapi() -> Any:
    try:
        import gssapi
    except ImportError:
        raise KerberosError("Kerberos needs the gssapi package (pip install gssapi; it builds against the "
                            "system's Kerberos, e.g. Debian's libkrb5-dev)") from None
    return gssapi


class GssapiExchange:
    """One connection's exchange, sans-IO once `prepare` has fetched the service ticket."""

    def __init__(self, target: str, credentials: Any) -> None:
        gssapi = _gssapi()
        self.target = target
        name = gssapi.Name(target, gssapi.NameType.hostbased_service)
        flags = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.out_of_sequence_detection]
        self._context = gssapi.SecurityContext(name=name, creds=credentials, usage="initiate", flags=flags)
        self._first: bytes | None = None
        self._layers_answered = False

    def prepare(self) -> None:
        """The first context token: this asks the KDC for a service ticket, so it runs on a thread."""
        self._first = self._step(None)

    def _step(self, token: bytes | None) -> bytes:
        gssapi = _gssapi()
        try:
            return self._context.step(token) or b""
        except gssapi.exceptions.GSSError as exc:
            raise KerberosError(f"Kerberos, for {self.target}: {_gss_message(exc)}") from None

    def first(self) -> bytes:
        assert self._first is not None, "prepare() first"
        return self._first

    def next(self, server_token: bytes) -> bytes | None:
        if self._layers_answered:
            return None
        if not self._context.complete:
            return self._step(server_token)  # empty once established: asks for the layers' offer
        return self._answer_layers(server_token)

    def _answer_layers(self, offer: bytes) -> bytes:
        gssapi = _gssapi()
        try:
            plain = self._context.unwrap(offer).message
        except gssapi.exceptions.GSSError as exc:
            raise KerberosError(f"Kerberos, for {self.target}: the broker's offer: {_gss_message(exc)}") from None
        if len(plain) != 4 or not plain[0] & NO_SECURITY_LAYER:
            raise KerberosError(f"{self.target} offers no plain (no security layer) Kerberos session")
        self._layers_answered = True
        return bytes(self._context.wrap(struct.pack(">I", NO_SECURITY_LAYER << 24), False).message)


def _gss_message(exc: Exception) -> str:
    """The Kerberos library's own words: the mechanism's (minor) status, which names the cause
    (no ticket, unknown principal), else the GSS-API (major) one."""
    try:
        minor = [m for m in exc.get_all_statuses(exc.min_code, False) if m]  # type: ignore[attr-defined]
        major = [m for m in exc.get_all_statuses(exc.maj_code, True) if m]  # type: ignore[attr-defined]
    except Exception:  # not a GSSError after all: its text is all there is
        return " ".join(str(exc).split())
    return "; ".join(str(m) for m in (minor or major)) or " ".join(str(exc).split())


class GssapiAuthenticator:
    mechanism = "GSSAPI"

    def __init__(self, service_name: str = "kafka", *, principal: str | None = None, keytab: str | None = None,
                 ccache: str | None = None) -> None:
        if keytab and not principal:
            raise KerberosError("a keytab needs the principal to log in as")
        self.service_name = service_name
        self.principal_name = principal
        self.keytab = keytab
        self.ccache = ccache
        self._credentials: Any = None
        self.principal: str | None = principal

    def credentials(self) -> Any:
        """The initiator's credentials: from the keytab (into a ticket cache of kctl's own, in
        memory), from the named ticket cache, or the default cache."""
        if self._credentials is not None:
            return self._credentials
        gssapi = _gssapi()
        store: dict[bytes | str, bytes | str] = {}
        if self.keytab:
            store = {"client_keytab": self.keytab, "ccache": f"MEMORY:kctl-{id(self)}"}
        elif self.ccache:
            store = {"ccache": self.ccache}
        name = gssapi.Name(self.principal_name, gssapi.NameType.kerberos_principal) if self.principal_name else None
        try:
            credentials = gssapi.Credentials(name=name, usage="initiate", store=store or None)
            self.principal = str(credentials.name)
        except gssapi.exceptions.GSSError as exc:
            where = f"keytab {self.keytab}" if self.keytab else f"ticket cache {self.ccache}" if self.ccache else \
                "the default ticket cache (run kinit)"
            raise KerberosError(f"Kerberos credentials from {where}: {_gss_message(exc)}") from None
        self._credentials = credentials
        return credentials

    async def authenticate(self, connection: BrokerConnection) -> int:
        loop = asyncio.get_running_loop()
        credentials = await loop.run_in_executor(None, self.credentials)
        exchange = GssapiExchange(f"{self.service_name}@{connection.host}", credentials)
        await loop.run_in_executor(None, exchange.prepare)
        return await exchange_tokens(connection, self.mechanism, exchange, repr(self.principal or "(ticket cache)"))
