"""The kctl console: k9s-style views over the same client the CLI uses.

Keys: `:` command line (`:topics`, `:groups`, `:brokers`, `:ctx NAME`, `:q`), `/` filter the
current list by regex, `enter` open the selected row, `escape` back, `?` the keys of this view,
`r` refresh now, `q` quit. All I/O runs in workers; the views only read reactive state, so a slow
or unreachable cluster shows its status instead of freezing the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Log, Static

from kctl.cli.output import Column

from . import themes

REFRESH_S = 5.0


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
            table.add_column(column.header, key=column.key)
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
        keys += [(":", "command line: topics, groups, brokers, tail TOPIC, ctx NAME, q"), ("enter", "open"),
                 ("q", "quit")]
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

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *ListScreen.BINDINGS, Binding("t", "tail", "tail")]

    def open(self, key: str) -> None:
        self.app.push_screen(TopicScreen(key))

    def action_tail(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.app.push_screen(TailScreen(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)))


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

    def open(self, key: str) -> None:
        self.app.push_screen(GroupScreen(key))


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


class GroupScreen(ListScreen):
    """One group: per partition the committed offset, log end, lag and owning member."""

    view_name = "lag"
    key_column = "key"
    columns: ClassVar[list[Column]] = [Column("topic", "TOPIC"), Column("partition", "PARTITION"),
                                       Column("committed", "COMMITTED"), Column("log_end", "LOG END"),
                                       Column("lag", "LAG"), Column("member", "MEMBER")]

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group

    async def fetch(self) -> list[dict[str, Any]]:
        from kctl.client import Admin, KafkaError

        admin = Admin(await self.app.cluster())  # type: ignore[attr-defined]
        described = (await admin.describe_groups([self.group]))[self.group]
        owners = {} if isinstance(described, KafkaError) else {
            tp: m.client_id or m.member_id for m in described.members for tp in m.assignment}
        lags = (await admin.group_lag([self.group])).get(self.group, {})
        return [{"key": f"{tp.topic}:{tp.partition}", "topic": tp.topic, "partition": tp.partition,
                 "committed": p.committed, "log_end": p.log_end, "lag": p.lag, "member": owners.get(tp)}
                for tp, p in sorted(lags.items())]


class TailScreen(Screen[None]):
    """Live records of a topic in a virtualised log: only the visible lines are drawn, so a
    million records scroll as smoothly as ten."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("space", "pause", "pause/resume"),
        Binding("escape", "back", "back"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]
    view_name = "tail"
    MAX_LINES = 1_000_000
    paused: reactive[bool] = reactive(False)
    received: reactive[int] = reactive(0)

    def __init__(self, topic: str, last: int = 100) -> None:
        super().__init__()
        self.topic = topic
        self.last = last

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(f"kctl > tail > {self.topic}", id="crumbs")
        yield Log(id="records", max_lines=self.MAX_LINES)
        yield StatusLine("connecting…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self.consume()

    @work(exclusive=True, group="tail")
    async def consume(self) -> None:
        from kctl.client import TopicPartition
        from kctl.client.consumer import Consumer

        status = self.query_one(StatusLine)
        try:
            cluster = await self.app.cluster()  # type: ignore[attr-defined]
            info = await cluster.topic(self.topic)
            partitions = [TopicPartition(self.topic, p) for p in sorted(info.partitions)]
            async with Consumer(cluster) as consumer:
                consumer.assign(partitions)
                ends = await consumer.admin.end_offsets(partitions)
                starts = await consumer.admin.list_offsets(dict.fromkeys(partitions, -2))
                for tp in partitions:
                    consumer.seek(tp, max(ends[tp] - self.last, starts[tp].offset))
                log = self.query_one(Log)
                while True:
                    if self.paused:
                        await asyncio.sleep(0.1)
                        continue
                    batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                    lines = [_record_line(r) for records in batches.values() for r in records]
                    if lines:
                        log.write_lines(lines)
                        self.received += len(lines)
        except Exception as exc:  # shown in the status line; the console stays usable
            status.update(f"[b red]{self.topic}[/]: {exc}")

    def watch_received(self) -> None:
        self._status()

    def watch_paused(self) -> None:
        self._status()

    def _status(self) -> None:
        state = "paused (space resumes)" if self.paused else "following"
        self.query_one(StatusLine).update(f"{self.topic} · {self.received:,} records · {state}")

    def action_pause(self) -> None:
        self.paused = not self.paused

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("tail", [("space", "pause or resume"), ("escape", "back"),
                                                 ("up/down, pgup/pgdn", "scroll")]))


def _record_line(r: Any) -> str:
    key = r.key.decode(errors="replace") if r.key is not None else "null"
    value = r.value.decode(errors="replace") if r.value is not None else "null"
    return f"{r.partition}:{r.offset}  {key}  {value}"


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
            parts.append(s.topic if isinstance(s, TopicScreen) else s.group if isinstance(s, GroupScreen)
                         else str(getattr(s, "view_name", "")))
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
        elif verb == "tail" and len(words) == 2:
            self.push_screen(TailScreen(words[1]))
        else:
            self.notify(f"unknown command {text!r}: try :topics, :groups, :brokers, :tail TOPIC, :ctx NAME, :q",
                        severity="warning")

    async def on_unmount(self) -> None:
        if self._cluster is not None:
            await self._cluster.close()


class CommandScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "app.pop_screen", "cancel")]

    def compose(self) -> ComposeResult:
        yield CommandLine(placeholder=":topics  :groups  :brokers  :tail TOPIC  :ctx NAME  :q", id="command")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        self.app.pop_screen()
        await self.app.run_command(event.value)  # type: ignore[attr-defined]
