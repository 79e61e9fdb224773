"""A Schema Registry client (Confluent's REST API) and the record serdes built on it.

`RegistryClient` speaks the REST API over aiohttp, with basic auth, and caches what never changes:
schemas by id, and a subject's numbered versions. `RecordDecoder` turns record bytes in Confluent's
format into JSON-ready values (schemas fetched once per id, ahead of the records that need them, so
decoding itself never waits); `RecordEncoder` does the reverse for one schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kctl.protocol.registry import (
    EncodeError,
    InvalidSchema,
    ParsedSchema,
    Reference,
    SchemaType,
    frame,
    parse_schema,
    unframe,
)

from .errors import RegistryError, RegistryUnreachable
from .rest import RestClient, url_path

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    url: str
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    schema_id: int
    schema_type: SchemaType
    text: str
    references: tuple[Reference, ...] = ()
    subject: str | None = None
    version: int | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any], schema_id: int | None = None) -> RegisteredSchema:
        return cls(
            int(body["id"]) if schema_id is None else schema_id,
            SchemaType.parse(body.get("schemaType")),
            body["schema"],
            tuple(Reference(r["name"], r["subject"], int(r["version"])) for r in body.get("references") or ()),
            body.get("subject"),
            body.get("version"),
        )

    def request_body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.text}
        if self.schema_type is not SchemaType.AVRO:
            out["schemaType"] = self.schema_type.value
        if self.references:
            out["references"] = [r.to_json() for r in self.references]
        return out


class RegistryClient(RestClient):
    content_type = CONTENT_TYPE

    def __init__(self, settings: RegistrySettings) -> None:
        super().__init__(settings.url, settings.username, settings.password, settings.timeout)
        self.settings = settings
        self._by_id: dict[int, RegisteredSchema] = {}
        self._parsed: dict[int, ParsedSchema] = {}
        self._versions: dict[tuple[str, int], RegisteredSchema] = {}

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def unreachable(self, reason: str) -> Exception:
        return RegistryUnreachable(f"cannot reach the schema registry at {self.url}: {reason}")

    async def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """One REST call; the decoded JSON answer, or RegistryError with the registry's code."""
        status, decoded = await self.request(method, path, body, **query)
        if status >= 400:
            if isinstance(decoded, dict) and "error_code" in decoded:
                raise RegistryError(int(decoded["error_code"]), str(decoded.get("message", "")), status)
            if status == 401:
                raise RegistryError(401, "the schema registry refused our credentials", status)
            raise RegistryError(status, f"HTTP {status} from {self.url}{path}: {str(decoded)[:200]}", status)
        return decoded

    # ---- schemas ---------------------------------------------------------------------------------
    async def schema_by_id(self, schema_id: int) -> RegisteredSchema:
        found = self._by_id.get(schema_id)
        if found is None:
            body = await self.call("GET", url_path("schemas", "ids", schema_id))
            found = self._by_id[schema_id] = RegisteredSchema.from_json(body, schema_id)
        return found

    async def version(self, subject: str, version: int | str = "latest", *, deleted: bool = False) -> RegisteredSchema:
        if isinstance(version, int) and version > 0 and (subject, version) in self._versions:
            return self._versions[(subject, version)]
        body = await self.call("GET", url_path("subjects", subject, "versions", version), deleted=deleted or None)
        found = RegisteredSchema.from_json(body)
        if found.version is not None:
            self._versions[(subject, found.version)] = found
        self._by_id.setdefault(found.schema_id, found)
        return found

    async def dependencies(
        self, references: Sequence[Reference], seen: set[tuple[str, int]] | None = None
    ) -> list[tuple[str, str]]:
        """(name, text) of every schema the references reach, each after the ones it uses."""
        seen = set() if seen is None else seen
        out: list[tuple[str, str]] = []
        for ref in references:
            if (ref.subject, ref.version) in seen:
                continue
            seen.add((ref.subject, ref.version))
            target = await self.version(ref.subject, ref.version)
            out.extend(await self.dependencies(target.references, seen))
            out.append((ref.name, target.text))
        return out

    async def parse(self, registered: RegisteredSchema) -> ParsedSchema:
        return parse_schema(registered.schema_type, registered.text, await self.dependencies(registered.references))

    def cached(self, schema_id: int) -> ParsedSchema | None:
        """The parsed schema of an id fetched before, without asking the registry."""
        return self._parsed.get(schema_id)

    async def parsed_by_id(self, schema_id: int) -> ParsedSchema:
        found = self._parsed.get(schema_id)
        if found is None:
            found = self._parsed[schema_id] = await self.parse(await self.schema_by_id(schema_id))
        return found

    async def subjects(self, *, deleted: bool = False, prefix: str | None = None) -> list[str]:
        return list(await self.call("GET", "/subjects", deleted=deleted or None, subjectPrefix=prefix))

    async def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        return list(await self.call("GET", url_path("subjects", subject, "versions"), deleted=deleted or None))

    async def subjects_of(self, schema_id: int) -> list[dict[str, Any]]:
        return list(await self.call("GET", url_path("schemas", "ids", schema_id, "versions")))

    async def register(self, subject: str, schema: RegisteredSchema) -> int:
        body = await self.call("POST", url_path("subjects", subject, "versions"), schema.request_body())
        return int(body["id"])

    async def lookup(self, subject: str, schema: RegisteredSchema) -> RegisteredSchema:
        return RegisteredSchema.from_json(await self.call("POST", url_path("subjects", subject), schema.request_body()))

    async def compatibility(self, subject: str, schema: RegisteredSchema, version: str | None = "latest") -> list[str]:
        """Why `schema` breaks the subject's compatibility level; empty when it does not. `version`
        None checks against every version the level covers."""
        parts: list[str | int] = ["compatibility", "subjects", subject, "versions"]
        if version is not None:
            parts.append(version)
        body = await self.call("POST", url_path(*parts), schema.request_body(), verbose=True)
        if body.get("is_compatible"):
            return []
        return [str(m) for m in body.get("messages") or ["incompatible"]]

    async def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        return list(await self.call("DELETE", url_path("subjects", subject), permanent=permanent or None))

    async def delete_version(self, subject: str, version: int | str, *, permanent: bool = False) -> int:
        return int(
            await self.call("DELETE", url_path("subjects", subject, "versions", version), permanent=permanent or None)
        )

    async def get_compatibility(self, subject: str | None = None) -> str:
        path = "/config" if subject is None else url_path("config", subject)
        body = await self.call("GET", path, defaultToGlobal=True if subject else None)
        return str(body.get("compatibilityLevel") or body.get("compatibility"))

    async def set_compatibility(self, level: str, subject: str | None = None) -> str:
        path = "/config" if subject is None else url_path("config", subject)
        return str((await self.call("PUT", path, {"compatibility": level.upper()}))["compatibility"])

    async def own_setting(self, setting: str, subject: str | None) -> str | None:
        """The subject's own compatibility level or mode (`setting`), None where it has none and
        the registry's applies; the registry's own for no subject."""
        if subject is None:
            return await (self.get_compatibility() if setting == "compatibility" else self.get_mode())
        try:
            body = await self.call("GET", url_path("config" if setting == "compatibility" else "mode", subject))
        except RegistryError as exc:
            if exc.code in (40408, 40409, 40401):  # no level of its own (or no such subject yet)
                return None
            raise
        return str(body.get("compatibilityLevel") or body.get("compatibility") or body.get("mode"))

    async def delete_setting(self, setting: str, subject: str) -> None:
        """Remove the subject's own compatibility level or mode: the registry's applies again."""
        await self.call("DELETE", url_path("config" if setting == "compatibility" else "mode", subject))

    async def get_mode(self, subject: str | None = None) -> str:
        path = "/mode" if subject is None else url_path("mode", subject)
        return str((await self.call("GET", path, defaultToGlobal=True if subject else None))["mode"])

    async def set_mode(self, mode: str, subject: str | None = None) -> str:
        path = "/mode" if subject is None else url_path("mode", subject)
        return str((await self.call("PUT", path, {"mode": mode.upper()}))["mode"])


# ---- records ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Decoded:
    """A key or value in Confluent's format: its schema id and JSON-ready value, or why it is not
    readable (`error`), in which case the bytes are shown as they are."""

    schema_id: int
    value: Any = None
    error: str | None = None


@dataclass(slots=True)
class RecordDecoder:
    registry: RegistryClient
    _failed: dict[int, str] = field(default_factory=dict)

    async def prepare(self, payloads: Iterable[bytes | None]) -> None:
        """Fetch the schemas of every framed payload not seen yet (one request per new id)."""
        for payload in payloads:
            framed = unframe(payload)
            if framed is None or self.registry.cached(framed.schema_id) is not None or framed.schema_id in self._failed:
                continue
            try:
                await self.registry.parsed_by_id(framed.schema_id)
            except RegistryError as exc:
                self._failed[framed.schema_id] = exc.message
            except InvalidSchema as exc:
                self._failed[framed.schema_id] = f"schema {framed.schema_id} cannot be read: {exc}"

    def decode(self, payload: bytes | None) -> Decoded | None:
        """None for bytes not in Confluent's format; otherwise the value, or why it could not be read."""
        framed = unframe(payload)
        if framed is None or payload is None:
            return None
        failure = self._failed.get(framed.schema_id)
        if failure is not None:
            return Decoded(framed.schema_id, error=failure)
        parsed = self.registry.cached(framed.schema_id)
        if parsed is None:
            return Decoded(framed.schema_id, error="schema not fetched")
        try:
            return Decoded(framed.schema_id, parsed.decode(memoryview(payload)[framed.body_start :]))
        except ValueError as exc:
            return Decoded(framed.schema_id, error=str(exc))


@dataclass(slots=True)
class RecordEncoder:
    """Values as record bytes with one registered schema (and for Protobuf, one of its messages)."""

    schema_id: int
    parsed: ParsedSchema
    message: str | None = None

    def encode(self, value: Any) -> bytes:
        if self.message is not None:
            from kctl.protocol.registry.protobuf import ProtobufSchema

            if not isinstance(self.parsed, ProtobufSchema):
                raise EncodeError("a message name applies to Protobuf schemas only")
            return frame(self.schema_id, self.parsed.encode(value, self.message))
        return frame(self.schema_id, self.parsed.encode(value))
