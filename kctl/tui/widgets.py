"""The console's own widgets and cell formatting: breadcrumbs, status and command lines, and the
virtualised record list of the live tail."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from kctl.ops.cells import cell as output_cell
from kctl.ops.times import iso


class Breadcrumbs(Static):
    """Where you are: `kctl > topics > orders`; each crumb is clickable and goes back there."""


class StatusLine(Static):
    """The context, how many rows, and what went wrong last (a cluster that is away, say)."""


class CommandHint(Static):
    """The `kctl` command that shows the same as this view, or does what was just done."""


# ---- cells -------------------------------------------------------------------------------------------
#: Health verdicts by severity, each a colour every theme defines (OK, WARN, STALL, STOP, REWIND).
HEALTH_COLOURS = {"OK": "success", "WARN": "warning", "STALL": "accent", "STOP": "error", "REWIND": "error"}


def health_text(verdict: str, theme: Any) -> Text:
    """The verdict in its theme's colour; STOP and REWIND, the ones to act on, also bold."""
    colour = getattr(theme, HEALTH_COLOURS.get(verdict, ""), None)
    return Text(verdict, style=Style(color=colour, bold=verdict in ("STOP", "REWIND")) if colour else "")


def cell(value: Any) -> str:
    return output_cell(value, thousands=True)


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


BARS = "▁▂▃▄▅▆▇█"


def spark(values: list[int] | list[float], width: int = 12) -> str:
    """A text sparkline of the last `width` values, scaled to their own maximum."""
    recent = values[-width:]
    if not recent:
        return ""
    top = max(recent)
    if top <= 0:
        return BARS[0] * len(recent)
    return "".join(BARS[min(int(v / top * (len(BARS) - 1) + 0.5), len(BARS) - 1)] for v in recent)


@dataclass(slots=True)
class Rates:
    """Per-second rates of counters (high watermarks, committed offsets) between two refreshes."""

    last: dict[str, tuple[float, int]] = field(default_factory=dict)

    def rate(self, key: str, value: int, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        before = self.last.get(key)
        self.last[key] = (now, value)
        if before is None or now <= before[0]:
            return None
        return max(value - before[1], 0) / (now - before[0])


# ---- the live tail's record list ------------------------------------------------------------------------
class RecordList(ScrollView, can_focus=True):
    """Records as one line each, drawn only for the rows on screen (the Line API), so a million
    of them scroll as smoothly as ten. A filter keeps an index of matching rows; the cursor row
    opens in the record pane."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "edge(0)", "first", show=False),
        Binding("end", "edge(1)", "last", show=False),
        Binding("enter", "open", "record", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"recordlist--cursor", "recordlist--meta", "recordlist--key"}
    DEFAULT_CSS = """
    RecordList > .recordlist--cursor { background: $accent 40%; }
    RecordList > .recordlist--meta { color: $text-muted; }
    RecordList > .recordlist--key { color: $secondary; text-style: bold; }
    """

    cursor: reactive[int] = reactive(-1)

    class Opened(Message):
        def __init__(self, record: Any) -> None:
            super().__init__()
            self.record = record

    def __init__(self, limit: int = 1_000_000, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.limit = limit
        self.records: list[Any] = []
        self.matches: list[int] | None = None  # indexes into records while a filter is on
        self.matcher: Callable[[Any], bool] | None = None
        self.follow = True

    # -- content
    @property
    def count(self) -> int:
        return len(self.matches) if self.matches is not None else len(self.records)

    def record_at(self, row: int) -> Any:
        return self.records[self.matches[row] if self.matches is not None else row]

    def selected(self) -> Any | None:
        return self.record_at(self.cursor) if 0 <= self.cursor < self.count else None

    def clear(self) -> None:
        self.records.clear()
        self.matches = [] if self.matcher is not None else None
        self.cursor = -1
        self.follow = True
        self._resize()

    def add(self, records: Iterable[Any]) -> None:
        first = len(self.records)
        self.records.extend(records)
        if self.matcher is not None and self.matches is not None:
            matcher = self.matcher
            self.matches.extend(i for i in range(first, len(self.records)) if matcher(self.records[i]))
        if len(self.records) > self.limit:
            self._drop(len(self.records) - self.limit + self.limit // 10)  # in chunks: not on every add
        self._resize()
        if self.follow and self.count:
            self.cursor = self.count - 1
            # Anchored, Textual keeps the end in view at every layout: records that arrive before
            # the list is first laid out, or while it resizes, cannot leave it scrolled to the top.
            self.anchor()

    def on_resize(self, event: events.Resize) -> None:
        self._resize()

    def _drop(self, n: int) -> None:
        del self.records[:n]
        if self.matches is not None:
            self.matches = [i - n for i in self.matches if i >= n]
        self.cursor = max(self.cursor - n, -1)

    def set_matches(self, matcher: Callable[[Any], bool] | None, matches: list[int] | None) -> None:
        """Apply a filter whose matching rows were worked out elsewhere (off the UI thread)."""
        self.matcher, self.matches = matcher, matches
        self.cursor = self.count - 1
        self.follow = True
        self._resize()
        self.anchor()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.count)
        self.refresh()

    # -- drawing
    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if row >= self.count:
            return Strip.blank(width, self.rich_style)
        r = self.record_at(row)
        meta = self.get_component_rich_style("recordlist--meta")
        key_style = self.get_component_rich_style("recordlist--key")
        base = self.rich_style
        if row == self.cursor:
            cursor = self.get_component_rich_style("recordlist--cursor")
            base, meta, key_style = base + cursor, meta + cursor, key_style + cursor
        key = r.key.decode(errors="replace") if r.key is not None else "null"
        value = r.value.decode(errors="replace") if r.value is not None else "null"
        segments = [
            Segment(f"{r.partition:>3}:{r.offset:<10} {iso(r.timestamp) or '-':<24} ", meta),
            Segment(key[:40] + " ", key_style),
            Segment(value.replace("\n", " "), base),
        ]
        return Strip(segments).crop_extend(self.scroll_offset.x, self.scroll_offset.x + width, base)

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()

    # -- moving
    def _move_to(self, row: int) -> None:
        if not self.count:
            return
        self.cursor = min(max(row, 0), self.count - 1)
        self.follow = self.cursor == self.count - 1
        self.anchor(self.follow)  # following: stay at the end; moved up: stay where the cursor is
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(self.scrollable_content_region.height - 1, 1))

    def action_edge(self, last: int) -> None:
        self._move_to(self.count - 1 if last else 0)

    def action_open(self) -> None:
        record = self.selected()
        if record is not None:
            self.post_message(self.Opened(record))

    def on_click(self, event: events.Click) -> None:
        row = self.scroll_offset.y + event.y
        if row >= self.count:
            return
        again = row == self.cursor
        self._move_to(row)
        if again or event.chain >= 2:
            self.action_open()
