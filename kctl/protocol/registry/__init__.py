"""Schema Registry formats: Confluent's framing of record bytes, and Avro, Protobuf and JSON Schema.

Shared by the client (decoding and encoding records) and the built-in broker's registry (validating
schemas and checking compatibility), so both read a schema the same way. Sans-IO: schema text and
bytes in, values and verdicts out; the REST client and server live in their own layers.
"""

from __future__ import annotations

from .formats import (
    EncodeError,
    InvalidSchema,
    ParsedSchema,
    Reference,
    SchemaType,
    parse_schema,
)
from .wire import MAGIC, frame, unframe

__all__ = [
    "MAGIC",
    "EncodeError",
    "InvalidSchema",
    "ParsedSchema",
    "Reference",
    "SchemaType",
    "frame",
    "parse_schema",
    "unframe",
]
