"""How values read in a table, for the CLI's tables and the console's alike: one cell formatter and
the column a table shows."""

from __future__ import annotations

from typing import Any, NamedTuple


class Column(NamedTuple):
    key: str
    header: str
    wide: bool = False  # only in -o wide
    numeric: bool = False


def cell(value: Any, *, thousands: bool = False) -> str:
    """A value as a table shows it: None as "-", lists joined; `thousands` groups digits (for
    people; CLI tables leave integers plain so that scripts can read them back)."""
    kind = type(value)  # the common types first, by identity: tables can have millions of cells
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return f"{value:,}" if thousands else str(value)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and thousands:
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) if value else "-"
    return str(value)
