"""Hypothesis strategies that build any message, in any version, from our own schema."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Any

from hypothesis import strategies as st

from kctl.protocol.codegen import attr, module_name
from kctl.protocol.schema.dsl import Array, Field, Message, Primitive, Struct

_INT_BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
}

_text = st.text(max_size=12)


def primitive(kind: Primitive, nullable: bool) -> st.SearchStrategy[Any]:
    name = kind.name
    base: st.SearchStrategy[Any]
    if name in _INT_BOUNDS:
        low, high = _INT_BOUNDS[name]
        base = st.integers(low, high)
    elif name == "bool":
        base = st.booleans()
    elif name == "float64":
        base = st.floats(allow_nan=False)
    elif name == "string":
        base = _text
    elif name == "uuid":
        base = st.uuids()
    else:  # bytes, records
        base = st.binary(max_size=24)
    if nullable:
        return st.none() | base
    return base


class MessageStrategies:
    """Builds strategies for the classes of one generated module."""

    def __init__(self, module: Any, version: int, flexible: bool, kio_domain: bool = False) -> None:
        self.module = module
        self.version = version
        self.flexible = flexible
        self.kio_domain = kio_domain

    def struct(self, struct: Struct) -> st.SearchStrategy[Any]:
        cls = getattr(self.module, struct.name)
        parts = {attr(f.name): self.field(f) for f in struct.fields if f.present_in(self.version)}
        return st.builds(cls, **parts)

    def field(self, f: Field) -> st.SearchStrategy[Any]:
        nullable = f.nullable_in(self.version)
        kind = f.type
        value: st.SearchStrategy[Any]
        if isinstance(kind, Array):
            element = kind.element
            inner = self.struct(element) if isinstance(element, Struct) else primitive(element, False)
            value = st.lists(inner, max_size=3)
        elif isinstance(kind, Struct):
            value = self.struct(kind)
        else:
            if self.kio_domain:
                special = kio_domain_strategy(f)
                if special is not None:
                    return special
            return primitive(kind, nullable)
        return st.none() | value if nullable else value


def kio_domain_strategy(f: Field) -> st.SearchStrategy[Any] | None:
    """kio gives some int fields richer types (error-code enums, timedeltas, datetimes) whose
    domain is narrower than the wire type; draw those from the values kio can hold."""
    from kio.schema.errors import ErrorCode

    assert isinstance(f.type, Primitive)
    if f.name == "error_code" or f.name.endswith("_error_code"):
        return st.sampled_from([int(code) for code in ErrorCode])
    if f.type.name in ("int32", "int64") and (f.name.endswith("_ms") or "time" in f.name):
        return st.integers(0, 2**31 - 1)
    return None


@cache
def message_strategy(
    module_path: str, message: Message, version: int, kio_domain: bool = False
) -> st.SearchStrategy[Any]:
    module = import_module(module_path)
    builder = MessageStrategies(module, version, message.flexible_in(version), kio_domain)
    return builder.struct(Struct(message.name, message.fields))


def api_module_path(api_name: str) -> str:
    return f"kctl.protocol.messages.{module_name(api_name)}"
