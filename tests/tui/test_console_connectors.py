"""The console's connectors view on recorded answers: failing connectors first and in the error
colour, the tasks of the one picked, the trace of its failed task, and the `kctl connect`
command of each key. (It is driven against a real Connect worker in
tests/apache_kafka/test_connect_on_both_brokers.py.)"""

from __future__ import annotations

import copy
from typing import Any

from rich.text import Text

from kctl.connect.cluster import Settings
from kctl.ops.connectors import connector_row
from kctl.tui.app import KctlTui
from kctl.tui.views import ConnectorsScreen

from .conftest import table_keys, wait_for
from .recorded import ADDRESS, RecordedBackend
from .test_console import text_of

SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
TRACE = ("org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file '/data/missing/out.txt' "
         "for FileStreamSinkTask\n"
         "\tat org.apache.kafka.connect.file.FileStreamSinkTask.start(FileStreamSinkTask.java:81)\n"
         "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.initializeAndStart(WorkerSinkTask.java:330)")


def _connector(name: str, plugin: str, kind: str, task_states: list[str], trace: str | None = None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    info = {"config": {"connector.class": plugin}, "type": kind}
    status = {"type": kind, "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
              "tasks": [{"id": i, "state": s, "worker_id": "127.0.0.1:8083",
                         **({"trace": trace} if s == "FAILED" else {})} for i, s in enumerate(task_states)]}
    row = connector_row(name, info, status)
    detail = {**row, "trace": None, "config": {"connector.class": plugin}, "topics": ["lines"],
              "task_states": [{"id": t["id"], "state": t["state"], "worker_id": t["worker_id"],
                               "trace": t.get("trace")} for t in status["tasks"]]}
    return row, detail


def connect_data() -> dict[str, Any]:
    made = [_connector("lines-in", SOURCE, "source", ["RUNNING"]),
            _connector("lines-out", SINK, "sink", ["RUNNING", "FAILED"], TRACE),
            _connector("audit-out", SINK, "sink", ["PAUSED"])]
    rows = sorted((row for row, _ in made), key=lambda r: (not r["trouble"], r["name"]))
    data = copy.deepcopy(RecordedBackend().data)
    data["connectors"] = {"rows": rows, "details": {row["name"]: detail for row, detail in made}}
    return data


def connectors_app(data: dict[str, Any]) -> KctlTui:
    return KctlTui(Settings(bootstrap=f"{ADDRESS[0]}:{ADDRESS[1]}", timeout=10, connect="http://127.0.0.1:8083"),
                   cursor_blink=False, refresh_s=3600, start="connectors",
                   backend=lambda context, settings: RecordedBackend(data))


async def test_failing_connectors_come_first_with_their_trace() -> None:
    app = connectors_app(connect_data())
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectorsScreen) and app.screen.loaded, "the view")
        assert table_keys(app, "connectors")[0] == "lines-out"
        tasks = app.screen.query_one("#connectors").get_row("lines-out")[4]  # type: ignore[attr-defined]
        assert isinstance(tasks, Text) and str(tasks) == "1 FAILED, 1 RUNNING"
        assert tasks.style.color.name.lower() == app.current_theme.error.lower()
        assert table_keys(app, "tasks") == ["0", "1"]
        trace = [str(app.screen.query_one("#trace").get_row(k)[0]) for k in table_keys(app, "trace")]  # type: ignore[attr-defined]
        assert "Couldn't find or create file" in trace[0] and len(trace) == 3
        assert text_of(app, "#hint").endswith("--connect http://127.0.0.1:8083 connect list")

        # Enter picks another connector: its tasks, and no trace.
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: app.screen.chosen == "lines-in", "lines-in picked")  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: table_keys(app, "trace") == [], "no trace")


async def test_each_key_names_its_command_and_a_refused_change_is_said() -> None:
    app = connectors_app(connect_data())
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectorsScreen) and app.screen.loaded, "the view")
        words = {action: words.format("lines-out") for action, (words, _) in ConnectorsScreen.ACTIONS.items()}
        assert words["restart"] == "connect restart lines-out --include-tasks --only-failed"
        await pilot.press("p")  # the recording refuses: the error is shown, nothing else happens
        await wait_for(pilot, lambda: any("cannot change" in str(n.message) for n in app._notifications),
                       "the refusal shown")
