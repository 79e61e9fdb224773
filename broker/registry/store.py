"""The registry's state and rules, with no I/O: requests in, answers and `_schemas` records out.

Every change is a record in Confluent's `_schemas` format (see `topic.py`); the state is what
those records say, so the same `apply` rebuilds it at start. The HTTP layer appends the records a
call returns and then applies them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kctl.protocol.registry import InvalidSchema, ParsedSchema, Reference, SchemaType, parse_schema

from .levels import DEFAULT_COMPATIBILITY, DEFAULT_MODE, Compatibility, Mode
from .topic import ConfigKey, DeleteSubjectKey, ModeKey, SchemaKey, SchemaValue, StoreRecord


class RegistryError(Exception):
    """An answer with Confluent's error code; the HTTP status is its first three digits."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return self.code if self.code < 1000 else int(str(self.code)[:3])


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(40401, f"Subject '{subject}' not found.")


def version_not_found(subject: str, version: int | str) -> RegistryError:
    return RegistryError(40402, f"Version {version} not found for subject '{subject}'.")


def schema_not_found(detail: str = "Schema not found") -> RegistryError:
    return RegistryError(40403, detail)


@dataclass(slots=True)
class Version:
    subject: str
    version: int
    schema_id: int
    deleted: bool = False


@dataclass(slots=True)
class StoredSchema:
    schema_id: int
    schema_type: SchemaType
    text: str
    references: tuple[Reference, ...]
    parsed: ParsedSchema | None = None
    versions: list[Version] = field(default_factory=list)

    def identity(self) -> tuple[SchemaType, str, tuple[Reference, ...]]:
        assert self.parsed is not None
        return self.schema_type, self.parsed.canonical(), self.references

    def to_json(self, *, text: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.text if text is None else text}
        if self.schema_type is not SchemaType.AVRO:
            out["schemaType"] = self.schema_type.value
        if self.references:
            out["references"] = [r.to_json() for r in self.references]
        return out


class SchemaStore:
    def __init__(self) -> None:
        self.schemas: dict[int, StoredSchema] = {}
        self.subjects: dict[str, dict[int, Version]] = {}
        self.compatibility: dict[str | None, Compatibility] = {}
        self.modes: dict[str | None, Mode] = {}
        self._by_identity: dict[tuple[SchemaType, str, tuple[Reference, ...]], int] = {}

    # ---- rebuilding from `_schemas` -----------------------------------------------------------
    def apply(self, record: StoreRecord) -> None:
        """Apply one `_schemas` record (ours, or one Confluent's registry wrote)."""
        key, value = record
        if isinstance(key, SchemaKey):
            self._apply_schema(key, value if isinstance(value, SchemaValue) else None)
        elif isinstance(key, ConfigKey):
            if isinstance(value, Compatibility):
                self.compatibility[key.subject] = value
            else:
                self.compatibility.pop(key.subject, None)
        elif isinstance(key, ModeKey):
            if isinstance(value, Mode):
                self.modes[key.subject] = value
            else:
                self.modes.pop(key.subject, None)
        elif isinstance(key, DeleteSubjectKey) and isinstance(value, int):
            for version in self.subjects.get(key.subject, {}).values():
                if version.version <= value:
                    version.deleted = True

    def _apply_schema(self, key: SchemaKey, value: SchemaValue | None) -> None:
        versions = self.subjects.setdefault(key.subject, {})
        old = versions.pop(key.version, None)
        if old is not None:
            self.schemas[old.schema_id].versions.remove(old)
        if value is None:  # a permanent delete
            if not versions:
                del self.subjects[key.subject]
            return
        stored = self.schemas.get(value.schema_id)
        if stored is None:
            stored = StoredSchema(value.schema_id, value.schema_type, value.schema, value.references)
            self.schemas[value.schema_id] = stored
            try:
                stored.parsed = self._parse(stored.schema_type, stored.text, stored.references)
                self._by_identity.setdefault(stored.identity(), stored.schema_id)
            except (InvalidSchema, RegistryError):
                pass  # kept, as Confluent's registry keeps what it finds; it reads back as its text
        version = Version(key.subject, key.version, value.schema_id, value.deleted)
        versions[key.version] = version
        stored.versions.append(version)

    # ---- reading -----------------------------------------------------------------------------
    def subject_names(self, *, deleted: bool = False, prefix: str = "") -> list[str]:
        return sorted(
            s
            for s, versions in self.subjects.items()
            if s.startswith(prefix) and any(deleted or not v.deleted for v in versions.values())
        )

    def versions(self, subject: str, *, deleted: bool = False) -> list[Version]:
        found = sorted(self.subjects.get(subject, {}).values(), key=lambda v: v.version)
        live = [v for v in found if deleted or not v.deleted]
        if not live:
            raise subject_not_found(subject)
        return live

    def version(self, subject: str, version: str | int, *, deleted: bool = False) -> Version:
        number = parse_version(version)
        if number == -1:
            live = self.versions(subject, deleted=deleted)
            return live[-1]
        found = self.subjects.get(subject, {})
        if not found or (not deleted and all(v.deleted for v in found.values())):
            raise subject_not_found(subject)
        hit = found.get(number)
        if hit is None or (hit.deleted and not deleted):
            raise version_not_found(subject, number)
        return hit

    def schema(self, schema_id: int) -> StoredSchema:
        found = self.schemas.get(schema_id)
        if found is None or not found.versions:
            raise schema_not_found(f"Schema {schema_id} not found")
        return found

    def parsed(self, stored: StoredSchema) -> ParsedSchema:
        if stored.parsed is None:
            stored.parsed = self._parse(stored.schema_type, stored.text, stored.references)
        return stored.parsed

    def referenced_by(self, subject: str, version: int) -> list[int]:
        ref_users = {
            s.schema_id
            for s in self.schemas.values()
            if any(r.subject == subject and r.version == version for r in s.references)
            and any(not v.deleted for v in s.versions)
        }
        return sorted(ref_users)

    def compatibility_of(self, subject: str | None) -> Compatibility:
        level = self.compatibility.get(subject) if subject is not None else None
        return level or self.compatibility.get(None) or DEFAULT_COMPATIBILITY

    def mode_of(self, subject: str | None) -> Mode:
        mode = self.modes.get(subject) if subject is not None else None
        return mode or self.modes.get(None) or DEFAULT_MODE

    # ---- parsing with references ----------------------------------------------------------------
    def _dependencies(self, references: Iterable[Reference], seen: set[tuple[str, int]]) -> list[tuple[str, str]]:
        """(name, schema text) of every schema the references reach, each after the ones it uses."""
        out: list[tuple[str, str]] = []
        for ref in references:
            if (ref.subject, ref.version) in seen:
                continue
            seen.add((ref.subject, ref.version))
            try:
                target = self.version(ref.subject, ref.version)
            except RegistryError:
                raise InvalidSchema(
                    f"the reference {ref.name} names subject {ref.subject!r} version {ref.version}, which is not"
                    " registered"
                ) from None
            stored = self.schemas[target.schema_id]
            out.extend(self._dependencies(stored.references, seen))
            out.append((ref.name, stored.text))
        return out

    def _parse(self, schema_type: SchemaType, text: str, references: tuple[Reference, ...]) -> ParsedSchema:
        return parse_schema(schema_type, text, self._dependencies(references, set()))

    def parse_request(self, body: dict[str, Any]) -> tuple[SchemaType, str, tuple[Reference, ...], ParsedSchema]:
        """The schema a request body carries, parsed with its references; 42201 when invalid."""
        text = body.get("schema")
        if not isinstance(text, str) or not text.strip():
            raise RegistryError(42201, "Invalid schema: the request has no schema text")
        try:
            schema_type = SchemaType.parse(body.get("schemaType"))
            references = tuple(_reference(r) for r in body.get("references") or ())
            parsed = self._parse(schema_type, text, references)
        except (InvalidSchema, ValueError, TypeError, KeyError) as exc:
            raise RegistryError(42201, f"Invalid schema: {exc}") from None
        return schema_type, text, references, parsed

    # ---- compatibility -----------------------------------------------------------------------------
    def incompatibilities(
        self, subject: str, new: ParsedSchema, against: list[Version], level: Compatibility
    ) -> list[str]:
        """Why `new` breaks `level` against the `against` versions (oldest first); empty when it does not."""
        if level is Compatibility.NONE or not against:
            return []
        targets = against if level.transitive else against[-1:]
        out: list[str] = []
        for version in targets:
            stored = self.schemas[version.schema_id]
            where = f"version {version.version}"
            if stored.schema_type is not new.schema_type:
                out.append(f"{where}: the schema type changed from {stored.schema_type} to {new.schema_type}")
                continue
            old = self.parsed(stored)
            if level.backward:
                out.extend(f"{where}, reading old data: {issue}" for issue in new.issues_reading(old))
            if level.forward:
                out.extend(f"{where}, old readers: {issue}" for issue in old.issues_reading(new))
        return out

    def check(self, subject: str, body: dict[str, Any], version: str | int | None) -> list[str]:
        """POST /compatibility: the issues of a schema against one version, or against the level's set."""
        _, _, _, parsed = self.parse_request(body)
        level = self.compatibility_of(subject)
        if version is None:
            live = [v for v in self.subjects.get(subject, {}).values() if not v.deleted]
            return self.incompatibilities(subject, parsed, sorted(live, key=lambda v: v.version), level)
        target = self.version(subject, version)
        level_one = Compatibility(level.removesuffix("_TRANSITIVE"))
        return self.incompatibilities(subject, parsed, [target], level_one)

    # ---- changes: each returns the records to append ---------------------------------------------
    def lookup(self, subject: str, body: dict[str, Any], *, deleted: bool = False) -> Version:
        if subject not in self.subjects:
            raise subject_not_found(subject)
        schema_type, _, references, parsed = self.parse_request(body)
        identity = (schema_type, parsed.canonical(), references)
        for version in self.versions(subject, deleted=deleted):
            if (
                self.schemas[version.schema_id].parsed is not None
                and self.schemas[version.schema_id].identity() == identity
            ):
                return version
        raise schema_not_found()

    def register(self, subject: str, body: dict[str, Any]) -> tuple[int, list[StoreRecord]]:
        """POST /subjects/{subject}/versions: the schema's id, and the records to append (none if known)."""
        mode = self.mode_of(subject)
        if mode in (Mode.READONLY, Mode.READONLY_OVERRIDE):
            raise RegistryError(42205, f"Subject {subject} is in read-only mode")
        schema_type, text, references, parsed = self.parse_request(body)
        identity = (schema_type, parsed.canonical(), references)
        existing = self.subjects.get(subject, {})
        live = sorted((v for v in existing.values() if not v.deleted), key=lambda v: v.version)
        wanted_id, wanted_version = body.get("id"), body.get("version")
        if (wanted_id is not None or wanted_version is not None) and mode is not Mode.IMPORT:
            raise RegistryError(42205, "A schema id or version can be given only in IMPORT mode")
        for version in live:
            if (
                self.schemas[version.schema_id].parsed is not None
                and self.schemas[version.schema_id].identity() == identity
            ):
                return version.schema_id, []
        if mode is not Mode.IMPORT:
            issues = self.incompatibilities(subject, parsed, live, self.compatibility_of(subject))
            if issues:
                raise RegistryError(
                    409,
                    "Schema being registered is incompatible with an earlier schema for subject "
                    f'"{subject}", details: {issues}',
                )
        if wanted_id is not None:
            schema_id = int(wanted_id)
            clash = self.schemas.get(schema_id)
            if clash is not None and clash.parsed is not None and clash.identity() != identity:
                raise RegistryError(42205, f"Schema id {schema_id} is already used by a different schema")
        else:
            schema_id = self._by_identity.get(identity) or max(self.schemas, default=0) + 1
        number = int(wanted_version) if wanted_version is not None else max(existing, default=0) + 1
        if getattr(parsed, "serialized_form", False):
            text = parsed.canonical()
        value = SchemaValue(subject, number, schema_id, schema_type, text, references, False)
        return schema_id, [(SchemaKey(subject, number), value)]

    def delete_subject(self, subject: str, *, permanent: bool) -> tuple[list[int], list[StoreRecord]]:
        self._writable(subject)
        versions = sorted(self.subjects.get(subject, {}).values(), key=lambda v: v.version)
        if not versions:
            raise subject_not_found(subject)
        live = [v for v in versions if not v.deleted]
        if permanent:
            if live:
                raise RegistryError(
                    40405, f"Subject '{subject}' was not deleted first before being permanently deleted"
                )
            records: list[StoreRecord] = [(SchemaKey(subject, v.version), None) for v in versions]
            records += [(ConfigKey(subject), None)] if subject in self.compatibility else []
            records += [(ModeKey(subject), None)] if subject in self.modes else []
            return [v.version for v in versions], records
        if not live:
            raise RegistryError(
                40404, f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently"
            )
        for version in live:
            self._not_referenced(subject, version.version)
        records = [(SchemaKey(subject, v.version), self._value(v, deleted=True)) for v in live]
        records.append((DeleteSubjectKey(subject), live[-1].version))
        return [v.version for v in live], records

    def delete_version(self, subject: str, version: str | int, *, permanent: bool) -> tuple[int, list[StoreRecord]]:
        self._writable(subject)
        target = self.version(subject, version, deleted=permanent)
        if permanent:
            if not target.deleted:
                raise RegistryError(
                    40407,
                    f"Subject '{subject}' Version {target.version} was not deleted first before being"
                    " permanently deleted",
                )
            return target.version, [(SchemaKey(subject, target.version), None)]
        self._not_referenced(subject, target.version)
        return target.version, [(SchemaKey(subject, target.version), self._value(target, deleted=True))]

    def set_compatibility(self, subject: str | None, level: str) -> list[StoreRecord]:
        try:
            parsed = Compatibility(str(level).upper())
        except ValueError:
            raise RegistryError(
                42203, f"Invalid compatibility level {level!r}; one of {', '.join(c.value for c in Compatibility)}"
            ) from None
        return [(ConfigKey(subject), parsed)]

    def set_mode(self, subject: str | None, mode: str) -> list[StoreRecord]:
        try:
            parsed = Mode(str(mode).upper())
        except ValueError:
            raise RegistryError(42204, f"Invalid mode {mode!r}; one of {', '.join(m.value for m in Mode)}") from None
        return [(ModeKey(subject), parsed)]

    def _writable(self, subject: str) -> None:
        if self.mode_of(subject) in (Mode.READONLY, Mode.READONLY_OVERRIDE):
            raise RegistryError(42205, f"Subject {subject} is in read-only mode")

    def _not_referenced(self, subject: str, version: int) -> None:
        users = self.referenced_by(subject, version)
        if users:
            raise RegistryError(
                42206,
                f"One or more references exist to the schema {{subject={subject},version={version}}}: ids {users}",
            )

    def _value(self, version: Version, *, deleted: bool) -> SchemaValue:
        stored = self.schemas[version.schema_id]
        return SchemaValue(
            version.subject,
            version.version,
            stored.schema_id,
            stored.schema_type,
            stored.text,
            stored.references,
            deleted,
        )


def parse_version(version: str | int) -> int:
    """A version path segment: a number from 1, or `latest` / -1 for the newest live version."""
    if isinstance(version, int):
        number = version
    elif version == "latest":
        return -1
    else:
        try:
            number = int(version)
        except ValueError:
            number = 0
    if number == -1:
        return -1
    if number < 1 or number > 2**31 - 1:
        raise RegistryError(
            42202,
            f"The specified version '{version}' is not a valid version id. Allowed values are between"
            ' [1, 2^31-1] and the string "latest"',
        )
    return number


def _reference(raw: Any) -> Reference:
    if not isinstance(raw, dict) or not {"name", "subject", "version"} <= raw.keys():
        raise InvalidSchema("a reference needs name, subject and version")
    return Reference(str(raw["name"]), str(raw["subject"]), parse_version(raw["version"]))
