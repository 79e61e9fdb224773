"""What went wrong when kctl was tried as a new user would, against `kctl broker start`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess, free_port

from .test_commands import as_json, kctl, unique

ck = pytest.importorskip("confluent_kafka")

ROOT = Path(__file__).resolve().parents[2]


def fill(bootstrap: str, topic: str, partition: int, count: int) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, value=f"r{i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def committed(env: dict[str, str], group: str) -> dict[int, int]:
    described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    return {p["partition"]: p["committed_offset"] for p in described["partitions"]
            if p["committed_offset"] is not None}


@contextmanager
def kctl_running(env: dict[str, str], *args: str, **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """kctl running in the background, killed if the test leaves it running."""
    process = subprocess.Popen([sys.executable, "-m", "kctl", *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, **popen)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_tail_with_group_commits_exactly_what_it_printed(env: dict[str, str], broker: BrokerProcess) -> None:
    topic, group = unique("orders"), unique("billing")
    kctl(env, "topics", "create", topic, "-p", "3")
    fill(broker.bootstrap, topic, 2, 1000)
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute", "--yes")
    out = kctl(env, "tail", topic, "--max", "10", "--group", group, "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["offset"] for line in out] == list(range(10))
    assert committed(env, group)[2] == 10
    # The next ten pick up where the first ten stopped.
    out = kctl(env, "tail", topic, "--max", "10", "--group", group, "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["offset"] for line in out] == list(range(10, 20))
    assert committed(env, group)[2] == 20
    # Records the filter drops count as read (the help says so): 5 printed, 10 read, 10 committed.
    out = kctl(env, "tail", topic, "--max", "5", "--group", group, "--filter", "offset % 2 == 0", "-o",
               "jsonl").stdout.splitlines()
    assert [json.loads(line)["offset"] for line in out] == [20, 22, 24, 26, 28]
    assert committed(env, group)[2] == 29
    assert "count as read" in kctl({**env, "COLUMNS": "250"}, "tail", "--help").stdout


def test_getmany_hands_out_at_most_max_records_and_commit_stores_only_those(broker: BrokerProcess) -> None:
    import asyncio

    from kctl.client import Cluster, TopicPartition
    from kctl.client.consumer import Consumer

    topic, group = unique("getmany"), unique("g")
    fill(broker.bootstrap, topic, 0, 100)

    async def run() -> tuple[int, int]:
        async with Cluster(broker.bootstrap) as cluster:
            consumer = Consumer(cluster, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False)
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            async with consumer:
                got: list[int] = []
                while not got:
                    got = [r.offset for r in (await consumer.getmany(timeout_ms=1000, max_records=7)).get(tp, [])]
                assert len(got) == 7
                await consumer.commit()
                return got[-1], (await consumer.committed([tp]))[tp].offset  # type: ignore[union-attr]

    last, stored = asyncio.run(run())
    assert (last, stored) == (6, 7)


def test_from_applies_where_the_group_has_no_committed_offset(env: dict[str, str], broker: BrokerProcess) -> None:
    topic, group = unique("fresh"), unique("newcomer")
    kctl(env, "topics", "create", topic, "-p", "2")
    fill(broker.bootstrap, topic, 0, 20)
    fill(broker.bootstrap, topic, 1, 20)
    # Partition 1 has a committed offset (15); partition 0 has none, so --from decides there.
    kctl(env, "groups", "reset-offsets", group, "-t", f"{topic}:1", "--to-offset", "15", "--execute")
    out = kctl(env, "tail", topic, "--group", group, "--from", "beginning", "--max", "25",
               "-o", "jsonl").stdout.splitlines()
    seen = sorted((r["partition"], r["offset"]) for r in map(json.loads, out))
    assert seen == sorted([(0, i) for i in range(20)] + [(1, i) for i in range(15, 20)])
    assert committed(env, group) == {0: 20, 1: 20}
    other = unique("latecomer")
    out = kctl(env, "tail", topic, "--group", other, "--from", "-3", "--max", "6", "-o", "jsonl").stdout.splitlines()
    assert sorted((r["partition"], r["offset"]) for r in map(json.loads, out)) == [
        (0, 17), (0, 18), (0, 19), (1, 17), (1, 18), (1, 19)]
    assert "auto.offset.reset" in kctl({**env, "COLUMNS": "250"}, "tail", "--help").stdout
    bad = kctl(env, "tail", topic, "--group", other, "--from", "yesterday", ok=False)
    assert bad.returncode == 2 and "start position" in bad.stderr


CHANGES_STATE = [
    ["topics", "create"], ["topics", "alter"], ["topics", "delete"], ["configs", "set"], ["configs", "delete"],
    ["produce"], ["records", "delete"], ["groups", "delete"], ["groups", "delete-offsets"],
    ["groups", "reset-offsets"], ["groups", "undo-reset"], ["config", "set-context"], ["config", "use-context"],
    ["config", "delete-context"], ["broker", "stop"], ["brokers", "drain"], ["reassign", "apply"],
    ["reassign", "cancel"], ["reassign", "undo"], ["elect-leaders"],
]


def test_yes_is_accepted_by_every_command_that_changes_state(env: dict[str, str], broker: BrokerProcess) -> None:
    topic, group = unique("runbook"), unique("ops")
    kctl(env, "topics", "create", topic, "-p", "1", "--yes")
    fill(broker.bootstrap, topic, 0, 5)
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute", "--yes")
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-latest", "--execute", "--yes")
    kctl(env, "groups", "undo-reset", group, "--yes")
    assert committed(env, group) == {0: 0}
    kctl(env, "topics", "alter", topic, "-p", "2", "--yes")
    kctl(env, "configs", "set", "topic", topic, "retention.ms=1000000", "--yes")
    kctl(env, "configs", "delete", "topic", topic, "retention.ms", "--yes")
    kctl(env, "produce", topic, "--yes", stdin="x\n")
    kctl(env, "groups", "delete-offsets", group, "-t", topic, "--yes")
    kctl(env, "config", "set-context", "c1", "-b", broker.bootstrap, "--yes")
    kctl(env, "config", "use-context", "c1", "--yes")
    kctl(env, "config", "delete-context", "c1", "--yes")
    for command in CHANGES_STATE:  # and the rest say so in their help
        assert "--yes" in kctl(env, *command, "--help").stdout, command
    man = (ROOT / "man" / "kctl.1").read_text()
    section = man.split(".SH CHANGING STATE", 1)[1].split(".SH ", 1)[0]
    for command in CHANGES_STATE:
        assert " ".join(["kctl", *command]).replace("-", "\\-") in section, command


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_tail_leaves_its_group_on_a_signal(env: dict[str, str], broker: BrokerProcess, signum: int) -> None:
    topic, group = unique("watched"), unique("watchers")
    kctl(env, "topics", "create", topic, "-p", "2")
    fill(broker.bootstrap, topic, 0, 3)
    # Started as a script's background job is: with SIGINT ignored, which kctl must undo.
    tail = subprocess.Popen([sys.executable, "-m", "kctl", "tail", topic, "--group", group, "--from", "beginning",
                             "--follow", "-o", "jsonl"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 30
        while True:
            described = as_json(kctl(env, "groups", "describe", group, "-o", "json", ok=False)) \
                if kctl(env, "groups", "list", "-o", "json").stdout.count(group) else {"members": []}
            if described["members"] and described["state"] == "Stable":
                break
            assert time.monotonic() < deadline, "the tail never joined its group"
            time.sleep(0.2)
        time.sleep(0.5)
        tail.send_signal(signum)
        assert tail.wait(20) == 128 + signum
        # At once, not after the session timeout: no members, and a reset goes through.
        described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
        assert described["members"] == [] and described["state"] == "Empty"
        assert committed(env, group) == {0: 3, 1: 0}
        kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    finally:
        if tail.poll() is None:
            tail.kill()
        tail.communicate()


def test_tail_is_unix_tail_the_last_records_then_exit_or_follow(env: dict[str, str], broker: BrokerProcess) -> None:
    topic = unique("tailed")
    kctl(env, "topics", "create", topic, "-p", "3")
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap})
    base = int(time.time() * 1000) - 100_000
    for i in range(30):  # record i stamped base + i, spread over the partitions out of order
        producer.produce(topic, value=f"r{i}".encode(), partition=(i * 7) % 3, timestamp=base + i)
    assert producer.flush(30) == 0

    def values(*args: str) -> list[str]:
        return kctl(env, "tail", topic, *args, "--format", "{value}").stdout.split()

    assert values() == [f"r{i}" for i in range(20, 30)], "the last 10 of all partitions, newest last"
    assert values("-n", "3") == ["r27", "r28", "r29"]
    assert values("-n", "0") == []
    assert values("--max", "2") == ["r28", "r29"]
    assert values("-n", "100") == [f"r{i}" for i in range(30)]
    assert values("-p", "1", "-n", "2") == [f"r{i}" for i in range(30) if (i * 7) % 3 == 1][-2:]
    assert values("--from", "beginning", "-n", "4") != values("-n", "4"), "--from reads from there, -n caps it"
    assert len(values("--from", "beginning")) == 30
    assert kctl(env, "tail", topic, "-n", "-1", ok=False).returncode == 2
    with kctl_running(env, "tail", topic, "-n", "2", "-f", "--format", "{value}") as follow:
        assert follow.stdout is not None
        assert [follow.stdout.readline().strip() for _ in range(2)] == ["r28", "r29"]
        kctl(env, "produce", topic, stdin="new\n")
        assert follow.stdout.readline().strip() == "new"
        follow.send_signal(signal.SIGINT)
        assert follow.wait(20) == 128 + signal.SIGINT
    assert "the last 10 records" in kctl({**env, "COLUMNS": "200"}, "tail", "--help").stdout
    assert "last N records" in (ROOT / "man" / "kctl-tail.1").read_text().replace("\\-", "-")


def test_a_group_tail_reads_to_the_end_and_says_where_it_waits(env: dict[str, str], broker: BrokerProcess) -> None:
    topic, group = unique("quiet"), unique("readers")
    kctl(env, "topics", "create", topic, "-p", "2")
    fill(broker.bootstrap, topic, 0, 4)
    # No committed offsets and --from's default, the end: nothing to read, and it says so at once.
    started = time.monotonic()
    nothing = kctl(env, "tail", topic, "--group", group, "--max", "5")
    assert nothing.stdout == "" and time.monotonic() - started < 30
    assert f"group {group} is at the end of {topic}[0]@4, {topic}[1]@0: nothing new to read" in nothing.stderr
    fill(broker.bootstrap, topic, 1, 3)
    read = kctl(env, "tail", topic, "--group", group, "--format", "{partition}:{offset}")
    assert read.stdout.split() == ["1:0", "1:1", "1:2"] and "3 record(s)" in read.stderr
    with kctl_running(env, "tail", topic, "--group", group, "-f") as waiting:
        assert waiting.stderr is not None
        line = waiting.stderr.readline()
        assert f"group {group} is at the end of {topic}[0]@4, {topic}[1]@3: waiting for new records" in line
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(20) == 128 + signal.SIGINT


def test_help_shows_value_types_metavars_and_upper_case_arguments(env: dict[str, str]) -> None:
    help_text = kctl({**env, "COLUMNS": "150"}, "groups", "reset-offsets", "--help").stdout
    assert "Usage: kctl groups reset-offsets [OPTIONS] GROUP" in help_text
    assert "{group}" not in help_text and "<bool>" not in help_text and "<str>" not in help_text
    lines = {word: line for line in help_text.splitlines() if line.startswith("  -")
             for word in line.replace(",", " ").split() if word.startswith("--")}
    assert "GROUP  The group" in help_text, "arguments are listed with their help"
    assert lines["--execute"].split()[1] == "Apply", "a flag shows no value type"
    assert lines["--yes"].split()[2] == "Do", "a flag shows no value type"
    assert "TOPIC[:P,P]" in lines["--topic"] and "INTEGER" in lines["--to-offset"] and "TEXT" in lines["--to-datetime"]
    tail_help = kctl({**env, "COLUMNS": "150"}, "tail", "--help").stdout
    assert "[OPTIONS] TOPICS..." in tail_help and "POSITION" in tail_help
    follow = next(line for line in tail_help.splitlines() if line.startswith("  -f, --follow")).split()
    assert follow[:4] == ["-f,", "--follow", "Keep", "waiting"], "a flag shows no value type"
    man = (ROOT / "man" / "kctl-groups-reset-offsets.1").read_text()
    assert ".B \\-\\-topic, \\-t \\fITOPIC[:P,P]\\fR" in man and ".B \\-\\-execute\n" in man
    assert "GROUP" in man.split(".SH SYNOPSIS", 1)[1].split(".SH", 1)[0]


def test_broker_start_on_a_taken_port_says_who_holds_it(tmp_path: Path) -> None:
    holder = socket.socket()
    port = free_port()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        result = subprocess.run([sys.executable, "-m", "kctl", "broker", "start", "--data-dir", str(tmp_path / "d"),
                                 "--listen", f"127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                                timeout=60)
    finally:
        holder.close()
    assert result.returncode == 1
    assert "Errno" not in result.stderr
    assert f"127.0.0.1:{port} is already in use by python" in result.stderr
    assert f"(pid {os.getpid()})" in result.stderr
    assert "kctl broker start --listen 127.0.0.1:" in result.stderr


def test_options_convert_without_pydantic_and_bad_values_are_usage_errors(env: dict[str, str]) -> None:
    """Start-up: typer 0.29 would import pydantic (35-40 ms) to convert option values; kctl's
    commands are built on click, with click's conversions and messages."""
    listed = subprocess.run([sys.executable, "-X", "importtime", "-m", "kctl", "topics", "list", "-o", "json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    imported = {line.split("|")[-1].strip() for line in listed.stderr.splitlines() if line.startswith("import time:")}
    assert "click" in imported and not {"pydantic", "typer"} & imported
    bad = kctl(env, "tail", "anything", "--max", "ten", ok=False)
    assert bad.returncode == 2 and "'ten' is not a valid integer" in bad.stderr
    bad = kctl(env, "--timeout", "soon", "topics", "list", ok=False)
    assert bad.returncode == 2 and "'soon' is not a valid float" in bad.stderr


def test_lag_seconds_for_every_group_on_a_partition(env: dict[str, str], broker: BrokerProcess) -> None:
    """Groups at different offsets of one partition each get the age of their own next record."""
    topic = unique("aged")
    kctl(env, "topics", "create", topic, "-p", "1")
    now = int(time.time() * 1000)
    rows = [{"value": f"v{i}", "timestamp": now - (100 - i * 10) * 1000} for i in range(10)]  # 100 s .. 10 s old
    kctl(env, "produce", topic, "--jsonl", stdin="".join(json.dumps(r) + "\n" for r in rows))
    groups = {unique("early"): 2, unique("late"): 7, unique("caught-up"): 10}
    for group, offset in groups.items():
        kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-offset", str(offset), "--execute")
    lag = {r["group"]: r for r in as_json(kctl(env, "lag", *groups, "-o", "json"))}
    early, late, caught_up = (lag[g] for g in groups)
    assert early["lag"] == 8 and 78 <= early["lag_seconds"] <= 90  # record 2 is 80 s old
    assert late["lag"] == 3 and 28 <= late["lag_seconds"] <= 40  # record 7 is 30 s old
    assert caught_up["lag"] == 0 and caught_up["lag_seconds"] == 0


def test_lag_goes_on_after_a_consumed_topic_is_deleted(env: dict[str, str], broker: BrokerProcess) -> None:
    """A group's offsets on a deleted topic go with it, as in Kafka (tests/apache_kafka checks
    Kafka does the same), and `kctl lag` over every group still answers (it once failed whole on
    the first partition it could not find)."""
    gone, kept = unique("deleted"), unique("kept")
    both, only_gone = unique("both"), unique("only-deleted")
    for topic in (gone, kept):
        kctl(env, "topics", "create", topic, "-p", "2")
        kctl(env, "produce", topic, stdin="a\nb\nc\n")
    for group, topics in ((both, (gone, kept)), (only_gone, (gone,))):
        for topic in topics:
            kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    kctl(env, "topics", "delete", gone, "--yes")
    rows = as_json(kctl(env, "lag", "-o", "json"))
    assert {r["topic"] for r in rows if r["group"] == both} == {kept}
    assert not [r for r in rows if r["topic"] == gone]
    listed = {g["group"]: g["state"] for g in as_json(kctl(env, "groups", "list", "-o", "json"))}
    assert listed[both] == listed[only_gone] == "Empty"  # listed until the next retention check


def on_a_terminal(env: dict[str, str], *args: str, answer: str | None) -> subprocess.CompletedProcess[str]:
    """kctl with a terminal for stdin (a pty), typing `answer` and enter when given."""
    import pty

    controller, terminal = pty.openpty()
    try:
        if answer is not None:
            os.write(controller, answer.encode() + b"\n")  # held by the terminal until kctl reads
        return subprocess.run([sys.executable, "-m", "kctl", *args], env=env, stdin=terminal, capture_output=True,
                              text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)


def test_produce_on_a_terminal_says_what_it_reads_and_stops_at_once_on_ctrl_c(env: dict[str, str],
                                                                              broker: BrokerProcess) -> None:
    import pty

    topic = unique("typed")
    kctl(env, "topics", "create", topic, "-p", "1")
    controller, terminal = pty.openpty()
    try:
        with kctl_running(env, "produce", topic, stdin=terminal) as produce:
            assert produce.stderr is not None
            said = produce.stderr.readline()
            assert "reading records from the terminal" in said and "Ctrl-C stops" in said
            os.write(controller, b"first\n")
            deadline = time.monotonic() + 20
            while kctl(env, "offsets", topic, "-o", "json").stdout.count('"latest": 1') == 0:
                assert time.monotonic() < deadline, "the typed line was never sent"
                time.sleep(0.2)
            produce.send_signal(signal.SIGINT)  # what Ctrl-C sends; no further line is typed
            assert produce.wait(10) == 130
    finally:
        os.close(terminal)
        os.close(controller)
    assert kctl(env, "tail", topic, "--format", "{value}").stdout.split() == ["first"]


def test_an_executed_reset_asks_on_a_terminal_and_yes_skips_the_question(env: dict[str, str],
                                                                         broker: BrokerProcess) -> None:
    topic, group = unique("asked"), unique("asked-group")
    kctl(env, "topics", "create", topic, "-p", "2")
    fill(broker.bootstrap, topic, 0, 4)
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-latest", "--execute")  # no terminal: no question
    assert committed(env, group) == {0: 4, 1: 0}

    wrong = on_a_terminal(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute",
                          answer="nope")
    assert wrong.returncode == 8 and "not confirmed" in wrong.stderr
    assert "RE-READ" in wrong.stderr and f"Type {group!r} to confirm" in wrong.stderr  # the plan, then the question
    assert committed(env, group) == {0: 4, 1: 0}
    on_a_terminal(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute", answer=group)
    assert committed(env, group) == {0: 0, 1: 0}
    skipped = on_a_terminal(env, "groups", "reset-offsets", group, "-t", topic, "--to-latest", "--execute", "--yes",
                            answer=None)
    assert skipped.returncode == 0 and "to confirm" not in skipped.stderr
    assert committed(env, group) == {0: 4, 1: 0}

    refused = on_a_terminal(env, "groups", "undo-reset", group, answer="nope")
    assert refused.returncode == 8 and committed(env, group) == {0: 4, 1: 0}
    on_a_terminal(env, "groups", "undo-reset", group, answer=group)
    assert committed(env, group) == {0: 0, 1: 0}
    on_a_terminal(env, "groups", "undo-reset", group, "--yes", answer=None)
    assert committed(env, group) == {0: 4, 1: 0}
