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


def _secret(ctx: Context, table: dict[str, Any], key: str, what: str) -> str | None:
    """A secret given as `KEY`, as `KEY-env` (a variable's name) or as `KEY-file` (a file's path)."""
    value = table.get(key)
    if value is None and table.get(f"{key}-env"):
        import os

        value = os.environ.get(str(table[f"{key}-env"]))
        if value is None:
            raise AuthFailed(f"context {ctx.name!r}: ${table[f'{key}-env']} is not set (the {what})",
                             f'export it, or put {key} = "..." in the context')
    if value is None and table.get(f"{key}-file"):
        from pathlib import Path

        path = Path(str(table[f"{key}-file"])).expanduser()
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise AuthFailed(f"context {ctx.name!r}: cannot read {path} (the {what}): {exc.strerror or exc}") from None
    return None if value is None else str(value)


def _password(ctx: Context, table: dict[str, Any], what: str) -> str | None:
    """A `password`, `password-env` or `password-file`."""
    return _secret(ctx, table, "password", f"{what} password")


#: The keys that choose where OAUTHBEARER tokens come from: exactly one per context.
TOKEN_SOURCES = ("token-endpoint", "token-file", "token-command", "aws-region")


def _token_source(ctx: Context, sasl: dict[str, Any], timeout: float) -> Any:
    from pathlib import Path

    from kctl.client.oauth import ClientCredentials, MskIamToken, TokenCommand, TokenFile

    chosen = [key for key in TOKEN_SOURCES if sasl.get(key)]
    if len(chosen) != 1:
        raise BadUsage(f"context {ctx.name!r}: OAUTHBEARER needs exactly one token source, not "
                       f"{' and '.join(chosen) or 'none'}",
                       "set token-endpoint (with client-id and client-secret), token-file, token-command, "
                       "or aws-region (AWS MSK IAM)")
    if chosen[0] == "token-endpoint":
        client_id = sasl.get("client-id")
        secret = _secret(ctx, sasl, "client-secret", "OAuth client secret")
        if not client_id or secret is None:
            raise BadUsage(f"context {ctx.name!r}: a token endpoint needs client-id and client-secret "
                           "(or client-secret-env, client-secret-file)")
        return ClientCredentials(str(sasl["token-endpoint"]), str(client_id), secret,
                                 scope=sasl.get("scope"), audience=sasl.get("audience"), timeout_s=timeout,
                                 sub_claim=str(sasl.get("sub-claim", "sub")))
    if chosen[0] == "token-file":
        return TokenFile(Path(str(sasl["token-file"])).expanduser())
    if chosen[0] == "token-command":
        return TokenCommand(str(sasl["token-command"]), timeout_s=timeout)
    return MskIamToken(str(sasl["aws-region"]), profile=sasl.get("aws-profile"), role_arn=sasl.get("aws-role-arn"))


def _authenticator(ctx: Context, timeout: float = 30.0) -> Any:
    """The context's `sasl = { mechanism, ... }`, if any: a username and password for PLAIN and
    SCRAM, a token source (and extensions) for OAUTHBEARER, a keytab or ticket cache for GSSAPI."""
    if not ctx.sasl:
        return None
    from kctl.protocol.sasl import MECHANISMS

    sasl = ctx.sasl
    mechanism = str(sasl.get("mechanism", "PLAIN")).upper()
    if mechanism not in MECHANISMS:
        raise BadUsage(f"context {ctx.name!r}: SASL mechanism {mechanism!r} is not supported",
                       f"use one of {', '.join(MECHANISMS)}")
    if mechanism == "OAUTHBEARER":
        from kctl.client.oauth import OAuthBearerAuthenticator
        from kctl.protocol.sasl import SaslError

        extensions = sasl.get("extensions", {})
        if not isinstance(extensions, dict):
            raise BadUsage(f"context {ctx.name!r}: sasl.extensions is a table, e.g. "
                           '{ logicalCluster = "lkc-abc", identityPoolId = "pool-xyz" }')
        try:
            return OAuthBearerAuthenticator(_token_source(ctx, sasl, timeout),
                                            {str(k): str(v) for k, v in extensions.items()})
        except SaslError as exc:
            raise BadUsage(f"context {ctx.name!r}: {exc}") from None
    if mechanism == "GSSAPI":
        from kctl.client.kerberos import GssapiAuthenticator, KerberosError

        try:
            return GssapiAuthenticator(str(sasl.get("service-name", "kafka")), principal=sasl.get("principal"),
                                       keytab=sasl.get("keytab"), ccache=sasl.get("ccache"))
        except KerberosError as exc:
            raise BadUsage(f"context {ctx.name!r}: {exc}") from None
    from kctl.client.sasl import SaslAuthenticator

    username = sasl.get("username")
    if not username:
        raise BadUsage(f"context {ctx.name!r}: sasl needs a username")
    password = _password(ctx, sasl, "SASL")
    if password is None:
        raise BadUsage(f"context {ctx.name!r}: sasl needs password, password-env or password-file")
    return SaslAuthenticator(mechanism, str(username), str(password))


def authentication_label(cluster: Cluster, now: float | None = None) -> str:
    """How a connected cluster was authenticated, for the console: the mechanism, the principal,
    and for OAUTHBEARER when the token expires (`OAUTHBEARER as ops, token expires in 54m, TLS`)."""
    import time

    from kctl.client.kerberos import GssapiAuthenticator
    from kctl.client.oauth import OAuthBearerAuthenticator
    from kctl.client.sasl import SaslAuthenticator

    authenticator = cluster.config.authenticator
    parts: list[str] = []
    if isinstance(authenticator, OAuthBearerAuthenticator):
        parts.append(f"OAUTHBEARER as {authenticator.principal or '(the token names no one)'}")
        if authenticator.expires_at is not None:
            left = authenticator.expires_at - (time.time() if now is None else now)
            parts.append(f"token expires in {_duration(left)}" if left > 0 else "token expired")
    elif isinstance(authenticator, GssapiAuthenticator):
        parts.append(f"GSSAPI as {authenticator.principal or '(ticket cache)'}")
    elif isinstance(authenticator, SaslAuthenticator):
        parts.append(f"{authenticator.mechanism} as {authenticator.username}")
    elif authenticator is None:
        parts.append("no SASL")
    if cluster.config.ssl_context is not None:
        parts.append("TLS")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def cluster_for(ctx: Context, settings: Settings) -> Cluster:
    from kctl.client import Cluster

    return Cluster(ctx.bootstrap_servers, client_id=ctx.client_id, request_timeout_s=settings.timeout,
                   connect_timeout_s=min(settings.timeout, 10.0), ssl_context=_ssl_context(ctx),
                   authenticator=_authenticator(ctx, settings.timeout))


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
