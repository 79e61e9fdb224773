"""Themes from `themes/*.toml` (and the user's `$XDG_CONFIG_HOME/kctl/themes/`), as Textual themes.

A file that cannot be read or has a bad colour is reported, never fatal: the others still load.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

BUILT_IN = Path(__file__).resolve().parents[2] / "themes"
COLOURS = ("primary", "secondary", "accent", "background", "surface", "panel", "foreground", "success", "warning",
           "error")
#: The theme a context gets when it names none; production contexts should say `theme = "production"`.
DEFAULT = "kctl-dark"
ALIASES = {"default": "kctl-dark", "dark": "kctl-dark", "light": "kctl-light",
           "high-contrast": "kctl-high-contrast", "production": "kctl-production"}


@dataclass(slots=True)
class Loaded:
    themes: dict[str, Theme]
    problems: list[str]


def theme_dirs() -> list[Path]:
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kctl" / "themes"
    return [BUILT_IN, user]


def parse(path: Path) -> Theme:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    name = raw.get("name") or path.stem
    unknown = set(raw) - {"name", "dark", *COLOURS}
    if unknown:
        raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
    if "primary" not in raw:
        raise ValueError("a theme needs at least a primary colour")
    colours: dict[str, Any] = {}
    for key in COLOURS:
        if key in raw:
            try:
                Color.parse(str(raw[key]))
            except ColorParseError:
                raise ValueError(f"{key} = {raw[key]!r} is not a colour") from None
            colours[key] = str(raw[key])
    return Theme(name=str(name), dark=bool(raw.get("dark", True)), **colours)


def load(dirs: list[Path] | None = None) -> Loaded:
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for directory in dirs or theme_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = parse(path)
            except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
                problems.append(f"theme {path} skipped: {exc}")
                continue
            themes[theme.name] = theme
    return Loaded(themes, problems)


def resolve_name(name: str | None, available: dict[str, Theme]) -> str:
    wanted = ALIASES.get(name or "", name or DEFAULT)
    return wanted if wanted in available else DEFAULT
