"""kctl and every kind of group Kafka has, on Apache Kafka 4.4 and 3.9.1, with Java clients of each
kind running: classic and consumer-protocol consumers (KIP-848), share consumers (KIP-932) and a
Kafka Streams app on the streams protocol (KIP-1071). What kctl shows and changes is held against
the same release's own tools on the same cluster: kafka-consumer-groups, kafka-share-groups,
kafka-streams-groups, kafka-groups, kafka-metadata-quorum, kafka-features and kafka-configs.
3.9.1 has no share or streams groups (and no tools for them); the rest runs there too."""

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

from tests.cli.conftest import isolated_env
from tests.cli.test_commands import as_json, kctl, unique
from tests.support.apache_kafka import KafkaCluster, lib_dir

from .test_kafka_tools_on_our_broker import start_verifiable, wait_for

JAVA = Path(__file__).resolve().parents[1] / "support" / "java"


@pytest.fixture(scope="module", params=["kafka_one", "kafka_older"])
def kafka(request: pytest.FixtureRequest) -> KafkaCluster:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def env(tmp_path: Path, kafka: KafkaCluster) -> dict[str, str]:
    return isolated_env(tmp_path, kafka.bootstrap)


def needs(kafka: KafkaCluster, version: str, what: str) -> None:
    if not kafka.at_least(version):
        pytest.skip(f"Apache Kafka {kafka.version} has no {what} (from {version})")


#: The Java program that runs a member of each kind of group (share and streams members need
#: 4.x's client; a consumer member runs with 3.9's too).
PROGRAMS = {"classic": "ConsumerMember.java", "consumer": "ConsumerMember.java", "share": "ShareMember.java",
            "streams": "StreamsMember.java"}


class Member:
    """One member of a group of some kind (PROGRAMS) in a child process; its lines followed on a thread."""

    def __init__(self, kafka: KafkaCluster, kind: str, group: str, topic: str, limit: int | None = None) -> None:
        args = [kind, kafka.bootstrap, group, topic] + ([str(limit)] if limit is not None else [])
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{lib_dir(kafka.version)}/*",
             str(JAVA / PROGRAMS[kind]), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def read(self) -> int:
        return max((int(line.split()[1]) for line in self.lines if line.startswith("READ ")), default=0)

    def wait(self, condition: Any, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the member exited before {what}:\n" + "\n".join(self.lines[-40:])
            assert time.monotonic() < deadline, f"no {what} in time:\n" + "\n".join(self.lines[-40:])
            time.sleep(0.1)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:
        member.close()


def produce(env: dict[str, str], topic: str, count: int, partitions: int, first: int = 0) -> None:
    kctl(env, "produce", topic, "--jsonl", stdin="".join(
        json.dumps({"key": f"k{i}", "value": f"v{i}", "partition": i % partitions}) + "\n"
        for i in range(first, first + count)))


def tool_rows(kafka: KafkaCluster, tool: str, *args: str) -> list[dict[str, str]]:
    return aligned(kafka.tool(tool, *args).stdout)


def aligned(text: str) -> list[dict[str, str]]:
    """Rows of a table a Kafka tool prints with its columns padded to line up: each value is
    read from where its heading starts (values may hold spaces: `ACTIVE: 0:[0,1]; `)."""
    lines = [line for line in text.splitlines() if line.strip()]
    at = next((i for i, line in enumerate(lines) if line.split()[0] == "GROUP"), None)
    if at is None:  # "... has no offset information."
        return []
    header = lines[at]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for line in lines[at + 1:]:
        bounds = [*starts[1:], None]
        rows.append({name: line[start:end].strip() for name, start, end in zip(names, starts, bounds, strict=True)})
    return rows


def until(condition: Any, what: str, timeout: float = 60) -> None:
    wait_for(condition, timeout, what)


def settles(look: Any, expected: object, what: str, timeout: float = 60) -> None:
    """Until `look()` gives `expected`; on time out, fails showing the last look."""
    deadline = time.monotonic() + timeout
    while (found := look()) != expected:
        assert time.monotonic() < deadline, f"{what}: {found} is not {expected}"
        time.sleep(0.3)


def lag_of(env: dict[str, str], group: str) -> dict[tuple[str, int], tuple[int, int]]:
    """kctl lag for one group: (topic, partition) -> (committed or start offset, lag)."""
    return {(r["topic"], r["partition"]): (r["committed_offset"], r["lag"])
            for r in as_json(kctl(env, "lag", group, "-o", "json"))}


def assigned_partitions(text: str) -> set[int]:
    """The partitions in an assignment as Kafka's tools print it: `topic:0,1,2` (4.x) or
    `(0,1,2)` (3.9), possibly several side by side."""
    return {int(p) for group in re.findall(r"[:(]([\d,]+)", text) for p in group.split(",") if p}


# ---- consumer-protocol groups (and classic ones beside them) ------------------------------------------
@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_group_of_kafkas_verifiable_consumers(env: dict[str, str], kafka: KafkaCluster, tmp_path: Path,
                                                protocol: str) -> None:
    """Kafka's verifiable consumer with the default group protocol and with `--group-protocol
    consumer`: kctl lists and describes the group as Kafka's own tool does, refuses a reset under
    it with Kafka's words, and resets and deletes it once it is gone."""
    topic, group = unique("orders"), unique(f"vc-{protocol}")
    kctl(env, "topics", "create", topic, "-p", "3")
    produce(env, topic, 30, 3)
    args = ["--bootstrap-server", kafka.bootstrap, "--topic", topic, "--group-id", group, "--reset-policy", "earliest",
            "--verbose"]
    if protocol == "consumer":
        args += ["--group-protocol", "consumer"]
    verifiable = start_verifiable("vc", "verifiable-consumer", *args, log=tmp_path / "vc.log", version=kafka.version)
    try:
        until(lambda: len(verifiable.named("records_consumed")) > 0 and sum(
            int(e["count"]) for e in verifiable.named("records_consumed")) >= 30,  # type: ignore[arg-type]
            "the verifiable consumer to read every record")

        def described() -> dict[str, Any]:
            found: dict[str, Any] = as_json(kctl(env, "groups", "describe", group, "-o", "json"))  # type: ignore[assignment]
            return found

        until(lambda: described()["state"] == "Stable" and sum(p["lag"] for p in described()["partitions"]) == 0,
              "the group to be stable and caught up")
        ours = described()
        assert ours["type"] == protocol and ours["protocol_type"] == "consumer"
        [member] = ours["members"]
        assert sorted(member["assignment"]) == [f"{topic}[{p}]" for p in range(3)]
        # Kafka's ConsumerGroupCommand: the same member, epoch and assignment, and the same offsets.
        [theirs] = tool_rows(kafka, "consumer-groups", "--describe", "--group", group, "--members", "--verbose")
        assert theirs["CONSUMER-ID"] == member["member_id"]
        assert assigned_partitions(theirs.get("CURRENT-ASSIGNMENT") or theirs["ASSIGNMENT"]) == {0, 1, 2}
        if protocol == "consumer" and "CURRENT-EPOCH" in theirs:  # 3.9 prints no epochs
            assert int(theirs["CURRENT-EPOCH"]) == member["epoch"] and ours["group_epoch"] >= member["epoch"]
            assert assigned_partitions(theirs["TARGET-ASSIGNMENT"]) == {0, 1, 2}
        if protocol == "consumer":
            assert member["epoch"] > 0 and member["target_assignment"] == member["assignment"]
        else:
            assert member["epoch"] is None
        offsets = {(r["TOPIC"], int(r["PARTITION"])): (int(r["CURRENT-OFFSET"]), int(r["LAG"]))
                   for r in tool_rows(kafka, "consumer-groups", "--describe", "--group", group)}
        assert lag_of(env, group) == offsets == {(topic, p): (10, 0) for p in range(3)}
        # Listed with its type, as ConsumerGroupCommand --list --type has it; filtered by type and state.
        listed = {g["group"]: g for g in as_json(kctl(env, "groups", "list", "-o", "json"))}
        assert (listed[group]["type"], listed[group]["protocol_type"], listed[group]["state"]) == (
            protocol, "consumer", "Stable")
        typed = {r["GROUP"]: r["TYPE"].lower() for r in tool_rows(kafka, "consumer-groups", "--list", "--type")}
        assert typed[group] == protocol
        only = [g["group"] for g in as_json(kctl(env, "groups", "list", "--type", protocol, "-o", "json"))]
        other = "classic" if protocol == "consumer" else "consumer"
        assert group in only and group not in [
            g["group"] for g in as_json(kctl(env, "groups", "list", "--type", other, "-o", "json"))]
        assert group in [g["group"] for g in as_json(kctl(env, "groups", "list", "--state", "stable", "--type",
                                                          f"{other},{protocol}", "-o", "json"))]
        # A reset under running consumers is refused, in the words Kafka's tool uses.
        refused = kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute", ok=False)
        kafkas = kafka.tool("consumer-groups", "--group", group, "--topic", topic, "--reset-offsets", "--to-earliest",
                            "--execute", check=False)
        words = f"Assignments can only be reset if the group '{group}' is inactive, but the current state is Stable"
        assert refused.returncode == 8 and words in refused.stderr
        assert words in kafkas.stdout + kafkas.stderr
        assert lag_of(env, group) == offsets  # nothing moved
    finally:
        verifiable.proc.terminate()
        verifiable.proc.wait(30)
    until(lambda: not described()["members"], "the consumer to leave")
    kctl(env, "groups", "reset-offsets", group, "-t", f"{topic}:1", "--to-offset", "4", "--execute")
    after = {int(r["PARTITION"]): int(r["CURRENT-OFFSET"])
             for r in tool_rows(kafka, "consumer-groups", "--describe", "--group", group)}
    assert after == {0: 10, 1: 4, 2: 10}
    kctl(env, "groups", "delete-offsets", group, "-t", f"{topic}:2")
    assert sorted(int(r["PARTITION"]) for r in tool_rows(kafka, "consumer-groups", "--describe", "--group", group)) \
        == [0, 1]
    kctl(env, "groups", "delete", group, "--yes")
    assert group not in kafka.tool("consumer-groups", "--list").stdout.split()


# ---- share groups ----------------------------------------------------------------------------------------
def test_a_share_group(env: dict[str, str], kafka: KafkaCluster, members: list[Member]) -> None:
    needs(kafka, "4.1", "share groups")
    topic, group = unique("tasks"), unique("workers")
    kctl(env, "topics", "create", topic, "-p", "2")
    # Group configs: a share group starts at the latest record unless told otherwise.
    kctl(env, "configs", "set", "group", group, "share.auto.offset.reset=earliest")
    assert "share.auto.offset.reset=earliest" in kafka.tool(
        "configs", "--describe", "--entity-type", "groups", "--entity-name", group).stdout
    got = {c["name"]: c for c in as_json(kctl(env, "configs", "get", "group", group, "-o", "json"))}
    assert got["share.auto.offset.reset"]["value"] == "earliest" and got["share.auto.offset.reset"]["source"] == "group"
    produce(env, topic, 20, 2)
    worker = Member(kafka, "share", group, topic)
    members.append(worker)
    worker.wait(lambda: worker.read() >= 20, "the share consumer to read every record")

    described: dict[str, Any] = as_json(kctl(env, "groups", "describe", group, "-o", "json"))  # type: ignore[assignment]
    assert (described["type"], described["state"], described["protocol_type"]) == ("share", "Stable", "share")
    [member] = described["members"]
    [theirs] = tool_rows(kafka, "share-groups", "--describe", "--group", group, "--members")
    assert theirs["CONSUMER-ID"] == member["member_id"] and member["epoch"] > 0
    assert assigned_partitions(theirs["ASSIGNMENT"]) == {0, 1}
    assert sorted(member["assignment"]) == [f"{topic}[0]", f"{topic}[1]"]
    listed = {g["group"]: g for g in as_json(kctl(env, "groups", "list", "--type", "share", "-o", "json"))}
    assert listed[group]["type"] == "share" and group in kafka.tool("share-groups", "--list").stdout.split()
    assert {r["GROUP"]: r["TYPE"] for r in tool_rows(kafka, "groups", "--list")}[group].lower() == "share"

    # A reset is refused while it has members, in the words of kafka-share-groups.
    refused = kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute", ok=False)
    assert refused.returncode == 8 and f"Share group '{group}' is not empty" in refused.stderr
    kafkas = kafka.tool("share-groups", "--group", group, "--topic", topic, "--reset-offsets", "--to-earliest",
                        "--execute", check=False)
    assert f"Share group '{group}' is not empty" in kafkas.stdout + kafkas.stderr
    worker.close()

    # The backlog with nobody reading: from where each share partition starts to the end,
    # as kafka-share-groups --describe --offsets shows it.
    produce(env, topic, 15, 2, first=20)

    def share_tool() -> dict[tuple[str, int], tuple[int, int]]:
        return {(r["TOPIC"], int(r["PARTITION"])): (int(r["START-OFFSET"]), int(r["LAG"]))
                for r in tool_rows(kafka, "share-groups", "--describe", "--group", group, "--offsets")
                if r["START-OFFSET"] != "-"}

    def backlog() -> dict[tuple[str, int], int]:
        return {tp: lag for tp, (_, lag) in share_tool().items()}

    # The acknowledged records past the start offset are not counted (Kafka's lag, v1).
    settles(backlog, {(topic, 0): 8, (topic, 1): 7}, "Kafka's count of the share backlog")
    before = share_tool()
    assert lag_of(env, group) == before
    check = kctl(env, "lag", group, "--check", "--interval", "1", ok=False)
    assert check.returncode == 7 and "STOP" in check.stderr  # a backlog and no consumers
    # lag --watch covers share groups: two looks, each with the group's rows.
    watch = subprocess.Popen([*kctl_command(), "lag", group, "--watch", "--interval", "1", "-o", "jsonl"], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        looks = [json.loads(watch.stdout.readline()) for _ in range(4)]
    finally:
        watch.terminate()
        watch.wait(30)
    assert {(r["group"], r["partition"], r["lag"]) for r in looks} == {(group, 0, 8), (group, 1, 7)}

    # Resets move where the share partitions start (AlterShareGroupOffsets), and undo puts them back.
    dry = as_json(kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-latest", "-o", "json"))
    assert [(r["current_offset"], r["new_offset"]) for r in dry["partitions"]] == [  # type: ignore[index]
        (before[(topic, 0)][0], 18), (before[(topic, 1)][0], 17)]
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-latest", "--execute")
    settles(share_tool, {(topic, 0): (18, 0), (topic, 1): (17, 0)}, "the share reset")
    assert lag_of(env, group) == share_tool()
    kctl(env, "groups", "undo-reset", group)
    settles(share_tool, {(topic, p): (before[(topic, p)][0], end - before[(topic, p)][0])
                         for p, end in ((0, 18), (1, 17))}, "the undo")
    # A share group forgets whole topics only.
    partial = kctl(env, "groups", "delete-offsets", group, "-t", f"{topic}:0", ok=False)
    assert partial.returncode == 2 and "whole topics only" in partial.stderr
    kctl(env, "groups", "delete-offsets", group, "-t", topic)
    settles(share_tool, {}, "the share offsets to go")
    kctl(env, "groups", "delete", group, "--yes")
    until(lambda: group not in kafka.tool("share-groups", "--list").stdout.split(), "the share group to go")


def committed_by_admin(kafka: KafkaCluster, group: str) -> dict[tuple[str, int], tuple[int, int]]:
    """confluent-kafka's AdminClient: (topic, partition) -> (committed offset, records to the end)."""
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    [result] = admin.list_consumer_group_offsets([ck.ConsumerGroupTopicPartitions(group)]).values()
    committed = {(tp.topic, tp.partition): tp.offset for tp in result.result(30).topic_partitions}
    consumer = ck.Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": unique("ends")})
    try:
        ends = {tp: consumer.get_watermark_offsets(ck.TopicPartition(*tp), timeout=10, cached=False)[1]
                for tp in committed}
    finally:
        consumer.close()
    return {tp: (offset, ends[tp] - offset) for tp, offset in committed.items()}


def kctl_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "kctl"]


# ---- streams groups --------------------------------------------------------------------------------------
def test_a_streams_group(env: dict[str, str], kafka: KafkaCluster, members: list[Member]) -> None:
    needs(kafka, "4.1", "streams groups")
    topic, app = unique("clicks"), unique("sessionizer")
    kctl(env, "topics", "create", topic, "-p", "2")
    kctl(env, "topics", "create", f"{topic}-out", "-p", "2")
    produce(env, topic, 20, 2)
    streams = Member(kafka, "streams", app, topic)
    members.append(streams)
    streams.wait(lambda: "STATE RUNNING" in streams.lines, "the Streams app to run")

    def described() -> dict[str, Any]:
        found: dict[str, Any] = as_json(kctl(env, "groups", "describe", app, "-o", "json"))  # type: ignore[assignment]
        return found

    until(lambda: described()["state"] == "Stable" and described()["lag"] == 0 and len(described()["partitions"]) == 2,
          "the Streams app to commit its way to the end", timeout=90)
    ours = described()
    assert (ours["type"], ours["protocol_type"]) == ("streams", "streams")
    [subtopology] = ours["subtopologies"]
    assert subtopology["source_topics"] == [topic]
    [member] = ours["members"]
    assert member["active_tasks"] == [f"{subtopology['subtopology']}:0,1"]
    assert sorted(member["assignment"]) == [f"{topic}[0]", f"{topic}[1]"]
    [theirs] = tool_rows(kafka, "streams-groups", "--describe", "--group", app, "--members")
    assert (theirs["MEMBER"], theirs["PROCESS"]) == (member["member_id"], member["process_id"])
    assert f"ACTIVE: {subtopology['subtopology']}:[0,1]" in theirs["ASSIGNMENTS"]
    assert app in kafka.tool("streams-groups", "--list").stdout.split()
    # Its lag, from its committed offsets, as kafka-streams-groups shows it while the app runs.
    theirs_lag = {(r["TOPIC"], int(r["PARTITION"])): int(r["OFFSET-LAG"])
                  for r in tool_rows(kafka, "streams-groups", "--describe", "--group", app, "--offsets")}
    assert theirs_lag == {k: lag for k, (_, lag) in lag_of(env, app).items()} == {(topic, 0): 0, (topic, 1): 0}
    streams.close()

    # With the app gone (the tool shows an empty group's offsets no more), Kafka's Admin client
    # reads the same committed offsets kctl shows.
    produce(env, topic, 10, 2, first=20)
    assert lag_of(env, app) == committed_by_admin(kafka, app) == {(topic, 0): (10, 5), (topic, 1): (10, 5)}
    # Its offsets are reset as consumer offsets, with the group empty.
    kctl(env, "groups", "reset-offsets", app, "-t", topic, "--to-latest", "--execute")
    assert committed_by_admin(kafka, app) == {(topic, 0): (15, 0), (topic, 1): (15, 0)}
    kctl(env, "groups", "delete-offsets", app, "-t", f"{topic}:1")
    assert committed_by_admin(kafka, app) == {(topic, 0): (15, 0)}
    kctl(env, "groups", "delete", app, "--yes")
    assert app not in kafka.tool("streams-groups", "--list").stdout.split()


# ---- the cluster's shape ---------------------------------------------------------------------------------
@pytest.fixture(params=["kafka_one", "kafka_three", "kafka_older"])
def any_kafka(request: pytest.FixtureRequest) -> KafkaCluster:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def quorum_status(kafka: KafkaCluster) -> dict[str, str]:
    out = kafka.tool("metadata-quorum", "describe", "--status").stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def test_the_active_controller_and_the_quorum(any_kafka: KafkaCluster, tmp_path: Path) -> None:
    kafka = any_kafka
    env = isolated_env(tmp_path, kafka.bootstrap)
    status = quorum_status(kafka)
    info = as_json(kctl(env, "cluster", "info", "-o", "json"))
    assert info["controller"] == int(status["LeaderId"])  # type: ignore[index]
    brokers = as_json(kctl(env, "brokers", "list", "-o", "json"))
    assert [b["id"] for b in brokers if b["controller"]] == [int(status["LeaderId"])]  # type: ignore[index]
    quorum: dict[str, Any] = as_json(kctl(env, "cluster", "quorum", "-o", "json"))  # type: ignore[assignment]
    assert quorum["leader_id"] == int(status["LeaderId"])
    assert quorum["leader_epoch"] == int(status["LeaderEpoch"])
    assert sorted(quorum["voters"]) == sorted(int(v) for v in re.findall(r'"id": (\d+)', status["CurrentVoters"]))
    assert quorum["voters"] == sorted(n.node_id for n in kafka.nodes)
    lines = [line.split("\t") for line in kafka.tool("metadata-quorum", "describe", "--replication").stdout.splitlines()
             if "\t" in line]
    header = [h.strip() for h in lines[0]]
    replication = {int(r["NodeId"]): r for r in (dict(zip(header, (v.strip() for v in line), strict=False))
                                                   for line in lines[1:])}
    assert {r["node"] for r in quorum["replicas"]} == set(replication)
    for row in quorum["replicas"]:
        assert row["role"] == replication[row["node"]]["Status"]
        assert row["log_end_offset"] > 0 and row["lag"] >= 0
    [leader] = [r for r in quorum["replicas"] if r["role"] == "Leader"]
    assert any(e.startswith("CONTROLLER://127.0.0.1:") for e in leader["endpoints"])


def kafka_features(kafka: KafkaCluster) -> dict[str, str]:
    out = kafka.tool("features", "describe").stdout
    return dict(re.findall(r"Feature: (\S+)\s.*?FinalizedVersionLevel: (\S+)", out))


def test_feature_levels(env: dict[str, str], kafka: KafkaCluster) -> None:
    listed = {f["feature"]: f for f in as_json(kctl(env, "features", "list", "-o", "json"))}  # type: ignore[attr-defined]
    theirs = kafka_features(kafka)
    assert set(listed) == set(theirs)
    for name, level in theirs.items():
        if name != "metadata.version":  # Kafka prints that one by release name (4.4-IV2)
            assert listed[name]["finalized"] == int(level), name
    assert listed["metadata.version"]["finalized"] > 0
    # A feature to move down one level and back: one the release finalizes that is not the
    # metadata or KRaft version (those are changed with care, not in a test). A release that
    # finalizes none by default (3.9) gets a dry run of an upgrade instead.
    name = next((n for n in ("share.version", "transaction.version", "group.version")
                 if n in listed and listed[n]["finalized"] > 0), None)
    if name is None:
        name = next((n for n in ("transaction.version", "group.version") if n in listed), None)
        if name is None:
            return  # 3.9: only metadata.version and kraft.version
        dry = as_json(kctl(env, "features", "upgrade", "-f", f"{name}=1", "-o", "json"))
        assert dry["executed"] is False and kafka_features(kafka)[name] == "0"  # type: ignore[index]
        return
    level = listed[name]["finalized"]
    dry = as_json(kctl(env, "features", "downgrade", "-f", f"{name}={level - 1}", "-o", "json"))
    assert dry["executed"] is False and kafka_features(kafka)[name] == str(level)  # type: ignore[index]
    wrong = kctl(env, "features", "upgrade", "-f", f"{name}={level - 1}", ok=False)
    assert wrong.returncode == 2 and "not an upgrade" in wrong.stderr
    kctl(env, "features", "downgrade", "-f", f"{name}={level - 1}", "--execute")
    assert kafka_features(kafka)[name] == str(level - 1)
    kctl(env, "features", "upgrade", "-f", f"{name}={level}", "--execute")
    assert kafka_features(kafka)[name] == str(level)
    beyond = kctl(env, "features", "upgrade", "-f", f"{name}={listed[name]['supported_max'] + 1}", ok=False)
    assert beyond.returncode != 0 and kafka_features(kafka)[name] == str(level)


# ---- configs of every entity -----------------------------------------------------------------------------
def test_configs_of_every_entity(env: dict[str, str], kafka: KafkaCluster) -> None:
    node = str(kafka.nodes[0].node_id)
    # Every broker's default, as kafka-configs --entity-default shows it.
    kctl(env, "configs", "set", "cluster", "log.cleaner.backoff.ms=16000")
    assert "log.cleaner.backoff.ms=16000" in kafka.tool(
        "configs", "--describe", "--entity-type", "brokers", "--entity-default").stdout
    got = {c["name"]: c for c in as_json(kctl(env, "configs", "get", "cluster", "-o", "json"))}
    assert (got["log.cleaner.backoff.ms"]["value"], got["log.cleaner.backoff.ms"]["source"]) == (
        "16000", "dynamic-default-broker")
    kctl(env, "configs", "delete", "cluster", "log.cleaner.backoff.ms")
    assert "log.cleaner.backoff.ms" not in kafka.tool(
        "configs", "--describe", "--entity-type", "brokers", "--entity-default").stdout
    # Broker loggers: levels at run time.
    kctl(env, "configs", "set", "broker-logger", node, "root=WARN")
    assert "root=WARN" in kafka.tool("configs", "--describe", "--entity-type", "broker-loggers",
                                     "--entity-name", node).stdout
    loggers = {c["name"]: c["value"] for c in as_json(kctl(env, "configs", "get", "broker-logger", node, "-o", "json"))}
    assert loggers["root"] == "WARN"
    kctl(env, "configs", "set", "broker-logger", node, "root=INFO")
    assert "root=INFO" in kafka.tool("configs", "--describe", "--entity-type", "broker-loggers",
                                     "--entity-name", node).stdout
    # Client-metrics subscriptions (KIP-714), listed and described like kafka-client-metrics does.
    name = unique("producer-metrics")
    kctl(env, "configs", "set", "client-metrics", name, "metrics=org.apache.kafka.producer.", "interval.ms=60000")
    assert name in [r["name"] for r in as_json(kctl(env, "configs", "list", "client-metrics", "-o", "json"))]
    described = kafka.tool("client-metrics", "--describe", "--name", name).stdout
    assert "org.apache.kafka.producer." in described and "60000" in described
    kctl(env, "configs", "delete", "client-metrics", name, "metrics", "interval.ms")
    # Bad input: a clear error, nothing changed.
    bad = kctl(env, "configs", "get", "broker-logger", "not-a-broker", ok=False)
    assert bad.returncode == 2 and "broker id" in bad.stderr
    if kafka.at_least("4.0"):  # group configs came with the consumer protocol's general availability
        group = unique("configured")
        kctl(env, "configs", "set", "group", group, "consumer.session.timeout.ms=50000")
        assert "consumer.session.timeout.ms=50000" in kafka.tool(
            "configs", "--describe", "--entity-type", "groups", "--entity-name", group).stdout
        assert group in [r["name"] for r in as_json(kctl(env, "configs", "list", "group", "-o", "json"))]


# ---- lag over every type ------------------------------------------------------------------------------------
def test_lag_over_every_type_at_once(env: dict[str, str], kafka: KafkaCluster, members: list[Member]) -> None:
    """One `kctl lag` over every group: each type's rows, each group with its verdict."""
    kinds = ["classic", "consumer"] + (["share", "streams"] if kafka.at_least("4.1") else [])
    topic = unique("mixed")
    kctl(env, "topics", "create", topic, "-p", "2")
    kctl(env, "topics", "create", f"{topic}-out", "-p", "2")
    produce(env, topic, 20, 2)
    groups = {kind: unique(f"every-{kind}") for kind in kinds}
    if "share" in groups:
        kctl(env, "configs", "set", "group", groups["share"], "share.auto.offset.reset=earliest")
    for kind, group in groups.items():
        members.append(Member(kafka, kind, group, topic, limit=None if kind in ("share", "streams") else 6))

    def looked() -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {}
        for r in as_json(kctl(env, "lag", *groups.values(), "-o", "json")):  # type: ignore[attr-defined]
            rows.setdefault(r["group"], []).append(r)
        return rows

    def settled() -> bool:
        rows = looked()
        return all(len(rows.get(g, [])) == 2 for g in groups.values()) and all(
            sum(r["lag"] for r in rows[groups[k]]) == (0 if k in ("share", "streams") else 14) for k in groups)

    until(settled, "every group to reach its place", timeout=120)
    listed = {g["group"]: g["type"] for g in as_json(kctl(env, "groups", "list", "-o", "json"))}  # type: ignore[attr-defined]
    assert {listed[g] for g in groups.values()} == set(kinds)

