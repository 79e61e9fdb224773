"""How kctl's commands are declared, and how a declaration becomes a click command.

A command is a function whose parameters say what they take, as typer spells it:

    @topics.command("list")
    def list_topics(ctx: cli.Context,
                    internal: Annotated[bool, cli.Option("--internal", help="...")] = False) -> None:

`build_command` turns it into a `click.Command` with click's public API alone: each parameter's
type (text, integer, number, flag, path, or a list of one of those) becomes click's own type, so a
bad value gets click's message and exit code 2. kctl owns this layer rather than running typer,
which converts every value through pydantic (35-40 ms of every command) and keeps its copy of
click private.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import click

Context = click.Context
Exit = click.exceptions.Exit
echo = click.echo


class Option:
    """An option of a command: `Annotated[str, Option("--name", "-n", help=...)] = "default"`. A
    bool option is a flag; `"--a/--b"` gives the flag a negative. The default is the parameter's;
    without one the option is required."""

    def __init__(self, *decls: str, help: str | None = None, metavar: str | None = None,
                 envvar: str | None = None, callback: Callable[[Any], Any] | None = None,
                 is_eager: bool = False, hidden: bool = False,
                 autocompletion: Callable[[Any, str], list[str]] | None = None) -> None:
        self.decls = decls
        self.help = help
        self.metavar = metavar
        self.envvar = envvar
        self.callback = callback
        self.is_eager = is_eager
        self.hidden = hidden
        self.autocompletion = autocompletion


@dataclass(frozen=True)
class Argument:
    """A positional argument: `Annotated[str, Argument(help=...)]`; a list takes any number. The
    default is the parameter's; without one the argument is required."""

    help: str | None = None
    metavar: str | None = None
    autocompletion: Callable[[Any, str], list[str]] | None = None


@dataclass
class Group:
    """A command group (`kctl topics`): its commands and groups, built into click when used."""

    help: str | None = None
    no_args_is_help: bool = True
    commands: dict[str, tuple[Callable[..., Any], str | None]] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def command(self, name: str | None = None, *, help: str | None = None
                ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.commands[name or function.__name__.replace("_", "-")] = (function, help)
            return function

        return register

    def add_group(self, group: Group, name: str) -> None:
        self.groups[name] = group

    def names(self) -> list[str]:
        return [*self.commands, *self.groups]

    def build(self, name: str) -> click.Command | None:
        if name in self.commands:
            function, help_text = self.commands[name]
            return build_command(function, name, help_text)
        if name in self.groups:
            return LazySubGroup(self.groups[name], name)
        return None


class SuggestingGroup(click.Group):
    """A group that suggests the nearest of all its command names, built or not."""

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            from difflib import get_close_matches

            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if not matches or "Did you mean" in error.message:
                raise
            raise click.UsageError(f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?",
                                   error.ctx) from None

    def load_all(self) -> None:
        """Every command now, for the man pages and help that list them all."""
        for name in self.list_commands(click.Context(self)):
            command = self.get_command(click.Context(self), name)
            if isinstance(command, SuggestingGroup):
                command.load_all()


class LazySubGroup(SuggestingGroup):
    """A group whose commands are built when one runs or help lists them: `kctl topics list`
    builds `list` alone."""

    def __init__(self, declared: Group, name: str) -> None:
        super().__init__(name, help=declared.help, no_args_is_help=declared.no_args_is_help)
        self.declared = declared

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in self.declared.names() if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            built = self.declared.build(cmd_name)
            if built is None:
                return None
            self.commands[cmd_name] = built
        return self.commands[cmd_name]


# ---- parameters --------------------------------------------------------------------------------------------
_CLICK_TYPES: dict[Any, click.ParamType[Any]] = {
    str: click.STRING, int: click.INT, float: click.FLOAT, bool: click.BOOL,
    Path: click.Path(path_type=Path),
}


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _parameter_type(annotation: Any, where: str) -> tuple[click.ParamType[Any], bool]:
    """click's type for an annotation, and whether it takes many values (a list)."""
    bare = _without_none(annotation)
    many = typing.get_origin(bare) is list
    element = typing.get_args(bare)[0] if many else bare
    if element not in _CLICK_TYPES:
        raise TypeError(f"{where}: kctl's commands take text, integers, numbers, flags, paths or lists "
                        f"of those, not {annotation!r}")
    return _CLICK_TYPES[element], many


def _completer(complete: Callable[[Any, str], list[str]] | None) -> Any:
    if complete is None:
        return None

    def shell_complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        return complete(ctx, incomplete)

    return shell_complete


def _value_callback(callback: Callable[[Any], Any] | None) -> Any:
    if callback is None:
        return None

    def call(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        result = callback(value)
        return value if result is None else result

    return call


def _declared(function: Callable[..., Any]) -> Iterator[tuple[str, Any, Any, Any]]:
    """Each parameter of a command: (name, annotation, declaration, default)."""
    for parameter in inspect.signature(function).parameters.values():
        annotation = parameter.annotation
        if isinstance(annotation, str):
            annotation = eval(annotation, function.__globals__)  # the module's own names, as written
        declaration: Any = None
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *extras = typing.get_args(annotation)
            declaration = next((e for e in extras if isinstance(e, Option | Argument)), None)
        yield parameter.name, annotation, declaration, parameter.default


def _default(default: Any, required: bool, many: bool) -> dict[str, Any]:
    """The default for click, given only where there is one: click 8.2 and later take an explicit
    None as a value, which a required parameter would then accept."""
    if required or (many and default is None):
        return {}
    return {"default": default}


def _option(name: str, annotation: Any, declared: Option | None, default: Any, where: str) -> click.Option:
    declared = declared or Option(f"--{name.replace('_', '-')}")
    kind, many = _parameter_type(annotation, where)
    required = default is inspect.Parameter.empty
    flag = kind is click.BOOL and not many
    return click.Option(
        [name, *(declared.decls or (f"--{name.replace('_', '-')}",))],
        type=None if flag else kind, is_flag=flag or None,
        **_default(default, required, many), required=required, multiple=many, help=declared.help,
        envvar=declared.envvar,
        metavar=None if flag else declared.metavar or kind.name.upper(),  # named in the man pages too
        callback=_value_callback(declared.callback), is_eager=declared.is_eager, hidden=declared.hidden,
        shell_complete=_completer(declared.autocompletion), show_envvar=True,
        show_default=not (flag or required or many or default is None))


def _argument(name: str, annotation: Any, declared: Argument | None, default: Any, where: str) -> click.Argument:
    declared = declared or Argument()
    kind, many = _parameter_type(annotation, where)
    required = default is inspect.Parameter.empty
    argument = click.Argument(
        [name], type=kind, nargs=-1 if many else 1, required=required, **_default(default, required, many),
        metavar=declared.metavar,
        shell_complete=_completer(declared.autocompletion))
    argument.help = declared.help  # shown in the man pages
    return argument


def build_command(function: Callable[..., Any], name: str, help_text: str | None = None,
                  cls: type[click.Command] = click.Command, **settings: Any) -> click.Command:
    """The click command for a declared function (its docstring is the help)."""
    params: list[click.Parameter] = []
    context_name: str | None = None
    lists: dict[str, Any] = {}  # name -> its default
    for parameter, annotation, declared, default in _declared(function):
        where = f"{function.__module__}.{function.__qualname__}({parameter})"
        if annotation is click.Context:
            context_name = parameter
            continue
        if isinstance(declared, Argument) or (declared is None and default is inspect.Parameter.empty):
            params.append(_argument(parameter, annotation, declared, default, where))
        else:
            params.append(_option(parameter, annotation, declared, default, where))
        if params[-1].multiple or params[-1].nargs == -1:
            lists[parameter] = default

    def invoke(**values: Any) -> Any:
        for many, default in lists.items():  # click hands over a tuple; the commands take a list
            given = values.get(many) or ()
            values[many] = list(given) if given or default is not None else None
        if context_name is not None:
            values[context_name] = click.get_current_context()
        return function(**values)

    return cls(name, params=params, callback=invoke, help=help_text or inspect.getdoc(function), **settings)
