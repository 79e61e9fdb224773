"""The one output layer: commands return data, this renders it as table, wide, json, yaml, jsonl or csv.

Tables use rich (with colour) only when stdout is a terminal and NO_COLOR is unset; otherwise they
are plain aligned text, so pipes and files get data without escape codes.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import IO, Any

from kctl.cli.rowtext import rows_text
from kctl.ops.cells import Column, cell

FORMATS = ("table", "wide", "json", "yaml", "jsonl", "csv")


@dataclass(slots=True)
class Table:
    rows: list[dict[str, Any]]
    columns: Sequence[Column]
    title: str | None = None


@dataclass(slots=True)
class Output:
    """What a command produced: `data` for json/yaml, tables for people, rows for jsonl/csv."""

    data: Any
    tables: list[Table] = field(default_factory=list)
    summary: list[tuple[str, Any]] = field(default_factory=list)  # "key: value" lines above the tables

    @property
    def rows(self) -> list[dict[str, Any]]:
        if isinstance(self.data, list):
            return self.data
        return self.tables[0].rows if self.tables else [self.data]


def colour_enabled(stream: IO[str]) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def to_json(value: Any, *, indent: bool = False) -> str:
    """JSON text through orjson: a C encoder that also indents (the standard library falls back
    to its pure-Python encoder whenever it indents, about 20x slower on large outputs)."""
    import orjson

    options = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(value, default=str, option=options).decode()


def to_yaml(value: Any) -> str:
    """YAML text; string enums (group states, health verdicts) as the strings they are."""
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML has no type hints
        pass

    Dumper.add_multi_representer(str, lambda dumper, text: dumper.represent_str(str(text)))
    text: str = yaml.dump(value, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text


def render(output: Output, fmt: str, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(to_json(output.data, indent=True) + "\n")
    elif fmt == "yaml":
        stream.write(to_yaml(output.data))
    elif fmt == "jsonl":
        stream.writelines(to_json(row) + "\n" for row in output.rows)
    elif fmt == "csv":
        rows = output.rows
        keys = [c.key for c in output.tables[0].columns] if output.tables else (list(rows[0]) if rows else [])
        writer = csv.writer(stream)
        writer.writerow(keys)
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k in keys])
    else:
        _render_tables(output, wide=fmt == "wide", stream=stream)


class RowWriter:
    """Rows written as they arrive, in any format, holding none of them afterwards: for commands
    whose rows number in the hundreds of thousands (`kctl lag` over every group).

    JSON is the same text `render` writes for a list; a table takes its column widths from the
    first `settle` rows, and a later, wider value widens only its own line.
    """

    def __init__(self, fmt: str, columns: Sequence[Column], stream: IO[str] | None = None, *,
                 settle: int = 2000) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stdout
        self.columns = [c for c in columns if fmt == "wide" or not c.wide]
        self.keys = [c.key for c in columns]  # csv: every column, as `render` writes it
        self.count = 0
        self._settle = settle
        self._held: list[Mapping[str, Any]] = []  # rows given as rows, until the widths settle
        self._held_columns: list[list[list[Any]]] = []  # and rows given as columns
        self._held_count = 0
        self._widths: list[int] | None = None
        self._csv = csv.writer(self.stream) if fmt == "csv" else None
        self._texts: dict[Any, str] = {}  # see `_rows_text`

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        fmt, stream = self.fmt, self.stream
        if fmt == "json":
            import orjson

            options = orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2
            items = ",\n".join(["  " + orjson.dumps(row, default=str, option=options).decode().replace("\n", "\n  ")
                                for row in rows])
            stream.write(("[\n" if not self.count else ",\n") + items)
        elif fmt == "jsonl":
            import orjson

            dumps, options = orjson.dumps, orjson.OPT_APPEND_NEWLINE  # rows are keyed by column names
            # Each row decoded at once: joining orjson's bytes first holds every buffer, at about
            # 4 KB each, until the join.
            stream.write("".join([dumps(row, default=str, option=options).decode() for row in rows]))
        elif fmt == "yaml":
            stream.write(to_yaml(rows))
        elif self._csv is not None:
            if not self.count:
                self._csv.writerow(self.keys)
            keys = self.keys  # the csv module writes None as an empty field
            self._csv.writerows([[*map(row.get, keys)] for row in rows])
        elif self._widths is None:
            self._held.extend(rows)
            if len(self._held) + self._held_count >= self._settle:
                self._flush_table()
        else:
            self._table_lines(self._row_columns(rows))
        self.count += len(rows)

    def write_columns(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """Rows given column by column (every column as long, in a row's key order), written
        as `write` writes the same rows, without building a dict per row: one line template
        per call, values formatted by the C string formatter."""
        if not columns:
            return
        n = len(next(iter(columns.values())))
        if not n:
            return
        fmt, stream = self.fmt, self.stream
        if fmt in ("json", "jsonl"):
            keys = [_json_text(k) for k in columns]
            if fmt == "jsonl":
                parts = ("{" + keys[0] + ":", *["," + k + ":" for k in keys[1:]], "}\n")
            else:
                parts = ("  {\n    " + keys[0] + ": ", *[",\n    " + k + ": " for k in keys[1:]], "\n  }")
            try:
                text = self._rows_text(parts, tuple(columns.values()), _json_text if fmt == "jsonl"
                                       else _json_flat_text, sep="" if fmt == "jsonl" else ",\n")
            except _Nested:  # indented JSON indents a nested value by its depth: row by row
                keys = list(columns)
                self.write([dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)])
                return
            stream.write(text if fmt == "jsonl" else ("[\n" if not self.count else ",\n") + text)
        elif fmt == "csv":
            if not self.count:
                assert self._csv is not None
                self._csv.writerow(self.keys)
            absent = [None] * n
            stream.write(self._rows_text(("", *[","] * (len(self.keys) - 1), "\r\n"),  # the csv module's ending
                                         tuple(columns.get(k, absent) for k in self.keys), _csv_text))
        elif fmt in ("table", "wide"):
            absent = [None] * n
            table = [list(columns.get(c.key, absent)) for c in self.columns]
            if self._widths is None:
                self._held_columns.append(table)
                self._held_count += n
                if self._held_count >= self._settle:
                    self._flush_table()
            else:
                self._table_lines(table)
        else:
            keys = list(columns)
            self.write([dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)])
            return
        self.count += n

    def close(self) -> None:
        """Ends the output: the closing bracket of a JSON list, or a table shorter than `settle`."""
        if self.fmt == "json":
            self.stream.write("\n]\n" if self.count else "[]\n")
        elif self.fmt == "yaml" and not self.count:
            self.stream.write("[]\n")
        elif self.fmt in ("table", "wide") and self._widths is None:
            self._flush_table()

    def _flush_table(self) -> None:
        held, self._held = self._held, []
        chunks = [self._row_columns(held)] if held else []
        chunks += self._held_columns
        self._held_columns, self._held_count = [], 0
        self._widths = [max([len(c.header)] + [len(cell(v)) for chunk in chunks for v in chunk[i]])
                        for i, c in enumerate(self.columns)]
        header = "  ".join(c.header.ljust(w) for c, w in zip(self.columns, self._widths, strict=True)).rstrip()
        colour = colour_enabled(self.stream)
        self.stream.write(f"\x1b[1;36m{header}\x1b[0m\n" if colour else header + "\n")
        for chunk in chunks:
            self._table_lines(chunk)

    def _row_columns(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        return [list(map(dict.get, rows, repeat(c.key))) for c in self.columns]  # type: ignore[arg-type]

    def _table_lines(self, table: list[list[Any]]) -> None:
        assert self._widths is not None
        widths = tuple(w if c.numeric else -w for c, w in zip(self.columns, self._widths, strict=True))
        parts = ("", *["  "] * (len(self.columns) - 1), "\n")
        self.stream.write(self._rows_text(parts, tuple(table), cell, widths=widths, raw_str=True, rstrip=True))

    def _rows_text(self, parts: tuple[str, ...], columns: tuple[Sequence[Any], ...], text: Callable[[Any], str],
                   sep: str = "", widths: tuple[int, ...] | None = None, raw_str: bool = False,
                   rstrip: bool = False) -> str:
        """`rows_text` with this writer's kept texts: strings and floats repeat from call to call
        (topics, ages shared by many groups)."""
        if len(self._texts) > _TEXTS_KEPT:
            self._texts.clear()
        return rows_text(parts, columns, text, self._texts, sep, widths, raw_str, rstrip)


def _json_text(value: Any) -> str:
    import orjson

    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class _Nested(Exception):
    """A list or mapping among a column's values."""


def _json_flat_text(value: Any) -> str:
    if isinstance(value, list | tuple | dict | set):
        raise _Nested
    return _json_text(value)


_TEXTS_KEPT = 1 << 16  # texts a writer keeps (see `RowWriter._rows_text`)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    text = repr(value) if type(value) is float else str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


_FLOAT_CELL = "{:,.1f}".format  # as `cell` shows a float


def _render_tables(output: Output, *, wide: bool, stream: IO[str]) -> None:
    colour = colour_enabled(stream)
    if output.summary:
        width = max(len(k) for k, _ in output.summary)
        for key, value in output.summary:
            stream.write(f"{key + ':':<{width + 1}} {cell(value)}\n")
    for i, table in enumerate(output.tables):
        columns = [c for c in table.columns if wide or not c.wide]
        if output.summary or i:
            stream.write("\n")
        if colour:
            _rich_table(table, columns, stream)
            continue
        if table.title:
            stream.write(f"{table.title}\n")
        cells = [[cell(row.get(c.key)) for c in columns] for row in table.rows]
        widths = [max([len(c.header)] + [len(r[j]) for r in cells]) for j, c in enumerate(columns)]
        header = "  ".join(c.header.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
        stream.write(header + "\n")
        for r in cells:
            line = "  ".join(
                (v.rjust(w) if c.numeric else v.ljust(w)) for v, c, w in zip(r, columns, widths, strict=True)
            )
            stream.write(line.rstrip() + "\n")


def _rich_table(table: Table, columns: list[Column], stream: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    rich_table = RichTable(title=table.title, title_justify="left", header_style="bold cyan", box=None,
                           pad_edge=False)
    for c in columns:
        rich_table.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=True)
    for row in table.rows:
        rich_table.add_row(*(Text(cell(row.get(c.key))) for c in columns))  # Text: names are not markup
    Console(file=stream, highlight=False).print(rich_table)


def diagnostic(message: str) -> None:
    """A line for people, on stderr, so stdout carries only data."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
