"""The typer application behind `kctl`."""

from __future__ import annotations

import typer

from kctl import __version__

app = typer.Typer(
    name="kctl",
    help="Terminal admin console and operations toolkit for Apache Kafka.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Terminal admin console and operations toolkit for Apache Kafka."""


@app.command("protocol")
def protocol_command() -> None:
    """List the Kafka APIs and version ranges kctl speaks."""
    from kctl.protocol.api import API_BY_KEY

    for key in sorted(API_BY_KEY):
        spec = API_BY_KEY[key]
        flex = "-" if spec.flexible_from is None else f"v{spec.flexible_from}+"
        typer.echo(f"{key:>3}  {spec.name:<30} v{spec.min_version}-{spec.max_version}  flexible {flex}")


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
) -> None:
    """Run the broker in the foreground until Ctrl-C or SIGTERM, then shut down cleanly."""
    from broker.__main__ import start

    raise typer.Exit(start(data_dir, listen, advertised, config, log_level))


def run(args: list[str]) -> int:
    try:
        app(args=args, prog_name="kctl")
    except SystemExit as exc:  # click ends every run, good or bad, with SystemExit
        return exc.code if isinstance(exc.code, int) else 1
    return 0
