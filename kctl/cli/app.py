"""The typer application behind `kctl`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any, cast

import typer
import typer.main
from typer.core import TyperArgument, TyperGroup

from kctl import __version__

#: The commands whose modules load only when they run: name -> (module, attribute, help override).
#: An attribute that is a Typer is a command group; a function is a single command. Read on first
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


class _PlainArgument(TyperArgument):
    """An argument shown in usage lines as click shows it (`GROUP`, `[TOPIC]...`), not `{group}`."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if not self.required:
            name = f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return _click_type_name(self)


_CLICK_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN", "Path": "PATH"}


def _click_type_name(param: Any) -> str:
    if not hasattr(param, "bare_type"):  # typer before 0.29: click's own types name themselves
        return str(param.type.name).upper()
    bare = str(param.bare_type())
    element = bare[5:-1] if bare.startswith("list[") else bare
    return _CLICK_TYPE_NAMES.get(element, element.upper())


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(value)
    return int(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text in ("0", "false", "f", "no", "n", "off"):
        return False
    raise ValueError(value)


#: Types converted here, as click does, instead of through pydantic (see `_plain_coercion`).
_PLAIN_CONVERSIONS: dict[Any, tuple[Callable[[Any], Any], str]] = {
    str: (str, "text"), int: (_as_int, "integer"), float: (float, "number"), bool: (_as_bool, "boolean"),
    list[str]: (str, "text"), list[int]: (_as_int, "integer"),
}


class _PlainConversion:
    """Converts a parameter's text as click does, with click's message for a bad value. It is
    what typer asks a parameter for (`get_runtime_param()`), and answers typer's one question,
    `coerce(value, param, ctx)`."""

    def __init__(self, convert: Callable[[Any], Any], type_name: str) -> None:
        self.convert = convert
        self.type_name = type_name

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        try:
            if isinstance(value, list | tuple):
                return [self.convert(v) for v in value]
            return self.convert(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{value!r} is not a valid {self.type_name}.", ctx=ctx, param=param) from None


def _plain_coercion(param: Any) -> None:
    """typer 0.29 converts every value through a pydantic TypeAdapter built on first use, and
    importing pydantic costs 35-40 ms of every command (the CLI start-up target in bench/cli.py
    leaves no room for it). kctl's options are text, integers, numbers, booleans and lists of
    them: a parameter of those gets `_PlainConversion` in the slot typer fills lazily. A typer
    without that slot converts as it always has, only slower."""
    if not hasattr(param, "get_runtime_param") or getattr(param, "_runtime_param", "absent") is not None:
        return
    descriptor = getattr(param, "type_descriptor", None)
    found = _PLAIN_CONVERSIONS.get(getattr(descriptor, "annotation", None))
    if found is None or getattr(descriptor, "file_annotation", None) is not None:
        return
    param._runtime_param = _PlainConversion(*found)


def click_style(command: Any) -> Any:
    """Help as typer and click users know it: flags show no value type, options show TEXT,
    INTEGER, FLOAT or their own metavar (`TOPIC[:P,P]`), arguments are upper case. Applied to
    a command and every command under it; returns it."""
    for param in command.params:
        _plain_coercion(param)
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = (param.name or "").upper()
            param.__class__ = _PlainArgument
        elif getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _click_type_name(param)
    plain_help_option = command.get_help_option

    def get_help_option(ctx: Any) -> Any:  # click adds --help late, as a flag like the others
        option = plain_help_option(ctx)
        if option is not None:
            option.metavar = ""
            _plain_coercion(option)
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        click_style(sub)
    return command


class LazyGroup(TyperGroup):
    """The root `kctl` group. A command's module is imported, and its definition turned into a
    click command, when that command runs: building every command's parameters took typer
    longer than most commands take to run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        click_style(self)

    # click's own types are typer's private copy; Any keeps them out of our signatures.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in lazy_commands() if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in lazy_commands():
            self.commands[cmd_name] = _load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        return _suggesting(super().resolve_command, self.list_commands(ctx), ctx, args)

    def load_all(self) -> None:
        """Every command now, for the man pages and help that list them all."""
        for name in lazy_commands():
            command = self.get_command(None, name)
            if isinstance(command, _LazySubGroup):
                command.load_all()


def _suggesting(resolve: Callable[[Any, list[str]], Any], names: list[str], ctx: Any, args: list[str]) -> Any:
    """typer suggests the nearest command only among those already built: a lazy group suggests
    among all of its names."""
    from difflib import get_close_matches

    # click's UsageError as typer's copy of click has it: the base of typer's public BadParameter.
    usage_error: type[Any] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

    try:
        return resolve(ctx, args)
    except usage_error as error:
        matches = get_close_matches(args[0], names) if args else []
        if matches and "Did you mean" not in error.message:
            error.message = f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
        raise


class _LazySubGroup(TyperGroup):
    """A command group (`kctl topics`) whose commands are built when one runs, or when help
    lists them: `kctl topics list` builds `list` alone."""

    _pending: dict[str, Any]  # command name -> typer's CommandInfo, not built yet
    _holder: typer.Typer  # whose settings typer builds the commands with

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in self._pending if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        info = self._pending.pop(cmd_name, None)
        if info is not None:
            self.commands[cmd_name] = click_style(typer.main.get_command_from_info(
                info, pretty_exceptions_short=self._holder.pretty_exceptions_short,
                rich_markup_mode=self._holder.rich_markup_mode))
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        return _suggesting(super().resolve_command, self.list_commands(ctx), ctx, args)

    def load_all(self) -> None:
        for name in list(self._pending):
            self.get_command(None, name)
        for command in self.commands.values():
            if isinstance(command, _LazySubGroup):
                command.load_all()


def _load_command(name: str) -> Any:
    import copy
    import importlib

    module_name, attribute, help_text = lazy_commands()[name]
    target = getattr(importlib.import_module(f"{__package__}.{module_name}"), attribute)
    holder = typer.Typer()
    if not isinstance(target, typer.Typer):
        holder.command(name, help=help_text)(target)
        return click_style(typer.main.get_group(holder).commands[name])
    shell = copy.copy(target)  # the group without its commands; they are built on first use
    shell.registered_commands = []
    holder.add_typer(shell, name=name)
    group = typer.main.get_group(holder).commands[name]
    if type(group) is not TyperGroup:  # a group class of its own: built whole, as typer builds it
        holder = typer.Typer()
        holder.add_typer(target, name=name)
        return click_style(typer.main.get_group(holder).commands[name])
    group.__class__ = _LazySubGroup
    lazy = cast(_LazySubGroup, group)
    lazy._pending = {info.name or typer.main.get_command_name(getattr(info.callback, "__name__", "")): info
                     for info in target.registered_commands}
    lazy._holder = holder
    return click_style(lazy)


app = typer.Typer(
    name="kctl",
    cls=LazyGroup,
    help="Terminal admin console and operations toolkit for Apache Kafka. With no context and no -b it "
    "uses the built-in local broker, starting it when needed.",
    epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 connection, 5 auth, 6 timeout, "
    "7 unhealthy (a --check found trouble), 8 refused (read-only context, or the cluster said no). "
    "The options below (-b, --context, --timeout, --schema-registry, --connect) go before or after the command, "
    "and so does a command's -o. Man pages: `man kctl` and one per command (`man kctl-tail`).",
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
    schema_registry: str | None = typer.Option(
        None, "--schema-registry", envvar="KCTL_SCHEMA_REGISTRY", metavar="URL",
        help="The Schema Registry (overrides the context's; the built-in broker's is found by itself).",
    ),
    connect: str | None = typer.Option(
        None, "--connect", envvar="KCTL_CONNECT", metavar="URL",
        help="A Kafka Connect worker's REST URL (overrides the context's connect clusters).",
    ),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
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


def run(args: list[str]) -> int:
    root = typer.main.get_command(app)
    if "_KCTL_COMPLETE" in os.environ:  # a shell asking for completions (see `kctl completion`)
        from .completion import answer

        typer.echo(answer(root, os.environ), nl=False)
        return 0
    from .placement import place_options

    args = place_options(root, args)
    try:
        root(args=args, prog_name="kctl")
    except SystemExit as exc:  # click ends every run, good or bad, with SystemExit
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # raised while a command reads its options (a bad --filter or --until)
        from .runtime import report

        return report(exc)
    return 0
