"""Protobuf built at run time from the schema text the registry holds: no protoc step for users.

The .proto text is parsed with proto-schema-parser into descriptors that protobuf's own pool loads
(it resolves the type names); messages are then built by protobuf's message factory. Imports come
from the schema's references, or from the well-known types protobuf ships. Schemas registered as
a base64 `FileDescriptorProto` (as confluent-kafka's serializers do) load the same way.

Records decode to protobuf's canonical JSON mapping, keeping proto field names and printing fields
left at their defaults (64-bit integers are strings there, as the mapping says).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from antlr4.error.ErrorListener import ErrorListener
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor
from proto_schema_parser import ast
from proto_schema_parser.parser import Parser

from .formats import EncodeError, InvalidSchema, ParsedSchema, SchemaType
from .wire import decode_indexes, encode_indexes

F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": F.TYPE_DOUBLE,
    "float": F.TYPE_FLOAT,
    "int64": F.TYPE_INT64,
    "uint64": F.TYPE_UINT64,
    "int32": F.TYPE_INT32,
    "fixed64": F.TYPE_FIXED64,
    "fixed32": F.TYPE_FIXED32,
    "bool": F.TYPE_BOOL,
    "string": F.TYPE_STRING,
    "bytes": F.TYPE_BYTES,
    "uint32": F.TYPE_UINT32,
    "sfixed32": F.TYPE_SFIXED32,
    "sfixed64": F.TYPE_SFIXED64,
    "sint32": F.TYPE_SINT32,
    "sint64": F.TYPE_SINT64,
}
_SCALAR_NAMES: dict[int, str] = {int(number): name for name, number in _SCALARS.items()}
#: Scalar types whose values read as each other on the wire (protobuf's compatible changes).
_WIRE_FAMILIES = [
    {F.TYPE_INT32, F.TYPE_UINT32, F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_BOOL},
    {F.TYPE_SINT32, F.TYPE_SINT64},
    {F.TYPE_FIXED32, F.TYPE_SFIXED32},
    {F.TYPE_FIXED64, F.TYPE_SFIXED64},
    {F.TYPE_STRING, F.TYPE_BYTES},
]
#: protobuf's well-known types, by import path: module, and the ones each imports.
_WELL_KNOWN = {
    "google/protobuf/any.proto": "any_pb2",
    "google/protobuf/source_context.proto": "source_context_pb2",
    "google/protobuf/type.proto": "type_pb2",
    "google/protobuf/api.proto": "api_pb2",
    "google/protobuf/duration.proto": "duration_pb2",
    "google/protobuf/empty.proto": "empty_pb2",
    "google/protobuf/field_mask.proto": "field_mask_pb2",
    "google/protobuf/struct.proto": "struct_pb2",
    "google/protobuf/timestamp.proto": "timestamp_pb2",
    "google/protobuf/wrappers.proto": "wrappers_pb2",
    "google/protobuf/descriptor.proto": "descriptor_pb2",
}
MAIN_FILE = "schema.proto"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _ranges(texts: Sequence[str], top: int) -> Iterator[tuple[int, int]]:
    """Reserved and extension ranges as (start, end exclusive)."""
    for text in texts:
        for piece in text.split(","):
            low, _, high = piece.strip().partition(" to ")
            end = top if high.strip() == "max" else int(high or low)
            yield int(low), end + 1


class _SyntaxErrors(ErrorListener):  # type: ignore[misc]
    """ANTLR recovers from syntax errors and prints them; a schema with one is invalid instead."""

    def syntaxError(self, recognizer: Any, symbol: Any, line: int, column: int, message: str, e: Any) -> None:
        raise InvalidSchema(f"line {line}:{column + 1}: {message}")


def _raise_on_errors(recognizer: Any) -> None:
    recognizer.removeErrorListeners()
    recognizer.addErrorListener(_SyntaxErrors())


def _parse_text(name: str, text: str) -> descriptor_pb2.FileDescriptorProto:
    try:
        tree = Parser(setup_lexer=_raise_on_errors, setup_parser=_raise_on_errors).parse(text)
    except Exception as exc:  # ours above, or the AST builder's own kinds for what the grammar lets through
        raise InvalidSchema(f"invalid Protobuf schema {name}: {exc}") from None
    if tree.edition is not None:
        raise InvalidSchema(f"{name}: Protobuf editions are not supported; use syntax proto2 or proto3")
    out = descriptor_pb2.FileDescriptorProto(name=name, syntax=tree.syntax or "proto2")
    proto3 = out.syntax == "proto3"
    for element in tree.file_elements:
        if isinstance(element, ast.Package):
            out.package = element.name
        elif isinstance(element, ast.Import):
            if element.public:
                out.public_dependency.append(len(out.dependency))
            out.dependency.append(element.name)
        elif isinstance(element, ast.Message):
            _message(out.message_type.add(), element, proto3)
        elif isinstance(element, ast.Enum):
            _enum(out.enum_type.add(), element)
        elif isinstance(element, ast.Extension):
            raise InvalidSchema(f"{name}: extensions are not supported")
    return out


def _field(target: descriptor_pb2.FieldDescriptorProto, field: ast.Field, proto3: bool) -> None:
    target.name, target.number = field.name, field.number
    if field.cardinality is ast.FieldCardinality.REPEATED:
        target.label = F.LABEL_REPEATED
    elif field.cardinality is ast.FieldCardinality.REQUIRED:
        target.label = F.LABEL_REQUIRED
    else:
        target.label = F.LABEL_OPTIONAL
        target.proto3_optional = proto3 and field.cardinality is ast.FieldCardinality.OPTIONAL
    if field.type in _SCALARS:
        target.type = _SCALARS[field.type]
    else:
        target.type_name = field.type
    for option in field.options:
        value = option.value
        text = value.name if isinstance(value, ast.Identifier) else value
        if option.name == "default":
            target.default_value = str(text).lower() if isinstance(text, bool) else str(text)
        elif option.name == "json_name":
            target.json_name = str(text)
        elif option.name == "packed":
            target.options.packed = bool(text is True or text == "true")


def _message(target: descriptor_pb2.DescriptorProto, message: ast.Message, proto3: bool) -> None:
    target.name = message.name
    synthetic: list[descriptor_pb2.FieldDescriptorProto] = []
    for element in message.elements:
        if isinstance(element, ast.Field):
            added = target.field.add()
            _field(added, element, proto3)
            if added.proto3_optional:
                synthetic.append(added)
        elif isinstance(element, ast.MapField):
            entry = target.nested_type.add(name=_camel(element.name) + "Entry")
            entry.options.map_entry = True
            _field(entry.field.add(), ast.Field(name="key", number=1, type=element.key_type), False)
            _field(entry.field.add(), ast.Field(name="value", number=2, type=element.value_type), False)
            target.field.add(name=element.name, number=element.number, label=F.LABEL_REPEATED, type_name=entry.name)
        elif isinstance(element, ast.OneOf):
            index = len(target.oneof_decl)
            target.oneof_decl.add(name=element.name)
            for member in element.elements:
                if isinstance(member, ast.Field):
                    added = target.field.add(oneof_index=index)
                    _field(added, member, False)
        elif isinstance(element, ast.Message):
            _message(target.nested_type.add(), element, proto3)
        elif isinstance(element, ast.Enum):
            _enum(target.enum_type.add(), element)
        elif isinstance(element, ast.Reserved):
            for start, end in _ranges(element.ranges, 536_870_911):
                target.reserved_range.add(start=start, end=end)
            target.reserved_name.extend(element.names)
        elif isinstance(element, ast.ExtensionRange):
            for start, end in _ranges(element.ranges, 536_870_911):
                target.extension_range.add(start=start, end=end)
        elif isinstance(element, ast.Group):
            raise InvalidSchema(f"message {message.name}: groups are not supported")
    for added in synthetic:  # proto3 `optional`: a oneof of its own, after the real ones
        added.oneof_index = len(target.oneof_decl)
        target.oneof_decl.add(name="_" + added.name)


def _enum(target: descriptor_pb2.EnumDescriptorProto, enum: ast.Enum) -> None:
    target.name = enum.name
    for element in enum.elements:
        if isinstance(element, ast.EnumValue):
            target.value.add(name=element.name, number=element.number)
        elif isinstance(element, ast.EnumReserved):
            for start, end in _ranges(element.ranges, 2_147_483_647):
                target.reserved_range.add(start=start, end=end - 1)  # enum ranges include their end
            target.reserved_name.extend(element.names)
        elif isinstance(element, ast.Option) and element.name == "allow_alias":
            target.options.allow_alias = element.value is True


def _serialized(name: str, text: str) -> descriptor_pb2.FileDescriptorProto | None:
    """A base64 `FileDescriptorProto`, as confluent-kafka's serializers register; None for .proto text."""
    if re.search(r"\s|;", text.strip()):
        return None
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    out = descriptor_pb2.FileDescriptorProto()
    try:
        out.ParseFromString(raw)
    except Exception:  # a DecodeError: not a descriptor after all
        return None
    out.name = name
    return out


class ProtobufSchema:
    schema_type = SchemaType.PROTOBUF

    def __init__(self, text: str, dependencies: Sequence[tuple[str, str]] = ()) -> None:
        self.pool = descriptor_pool.DescriptorPool()
        self._loaded: set[str] = set()
        for name, dependency in dependencies:
            self._load(name, dependency)
        #: Registered as a base64 descriptor: the registry keeps .proto text instead, as Confluent's does.
        self.serialized_form = _serialized(MAIN_FILE, text) is not None
        self.file = self._load(MAIN_FILE, text)
        self.messages = list(self.file.message_types_by_name.values())
        if not self.messages:
            raise InvalidSchema("the schema defines no message")
        self._classes: dict[str, Any] = {}

    def _load(self, name: str, text: str) -> FileDescriptor:
        proto = _serialized(name, text) or _parse_text(name, text)
        missing = [d for d in proto.dependency if d not in self._loaded and d not in _WELL_KNOWN]
        if missing:
            raise InvalidSchema(
                f"{name} imports {', '.join(missing)}, which is neither referenced nor a well-known type"
            )
        for imported in proto.dependency:
            self._load_well_known(imported)
        try:
            self.pool.Add(proto)
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidSchema(f"invalid Protobuf schema {name}: {str(exc).strip() or repr(exc)}") from None
        self._loaded.add(name)
        return self.pool.FindFileByName(name)

    def _load_well_known(self, name: str) -> None:
        if name in self._loaded or name not in _WELL_KNOWN:
            return
        module = importlib.import_module(f"google.protobuf.{_WELL_KNOWN[name]}")
        proto = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        for imported in proto.dependency:
            self._load_well_known(imported)
        self.pool.Add(proto)
        self._loaded.add(name)

    # ---- text ------------------------------------------------------------------------------------
    def descriptor(self) -> descriptor_pb2.FileDescriptorProto:
        out = descriptor_pb2.FileDescriptorProto()
        self.file.CopyToProto(out)
        return out

    def serialized(self) -> str:
        """The schema as a base64 `FileDescriptorProto` (the registry's `format=serialized`)."""
        return base64.standard_b64encode(self.descriptor().SerializeToString()).decode("ascii")

    def canonical(self) -> str:
        return render(self.descriptor())

    # ---- records ---------------------------------------------------------------------------------
    def message_at(self, indexes: Sequence[int]) -> Descriptor:
        """The message that Confluent's message indexes point at (a path through nested messages)."""
        try:
            found = self.messages[indexes[0]]
            for index in indexes[1:]:
                found = found.nested_types[index]
        except IndexError:
            raise ValueError(f"message indexes {list(indexes)} point at no message of the schema") from None
        return found

    def indexes_of(self, descriptor: Descriptor) -> list[int]:
        path: list[int] = []
        while descriptor.containing_type is not None:
            parent = descriptor.containing_type
            path.insert(0, list(parent.nested_types).index(descriptor))
            descriptor = parent
        return [self.messages.index(descriptor), *path]

    def message_class(self, descriptor: Descriptor) -> Any:
        cls = self._classes.get(descriptor.full_name)
        if cls is None:
            cls = self._classes[descriptor.full_name] = message_factory.GetMessageClass(descriptor)
        return cls

    def find_message(self, name: str) -> Descriptor:
        """A message of this schema by full or short name."""
        package = self.file.package
        for candidate in (name, f"{package}.{name}" if package else name):
            try:
                found = self.pool.FindMessageTypeByName(candidate)
            except KeyError:
                continue
            if found.file is self.file:
                return found
        names = ", ".join(m.full_name for m in self.messages)
        raise EncodeError(f"the schema has no message {name!r}; its messages: {names}")

    def decode(self, body: bytes | memoryview) -> Any:
        try:
            indexes, start = decode_indexes(body, 0)
            message = self.message_class(self.message_at(indexes))()
            message.ParseFromString(bytes(body[start:]))
        except ValueError:
            raise
        except Exception as exc:  # protobuf's DecodeError
            raise ValueError(f"not Protobuf written with this schema: {exc}") from None
        return json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )

    def encode(self, value: Any, message_name: str | None = None) -> bytes:
        descriptor = self.find_message(message_name) if message_name else self.messages[0]
        message = self.message_class(descriptor)()
        if not isinstance(value, dict) and not descriptor.full_name.startswith("google.protobuf."):
            # Only the well-known types (Timestamp, Duration, wrappers...) have JSON that is not an object.
            raise EncodeError(f"the value: expected an object (message {descriptor.full_name})")
        try:
            json_format.ParseDict(value, message)
            body: bytes = message.SerializeToString()
        except json_format.ParseError as exc:
            raise EncodeError(str(exc)) from None
        except Exception as exc:  # EncodeError from protobuf: required fields missing (proto2)
            raise EncodeError(f"message {descriptor.full_name}: {exc}") from None
        return encode_indexes(self.indexes_of(descriptor)) + body

    # ---- compatibility ---------------------------------------------------------------------------
    def issues_reading(self, writer: ParsedSchema) -> list[str]:
        if not isinstance(writer, ProtobufSchema):
            return [f"a {writer.schema_type} schema cannot be read as Protobuf"]
        out: list[str] = []
        if self.file.package != writer.file.package:
            out.append(f"the package changed from {writer.file.package!r} to {self.file.package!r}")
            return out
        for old in _all_messages(writer.messages):
            try:
                new = self.pool.FindMessageTypeByName(old.full_name)
            except KeyError:
                out.append(f"message {old.full_name} was removed")
                continue
            _compare_fields(new, old, out)
        return out


def _all_messages(messages: Sequence[Descriptor]) -> Iterator[Descriptor]:
    for message in messages:
        if message.GetOptions().map_entry:
            continue
        yield message
        yield from _all_messages(list(message.nested_types))


def _kind(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        return f"message {field.message_type.full_name}"
    if field.enum_type is not None:
        return f"enum {field.enum_type.full_name}"
    return _SCALAR_NAMES.get(field.type) or str(field.type)


def _same_family(a: int, b: int) -> bool:
    return a == b or any(a in family and b in family for family in _WIRE_FAMILIES)


def _compare_fields(new: Descriptor, old: Descriptor, out: list[str]) -> None:
    where = f"message {new.full_name}"
    old_fields = {f.number: f for f in old.fields}
    new_fields = {f.number: f for f in new.fields}
    moved_into: dict[str, int] = {}
    for number, was in old_fields.items():
        now = new_fields.get(number)
        if now is None:
            if was.is_required:
                out.append(f"{where}: required field {number} ({was.name}) was removed")
            continue
        if was.type in (F.TYPE_MESSAGE, F.TYPE_ENUM) or now.type in (F.TYPE_MESSAGE, F.TYPE_ENUM):
            if _kind(was) != _kind(now):
                out.append(f"{where}: field {number} ({now.name}) changed from {_kind(was)} to {_kind(now)}")
        elif not _same_family(was.type, now.type):
            out.append(f"{where}: field {number} ({now.name}) changed from {_kind(was)} to {_kind(now)}")
        if was.is_repeated != now.is_repeated and was.type == F.TYPE_MESSAGE:
            out.append(f"{where}: field {number} ({now.name}) changed between repeated and single")
        oneof_now = None if _synthetic(now) else now.containing_oneof
        if oneof_now is not None and (was.containing_oneof is None or _synthetic(was)):
            oneof = oneof_now.name
            moved_into[oneof] = moved_into.get(oneof, 0) + 1
            if oneof in {o.name for o in old.oneofs}:
                out.append(f"{where}: field {number} ({now.name}) moved into the existing oneof {oneof}")
    for oneof, count in moved_into.items():
        if count > 1:
            out.append(f"{where}: {count} existing fields moved into the oneof {oneof}")
    for number, now in new_fields.items():
        if number not in old_fields and now.is_required:
            out.append(f"{where}: required field {number} ({now.name}) was added")


def _synthetic(field: FieldDescriptor) -> bool:
    return bool(
        field.containing_oneof is not None
        and field.has_presence
        and field.containing_oneof.name.startswith("_")
        and len(field.containing_oneof.fields) == 1
    )


# ---- rendering ---------------------------------------------------------------------------------------
_LABELS = {F.LABEL_OPTIONAL: "optional", F.LABEL_REQUIRED: "required", F.LABEL_REPEATED: "repeated"}


def render(proto: descriptor_pb2.FileDescriptorProto) -> str:
    """.proto text for a descriptor (type names fully qualified, as the pool resolved them)."""
    lines = [f'syntax = "{proto.syntax or "proto2"}";']
    if proto.package:
        lines.append(f"package {proto.package};")
    for index, imported in enumerate(proto.dependency):
        public = "public " if index in proto.public_dependency else ""
        lines.append(f'import {public}"{imported}";')
    proto3 = proto.syntax == "proto3"
    for message in proto.message_type:
        lines.extend(_render_message(message, proto3, ""))
    for enum in proto.enum_type:
        lines.extend(_render_enum(enum, ""))
    return "\n".join(lines) + "\n"


def _type_of(field: descriptor_pb2.FieldDescriptorProto) -> str:
    return field.type_name if field.type_name else _SCALAR_NAMES[field.type]


def _render_field(field: descriptor_pb2.FieldDescriptorProto, proto3: bool, label: bool) -> str:
    prefix = ""
    if label and (field.label != F.LABEL_OPTIONAL or not proto3 or field.proto3_optional):
        prefix = _LABELS[field.label] + " "
    options = []
    if field.HasField("default_value"):
        quoted = field.type in (F.TYPE_STRING, F.TYPE_BYTES)
        options.append(f'default = "{field.default_value}"' if quoted else f"default = {field.default_value}")
    if field.HasField("json_name") and field.json_name != _lower_camel(field.name):
        options.append(f'json_name = "{field.json_name}"')
    if field.options.HasField("packed"):
        options.append(f"packed = {'true' if field.options.packed else 'false'}")
    suffix = f" [{', '.join(options)}]" if options else ""
    return f"{prefix}{_type_of(field)} {field.name} = {field.number}{suffix};"


def _lower_camel(name: str) -> str:
    camel = _camel(name)
    return camel[:1].lower() + camel[1:]


def _render_message(message: descriptor_pb2.DescriptorProto, proto3: bool, indent: str) -> list[str]:
    inner = indent + "  "
    lines = [f"{indent}message {message.name} {{"]
    entries = {n.name: n for n in message.nested_type if n.options.map_entry}
    oneofs: dict[int, list[descriptor_pb2.FieldDescriptorProto]] = {}
    for field in message.field:
        if field.HasField("oneof_index") and not field.proto3_optional:
            if field.oneof_index not in oneofs:
                oneofs[field.oneof_index] = []
                lines.append(f"{inner}oneof {message.oneof_decl[field.oneof_index].name} {{")
                lines.extend(
                    f"{inner}  {_render_field(f, proto3, False)}"
                    for f in message.field
                    if f.HasField("oneof_index") and f.oneof_index == field.oneof_index and not f.proto3_optional
                )
                lines.append(f"{inner}}}")
            continue
        entry = entries.get(field.type_name.rpartition(".")[2]) if field.label == F.LABEL_REPEATED else None
        if entry is not None:
            key, value = entry.field[0], entry.field[1]
            lines.append(f"{inner}map<{_type_of(key)}, {_type_of(value)}> {field.name} = {field.number};")
        else:
            lines.append(f"{inner}{_render_field(field, proto3, True)}")
    for nested in message.nested_type:
        if not nested.options.map_entry:
            lines.extend(_render_message(nested, proto3, inner))
    for enum in message.enum_type:
        lines.extend(_render_enum(enum, inner))
    for reserved in message.reserved_range:
        span = str(reserved.start) if reserved.end == reserved.start + 1 else f"{reserved.start} to {reserved.end - 1}"
        lines.append(f"{inner}reserved {span};")
    if message.reserved_name:
        lines.append(f"{inner}reserved {', '.join(repr(n).replace(chr(39), chr(34)) for n in message.reserved_name)};")
    lines.append(f"{indent}}}")
    return lines


def _render_enum(enum: descriptor_pb2.EnumDescriptorProto, indent: str) -> list[str]:
    lines = [f"{indent}enum {enum.name} {{"]
    if enum.options.allow_alias:
        lines.append(f"{indent}  option allow_alias = true;")
    lines.extend(f"{indent}  {value.name} = {value.number};" for value in enum.value)
    lines.append(f"{indent}}}")
    return lines
