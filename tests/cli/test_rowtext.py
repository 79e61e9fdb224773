"""`rows_text`, the hot loop of rows written from columns: the C version and the Python one
write what the plain definition says, for any values, parts, widths and options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kctl.cli.rowtext import ASCII_WHITESPACE, rows_text, rows_text_python
from kctl.ops.groups import Health

IMPLEMENTATIONS = [rows_text_python] + ([] if rows_text is rows_text_python else [rows_text])


def defined(parts: tuple[str, ...], columns: tuple[Sequence[Any], ...], text: Callable[[Any], str],
            sep: str = "", widths: tuple[int, ...] | None = None, raw_str: bool = False,
            rstrip: bool = False) -> str:
    """The contract, one cell at a time (module docstring of kctl.cli.rowtext)."""
    rows = []
    for i in range(len(columns[0]) if columns else 0):
        line = parts[0]
        for c, column in enumerate(columns):
            value = column[i]
            if type(value) is int:
                cell = str(value)
            elif raw_str and type(value) is str:
                cell = value
            else:
                cell = text(value)
            width = widths[c] if widths else 0
            line += cell.rjust(width) if width > 0 else cell.ljust(-width)
            if c + 1 < len(columns):
                line += parts[c + 1]
        rows.append((line.rstrip(ASCII_WHITESPACE) if rstrip else line) + parts[-1])
    return sep.join(rows)


def text_of(value: Any) -> str:
    """A text that tells values apart: type and repr (an enum member reads as its string)."""
    if isinstance(value, str):
        return f"s:{str.__str__(value)}"
    return f"{type(value).__name__}:{value!r}"


values = st.one_of(
    st.integers(-(2**70), 2**70), st.integers(-5, 5), st.booleans(), st.none(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6), st.sampled_from(["%", "%s", " ", "a\t", "ü "]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, 1e-7, float("nan")]),
    st.sampled_from(list(Health)), st.lists(st.integers(0, 3), max_size=2),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[tuple[str, ...], tuple[list[Any], ...]]:
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 6))
    homogeneous = st.one_of(st.lists(st.integers(-99, 99), min_size=n, max_size=n),
                            st.lists(st.sampled_from(["a", "b", "ü"]), min_size=n, max_size=n),
                            st.lists(st.sampled_from([0.5, 1.5, None]), min_size=n, max_size=n))
    columns = tuple(draw(st.one_of(homogeneous, st.lists(values, min_size=n, max_size=n))) for _ in range(k))
    parts = tuple(draw(st.lists(st.text(max_size=3), min_size=k + 1, max_size=k + 1)))
    return parts, columns


@settings(max_examples=400, deadline=None)
@given(tables(), st.sampled_from(["", "\n", ",\n"]), st.one_of(st.none(), st.lists(st.integers(-8, 8), min_size=4,
                                                                                 max_size=4)),
       st.booleans(), st.booleans())
def test_every_implementation_writes_what_the_definition_says(
        table: tuple[tuple[str, ...], tuple[list[Any], ...]], sep: str, widths: list[int] | None, raw_str: bool,
        rstrip: bool) -> None:
    parts, columns = table
    given_widths = None if widths is None else tuple(widths[:len(columns)])
    want = defined(parts, columns, text_of, sep, given_widths, raw_str, rstrip)
    for implementation in IMPLEMENTATIONS:
        texts: dict[Any, str] = {}
        for _ in range(2):  # the second time from the texts the first one kept
            assert implementation(parts, columns, text_of, texts, sep, given_widths, raw_str, rstrip) == want


def test_kept_texts_never_mix_values_that_are_equal_but_read_differently() -> None:
    column = [0.0, -0.0, 1.0, 1, True, "1.0", None, float("nan"), float("nan")]
    want = defined(("", "\n"), (column,), text_of)
    for implementation in IMPLEMENTATIONS:
        texts: dict[Any, str] = {}
        assert implementation(("", "\n"), (column,), text_of, texts) == want
        assert implementation(("", "\n"), (column[::-1],), text_of, texts) == defined(("", "\n"), (column[::-1],),
                                                                                      text_of)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_bad_calls_are_errors_that_say_what_is_wrong(implementation: Callable[..., str]) -> None:
    with pytest.raises(ValueError, match="one longer"):
        implementation(("",), ([1],), str, {})
    with pytest.raises(ValueError, match="differ in length"):
        implementation(("", "", ""), ([1], [1, 2]), str, {})
    with pytest.raises(ValueError, match="widths"):
        implementation(("", ""), ([1],), str, {}, "", (1, 2))
    with pytest.raises(ZeroDivisionError):  # an error in text() comes out as it is
        implementation(("", ""), ([1.5],), lambda v: str(1 / 0), {})

