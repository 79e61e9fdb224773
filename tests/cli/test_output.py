"""The output layer on its own: rows written as they arrive read back as the whole list would."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from kctl.cli import output
from kctl.cli.output import Output, RowWriter, Table, render
from kctl.cli.rowtext import rows_text, rows_text_python
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


@pytest.fixture(params=["c", "python"])
def either_rows_text(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows from columns through the C writer (where it was built) and through the Python one."""
    if request.param == "python":
        monkeypatch.setattr(output, "rows_text", rows_text_python)
    elif rows_text is rows_text_python:
        pytest.skip("kctl.cli._rowtext was not built (no C compiler)")


def columns_of(batch: list[dict[str, object]]) -> dict[str, list[object]]:
    return {key: [row[key] for row in batch] for key in batch[0]}


def streamed_columns(fmt: str, batches: list[list[dict[str, object]]], settle: int = 2000) -> str:
    out = io.StringIO()
    writer = RowWriter(fmt, COLUMNS, out, settle=settle)
    for batch in batches:
        writer.write_columns(columns_of(batch))
    writer.close()
    return out.getvalue()


def awkward(count: int, start: int = 0) -> list[dict[str, object]]:
    """Rows whose values take each branch of the column writer: constants, strings needing JSON
    escapes or CSV quotes, a literal %, None among floats, floats that are not finite, booleans
    beside whole numbers, lists, and a string enum."""
    from kctl.ops.groups import Health

    return [{"group": ["same", 'q"uo,te%s', "ünï\ncode", "50%"][i % 4], "partition": i,
             "lag_seconds": [None, 0.1, 1e16, 2.5, 1e-7, 0.0][i % 6], "rate": 1.5,
             "flag": [True, 1, 0, False][i % 4], "odd": [float("inf"), 1.0, None, -0.0, 0.0, float("nan")][i % 6],
             "tags": ["a", ["b", "c"]][i % 2], "health": Health.STOP if i % 2 else "STOP", "constant": 7}
            for i in range(start, start + count)]


@pytest.mark.usefixtures("either_rows_text")
def test_rows_given_as_columns_read_back_as_the_same_rows_given_as_rows() -> None:
    for batches in ([rows(5), rows(4, 5), rows(8, 9)], [awkward(9), awkward(4, 9)], [awkward(1), rows(1)]):
        for fmt in ("json", "jsonl", "csv", "yaml", "table", "wide"):
            assert streamed_columns(fmt, batches) == streamed(fmt, batches), (fmt, batches[0][0])
            if fmt in ("table", "wide"):  # and the same when a table settles its widths between batches
                assert streamed_columns(fmt, batches, settle=3) == streamed(fmt, batches, settle=3), fmt
    text = streamed_columns("jsonl", [awkward(4)])
    assert [json.loads(line)["group"] for line in text.splitlines()] == ["same", 'q"uo,te%s', "ünï\ncode", "50%"]
    assert [json.loads(line)["flag"] for line in text.splitlines()] == [True, 1, 0, False]  # not 1 for True
    assert [json.loads(line)["odd"] for line in text.splitlines()] == [None, 1.0, None, -0.0]  # inf: null
    assert "-0.0" in text.splitlines()[3] and '"lag_seconds":1e-7' in streamed_columns("jsonl", [awkward(5)])
    assert list(csv.reader(io.StringIO(streamed_columns("csv", [awkward(4)]))))[2][0] == 'q"uo,te%s'


@pytest.mark.usefixtures("either_rows_text")
def test_column_text_kept_between_calls_is_the_text_of_the_value() -> None:
    # The writer keeps the texts of strings and floats from one call to the next: 1.0 after
    # 1 or True must still read 1.0, and a string equal to an enum member reads the same.
    batches = [[{"group": "g", "partition": 1, "lag_seconds": 1.0, "rate": 2.0}],
               [{"group": "g", "partition": 2, "lag_seconds": 1, "rate": True}],
               [{"group": "h", "partition": 3, "lag_seconds": 1.0, "rate": 1.0}, {"group": "g", "partition": 4,
                                                                                  "lag_seconds": 0.5, "rate": 1}],
               [{"group": "g", "partition": 5, "lag_seconds": 0.0, "rate": -0.0},  # equal keys, two texts
                {"group": "g", "partition": 6, "lag_seconds": -0.0, "rate": 0.0}]]
    for fmt in ("json", "jsonl", "csv", "table"):
        assert streamed_columns(fmt, batches) == streamed(fmt, batches), fmt
