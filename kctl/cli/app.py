"""The typer application behind `kctl`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from kctl import __version__

app = typer.Typer(
    name="kctl",
    help="Terminal admin console and operations toolkit for Apache Kafka. With no context and no -b it "
    "uses the built-in local broker, starting it when needed.",
    epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 connection, 5 auth, 6 timeout, "
    "7 unhealthy (lag --check), 8 refused (read-only context, or the cluster said no). "
    "Man pages: man/kctl.1 and one per command.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    bootstrap_server: str | None = typer.Option(
        None, "--bootstrap-server", "-b", envvar="KCTL_BOOTSTRAP_SERVERS",
        help="HOST:PORT[,HOST:PORT...] of the cluster (overrides the context).",
    ),
    context: str | None = typer.Option(
        None, "--context", envvar="KCTL_CONTEXT", help="A named context from the config file."
    ),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for the cluster."),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Terminal admin console and operations toolkit for Apache Kafka.

    With no context and no -b, kctl uses the built-in local broker and starts it when needed.
    Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 connection, 5 auth, 6 timeout,
    7 unhealthy (lag --check), 8 refused (read-only context or the cluster said no).
    """
    from .runtime import Settings

    ctx.obj = Settings(bootstrap_server, context, timeout)


@app.command("completion")
def completion_command(
    shell: str = typer.Argument(..., help="bash, zsh or fish."),
) -> None:
    """Print the shell completion script (it completes commands, options, topic and group names).

    bash: kctl completion bash > ~/.local/share/bash-completion/completions/kctl
    zsh:  kctl completion zsh > "${fpath[1]}/_kctl"
    fish: kctl completion fish > ~/.config/fish/completions/kctl.fish
    """
    from .completion import SHELLS, script
    from .errors import USAGE, CliError
    from .runtime import fail

    if shell not in SHELLS:
        fail(CliError(f"no completion for {shell!r}", f"use one of: {', '.join(SHELLS)}", USAGE))
    typer.echo(script(shell), nl=False)


@app.command("tui")
def tui_command(
    ctx: typer.Context,
    view: Annotated[str, typer.Argument(help="The view to start in: topics, groups or cluster.")] = "topics",
    refresh: Annotated[float | None, typer.Option("--refresh", help="Seconds between refreshes "
                                                  "(default: 5, and 2 in a group's detail).")] = None,
) -> None:
    """The interactive console: topics, groups and brokers, live (also plain `kctl` in a terminal)."""
    from .errors import USAGE, CliError
    from .runtime import fail

    if view not in ("topics", "groups", "cluster"):
        fail(CliError(f"no view {view!r}", "start in topics, groups or cluster", USAGE))
    if refresh is not None and refresh <= 0:
        fail(CliError("--refresh must be a positive number of seconds", None, USAGE))
    from kctl.tui.app import KctlTui

    KctlTui(ctx.obj, start=view, refresh_s=refresh).run()


@app.command("protocol")
def protocol_command() -> None:
    """List the Kafka APIs and version ranges kctl speaks."""
    from kctl.protocol.api import API_BY_KEY

    for key in sorted(API_BY_KEY):
        spec = API_BY_KEY[key]
        flex = "-" if spec.flexible_from is None else f"v{spec.flexible_from}+"
        typer.echo(f"{key:>3}  {spec.name:<30} v{spec.min_version}-{spec.max_version}  flexible {flex}")


from .cmd_config import broker_status, broker_stop, config_app  # noqa: E402
from .cmd_data import offsets, produce, records_app, tail  # noqa: E402
from .cmd_groups import groups_app, lag  # noqa: E402
from .cmd_topics import brokers_app, cluster_app, configs_app, topics_app  # noqa: E402

app.add_typer(cluster_app, name="cluster")
app.add_typer(brokers_app, name="brokers")
app.add_typer(topics_app, name="topics")
app.add_typer(configs_app, name="configs")
app.add_typer(groups_app, name="groups")
app.add_typer(records_app, name="records")
app.add_typer(config_app, name="config")
app.command("offsets")(offsets)
app.command("produce")(produce)
app.command("tail")(tail)
app.command("consume", help="The same as tail.")(tail)
app.command("lag")(lag)

broker_app = typer.Typer(help="Run kctl's built-in single-node Kafka broker.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")


@broker_app.command("start")
def broker_start(
    data_dir: str | None = typer.Option(
        None, "--data-dir", help="Where the logs live (default: $XDG_DATA_HOME/kctl/broker)."
    ),
    listen: str | None = typer.Option(None, "--listen", help="HOST:PORT to listen on (default 127.0.0.1:9092)."),
    advertised: str | None = typer.Option(
        None, "--advertised", help="HOST:PORT clients are told to connect to (default: the listen address)."
    ),
    config: str | None = typer.Option(
        None, "--config", help="TOML file of Kafka settings: num.partitions, log.retention.ms, ..."
    ),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR."),
    background: bool = typer.Option(False, "--background", "-d", help="Start it detached and return."),
) -> None:
    """Run the broker in the foreground until Ctrl-C or SIGTERM, then shut down cleanly."""
    if background:
        from .local import start_background
        from .runtime import fail

        try:
            state = start_background()
        except Exception as exc:
            fail(exc)
        typer.echo(f"built-in broker running on {state.address}" + (f" (pid {state.pid})" if state.pid else ""))
        return
    from broker.__main__ import start

    raise typer.Exit(start(data_dir, listen, advertised, config, log_level))


broker_app.command("status")(broker_status)
broker_app.command("stop")(broker_stop)


def run(args: list[str]) -> int:
    if "_KCTL_COMPLETE" in os.environ:  # a shell asking for completions (see `kctl completion`)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        app(args=args, prog_name="kctl")
    except SystemExit as exc:  # click ends every run, good or bad, with SystemExit
        return exc.code if isinstance(exc.code, int) else 1
    return 0
