"""Snapshots of every view and dialog against the built-in broker with fixed data.

The broker listens on a fixed port with a fixed cluster id, records carry fixed timestamps, the
clock used for lag in seconds is pinned, refreshes are slowed so no second look (and no rate)
sneaks in, and the cursor does not blink: the screens are the same on every run. After an
intended change of looks, run `pytest tests/tui/test_snapshots.py --snapshot-update` and review
the SVGs.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from kctl.tui.app import KctlTui
from tests.broker.conftest import BrokerProcess

from .conftest import T0, console, seed, wait_for

PORT = 39_417
SIZE = (130, 34)


def _port_free() -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def fixed_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    if not _port_free():
        pytest.skip(f"port {PORT} is taken; the snapshots show it, so they need exactly that one")
    data = tmp_path_factory.mktemp("snapshots") / "data"
    data.mkdir()
    (data / "meta.properties").write_text("cluster.id=kctl-snapshot-cluster\nversion=1\nnode.id=0\n")
    b = BrokerProcess(data)
    b.port = PORT
    b.start()
    seed(b.bootstrap, tmp_path_factory.mktemp("state"))
    yield b
    b.stop()


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import kctl.ops.groups

    monkeypatch.setattr(kctl.ops.groups, "now_ms", lambda: T0 + 3_600_000)


def app_for(broker: BrokerProcess, **kwargs: Any) -> KctlTui:
    return console(broker.bootstrap, refresh_s=3600, **kwargs)


def loaded(pilot: Any) -> Any:
    return wait_for(pilot, lambda: getattr(pilot.app.screen, "loaded", False), "the view loaded")


def test_topics(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    assert snap_compare(app_for(fixed_broker), terminal_size=SIZE, run_before=loaded)


def test_topics_filtered(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def filtered(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"ord")

    assert snap_compare(app_for(fixed_broker), terminal_size=SIZE, run_before=filtered)


def test_topic_detail(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def detail(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "topic", None) == "orders", "orders")
        await loaded(pilot)

    assert snap_compare(app_for(fixed_broker), terminal_size=(130, 60), run_before=detail)


def test_groups(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    assert snap_compare(app_for(fixed_broker, start="groups"), terminal_size=SIZE, run_before=loaded)


def test_group_detail(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def detail(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "group", None) == "billing", "billing")
        await loaded(pilot)

    assert snap_compare(app_for(fixed_broker, start="groups"), terminal_size=(150, SIZE[1]), run_before=detail)


def test_cluster_overview(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    assert snap_compare(app_for(fixed_broker, start="cluster"), terminal_size=SIZE, run_before=loaded)


def test_tail_with_record_pane(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def tail(pilot: Any) -> None:
        from kctl.tui.widgets import RecordList

        await loaded(pilot)
        await pilot.press("colon", *"tail audit", "enter")
        await wait_for(pilot, lambda: pilot.app.screen.query_one(RecordList).count == 5, "5 records")
        await pilot.press("up", "enter")

    assert snap_compare(app_for(fixed_broker), terminal_size=(150, SIZE[1]), run_before=tail)


def test_help(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def help_(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app_for(fixed_broker), terminal_size=SIZE, run_before=help_)


def test_reset_dialog_preview(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def reset(pilot: Any) -> None:
        from kctl.tui.dialogs import ResetScreen

        await loaded(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResetScreen), "the dialog")
        await pilot.click("#scope")
        await pilot.press(*"orders:0,2", "enter")
        await wait_for(pilot, lambda: pilot.app.screen.plan is not None, "the preview")

    assert snap_compare(app_for(fixed_broker, start="groups"), terminal_size=(130, 44), run_before=reset)


def test_create_topic_dialog(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def create(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("c", *"invoices", "tab", "6", "tab", "tab", *"retention.ms=600000")

    assert snap_compare(app_for(fixed_broker), terminal_size=SIZE, run_before=create)


def test_delete_confirmation(snap_compare: Any, fixed_broker: BrokerProcess) -> None:
    async def delete(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("down", "down", "ctrl+d")

    assert snap_compare(app_for(fixed_broker), terminal_size=SIZE, run_before=delete)
