"""Snapshots of every view and dialog, on recorded answers: no broker, no network.

The console's backend is `recorded.RecordedBackend`: what the live backend answered for the
seeded cluster, with its address, id and clock fixed. Refreshes are slowed so no second look (and
no rate) sneaks in, and the cursor does not blink: the screens are the same on every run. After an
intended change of looks, run `pytest tests/tui/test_snapshots.py --snapshot-update` and review
the SVGs; after a change of what the views are given, refresh the recording first (see
`recorded.py`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kctl.connect.cluster import Settings
from kctl.tui.app import KctlTui
from tests.broker.conftest import BrokerProcess

from .conftest import wait_for
from .recorded import ADDRESS, CLUSTER_ID, RECORDING, record_live, recorded

SIZE = (130, 34)


def app_for(**kwargs: Any) -> KctlTui:
    settings = Settings(bootstrap=f"{ADDRESS[0]}:{ADDRESS[1]}", timeout=10)
    return KctlTui(settings, cursor_blink=False, refresh_s=3600, backend=recorded, **kwargs)


def test_the_recording_is_what_a_live_cluster_answers(broker: BrokerProcess) -> None:
    """The snapshots show real answers: the recording is what the live backend gives for the
    seeded cluster today, up to its address and id."""
    live = json.loads(json.dumps(asyncio.run(record_live(broker.bootstrap))))
    assert live["overview"]["cluster_id"] == CLUSTER_ID
    assert live == json.loads(RECORDING.read_text()), "refresh it: python -m tests.tui.recorded"


def loaded(pilot: Any) -> Any:
    return wait_for(pilot, lambda: getattr(pilot.app.screen, "loaded", False), "the view loaded")


def test_topics(snap_compare: Any) -> None:
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=loaded)


def test_topics_filtered(snap_compare: Any) -> None:
    async def filtered(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"ord")

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=filtered)


def test_topic_detail(snap_compare: Any) -> None:
    async def detail(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "topic", None) == "orders", "orders")
        await loaded(pilot)

    assert snap_compare(app_for(), terminal_size=(130, 60), run_before=detail)


def test_groups(snap_compare: Any) -> None:
    assert snap_compare(app_for(start="groups"), terminal_size=SIZE, run_before=loaded)


def test_group_detail(snap_compare: Any) -> None:
    async def detail(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "group", None) == "billing", "billing")
        await loaded(pilot)

    assert snap_compare(app_for(start="groups"), terminal_size=(150, SIZE[1]), run_before=detail)


def test_cluster_overview(snap_compare: Any) -> None:
    assert snap_compare(app_for(start="cluster"), terminal_size=SIZE, run_before=loaded)


def test_tail_with_record_pane(snap_compare: Any) -> None:
    async def tail(pilot: Any) -> None:
        from kctl.tui.widgets import RecordList

        await loaded(pilot)
        await pilot.press("colon", *"tail audit", "enter")
        await wait_for(pilot, lambda: pilot.app.screen.query_one(RecordList).count == 5, "5 records")
        await pilot.press("up", "enter")

    assert snap_compare(app_for(), terminal_size=(150, SIZE[1]), run_before=tail)


def test_help(snap_compare: Any) -> None:
    async def help_(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=help_)


def test_reset_dialog_preview(snap_compare: Any) -> None:
    async def reset(pilot: Any) -> None:
        from kctl.tui.dialogs import ResetScreen

        await loaded(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResetScreen), "the dialog")
        await pilot.click("#scope")
        await pilot.press(*"orders:0,2", "enter")
        await wait_for(pilot, lambda: pilot.app.screen.plan is not None, "the preview")

    assert snap_compare(app_for(start="groups"), terminal_size=(130, 44), run_before=reset)


def test_create_topic_dialog(snap_compare: Any) -> None:
    async def create(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("c", *"invoices", "tab", "6", "tab", "tab", *"retention.ms=600000")

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=create)


def test_delete_confirmation(snap_compare: Any) -> None:
    async def delete(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("down", "down", "ctrl+d")

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=delete)


def test_transactions_with_a_hanging_one(snap_compare: Any) -> None:
    from .test_console_transactions import hanging_app

    assert snap_compare(hanging_app(), terminal_size=(150, SIZE[1]), run_before=loaded)


def test_connectors_with_a_failed_task(snap_compare: Any) -> None:
    from .test_console_connectors import connect_data, connectors_app

    assert snap_compare(connectors_app(connect_data()), terminal_size=(150, 40), run_before=loaded)


VIEWS_AT_120 = [("topics", ()), ("groups", ()), ("cluster", ()), ("groups", ("enter",)), ("topics", ("down", "enter")),
                ("topics", ("colon", *"tail orders", "enter")), ("topics", ("colon", *"connectors", "enter")),
                ("topics", ("colon", *"acls", "enter"))]


async def test_nothing_is_cut_or_wrapped_at_120_columns() -> None:
    """Footers, the status line, help and notifications, in a 120-column terminal."""
    from textual.widgets import Static
    from textual.widgets._footer import FooterKey
    from textual.widgets._toast import Toast

    from kctl.tui.base import StatusLine

    for start, keys in VIEWS_AT_120:
        app = app_for(start=start)
        async with app.run_test(size=(120, 34)) as pilot:
            await loaded(pilot)
            for key in keys:
                await pilot.press(key)
            await pilot.pause(0.5)
            shown = [k for k in app.screen.query(FooterKey) if k.display]
            assert shown and max(k.region.right for k in shown) <= 120, (start, keys, "the footer is cut")
            status = app.screen.query_one(StatusLine)
            status.update("a failure said in full, " * 8 + "to its end")  # longer than a line
            await pilot.pause(0.1)
            assert status.region.height >= 2, (start, keys, "a long status is cut")

    app = app_for()
    async with app.run_test(size=(120, 34), notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        shown_help = app.screen.query_one("#help", Static)
        lines = str(shown_help.render()).splitlines()
        assert max(map(len, lines)) <= shown_help.content_region.width, "the help wraps"
        await pilot.press("escape")
        command = "kctl -b 127.0.0.1:9092 groups reset-offsets billing --all-topics --to-earliest --execute"
        app.announce("reset the offsets of billing (undo: kctl groups undo-reset billing)", command)
        await pilot.pause(0.5)
        toast = app.screen.query_one(Toast)
        assert toast.content_region.width >= len("$ " + command), "the notification wraps its command"


async def test_a_new_view_is_one_class_registered_with_view() -> None:
    """No list to keep: `@view` makes `:probe` open it, and the help and command line list it."""
    from kctl.ops.cells import Column
    from kctl.tui.base import ListScreen, Pane
    from kctl.tui.console import VIEWS, commands_text, view

    from .conftest import table_keys

    @view("probe")
    class ProbeScreen(ListScreen):
        view_name = "probe"
        panes = (Pane("things", (Column("name", "NAME"),)),)

        async def fetch(self) -> dict[str, list[dict[str, Any]]]:
            return {"things": [{"name": "found"}]}

    try:
        assert ":probe" in commands_text()
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            await pilot.press("colon", *"probe", "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProbeScreen), "the new view")
            await loaded(pilot)
            assert table_keys(app) == ["found"]
            await pilot.press("question_mark")
            await pilot.pause(0.2)
            assert ":probe" in str(app.screen.query_one("#help").render())
    finally:
        del VIEWS["probe"]


def test_a_view_with_data_of_its_own_needs_no_backend_change(broker: BrokerProcess) -> None:
    """A view and the query it asks for, in one place: the live backend runs the query against a
    cluster, the recorder records it with the rest, and the recorded backend answers it; the
    Backend protocol, LiveBackend and the recorded backend are not touched."""
    from kctl.ops.cells import Column
    from kctl.tui.backend import QUERIES, LiveBackend, query
    from kctl.tui.base import ListScreen, Pane
    from kctl.tui.console import VIEWS, view

    from .conftest import table_keys
    from .recorded import RecordedBackend

    @query("probe-brokers")
    async def probe_brokers(live: LiveBackend) -> list[dict[str, Any]]:
        cluster = await live.cluster()
        await cluster.refresh_metadata([])
        return [{"node": str(b.node_id), "port": b.port} for b in cluster.brokers.values()]

    @view("brokers-probe")
    class BrokersProbe(ListScreen):
        view_name = "brokers-probe"
        panes = (Pane("brokers", (Column("node", "NODE"), Column("port", "PORT", numeric=True)), key="node"),)

        async def fetch(self) -> dict[str, list[dict[str, Any]]]:
            return {"brokers": await (await self.kctl.backend()).ask("probe-brokers")}

    try:
        # Recorded: what the recorder stores for it, from a live cluster.
        live = asyncio.run(record_live(broker.bootstrap))
        assert live["queries"]["probe-brokers"] == [{"node": "0", "port": broker.port}]
        data = {**json.loads(RECORDING.read_text()), "queries": live["queries"]}

        async def run() -> list[str]:
            settings = Settings(bootstrap=f"{ADDRESS[0]}:{ADDRESS[1]}", timeout=10)
            app = KctlTui(settings, cursor_blink=False, refresh_s=3600, backend=lambda c, s: RecordedBackend(data))
            async with app.run_test(size=SIZE) as pilot:
                await loaded(pilot)
                await pilot.press("colon", *"brokers-probe", "enter")
                await wait_for(pilot, lambda: isinstance(pilot.app.screen, BrokersProbe), "the new view")
                await loaded(pilot)
                return table_keys(app)

        assert asyncio.run(run()) == ["0"]
    finally:
        del VIEWS["brokers-probe"]
        del QUERIES["probe-brokers"]
