"""What every list view shares: panes of rows fetched in a worker, a regex filter, breadcrumbs,
help with the keys in force, and the equivalent `kctl` command."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from kctl.ops.cells import Column

from .console import GoBack
from .widgets import Breadcrumbs, CommandHint, StatusLine, cell, health_text, human_bytes, human_seconds

if TYPE_CHECKING:
    from .console import Console

#: How cells of these columns are shown (everything else: `cell`).
FORMATS: dict[str, Callable[[Any], str]] = {
    "size": human_bytes, "lag_seconds": human_seconds, "catch_up_seconds": human_seconds,
    "port": str,  # an address, not a quantity: no digit grouping
}



def _trouble(key: str, value: Any) -> str | None:
    """The theme colour of a cell that shows trouble (replicas, a hanging transaction), if it does."""
    if key in ("under_replicated", "out_of_isr") and value:
        return "warning"
    if (key == "offline" and value) or (key == "leader" and value == -1) or (key == "alive" and value is False):
        return "error"
    if key == "hanging" and value is True:  # pins the last stable offset for good
        return "error"
    if key in ("state", "tasks") and isinstance(value, str) and "FAILED" in value:  # a connector or its tasks
        return "error"
    return None


Rows = list[dict[str, Any]]
#: A view's totals: lines of (label, value) pairs.
Summary = list[list[tuple[str, str | Text]]]


@dataclass(frozen=True, slots=True)
class Pane:
    """One table of a view: its columns, the column that names a row, an optional title."""

    id: str
    columns: tuple[Column, ...]
    key: str = "name"
    title: str | None = None


class KctlScreen(Screen[None]):
    """A console screen: knows its app, its crumb and the command that shows the same."""

    view_name: ClassVar[str] = ""
    #: Keys handled by widgets rather than bindings, for the help.
    extra_keys: ClassVar[tuple[tuple[str, str], ...]] = ()

    @property
    def kctl(self) -> Console:
        return self.app  # type: ignore[return-value]  # KctlTui, which screens know as its services

    def crumb(self) -> str:
        return self.view_name

    def equivalent(self) -> str:
        """The `kctl` command line that prints what this view shows."""
        return ""

    def show_command(self, command: str) -> None:
        with contextlib.suppress(Exception):  # not composed yet
            self.query_one(CommandHint).update(f"$ {command}" if command else "")

    def on_screen_resume(self) -> None:
        self.query_one(Breadcrumbs).update(self.kctl.breadcrumbs(self))
        self.show_command(self.equivalent())

    def action_help(self) -> None:
        keys = [(b.binding.key_display or self.app.get_key_display(b.binding), b.binding.description)
                for b in self.active_bindings.values() if b.binding.show and b.binding.description]
        self.app.push_screen(HelpScreen(self.view_name, [*keys, *self.extra_keys]))


class ListScreen(KctlScreen):
    """A refreshing, filterable view of one or more tables, filled by `fetch()` in a worker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "filter", key_display="/", id="filter"),
        Binding("r", "refresh", "refresh", id="refresh"),
        Binding("escape", "back", "back", id="back"),
        Binding("question_mark", "help", "help", key_display="?", id="help"),
    ]
    panes: ClassVar[tuple[Pane, ...]] = ()
    extra_keys = (("↑ ↓ pgup pgdn", "move"), ("enter, click", "open the selected row"),
                  ("tab", "next table or field"))
    refresh_s: ClassVar[float] = 5.0
    data: reactive[dict[str, Rows]] = reactive(dict, always_update=True)
    pattern: reactive[str] = reactive("")
    loaded: bool = False
    _cells: dict[str, list[tuple[str, list[Text]]]] = {}  # replaced on each fetch, never mutated
    _summary_shape: list[list[str]] = []
    _summary_values: list[Label] = []

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(id="crumbs")
        with Vertical(id="body"):
            yield Vertical(id="summary")
            yield Input(placeholder="regex filter (enter keeps it, escape clears it)", id="filter")
            for index, pane in enumerate(self.panes):
                if pane.title:
                    yield Static(pane.title, classes="pane-title")
                upper = index < len(self.panes) - 1
                yield DataTable(id=pane.id, cursor_type="row", zebra_stripes=True, classes="upper" if upper else "")
        yield CommandHint(id="hint")
        yield StatusLine("loading…", id="status")
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; the keys of the view need the room

    def on_mount(self) -> None:
        for pane in self.panes:
            table = self.query_one(f"#{pane.id}", DataTable)
            for column in pane.columns:
                table.add_column(column.header, key=column.key)
        self.query_one("#filter", Input).display = False
        self.query_one("#summary", Vertical).display = False
        self.query_one(f"#{self.panes[0].id}", DataTable).focus()
        self.load()
        self.set_interval(self.kctl.refresh_s or self.refresh_s, self.load)

    async def fetch(self) -> dict[str, Rows]:
        raise NotImplementedError

    def summary(self) -> Summary | None:
        """Lines of (label, value) pairs above the tables (a view's totals), from the last fetch."""
        return None

    def show_summary(self, lines: Summary | None) -> None:
        """Each label and each value its own cell, so no renderer can run them together."""
        box = self.query_one("#summary", Vertical)
        box.display = lines is not None
        if lines is None:
            return
        shape = [[label for label, _ in line] for line in lines]
        values = [value for line in lines for _, value in line]
        if shape != self._summary_shape:
            self._summary_shape = shape
            # Kept, not queried: a second look can arrive before these are mounted.
            self._summary_values = [Label(value, classes="summary-value") for value in values]
            cells = iter(self._summary_values)
            box.remove_children()
            box.mount_all([Horizontal(*(widget for label, _ in line for widget in
                                        (Label(label, classes="summary-label"), next(cells))),
                                      classes="summary-line") for line in lines])
            return
        for widget, value in zip(self._summary_values, values, strict=True):
            widget.update(value)

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            data = await self.fetch()
        except Exception as exc:  # shown, not raised: the console stays usable while the cluster is away
            self._show_loaded(None, f"[b red]{self.kctl.context_label}[/]: {one_line(exc)}")
            return
        first = self.panes[0]
        self._show_loaded(data, f"{self.kctl.context_label} · {len(data.get(first.id, []))} {self.view_name}")

    def _show_loaded(self, data: dict[str, Rows] | None, status: str) -> None:
        # A fetch can outlive its screen (popped, or the app closing while the cluster answers):
        # its widgets are gone then, and there is nothing left to show the answer on.
        with contextlib.suppress(NoMatches):
            if data is not None:
                self.loaded = True
                self.data = data
            self.query_one(StatusLine).update(status)

    def watch_data(self) -> None:
        # Cells are formatted once per fetch; typing in the filter only picks rows. Text cells,
        # not str: a str cell would be read as markup (a topic named "a[b]" shown wrongly).
        self._cells = {
            pane.id: [(str(row.get(pane.key, "")), [self._cell(c.key, row.get(c.key)) for c in pane.columns])
                      for row in self.data.get(pane.id, [])]
            for pane in self.panes
        }
        self._fill()

    def _cell(self, key: str, value: Any) -> Text:
        if key == "health" and isinstance(value, str):
            return health_text(value, self.app.current_theme)
        shown = FORMATS.get(key, cell)(value)
        trouble = _trouble(key, value)
        # Replicas in trouble stand out: offline ones in the error colour, the rest in warning.
        colour = getattr(self.app.current_theme, trouble, None) if trouble else None
        return Text(shown, style=Style(color=colour, bold=trouble == "error") if colour else "")

    def watch_pattern(self) -> None:
        self._fill()

    def _fill(self) -> None:
        try:
            matcher = re.compile(self.pattern, re.IGNORECASE) if self.pattern else None
        except re.error:
            matcher = None
        self.show_summary(self.summary())
        for pane in self.panes:
            table = self.query_one(f"#{pane.id}", DataTable)
            selected = self.selected_key(pane.id)
            table.clear()
            for key, cells in self._cells.get(pane.id, []):
                if matcher is None or matcher.search(key):
                    table.add_row(*cells, key=key)
            if selected is not None:
                with contextlib.suppress(Exception):  # the row may have gone away
                    table.move_cursor(row=table.get_row_index(selected))

    def selected_key(self, pane_id: str | None = None) -> str | None:
        table = self.query_one(f"#{pane_id or self.panes[0].id}", DataTable)
        if not table.row_count or table.cursor_row < 0:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    def row(self, key: str, pane_id: str | None = None) -> dict[str, Any] | None:
        pane = next(p for p in self.panes if p.id == (pane_id or self.panes[0].id))
        return next((r for r in self.data.get(pane.id, []) if str(r.get(pane.key)) == key), None)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self.kctl.type_ahead()
        self.call_later(self.kctl.replay_typed_ahead, box)  # after the keys already on their way

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.pattern = event.value
            self.query_one(f"#{self.panes[0].id}", DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.pattern = event.value  # typing filters as you go

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.pattern = ""
            self.query_one(f"#{self.panes[0].id}", DataTable).focus()
            return
        self.post_message(GoBack())

    def action_refresh(self) -> None:
        self.load()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open(str(event.row_key.value), event.data_table.id or "")

    def _reload_if(self, changed: bool | None) -> None:
        """After a dialog: refresh when it changed something."""
        if changed:
            self.load()

    def open(self, key: str, pane_id: str) -> None:
        """Enter (or a click on the selected row); views with a detail screen override this."""


def one_line(exc: BaseException) -> str:
    """A failure as the CLI would word it: the message, then the hint."""
    from kctl.ops.errors import explain

    failure = explain(exc)
    return failure.message + (f" ({failure.hint})" if failure.hint else "")


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "app.pop_screen", "close")]

    def __init__(self, view: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.view = view
        self.keys = keys

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"  [b]{k:<14}[/] {what}" for k, what in self.keys)
        from .console import commands_text

        commands = commands_text()

        rows: list[str] = [""]
        for word in commands.split("  "):  # the commands in lines that fit, aligned under the first
            if rows[-1] and len(rows[-1]) + 2 + len(word) > 64:
                rows.append("")
            rows[-1] = f"{rows[-1]}  {word}" if rows[-1] else word
        commands = ("\n" + " " * 17).join(rows)
        yield Static(f"[b]keys in {self.view}[/]\n\n{lines}\n\n  [b]{':':<14}[/] {commands}\n\n"
                     "  keys can be remapped in the config file under \\[tui.keys]; escape closes this", id="help")
