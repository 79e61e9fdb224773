"""Dialogs: a prompt, a typed confirmation, create a topic, edit a config, and the offset reset
(strategy, then a per-partition preview, then typed confirmation) that runs the CLI's code."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Select, Static

from .base import one_line
from .widgets import CommandHint, cell

if TYPE_CHECKING:
    from .console import Console


class TextInput(Input):
    """An input that blinks unless the app says not to (snapshot tests)."""

    def on_mount(self) -> None:
        self.cursor_blink = bool(getattr(self.app, "cursor_blink", True))


class Dialog(ModalScreen[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    @property
    def kctl(self) -> Console:
        return self.app  # type: ignore[return-value]  # KctlTui, which dialogs know as its services

    def action_cancel(self) -> None:
        self.dismiss(None)

    def problem(self, text: str) -> None:
        self.query_one("#problem", Static).update(f"[b red]{text}[/]" if text else "")


class PromptScreen(Dialog):
    """One line of input: the answer, or None when cancelled."""

    def __init__(self, prompt: str, value: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.prompt)
            yield TextInput(self.value, id="answer")

    def on_mount(self) -> None:
        self.kctl.replay_typed_ahead(self.query_one("#answer", TextInput))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class ConfirmScreen(Dialog):
    """Type `typed` to go ahead; anything else changes nothing."""

    def __init__(self, message: str, typed: str, command: str) -> None:
        super().__init__()
        self.message = message
        self.typed = typed
        self.command = command

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.message)
            yield CommandHint(f"$ {self.command}")
            yield Static(f"Type [b]{self.typed}[/] to confirm, escape to cancel:")
            yield TextInput(id="typed")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() != self.typed:
            self.notify("not confirmed; nothing was changed", severity="warning")
            self.dismiss(False)
            return
        self.dismiss(True)


class CreateTopicScreen(Dialog):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]create a topic[/] (enter creates it, escape cancels)")
            yield TextInput(placeholder="name", id="name")
            with Horizontal(classes="fields"):
                yield TextInput(placeholder="partitions (broker default)", id="partitions")
                yield TextInput(placeholder="replication factor (broker default)", id="replication")
            yield TextInput(placeholder="configs: KEY=VALUE KEY=VALUE", id="configs")
            yield CommandHint(id="equivalent")
            yield Static(id="problem")

    def _values(self) -> tuple[str, int, int, list[str]]:
        def number(widget: str, what: str) -> int:
            text = self.query_one(f"#{widget}", Input).value.strip()
            if not text:
                return -1
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{what} must be a whole number, not {text!r}") from None

        name = self.query_one("#name", Input).value.strip()
        return (name, number("partitions", "partitions"), number("replication", "replication factor"),
                self.query_one("#configs", Input).value.split())

    def _command(self, name: str, partitions: int, replication: int, configs: list[str]) -> str:
        words = f"topics create {shlex.quote(name or 'NAME')}"
        if partitions > 0:
            words += f" -p {partitions}"
        if replication > 0:
            words += f" -r {replication}"
        words += "".join(f" -c {shlex.quote(c)}" for c in configs)
        return self.kctl.cli(words)

    def on_input_changed(self) -> None:
        try:
            values = self._values()
        except ValueError as exc:
            self.problem(str(exc))
            return
        self.problem("")
        self.query_one("#equivalent", CommandHint).update(f"$ {self._command(*values)}")

    def on_input_submitted(self) -> None:
        try:
            name, partitions, replication, configs = self._values()
        except ValueError as exc:
            self.problem(str(exc))
            return
        if not name:
            self.problem("give the topic a name")
            return
        self.create(name, partitions, replication, configs)

    @work(exclusive=True)
    async def create(self, name: str, partitions: int, replication: int, configs: list[str]) -> None:
        from kctl.ops.topics import parse_configs

        try:
            await (await self.kctl.backend()).create_topic(name, partitions, replication, parse_configs(configs))
        except Exception as exc:  # stays open with the reason, so it can be corrected
            self.problem(one_line(exc))
            return
        self.kctl.announce(f"topic {name} created", self._command(name, partitions, replication, configs))
        self.dismiss(True)


class EditConfigScreen(Dialog):
    """A new value for one config; an empty value removes the override (back to the default)."""

    def __init__(self, topic: str, name: str, value: str | None, source: str) -> None:
        super().__init__()
        self.topic = topic
        self.config = name
        self.current = value or ""
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{self.topic}[/]: {self.config} = {self.current or '(empty)'} (from {self.source})\n"
                         "new value (empty: back to the default), enter applies, escape cancels")
            yield TextInput(self.current, id="value")
            yield CommandHint(id="equivalent")
            yield Static(id="problem")

    def on_mount(self) -> None:
        self._show(self.current)

    def _command(self, value: str) -> str:
        topic, name = shlex.quote(self.topic), shlex.quote(self.config)
        if value:
            return self.kctl.cli(f"configs set topic {topic} {shlex.quote(f'{self.config}={value}')}")
        return self.kctl.cli(f"configs delete topic {topic} {name}")

    def _show(self, value: str) -> None:
        self.query_one("#equivalent", CommandHint).update(f"$ {self._command(value.strip())}")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.apply(event.value.strip())

    @work(exclusive=True)
    async def apply(self, value: str) -> None:
        try:
            await (await self.kctl.backend()).set_topic_config(self.topic, self.config, value or None)
        except Exception as exc:
            self.problem(one_line(exc))
            return
        self.kctl.announce(f"{self.topic}: {self.config} {'set' if value else 'back to the default'}",
                           self._command(value))
        self.dismiss(True)


STRATEGY_LABELS = {
    "to-earliest": "to the earliest offset", "to-latest": "to the latest offset (skip everything)",
    "to-current": "to the current offset", "to-offset": "to offset N", "shift-by": "shift by N (negative: back)",
    "to-datetime": "to a time (first record at or after)", "by-duration": "to this long ago (e.g. 1h)",
    "from-file": "from a CSV file (TOPIC,PARTITION,OFFSET)", "to-group": "to another group's offsets",
}


class ResetScreen(Dialog):
    """Reset a group's offsets: pick a strategy and scope, see per partition what is skipped or
    read again, type the group's name to apply. Planning and applying are `kctl.ops.groups`, the
    code behind `kctl groups reset-offsets`, so the two cannot disagree."""

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group
        self.plan: Any = None
        self.partitions: list[Any] | None = None

    def compose(self) -> ComposeResult:
        from kctl.ops.groups import STRATEGIES

        with Vertical(classes="dialog wide"):
            yield Static(f"[b]reset offsets of {self.group}[/] on {self.kctl.context_label}\n"
                         "1. strategy and scope, enter previews   2. check the preview   3. type the group to apply")
            with Horizontal(classes="fields"):
                yield Select([(STRATEGY_LABELS[s], s) for s in STRATEGIES], value="to-earliest", allow_blank=False,
                             id="strategy")
                yield TextInput(placeholder="value (N, time, duration, file or group)", id="value")
            yield TextInput(placeholder="topics: TOPIC or TOPIC:0,1 separated by spaces (empty: every topic "
                                        "the group has offsets for)", id="scope")
            yield DataTable(id="plan", cursor_type="row", zebra_stripes=True)
            yield Static(id="totals")
            yield CommandHint(id="equivalent")
            yield TextInput(placeholder=f"type {self.group} and enter to apply", id="confirm", disabled=True)
            yield Static(id="problem")

    def on_mount(self) -> None:
        table = self.query_one("#plan", DataTable)
        for key, header in (("topic", "TOPIC"), ("partition", "PARTITION"), ("current_offset", "CURRENT"),
                            ("new_offset", "NEW"), ("skipped", "SKIPPED"), ("reread", "RE-READ")):
            table.add_column(header, key=key)
        self.query_one("#strategy", Select).focus()

    def _strategy(self) -> Any:
        from kctl.ops.groups import NEEDS_VALUE, Strategy

        name = str(self.query_one("#strategy", Select).value)
        value = self.query_one("#value", Input).value.strip()
        return Strategy(name, (value or None) if name in NEEDS_VALUE else None)

    @on(Select.Changed, "#strategy")
    def _strategy_changed(self) -> None:
        self._invalidate()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("value", "scope"):
            self._invalidate()

    def _invalidate(self) -> None:
        """A changed strategy or scope voids the preview: apply only what was seen."""
        self.plan = None
        box = self.query_one("#confirm", Input)
        box.disabled = True
        box.value = ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "confirm":
            if self.plan is None:
                self.problem("preview first")
            elif event.value.strip() != self.group:
                self.problem(f"type {self.group} exactly to apply; nothing was changed")
            else:
                self.apply()
            return
        self.preview()

    @work(exclusive=True, group="reset")
    async def preview(self) -> None:
        from kctl.ops.groups import reset_command

        self.problem("")
        try:
            strategy = self._strategy()
            scope = self.query_one("#scope", Input).value.split()
            plan, self.partitions = await (await self.kctl.backend()).plan_reset(self.group, strategy, scope)
        except Exception as exc:
            self.problem(one_line(exc))
            return
        table = self.query_one("#plan", DataTable)
        table.clear()
        for row in plan.rows:
            table.add_row(*(cell(row[k]) for k in ("topic", "partition", "current_offset", "new_offset", "skipped",
                                                   "reread")))
        self.query_one("#totals", Static).update(
            f"{len(plan.rows)} partition(s): [b]{plan.skipped:,}[/] record(s) skipped, "
            f"[b]{plan.reread:,}[/] read again")
        self.query_one("#equivalent", CommandHint).update(
            "$ " + self.kctl.cli(reset_command(self.group, strategy, self.partitions, execute=True)
                                 .removeprefix("kctl ")))
        self.plan = plan
        box = self.query_one("#confirm", Input)
        box.disabled = False
        box.focus()

    @work(exclusive=True, group="reset")
    async def apply(self) -> None:
        from kctl.ops.groups import reset_command

        plan = self.plan
        try:
            saved = await (await self.kctl.backend()).apply_reset(plan)
        except Exception as exc:
            self.problem(one_line(exc))
            return
        self.kctl.announce(
            f"{self.group}: offsets of {len(plan.offsets)} partition(s) reset; previous ones saved to {saved}, "
            f"`kctl groups undo-reset {self.group}` restores them",
            self.kctl.cli(reset_command(self.group, plan.strategy, self.partitions, execute=True)
                          .removeprefix("kctl ")))
        self.dismiss(True)
