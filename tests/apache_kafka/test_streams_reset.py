"""`kctl streams` against real Kafka Streams apps (WordCounter.java, built from Kafka 4.4's
kafka-streams: a repartition topic and a changelog), on the built-in broker and on Apache Kafka:
a reset is refused while the app runs, previews itself, then does what Kafka's
kafka-streams-application-reset.sh does to a twin app on the same cluster (the same offsets, the
same topics deleted), and the app run again reprocesses its input to the first run's counts."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique
from tests.support.apache_kafka import KafkaCluster, lib_dir, require_jars, run_tool

ck = pytest.importorskip("confluent_kafka")
JAVA = Path(__file__).resolve().parents[1] / "support" / "java"
WORDS = [f"word{i}" for i in range(10)]


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    require_jars()
    broker = BrokerProcess(tmp_path_factory.mktemp("streams-reset") / "data")
    broker.start()
    yield broker
    assert broker.stop() == 0, broker.log()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    return broker.bootstrap


class WordCounter:
    """WordCounter.java in a child process, its state changes followed on a thread."""

    def __init__(self, bootstrap: str, app_id: str, source: str, sink: str, state_dir: Path,
                 protocol: str = "classic") -> None:
        self.proc = subprocess.Popen(
            ["java", "-Xmx384m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{lib_dir()}/*",
             str(JAVA / "WordCounter.java"), protocol, bootstrap, app_id, source, sink, str(state_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_running(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while "STATE RUNNING" not in self.lines:
            assert self.proc.poll() is None, "\n".join(self.lines[-60:])
            assert time.monotonic() < deadline, "not RUNNING in time:\n" + "\n".join(self.lines[-60:])
            time.sleep(0.2)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def counts(bootstrap: str, topic: str, start: dict[int, int] | None = None) -> dict[str, list[int]]:
    """Every count written to `topic` (from `start` offsets per partition), by word, in order."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("check"), "enable.auto.commit": False})
    starts = start or {0: 0, 1: 0}
    consumer.assign([ck.TopicPartition(topic, p, o) for p, o in starts.items()])
    out: dict[str, list[int]] = {}
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < 1.5:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            quiet_since = time.monotonic()
            out.setdefault(message.key().decode(), []).append(int(message.value()))
    finally:
        consumer.close()
    return out


def wait_counts(bootstrap: str, topic: str, expected: dict[str, int], start: dict[int, int] | None = None,
                timeout: float = 120) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        seen = counts(bootstrap, topic, start)
        if {w: c[-1] for w, c in seen.items()} == expected:
            return seen
        assert time.monotonic() < deadline, f"counts {seen} never reached {expected}"
        time.sleep(1)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("ends")})
    try:
        return {p: consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)[1] for p in (0, 1)}
    finally:
        consumer.close()


def loaded(result: Any) -> Any:
    return json.loads(result.stdout)


def committed(env: dict[str, str], group: str) -> dict[tuple[str, int], int | None]:
    described = loaded(kctl(env, "groups", "describe", group, "-o", "json"))
    return {(p["topic"], p["partition"]): p["committed_offset"] for p in described["partitions"]}


def topic_names(env: dict[str, str]) -> set[str]:
    return {t["name"] for t in loaded(kctl(env, "topics", "list", "-o", "json"))}


def wait_no_members(env: dict[str, str], app: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while loaded(kctl(env, "streams", "describe", app, "-o", "json"))["members"]:
        assert time.monotonic() < deadline, f"{app} kept its members"
        time.sleep(1)


def test_a_reset_app_reprocesses_its_input_as_kafkas_tool_resets_its_twin(bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(tmp_path, bootstrap)
    source, ours_app, twin = unique("words"), unique("counter"), unique("twin")
    sinks = {ours_app: f"{source}-{ours_app}-out", twin: f"{source}-{twin}-out"}
    for topic in (source, *sinks.values()):
        kctl(env, "topics", "create", topic, "-p", "2")
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    for i in range(300):
        producer.produce(source, value=WORDS[i % len(WORDS)])
    assert producer.flush(30) == 0
    expected = dict.fromkeys(WORDS, 30)

    apps = {app: WordCounter(bootstrap, app, source, sinks[app], tmp_path / f"state-{app}-1") for app in sinks}
    try:
        for app, counter in apps.items():
            counter.wait_running()
            wait_counts(bootstrap, sinks[app], expected)
        # Refused while the app runs, in the words of Kafka's tool; nothing changes.
        running = kctl(env, "streams", "reset", ours_app, "--execute", ok=False)
        assert running.returncode == 8, running.stderr
        assert f"Consumer group '{ours_app}' is still active" in running.stderr
    finally:
        for counter in apps.values():
            counter.close()

    for app in apps:  # Kafka Streams does not leave its group on close: its session must lapse
        wait_no_members(env, app)
    described = loaded(kctl(env, "streams", "describe", ours_app, "-o", "json"))
    assert described["input_topics"] == [source] and described["members"] == 0
    internal = described["internal_topics"]
    assert any(t.endswith("-repartition") for t in internal) and any(t.endswith("-changelog") for t in internal)
    assert all(t.startswith(ours_app + "-") for t in internal)

    # The preview: every input partition back to 0, the internal topics named; nothing done.
    before = committed(env, ours_app)
    preview = loaded(kctl(env, "streams", "reset", ours_app, "-o", "json"))
    assert preview["executed"] is False and sorted(preview["delete_topics"]) == sorted(internal)
    planned = {(r["topic"], r["partition"], r["new_offset"]) for r in preview["offsets"]}
    assert planned == {(source, 0, 0), (source, 1, 0)}
    assert committed(env, ours_app) == before and set(internal) <= topic_names(env)
    stray = kctl(env, "streams", "reset", ours_app, "--internal-topic", source, ok=False)
    assert stray.returncode == 2 and "Invalid topic specified in the --internal-topics option" in stray.stderr

    # kctl resets one app; Kafka's own tool its twin. Same offsets, same topics gone.
    kctl(env, "streams", "reset", ours_app, "--execute")
    tool = run_tool("streams-application-reset", "--bootstrap-server", bootstrap, "--application-id", twin,
                    "--input-topics", source)
    match = re.search(r"Deleting inferred internal topics \[(.*)\]", tool.stdout)
    assert match, tool.stdout
    twin_deleted = sorted(t.strip() for t in match.group(1).split(",") if t.strip())
    assert [t.replace(twin, ours_app, 1) for t in twin_deleted] == sorted(internal)
    remaining = topic_names(env)
    assert not (set(internal) | set(twin_deleted)) & remaining

    def renamed(offsets: dict[tuple[str, int], int | None], app: str) -> dict[tuple[str, int], int | None]:
        return {(t.replace(app, "APP", 1), p): o for (t, p), o in offsets.items() if t in remaining}

    assert renamed(committed(env, ours_app), ours_app) == renamed(committed(env, twin), twin)
    assert committed(env, ours_app)[(source, 0)] == 0 and committed(env, ours_app)[(source, 1)] == 0

    # Run again from a clean state dir: it counts from 1 again and ends where the first run did.
    # (Left alone, the changelog would have restored the counts, and they would end at 60.)
    start = end_offsets(bootstrap, sinks[ours_app])
    again = WordCounter(bootstrap, ours_app, source, sinks[ours_app], tmp_path / f"state-{ours_app}-2")
    try:
        again.wait_running()
        rerun = wait_counts(bootstrap, sinks[ours_app], expected, start)
    finally:
        again.close()
    assert all(seen[0] == 1 for seen in rerun.values())


def test_a_streams_group_is_described_and_reset_on_kafka(kafka_one: KafkaCluster, tmp_path: Path) -> None:
    """Kafka 4.4's streams groups (KIP-1071): the group, its topology, and a reset through it."""
    env = isolated_env(tmp_path, kafka_one.bootstrap)
    source, app = unique("kip1071-words"), unique("kip1071-app")
    sink = f"{source}-out"
    for topic in (source, sink):
        kctl(env, "topics", "create", topic, "-p", "2")
    producer = ck.Producer({"bootstrap.servers": kafka_one.bootstrap})
    for i in range(100):
        producer.produce(source, value=WORDS[i % len(WORDS)])
    assert producer.flush(30) == 0
    counter = WordCounter(kafka_one.bootstrap, app, source, sink, tmp_path / "state", protocol="streams")
    try:
        counter.wait_running()
        wait_counts(kafka_one.bootstrap, sink, dict.fromkeys(WORDS, 10))
        shown = loaded(kctl(env, "streams", "describe", app, "-o", "json"))
        assert shown["group_type"] == "streams" and shown["members"] == 1
        sources = {t for s in shown["group"]["subtopologies"] for t in s["source_topics"]}
        assert source in sources
        assert kctl(env, "streams", "reset", app, "--execute", ok=False).returncode == 8
    finally:
        counter.close()
    wait_no_members(env, app)
    done = loaded(kctl(env, "streams", "reset", app, "--execute", "-o", "json"))
    assert done["executed"] and done["delete_topics"]
    offsets = committed(env, app)
    assert offsets[(source, 0)] == 0 and offsets[(source, 1)] == 0
    assert not set(done["delete_topics"]) & topic_names(env)
