"""Every kctl command as a user runs it: a subprocess, against a broker started for the tests."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker.conftest import BrokerProcess, free_port

ck = pytest.importorskip("confluent_kafka")


def kctl(
    env: dict[str, str], *args: str, stdin: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "kctl", *args], env=env, input=stdin, capture_output=True,
                            text=True, timeout=60)
    if ok:
        assert result.returncode == 0, f"kctl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> object:
    return json.loads(result.stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def test_topics_lifecycle_and_json_shapes(env: dict[str, str]) -> None:
    topic = unique("cli-topic")
    kctl(env, "topics", "create", topic, "-p", "3", "-c", "retention.ms=3600000")
    listed = as_json(kctl(env, "topics", "list", "-o", "json"))
    assert any(t["name"] == topic and t["partitions"] == 3 for t in listed)
    described = as_json(kctl(env, "topics", "describe", topic, "-o", "json"))
    assert [p["partition"] for p in described["partitions"]] == [0, 1, 2]
    assert {"name": "retention.ms", "value": "3600000", "source": "topic"}.items() <= described["configs"][0].items()
    kctl(env, "topics", "alter", topic, "-p", "4", "-c", "retention.ms=7200000")
    configs = as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json"))
    assert {c["name"]: c["value"] for c in configs}["retention.ms"] == "7200000"
    kctl(env, "configs", "delete", "topic", topic, "retention.ms")
    assert all(c["name"] != "retention.ms" for c in as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json")))
    for fmt in ("yaml", "csv", "jsonl", "wide"):
        assert topic in kctl(env, "topics", "list", "-o", fmt).stdout
    refused = kctl(env, "topics", "delete", topic, ok=False)  # no terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    kctl(env, "topics", "delete", topic, "--yes")
    missing = kctl(env, "topics", "describe", topic, ok=False)
    assert missing.returncode == 3 and missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 2 and "hint:" in missing.stderr  # one line, then a hint


def test_scripting_rules(env: dict[str, str], tmp_path: Path) -> None:
    table = kctl(env, "brokers", "list").stdout
    assert "\x1b[" not in table  # a pipe gets no colour
    bad = kctl(env, "topics", "list", "-o", "xml", ok=False)
    assert bad.returncode == 2 and "xml" in bad.stderr
    # Options read before connecting: a usage error in words, not a traceback.
    for option, said in ((["--filter", "bad("], "cannot read the filter"), (["--until", "soon"], "as a time")):
        bad = kctl(env, "tail", "orders", *option, ok=False)
        assert bad.returncode == 2 and said in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    unreachable = dict(env, KCTL_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    down = kctl(unreachable, "--timeout", "3", "topics", "list", ok=False)
    assert down.returncode == 4 and "no bootstrap server answered" in down.stderr
    info = kctl(env, "cluster", "info", "-o", "json")
    assert as_json(info)["brokers"] == 1


def test_contexts_and_read_only(env: dict[str, str], broker: BrokerProcess) -> None:
    plain = {k: v for k, v in env.items() if k != "KCTL_BOOTSTRAP_SERVERS"}
    kctl(plain, "config", "set-context", "dev", "-b", broker.bootstrap, "--use")
    kctl(plain, "config", "set-context", "prod", "-b", broker.bootstrap, "--read-only")
    contexts = as_json(kctl(plain, "config", "get-contexts", "-o", "json"))
    assert {c["name"]: c["current"] for c in contexts} == {"dev": True, "prod": False, "local": False}
    topic = unique("ctx")
    kctl(plain, "topics", "create", topic)  # through the current context, dev
    refused = kctl(plain, "--context", "prod", "topics", "delete", topic, "--yes", ok=False)
    assert refused.returncode == 8 and "read-only" in refused.stderr
    assert topic in kctl(dict(plain, KCTL_CONTEXT="prod"), "topics", "list").stdout  # reading is fine
    kctl(plain, "config", "use-context", "prod")
    assert as_json(kctl(plain, "config", "view", "-o", "json"))["current-context"] == "prod"
    kctl(plain, "config", "delete-context", "prod")
    assert kctl(plain, "--context", "prod", "topics", "list", ok=False).returncode == 3


def test_produce_and_tail_round_trip_losslessly(env: dict[str, str]) -> None:
    topic = unique("roundtrip")
    kctl(env, "topics", "create", topic, "-p", "2")
    kctl(env, "produce", topic, "-K", ":", "-H", "src=cli", stdin="k1:hello\nk2:world\n")
    binary = base64.b64encode(b"\xff\x00\xfe").decode()
    lines = [json.dumps({"key": "bin", "value": binary, "value_encoding": "base64", "partition": 1,
                         "headers": {"h": "v"}, "timestamp": 1767225600000}),
             json.dumps({"key": None, "value": '{"status": "failed", "n": 3}', "partition": 0})]
    kctl(env, "produce", topic, "--jsonl", stdin="\n".join(lines) + "\n")
    records = [json.loads(line) for line in kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl")
               .stdout.splitlines()]
    assert len(records) == 4
    for r in records:
        assert {"topic", "partition", "offset", "timestamp", "key", "value", "headers"} <= set(r)
    by_key = {r["key"]: r for r in records}
    assert by_key["bin"]["value"] == binary and by_key["bin"]["value_encoding"] == "base64"
    assert (by_key["bin"]["partition"], by_key["bin"]["timestamp"], by_key["bin"]["headers"]) == (1, 1767225600000,
                                                                                                   {"h": "v"})
    assert by_key["k1"]["value"] == "hello" and by_key["k1"]["headers"] == {"src": "cli"}
    # What tail printed goes back in through produce --jsonl unchanged.
    again = unique("again")
    kctl(env, "topics", "create", again, "-p", "2")
    kctl(env, "produce", again, "--jsonl", stdin="".join(json.dumps(r) + "\n" for r in records))
    copied = [json.loads(line) for line in kctl(env, "tail", again, "--from", "beginning", "-o", "jsonl")
              .stdout.splitlines()]
    strip = lambda rs: sorted((r["key"] or "", r["value"], json.dumps(r["headers"])) for r in rs)  # noqa: E731
    assert strip(copied) == strip(records)
    failed = kctl(env, "tail", topic, "--from", "beginning", "--filter", 'value.status == "failed"', "-o", "jsonl")
    assert [json.loads(line)["value"] for line in failed.stdout.splitlines()] == ['{"status": "failed", "n": 3}']
    last = kctl(env, "tail", topic, "--from", "-1", "-p", "0", "--format", "{partition}:{offset}:{value}")
    assert last.stdout.strip().endswith('{"status": "failed", "n": 3}')
    assert kctl(env, "tail", topic, "--from", "beginning", "--max", "1", "-o", "raw").stdout.count("\n") == 1
    offsets = as_json(kctl(env, "offsets", topic, "-o", "json"))
    assert sum(o["latest"] for o in offsets) == 4
    at = as_json(kctl(env, "offsets", topic, "--at", "1767225600000", "-o", "json"))
    assert {o["partition"]: o["offset"] for o in at}[1] >= 0


def test_reset_offsets_moves_a_real_consumer_and_undo_puts_them_back(env: dict[str, str],
                                                                     broker: BrokerProcess) -> None:
    topic, group = unique("reset"), unique("reset-group")
    kctl(env, "topics", "create", topic, "-p", "2")
    kctl(env, "produce", topic, "-p", "0", stdin="".join(f"a{i}\n" for i in range(10)))
    kctl(env, "produce", topic, "-p", "1", stdin="".join(f"b{i}\n" for i in range(10)))
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-offset", "7", "--execute")
    plan = as_json(kctl(env, "groups", "reset-offsets", group, "-t", f"{topic}:0", "--shift-by", "-3", "-o", "json"))
    assert plan["partitions"][0] == {"topic": topic, "partition": 0, "current_offset": 7, "new_offset": 4,
                                     "log_start_offset": 0, "log_end_offset": 10, "skipped": 0, "reread": 3}
    assert not plan["executed"]
    kctl(env, "groups", "reset-offsets", group, "-t", f"{topic}:0", "--shift-by", "-3", "--execute",
         "--export", str(Path(env["XDG_STATE_HOME"]) / "plan.csv"))
    assert (Path(env["XDG_STATE_HOME"]) / "plan.csv").read_text() == f"{topic},0,4\n"

    def consume_first(group_id: str) -> dict[int, int]:
        consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group_id,
                                "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                "session.timeout.ms": 6000})
        consumer.subscribe([topic])
        first: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(first) < 2 and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is not None and not m.error():
                first.setdefault(m.partition(), m.offset())
        consumer.close()
        return first

    assert consume_first(group) == {0: 4, 1: 7}  # a real consumer resumes exactly at the new offsets
    described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    assert {(p["partition"], p["committed_offset"], p["lag"])
            for p in described["partitions"]} == {(0, 4, 6), (1, 7, 3)}
    lag = as_json(kctl(env, "lag", group, "-o", "json"))
    assert sorted((r["group"], r["topic"], r["partition"], r["lag"]) for r in lag) == [
        (group, topic, 0, 6), (group, topic, 1, 3)]
    kctl(env, "groups", "undo-reset", group)
    after = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    assert {(p["partition"], p["committed_offset"]) for p in after["partitions"]} == {(0, 7), (1, 7)}
    assert consume_first(group) == {0: 7, 1: 7}
    unhealthy = kctl(env, "lag", group, "--check", "--interval", "0.2", ok=False)
    assert unhealthy.returncode == 7 and "STOP" in unhealthy.stderr  # lag, nobody consuming
    assert kctl(env, "groups", "list", "--state", "Empty", "-o", "json").stdout.count(group) == 1
    kctl(env, "groups", "delete-offsets", group, "-t", f"{topic}:1")
    kctl(env, "groups", "delete", group, "--yes")
    assert kctl(env, "groups", "describe", group, ok=False).returncode == 3


def test_reset_is_refused_while_the_group_has_members(env: dict[str, str], broker: BrokerProcess) -> None:
    topic, group = unique("busy"), unique("busy-group")
    kctl(env, "topics", "create", topic)
    consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    deadline = time.monotonic() + 20
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)
    try:
        refused = kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute", ok=False)
        assert refused.returncode == 8 and "is inactive, but the current state is" in refused.stderr
    finally:
        consumer.close()


def test_records_delete(env: dict[str, str]) -> None:
    topic = unique("trim")
    kctl(env, "topics", "create", topic)
    kctl(env, "produce", topic, stdin="".join(f"{i}\n" for i in range(10)))
    out = as_json(kctl(env, "records", "delete", topic, "--before", "6", "--yes", "-o", "json"))
    assert out == [{"topic": topic, "partition": 0, "log_start_offset": 6}]
    assert as_json(kctl(env, "offsets", topic, "-o", "json"))[0]["earliest"] == 6


def test_the_built_in_broker_starts_on_demand(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCTL_", "XDG_"))}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "KCTL_LOCAL_LISTEN": f"127.0.0.1:{port}",
                "KCTL_LOCAL_DATA": str(tmp_path / "local")})
    try:
        first = kctl(env, "topics", "list", "-o", "json")
        assert json.loads(first.stdout) == [] and "started the built-in broker" in first.stderr
        status = as_json(kctl(env, "broker", "status", "-o", "json"))
        assert status["running"] and status["started_by_kctl"]
        kctl(env, "topics", "create", "here")
        assert "started" not in kctl(env, "topics", "list").stderr  # already running: reused
    finally:
        kctl(env, "broker", "stop")
    stopped = kctl(env, "broker", "status", "-o", "json", ok=False)
    assert stopped.returncode == 3 and not as_json(stopped)["running"]  # LSB's "not running"


def test_man_pages_and_help_are_fresh() -> None:
    from kctl.cli import docs

    assert docs.main(["--check"]) == 0, "run: python -m kctl.cli.docs"
    pages = {p.name for p in docs.MAN_DIR.glob("*.1")}
    for name in ("kctl.1", "kctl-topics-list.1", "kctl-groups-reset-offsets.1", "kctl-lag.1", "kctl-tail.1",
                 "kctl-config-set-context.1", "kctl-completion.1"):
        assert name in pages
    assert ".SH EXIT STATUS" in (docs.MAN_DIR / "kctl.1").read_text()


def test_help_answers_without_loading_the_cli(env: dict[str, str]) -> None:
    result = kctl(env, "--help")
    assert result.stdout.startswith("Usage: kctl") and "reset" not in result.stderr
    probe = subprocess.run([sys.executable, "-c", "import sys; from kctl.cli import main; main(['--help']); "
                            "print('click' in sys.modules, file=sys.stderr)"], capture_output=True, text=True)
    assert probe.stderr.strip() == "False"


def test_a_command_loads_only_its_own_module(env: dict[str, str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from kctl.cli.app import run; code = run(['config', 'get-contexts', "
         "'-o', 'json']); print(code, sorted(m for m in sys.modules if m.startswith('kctl.cli.cmd_')), "
         "file=sys.stderr)"], env=env, capture_output=True, text=True, timeout=60)
    assert probe.stderr.strip().splitlines()[-1] == "0 ['kctl.cli.cmd_config']"
    assert any(c["name"] == "local" for c in json.loads(probe.stdout))
    # Help rendered by click (not the precomputed file) still lists every command, and the alias
    # keeps its own help.
    listing = kctl(env, "-b", "127.0.0.1:1", "--help").stdout
    from kctl.cli.app import lazy_commands

    for name in ("completion", "tui", "protocol", *lazy_commands()):
        assert f" {name} " in listing, name
    assert "The same as tail." in listing
    assert "--follow" in kctl(env, "consume", "--help").stdout


def test_a_group_builds_only_the_command_that_runs_and_suggests_among_all_of_them() -> None:
    from kctl.cli.app import _load_command

    groups = _load_command("groups")
    assert groups.commands == {}  # nothing built until a command runs or help lists them
    assert {"list", "describe", "reset-offsets", "undo-reset"} <= set(groups.list_commands(None))
    assert groups.get_command(None, "describe").name == "describe"
    assert list(groups.commands) == ["describe"]
    for typo, nearest in ((["topics", "lisst"], "'list'"), (["topcs"], "'topics'"),
                          (["groups", "reset-offset"], "'reset-offsets'")):
        done = subprocess.run([sys.executable, "-m", "kctl", *typo], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and f"Did you mean {nearest}" in done.stderr, (typo, done.stderr)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_offers_topic_and_group_names(env: dict[str, str], shell: str) -> None:
    topic, group = unique("complete-me"), unique("complete-group")
    kctl(env, "topics", "create", topic)
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    assert "_KCTL_COMPLETE" in kctl(env, "completion", shell).stdout

    def complete(line: str) -> list[str]:
        """What kctl answers a shell's script for `line` (the cursor at its end)."""
        words = line.split()
        at = len(words) - (0 if line.endswith(" ") else 1)
        asked = {"_KCTL_COMPLETE": shell, "COMP_WORDS": line, "COMP_CWORD": str(at)}
        if shell == "fish":  # the line, and the word under the cursor
            asked["COMP_CWORD"] = "" if line.endswith(" ") else words[-1]
        out = subprocess.run([sys.executable, "-m", "kctl"], env={**env, **asked}, capture_output=True,
                             text=True, timeout=30).stdout
        separator = {"bash": None, "zsh": ":", "fish": "\t"}[shell]
        return [line.split(separator)[0] if separator else line for line in out.splitlines()]

    assert topic in complete(f"kctl topics describe {topic[:8]}")
    assert group in complete(f"kctl groups describe {group[:8]}")
    assert "topics" in complete("kctl top")
    assert complete("kctl topics li") == ["list"]
    assert "--from" in complete(f"kctl tail {topic} --fr")
    assert "--bootstrap-server" in complete("kctl topics list --boot")  # a global option, after the command
    assert complete("kctl nosuchcommand ") == []


def test_bash_completes_through_the_script_kctl_prints(env: dict[str, str]) -> None:
    """The script as bash runs it: sourced, then its function called as bash calls it on TAB."""
    topic = unique("bash-tab")
    kctl(env, "topics", "create", topic)
    bin_dir = Path(sys.executable).parent
    shim = Path(env["XDG_CONFIG_HOME"]) / "bin"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "kctl").write_text(f"#!/bin/sh\nexec {sys.executable} -m kctl \"$@\"\n")
    (shim / "kctl").chmod(0o755)
    line = f"kctl tail {topic[:6]}"
    program = (f'source <(kctl completion bash); COMP_WORDS=({line}); COMP_CWORD=2; _kctl_completion kctl; '
               'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "-c", program], env={**env, "PATH": f"{shim}:{bin_dir}:{env['PATH']}"},
                          capture_output=True, text=True, timeout=60)
    assert topic in done.stdout.split(), done.stdout + done.stderr


def test_reset_from_a_file_and_from_another_group(env: dict[str, str], tmp_path: Path) -> None:
    topic, source, target = unique("copy"), unique("source"), unique("target")
    kctl(env, "topics", "create", topic, "-p", "2")
    kctl(env, "produce", topic, "-p", "0", stdin="".join(f"{i}\n" for i in range(8)))
    kctl(env, "produce", topic, "-p", "1", stdin="".join(f"{i}\n" for i in range(8)))
    plan = tmp_path / "plan.csv"
    plan.write_text(f"{topic},0,3\n{topic},1,99\n")  # 99 is past the end: clamped to 8
    kctl(env, "groups", "reset-offsets", source, "--from-file", str(plan), "--execute")
    kctl(env, "groups", "reset-offsets", target, "--topic", topic, "--to-group", source, "--execute")
    described = as_json(kctl(env, "groups", "describe", target, "-o", "json"))
    assert {(p["partition"], p["committed_offset"]) for p in described["partitions"]} == {(0, 3), (1, 8)}
    bad = kctl(env, "groups", "reset-offsets", target, "--topic", topic, "--to-earliest", "--to-latest", ok=False)
    assert bad.returncode == 2 and "exactly one" in bad.stderr


def test_tail_as_a_group_member_commits_what_it_read(env: dict[str, str]) -> None:
    topic, group = unique("tail-group"), unique("tailer")
    kctl(env, "topics", "create", topic)
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    kctl(env, "produce", topic, stdin="".join(f"{i}\n" for i in range(5)))
    got = kctl(env, "tail", topic, "--group", group, "--max", "5", "-o", "jsonl")
    assert [json.loads(line)["value"] for line in got.stdout.splitlines()] == [str(i) for i in range(5)]
    lag = as_json(kctl(env, "lag", group, "-o", "json"))
    assert [(r["committed_offset"], r["lag"]) for r in lag] == [(5, 0)]


def test_a_sasl_context_against_a_listener_without_sasl_is_an_auth_error(env: dict[str, str],
                                                                         broker: BrokerProcess) -> None:
    plain = {k: v for k, v in env.items() if k != "KCTL_BOOTSTRAP_SERVERS"}
    config = Path(plain["XDG_CONFIG_HOME"]) / "kctl" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[contexts.secure]\nbootstrap-servers = "{broker.bootstrap}"\n'
                      'sasl = { mechanism = "SCRAM-SHA-512", username = "ops" }\n')
    result = kctl(plain, "--context", "secure", "topics", "list", ok=False)
    assert result.returncode == 2 and "sasl needs password, password-env or password-file" in result.stderr
    config.write_text(f'[contexts.secure]\nbootstrap-servers = "{broker.bootstrap}"\n'
                      'sasl = { mechanism = "SCRAM-SHA-512", username = "ops", password = "x" }\n')
    result = kctl(plain, "--context", "secure", "topics", "list", ok=False)
    assert result.returncode == 5 and "does not take SASL SCRAM-SHA-512" in result.stderr


def test_health_verdicts_follow_burrows_rules_without_its_false_stop() -> None:
    from kctl.ops.groups import LagHistory, LagRows

    def verdict(looks: list[tuple[int, int]], state: str) -> str:
        history = LagHistory()
        for at, (committed, end) in enumerate(looks):
            history.add(LagRows("g", ["t"], [0], [committed], [end], [0]), at=float(at * 5))
        return history.verdict(state)

    assert verdict([(10, 10), (10, 10)], "Empty") == "OK"  # idle and caught up: not STOP
    assert verdict([(5, 10), (5, 12)], "Empty") == "STOP"  # behind, nobody consuming
    assert verdict([(5, 10), (5, 12)], "Stable") == "STALL"  # members, but no progress
    assert verdict([(5, 10), (7, 20)], "Stable") == "WARN"  # progressing, falling behind
    assert verdict([(5, 10), (9, 11)], "Stable") == "OK"
    assert verdict([(9, 10), (4, 10)], "Stable") == "REWIND"
    assert verdict([(5, 10)], "Stable") == "OK" and verdict([(5, 10)], "Empty") == "STOP"  # one look


def test_lag_history_keeps_rates_and_trends_in_bounded_memory() -> None:
    from kctl.ops.groups import RATE_WINDOW, LagHistory, LagRows

    history = LagHistory(limit=60)
    for look in range(100):  # the consumer reads 10/s, the producer writes 4/s: lag falls 6/s
        rows = LagRows("g", ["t"] * 3, [0, 1, 2], [1000 + look * 50] * 3, [11000 + look * 20] * 3, [0] * 3)
        history.add(rows, at=float(look * 5))  # the newest rows get their rates
    assert len(history.totals) == 60 and len(history.looks) == RATE_WINDOW  # bounded
    assert history.totals[-1] == 3 * (10000 - 99 * 30)
    newest = rows[0]
    assert (newest["consume_rate"], newest["produce_rate"]) == (10.0, 4.0)
    assert newest["catch_up_seconds"] == round(newest["lag"] / 6.0, 1)
    assert history.partition_lag("t", 1)[-1] == 10000 - 99 * 30 and len(history.partition_lag("t", 1)) == RATE_WINDOW
    assert history.looks[0].topics is history.looks[-1].topics  # one column of partitions shared by every look
    assert history.looks[0].partitions is history.looks[-1].partitions


def test_lag_watch_refreshes(env: dict[str, str]) -> None:
    topic, group = unique("watch"), unique("watch-group")
    kctl(env, "topics", "create", topic)
    kctl(env, "produce", topic, stdin="a\nb\n")
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    proc = subprocess.Popen([sys.executable, "-m", "kctl", "lag", group, "--watch", "--interval", "0.5", "-o", "jsonl"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    samples = [json.loads(line) for line in out.splitlines()]
    assert len(samples) >= 3 and all(s["group"] == group and s["lag"] == 2 for s in samples)
    assert "consume_rate" in samples[-1] and samples[-1]["health"] == "STOP"


def test_replica_commands_on_a_single_node(env: dict[str, str], tmp_path: Path) -> None:
    topic = unique("replicas")
    kctl(env, "topics", "create", topic, "-p", "2")
    health = as_json(kctl(env, "cluster", "health", "-o", "json", "--check"))
    assert health["status"] == "OK" and health["offline"] == [] and health["under_replicated"] == []
    assert as_json(kctl(env, "topics", "list", "--under-replicated", "-o", "json")) == []
    dirs = as_json(kctl(env, "log-dirs", "-o", "json"))
    assert any(d["topic"] == topic and d["partitions"] == 2 for d in dirs)
    elected = as_json(kctl(env, "elect-leaders", "--topic", f"{topic}:0", "-o", "json"))
    assert elected == [{"topic": topic, "partition": 0, "result": "not needed"}]
    # Already balanced on the one broker: an empty plan.
    plan = json.loads(kctl(env, "reassign", "plan", "--topic", topic).stdout)
    assert plan == {"version": 1, "partitions": []}
    # A plan naming a broker that does not exist: previewed, then refused by the broker in words,
    # with nothing left behind to follow or undo.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "partitions": [{"topic": topic, "partition": 0, "replicas": [0, 5]}]}))
    preview = as_json(kctl(env, "reassign", "apply", str(bad), "-o", "json"))
    assert not preview["executed"] and preview["partitions"][0]["adding"] == [5]
    refused = kctl(env, "reassign", "apply", str(bad), "--execute", ok=False)
    assert refused.returncode != 0 and "no broker 5" in refused.stderr
    status = kctl(env, "reassign", "status", ok=False)
    assert status.returncode == 3 and "no reassignment executed" in status.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    unreadable = kctl(env, "reassign", "apply", str(garbage), ok=False)
    assert unreadable.returncode == 2 and "reassignment JSON" in unreadable.stderr


def test_a_topic_of_no_partitions_or_no_replicas_is_refused_in_plain_words(env: dict[str, str]) -> None:
    topic = unique("empty")
    for option, says in (("-p", "at least one partition, not 0"), ("-r", "at least one replica, not 0")):
        refused = kctl(env, "topics", "create", topic, option, "0", ok=False)
        assert refused.returncode == 2 and says in refused.stderr and "grow" not in refused.stderr
    assert topic not in kctl(env, "topics", "list").stdout


def test_produce_to_a_missing_topic_is_refused_unless_create(env: dict[str, str]) -> None:
    topic = unique("misspelt")
    refused = kctl(env, "produce", topic, stdin="a\nb\n", ok=False)
    assert refused.returncode == 3 and "does not exist" in refused.stderr and "--create" in refused.stderr
    assert topic not in kctl(env, "topics", "list").stdout  # the broker auto-creates; kctl did not ask it to
    made = kctl(env, "produce", topic, "--create", stdin="a\nb\n")
    assert "created topic" in made.stderr and "produced 2 record(s)" in made.stderr
    again = kctl(env, "produce", topic, "--create", stdin="c\n")
    assert "created topic" not in again.stderr
    records = as_json(kctl(env, "tail", topic, "--from", "beginning", "-o", "json"))
    assert [r["value"] for r in records] == ["a", "b", "c"]
