"""JSON Schema through jsonschema: validation with references, and which documents each schema accepts.

A reader schema can read a writer's data when it accepts every document the writer accepts. That
is undecidable in general; the checks below are the ones Confluent's registry makes and operators
meet: types, enums and constants, required properties, properties added to or removed from open and
closed content models (`additionalProperties`), items, and the numeric, length and count bounds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

from .formats import EncodeError, InvalidSchema, ParsedSchema, SchemaType


def _load(text: str, what: str) -> Any:
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSchema(f"{what} is not JSON: {exc}") from None
    if not isinstance(schema, dict | bool):
        raise InvalidSchema(f"{what} is neither an object nor a boolean")
    return schema


class JsonSchema:
    schema_type = SchemaType.JSON

    def __init__(self, text: str, dependencies: Sequence[tuple[str, str]] = ()) -> None:
        self.raw = _load(text, "the schema")
        resources = []
        for name, dependency in dependencies:
            contents = _load(dependency, f"the reference {name}")
            resource = referencing.Resource.from_contents(contents, default_specification=referencing.jsonschema.DRAFT7)
            resources.append((name, resource))
        registry: referencing.Registry[Any] = referencing.Registry().with_resources(resources)
        cls = jsonschema.validators.validator_for(self.raw, default=jsonschema.Draft7Validator)
        try:
            cls.check_schema(self.raw)
        except jsonschema.SchemaError as exc:
            raise InvalidSchema(f"invalid JSON Schema: {exc.message}") from None
        self.validator = cls(self.raw, registry=registry)
        self.definitions = {name: json.loads(text) for name, text in dependencies}

    def canonical(self) -> str:
        return json.dumps(self.raw, separators=(",", ":"))

    def decode(self, body: bytes | memoryview) -> Any:
        try:
            return json.loads(bytes(body))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not JSON: {exc}") from None

    def encode(self, value: Any) -> bytes:
        try:
            error = jsonschema.exceptions.best_match(self.validator.iter_errors(value))
        except referencing.exceptions.Unresolvable as exc:
            raise EncodeError(f"the schema refers to {exc.ref!r}, which it does not reference") from None
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path)
            raise EncodeError(f"{'field ' + where if where else 'the value'}: {error.message}")
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    def issues_reading(self, writer: ParsedSchema) -> list[str]:
        if not isinstance(writer, JsonSchema):
            return [f"a {writer.schema_type} schema cannot be read as JSON Schema"]
        out: list[str] = []
        _covers(self.raw, writer.raw, "#", out)
        return out


_TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")


def _types(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _accepts_anything(schema: Any) -> bool:
    return schema is True or schema == {}


def _covers(reader: Any, writer: Any, path: str, out: list[str]) -> None:
    """Append to `out` the ways `writer` accepts documents that `reader` refuses."""
    if reader is True or writer is False:
        return
    if reader is False:
        out.append(f"{path}: the reader accepts nothing")
        return
    if writer is True:
        writer = {}
    reader_types, writer_types = _types(reader), _types(writer)
    if reader_types is not None:
        allowed = reader_types | ({"integer"} if "number" in reader_types else set())
        extra = (set(_TYPES) - allowed) if writer_types is None else (writer_types - allowed)
        if extra:
            out.append(f"{path}: the reader does not accept type {', '.join(sorted(extra))}")
            return
    for keyword in ("enum", "const"):
        if keyword in reader:
            theirs = writer.get(keyword)
            ours = reader[keyword] if keyword == "enum" else [reader[keyword]]
            if theirs is None:
                out.append(f"{path}: the reader adds {keyword}")
            elif any(v not in ours for v in (theirs if keyword == "enum" else [theirs])):
                out.append(f"{path}: the reader's {keyword} lacks values the writer's has")
    _bounds(reader, writer, path, out)
    _object(reader, writer, path, out)
    if "items" in reader and isinstance(reader["items"], dict | bool):
        _covers(reader["items"], writer.get("items", True), f"{path}/items", out)


_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")


def _bounds(reader: dict[str, Any], writer: dict[str, Any], path: str, out: list[str]) -> None:
    for keyword in _UPPER + _LOWER:
        if keyword not in reader or isinstance(reader[keyword], bool):
            continue
        theirs = writer.get(keyword)
        upper = keyword in _UPPER
        if (
            theirs is None
            or isinstance(theirs, bool)
            or (reader[keyword] < theirs if upper else reader[keyword] > theirs)
        ):
            out.append(f"{path}: the reader's {keyword} {reader[keyword]} is narrower than the writer's {theirs}")
    for keyword in ("pattern", "multipleOf", "format"):
        if keyword in reader and reader[keyword] != writer.get(keyword):
            out.append(f"{path}: the reader's {keyword} differs from the writer's")


def _object(reader: dict[str, Any], writer: dict[str, Any], path: str, out: list[str]) -> None:
    added = sorted(set(reader.get("required", ())) - set(writer.get("required", ())))
    if added:
        out.append(f"{path}: the reader requires {', '.join(added)}, which the writer may leave out")
    ours, theirs = reader.get("properties", {}), writer.get("properties", {})
    reader_extra = reader.get("additionalProperties", True)
    writer_extra = writer.get("additionalProperties", True)
    for name, schema in theirs.items():
        where = f"{path}/properties/{name}"
        if name in ours:
            _covers(ours[name], schema, where, out)
        elif reader_extra is False:
            out.append(f"{where}: removed from a closed content model")
        else:
            _covers(reader_extra, schema, where, out)
    for name, schema in ours.items():
        if name not in theirs and writer_extra is not False and not _accepts_anything(schema):
            out.append(f"{path}/properties/{name}: added to an open content model")
    if reader_extra is not True and writer_extra is not False and not _accepts_anything(reader_extra):
        if reader_extra is False:
            out.append(f"{path}: the reader closes a content model the writer leaves open")
        else:
            _covers(reader_extra, writer_extra, f"{path}/additionalProperties", out)
