"""Remappable keys: `[tui.keys]` in the config file maps an action to a key (Textual's names),

    [tui.keys]
    tail = "T"
    delete = "ctrl+x"
    filter = "slash,f"

Unknown actions and keys that are not text are reported, never fatal.
"""

from __future__ import annotations

from typing import Any

#: Every binding id of the console, with what it does (for the help and the error messages).
ACTIONS = {
    "command": "the : command line", "quit": "quit", "filter": "filter the list or the records",
    "refresh": "refresh now", "back": "go back", "help": "keys of this view", "tail": "tail the topic",
    "create": "create a topic", "delete": "delete the topic", "edit": "edit the selected config",
    "reset": "reset the group's offsets", "pause": "pause or resume the tail", "jump": "jump to an offset or time",
    "record": "show or hide the record pane", "hex": "hex or JSON in the record pane", "copy": "copy the record",
    "connector-pause": "pause the connector", "connector-resume": "resume the connector",
    "connector-restart": "restart the connector and its failed tasks",
}


def keymap(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The keymap from a loaded config file, and what was wrong with it."""
    section = config.get("tui", {})
    raw = section.get("keys", {}) if isinstance(section, dict) else {}
    if not isinstance(raw, dict):
        return {}, ["[tui.keys] must be a table of action = \"key\""]
    out: dict[str, str] = {}
    problems: list[str] = []
    for action, key in raw.items():
        if action not in ACTIONS:
            problems.append(f"[tui.keys] {action}: no such action (known: {', '.join(sorted(ACTIONS))})")
        elif not isinstance(key, str) or not key.strip():
            problems.append(f"[tui.keys] {action}: the key must be a non-empty string such as \"ctrl+x\"")
        else:
            out[action] = key.strip()
    return out, problems
