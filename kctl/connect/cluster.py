"""From a context to a connected-to-be `Cluster`: TLS, SASL credentials and timeouts, as both
front ends build it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kctl.ops.errors import AuthFailed, BadUsage

from .contexts import Context

if TYPE_CHECKING:
    import ssl

    from kctl.client import Cluster


@dataclass(slots=True)
class Settings:
    """Which cluster (a bootstrap address or a context name) and how long to wait for it: the CLI's
    global options (`kctl [OPTIONS] COMMAND`), and what the console starts with."""

    bootstrap: str | None = None
    context: str | None = None
    timeout: float = 30.0


def _ssl_context(ctx: Context) -> ssl.SSLContext | None:
    tls = ctx.tls
    if not tls or not tls.get("enabled", True):
        return None
    import ssl

    context = ssl.create_default_context(cafile=tls.get("ca-file"))
    if tls.get("cert-file"):
        context.load_cert_chain(tls["cert-file"], tls.get("key-file"))
    if tls.get("insecure-skip-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _authenticator(ctx: Context) -> Any:
    """The context's `sasl = { mechanism, username, password | password-env }`, if any."""
    if not ctx.sasl:
        return None
    from kctl.client.sasl import SaslAuthenticator
    from kctl.protocol.sasl import MECHANISMS

    sasl = ctx.sasl
    mechanism = str(sasl.get("mechanism", "PLAIN")).upper()
    if mechanism not in MECHANISMS:
        raise BadUsage(f"context {ctx.name!r}: SASL mechanism {mechanism!r} is not supported",
                       f"use one of {', '.join(MECHANISMS)}")
    username = sasl.get("username")
    if not username:
        raise BadUsage(f"context {ctx.name!r}: sasl needs a username")
    password = sasl.get("password")
    if password is None and sasl.get("password-env"):
        import os

        password = os.environ.get(str(sasl["password-env"]))
        if password is None:
            raise AuthFailed(f"context {ctx.name!r}: ${sasl['password-env']} is not set",
                             "export it, or put password = \"...\" in the context")
    if password is None:
        raise BadUsage(f"context {ctx.name!r}: sasl needs password or password-env")
    return SaslAuthenticator(mechanism, str(username), str(password))


def cluster_for(ctx: Context, settings: Settings) -> Cluster:
    from kctl.client import Cluster

    return Cluster(ctx.bootstrap_servers, client_id=ctx.client_id, request_timeout_s=settings.timeout,
                   connect_timeout_s=min(settings.timeout, 10.0), ssl_context=_ssl_context(ctx),
                   authenticator=_authenticator(ctx))
