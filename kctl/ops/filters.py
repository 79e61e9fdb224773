"""Record filters for `kctl tail --filter`: a small, safe expression language over a record.

    value.status == "failed" and partition in (0, 3)
    key == "customer-42" or headers["source"] == "billing"
    len(value) > 1000 and timestamp > 1767225600000
    matches(value, "timeout|refused")

Names: key and value (text, or the parsed JSON object when the value is JSON, so `value.field`
and `value["field"]` work), raw (the value as text), headers (name to text), topic, partition,
offset, timestamp. Operators: comparisons, `in`, `not in`, and/or/not, arithmetic. Functions:
len, int, float, str, lower, upper, contains, startswith, endswith, matches (a regex search).
Anything else is refused when the expression is parsed, before a record is read.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable
from typing import Any

from .errors import BadUsage

_NAMES = ("key", "value", "raw", "headers", "topic", "partition", "offset", "timestamp")
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv,
}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda v: len(v) if v is not None else 0,
    "int": int, "float": float, "str": _text,
    "lower": lambda v: _text(v).lower(), "upper": lambda v: _text(v).upper(),
    "contains": lambda v, s: s in _text(v), "startswith": lambda v, s: _text(v).startswith(s),
    "endswith": lambda v, s: _text(v).endswith(s),
    "matches": lambda v, pattern: re.search(pattern, _text(v)) is not None,
}


class _Fields(dict[str, Any]):
    """A JSON object whose fields read as attributes too; missing ones are None."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return _Fields({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def compile_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise BadUsage(f"cannot read the filter: {exc.msg}", "e.g. --filter 'value.status == \"failed\"'") from None
    _check(tree.body)
    body = tree.body

    def evaluate(record: dict[str, Any]) -> bool:
        try:
            return bool(_eval(body, record))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError, re.error):
            return False  # a record the expression does not fit is not a match

    return evaluate


def _check(node: ast.AST) -> None:
    allowed = (ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.BinOp, ast.Constant,
               ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Call, ast.Tuple, ast.List, *_COMPARE,
               *_BINARY)
    for child in ast.walk(node):
        if not isinstance(child, allowed):
            raise BadUsage(f"the filter may not use {type(child).__name__}", "see `kctl tail --help`")
        if isinstance(child, ast.Name) and child.id not in _NAMES and child.id not in _FUNCTIONS:
            raise BadUsage(f"unknown name {child.id!r} in the filter", f"names: {', '.join(_NAMES)}")
        if isinstance(child, ast.Attribute) and child.attr.startswith("_"):
            raise BadUsage(f"the filter may not read {child.attr!r}")
        if isinstance(child, ast.Call) and not (isinstance(child.func, ast.Name) and child.func.id in _FUNCTIONS):
            raise BadUsage("the filter may only call len, int, float, str, lower, upper, contains, startswith, "
                           "endswith and matches")


def _eval(node: ast.AST, record: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return record[node.id]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, record) for v in node.values)
        return any(_eval(v, record) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, record)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.Compare):
        left = _eval(node.left, record)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, record)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, record), _eval(node.right, record))
    if isinstance(node, ast.Attribute):
        base = _eval(node.value, record)
        return base.get(node.attr) if isinstance(base, dict) else None
    if isinstance(node, ast.Subscript):
        base = _eval(node.value, record)
        index = _eval(node.slice, record)
        if isinstance(base, dict):
            return base.get(index)
        return base[index]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_eval(a, record) for a in node.args))
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_eval(e, record) for e in node.elts)
    raise BadUsage(f"the filter may not use {type(node).__name__}")


def record_view(topic: str, partition: int, offset: int, timestamp: int, key: bytes | None, value: bytes | None,
                headers: Any) -> dict[str, Any]:
    """What a filter sees of one record."""
    raw = value.decode(errors="replace") if value is not None else None
    parsed: Any = raw
    if raw and raw[:1] in "{[":
        try:
            parsed = _wrap(json.loads(raw))
        except ValueError:
            parsed = raw
    return {"key": key.decode(errors="replace") if key is not None else None, "value": parsed, "raw": raw,
            "headers": {h: (v.decode(errors="replace") if v is not None else None) for h, v in headers},
            "topic": topic, "partition": partition, "offset": offset, "timestamp": timestamp}
