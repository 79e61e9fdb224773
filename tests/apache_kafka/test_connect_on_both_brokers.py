"""`kctl connect` against Apache Kafka 4.4's Connect runtime (a distributed worker, run from the
release's jars) with Kafka's file connectors, the worker working for the built-in broker and for
Apache Kafka in turn: a file's lines go through a topic into another file while kctl creates,
checks, pauses, resumes, stops, moves offsets, restarts a failed task and deletes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique
from tests.support.apache_kafka import KafkaCluster
from tests.support.kafka_connect import ConnectWorker, require_plugins

SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    require_plugins()
    broker = BrokerProcess(tmp_path_factory.mktemp("connect-broker") / "data")
    broker.start()
    yield broker
    assert broker.stop() == 0, broker.log()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def worker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectWorker]:
    require_plugins()
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    started = ConnectWorker(tmp_path_factory.mktemp(f"connect-{request.param}"), broker.bootstrap).start()
    yield started
    started.stop()


@pytest.fixture
def env(tmp_path: Path, worker: ConnectWorker) -> dict[str, str]:
    out = isolated_env(tmp_path, worker.bootstrap)
    out["KCTL_CONNECT"] = worker.url
    return out


def wait_for(condition: Callable[[], Any], what: str, worker: ConnectWorker, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:g}s\n{worker.logs()}")


def loaded(result: Any) -> Any:
    return json.loads(result.stdout)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def connectors(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in loaded(kctl(env, "connect", "list", "-o", "json"))}


def running(env: dict[str, str], name: str, tasks: int = 1) -> bool:
    row = connectors(env).get(name)
    return row is not None and row["state"] == "RUNNING" and row["tasks"] == f"{tasks}/{tasks} RUNNING"


def config_file(tmp_path: Path, name: str, config: dict[str, str]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "config": config}))
    return str(path)


def test_a_file_goes_through_a_topic_and_kctl_runs_the_connectors(env: dict[str, str], worker: ConnectWorker,
                                                                 tmp_path: Path) -> None:
    # The cluster: the worker's version and the Kafka cluster it works for.
    [cluster] = loaded(kctl(env, "connect", "clusters", "-o", "json"))
    assert cluster["version"].startswith("4.4") and cluster["kafka_cluster_id"] and not cluster["error"]
    plugins = {p["class"] for p in loaded(kctl(env, "connect", "plugins", "-o", "json"))}
    assert {SOURCE, SINK} <= plugins

    topic, source, sink = unique("connect-lines"), unique("file-source"), unique("file-sink")
    infile, outfile = tmp_path / "in.txt", tmp_path / "out.txt"
    infile.write_text("".join(f"line {i}\n" for i in range(1, 51)))

    # A config the workers refuse: each bad field named, nothing made.
    refused = kctl(env, "connect", "create", source, "--config",
                   config_file(tmp_path, source, {"connector.class": SOURCE, "file": str(infile), "tasks.max": "x"}),
                   ok=False)
    assert refused.returncode == 2, refused.stderr
    assert "tasks.max" in refused.stderr and "topic" in refused.stderr and "2 field(s)" in refused.stderr
    assert source not in connectors(env)

    source_config = {"connector.class": SOURCE, "file": str(infile), "topic": topic, "tasks.max": "1"}
    kctl(env, "connect", "create", source, "--config", config_file(tmp_path, source, source_config))
    sink_props = f"connector.class={SINK}\nfile={outfile}\ntopics={topic}\ntasks.max=1\n"
    kctl(env, "connect", "create", sink, "--config", "-", stdin=sink_props)
    again = kctl(env, "connect", "create", sink, "--config", "-", stdin=sink_props, ok=False)
    assert again.returncode == 8 and "already exists" in again.stderr

    wait_for(lambda: lines_of(outfile) == [f"line {i}" for i in range(1, 51)], "50 lines through the topic", worker)
    wait_for(lambda: running(env, source) and running(env, sink), "both connectors running", worker)
    assert kctl(env, "connect", "list", "--check").returncode == 0
    described = loaded(kctl(env, "connect", "describe", source, "-o", "json"))
    assert described["type"] == "source" and described["config"]["topic"] == topic
    assert [t["state"] for t in described["task_states"]] == ["RUNNING"]
    assert wait_for(lambda: topic in kctl(env, "connect", "topics", source).stdout, "the source's topic", worker)

    # Pause, resume: lines written while paused arrive after.
    kctl(env, "connect", "pause", source)
    wait_for(lambda: connectors(env)[source]["state"] == "PAUSED", "paused", worker)
    with infile.open("a") as more:
        more.write("".join(f"line {i}\n" for i in range(51, 56)))
    kctl(env, "connect", "resume", source)
    wait_for(lambda: len(lines_of(outfile)) == 55, "the lines written while paused", worker)

    # Offsets (KIP-875): refused while running; a dry run changes nothing; stopped, the source is
    # moved back to the start of line 51 and reads lines 51-55 again.
    def source_offsets() -> Any:  # the worker flushes them every 500 ms
        got = loaded(kctl(env, "connect", "offsets", "get", source, "-o", "json"))
        return got if [o["offset"]["position"] for o in got["offsets"]] == [infile.stat().st_size] else None

    offsets = wait_for(source_offsets, "the source's offset at the end of its file", worker)
    [entry] = offsets["offsets"]
    assert entry["partition"] == {"filename": str(infile)}
    rewind = tmp_path / "rewind.json"
    rewind.write_text(json.dumps({"offsets": [{"partition": entry["partition"],
                                               "offset": {"position": len("".join(f"line {i}\n"
                                                                                  for i in range(1, 51)))}}]}))
    preview = loaded(kctl(env, "connect", "offsets", "alter", source, "--file", str(rewind), "-o", "json"))
    assert preview["applied"] is False and preview["changes"][0]["before"] != preview["changes"][0]["after"]
    busy = kctl(env, "connect", "offsets", "alter", source, "--file", str(rewind), "--execute", ok=False)
    assert busy.returncode == 8 and "STOPPED" in busy.stderr
    kctl(env, "connect", "stop", source)
    wait_for(lambda: connectors(env)[source]["state"] == "STOPPED", "stopped", worker)
    done = kctl(env, "connect", "offsets", "alter", source, "--file", str(rewind), "--execute")
    saved = Path(done.stderr.split("saved in ")[1].split()[0])
    assert json.loads(saved.read_text())["offsets"] == offsets["offsets"]
    kctl(env, "connect", "resume", source)
    wait_for(lambda: lines_of(outfile)[55:] == [f"line {i}" for i in range(51, 56)], "lines 51-55 read again", worker)

    # A sink's offsets reset: stopped, previewed (each partition back to nothing), reset; resumed,
    # it writes the whole topic again (its consumer starts from the earliest).
    kctl(env, "connect", "stop", sink)
    wait_for(lambda: connectors(env)[sink]["state"] == "STOPPED", "the sink stopped", worker)
    preview = loaded(kctl(env, "connect", "offsets", "reset", sink, "-o", "json"))
    assert preview["applied"] is False and {c["after"] for c in preview["changes"]} == {"-"}
    assert len(lines_of(outfile)) == 60
    kctl(env, "connect", "offsets", "reset", sink, "--execute")
    assert loaded(kctl(env, "connect", "offsets", "get", sink, "-o", "json"))["offsets"] == []
    kctl(env, "connect", "resume", sink)
    wait_for(lambda: len(lines_of(outfile)) == 120, "the topic written out again", worker)
    assert lines_of(outfile)[60:] == lines_of(outfile)[:60]
    kctl(env, "connect", "topics", "reset", source)
    assert "name:" in kctl(env, "connect", "describe", source, "-o", "yaml").stdout

    # Update: the change shown before it is made, the old config saved.
    update = kctl(env, "connect", "update", sink, "--config", "-", "-o", "json",
                  stdin=sink_props + "errors.log.enable=true\n")
    assert loaded(update)["changes"] == [{"key": "errors.log.enable", "before": None, "after": "true"}]
    assert "errors.log.enable: (unset) -> true" in update.stderr

    # A task that fails: --check finds it (exit 7), the trace names why; fixed and restarted.
    broken, missing = unique("broken-sink"), tmp_path / "missing"
    kctl(env, "connect", "create", broken, "--config", "-",
         stdin=f"connector.class={SINK}\nfile={missing / 'out.txt'}\ntopics={topic}\n")
    wait_for(lambda: connectors(env).get(broken, {}).get("failed_tasks") == [0], "the broken task FAILED", worker)
    check = kctl(env, "connect", "list", "--check", ok=False)
    assert check.returncode == 7 and f"{broken}: task(s) 0 FAILED" in check.stderr
    assert connectors(env)[broken]["trouble"] and next(iter(connectors(env))) == broken  # failing ones first
    trace = loaded(kctl(env, "connect", "describe", broken, "-o", "json"))["task_states"][0]["trace"]
    assert "out.txt" in trace
    missing.mkdir()
    kctl(env, "connect", "restart", broken, "--include-tasks", "--only-failed")
    wait_for(lambda: running(env, broken), "the fixed task running", worker)
    wait_for(lambda: len(lines_of(missing / "out.txt")) == 60, "the fixed sink caught up", worker)
    assert kctl(env, "connect", "list", "--check").returncode == 0
    kctl(env, "connect", "restart-task", broken, "0")
    unknown = kctl(env, "connect", "restart-task", broken, "7", ok=False)
    assert unknown.returncode == 3

    # Delete: the config saved first, and creating from it brings the connector back.
    assert kctl(env, "connect", "delete", broken, ok=False).returncode == 2  # no terminal, no --yes
    gone = kctl(env, "connect", "delete", broken, "--yes")
    saved_config = Path(gone.stderr.split("saved in ")[1].split()[0])
    assert broken not in connectors(env)
    kctl(env, "connect", "create", broken, "--config", str(saved_config))
    wait_for(lambda: running(env, broken), "the connector back from its saved config", worker)
    for name in (source, sink, broken):
        kctl(env, "connect", "delete", name, "--yes")
    assert not ({source, sink, broken} & set(connectors(env)))
    missing_one = kctl(env, "connect", "describe", source, ok=False)
    assert missing_one.returncode == 3 and "no connector named" in missing_one.stderr


def test_connector_changes_are_journaled_and_undone_through_connect(env: dict[str, str], worker: ConnectWorker,
                                                                   tmp_path: Path) -> None:
    """Create, update and delete, each in `kctl history` with the config before and after, under
    the Kafka cluster Connect works on; each undone by `kctl undo` through the worker."""
    topic, name = unique("journal-topic"), unique("journal-sink")
    [cluster] = loaded(kctl(env, "connect", "clusters", "-o", "json"))
    config = {"connector.class": SINK, "file": str(tmp_path / "out.txt"), "topics": topic, "tasks.max": "1"}
    kctl(env, "connect", "create", name, "--config", config_file(tmp_path, name, config))
    kctl(env, "connect", "update", name, "--config", config_file(tmp_path, name, {**config, "tasks.max": "2"}))
    created, updated = loaded(kctl(env, "history", "-o", "json"))[-2:]
    assert (created["kind"], updated["kind"]) == ("connector-created", "connector-config")
    assert created["cluster"] == updated["cluster"] == cluster["kafka_cluster_id"]
    assert created["before"] is None and created["after"]["topics"] == topic
    assert updated["before"]["tasks.max"] == "1" and updated["after"]["tasks.max"] == "2"
    assert updated["change"] == f"connector {name}: tasks.max changed"

    steps = [r["step"] for r in loaded(kctl(env, "undo", updated["id"], "-o", "json"))]
    assert steps == [f"connector {name}: tasks.max back to 1"]
    kctl(env, "undo", updated["id"], "--execute")
    assert loaded(kctl(env, "connect", "describe", name, "-o", "json"))["config"]["tasks.max"] == "1"

    kctl(env, "connect", "delete", name, "--yes")
    deleted = loaded(kctl(env, "history", "-o", "json"))[-1]
    assert deleted["kind"] == "connector-deleted" and deleted["before"]["tasks.max"] == "1"
    assert name not in connectors(env)
    kctl(env, "undo", deleted["id"], "--execute")
    wait_for(lambda: name in connectors(env), "the connector made again", worker)
    assert loaded(kctl(env, "connect", "describe", name, "-o", "json"))["config"]["file"] == config["file"]

    kctl(env, "undo", created["id"], "--execute")  # taking back the create deletes it
    wait_for(lambda: name not in connectors(env), "the connector gone", worker)
    undone = [u for u in loaded(kctl(env, "history", "-o", "json")) if u["undoes"]][-3:]
    assert [(u["kind"], u["undoes"]) for u in undone] == [
        ("connector-config", updated["id"]), ("connector-created", deleted["id"]),
        ("connector-deleted", created["id"])]


def test_kctl_says_so_when_no_worker_answers(tmp_path: Path, worker: ConnectWorker) -> None:
    env = isolated_env(tmp_path, worker.bootstrap)
    nothing = kctl(env, "connect", "list", ok=False)
    assert nothing.returncode == 2 and "--connect" in nothing.stderr
    env["KCTL_CONNECT"] = "http://127.0.0.1:9"
    down = kctl(env, "connect", "list", ok=False)
    assert down.returncode == 4 and "cannot reach Kafka Connect" in down.stderr


def test_named_connect_clusters_from_the_context(tmp_path: Path, worker: ConnectWorker) -> None:
    env = isolated_env(tmp_path, None)
    kctl(env, "config", "set-context", "here", "-b", worker.bootstrap, "--connect", "down=http://127.0.0.1:9",
         "--connect", f"main={worker.url}", "--use")
    assert kctl(env, "config", "set-context", "here", "--connect", "no-url", ok=False).returncode == 2
    rows = {r["name"]: r for r in loaded(kctl(env, "connect", "clusters", "-o", "json"))}
    assert rows["main"]["version"].startswith("4.4") and rows["down"]["error"]
    assert kctl(env, "connect", "list", "--cluster", "main").returncode == 0
    assert kctl(env, "connect", "list", ok=False).returncode == 4  # the first, "down", by default
    assert kctl(env, "connect", "list", "--cluster", "nope", ok=False).returncode == 3


async def test_the_console_pauses_resumes_and_restarts_a_connector(env: dict[str, str], worker: ConnectWorker,
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from kctl.connect.cluster import Settings
    from kctl.tui.app import KctlTui
    from kctl.tui.views import ConnectorsScreen
    from tests.tui.conftest import table_keys
    from tests.tui.conftest import wait_for as console_wait

    for key in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(key, env[key])
    name, infile = unique("console-source"), tmp_path / "in.txt"
    infile.write_text("one\ntwo\n")
    kctl(env, "connect", "create", name, "--config", "-",
         stdin=f"connector.class={SOURCE}\nfile={infile}\ntopic={unique('console-lines')}\n")
    wait_for(lambda: running(env, name), "the source running", worker)

    def state() -> str:
        return str(worker.get(f"/connectors/{name}/status")["connector"]["state"])

    app = KctlTui(Settings(bootstrap=worker.bootstrap, timeout=10, connect=worker.url), cursor_blink=False,
                  refresh_s=1, start="connectors")
    async with app.run_test(size=(160, 44)) as pilot:
        await console_wait(pilot, lambda: isinstance(app.screen, ConnectorsScreen) and name in table_keys(
            app, "connectors"), "the connector listed", 30)
        table = app.screen.query_one("#connectors")
        table.move_cursor(row=table.get_row_index(name))  # type: ignore[attr-defined]
        await pilot.press("p")
        await console_wait(pilot, lambda: state() == "PAUSED", "paused from the console", 30)
        hint = str(app.screen.query_one("#hint").render())
        assert hint.endswith(f"--connect {worker.url} connect pause {name}")
        await pilot.press("u")
        await console_wait(pilot, lambda: state() == "RUNNING", "resumed from the console", 30)
        await pilot.press("R")
        await console_wait(pilot, lambda: f"connect restart {name} --include-tasks --only-failed" in str(
            app.screen.query_one("#hint").render()), "the restart announced", 30)
    kctl(env, "connect", "delete", name, "--yes")
