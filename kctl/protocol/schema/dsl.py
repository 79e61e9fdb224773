"""The small language our message definitions are written in.

A definition names each field, its wire type and the versions it exists in. The code generator
(`kctl.protocol.codegen`) turns these into straight-line encoders and decoders, one per run of
versions that share a layout, so no version check happens at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Versions:
    """An inclusive version range; `high` is None for open-ended ("3+")."""

    low: int
    high: int | None

    @classmethod
    def parse(cls, text: str | None) -> Versions | None:
        if text is None or text == "none":
            return None
        if text.endswith("+"):
            return cls(int(text[:-1]), None)
        if "-" in text:
            low, high = text.split("-")
            return cls(int(low), int(high))
        return cls(int(text), int(text))

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, int):
            return False
        return self.low <= version and (self.high is None or version <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{self.low}+"
        if self.high == self.low:
            return str(self.low)
        return f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Primitive:
    name: str  # Kafka's type name: int8, int16, int32, int64, uint16, float64, bool, string, ...

    def __str__(self) -> str:
        return self.name


BOOL = Primitive("bool")
INT8 = Primitive("int8")
INT16 = Primitive("int16")
INT32 = Primitive("int32")
INT64 = Primitive("int64")
UINT16 = Primitive("uint16")
FLOAT64 = Primitive("float64")
STRING = Primitive("string")
BYTES = Primitive("bytes")
RECORDS = Primitive("records")
UUID = Primitive("uuid")

FIXED_WIDTH = {"bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint16": 2, "float64": 8}


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[Field, ...]

    def __init__(self, name: str, fields: list[Field] | tuple[Field, ...]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "fields", tuple(fields))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Array:
    element: Primitive | Struct

    def __str__(self) -> str:
        return f"[]{self.element}"


FieldType = Primitive | Struct | Array

_NO_DEFAULT = object()


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    versions: Versions
    nullable: Versions | None
    tag: int | None
    tagged: Versions | None
    explicit_default: object = field(default=_NO_DEFAULT, compare=False)

    def __init__(
        self,
        name: str,
        type: FieldType,
        versions: str = "0+",
        *,
        nullable: str | None = None,
        tag: int | None = None,
        tagged: str | None = None,
        default: object = _NO_DEFAULT,
    ) -> None:
        parsed = Versions.parse(versions)
        assert parsed is not None, name
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "versions", parsed)
        object.__setattr__(self, "nullable", Versions.parse(nullable))
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "tagged", Versions.parse(tagged) if tag is not None else None)
        object.__setattr__(self, "explicit_default", default)

    def present_in(self, version: int) -> bool:
        return version in self.versions

    def nullable_in(self, version: int) -> bool:
        return self.nullable is not None and version in self.nullable

    def tagged_in(self, version: int) -> bool:
        return self.tagged is not None and version in self.tagged

    @property
    def has_explicit_default(self) -> bool:
        return self.explicit_default is not _NO_DEFAULT

    def default(self) -> object:
        """The value a decoder gives a field that its version does not carry."""
        if self.explicit_default is not _NO_DEFAULT:
            return self.explicit_default
        kind = self.type
        if isinstance(kind, Array):
            return []
        if isinstance(kind, Struct):
            return None  # a fresh instance; the generator builds it
        return {
            "bool": False,
            "string": "",
            "bytes": b"",
            "records": None,
            "uuid": None,
            "float64": 0.0,
        }.get(kind.name, 0)


@dataclass(frozen=True)
class Message:
    """A versioned message: one side of an API, or a record schema such as OffsetCommitKey."""

    name: str
    versions: Versions
    flexible: Versions | None
    fields: tuple[Field, ...]

    def flexible_in(self, version: int) -> bool:
        return self.flexible is not None and version in self.flexible

    def all_versions(self) -> range:
        assert self.versions.high is not None
        return range(self.versions.low, self.versions.high + 1)


@dataclass(frozen=True)
class Api:
    key: int
    name: str
    versions: Versions
    flexible: Versions | None
    request: Message
    response: Message


def api(
    key: int,
    name: str,
    versions: str,
    *,
    flexible: str,
    request: list[Field],
    response: list[Field],
) -> Api:
    parsed = Versions.parse(versions)
    flex = Versions.parse(flexible)
    assert parsed is not None and parsed.high is not None
    return Api(
        key,
        name,
        parsed,
        flex,
        Message(f"{name}Request", parsed, flex, tuple(request)),
        Message(f"{name}Response", parsed, flex, tuple(response)),
    )


def message(name: str, versions: str, *, flexible: str, fields: list[Field]) -> Message:
    parsed = Versions.parse(versions)
    assert parsed is not None and parsed.high is not None
    return Message(name, parsed, Versions.parse(flexible), tuple(fields))
