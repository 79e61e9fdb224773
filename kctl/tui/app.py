"""The kctl console: k9s-style views over the same client and operations the CLI uses.

Keys: `:` command line (`:topics`, `:groups`, `:cluster`, `:reassign`, `:schemas`, `:users`,
`:acls`, `:transactions`, `:connectors`, `:tail TOPIC`, `:ctx NAME`, `:q`), `/` filter, `enter` open, `escape`
back, `?` the keys of this view, `r` refresh, `q` quit; every key can be remapped in the config
file (`kctl.tui.keys`). All I/O runs in workers; the views only read reactive state, so a slow or
unreachable cluster shows its status instead of freezing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.widgets import Input

from kctl.connect.cluster import Settings
from kctl.connect.contexts import Context

from . import themes
from .backend import Backend, LiveBackend
from .base import KctlScreen, ListScreen, one_line
from .console import VIEWS, GoBack, OpenReset, OpenTail, commands_text
from .dialogs import TextInput
from .keys import keymap
from .views import TopicsScreen
from .widgets import Rates

#: What the `:` command line takes.
#: Actions that open a one-line prompt; keys typed right after them belong to the prompt.
PROMPTS = ("command", "filter", "jump")


class KctlTui(App[None]):
    CSS_PATH = "kctl.tcss"
    TITLE = "kctl"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("colon", "command", "command", key_display=":", id="command"),
        Binding("q", "quit", "quit", id="quit"),
    ]

    def __init__(self, settings: Settings, context_name: str | None = None, *, cursor_blink: bool = True,
                 start: str = "topics", refresh_s: float | None = None,
                 backend: Callable[[Context, Settings], Backend] = LiveBackend) -> None:
        """`backend` makes the data source for a context: the live cluster, or in tests anything
        that answers the same questions."""
        super().__init__()
        self.settings = settings
        self.refresh_s = refresh_s  # None: each view's own pace
        self.cursor_blink = cursor_blink
        self.start = start
        self._context_name = context_name
        self._make_backend = backend
        self._backend: Backend | None = None
        self.context_label = "?"
        self.read_only = False
        self.rates = Rates()
        self._histories: dict[str, Any] = {}
        self._themes: dict[str, Any] = {}
        self._resets_seen: dict[str, str | None] = {}  # group -> its last saved reset, when last looked at
        self._typed_ahead: list[events.Key] | None = None

    # ---- keys typed before a prompt could take them -------------------------------------------------
    def type_ahead(self) -> None:
        """Hold the keys that arrive from now on for the prompt that is opening (`:`, `/`, a dialog):
        typed in one burst, or pasted, they would reach the old focus before the prompt has it."""
        if self._typed_ahead is not None:
            return
        self._typed_ahead = []
        self.set_timer(2.0, self._release_typed_ahead)  # a prompt that never opened keeps no keys

    def _release_typed_ahead(self) -> None:
        if self._typed_ahead is not None:
            held, self._typed_ahead = self._typed_ahead, None
            self._release(held)

    def replay_typed_ahead(self, box: Any) -> None:
        """Focus the prompt and hand it the held keys, in order (enter submits, escape cancels)."""
        held, self._typed_ahead = self._typed_ahead or [], None
        box.screen.set_focus(box)
        for index, key in enumerate(held):
            if key.is_printable and key.character:
                box.insert_text_at_cursor(key.character)
            elif key.key == "backspace":
                box.action_delete_left()
            elif key.key == "enter":
                box.call_later(box.action_submit)
                self._release(held[index + 1:])  # whatever comes after goes where it would have gone
                return
            else:
                self._release(held[index:])
                return

    def _release(self, keys: list[events.Key]) -> None:
        for key in keys:
            self.post_message(events.Key(key.key, key.character))

    async def on_event(self, event: events.Event) -> None:
        # A key reaches the app first and is handed to the focused widget at once, before the
        # binding of an earlier key in the same burst has run: so the key that opens a prompt
        # starts the holding here, and what follows it waits for the prompt.
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._typed_ahead is not None:
                self._typed_ahead.append(event)
                return
            if self._opens_prompt(event.key):
                await super().on_event(event)
                self.type_ahead()
                return
        await super().on_event(event)

    def _opens_prompt(self, key: str) -> bool:
        if isinstance(self.focused, Input):  # typed into a box: ":" or "/" is just a character
            return False
        active = self.screen.active_bindings.get(key)
        return active is not None and active.enabled and active.binding.action.rsplit(".", 1)[-1] in PROMPTS

    # ---- the cluster ---------------------------------------------------------------------------------
    def _kafka_context(self) -> Any:
        from kctl.connect.contexts import resolve

        return resolve(self.settings.bootstrap, self._context_name or self.settings.context)

    async def backend(self) -> Backend:
        """The backend of the current context, made on first use."""
        if self._backend is None:
            context = self._kafka_context()
            self.context_label = f"{context.name} ({context.bootstrap_servers})"
            self.read_only = context.read_only
            self._backend = self._make_backend(context, self.settings)
        return self._backend

    async def switch_context(self, name: str) -> None:
        from kctl.connect.contexts import contexts, load_file

        try:
            if name != "local" and name not in contexts(load_file()):
                self.notify(f"no context named {name!r} (kctl config get-contexts lists them)", severity="error")
                return
        except Exception as exc:
            self.notify(one_line(exc), severity="error")
            return
        if self._backend is not None:
            await self._backend.close()
        self._backend = None
        self._context_name = name
        self.rates = Rates()
        self._histories.clear()
        self._apply_theme()
        self.switch_to(self.start)

    def history(self, group: str) -> Any:
        from kctl.ops.groups import LagHistory

        return self._histories.setdefault(group, LagHistory())

    def restart_rates_after_a_reset(self, group: str) -> None:
        """A reset kctl executed (here, or with `kctl groups reset-offsets` on this machine) since
        the group was last looked at moved its offsets: its consume rate starts again rather than
        count the jump (a reset that moves offsets back, the history notices by itself)."""
        from kctl.ops.errors import NotFound
        from kctl.ops.groups import last_saved_reset

        try:
            saved_at: str | None = last_saved_reset(group).saved_at
        except (NotFound, OSError, ValueError, KeyError):
            saved_at = None
        if group in self._resets_seen and self._resets_seen[group] != saved_at:
            self.history(group).restart()
        self._resets_seen[group] = saved_at

    # ---- changes and the equivalent command ------------------------------------------------------------
    def cli(self, words: str) -> str:
        """`kctl WORDS` as typed against the same cluster as this console."""
        import shlex

        registry = self.settings.schema_registry
        if registry and words.startswith(("schemas ", "tail ")):
            words = f"--schema-registry {shlex.quote(registry)} {words}"
        if self.settings.connect and words.startswith("connect "):
            words = f"--connect {shlex.quote(self.settings.connect)} {words}"
        if self.settings.bootstrap:
            return f"kctl -b {shlex.quote(self.settings.bootstrap)} {words}"
        name = self._context_name or self.settings.context
        return f"kctl --context {shlex.quote(name)} {words}" if name else f"kctl {words}"

    def may_change(self, what: str) -> bool:
        if self.read_only:
            self.notify(f"context {self.context_label} is read-only: kctl will not {what} there", severity="error")
            return False
        return True

    def announce(self, message: str, command: str) -> None:
        """Tell what was done, and the command that does the same from a shell."""
        self.notify(f"{message}\n$ {command}", timeout=8)
        if isinstance(self.screen, KctlScreen):
            self.screen.show_command(command)

    @work(group="change")
    async def run_change(self, change: Awaitable[None], message: str, command: str,
                         then: Callable[[], object] | None = None) -> None:
        try:
            await change
        except Exception as exc:
            self.notify(one_line(exc), severity="error", timeout=10)
            return
        self.announce(message, command)
        if then is not None:
            then()

    # ---- screens ---------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        loaded = themes.load()
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self._themes = loaded.themes
        problems = list(loaded.problems)
        try:
            from kctl.connect.contexts import load_file

            keys, bad_keys = keymap(load_file())
            problems += bad_keys
            self.set_keymap(keys)
        except Exception as exc:  # a broken config file: say so, keep the default keys
            problems.append(one_line(exc))
        for problem in problems:
            self.notify(problem, severity="warning", timeout=10)
        self._apply_theme()
        self.push_screen(VIEWS.get(self.start, TopicsScreen)())

    def _apply_theme(self) -> None:
        try:
            context = self._kafka_context()
            wanted = context.theme
            self.read_only = context.read_only
        except Exception:
            wanted = None
        self.theme = themes.resolve_name(wanted, self._themes)

    def breadcrumbs(self, screen: Screen[Any]) -> str:
        trail = [s for s in self.screen_stack if isinstance(s, KctlScreen)]
        if screen not in trail:
            trail.append(screen)  # type: ignore[arg-type]
        parts = ["[@click=app.crumb(0)]kctl[/]"]
        for depth, s in enumerate(trail, 1):
            crumb = s.crumb().replace("[", r"\[")
            parts.append(crumb if s is screen else f"[@click=app.crumb({depth})]{crumb}[/]")
        return " > ".join(parts)

    def action_crumb(self, depth: int) -> None:
        """A click on a breadcrumb: back to that screen (0: the start view)."""
        depth = max(depth, 1)
        while len(self.screen_stack) > depth + 1:
            self.pop_screen()

    def on_go_back(self, message: GoBack) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def switch_to(self, view: str) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(VIEWS[view]())

    def on_open_tail(self, message: OpenTail) -> None:
        self.tail(message.topic)

    def tail(self, topic: str) -> None:
        from .tail import TailScreen

        self.push_screen(TailScreen(topic))

    def on_open_reset(self, message: OpenReset) -> None:
        self.reset(message.group)

    def reset(self, group: str) -> None:
        if not self.may_change(f"reset the offsets of {group}"):
            return
        from .dialogs import ResetScreen

        def refresh(done: bool | None) -> None:
            if done and isinstance(self.screen, ListScreen):
                self.screen.load()

        self.push_screen(ResetScreen(group), refresh)

    def action_command(self) -> None:
        self.type_ahead()
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
            self.tail(words[1])
        else:
            self.notify(f"unknown command {text!r}: try {commands_text()}", severity="warning")

    async def on_unmount(self) -> None:
        if self._backend is not None:
            await self._backend.close()


class CommandScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "cancel")]

    def compose(self) -> ComposeResult:
        yield TextInput(placeholder=commands_text(), id="command-line")

    def on_mount(self) -> None:
        self.app.replay_typed_ahead(self.query_one(TextInput))  # type: ignore[attr-defined]

    async def on_input_submitted(self, event: TextInput.Submitted) -> None:
        self.app.pop_screen()
        await self.app.run_command(event.value)  # type: ignore[attr-defined]
