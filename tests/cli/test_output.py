"""The output layer on its own: rows written as they arrive read back as the whole list would."""

from __future__ import annotations

import csv
import io
import json

import yaml

from kctl.cli.output import Output, RowWriter, Table, render
from kctl.ops.cells import Column

COLUMNS = [Column("group", "GROUP"), Column("partition", "PARTITION", numeric=True),
           Column("lag_seconds", "LAG SECONDS", numeric=True), Column("rate", "RATE", numeric=True, wide=True)]


def rows(count: int, start: int = 0) -> list[dict[str, object]]:
    return [{"group": f"g,{i}" if i % 7 == 0 else f"g{i}", "partition": i, "lag_seconds": None if i % 3 else i / 4,
             "rate": 1.5} for i in range(start, start + count)]


def streamed(fmt: str, batches: list[list[dict[str, object]]], settle: int = 2000) -> str:
    out = io.StringIO()
    writer = RowWriter(fmt, COLUMNS, out, settle=settle)
    for batch in batches:
        writer.write(batch)
    writer.close()
    return out.getvalue()


def whole(fmt: str, all_rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    render(Output(all_rows, [Table(all_rows, COLUMNS)]), fmt, out)
    return out.getvalue()


def test_streamed_rows_read_back_as_the_whole_list_in_every_format() -> None:
    batches = [rows(5), rows(0, 5), rows(8, 5)]
    everything = [r for b in batches for r in b]
    for fmt in ("json", "jsonl", "csv", "yaml", "table", "wide"):
        assert streamed(fmt, batches) == whole(fmt, everything), fmt
    assert json.loads(streamed("json", batches)) == everything
    assert yaml.safe_load(streamed("yaml", batches)) == everything
    assert list(csv.reader(io.StringIO(streamed("csv", batches))))[1][0] == "g,0"  # quoted, not split
    for fmt in ("json", "yaml"):
        assert json.loads(streamed(fmt, [])) == [], fmt  # YAML's "[]" is JSON too
    assert streamed("jsonl", []) == "" and streamed("table", []).split() == ["GROUP", "PARTITION", "LAG", "SECONDS"]


def test_a_table_settles_its_widths_on_the_first_rows_and_never_cuts_a_later_value() -> None:
    first = rows(3)
    later = [{"group": "a-much-longer-group-name", "partition": 123456789, "lag_seconds": 1e9, "rate": 0.0}]
    text = streamed("table", [first, later], settle=3)
    lines = text.splitlines()
    assert lines[0].split() == ["GROUP", "PARTITION", "LAG", "SECONDS"]
    assert len({len(line) for line in lines[:4]}) <= 2  # header and the settled rows line up
    assert lines[-1].split() == ["a-much-longer-group-name", "123456789", "1,000,000,000.0"]
    assert lines[1].split()[2] == "0.0" and lines[2].split()[2] == "-"  # floats as `cell` shows them
