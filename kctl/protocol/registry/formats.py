"""What every schema format offers, and the one place that picks the format."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class SchemaType(enum.StrEnum):
    AVRO = "AVRO"
    PROTOBUF = "PROTOBUF"
    JSON = "JSON"

    @classmethod
    def parse(cls, text: str | None) -> SchemaType:
        """The registry's `schemaType` field: absent means Avro."""
        if text is None or text == "":
            return cls.AVRO
        try:
            return cls(text.upper())
        except ValueError:
            raise InvalidSchema(f"unknown schema type {text!r}: AVRO, PROTOBUF or JSON") from None


@dataclass(frozen=True, slots=True)
class Reference:
    """A schema this one uses: its name inside the schema (an Avro full name, a .proto import, a
    JSON Schema $ref), and the subject and version it is registered under."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


class InvalidSchema(ValueError):
    """Schema text that does not parse, or names what it does not define or reference."""


class EncodeError(ValueError):
    """A value that does not match its schema; the message names the field."""


class ParsedSchema(Protocol):
    schema_type: SchemaType

    def canonical(self) -> str:
        """The text that identifies the schema: equal schemas have equal canonical text."""
        ...

    def decode(self, body: bytes | memoryview) -> Any:
        """The value of a record body (after the framing) as JSON-ready Python data."""
        ...

    def encode(self, value: Any) -> bytes:
        """The record body (after the framing) for a JSON value; EncodeError names a bad field."""
        ...

    def issues_reading(self, writer: ParsedSchema) -> list[str]:
        """Why data written with `writer` cannot be read with this schema; empty when it can."""
        ...


def parse_schema(schema_type: SchemaType, text: str, dependencies: Sequence[tuple[str, str]] = ()) -> ParsedSchema:
    """Parse `text`; `dependencies` are (reference name, schema text) pairs, each after the ones it uses."""
    if schema_type is SchemaType.AVRO:
        from .avro import AvroSchema

        return AvroSchema(text, dependencies)
    if schema_type is SchemaType.PROTOBUF:
        from .protobuf import ProtobufSchema

        return ProtobufSchema(text, dependencies)
    from .json_schema import JsonSchema

    return JsonSchema(text, dependencies)
