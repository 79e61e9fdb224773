"""`kctl produce --transactional-id` and `kctl tail --isolation`, with a real broker and confluent-kafka
holding a transaction open."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess

from .test_commands import kctl, unique

ck = pytest.importorskip("confluent_kafka")


def tailed(env: dict[str, str], topic: str, isolation: str) -> list[Any]:
    out = kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl", "--isolation", isolation).stdout
    return [json.loads(line)["value"] for line in out.splitlines()]


def test_produce_in_one_transaction_commits_at_the_end_of_input(env: dict[str, str]) -> None:
    topic = unique("txcli")
    kctl(env, "topics", "create", topic)
    done = kctl(env, "produce", topic, "--transactional-id", unique("txcli"), stdin="a\nb\nc\n")
    assert "produced 3 record(s)" in done.stderr and "committed" in done.stderr
    assert tailed(env, topic, "read_committed") == ["a", "b", "c"]


def test_bad_input_aborts_the_transaction_and_commits_nothing(env: dict[str, str]) -> None:
    topic = unique("txbad")
    kctl(env, "topics", "create", topic)
    lines = '{"value": "one"}\n{"value": "two"}\nnot json\n'
    failed = kctl(env, "produce", topic, "--jsonl", "--transactional-id", unique("txbad"), stdin=lines, ok=False)
    assert failed.returncode != 0 and "line 3" in failed.stderr
    # The first two were written, then aborted: read_uncommitted readers see them, read_committed none.
    assert tailed(env, topic, "read_uncommitted") == ["one", "two"]
    assert tailed(env, topic, "read_committed") == []


def test_tail_read_committed_stops_at_an_open_transaction(env: dict[str, str], broker: BrokerProcess) -> None:
    topic = unique("txopen")
    kctl(env, "topics", "create", topic)
    kctl(env, "produce", topic, stdin="before\n")
    holder = ck.Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": unique("holder")})
    holder.init_transactions(30)
    holder.begin_transaction()
    holder.produce(topic, value=b"undecided")
    holder.flush(30)
    kctl(env, "produce", topic, stdin="after\n")
    # Without --follow it ends at the last stable offset instead of waiting on the open transaction.
    assert tailed(env, topic, "read_committed") == ["before"]
    assert tailed(env, topic, "read_uncommitted") == ["before", "undecided", "after"]
    holder.commit_transaction(30)
    assert tailed(env, topic, "read_committed") == ["before", "undecided", "after"]


def test_tail_refuses_an_unknown_isolation(env: dict[str, str]) -> None:
    refused = kctl(env, "tail", "any", "--isolation", "dirty", ok=False)
    assert refused.returncode == 2 and "read_committed" in refused.stderr


def test_lag_counts_to_the_last_stable_offset_and_check_flags_a_pinned_group(env: dict[str, str],
                                                                             broker: BrokerProcess) -> None:
    topic, group = unique("pinned"), unique("pinned-group")
    kctl(env, "topics", "create", topic)
    kctl(env, "produce", topic, stdin="a\nb\n")
    holder = ck.Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": unique("pin")})
    holder.init_transactions(30)
    holder.begin_transaction()
    holder.produce(topic, value=b"held")
    holder.flush(30)
    kctl(env, "produce", topic, stdin="c\n")
    consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    consumer.commit(offsets=[ck.TopicPartition(topic, 0, 2)], asynchronous=False)  # at the last stable offset
    consumer.close()
    rows = json.loads(kctl(env, "lag", group, "-o", "json").stdout)
    assert [(r["lag"], r["last_stable_offset"], r["in_open_transactions"]) for r in rows] == [(0, 2, 2)]

    def more_behind() -> None:
        time.sleep(0.5)
        kctl(env, "produce", topic, stdin="d\ne\n")

    writer = threading.Thread(target=more_behind)
    writer.start()
    checked = kctl(env, "lag", group, "--check", "--interval", "2", ok=False)
    writer.join()
    assert checked.returncode == 7 and f"{group} PINNED" in checked.stderr, checked.stderr
    holder.commit_transaction(30)
    rows = json.loads(kctl(env, "lag", group, "-o", "json").stdout)
    # held, c, d, e and the commit marker: offsets, as Kafka counts lag
    assert [(r["lag"], r["in_open_transactions"]) for r in rows] == [(5, 0)]


def test_tail_shows_markers_and_which_records_they_ended(env: dict[str, str], broker: BrokerProcess) -> None:
    topic = unique("markers")
    kctl(env, "topics", "create", topic)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": unique("markers")})
    producer.init_transactions(30)
    for value, commit in ((b"kept", True), (b"dropped", False)):
        producer.begin_transaction()
        producer.produce(topic, value=value)
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    out = kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl", "--show-control").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["offset"], r.get("control"), r["value"] if "control" not in r else None) for r in rows] == [
        (0, None, "kept"), (1, "COMMIT", None), (2, None, "dropped"), (3, "ABORT", None)]
    assert len({r["producer_id"] for r in rows}) == 1  # one producer: the ABORT at 3 ended offset 2
    human = kctl(env, "tail", topic, "--from", "beginning", "--show-control", "--isolation", "read_committed").stdout
    assert "COMMIT marker of producer" in human and "ABORT marker of producer" in human
    assert "dropped" not in human  # read_committed: the aborted record is not shown, its marker is
    plain = [json.loads(line) for line in kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl").stdout
             .splitlines()]
    assert [r["value"] for r in plain] == ["kept", "dropped"] and all("control" not in r for r in plain)


def test_ctrl_c_aborts_the_transaction(env: dict[str, str], broker: BrokerProcess) -> None:
    topic, txid = unique("ctrlc"), unique("ctrlc")
    kctl(env, "topics", "create", topic)
    # SIGINT as the shell sends it on Ctrl-C, whatever the test runner's own launch ignored.
    child = subprocess.Popen([sys.executable, "-m", "kctl", "produce", topic, "--transactional-id", txid],
                             env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert child.stdin is not None
    child.stdin.write("one\ntwo\nthree\n")
    child.stdin.flush()
    deadline = time.monotonic() + 20
    while True:  # the records are in the transaction, which waits for more input
        described = kctl(env, "transactions", "describe", txid, "-o", "json", ok=False)
        if described.returncode == 0 and json.loads(described.stdout)["state"] == "Ongoing":
            break
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert tailed(env, topic, "read_committed") == []
    assert tailed(env, topic, "read_uncommitted") == ["one", "two", "three"]
    state = json.loads(kctl(env, "transactions", "describe", txid, "-o", "json").stdout)["state"]
    assert state == "CompleteAbort"
