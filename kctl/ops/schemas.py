"""Schema Registry operations: subjects and versions, registering and checking schemas from files,
and the encoders and decoders `kctl produce`, `kctl tail` and the console use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kctl.client.schema_registry import RecordDecoder, RecordEncoder, RegisteredSchema, RegistryClient
from kctl.protocol.registry import EncodeError, InvalidSchema, Reference, SchemaType

from .errors import BadUsage

#: File name endings and the schema type they hold.
EXTENSIONS = {".avsc": SchemaType.AVRO, ".proto": SchemaType.PROTOBUF, ".json": SchemaType.JSON}
TYPE_NAMES = {
    "avro": SchemaType.AVRO,
    "protobuf": SchemaType.PROTOBUF,
    "proto": SchemaType.PROTOBUF,
    "json": SchemaType.JSON,
    "jsonschema": SchemaType.JSON,
}


def no_registry() -> BadUsage:
    return BadUsage(
        "no schema registry is configured",
        "pass --schema-registry URL, set KCTL_SCHEMA_REGISTRY, or add schema-registry to the context",
    )


def schema_type_of(path: Path, given: str | None) -> SchemaType:
    if given is not None:
        found = TYPE_NAMES.get(given.lower())
        if found is None:
            raise BadUsage(f"unknown schema type {given!r}", "avro, protobuf or json")
        return found
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise BadUsage(f"cannot tell the schema type of {path.name}", "name it .avsc, .proto or .json, or pass --type")
    return found


def parse_reference(text: str) -> Reference:
    """NAME=SUBJECT:VERSION, as in `--reference address.proto=address-value:1`."""
    name, eq, target = text.partition("=")
    subject, colon, version = target.rpartition(":")
    if not eq or not colon or not name or not subject or not (version.isdigit() or version == "latest"):
        raise BadUsage(f"reference {text!r} is not NAME=SUBJECT:VERSION", "e.g. --reference common.avsc=common:1")
    return Reference(name, subject, -1 if version == "latest" else int(version))


def schema_from_file(
    path: Path, schema_type: str | None = None, references: list[str] | None = None
) -> RegisteredSchema:
    try:
        text = path.read_text()
    except OSError as exc:
        raise BadUsage(f"cannot read {path}: {exc.strerror or exc}") from None
    return RegisteredSchema(
        0, schema_type_of(path, schema_type), text, tuple(parse_reference(r) for r in references or ())
    )


async def resolve_references(client: RegistryClient, schema: RegisteredSchema) -> RegisteredSchema:
    """`latest` references pinned to the version they are now, as the registry stores them."""
    if all(r.version > 0 for r in schema.references):
        return schema
    pinned = []
    for ref in schema.references:
        if ref.version > 0:
            pinned.append(ref)
        else:
            found = await client.version(ref.subject, "latest")
            assert found.version is not None
            pinned.append(Reference(ref.name, ref.subject, found.version))
    return RegisteredSchema(schema.schema_id, schema.schema_type, schema.text, tuple(pinned))


async def check_locally(client: RegistryClient, schema: RegisteredSchema) -> None:
    """Parse the schema with its references before sending it, for an error that names the line."""
    try:
        await client.parse(schema)
    except InvalidSchema as exc:
        raise BadUsage(f"the schema is not valid: {exc}") from None


def pretty(text: str, schema_type: SchemaType) -> str:
    if schema_type is SchemaType.PROTOBUF:
        return text
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


async def subject_rows(
    client: RegistryClient, *, deleted: bool = False, prefix: str | None = None
) -> list[dict[str, Any]]:
    """One row per subject: its latest version, that version's id and type, and how many versions."""
    import asyncio

    names = await client.subjects(deleted=deleted, prefix=prefix)
    gate = asyncio.Semaphore(16)

    async def row(subject: str) -> dict[str, Any]:
        async with gate:
            versions = await client.versions(subject, deleted=deleted)
            latest = await client.version(subject, versions[-1], deleted=deleted)
        return {
            "subject": subject,
            "version": latest.version,
            "id": latest.schema_id,
            "type": latest.schema_type.value,
            "versions": len(versions),
        }

    return list(await asyncio.gather(*(row(s) for s in names)))


def schema_json(found: RegisteredSchema) -> dict[str, Any]:
    return {
        "subject": found.subject,
        "version": found.version,
        "id": found.schema_id,
        "type": found.schema_type.value,
        "references": [r.to_json() for r in found.references],
        "schema": found.text,
    }


async def describe(client: RegistryClient, subject: str | None, version: str, schema_id: int | None) -> dict[str, Any]:
    """A version of a subject, or a schema by id (with the subjects and versions that use it)."""
    if schema_id is not None:
        found = await client.schema_by_id(schema_id)
        out = schema_json(found)
        out["used_by"] = await client.subjects_of(schema_id)
        return out
    if subject is None:
        raise BadUsage("name a SUBJECT or pass --id")
    out = schema_json(await client.version(subject, version))
    out["compatibility"] = await client.get_compatibility(subject)
    return out


# ---- records --------------------------------------------------------------------------------------------
async def encoder_for(client: RegistryClient, spec: str, subject: str, message: str | None = None) -> RecordEncoder:
    """The encoder for `--value-schema` / `--key-schema`: a schema id, a subject's latest version,
    or a file, registered under `subject` (the topic's -key or -value subject) first as
    serializers with auto-registration do."""
    path = Path(spec)
    if spec.isdigit():
        registered = await client.schema_by_id(int(spec))
        schema_id = registered.schema_id
    elif path.suffix.lower() in EXTENSIONS and path.exists():
        registered = schema_from_file(path)
        await check_locally(client, registered)
        schema_id = await client.register(subject, registered)
    else:
        registered = await client.version(spec, "latest")
        schema_id = registered.schema_id
    try:
        parsed = await client.parse(registered)
    except InvalidSchema as exc:
        raise BadUsage(f"schema {schema_id} cannot be used: {exc}") from None
    if message is not None:
        from kctl.protocol.registry.protobuf import ProtobufSchema

        if not isinstance(parsed, ProtobufSchema):
            raise BadUsage("--message applies to Protobuf schemas only")
        try:
            parsed.find_message(message)
        except EncodeError as exc:
            raise BadUsage(str(exc)) from None
    return RecordEncoder(schema_id, parsed, message)


def encode_or_fail(encoder: RecordEncoder, value: Any, what: str, line: int) -> bytes:
    try:
        return encoder.encode(value)
    except EncodeError as exc:
        raise BadUsage(f"line {line}: {what}: {exc}", "nothing was sent") from None


def decoder_for(client: RegistryClient) -> RecordDecoder:
    return RecordDecoder(client)
