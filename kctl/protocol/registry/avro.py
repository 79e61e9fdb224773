"""Avro through fastavro: parsing with references, JSON in and out, and Avro's schema resolution rules.

How values map to JSON (the same both ways, so `kctl tail -o jsonl` output can be produced again):
bytes and fixed as base64 strings; decimals as strings ("12.50"); timestamps as ISO-8601 strings
in UTC (local timestamps without a zone); dates as "YYYY-MM-DD"; times as "HH:MM:SS.ffffff"; uuids
as strings; enums as their symbol; unions as the value itself, without a type wrapper; maps as
objects. NaN and infinities, which JSON lacks, as the strings "NaN", "Infinity" and "-Infinity".
On the way in, timestamps, dates and times also accept the numbers Avro stores.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import fastavro
from fastavro.schema import UnknownType

from .formats import EncodeError, InvalidSchema, ParsedSchema, SchemaType

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Writer types each reader type also reads (Avro's promotions).
_PROMOTIONS = {
    "long": {"int"},
    "float": {"int", "long"},
    "double": {"int", "long", "float"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # A bare name such as `string` is a valid Avro schema but not JSON.
        if text.strip() in _PRIMITIVES:
            return text.strip()
        raise InvalidSchema(f"not JSON: {exc}") from None


_REQUIRED = {"record": "fields", "error": "fields", "enum": "symbols", "fixed": "size"}


def _check_complete(raw: Any) -> None:
    """What fastavro lets through but the Avro spec (and Java) refuse: named types missing their parts."""
    if isinstance(raw, list):
        for item in raw:
            _check_complete(item)
    elif isinstance(raw, dict):
        needed = _REQUIRED.get(raw.get("type"))  # type: ignore[arg-type]
        if needed is not None and needed not in raw:
            raise InvalidSchema(f"invalid Avro schema: {raw['type']} {raw.get('name', '')!s} has no {needed}".strip())
        for key in ("type", "items", "values"):
            if not isinstance(raw.get(key), str):
                _check_complete(raw.get(key))
        for field in raw.get("fields") or ():
            if isinstance(field, dict):
                _check_complete(field.get("type"))


def _parse(raw: Any, named: dict[str, Any]) -> Any:
    _check_complete(raw)
    try:
        return fastavro.parse_schema(raw, named_schemas=named)
    except UnknownType as exc:
        raise InvalidSchema(f"unknown type {exc.name!r}: neither defined in the schema nor referenced") from None
    except Exception as exc:  # fastavro raises several kinds (SchemaParseException, UnknownType, ...)
        raise InvalidSchema(f"invalid Avro schema: {exc}") from None


class AvroSchema:
    schema_type = SchemaType.AVRO

    def __init__(self, text: str, dependencies: Sequence[tuple[str, str]] = ()) -> None:
        self.named: dict[str, Any] = {}
        for _name, dependency in dependencies:
            _parse(_load(dependency), self.named)
        self.raw = _load(text)
        self.parsed = _parse(self.raw, self.named)
        self._convert = _converter(self.parsed, self.named, set())

    def canonical(self) -> str:
        return json.dumps(self.raw, separators=(",", ":"))

    def resolve(self, schema: Any) -> Any:
        """A named type's definition for its name; anything else as it is."""
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            return self.named[schema]
        return schema

    # ---- records --------------------------------------------------------------------------------
    def decode(self, body: bytes | memoryview) -> Any:
        try:
            value = fastavro.schemaless_reader(io.BytesIO(body), self.parsed, None)
        except Exception as exc:  # truncated or foreign bytes surface as EOFError, IndexError, ...
            raise ValueError(f"not Avro written with this schema: {exc!r}") from None
        return value if self._convert is None else self._convert(value)

    def encode(self, value: Any) -> bytes:
        converted = _from_json(self, self.parsed, value, "")
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.parsed, converted)
        return out.getvalue()

    # ---- compatibility --------------------------------------------------------------------------
    def issues_reading(self, writer: ParsedSchema) -> list[str]:
        if not isinstance(writer, AvroSchema):
            return [f"a {writer.schema_type} schema cannot be read as Avro"]
        out: list[str] = []
        _check(self, self.parsed, writer, writer.parsed, "", set(), out)
        return out


# ---- to JSON ------------------------------------------------------------------------------------------
Convert = Callable[[Any], Any]


def _converter(schema: Any, named: dict[str, Any], seen: set[str]) -> Convert | None:
    """A function turning fastavro's values of `schema` into JSON data, touching only the parts
    that need it (bytes, decimals, dates, floats...); None when values are JSON data already."""
    if isinstance(schema, list):
        # Union values do not say their branch: the value's Python type decides.
        return _to_json if any(_converter(s, named, set(seen)) for s in schema) else None
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _to_json if schema in ("bytes", "float", "double") else None
        if schema in seen:
            return _to_json  # a recursive type: converted by value
        return _converter(named[schema], named, seen | {schema})
    if "logicalType" in schema or schema["type"] == "fixed":
        return _to_json
    kind = schema["type"]
    if kind == "record":
        inner = seen | {schema["name"]}
        fields = [(f["name"], c) for f in schema["fields"] if (c := _converter(f["type"], named, inner)) is not None]
        if not fields:
            return None

        def record(value: dict[str, Any]) -> dict[str, Any]:
            for name, convert in fields:
                value[name] = convert(value[name])  # fastavro's dicts are fresh: changed in place
            return value

        return record
    if kind == "array":
        item = _converter(schema["items"], named, seen)
        return None if item is None else (lambda value: [item(v) for v in value])
    if kind == "map":
        entry = _converter(schema["values"], named, seen)
        return None if entry is None else (lambda value: {k: entry(v) for k, v in value.items()})
    if kind == "enum":
        return None
    return _converter(kind, named, seen)


def _to_json(value: Any) -> Any:
    """fastavro's Python values as JSON data; the Python type alone says how (see the module doc)."""
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# ---- from JSON ----------------------------------------------------------------------------------------
def _where(path: str) -> str:
    return f"field {path.lstrip('.')}" if path else "the value"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"the number {value}"


def _fail(path: str, expected: str, value: Any) -> EncodeError:
    return EncodeError(f"{_where(path)}: expected {expected}, got {_kind(value)}")


def _base64(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise _fail(path, "base64 bytes", value)
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _fail(path, "base64 bytes", value) from None


def _decimal(schema: dict[str, Any], value: Any, path: str) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(path, 'a decimal (a string such as "12.50")', value)
    try:
        number = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise _fail(path, 'a decimal (a string such as "12.50")', value) from None
    scale = schema.get("scale", 0)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > scale:
        raise EncodeError(f"{_where(path)}: {value} has more than {scale} digits after the point")
    return number


def _timestamp(value: Any, path: str, zoned: bool) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # already in the schema's unit
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _fail(path, "an ISO-8601 timestamp or a number", value) from None
        if zoned and stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp
    raise _fail(path, "an ISO-8601 timestamp or a number", value)


def _logical(schema: dict[str, Any], value: Any, path: str) -> Any:
    logical = schema["logicalType"]
    if logical == "decimal" and schema["type"] in ("bytes", "fixed"):
        return _decimal(schema, value, path)
    if logical in ("timestamp-millis", "timestamp-micros", "timestamp-nanos"):
        return _timestamp(value, path, zoned=True)
    if logical in ("local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos"):
        return _timestamp(value, path, zoned=False)
    if logical == "date":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise _fail(path, "a date (YYYY-MM-DD) or a number of days", value) from None
    if logical in ("time-millis", "time-micros"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return dt.time.fromisoformat(value)
        except (TypeError, ValueError):
            raise _fail(path, "a time (HH:MM:SS) or a number", value) from None
    if logical == "uuid":
        try:
            return str(uuid.UUID(value))
        except (TypeError, ValueError, AttributeError):
            raise _fail(path, "a uuid", value) from None
    return _NOT_LOGICAL


_NOT_LOGICAL = object()


def _number(kind: str, value: Any, path: str) -> Any:
    if kind in _INT_RANGE:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"an {kind}" if kind == "int" else f"a {kind}", value)
        low, high = _INT_RANGE[kind]
        if not low <= value <= high:
            raise EncodeError(f"{_where(path)}: {value} does not fit in an Avro {kind}")
        return value
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"a {kind}", value)
    return float(value)


def _from_json(schema_of: AvroSchema, schema: Any, value: Any, path: str) -> Any:
    """JSON data as the Python values fastavro writes, checked against the schema on the way."""
    schema = schema_of.resolve(schema)
    if isinstance(schema, list):
        return _union(schema_of, schema, value, path)
    if isinstance(schema, str):
        return _primitive(schema, value, path)
    if "logicalType" in schema:
        converted = _logical(schema, value, path)
        if converted is not _NOT_LOGICAL:
            return converted
    kind = schema["type"]
    if kind == "record":
        return _record(schema_of, schema, value, path)
    if kind == "array":
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        return [_from_json(schema_of, schema["items"], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _fail(path, "an object (an Avro map)", value)
        return {k: _from_json(schema_of, schema["values"], v, f"{path}.{k}") for k, v in value.items()}
    if kind == "enum":
        if value not in schema["symbols"]:
            raise _fail(path, "one of " + ", ".join(schema["symbols"]), value)
        return value
    if kind == "fixed":
        data = _base64(value, path)
        if len(data) != schema["size"]:
            raise EncodeError(f"{_where(path)}: expected {schema['size']} bytes, got {len(data)}")
        return data
    return _from_json(schema_of, kind, value, path)


def _primitive(kind: str, value: Any, path: str) -> Any:
    if kind == "null":
        if value is not None:
            raise _fail(path, "null", value)
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, "true or false", value)
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(path, "a string", value)
        return value
    if kind == "bytes":
        return _base64(value, path)
    return _number(kind, value, path)


def _record(schema_of: AvroSchema, schema: dict[str, Any], value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"an object (record {schema['name']})", value)
    known = {f["name"] for f in schema["fields"]}
    unknown = sorted(set(value) - known)
    if unknown:
        raise EncodeError(f"{_where(f'{path}.{unknown[0]}')}: not in record {schema['name']}")
    out = {}
    for field in schema["fields"]:
        name = field["name"]
        if name in value:
            out[name] = _from_json(schema_of, field["type"], value[name], f"{path}.{name}")
        elif "default" in field:
            out[name] = _from_json(schema_of, field["type"], field["default"], f"{path}.{name}")
        else:
            raise EncodeError(f"{_where(f'{path}.{name}')}: missing, and it has no default")
    return out


def _union(schema_of: AvroSchema, branches: list[Any], value: Any, path: str) -> Any:
    errors = []
    for branch in branches:
        try:
            return _from_json(schema_of, branch, value, path)
        except EncodeError as exc:
            errors.append(exc)
    names = ", ".join(_type_name(schema_of.resolve(b)) for b in branches)
    # The deepest error says most, when the value clearly meant one branch (an object for a record).
    deepest = max(errors, key=lambda e: str(e).count("."))
    if str(deepest).startswith(_where(path) + ":"):
        raise _fail(path, f"one of {names}", value)
    raise deepest


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema.get("name") or schema.get("logicalType") or schema["type"])


# ---- schema resolution (Avro's SchemaCompatibility) ---------------------------------------------------
def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _names_match(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    if _short(reader["name"]) == _short(writer["name"]):
        return True
    return writer["name"] in reader.get("aliases", ())


def _check(
    reader_of: AvroSchema,
    reader: Any,
    writer_of: AvroSchema,
    writer: Any,
    path: str,
    seen: set[tuple[str, str]],
    out: list[str],
) -> None:
    """Append to `out` why `reader` cannot read what `writer` wrote, at `path`."""
    reader, writer = reader_of.resolve(reader), writer_of.resolve(writer)
    at = path or "/"
    if isinstance(writer, list):
        for i, branch in enumerate(writer):
            if not _readable(reader_of, reader, writer_of, branch, seen):
                name = _type_name(writer_of.resolve(branch))
                out.append(f"{at}: the reader cannot read the writer's union branch {i} ({name})")
        return
    if isinstance(reader, list):
        if not any(_readable(reader_of, r, writer_of, writer, seen) for r in reader):
            out.append(f"{at}: the reader's union has no branch for the writer's {_type_name(writer)}")
        return
    reader_kind = reader if isinstance(reader, str) else reader["type"]
    writer_kind = writer if isinstance(writer, str) else writer["type"]
    if reader_kind != writer_kind:
        if writer_kind in _PROMOTIONS.get(reader_kind, ()):
            return
        out.append(f"{at}: the reader's type is {reader_kind}, the writer's {writer_kind}")
        return
    if isinstance(reader, str) or reader_kind in _PRIMITIVES:
        return
    if reader_kind == "array":
        _check(reader_of, reader["items"], writer_of, writer["items"], f"{path}/items", seen, out)
    elif reader_kind == "map":
        _check(reader_of, reader["values"], writer_of, writer["values"], f"{path}/values", seen, out)
    elif reader_kind == "fixed":
        if not _names_match(reader, writer):
            out.append(f"{at}: the reader's fixed is named {reader['name']}, the writer's {writer['name']}")
        elif reader["size"] != writer["size"]:
            out.append(f"{at}: the reader's fixed holds {reader['size']} bytes, the writer's {writer['size']}")
    elif reader_kind == "enum":
        if not _names_match(reader, writer):
            out.append(f"{at}: the reader's enum is named {reader['name']}, the writer's {writer['name']}")
            return
        missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if missing and "default" not in reader:
            out.append(f"{at}: the reader's enum lacks the writer's symbols {', '.join(missing)}")
    elif reader_kind == "record":
        if not _names_match(reader, writer):
            out.append(f"{at}: the reader's record is named {reader['name']}, the writer's {writer['name']}")
            return
        pair = (reader["name"], writer["name"])
        if pair in seen:
            return  # recursive types: this pair is being checked further up
        seen.add(pair)
        written = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            match = written.get(field["name"]) or next(
                (written[a] for a in field.get("aliases", ()) if a in written), None
            )
            where = f"{path}/fields/{field['name']}"
            if match is None:
                if "default" not in field:
                    out.append(f"{where}: the reader's field has no default and the writer does not write it")
            else:
                _check(reader_of, field["type"], writer_of, match["type"], f"{where}/type", seen, out)


def _readable(
    reader_of: AvroSchema, reader: Any, writer_of: AvroSchema, writer: Any, seen: set[tuple[str, str]]
) -> bool:
    found: list[str] = []
    _check(reader_of, reader, writer_of, writer, "", set(seen), found)
    return not found
