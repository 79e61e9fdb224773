"""Global options are taken before or after the command, as kubectl, rpk and kafkactl take them."""

from __future__ import annotations

from typing import Any

import pytest

from kctl.cli.docs import _command_tree, _is_group, _walk
from kctl.cli.placement import place_options
from tests.broker.conftest import BrokerProcess

from .test_commands import kctl, unique

ROOT = _command_tree()
LEAVES = [(path, command) for path, command in _walk(ROOT, []) if path and not _is_group(command)]
GLOBALS = {"bootstrap_server": ["-b", "h1:9092"], "context": ["--context", "prod"], "timeout": ["--timeout", "7"],
           "schema_registry": ["--schema-registry", "http://r:8081"], "connect": ["--connect", "http://c:8083"]}


def _owns(command: Any, flag: str) -> bool:
    return any(flag in getattr(p, "opts", ()) for p in command.params)


def _root_params(args: list[str]) -> dict[str, Any]:
    """What click's root reads from a command line, as `kctl` would run it."""
    with ROOT.make_context("kctl", place_options(ROOT, list(args)), resilient_parsing=True) as ctx:
        return dict(ctx.params), [*getattr(ctx, "_protected_args", []), *ctx.args]  # type: ignore[return-value]


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_takes_the_global_options_after_it(path: list[str]) -> None:
    command = dict((tuple(p), c) for p, c in LEAVES)[tuple(path)]
    for name, option in GLOBALS.items():
        params, rest = _root_params([*path, "ARG", *option])
        if _owns(command, option[0]):  # the command's own option of that name stays its own
            assert rest == [*path, "ARG", *option], (path, option)
        else:
            assert str(params[name]) == str(option[1]) if name != "timeout" else params[name] == 7.0, (path, name)
            assert rest == [*path, "ARG"], (path, option)
    if _owns(command, "-o"):
        params, rest = _root_params(["-o", "json", *path, "ARG"])
        assert rest == [*path, "-o", "json", "ARG"], path
        params, rest = _root_params(["--output=yaml", "-b", "h2:1", *path])
        assert params["bootstrap_server"] == "h2:1" and rest == [*path, "--output=yaml"], path


def test_the_forms_of_an_option_and_what_never_moves() -> None:
    assert place_options(ROOT, ["topics", "list", "--timeout=3", "-bh:1"]) == ["--timeout=3", "-bh:1", "topics", "list"]
    # Values of the command's own options are never taken for options, nor is anything after --.
    assert place_options(ROOT, ["produce", "t", "--key", "-b", "--", "-b", "x"]) == \
        ["produce", "t", "--key", "-b", "--", "-b", "x"]
    assert place_options(ROOT, ["config", "set-context", "c", "-b", "h:1"]) == \
        ["config", "set-context", "c", "-b", "h:1"]
    assert place_options(ROOT, ["nonsense", "-b", "h:1"]) == ["nonsense", "-b", "h:1"]
    assert place_options(ROOT, ["topics", "-b", "h:1", "list"]) == ["-b", "h:1", "topics", "list"]


def test_global_options_after_the_command_reach_the_cluster(env: dict[str, str], broker: BrokerProcess) -> None:
    topic = unique("placed")
    others = {k: v for k, v in env.items() if k != "KCTL_BOOTSTRAP_SERVERS"}
    kctl(others, "topics", "create", topic, "-b", broker.bootstrap, "--timeout", "20")
    listed = kctl(others, "topics", "list", "-b", broker.bootstrap).stdout
    assert topic in listed
    assert topic in kctl(others, "-o", "json", "-b", broker.bootstrap, "topics", "list").stdout
    kctl(others, "produce", topic, "--create", "-b", broker.bootstrap, stdin="one\n")
    tailed = kctl(others, "tail", topic, "--from", "beginning", "-b", broker.bootstrap, "-o", "jsonl").stdout
    assert '"value": "one"' in tailed
    # The registry given after the command is the one asked (nothing listens there: it says so).
    failed = kctl(others, "schemas", "list", "-b", broker.bootstrap, "--schema-registry", "http://127.0.0.1:1",
                  ok=False)
    assert failed.returncode == 4 and "http://127.0.0.1:1" in failed.stderr
    wrong = kctl(others, "topics", "list", "-b", "127.0.0.1:1", "--timeout", "2", ok=False)
    assert wrong.returncode == 4 and "127.0.0.1:1" in wrong.stderr


def test_the_help_says_where_global_options_go() -> None:
    assert "before or after the command" in kctl({}, "--help").stdout
