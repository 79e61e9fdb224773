"""The `kctl` command tree: the root, its options, and the commands each module declares."""

from __future__ import annotations

import os
from typing import Annotated

import click

from kctl import __version__

from . import declare as cli
from .declare import LazySubGroup, SuggestingGroup, build_command

#: The commands whose modules load only when they run: name -> (module, attribute, help override).
#: An attribute that is a `declare.Group` is a command group; a function is a single command. Read on first
#: use from commands.json (see `lazy_commands`).
LAZY_COMMANDS: dict[str, tuple[str, str, str | None]] = {}


def lazy_commands() -> dict[str, tuple[str, str, str | None]]:
    """Each cmd_ module's COMMANDS, indexed into commands.json by `python -m kctl.cli.docs` (a
    test keeps it fresh), so that listing them imports none of them."""
    if not LAZY_COMMANDS:
        import json
        from pathlib import Path

        raw = json.loads(Path(__file__).with_name("commands.json").read_text())
        LAZY_COMMANDS.update({name: (module, attribute, help_text)
                              for name, (module, attribute, help_text) in raw.items()})
    return LAZY_COMMANDS


class LazyGroup(SuggestingGroup):
    """The root `kctl` group. A command's module is imported, and its declaration built into a
    click command, when that command runs: building them all would cost more than most commands
    take to run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*app.names(), *(name for name in lazy_commands() if name not in app.names())]

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            built = app.build(cmd_name) or (_load_command(cmd_name) if cmd_name in lazy_commands() else None)
            if built is None:
                return None
            self.commands[cmd_name] = built
        return self.commands[cmd_name]


def _load_command(name: str) -> click.Command:
    import importlib

    module_name, attribute, help_text = lazy_commands()[name]
    target = getattr(importlib.import_module(f"{__package__}.{module_name}"), attribute)
    if isinstance(target, cli.Group):
        return LazySubGroup(target, name)
    return build_command(target, name, help_text)


#: The root's own commands; the others are in `lazy_commands()`.
app = cli.Group()

ROOT_HELP = ("Terminal admin console and operations toolkit for Apache Kafka. With no context and no -b it "
             "uses the built-in local broker, starting it when needed.")
ROOT_EPILOG = ("Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 connection, 5 auth, 6 timeout, "
               "7 unhealthy (a --check found trouble), 8 refused (read-only context, or the cluster said no). "
               "The options below (-b, --context, --timeout, --schema-registry, --connect) go before or after "
               "the command, and so does a command's -o. Man pages: `man kctl` and one per command (`man kctl-tail`).")


def _version(value: bool) -> None:
    if value:
        cli.echo(f"kctl {__version__}")
        raise cli.Exit()


def root(
    ctx: cli.Context,
    bootstrap_server: Annotated[str | None, cli.Option(
        "--bootstrap-server", "-b", envvar="KCTL_BOOTSTRAP_SERVERS",
        help="HOST:PORT[,HOST:PORT...] of the cluster (overrides the context).")] = None,
    context: Annotated[str | None, cli.Option(
        "--context", envvar="KCTL_CONTEXT", help="A named context from the config file.")] = None,
    timeout: Annotated[float, cli.Option("--timeout", help="Seconds to wait for the cluster.")] = 30.0,
    schema_registry: Annotated[str | None, cli.Option(
        "--schema-registry", envvar="KCTL_SCHEMA_REGISTRY", metavar="URL",
        help="The Schema Registry (overrides the context's; the built-in broker's is found by itself).")] = None,
    connect: Annotated[str | None, cli.Option(
        "--connect", envvar="KCTL_CONNECT", metavar="URL",
        help="A Kafka Connect worker's REST URL (overrides the context's connect clusters).")] = None,
    version: Annotated[bool, cli.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Terminal admin console and operations toolkit for Apache Kafka.

    With no context and no -b, kctl uses the built-in local broker and starts it when needed.
    Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 connection, 5 auth, 6 timeout,
    7 unhealthy (a --check found trouble), 8 refused (read-only context or the cluster said no).
    """
    from kctl.connect.cluster import Settings

    ctx.obj = Settings(bootstrap_server, context, timeout, schema_registry, connect)


@app.command("completion")
def completion_command(
    shell: Annotated[str, cli.Argument(help="bash, zsh or fish.")],
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
    cli.echo(script(shell), nl=False)


@app.command("tui")
def tui_command(
    ctx: cli.Context,
    view: Annotated[str, cli.Argument(help="The view to start in: topics, groups or cluster.")] = "topics",
    refresh: Annotated[float | None, cli.Option("--refresh", help="Seconds between refreshes "
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
        cli.echo(f"{key:>3}  {spec.name:<30} v{spec.min_version}-{spec.max_version}  flexible {flex}")


def root_command() -> LazyGroup:
    """The whole `kctl` command tree, each command built when it is first asked for."""
    return build_command(root, "kctl", ROOT_HELP, cls=LazyGroup, epilog=ROOT_EPILOG,
                         no_args_is_help=True)  # type: ignore[return-value]  # cls is LazyGroup


def run(args: list[str]) -> int:
    root = root_command()
    if "_KCTL_COMPLETE" in os.environ:  # a shell asking for completions (see `kctl completion`)
        from .completion import answer

        cli.echo(answer(root, os.environ), nl=False)
        return 0
    from .placement import place_options

    args = place_options(root, args)
    try:
        root.main(args=args, prog_name="kctl")
    except SystemExit as exc:  # click ends every run, good or bad, with SystemExit
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # raised while a command reads its options (a bad --filter or --until)
        from .runtime import report

        return report(exc)
    return 0
