"""The kctl console: k9s-style views over the same client the CLI uses.

Keys: `:` command line (`:topics`, `:groups`, `:brokers`, `:ctx NAME`, `:q`), `/` filter the
current list by regex, `enter` open the selected row, `escape` back, `?` the keys of this view,
`r` refresh now, `q` quit. All I/O runs in workers; the views only read reactive state, so a slow
or unreachable cluster shows its status instead of freezing the screen.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from . import themes

REFRESH_S = 5.0


@dataclass(slots=True)
class Column:
    key: str
    label: str


class Breadcrumbs(Static):
    pass


class StatusLine(Static):
    pass


class ListScreen(Screen[None]):
    """A refreshing, filterable table of rows fetched by `fetch()` in a worker."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("r", "refresh", "refresh"),
        Binding("escape", "back", "back"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]
    view_name = "items"
    columns: ClassVar[list[Column]] = []
    key_column = "name"
    rows: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)
    pattern: reactive[str] = reactive("")

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(id="crumbs")
        with Vertical(id="body"):
            yield Input(placeholder="regex filter (enter to apply, escape to clear)", id="filter")
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
        yield StatusLine("connecting…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in self.columns:
            table.add_column(column.label, key=column.key)
        self.query_one("#filter", Input).display = False
        table.focus()
        self.query_one(Breadcrumbs).update(self.app.breadcrumbs(self))  # type: ignore[attr-defined]
        self.load()
        self.set_interval(REFRESH_S, self.load)

    async def fetch(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        app: KctlTui = self.app  # type: ignore[assignment]
        status = self.query_one(StatusLine)
        try:
            rows = await self.fetch()
        except Exception as exc:  # shown, not raised: the console stays usable while the cluster is away
            status.update(f"[b red]{app.context_label}[/]: {exc}")
            return
        status.update(f"{app.context_label} · {len(rows)} {self.view_name}")
        self.rows = rows

    def watch_rows(self) -> None:
        self._fill()

    def watch_pattern(self) -> None:
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        try:
            matcher = re.compile(self.pattern) if self.pattern else None
        except re.error:
            matcher = None
        selected = None
        if table.row_count and table.cursor_row >= 0:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        for row in self.rows:
            if matcher is not None and not matcher.search(str(row.get(self.key_column, ""))):
                continue
            table.add_row(*(_cell(row.get(c.key)) for c in self.columns), key=str(row.get(self.key_column)))
        if selected is not None:
            with contextlib.suppress(Exception):  # the row may have gone away
                table.move_cursor(row=table.get_row_index(selected))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.pattern = event.value
            self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.pattern = event.value  # typing filters as you go

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.pattern = ""
            self.query_one(DataTable).focus()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()

    def action_help(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self.BINDINGS if isinstance(b, Binding)]
        keys += [(":", "command line: topics, groups, brokers, ctx NAME, q"), ("enter", "open"), ("q", "quit")]
        self.app.push_screen(HelpScreen(self.view_name, keys))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open(str(event.row_key.value))

    def open(self, key: str) -> None:
        """Enter on a row; views with a detail screen override this."""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class TopicsScreen(ListScreen):
    view_name = "topics"
    columns: ClassVar[list[Column]] = [Column("name", "TOPIC"), Column("partitions", "PARTITIONS"),
                                       Column("replicas", "REPLICAS"), Column("records", "RECORDS")]

    async def fetch(self) -> list[dict[str, Any]]:
        from kctl.client import EARLIEST, LATEST, Admin, TopicPartition

        admin = Admin(await self.app.cluster())  # type: ignore[attr-defined]
        topics = await admin.list_topics()
        tps = [TopicPartition(t, p) for t, info in topics.items() for p in info.partitions]
        ends = await admin.list_offsets(dict.fromkeys(tps, LATEST)) if tps else {}
        starts = await admin.list_offsets(dict.fromkeys(tps, EARLIEST)) if tps else {}
        return [{"name": name, "partitions": len(info.partitions),
                 "replicas": max((len(p.replicas) for p in info.partitions.values()), default=0),
                 "records": sum(max(ends[TopicPartition(name, p)].offset - starts[TopicPartition(name, p)].offset, 0)
                                for p in info.partitions)}
                for name, info in topics.items()]

    def open(self, key: str) -> None:
        self.app.push_screen(TopicScreen(key))


class TopicScreen(ListScreen):
    """One topic: its partitions with leader, log start, high watermark and records."""

    view_name = "partitions"
    key_column = "partition"
    columns: ClassVar[list[Column]] = [Column("partition", "PARTITION"), Column("leader", "LEADER"),
                                       Column("log_start", "LOG START"), Column("high_watermark", "HIGH WATERMARK"),
                                       Column("records", "RECORDS")]

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    async def fetch(self) -> list[dict[str, Any]]:
        from kctl.client import EARLIEST, LATEST, Admin, KafkaError, TopicPartition

        admin = Admin(await self.app.cluster())  # type: ignore[attr-defined]
        found = (await admin.describe_topics([self.topic]))[self.topic]
        if isinstance(found, KafkaError):
            raise found
        tps = [TopicPartition(self.topic, p) for p in sorted(found.partitions)]
        ends = await admin.list_offsets(dict.fromkeys(tps, LATEST))
        starts = await admin.list_offsets(dict.fromkeys(tps, EARLIEST))
        return [{"partition": tp.partition, "leader": found.partitions[tp.partition].leader,
                 "log_start": starts[tp].offset, "high_watermark": ends[tp].offset,
                 "records": ends[tp].offset - starts[tp].offset} for tp in tps]


class GroupsScreen(ListScreen):
    view_name = "groups"
    key_column = "group"
    columns: ClassVar[list[Column]] = [Column("group", "GROUP"), Column("state", "STATE"),
                                       Column("members", "MEMBERS"), Column("lag", "LAG")]

    async def fetch(self) -> list[dict[str, Any]]:
        from kctl.client import Admin, KafkaError

        admin = Admin(await self.app.cluster())  # type: ignore[attr-defined]
        groups = [g.group_id for g in await admin.list_groups()]
        if not groups:
            return []
        described = await admin.describe_groups(groups)
        lags = await admin.group_lag(groups)
        rows = []
        for group in groups:
            d = described.get(group)
            rows.append({"group": group, "state": d.state if d is not None and not isinstance(d, KafkaError) else "?",
                         "members": len(d.members) if d is not None and not isinstance(d, KafkaError) else 0,
                         "lag": sum(p.lag for p in lags.get(group, {}).values())})
        return rows


class BrokersScreen(ListScreen):
    view_name = "brokers"
    key_column = "id"
    columns: ClassVar[list[Column]] = [Column("id", "ID"), Column("host", "HOST"), Column("port", "PORT"),
                                       Column("controller", "CONTROLLER")]

    async def fetch(self) -> list[dict[str, Any]]:
        from kctl.client import Admin

        _, controller, brokers = await Admin(await self.app.cluster()).describe_cluster()  # type: ignore[attr-defined]
        return [{"id": b.node_id, "host": b.host, "port": b.port, "controller": "yes" if b.node_id == controller
                 else ""} for b in brokers]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "close")]

    def __init__(self, view: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.view = view
        self.keys = keys

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"  [b]{k:<8}[/] {what}" for k, what in self.keys)
        yield Static(f"[b]keys in {self.view}[/]\n\n{lines}\n\n  escape closes this", id="help")


VIEWS: dict[str, type[ListScreen]] = {"topics": TopicsScreen, "groups": GroupsScreen, "brokers": BrokersScreen}


class CommandLine(Input):
    pass


class KctlTui(App[None]):
    CSS_PATH = "kctl.tcss"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("colon", "command", "command", key_display=":"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, settings: Any, context_name: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self._context_name = context_name
        self._cluster: Any = None
        self.context_label = "?"
        self.theme_problems: list[str] = []

    # ---- the cluster -------------------------------------------------------------------------------
    async def cluster(self) -> Any:
        if self._cluster is None:
            from kctl.cli.contexts import resolve
            from kctl.cli.runtime import cluster_for

            context = resolve(self.settings.bootstrap, self._context_name or self.settings.context)
            self.context_label = f"{context.name} ({context.bootstrap_servers})"
            cluster = cluster_for(context, self.settings)
            await cluster.start()
            self._cluster = cluster
        return self._cluster

    async def switch_context(self, name: str) -> None:
        if self._cluster is not None:
            await self._cluster.close()
        self._cluster = None
        self._context_name = name
        self._apply_theme()
        self.switch_to("topics")

    # ---- screens and themes -----------------------------------------------------------------------
    def on_mount(self) -> None:
        loaded = themes.load()
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self._themes = loaded.themes
        for problem in loaded.problems:
            self.notify(problem, severity="warning", timeout=10)
        self._apply_theme()
        self.push_screen(TopicsScreen())

    def _apply_theme(self) -> None:
        from kctl.cli.contexts import resolve

        try:
            context = resolve(self.settings.bootstrap, self._context_name or self.settings.context)
            wanted = context.theme
        except Exception:
            wanted = None
        self.theme = themes.resolve_name(wanted, self._themes)

    def breadcrumbs(self, screen: Screen[Any]) -> str:
        trail = [s for s in self.screen_stack if isinstance(s, ListScreen)] + (
            [screen] if screen not in self.screen_stack else [])
        parts = ["kctl"]
        for s in trail:
            parts.append(s.topic if isinstance(s, TopicScreen) else str(getattr(s, "view_name", "")))
        return " > ".join(parts)

    def switch_to(self, view: str) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(VIEWS[view]())

    def action_command(self) -> None:
        self.push_screen(CommandScreen())

    async def run_command(self, text: str) -> None:
        words = text.strip().lstrip(":").split()
        if not words:
            return
        verb = words[0]
        if verb in ("q", "quit"):
            self.exit()
        elif verb in VIEWS:
            self.switch_to(verb)
        elif verb in ("ctx", "context") and len(words) == 2:
            await self.switch_context(words[1])
        else:
            self.notify(f"unknown command {text!r}: try :topics, :groups, :brokers, :ctx NAME, :q",
                        severity="warning")

    async def on_unmount(self) -> None:
        if self._cluster is not None:
            await self._cluster.close()


class CommandScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "app.pop_screen", "cancel")]

    def compose(self) -> ComposeResult:
        yield CommandLine(placeholder=":topics  :groups  :brokers  :ctx NAME  :q", id="command")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        self.app.pop_screen()
        await self.app.run_command(event.value)  # type: ignore[attr-defined]
