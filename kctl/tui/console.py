"""What the console's screens may ask of the app, and how they ask: the `Console` services, the
messages that move between screens, and the registry of views.

Screens import this module, never the app: the app implements `Console`, handles the messages,
and finds the views here. A new view is one class with `@view("name")` (and its data from the
backend).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from textual.message import Message

if TYPE_CHECKING:
    from kctl.ops.groups import LagHistory

    from .backend import Backend
    from .widgets import Rates


class Console(Protocol):
    """The app's services to its screens."""

    context_label: str
    rates: Rates
    refresh_s: float | None

    async def backend(self) -> Backend: ...

    def cli(self, words: str) -> str:
        """`kctl WORDS` as typed against the same cluster as this console."""
        ...

    def history(self, group: str) -> LagHistory: ...

    def restart_rates_after_a_reset(self, group: str) -> None: ...

    def may_change(self, what: str) -> bool:
        """False (and says why) in a read-only context."""
        ...

    def announce(self, message: str, command: str) -> None: ...

    def run_change(self, change: Awaitable[None], message: str, command: str,
                   then: Callable[[], object] | None = None) -> Any: ...

    def type_ahead(self) -> None: ...

    def replay_typed_ahead(self, box: Any) -> None: ...

    def breadcrumbs(self, screen: Any) -> str: ...


# ---- messages: what a screen asks the app to open ------------------------------------------------
class OpenTail(Message):
    """Tail a topic."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic


class OpenReset(Message):
    """Reset a group's offsets (the dialog; refused in a read-only context)."""

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group


class GoBack(Message):
    """Back to the screen before (the start view stays)."""


# ---- the views -----------------------------------------------------------------------------------
#: `:NAME` -> the view it opens, filled by `@view`.
VIEWS: dict[str, type[Any]] = {}
#: Commands of the command line that are not views.
OTHER_COMMANDS = (":tail TOPIC", ":ctx NAME", ":q")

ViewClass = TypeVar("ViewClass", bound=type[Any])


def view(name: str, *aliases: str) -> Callable[[ViewClass], ViewClass]:
    """Register a view under `:name` (and its aliases), listed in the help and the command line."""

    def register(cls: ViewClass) -> ViewClass:
        for each in (name, *aliases):
            if VIEWS.get(each, cls) is not cls:
                raise ValueError(f"two views named {each!r}")
            VIEWS[each] = cls
        cls.listed_as = name
        return cls

    return register


def commands_text() -> str:
    """The command line's commands, as the help and its placeholder list them."""
    names = list(dict.fromkeys(getattr(cls, "listed_as", name) for name, cls in VIEWS.items()))
    return "  ".join([*(f":{n}" for n in names), *OTHER_COMMANDS])
