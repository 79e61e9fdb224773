"""Saved state for undo: one file per risky change, named so that names sort in the order saved.

Undo takes the newest live save, so the order must hold even when two changes land in the same
second, the wall clock steps back (NTP, a daylight-saving change), or two kctl processes save at
once. A name is the save's UTC time to the millisecond, and never earlier than any name already
in the directory.
"""

from __future__ import annotations

import calendar
import os
import time
from pathlib import Path

from kctl.protocol.clock import now_ms

_STAMP = "%Y%m%dT%H%M%S"


def state_dir_of(kind: str) -> Path:
    """Where kctl keeps one kind of saved state (resets, reassignments, connectors):
    `$XDG_STATE_HOME/kctl/KIND`, by default under `~/.local/state`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kctl" / kind


def _name_ms(path: Path) -> int | None:
    """The time a save's name stands for; None for files saves did not name."""
    seconds, _, millis = path.name.split(".", 1)[0].partition("-")
    try:
        return calendar.timegm(time.strptime(seconds, _STAMP)) * 1000 + int(millis)
    except ValueError:
        return None


def new_save(directory: Path, text: str) -> Path:
    """Write `text` to a new file in `directory` that sorts after every save already there
    (undone ones too) and never replaces one."""
    directory.mkdir(parents=True, exist_ok=True)
    ms = max([now_ms(), *(taken + 1 for p in directory.iterdir() if (taken := _name_ms(p)) is not None)])
    while True:
        path = directory / f"{time.strftime(_STAMP, time.gmtime(ms // 1000))}-{ms % 1000:03d}.json"
        try:
            with path.open("x") as out:  # another kctl may have taken this name since the listing
                out.write(text)
            return path
        except FileExistsError:
            ms += 1


def live_saves(directory: Path) -> list[Path]:
    """The saves in `directory` not yet undone, oldest first."""
    return sorted(directory.glob("*.json"))
