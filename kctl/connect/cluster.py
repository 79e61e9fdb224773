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
    from kctl.client.kafka_connect import ConnectSettings
    from kctl.client.schema_registry import RegistryClient


@dataclass(slots=True)
class Settings:
    """Which cluster (a bootstrap address or a context name) and how long to wait for it: the CLI's
    global options (`kctl [OPTIONS] COMMAND`), and what the console starts with."""

    bootstrap: str | None = None
    context: str | None = None
    timeout: float = 30.0
    schema_registry: str | None = None  # --schema-registry / $KCTL_SCHEMA_REGISTRY
    connect: str | None = None  # --connect / $KCTL_CONNECT: a Kafka Connect worker's URL


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


def _password(ctx: Context, table: dict[str, Any], what: str) -> str | None:
    """A `password`, or the variable a `password-env` names."""
    password = table.get("password")
    if password is None and table.get("password-env"):
        import os

        password = os.environ.get(str(table["password-env"]))
        if password is None:
            raise AuthFailed(f"context {ctx.name!r}: ${table['password-env']} is not set (the {what} password)",
                             "export it, or put password = \"...\" in the context")
    return None if password is None else str(password)


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
    password = _password(ctx, sasl, "SASL")
    if password is None:
        raise BadUsage(f"context {ctx.name!r}: sasl needs password or password-env")
    return SaslAuthenticator(mechanism, str(username), str(password))


def cluster_for(ctx: Context, settings: Settings) -> Cluster:
    from kctl.client import Cluster

    return Cluster(ctx.bootstrap_servers, client_id=ctx.client_id, request_timeout_s=settings.timeout,
                   connect_timeout_s=min(settings.timeout, 10.0), ssl_context=_ssl_context(ctx),
                   authenticator=_authenticator(ctx))


def registry_url(ctx: Context, settings: Settings) -> str | None:
    """Where the Schema Registry is: --schema-registry, $KCTL_SCHEMA_REGISTRY, the context's
    `schema-registry`, and for the built-in broker the registry it serves; None when there is none."""
    import os

    explicit = settings.schema_registry or os.environ.get("KCTL_SCHEMA_REGISTRY")
    if explicit:
        return explicit
    if ctx.schema_registry:
        return str(ctx.schema_registry["url"])
    if ctx.local:
        from .local import registry_address

        return registry_address()
    return None


def registry_for(ctx: Context, settings: Settings) -> RegistryClient | None:
    url = registry_url(ctx, settings)
    if url is None:
        return None
    from kctl.client.schema_registry import RegistryClient, RegistrySettings

    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    table = ctx.schema_registry if ctx.schema_registry and not settings.schema_registry else {}
    username = table.get("username")
    password = _password(ctx, table, "schema registry") if username else None
    return RegistryClient(RegistrySettings(url, None if username is None else str(username), password,
                                           settings.timeout))


def _http_url(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else "http://" + url


def connect_clusters(ctx: Context, settings: Settings) -> list[ConnectSettings]:
    """The Kafka Connect clusters this run may use: --connect / $KCTL_CONNECT alone when given,
    else the context's `connect` list, in its order."""
    import os

    from kctl.client.kafka_connect import ConnectSettings

    explicit = settings.connect or os.environ.get("KCTL_CONNECT")
    if explicit:
        return [ConnectSettings("(command line)", _http_url(explicit), timeout=settings.timeout)]
    out = []
    for table in ctx.connect:
        username = table.get("username")
        password = _password(ctx, table, f"connect cluster {table['name']!r}") if username else None
        out.append(ConnectSettings(str(table["name"]), _http_url(str(table["url"])),
                                   None if username is None else str(username), password, settings.timeout))
    return out


def connect_cluster_for(ctx: Context, settings: Settings, name: str | None = None) -> ConnectSettings:
    """The Kafka Connect cluster a command or the console talks to: `name` among the context's
    (the first by default), or --connect alone."""
    from kctl.ops.errors import NotFound

    known = connect_clusters(ctx, settings)
    if not known:
        raise BadUsage(f"no Kafka Connect cluster for context {ctx.name!r}",
                       'pass --connect URL, or add connect = [{ name = "main", url = "http://HOST:8083" }] '
                       "to the context")
    if name is None:
        return known[0]
    for found in known:
        if found.name == name:
            return found
    raise NotFound(f"no Kafka Connect cluster named {name!r} in context {ctx.name!r}",
                   f"known: {', '.join(c.name for c in known)}")
