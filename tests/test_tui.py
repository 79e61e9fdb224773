"""The console driven by Textual's Pilot against a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.cli.runtime import Settings
from kctl.tui import themes
from kctl.tui.app import BrokersScreen, GroupsScreen, HelpScreen, KctlTui, TopicScreen, TopicsScreen
from tests.broker.conftest import BrokerProcess


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("tui") / "data").start()
    import subprocess
    import sys

    for topic, partitions in (("alpha", 2), ("beta", 3), ("gamma", 1)):
        subprocess.run([sys.executable, "-m", "kctl", "-b", b.bootstrap, "topics", "create", topic, "-p",
                        str(partitions)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "kctl", "-b", b.bootstrap, "produce", "beta", "-p", "1"], input="x\ny\n",
                   text=True, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "kctl", "-b", b.bootstrap, "groups", "reset-offsets", "readers", "-t",
                    "beta", "--to-earliest", "--execute"], check=True, capture_output=True,
                   env={**__import__("os").environ, "XDG_STATE_HOME": str(tmp_path_factory.mktemp("state"))})
    yield b
    b.stop()


def table_keys(app: KctlTui) -> list[str]:
    table = app.screen.query_one("DataTable")
    return [str(key.value) for key in table.rows]  # type: ignore[attr-defined]


async def wait_rows(pilot: object, app: KctlTui, count: int) -> None:
    for _ in range(100):
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        if len(table_keys(app)) >= count:
            return
    raise AssertionError(f"the table never had {count} rows: {table_keys(app)}")


async def test_navigation_filter_detail_and_help(broker: BrokerProcess) -> None:
    app = KctlTui(Settings(bootstrap=broker.bootstrap, timeout=10))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        assert isinstance(app.screen, TopicsScreen)
        assert table_keys(app) == ["alpha", "beta", "gamma"]
        await pilot.press("slash", "b", "e")  # filter as you type
        await pilot.pause(0.1)
        assert table_keys(app) == ["beta"]
        await pilot.press("enter", "enter")  # apply the filter, then open the row
        await pilot.pause(0.2)
        assert isinstance(app.screen, TopicScreen) and app.screen.topic == "beta"
        await wait_rows(pilot, app, 3)
        assert "kctl > topics > beta" in str(app.screen.query_one("#crumbs").render())
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "escape")  # close help, then back to the topics
        await pilot.pause(0.1)
        assert isinstance(app.screen, TopicsScreen)
        await pilot.press("colon", *"groups", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, GroupsScreen)
        await wait_rows(pilot, app, 1)
        assert table_keys(app) == ["readers"]
        await pilot.press("colon", *"brokers", "enter")
        await wait_rows(pilot, app, 1)
        assert isinstance(app.screen, BrokersScreen)


async def test_an_unreachable_cluster_shows_its_status_instead_of_freezing() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = KctlTui(Settings(bootstrap=f"127.0.0.1:{port}", timeout=2))
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            status = str(app.screen.query_one("#status").render())
            if "no bootstrap server answered" in status:
                break
        assert "no bootstrap server answered" in status
        await pilot.press("question_mark")  # still answering keys
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)


def test_themes_load_and_a_bad_file_is_reported_not_fatal(tmp_path: Path) -> None:
    loaded = themes.load([themes.BUILT_IN])
    assert {"kctl-dark", "kctl-light", "kctl-high-contrast", "kctl-production"} <= set(loaded.themes)
    assert loaded.problems == []
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n')
    (tmp_path / "garbage.toml").write_text("this is = = not toml")
    (tmp_path / "fine.toml").write_text('name = "fine"\nprimary = "#123456"\n')
    loaded = themes.load([tmp_path])
    assert set(loaded.themes) == {"fine"}
    assert len(loaded.problems) == 2 and any("not a colour" in p for p in loaded.problems)
    assert themes.resolve_name("production", {"kctl-production": loaded.themes["fine"], "kctl-dark": None}) \
        == "kctl-production"  # type: ignore[dict-item]
    assert themes.resolve_name("no-such-theme", {}) == themes.DEFAULT


async def test_live_tail_and_group_detail(broker: BrokerProcess) -> None:
    from textual.widgets import Log

    from kctl.tui.app import GroupScreen, TailScreen

    app = KctlTui(Settings(bootstrap=broker.bootstrap, timeout=10))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        await pilot.press("colon", *"tail beta", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TailScreen)
        log = app.screen.query_one(Log)
        for _ in range(100):
            await pilot.pause(0.05)
            if log.line_count >= 2:
                break
        assert [line.split("  ")[-1] for line in log.lines[:2]] == ["x", "y"]
        await pilot.press("space")
        await pilot.pause(0.1)
        assert app.screen.paused and "paused" in str(app.screen.query_one("#status").render())
        await pilot.press("escape", "colon", *"groups", "enter")
        await wait_rows(pilot, app, 1)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, GroupScreen)
        await wait_rows(pilot, app, 3)
        lag = {k: v for k, v in zip(table_keys(app), [app.screen.rows[i]["lag"] for i in range(3)], strict=True)}
        assert lag == {"beta:0": 0, "beta:1": 2, "beta:2": 0}
        assert "kctl > groups > readers" in str(app.screen.query_one("#crumbs").render())
