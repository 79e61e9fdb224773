"""kctl config (contexts) and kctl broker start / status / stop."""

from __future__ import annotations

from typing import Annotated, Any

from kctl.connect.contexts import KEYS, LOCAL, config_path, contexts, load_file, save_file
from kctl.ops.cells import Column

from . import declare as cli
from .errors import NOT_FOUND, USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, diagnostic, render
from .runtime import check_format, fail, guard

config_app = cli.Group(help="Named contexts: which cluster kctl talks to.", no_args_is_help=True)


@config_app.command("view")
def config_view(output: Annotated[str, cli.Option("--output", "-o", help="yaml or json.")] = "yaml") -> None:
    """The config file's contexts (passwords masked) and which one is current."""

    def action() -> None:
        check_format(output, ("json", "yaml"))
        data = load_file()
        known = contexts(data)
        shown = {"file": str(config_path()), "current-context": data.get("current-context"),
                 "contexts": [c.to_dict() for c in known.values()]}
        render(Output(shown), output)

    guard(action)


@config_app.command("get-contexts")
def config_get_contexts(output: OutputOpt = "table") -> None:
    """Every context, with the current one marked."""

    def action() -> None:
        check_format(output)
        data = load_file()
        current = data.get("current-context")
        rows = [{"current": c.name == current, **c.to_dict()} for c in contexts(data).values()]
        if not any(r["name"] == LOCAL for r in rows):
            from kctl.connect.local import local_address

            rows.append({"current": current in (None, LOCAL), "name": LOCAL, "bootstrap-servers": local_address(),
                         "client-id": "kctl", "read-only": False})
        columns = [Column("current", "CURRENT"), Column("name", "NAME"), Column("bootstrap-servers", "BOOTSTRAP"),
                   Column("read-only", "READ ONLY"), Column("theme", "THEME", wide=True)]
        render(Output(rows, [Table(rows, columns)]), output)

    guard(action)


@config_app.command("use-context")
def config_use_context(name: Annotated[str, cli.Argument(help="The context to make current.")],
                       yes: YesOpt = False) -> None:
    """Make a context the current one."""

    def action() -> None:
        data = load_file()
        if name != LOCAL and name not in contexts(data):
            raise CliError(f"no context named {name!r}", "list them with `kctl config get-contexts`", NOT_FOUND)
        data["current-context"] = name
        save_file(data)
        diagnostic(f"current context is now {name}")

    guard(action)


@config_app.command("set-context")
def config_set_context(
    name: Annotated[str, cli.Argument(help="The context to create or change.")],
    bootstrap_server: Annotated[str | None, cli.Option("--bootstrap-server", "-b", help="HOST:PORT[,...]")] = None,
    client_id: Annotated[str | None, cli.Option("--client-id", help="Client id the cluster sees.")] = None,
    read_only: Annotated[bool | None, cli.Option("--read-only/--read-write",
                                                   help="Refuse every change in this context.")] = None,
    theme: Annotated[str | None, cli.Option("--theme", help="TUI theme for this context.")] = None,
    tls_ca_file: Annotated[str | None, cli.Option("--tls-ca-file", help="Turn TLS on, trusting this CA.")] = None,
    sasl_mechanism: Annotated[str | None, cli.Option(
        "--sasl-mechanism", help="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI.")] = None,
    sasl_username: Annotated[str | None, cli.Option("--sasl-username", help="SASL user name.")] = None,
    sasl_password_env: Annotated[str | None, cli.Option("--sasl-password-env",
                                                          help="Environment variable holding the password "
                                                               "(kctl never writes passwords to the file).")] = None,
    token_endpoint: Annotated[str | None, cli.Option(
        "--sasl-token-endpoint", metavar="URL", help="OAUTHBEARER: an OIDC token endpoint (client credentials).",
    )] = None,
    oauth_client_id: Annotated[str | None, cli.Option("--sasl-client-id", help="OAUTHBEARER: the OIDC client id.")
                               ] = None,
    oauth_secret_env: Annotated[str | None, cli.Option(
        "--sasl-client-secret-env", metavar="VAR", help="OAUTHBEARER: environment variable holding the client secret.",
    )] = None,
    oauth_secret_file: Annotated[str | None, cli.Option(
        "--sasl-client-secret-file", metavar="PATH", help="OAUTHBEARER: file holding the client secret.")] = None,
    oauth_scope: Annotated[str | None, cli.Option("--sasl-scope", help="OAUTHBEARER: the scope to ask for.")] = None,
    oauth_audience: Annotated[str | None, cli.Option("--sasl-audience", help="OAUTHBEARER: the audience to ask for.")
                              ] = None,
    token_file: Annotated[str | None, cli.Option(
        "--sasl-token-file", metavar="PATH", help="OAUTHBEARER: a file holding a token kept fresh elsewhere.",
    )] = None,
    token_command: Annotated[str | None, cli.Option(
        "--sasl-token-command", metavar="COMMAND", help="OAUTHBEARER: a command that prints a token (a vault, a cloud "
                                                        "CLI).")] = None,
    aws_region: Annotated[str | None, cli.Option(
        "--sasl-aws-region", metavar="REGION", help="OAUTHBEARER with AWS MSK IAM tokens for this region.")] = None,
    aws_profile: Annotated[str | None, cli.Option("--sasl-aws-profile", help="AWS MSK IAM: the AWS profile.")] = None,
    aws_role_arn: Annotated[str | None, cli.Option("--sasl-aws-role-arn", help="AWS MSK IAM: a role to assume.")
                            ] = None,
    kerberos_service: Annotated[str | None, cli.Option(
        "--sasl-kerberos-service-name", metavar="NAME", help="GSSAPI: the brokers' service name (kafka).")] = None,
    kerberos_principal: Annotated[str | None, cli.Option(
        "--sasl-kerberos-principal", metavar="PRINCIPAL", help="GSSAPI: log in as this principal (with a keytab).",
    )] = None,
    kerberos_keytab: Annotated[str | None, cli.Option(
        "--sasl-kerberos-keytab", metavar="PATH", help="GSSAPI: the principal's keytab.")] = None,
    kerberos_ccache: Annotated[str | None, cli.Option(
        "--sasl-kerberos-ccache", metavar="CCACHE", help="GSSAPI: a ticket cache (default: $KRB5CCNAME, kinit's).",
    )] = None,
    sasl_extension: Annotated[list[str] | None, cli.Option(
        "--sasl-extension", metavar="KEY=VALUE", help="OAUTHBEARER: a SASL extension, e.g. logicalCluster=lkc-abc "
                                                      "(repeatable; replaces the context's).")] = None,
    connect: Annotated[list[str] | None, cli.Option(
        "--connect", metavar="NAME=URL", help="A Kafka Connect cluster (repeatable; replaces the context's list).",
    )] = None,
    use: Annotated[bool, cli.Option("--use", help="Also make it the current context.")] = False,
    yes: YesOpt = False,
) -> None:
    """Create or change a context."""

    def action() -> None:
        data = load_file()
        table = data.setdefault("contexts", {})
        entry = dict(table.get(name, {}))
        if bootstrap_server is not None:
            from kctl.client.cluster import parse_bootstrap
            from kctl.client.errors import KafkaError

            try:
                parse_bootstrap(bootstrap_server)
            except KafkaError as exc:
                raise CliError(str(exc), "write HOST:PORT[,HOST:PORT]", USAGE) from None
            entry["bootstrap-servers"] = bootstrap_server
        if not entry.get("bootstrap-servers"):
            raise CliError(f"context {name!r} needs --bootstrap-server", None, USAGE)
        for key, value in (("client-id", client_id), ("read-only", read_only), ("theme", theme)):
            if value is not None:
                entry[key] = value
        if tls_ca_file is not None:
            entry["tls"] = {"enabled": True, "ca-file": tls_ca_file}
        sasl_settings = {"username": sasl_username, "password-env": sasl_password_env,
                         "token-endpoint": token_endpoint, "client-id": oauth_client_id,
                         "client-secret-env": oauth_secret_env, "client-secret-file": oauth_secret_file,
                         "scope": oauth_scope, "audience": oauth_audience, "token-file": token_file,
                         "token-command": token_command, "aws-region": aws_region, "aws-profile": aws_profile,
                         "aws-role-arn": aws_role_arn, "service-name": kerberos_service,
                         "principal": kerberos_principal, "keytab": kerberos_keytab, "ccache": kerberos_ccache}
        given = {key: value for key, value in sasl_settings.items() if value is not None}
        if sasl_mechanism is not None or given or sasl_extension is not None:
            entry["sasl"] = _sasl_table(name, dict(entry.get("sasl", {})), sasl_mechanism, given, sasl_extension)
        if connect:
            clusters = []
            for item in connect:
                cluster_name, sep, url = item.partition("=")
                if not sep or not cluster_name or not url:
                    raise CliError(f"--connect {item!r}: expected NAME=URL", "--connect main=http://connect:8083",
                                   USAGE)
                clusters.append({"name": cluster_name, "url": url})
            entry["connect"] = clusters
        table[name] = {k: entry[k] for k in KEYS if k in entry}
        if use:
            data["current-context"] = name
        path = save_file(data)
        diagnostic(f"context {name} saved in {path}" + (" and made current" if use else ""))

    guard(action)


def _sasl_table(name: str, sasl: dict[str, Any], mechanism: str | None, given: dict[str, str],
                extensions: list[str] | None) -> dict[str, Any]:
    """The context's `sasl` table with the options given; a new token source replaces the old."""
    from kctl.connect.cluster import TOKEN_SOURCES
    from kctl.protocol.sasl import MECHANISMS

    if mechanism is not None:
        if mechanism.upper() not in MECHANISMS:
            raise CliError(f"unknown SASL mechanism {mechanism!r}", f"use {', '.join(MECHANISMS)}", USAGE)
        sasl["mechanism"] = mechanism.upper()
    if any(key in given for key in TOKEN_SOURCES):
        for key in TOKEN_SOURCES:
            sasl.pop(key, None)
    sasl.update(given)
    if extensions is not None:
        table = {}
        for item in extensions:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CliError(f"--sasl-extension {item!r}: expected KEY=VALUE",
                               "--sasl-extension logicalCluster=lkc-abc", USAGE)
            table[key] = value
        sasl["extensions"] = table
    if sasl.get("mechanism") == "OAUTHBEARER":
        sources = [key for key in TOKEN_SOURCES if sasl.get(key)]
        if len(sources) != 1:
            chosen = " and ".join(sources) or "none"
            raise CliError(f"context {name!r}: OAUTHBEARER needs one token source, not {chosen}",
                           "give --sasl-token-endpoint (with --sasl-client-id and a secret), --sasl-token-file, "
                           "--sasl-token-command or --sasl-aws-region", USAGE)
    return sasl


@config_app.command("delete-context")
def config_delete_context(name: Annotated[str, cli.Argument(help="The context to delete.")],
                          yes: YesOpt = False) -> None:
    """Delete a context (the current one falls back to the built-in broker)."""

    def action() -> None:
        data = load_file()
        if name not in data.get("contexts", {}):
            raise CliError(f"no context named {name!r}", "list them with `kctl config get-contexts`", NOT_FOUND)
        del data["contexts"][name]
        if data.get("current-context") == name:
            del data["current-context"]
        save_file(data)
        diagnostic(f"context {name} deleted")

    guard(action)


#: `broker status` when no broker runs: the LSB init-script code `systemctl status` uses too.
NOT_RUNNING = 3


def broker_status(output: OutputOpt = "table") -> None:
    """Whether the built-in broker is running, where, and with which data directory. Exits 0
    when it runs and 3 when it does not (as `systemctl status` does)."""

    def action() -> None:
        check_format(output)
        from kctl.connect.local import status

        found = status()
        state = found.to_dict()
        render(Output(state, [], list(state.items())), output)
        if not found.running:
            raise SystemExit(NOT_RUNNING)

    guard(action)


def broker_stop(yes: YesOpt = False) -> None:
    """Stop the built-in broker that kctl started in the background."""

    def action() -> None:
        from kctl.connect.local import status, stop

        before = status()
        after = stop()
        diagnostic("the built-in broker stopped" if before.running and not after.running
                   else "the built-in broker was not running")

    guard(action)


broker_app = cli.Group(help="Run kctl's built-in single-node Kafka broker.", no_args_is_help=True)


@broker_app.command("start")
def broker_start(
    data_dir: Annotated[str | None, cli.Option(
        "--data-dir", help="Where the logs live (default: $XDG_DATA_HOME/kctl/broker).")] = None,
    listen: Annotated[str | None, cli.Option(
        "--listen", help="HOST:PORT to listen on (default 127.0.0.1:9092).")] = None,
    advertised: Annotated[str | None, cli.Option(
        "--advertised", help="HOST:PORT clients are told to connect to (default: the listen address).")] = None,
    config: Annotated[str | None, cli.Option(
        "--config", help="TOML file of Kafka settings: num.partitions, log.retention.ms, ...")] = None,
    log_level: Annotated[str, cli.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    metrics: Annotated[str | None, cli.Option(
        "--metrics", metavar="HOST:PORT", help="Serve Prometheus metrics on /metrics there (default: off).")] = None,
    schema_registry: Annotated[str | None, cli.Option(
        "--schema-registry", metavar="HOST:PORT|off",
        help="Serve a Schema Registry (Confluent's REST API) there, or off (default 127.0.0.1:8081, skipped when "
             "that port is busy).")] = None,
    background: Annotated[bool, cli.Option("--background", "-d", help="Start it detached and return.")] = False,
) -> None:
    """Run the broker in the foreground until Ctrl-C or SIGTERM, then shut down cleanly."""
    if background:
        from kctl.connect.local import start_background

        try:
            extra = (["--metrics", metrics] if metrics else []) + (
                ["--schema-registry", schema_registry] if schema_registry else [])
            state = start_background(announce=diagnostic, extra_args=extra)
        except Exception as exc:
            fail(exc)
        cli.echo(f"built-in broker running on {state.address}" + (f" (pid {state.pid})" if state.pid else ""))
        return
    from broker.__main__ import start

    raise cli.Exit(start(data_dir, listen, advertised, config, log_level, metrics, schema_registry))


broker_app.command("status")(broker_status)
broker_app.command("stop")(broker_stop)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"config": config_app, "broker": broker_app}
