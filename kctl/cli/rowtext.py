"""Rows given as columns, written as one text: the hot loop of `RowWriter.write_columns`.

`rows_text` is the C version (`_rowtext.c`) where it was built, else `rows_text_python`; the two
write the same text, and the tests hold them to it. `kctl lag` writes millions of cells: in C a
cell costs about 15-25 ns, in Python 60-140 ns (a tuple per row, and a call per cell of a mixed
column).

rows_text(parts, columns, text, texts, sep="", widths=None, raw_str=False, rstrip=False):
row i is parts[0], cell(columns[0][i]), parts[1], ..., parts[k]; rows are joined by `sep`.
A cell is an int's digits (exactly int, not bool); with `raw_str`, an exact str itself; else
text(value), kept in `texts` for strs, floats and None, whose texts repeat from row to row and
call to call (no str equals a float or None, so one dict holds them all). Not for a NaN, never
equal to itself, nor a zero: 0.0 and -0.0 are equal keys with different texts. widths[c] > 0
right-justifies column c's cells to that many characters, < 0 left-justifies. `rstrip` drops
ASCII whitespace at the end of each row before its last part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kctl.protocol.native import extension

RowsText = Callable[..., str]
ASCII_WHITESPACE = " \t\n\v\f\r\x1c\x1d\x1e\x1f"  # what the C version strips, as str.rstrip would


def rows_text_python(parts: tuple[str, ...], columns: tuple[Sequence[Any], ...], text: Callable[[Any], str],
                     texts: dict[Any, str], sep: str = "", widths: tuple[int, ...] | None = None,
                     raw_str: bool = False, rstrip: bool = False) -> str:
    """`rows_text` in Python: one %-template for all the rows, its values formatted a column at
    a time by C loops (`map`, `set`, `%d`) where the column's kinds allow."""
    if len(parts) != len(columns) + 1:
        raise ValueError("rows_text: parts must be one longer than columns")
    if widths is not None and len(widths) != len(columns):
        raise ValueError("rows_text: widths must be a tuple as long as columns")
    lists = [c if isinstance(c, list) else list(c) for c in columns]
    if len({len(c) for c in lists}) > 1:
        raise ValueError("rows_text: columns differ in length")
    n = len(lists[0]) if lists else 0
    if not n:
        return ""
    template = [parts[0].replace("%", "%%")]
    values: list[list[Any]] = []
    for c, column in enumerate(lists):
        width = widths[c] if widths else 0
        spec, filled = _column_spec(column, text, texts, raw_str)
        if filled is None:  # the same text on every row: into the template
            template.append((f"%{width or ''}s" % spec).replace("%", "%%"))
        else:
            template.append(f"%{width or ''}{spec}")
            values.append(filled)
        if c + 1 < len(lists):
            template.append(parts[c + 1].replace("%", "%%"))
    line, last = "".join(template), parts[-1]
    rows: Any = zip(*values, strict=True) if values else [()] * n
    if rstrip:
        return sep.join([(line % row).rstrip(ASCII_WHITESPACE) + last for row in rows])
    line += last.replace("%", "%%")
    return sep.join([line % row for row in rows])


def _column_spec(column: list[Any], text: Callable[[Any], str], texts: dict[Any, str],
                 raw_str: bool) -> tuple[str, list[Any] | None]:
    """A column's %-conversion and the values that fill it, or its one text (and None) when
    every row has the same. Homogeneous columns, the usual case, are formatted without a Python
    call per cell."""
    first = column[0]
    n = len(column)
    kinds = set(map(type, column))
    if kinds == {int}:
        return (str(first), None) if column.count(first) == n else ("d", column)
    if raw_str and kinds == {str}:
        return (first, None) if column.count(first) == n else ("s", column)
    # Every value's text kept in `texts` (an exact str is kept too unless it is written raw).
    if all(issubclass(k, str) or k is float or k is type(None) for k in kinds) and not (raw_str and str in kinds):
        distinct = set(column)
        if float not in kinds or all(v == v and v != 0.0 for v in distinct if type(v) is float):
            fresh = distinct.difference(texts)
            texts.update((v, text(v)) for v in fresh)
            if len(distinct) == 1:
                return texts[first], None
            return "s", list(map(texts.__getitem__, column))
    return "s", [_cell_text(v, text, texts, raw_str) for v in column]


def _cell_text(value: Any, text: Callable[[Any], str], texts: dict[Any, str], raw_str: bool) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if raw_str and kind is str:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) or value is None or (kind is float and value == value and value != 0.0):
        found = texts.get(value)
        if found is None:
            found = texts[value] = text(value)
        return found
    return text(value)


def _load() -> RowsText:
    # Without it (no C compiler, or KCTL_WITHOUT_C) the Python loop writes the same rows.
    module = extension("kctl.cli._rowtext")
    return rows_text_python if module is None else module.rows_text


rows_text: RowsText = _load()
