"""Themes from `themes/*.toml` (and the user's `$XDG_CONFIG_HOME/kctl/themes/`), as Textual themes.

The built-in ones are the checkout's `themes/`, or where a wheel put them: `share/kctl/themes`
under the environment's data directory (a venv, pipx's or uv's, or the user's with --user).

A file that cannot be read or has a bad colour is reported, never fatal: the others still load.
"""

from __future__ import annotations

import os
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

CHECKOUT = Path(__file__).resolve().parents[2] / "themes"
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


def built_in_dir() -> Path:
    """Where kctl's own themes are: the checkout's, else the install's (the first that exists)."""
    installed = [Path(sysconfig.get_path("data", scheme)) / "share" / "kctl" / "themes"
                 for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user"))]
    return next((d for d in (CHECKOUT, *installed) if d.is_dir()), CHECKOUT)


def theme_dirs() -> list[Path]:
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kctl" / "themes"
    return [built_in_dir(), user]


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
    chosen = dirs or theme_dirs()
    if dirs is None and not chosen[0].is_dir():
        problems.append(f"kctl's themes are missing (looked in {chosen[0]} and the install's share/kctl/themes)")
    for directory in chosen:
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
    if wanted in available:
        return wanted
    return DEFAULT if DEFAULT in available else "textual-dark"  # Textual's own, when kctl's are missing
