"""The console driven by Textual's Pilot against a real broker: navigation, mouse, the tail, the
group views, topic and config changes, the offset reset flow, keymaps and read-only contexts."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path

import pytest

from kctl.connect.cluster import Settings
from kctl.tui import themes
from kctl.tui.app import KctlTui
from kctl.tui.base import HelpScreen
from kctl.tui.dialogs import ConfirmScreen, CreateTopicScreen, EditConfigScreen, ResetScreen
from kctl.tui.tail import TailScreen
from kctl.tui.views import ClusterScreen, GroupScreen, GroupsScreen, TopicScreen, TopicsScreen
from kctl.tui.widgets import RecordList
from tests.broker.conftest import BrokerProcess
from tests.support.apache_kafka import KafkaCluster

from .conftest import console, kctl, table_keys, wait_for, wait_rows


def text_of(app: KctlTui, selector: str) -> str:
    if selector == "#summary":  # a grid of label and value cells: read as "label value" pairs
        lines = app.screen.query(".summary-line")
        return "\n".join("   ".join(f"{cells[i]} {cells[i + 1]}" for i in range(0, len(cells), 2))
                         for cells in ([str(label.render()) for label in line.query("Label")] for line in lines))
    return str(app.screen.query_one(selector).render())


async def summary_of(pilot: object, app: KctlTui) -> str:
    """The summary once its cells are mounted: a view's first look mounts them a frame or more
    after the view says it has loaded."""

    def mounted() -> bool:
        lines = app.screen.query(".summary-line")
        return bool(lines) and all(line.query("Label") for line in lines)

    await wait_for(pilot, mounted, "the summary's cells")
    return text_of(app, "#summary")


async def test_navigation_filter_detail_help_and_breadcrumbs(seeded: BrokerProcess | KafkaCluster) -> None:
    app = console(seeded.bootstrap)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        assert isinstance(app.screen, TopicsScreen)
        assert table_keys(app) == ["audit", "orders", "payments"]
        assert "kctl -b" in text_of(app, "#hint") and "topics list -o wide" in text_of(app, "#hint")
        await pilot.press("slash", "o", "r")  # filters as you type
        await wait_for(pilot, lambda: table_keys(app) == ["orders"], "only orders")
        await pilot.press("enter", "enter")  # keep the filter, then open the row
        await wait_for(pilot, lambda: isinstance(app.screen, TopicScreen), "the topic view")
        assert app.screen.topic == "orders"  # type: ignore[attr-defined]
        await wait_rows(pilot, app, 3, "partitions")
        assert "kctl > topics > orders" in text_of(app, "#crumbs")
        configs = app.screen.data["configs"]  # type: ignore[attr-defined]
        assert {"name": "retention.ms", "value": "86400000", "source": "topic", "read_only": False} in configs
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        help_text = text_of(app, "#help")
        assert "edit config" in help_text and "tail" in help_text
        await pilot.press("escape", "escape")  # close the help, then back to the topics
        await wait_for(pilot, lambda: isinstance(app.screen, TopicsScreen), "back on topics")
        await pilot.press("colon", *"groups", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GroupsScreen), "groups")
        await wait_rows(pilot, app, 2)
        assert table_keys(app) == ["billing", "ledger"]
        groups = {r["group"]: r for r in app.screen.data["groups"]}  # type: ignore[attr-defined]
        assert groups["billing"]["lag"] == 15 and groups["ledger"]["lag"] == 0
        assert groups["billing"]["state"] == "Empty" and groups["billing"]["health"] == "STOP"
        await pilot.press("colon", *"cluster", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ClusterScreen) and app.screen.loaded, "overview")
        summary = await summary_of(pilot, app)
        assert "topics 3 (+" in summary and "records 45" in summary  # the internal ones said apart
        # Partitions count the internal topics' as the brokers' replicas do (one replica each here).
        partitions, internal = map(int, re.search(r"partitions ([\d,]+) \(([\d,]+) internal\)", summary)
                                   .groups())  # type: ignore[union-attr]
        assert partitions - internal == 6
        assert partitions == sum(int(b["replicas"]) for b in app.screen.data["brokers"])  # type: ignore[attr-defined]
        assert "groups 2" in summary and "produce -" in summary  # a rate needs two looks


async def test_mouse_opens_rows_and_breadcrumbs_go_back(broker: BrokerProcess) -> None:
    app = console(broker.bootstrap)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        table = app.screen.query_one("DataTable")
        # Row 2 (orders) is at y=2 of the table (header at 0): one click selects, a second opens.
        await pilot.click(table, offset=(3, 2))
        await pilot.click(table, offset=(3, 2))
        await wait_for(pilot, lambda: isinstance(app.screen, TopicScreen), "opened by mouse")
        assert app.screen.topic == "orders"  # type: ignore[attr-defined]
        await wait_rows(pilot, app, 3, "partitions")
        # The breadcrumb "topics" is a link back: kctl > topics > orders
        await pilot.click("#crumbs", offset=(9, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, TopicsScreen), "back by breadcrumb")


async def test_a_fetch_answering_after_its_view_closed_is_dropped(broker: BrokerProcess) -> None:
    app = console(broker.bootstrap)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TopicScreen), "the topic view")
        topic_view = app.screen
        assert isinstance(topic_view, TopicScreen)
        answer = await topic_view.fetch()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, TopicsScreen) and not topic_view.children, "closed")
        topic_view._show_loaded(answer, "late")  # the worker's last step, once its widgets are gone
        assert app.return_code is None and isinstance(app.screen, TopicsScreen)


async def test_an_unreachable_cluster_shows_its_status_instead_of_freezing() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = KctlTui(Settings(bootstrap=f"127.0.0.1:{port}", timeout=2))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "no bootstrap server answered" in text_of(app, "#status"), "the status")
        await pilot.press("question_mark")  # still answering keys
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")


def test_themes_load_and_a_bad_file_is_reported_not_fatal(tmp_path: Path) -> None:
    loaded = themes.load([themes.CHECKOUT])
    assert {"kctl-dark", "kctl-light", "kctl-high-contrast", "kctl-production"} <= set(loaded.themes)
    assert loaded.problems == []
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n')
    (tmp_path / "garbage.toml").write_text("this is = = not toml")
    (tmp_path / "fine.toml").write_text('name = "fine"\nprimary = "#123456"\n')
    loaded = themes.load([tmp_path])
    assert set(loaded.themes) == {"fine"}
    assert len(loaded.problems) == 2 and any("not a colour" in p for p in loaded.problems)
    assert themes.resolve_name("production", {"kctl-production": loaded.themes["fine"]}) == "kctl-production"
    assert themes.resolve_name("no-such-theme", themes.load([themes.CHECKOUT]).themes) == themes.DEFAULT
    assert themes.resolve_name("no-such-theme", {}) == "textual-dark"  # kctl's own missing: Textual's


def test_the_built_in_themes_are_found_where_a_wheel_installs_them(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "share" / "kctl" / "themes"
    installed.mkdir(parents=True)
    (installed / "only.toml").write_text('name = "only"\nprimary = "#123456"\n')
    monkeypatch.setattr(themes, "CHECKOUT", tmp_path / "no-checkout")
    monkeypatch.setattr(themes.sysconfig, "get_path", lambda name, scheme=None: str(tmp_path))
    assert themes.built_in_dir() == installed
    monkeypatch.setattr(themes.sysconfig, "get_path", lambda name, scheme=None: str(tmp_path / "elsewhere"))
    loaded = themes.load()
    assert any("kctl's themes are missing" in p for p in loaded.problems)


async def test_a_production_context_gets_its_theme_and_refuses_changes_when_read_only(
        broker: BrokerProcess, private_config: Path) -> None:
    private_config.write_text(f'[contexts.prod]\nbootstrap-servers = "{broker.bootstrap}"\nread-only = true\n'
                              'theme = "production"\n')
    app = KctlTui(Settings(context="prod", timeout=10), cursor_blink=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        assert app.theme == "kctl-production"
        assert "kctl --context prod topics list" in text_of(app, "#hint")
        await pilot.press("ctrl+d")  # delete: refused before any dialog
        await pilot.pause(0.2)
        assert isinstance(app.screen, TopicsScreen)
        assert any("read-only" in n.message for n in app._notifications)
        await pilot.press("colon", *"groups", "enter")
        await wait_rows(pilot, app, 2)
        await pilot.press("R")
        await pilot.pause(0.2)
        assert isinstance(app.screen, GroupsScreen)  # no reset dialog either


async def test_keys_are_remapped_from_the_config_file_and_bad_entries_reported(
        broker: BrokerProcess, private_config: Path) -> None:
    private_config.write_text('[tui.keys]\ntail = "T"\nfly = "f"\n')
    app = console(broker.bootstrap)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        assert any("fly: no such action" in n.message for n in app._notifications)
        await pilot.press("t")  # the old key does nothing now
        await pilot.pause(0.2)
        assert isinstance(app.screen, TopicsScreen)
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TailScreen), "tail on the new key")


async def test_live_tail_jump_filter_record_pane_and_copy(seeded: BrokerProcess | KafkaCluster) -> None:
    app = console(seeded.bootstrap)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        await pilot.press("colon", *"tail orders", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TailScreen), "tail")
        screen = app.screen
        assert isinstance(screen, TailScreen)
        records = screen.query_one(RecordList)
        await wait_for(pilot, lambda: records.count == 30, "30 records")
        assert sorted((r.partition, r.offset) for r in records.records) == sorted(
            (i % 3, i // 3) for i in range(30))
        await pilot.press("space")
        await wait_for(pilot, lambda: "paused" in text_of(app, "#status"), "paused")
        await pilot.press("space")
        # Jump: the last 2 of each partition.
        await pilot.press("g", "ctrl+u", *"-2", "enter")
        await wait_for(pilot, lambda: records.count == 6, "6 records after the jump")
        assert sorted(r.offset for r in records.records) == [8, 8, 8, 9, 9, 9]
        assert "--from -2 --follow" in text_of(app, "#hint")
        await pilot.press("g", "ctrl+u", *"beginning", "enter")
        await wait_for(pilot, lambda: records.count == 30, "back to 30")
        # A filter over JSON fields and metadata, as `kctl tail --filter` takes it.
        await pilot.press("slash", *"value.total >= 250 and partition == 1", "enter")
        await wait_for(pilot, lambda: records.count == 2, "2 matches")  # orders 25 and 28
        assert sorted(json.loads(records.record_at(i).value)["order"] for i in range(2)) == [25, 28]
        assert "--filter" in text_of(app, "#hint") and "2 match" in text_of(app, "#status")
        await pilot.press("slash", *"value ==", "enter")  # a bad expression: said, not applied
        await pilot.pause(0.2)
        assert records.count == 2 and any(n.severity == "error" for n in app._notifications)
        # The record pane: pretty JSON, then hex; copy puts the record's JSON on the clipboard.
        await pilot.press("up", "enter")
        pane = screen.query_one("#record")
        await wait_for(pilot, lambda: '"order": 25' in _static_text(pane),
                       "pretty JSON of order 25")
        await pilot.press("x")
        await wait_for(pilot, lambda: "00000000  7b" in _static_text(pane), "hex dump")
        await pilot.press("c")
        copied = json.loads(app.clipboard)
        assert copied["topic"] == "orders" and copied["partition"] == 1 and json.loads(copied["value"])["order"] == 25
        assert "tail orders --partition 1 --from 8 --max 1 -o jsonl" in text_of(app, "#hint")
        await pilot.press("escape")  # closes the pane first
        assert not screen.query_one("#record-pane").display
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, TopicsScreen), "back")


def _static_text(widget: object) -> str:
    import io

    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)  # type: ignore[attr-defined]
    return console.export_text()


async def test_the_tail_opens_at_its_last_record_in_view(broker: BrokerProcess) -> None:
    kctl(broker.bootstrap, "topics", "create", "long-tail", "-p", "1")
    kctl(broker.bootstrap, "produce", "long-tail", stdin="".join(f"line {i}\n" for i in range(300)))
    app = console(broker.bootstrap)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_rows(pilot, app, 3)
        app.push_screen(TailScreen("long-tail", start="beginning"))
        await wait_for(pilot, lambda: isinstance(app.screen, TailScreen), "tail")
        records = app.screen.query_one(RecordList)
        await wait_for(pilot, lambda: records.count == 300, "every record")
        await pilot.pause(0.3)
        top, height = records.scroll_offset.y, records.scrollable_content_region.height
        assert records.selected().offset == 299  # type: ignore[union-attr]
        assert height > 5 and top <= records.cursor < top + height, (top, height, records.cursor)


async def test_a_million_records_stay_scrollable(broker: BrokerProcess) -> None:
    """The list draws only the rows on screen: a million records cost nothing to show or move in."""
    from kctl.client.types import ConsumerRecord, RecordOrigin

    app = console(broker.bootstrap)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_rows(pilot, app, 3)
        app.push_screen(TailScreen("audit", start="end"))
        await wait_for(pilot, lambda: isinstance(app.screen, TailScreen), "tail")
        records = app.screen.query_one(RecordList)
        origin = RecordOrigin("audit", 0, 0, 0)
        records.add([ConsumerRecord(i, i, b"k", b"v%d" % i, (), origin) for i in range(1_000_000)])
        await pilot.pause(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await pilot.press("home", "pagedown", "pagedown", "end", "up")
        assert loop.time() - started < 2.0
        assert records.selected().offset == 999_998


async def test_group_detail_shows_lag_members_and_history(seeded: BrokerProcess | KafkaCluster) -> None:
    app = console(seeded.bootstrap, start="groups")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_rows(pilot, app, 2)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GroupScreen), "group detail")
        await wait_rows(pilot, app, 3, "lag")
        screen = app.screen
        assert isinstance(screen, GroupScreen)
        lag = {r["key"]: (r["committed_offset"], r["log_end_offset"], r["lag"]) for r in screen.data["lag"]}
        assert lag == {"orders:0": (5, 10, 5), "orders:1": (5, 10, 5), "orders:2": (5, 10, 5)}
        assert all(r["lag_seconds"] is not None and r["lag_seconds"] > 0 for r in screen.data["lag"])
        summary = await summary_of(pilot, app)
        assert "lag 15" in summary and "health STOP" in summary and "lag history" in summary
        assert "kctl > groups > billing" in text_of(app, "#crumbs")
        assert "lag billing --watch" in text_of(app, "#hint")
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.history("billing").totals) >= 3, "more samples")
        assert "consume 0.0/s" in text_of(app, "#summary")  # two looks give a rate
        await pilot.pause(1.1)
        await pilot.press("r")
        await wait_for(pilot, lambda: "why" in text_of(app, "#summary"), "the why verdict")
        assert "why no consumers: the group is Empty with 15 records to read" in text_of(app, "#summary")


async def test_a_reset_is_not_shown_as_a_consume_rate(broker: BrokerProcess) -> None:
    kctl(broker.bootstrap, "topics", "create", "jumpy", "-p", "1")
    kctl(broker.bootstrap, "produce", "jumpy", stdin="".join(f"r{i}\n" for i in range(5_000)))
    kctl(broker.bootstrap, "groups", "reset-offsets", "rewinder", "-t", "jumpy", "--to-offset", "10", "--execute")
    app = console(broker.bootstrap, start="groups", refresh_s=3600)  # a look at each `r`, no other

    async def look() -> str:
        looks = len(app.history("rewinder").totals)
        await pilot.pause(1.1)  # looks closer together than a second replace each other
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.history("rewinder").totals) > looks, "a look")
        await pilot.pause(0.2)
        return text_of(app, "#summary")

    async with app.run_test(size=(160, 40)) as pilot:
        await wait_rows(pilot, app, 1)
        app.push_screen(GroupScreen("rewinder"))
        await wait_for(pilot, lambda: isinstance(app.screen, GroupScreen), "group detail")
        await wait_rows(pilot, app, 1, "lag")
        assert "consume 0.0/s" in await look()
        # Elsewhere on this machine, the group is reset to its end: 4,990 offsets in a moment.
        kctl(broker.bootstrap, "groups", "reset-offsets", "rewinder", "-t", "jumpy", "--to-latest", "--execute")
        after = await look()
        assert "lag 0" in after and "consume -" in after, after
        assert "consume 0.0/s" in await look(), "measured from the reset on"
        # Back to the beginning: a jump back, which the history notices without being told.
        kctl(broker.bootstrap, "groups", "reset-offsets", "rewinder", "-t", "jumpy", "--to-offset", "0", "--execute")
        app._resets_seen.clear()  # as if the reset were made with another tool
        back = await look()
        assert "consume -" in back and "health REWIND" in back, back


async def test_reset_dialog_previews_then_applies_with_typed_confirmation(broker: BrokerProcess) -> None:
    from kctl.client import Admin, Cluster, TopicPartition

    kctl(broker.bootstrap, "groups", "reset-offsets", "resetme", "-t", "payments", "--to-offset", "1", "--execute")
    app = console(broker.bootstrap, start="groups")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_rows(pilot, app, 3)
        await pilot.press("down", "down")
        assert app.screen.selected_key() == "resetme"  # type: ignore[attr-defined]
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ResetScreen), "the reset dialog")
        dialog = app.screen
        dialog.query_one("#strategy").value = "shift-by"  # type: ignore[attr-defined]
        await pilot.pause(0.1)
        await pilot.click("#value")
        await pilot.press(*"2", "enter")
        await wait_for(pilot, lambda: dialog.plan is not None, "a preview")  # type: ignore[attr-defined]
        rows = {(r["partition"], r["current_offset"], r["new_offset"], r["skipped"]) for r in dialog.plan.rows}
        assert rows == {(0, 1, 3, 2), (1, 1, 3, 2)}
        assert "4 record(s) skipped" in text_of(app, "#totals")
        assert "groups reset-offsets resetme --all-topics --shift-by 2 --execute" in text_of(app, "#equivalent")
        await pilot.press(*"wrong", "enter")  # not the group's name: nothing happens
        await pilot.pause(0.3)
        assert isinstance(app.screen, ResetScreen) and "type resetme exactly" in text_of(app, "#problem")
        await pilot.press("ctrl+u", *"resetme", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GroupsScreen), "applied and closed")
        assert any("undo-reset resetme" in n.message for n in app._notifications)
    cluster = Cluster(broker.bootstrap)
    await cluster.start()
    try:
        committed = (await Admin(cluster).list_group_offsets(["resetme"]))["resetme"]
    finally:
        await cluster.close()
    assert {tp.partition: o.offset for tp, o in committed.items()} == {0: 3, 1: 3}
    assert TopicPartition("payments", 0) in committed
    # The console saved the previous offsets exactly as the CLI does: `undo-reset` puts them back.
    kctl(broker.bootstrap, "groups", "undo-reset", "resetme")
    described = json.loads(kctl(broker.bootstrap, "groups", "describe", "resetme", "-o", "json"))
    assert {p["partition"]: p["committed_offset"] for p in described["partitions"]} == {0: 1, 1: 1}


async def test_create_edit_and_delete_a_topic(broker: BrokerProcess) -> None:
    app = console(broker.bootstrap)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_rows(pilot, app, 3)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateTopicScreen), "create dialog")
        await pilot.press(*"scratch", "tab", *"x")
        await wait_for(pilot, lambda: "whole number" in text_of(app, "#problem"), "a bad count is said")
        await pilot.press("backspace", "4", "tab", "tab", *"cleanup.policy=compact")
        assert "topics create scratch -p 4 -c cleanup.policy=compact" in text_of(app, "#equivalent")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "scratch" in table_keys(app), "the new topic listed")
        scratch = json.loads(kctl(broker.bootstrap, "topics", "describe", "scratch", "-o", "json"))
        assert len(scratch["partitions"]) == 4
        assert {"name": "cleanup.policy", "value": "compact", "source": "topic", "read_only": False} \
            in scratch["configs"]
        # Creating it again fails inside the dialog, which stays open with the reason.
        await pilot.press("c", *"scratch", "enter")
        await wait_for(pilot, lambda: "already exists" in text_of(app, "#problem"), "the error in the dialog")
        await pilot.press("escape")
        # Edit a config in the topic view.
        app.push_screen(TopicScreen("scratch"))
        await wait_rows(pilot, app, 4, "partitions")
        await wait_rows(pilot, app, 2, "configs")
        table = app.screen.query_one("#configs")
        table.move_cursor(row=table_keys(app, "configs").index("retention.ms"))  # type: ignore[attr-defined]
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditConfigScreen), "edit dialog")
        await pilot.press("ctrl+u", *"3600000")
        assert "configs set topic scratch retention.ms=3600000" in text_of(app, "#equivalent")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TopicScreen), "edited")
        configs = json.loads(kctl(broker.bootstrap, "configs", "get", "topic", "scratch", "-o", "json"))
        assert {c["name"]: c["value"] for c in configs}["retention.ms"] == "3600000"
        await pilot.press("escape")
        # Delete: the wrong name changes nothing; the right one deletes.
        await wait_for(pilot, lambda: isinstance(app.screen, TopicsScreen), "topics")
        app.screen.query_one("DataTable").move_cursor(row=table_keys(app).index("scratch"))  # type: ignore[attr-defined]
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press(*"scratc", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TopicsScreen), "not confirmed")
        await pilot.press("r")
        await pilot.pause(0.5)
        assert "scratch" in table_keys(app)
        await pilot.press("ctrl+d", *"scratch", "enter")
        await wait_for(pilot, lambda: "scratch" not in table_keys(app), "deleted")
        assert any("topics delete scratch --yes" in n.message for n in app._notifications)


async def test_ctx_switches_cluster_and_theme(broker: BrokerProcess, private_config: Path) -> None:
    private_config.write_text(f'[contexts.dev]\nbootstrap-servers = "{broker.bootstrap}"\ntheme = "light"\n\n'
                              f'[contexts.prod]\nbootstrap-servers = "{broker.bootstrap}"\ntheme = "production"\n')
    app = KctlTui(Settings(context="dev", timeout=10), cursor_blink=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        assert app.theme == "kctl-light" and app.context_label.startswith("dev ")
        await pilot.press("colon", *"ctx nowhere", "enter")  # unknown: said, nothing changes
        await pilot.pause(0.2)
        assert app.theme == "kctl-light" and any("no context named" in n.message for n in app._notifications)
        await pilot.press("colon", *"ctx prod", "enter")
        await wait_rows(pilot, app, 3)
        await wait_for(pilot, lambda: app.context_label.startswith("prod "), "the prod context")
        assert app.theme == "kctl-production"
        assert "kctl --context prod topics list" in text_of(app, "#hint")


async def test_overview_rates_follow_what_is_produced_and_consumed(broker: BrokerProcess) -> None:
    kctl(broker.bootstrap, "groups", "reset-offsets", "watcher", "-t", "payments", "--to-earliest", "--execute")
    app = console(broker.bootstrap, start="cluster", refresh_s=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded, "overview")  # type: ignore[attr-defined]
        assert "produce -" in await summary_of(pilot, app)
        await asyncio.to_thread(kctl, broker.bootstrap, "produce", "audit", stdin="a\nb\nc\nd\n")
        await asyncio.to_thread(kctl, broker.bootstrap, "groups", "reset-offsets", "watcher", "-t", "payments",
                                "--shift-by", "2", "--execute")
        before = app.screen.totals  # type: ignore[attr-defined]
        app.screen.load()  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.screen.totals is not before, "a second look")  # type: ignore[attr-defined]
        totals = app.screen.totals  # type: ignore[attr-defined]
        assert totals["produce_rate"] > 0 and totals["consume_rate"] > 0
        assert "produce -" not in text_of(app, "#summary")


def burst(app: KctlTui, text: str) -> None:
    """Keys as a paste or a fast typist on a busy machine sends them: all queued before any is handled."""
    from textual import events

    names = {":": "colon", "/": "slash", "\r": "enter", " ": "space"}
    for char in text:
        app.post_message(events.Key(names.get(char, char), None if char == "\r" else char))


async def test_keys_typed_straight_after_colon_or_slash_reach_the_prompt(broker: BrokerProcess) -> None:
    app = console(broker.bootstrap)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        burst(app, ":groups\r")
        await wait_for(pilot, lambda: isinstance(app.screen, GroupsScreen), "groups, from one burst")
        await wait_rows(pilot, app, 2)
        burst(app, "/led")
        await wait_for(pilot, lambda: table_keys(app) == ["ledger"], "the filter typed in the same burst")
        assert app.screen.pattern == "led"  # type: ignore[attr-defined]
        burst(app, "\r")  # keep the filter: the table has the focus again
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "groups", "the table focused")
        burst(app, ":tail orders\r")
        await wait_for(pilot, lambda: isinstance(app.screen, TailScreen), "the tail")
        records = app.screen.query_one(RecordList)
        await wait_for(pilot, lambda: records.count == 30, "30 records")
        burst(app, "/partition == 2\r")  # the tail's filter is a dialog: the same holds there
        await wait_for(pilot, lambda: records.count == 10, "the filter, from one burst")


async def test_health_verdicts_are_coloured_by_severity_in_every_theme(broker: BrokerProcess) -> None:
    from rich.text import Text

    from kctl.tui.widgets import HEALTH_COLOURS

    assert set(HEALTH_COLOURS) == {"OK", "WARN", "STALL", "STOP", "REWIND"}
    app = console(broker.bootstrap, start="groups")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_rows(pilot, app, 2)
        names = [name for name in app._themes]
        assert len(names) >= 4
        colours_seen: set[tuple[str, str]] = set()
        for name in names:
            app.theme = name
            theme = app.current_theme
            app.screen.load()  # type: ignore[attr-defined]
            await pilot.pause(0.3)
            table = app.screen.query_one("DataTable")
            cells = {str(key.value): table.get_row(key) for key in table.rows}  # type: ignore[attr-defined]
            health = [c.key for c in GroupsScreen.panes[0].columns].index("health")
            stop, ok = cells["billing"][health], cells["ledger"][health]
            assert isinstance(stop, Text) and isinstance(ok, Text)
            assert (str(stop), str(ok)) == ("STOP", "OK")
            assert stop.style.color.name.lower() == theme.error.lower()  # type: ignore[union-attr]
            assert stop.style.bold
            assert ok.style.color.name.lower() == theme.success.lower()  # type: ignore[union-attr]
            colours_seen.add((theme.error, theme.success))
        assert len(colours_seen) == len(names)  # each theme its own
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GroupScreen) and app.screen.query(".summary-value"),
                       "the group summary")
        await wait_for(pilot, lambda: "health STOP" in text_of(app, "#summary"), "its health")
        labels = list(app.screen.query(".summary-label"))
        health = labels[[str(label.render()) for label in labels].index("health")]
        value = health.parent.children[health.parent.children.index(health) + 1]  # type: ignore[union-attr]
        rendered = value.render()
        assert str(rendered) == "STOP"
        from textual.color import Color

        assert rendered.spans[0].style.foreground == Color.parse(app.current_theme.error)  # type: ignore[attr-defined]


async def test_replicas_in_trouble_stand_out_and_the_reassignment_view_shows_progress() -> None:
    """On recorded answers, changed to show a cluster in trouble and a reassignment under way."""
    import copy

    from rich.text import Text

    from kctl.tui.views import ReassignScreen

    from .recorded import RecordedBackend

    data = copy.deepcopy(RecordedBackend().data)
    orders = next(t for t in data["topics"] if t["name"] == "orders")
    orders.update(under_replicated=2, offline=1)
    data["overview"]["brokers"].append({"id": 1, "host": None, "port": None, "rack": None, "alive": False,
                                        "controller": False, "replicas": 3, "leaders": 0, "size": None})
    data["reassignment"] = ["2026-01-01T00:00:00.000Z", [
        {"topic": "orders", "partition": 0, "target": [0, 1], "state": "moving", "adding": [1],
         "bytes_copied": 400, "bytes_total": 1000},
        {"topic": "orders", "partition": 1, "target": [0, 1], "state": "done", "adding": [],
         "bytes_copied": 0, "bytes_total": 0}]]
    app = KctlTui(Settings(bootstrap="127.0.0.1:39417", timeout=10), cursor_blink=False,
                  backend=lambda context, settings: RecordedBackend(data))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_rows(pilot, app, 3)
        theme = app.current_theme
        table = app.screen.query_one("DataTable")
        row = table.get_row("orders")  # type: ignore[attr-defined]
        under, offline = row[3], row[4]
        assert isinstance(under, Text) and under.style.color.name.lower() == theme.warning.lower()
        assert isinstance(offline, Text) and offline.style.color.name.lower() == theme.error.lower()
        quiet = table.get_row("audit")[3]  # type: ignore[attr-defined]
        assert str(quiet) == "0" and not quiet.style
        await pilot.press("colon", *"cluster", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ClusterScreen) and len(table_keys(app)) == 2, "brokers")
        alive = app.screen.query_one("DataTable").get_row("1")[4]  # type: ignore[attr-defined]
        assert str(alive) == "no" and alive.style.color.name.lower() == theme.error.lower()
        await pilot.press("colon", *"reassign", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReassignScreen) and len(table_keys(app)) == 2,
                       "the reassignment")
        summary = await summary_of(pilot, app)
        assert "moving 1" in summary and "400 B of 1,000 B" in summary
        assert "reassign status --watch" in app.screen.equivalent()
