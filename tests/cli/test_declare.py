"""kctl's declaration layer: a function's annotated parameters become a click command."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated, Any

import click
import pytest
from click.testing import CliRunner

from kctl.cli import declare as cli
from kctl.cli.declare import Group, LazySubGroup, build_command

seen: dict[str, Any] = {}


def every_kind(
    ctx: cli.Context,
    name: Annotated[str, cli.Argument(help="A name.")],
    files: Annotated[list[Path] | None, cli.Argument(help="Files.")] = None,
    count: Annotated[int, cli.Option("--count", "-c", help="How many.")] = 3,
    ratio: Annotated[float | None, cli.Option("--ratio")] = None,
    tag: Annotated[list[str] | None, cli.Option("--tag", help="Repeatable.")] = None,
    partition: Annotated[list[int] | None, cli.Option("--partition", "-p")] = None,
    yes: Annotated[bool, cli.Option("--yes", "-y")] = False,
    read_only: Annotated[bool | None, cli.Option("--read-only/--read-write")] = None,
) -> None:
    """Every kind of parameter kctl's commands take."""
    seen.clear()
    seen.update(ctx=ctx, name=name, files=files, count=count, ratio=ratio, tag=tag, partition=partition, yes=yes,
                read_only=read_only)


def run(command: click.Command, *args: str) -> click.testing.Result:
    return CliRunner().invoke(command, list(args), prog_name="kctl")


def test_values_arrive_converted_and_unset_ones_as_declared() -> None:
    command = build_command(every_kind, "every")
    assert run(command, "a").exit_code == 0
    assert isinstance(seen["ctx"], click.Context)
    assert {k: v for k, v in seen.items() if k != "ctx"} == {
        "name": "a", "files": None, "count": 3, "ratio": None, "tag": None, "partition": None, "yes": False,
        "read_only": None}
    result = run(command, "a", "x.log", "y.log", "-c", "7", "--ratio", "0.5", "--tag", "t1", "--tag", "t2",
                 "-p", "1", "-p", "2", "-y", "--read-write")
    assert result.exit_code == 0, result.output
    assert seen["files"] == [Path("x.log"), Path("y.log")] and seen["count"] == 7 and seen["ratio"] == 0.5
    assert seen["tag"] == ["t1", "t2"] and seen["partition"] == [1, 2] and seen["yes"] is True
    assert seen["read_only"] is False


@pytest.mark.parametrize(("args", "said"), [
    (["a", "-c", "ten"], "'ten' is not a valid integer"),
    (["a", "--ratio", "half"], "'half' is not a valid float"),
    (["a", "-p", "one"], "'one' is not a valid integer"),
    ([], "Missing argument 'NAME'"),
    (["a", "--colour"], "No such option '--colour'. Did you mean '--count'?"),
])
def test_bad_values_are_usage_errors_in_clicks_words(args: list[str], said: str) -> None:
    seen.clear()
    result = run(build_command(every_kind, "every"), *args)
    assert result.exit_code == 2 and said in result.output and not seen


def test_help_comes_from_the_docstring_and_the_declarations() -> None:
    help_text = run(build_command(every_kind, "every"), "--help").output
    assert "Every kind of parameter kctl's commands take." in help_text
    assert "-c, --count INTEGER" in help_text and "[default: 3]" in help_text
    assert "-y, --yes" in help_text and "--read-only / --read-write" in help_text


def test_a_type_the_layer_cannot_convert_is_refused_when_built() -> None:
    def when(at: Annotated[datetime.datetime, cli.Option("--at")]) -> None:
        """Never runs."""

    with pytest.raises(TypeError, match=r"when\(at\).*datetime"):
        build_command(when, "when")


def test_a_group_builds_only_the_command_that_runs() -> None:
    built: list[str] = []
    group = Group(help="Things.")

    @group.command("first")
    def first() -> None:
        """The first."""
        built.append("first ran")

    @group.command("second")
    def second(flag: Annotated[bool, cli.Option("--flag")] = False) -> None:
        """The second."""

    lazy = LazySubGroup(group, "things")
    assert run(lazy, "first").exit_code == 0 and built == ["first ran"]
    assert set(lazy.commands) == {"first"}
    missing = run(lazy, "frist")
    assert missing.exit_code == 2 and "Did you mean 'first'?" in missing.output
    assert "second" in run(lazy, "--help").output


def test_every_kctl_command_refuses_to_run_without_its_required_arguments() -> None:
    """click 8.2 and later take an explicit default of None as a value: a required argument
    declared that way would let `kctl groups describe` run with no group."""
    from kctl.cli.app import root_command
    from kctl.cli.docs import _walk

    root = root_command()
    root.load_all()
    checked = 0
    for path, command in _walk(root, []):
        required = [p for p in command.params if p.required]
        if isinstance(command, click.Group) or not required:
            continue
        with pytest.raises(click.MissingParameter) as missing:
            command.make_context(" ".join(path), [], parent=click.Context(root, info_name="kctl"))
        assert missing.value.param in required
        checked += 1
    assert checked > 40
