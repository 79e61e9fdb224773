"""The live tail: records as they arrive in a virtualised list, with pause, jump to an offset or a
time, a filter expression, a record pane (pretty JSON or hex, headers, metadata) and copy."""

from __future__ import annotations

import asyncio
import json
import shlex
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Footer, Static

from kctl.ops.times import iso

from .base import KctlScreen, one_line
from .console import GoBack
from .widgets import Breadcrumbs, CommandHint, RecordList, StatusLine


class RecordPane(VerticalScroll):
    """The selected record in full: metadata, headers, key, and the value as JSON or hex."""


class TailScreen(KctlScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "pause", id="pause"),
        Binding("g", "jump", "jump", id="jump"),
        Binding("slash", "filter", "filter", key_display="/", id="filter"),
        Binding("p", "pane", "record", id="record"),
        Binding("x", "hex", "hex", id="hex"),
        Binding("c", "copy", "copy", id="copy"),
        Binding("escape", "back", "back", id="back"),
        Binding("question_mark", "help", "help", key_display="?", id="help"),
    ]
    view_name = "tail"
    extra_keys = (
        ("↑ ↓ pgup pgdn", "move through the records"),
        ("home, end", "first, last (end follows)"),
        ("enter, click", "open the record in the pane"),
    )
    paused: reactive[bool] = reactive(False)
    received: reactive[int] = reactive(0)
    hex_view: reactive[bool] = reactive(False)

    def __init__(self, topic: str, start: str = "-100", limit: int = 1_000_000) -> None:
        super().__init__()
        self.topic = topic
        self.start = start
        self.limit = limit
        self.expression = ""
        self.problem = ""

    def crumb(self) -> str:
        return f"tail {self.topic}"

    def equivalent(self) -> str:
        words = f"tail {shlex.quote(self.topic)} --from {shlex.quote(self.start)} --follow"
        if self.expression:
            words += f" --filter {shlex.quote(self.expression)}"
        return self.kctl.cli(words)

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(id="crumbs")
        with Horizontal(id="tail-body"):
            yield RecordList(self.limit, id="records")
            with RecordPane(id="record-pane"):
                yield Static(id="record")
        yield CommandHint(id="hint")
        yield StatusLine("connecting…", id="status")
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; the keys of the view need the room

    def on_mount(self) -> None:
        self.query_one(RecordPane).display = False
        self.query_one(RecordList).focus()
        self.consume()

    @property
    def records(self) -> RecordList:
        return self.query_one(RecordList)

    # ---- reading ---------------------------------------------------------------------------------------
    @work(exclusive=True, group="tail")
    async def consume(self) -> None:
        from kctl.ops.tail import TailSpec

        self.problem = ""
        spec = TailSpec([self.topic], start=self.start, follow=True, poll_ms=200, batch_limit=5000)
        try:
            async with (await self.kctl.backend()).tail(spec) as batches:
                self._status()
                async for fresh in batches:
                    self.records.add(fresh)
                    self.received += len(fresh)
                    while self.paused:
                        await asyncio.sleep(0.1)
        except Exception as exc:  # shown in the status line; the console stays usable
            self.problem = one_line(exc)
            self._status()

    # ---- status ----------------------------------------------------------------------------------------
    def watch_received(self) -> None:
        self._status()

    def watch_paused(self) -> None:
        self._status()

    def _status(self) -> None:
        if self.problem:
            self.query_one(StatusLine).update(f"[b red]{self.topic}[/]: {self.problem}")
            return
        state = "paused (space resumes)" if self.paused else "following"
        shown = f" ({self.records.count:,} match)" if self.expression else ""
        where = f" · filter {self.expression}" if self.expression else ""
        self.query_one(StatusLine).update(
            f"{self.topic} · from {self.start} · {self.received:,} records{shown} · {state}{where}"
        )

    # ---- actions ---------------------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.paused = not self.paused

    def action_back(self) -> None:
        pane = self.query_one(RecordPane)
        if pane.display:
            pane.display = False
            self.records.focus()
            return
        self.post_message(GoBack())

    def action_jump(self) -> None:
        from kctl.ops.records import START_SPECS

        from .dialogs import PromptScreen

        self.kctl.type_ahead()
        self.app.push_screen(PromptScreen(f"jump to: {START_SPECS}", self.start), self._jump)

    def _jump(self, spec: str | None) -> None:
        if not spec:
            return
        self.start = spec.strip()
        self.received = 0
        self.records.clear()
        self.show_command(self.equivalent())
        self.consume()

    def action_filter(self) -> None:
        from .dialogs import PromptScreen

        self.kctl.type_ahead()
        self.app.push_screen(
            PromptScreen(
                "filter expression, e.g. value.status == 'error' and partition < 3 (empty clears it)", self.expression
            ),
            self._filter,
        )

    def _filter(self, expression: str | None) -> None:
        if expression is None:
            return
        from kctl.ops.errors import BadUsage
        from kctl.ops.tail import record_matcher

        expression = expression.strip()
        if not expression:
            self.expression = ""
            self.records.set_matches(None, None)
            self._after_filter()
            return
        try:
            matcher = record_matcher(expression)
        except BadUsage as exc:
            self.notify(one_line(exc), severity="error")
            return
        self.expression = expression
        self._match_all(matcher)

    @work(exclusive=True, group="filter", thread=True)
    def _match_all(self, matcher: Any) -> None:
        """Matching a million kept records takes a while: off the UI thread, then swapped in."""
        kept = list(self.records.records)
        matches = [i for i, r in enumerate(kept) if matcher(r)]
        self.app.call_from_thread(self._apply_matches, matcher, matches, len(kept))

    def _apply_matches(self, matcher: Any, matches: list[int], scanned: int) -> None:
        records = self.records
        matches += [i for i in range(scanned, len(records.records)) if matcher(records.records[i])]
        records.set_matches(matcher, matches)
        self._after_filter()

    def _after_filter(self) -> None:
        self._status()
        self.show_command(self.equivalent())

    def action_pane(self) -> None:
        pane = self.query_one(RecordPane)
        pane.display = not pane.display
        if pane.display:
            self._show(self.records.selected())

    def on_record_list_opened(self, event: RecordList.Opened) -> None:
        self.query_one(RecordPane).display = True
        self._show(event.record)

    def watch_hex_view(self) -> None:
        if self.query_one(RecordPane).display:
            self._show(self.records.selected())

    def action_hex(self) -> None:
        self.hex_view = not self.hex_view

    def action_copy(self) -> None:
        from kctl.ops.records import record_json

        record = self.records.selected()
        if record is None:
            self.notify("no record selected", severity="warning")
            return
        self.app.copy_to_clipboard(json.dumps(record_json(record)))
        self.kctl.announce(
            f"copied {record.topic}[{record.partition}]@{record.offset} as JSON",
            self.kctl.cli(
                f"tail {shlex.quote(record.topic)} --partition {record.partition} "
                f"--from {record.offset} --max 1 -o jsonl"
            ),
        )

    def _show(self, record: Any) -> None:
        self.query_one("#record", Static).update(render_record(record, hex_view=self.hex_view))
        if record is not None and not self.hex_view and _framed(record):
            self.decode_shown(record)

    @work(exclusive=True, group="decode")
    async def decode_shown(self, record: Any) -> None:
        """Decode the record in the pane with its registry schema, then show it again that way."""
        try:
            decoded = await (await self.kctl.backend()).decode(record)
        except Exception as exc:  # no registry, or it failed: the pane keeps the bytes and says why
            decoded = {"problem": one_line(exc)}
        if decoded is not None and self.records.selected() is record and not self.hex_view:
            self.query_one("#record", Static).update(render_record(record, decoded=decoded))


def _framed(record: Any) -> bool:
    from kctl.protocol.registry import unframe

    return unframe(record.value) is not None or unframe(record.key) is not None


def _labelled(text: Text, label: str, value: str, end: str) -> None:
    # The space belongs to the bold label's run, so the value starts a run of its own: no
    # renderer of the screen (SVG to PNG, say) can draw "topicaudit". Values are plain text, never markup.
    text.append(f"{label} ", style="bold")
    text.append(value + end)


def render_record(record: Any, *, hex_view: bool = False, decoded: dict[str, Any] | None = None) -> RenderableType:
    """The record pane's content; with `decoded` (from the backend's `decode`), the key and value
    as their registry schemas read them, and the value's schema: subject, version and id."""
    if record is None:
        return Text("no record selected")
    meta = Text()
    for label, shown, end in (
        ("topic", record.topic, "\n"),
        ("partition", str(record.partition), "   "),
        ("offset", str(record.offset), "\n"),
        ("timestamp", f"{record.timestamp} ({iso(record.timestamp) or '-'})", "\n"),
    ):
        _labelled(meta, label, shown, end)
    parts: list[RenderableType] = [meta]
    if record.headers:
        headers = Text("headers\n", style="bold")
        for name, value in record.headers:
            headers.append(f"  {name} = {_printable(value)}\n")
        parts.append(headers)
    tail = Text()
    key = (decoded or {}).get("key")
    shown_key = json.dumps(key.value) if key is not None and key.error is None else _printable(record.key)
    _labelled(tail, "key", shown_key, "\n")
    _labelled(tail, "value", f"({len(record.value) if record.value is not None else 0} bytes)", "")
    parts.append(tail)
    value_schema = (decoded or {}).get("value")
    if decoded is not None and "problem" in decoded:
        parts.append(Text(f"schema registry: {decoded['problem']}", style="italic"))
    elif value_schema is not None:
        used_by = ", ".join(f"{s} version {v}" for s, v in decoded.get("value_subjects", [])) if decoded else ""
        schema = Text()
        _labelled(schema, "schema", f"{used_by or 'no subject'} (id {value_schema.schema_id})", "")
        parts.append(schema)
        if value_schema.error is None:
            parts.append(JSON(json.dumps(value_schema.value), indent=2))
            return Group(*parts)
        parts.append(Text(f"cannot decode: {value_schema.error}", style="italic"))
    value = record.value
    if value is None:
        parts.append(Text("null"))
    elif hex_view:
        parts.append(Text(hexdump(value)))
    else:
        try:
            text = value.decode()
        except UnicodeDecodeError:
            parts.append(Text(hexdump(value)))
        else:
            try:
                json.loads(text)
                parts.append(JSON(text, indent=2))
            except ValueError:
                parts.append(Text(text))
    return Group(*parts)


def _printable(data: bytes | None) -> str:
    if data is None:
        return "null"
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "0x" + data.hex()


def hexdump(data: bytes, width: int = 16) -> str:
    lines = []
    for at in range(0, len(data), width):
        chunk = data[at : at + width]
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{at:08x}  {chunk.hex(' '):<{width * 3}} {ascii_}")
    return "\n".join(lines)
