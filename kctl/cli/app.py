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


def run(args: list[str]) -> int:
    try:
        app(args=args, prog_name="kctl")
    except SystemExit as exc:  # click ends every run, good or bad, with SystemExit
        return exc.code if isinstance(exc.code, int) else 1
    return 0
