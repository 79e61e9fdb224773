"""The registry's REST API, served by aiohttp on the broker's own event loop.

aiohttp because it is the long-standing asyncio HTTP server: it runs inside a loop we already own
(an `AppRunner` and a `TCPSite`, no second loop or thread), is kept up by a large team, and parses
HTTP/1.1 with a C parser. Routes and answers follow Confluent's API, so its clients and serializers
work unchanged: errors are `{"error_code": 40401, "message": ...}` with the HTTP status the code
starts with.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kctl.protocol.clock import now_ms
from kctl.protocol.records import encode_batch
from kctl.protocol.registry import SchemaType

from ..storage.log import AppendError
from ..storage.manager import TopicError
from .guard import READ, WRITE, RegistryGuard
from .levels import Compatibility, Mode
from .store import RegistryError, SchemaStore, StoredSchema
from .topic import TOPIC, ConfigKey, ModeKey, Skipped, StoreRecord, encode, replay

if TYPE_CHECKING:
    from ..storage.log import PartitionLog
    from ..storage.manager import LogManager

log = logging.getLogger("broker.registry")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
#: Where the broker says where its registry is, for the built-in context to find it.
ADDRESS_FILE = "schema-registry.url"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type=CONTENT_TYPE)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(400, f"The request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RegistryError(400, "The request body must be a JSON object")
    return body


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return _answer({"error_code": exc.code, "message": exc.message}, exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _answer({"error_code": exc.status, "message": exc.reason}, exc.status)
        raise


def _access(request: web.Request) -> tuple[str | None, str | None]:
    """What a request does, for the guard: (read or write or None, the subject or None for the
    registry-wide settings). None: open to any valid user, or filtered by its handler."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    subject = request.match_info.get("subject")
    if path in ("/config", "/mode"):
        return (READ if request.method == "GET" else WRITE), None
    if subject is None:
        return None, None
    reads = request.method == "GET" or path.startswith("/compatibility/") or (
        path == "/subjects/{subject}" and request.method == "POST")  # a look-up
    return (READ if reads else WRITE), subject


class SchemaRegistry:
    def __init__(
        self,
        logs: LogManager,
        after_append: Callable[[PartitionLog], asyncio.Future[None] | None],
        data_dir: Path,
        guard: RegistryGuard | None = None,
    ) -> None:
        self.logs = logs
        self.after_append = after_append
        self.data_dir = data_dir
        self.store = SchemaStore()
        self.skipped = Skipped()  # records of _schemas it could not read at start
        self.guard = guard  # basic auth and subject ACLs, when the broker is secured
        self.bound = ""  # host:port it listens on, as bound
        self.url: str | None = None
        self._runner: web.AppRunner | None = None

    # ---- lifecycle -----------------------------------------------------------------------------
    def load(self) -> int:
        """Rebuild the state from `_schemas`; returns how many records were read."""
        topic = self.logs.topics.get(TOPIC)
        if topic is None:
            return 0
        if "compact" not in self.logs.topic_config(topic.overrides).cleanup_policy:
            # Its records are the registry's state, newest per key: deleting old ones by age loses
            # schemas. Confluent's registry refuses such a topic; this one puts it right.
            log.warning("%s has cleanup.policy=%s; setting it to compact, as the registry needs",
                        TOPIC, topic.overrides.get("cleanup.policy", "delete"))
            self.logs.set_topic_overrides(TOPIC, {**topic.overrides, "cleanup.policy": "compact"})
        count = 0
        for record in replay(topic.partitions[0], self.skipped):
            try:
                self.store.apply(record)
            except (RegistryError, ValueError, KeyError, TypeError) as exc:
                self.skipped(None, exc)
                continue
            count += 1
        if self.skipped.count:
            log.warning("%s: %d record(s) could not be read and were skipped", TOPIC, self.skipped.count)
        return count

    async def serve(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); returns the port."""
        app = web.Application(middlewares=[_errors, self._guard_requests], client_max_size=16 * 1024 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        # aiohttp keeps the asyncio (or uvloop) server here; it alone knows the port bound for port 0.
        sockets = getattr(site._server, "sockets", None) or ()
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound}"  # where to reach it here
        self.bound = f"{host or '0.0.0.0'}:{bound}"
        (self.data_dir / ADDRESS_FILE).write_text(self.url + "\n")
        return bound

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            (self.data_dir / ADDRESS_FILE).unlink(missing_ok=True)

    # ---- writing ---------------------------------------------------------------------------------
    def _partition(self) -> PartitionLog:
        topic = self.logs.topics.get(TOPIC)
        if topic is None:
            topic = self.logs.create_topic(TOPIC, 1, {"cleanup.policy": "compact"})
        return topic.partitions[0]

    async def _commit(self, records: list[StoreRecord]) -> None:
        """Append the records and apply them at once (no await between, so calls do not interleave),
        then wait for the broker's durability policy before answering."""
        if not records:
            return
        encoded = [encode(r) for r in records]
        now = now_ms()
        for kafka_record in encoded:
            kafka_record.timestamp = now
        try:
            plog = self._partition()
            plog.append(encode_batch(encoded), trusted=True)
        except (AppendError, TopicError, OSError) as exc:  # nothing was stored, so nothing is applied
            reason = exc.message if isinstance(exc, AppendError | TopicError) else str(exc)
            raise RegistryError(50001, f"Error in the backend data store: {reason}") from None
        for record in records:
            self.store.apply(record)
        waiter = self.after_append(plog)
        if waiter is not None:
            await waiter

    # ---- who may ---------------------------------------------------------------------------------
    @web.middleware
    async def _guard_requests(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """With a guard: a valid basic-auth user for every request, and the subject's ACLs for
        what it reads or writes (lists and schema look-ups are filtered by the handlers)."""
        guard = self.guard
        if guard is None:
            return await handler(request)
        principal = guard.principal(request.headers.get("Authorization"))
        if principal is None:
            return web.Response(body=json.dumps({"error_code": 401, "message": "Unauthorized"}).encode(),
                                status=401, content_type=CONTENT_TYPE,
                                headers={"WWW-Authenticate": 'Basic realm="kctl schema registry"'})
        host = request.remote or ""
        request["may_read"] = lambda subject: guard.may(principal, host, READ, subject)
        access, subject = _access(request)
        if access is not None and not guard.may(principal, host, access, subject):
            what = f"subject {subject}" if subject is not None else "the registry's settings"
            raise RegistryError(40301, f"User {principal} is denied {access} access to {what}")
        return await handler(request)

    @staticmethod
    def _readable(request: web.Request, subject: str) -> bool:
        may_read = request.get("may_read")
        return may_read is None or bool(may_read(subject))

    def _readable_schema(self, request: web.Request) -> StoredSchema:
        """The schema the path names, if the caller may read a subject that has it."""
        stored = self.store.schema(self._schema_id(request))
        if not any(self._readable(request, v.subject) for v in stored.versions):
            raise RegistryError(40301, "User is denied read access to every subject of this schema")
        return stored

    # ---- routes ----------------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        get, post, put, delete = app.router.add_get, app.router.add_post, app.router.add_put, app.router.add_delete
        get("/", self.root)
        get("/subjects", self.list_subjects)
        get("/subjects/{subject}/versions", self.list_versions)
        post("/subjects/{subject}/versions", self.register)
        post("/subjects/{subject}", self.lookup)
        delete("/subjects/{subject}", self.delete_subject)
        get("/subjects/{subject}/versions/{version}", self.get_version)
        get("/subjects/{subject}/versions/{version}/schema", self.get_version_text)
        get("/subjects/{subject}/versions/{version}/referencedby", self.referenced_by)
        delete("/subjects/{subject}/versions/{version}", self.delete_version)
        get("/schemas", self.list_schemas)
        get("/schemas/types", self.types)
        get("/schemas/ids/{id}", self.get_schema)
        get("/schemas/ids/{id}/schema", self.get_schema_text)
        get("/schemas/ids/{id}/versions", self.schema_versions)
        get("/schemas/ids/{id}/subjects", self.schema_subjects)
        post("/compatibility/subjects/{subject}/versions/{version}", self.compatibility)
        post("/compatibility/subjects/{subject}/versions", self.compatibility)
        for path in ("/config", "/config/{subject}"):
            get(path, self.get_config)
            put(path, self.put_config)
            delete(path, self.delete_config)
        for path in ("/mode", "/mode/{subject}"):
            get(path, self.get_mode)
            put(path, self.put_mode)
            delete(path, self.delete_mode)

    async def root(self, request: web.Request) -> web.Response:
        return _answer({})

    async def types(self, request: web.Request) -> web.Response:
        return _answer([t.value for t in (SchemaType.JSON, SchemaType.PROTOBUF, SchemaType.AVRO)])

    async def list_subjects(self, request: web.Request) -> web.Response:
        prefix = request.query.get("subjectPrefix", "")
        return _answer([s for s in self.store.subject_names(deleted=_flag(request, "deleted"), prefix=prefix)
                        if self._readable(request, s)])

    async def list_versions(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        return _answer([v.version for v in self.store.versions(subject, deleted=_flag(request, "deleted"))])

    def _text(self, stored: StoredSchema, request: web.Request) -> str:
        """The schema text, or for Protobuf with `format=serialized` a base64 FileDescriptorProto."""
        if request.query.get("format") == "serialized" and stored.schema_type is SchemaType.PROTOBUF:
            from kctl.protocol.registry.protobuf import ProtobufSchema

            parsed = self.store.parsed(stored)
            assert isinstance(parsed, ProtobufSchema)
            return parsed.serialized()
        return stored.text

    def _version_body(self, subject: str, version: int, stored: StoredSchema, request: web.Request) -> dict[str, Any]:
        return {
            "subject": subject,
            "version": version,
            "id": stored.schema_id,
            **stored.to_json(text=self._text(stored, request)),
        }

    async def get_version(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        found = self.store.version(subject, request.match_info["version"], deleted=_flag(request, "deleted"))
        stored = self.store.schemas[found.schema_id]
        return _answer(self._version_body(subject, found.version, stored, request))

    async def get_version_text(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        found = self.store.version(subject, request.match_info["version"], deleted=_flag(request, "deleted"))
        return web.Response(text=self._text(self.store.schemas[found.schema_id], request), content_type=CONTENT_TYPE)

    async def referenced_by(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        found = self.store.version(subject, request.match_info["version"])
        return _answer(self.store.referenced_by(subject, found.version))

    def _schema_id(self, request: web.Request) -> int:
        try:
            return int(request.match_info["id"])
        except ValueError:
            raise RegistryError(40403, f"Schema {request.match_info['id']} not found") from None

    async def get_schema(self, request: web.Request) -> web.Response:
        stored = self._readable_schema(request)
        return _answer(stored.to_json(text=self._text(stored, request)))

    async def get_schema_text(self, request: web.Request) -> web.Response:
        stored = self._readable_schema(request)
        return web.Response(text=self._text(stored, request), content_type=CONTENT_TYPE)

    async def schema_versions(self, request: web.Request) -> web.Response:
        stored = self._readable_schema(request)
        deleted = _flag(request, "deleted")
        found = sorted((v.subject, v.version) for v in stored.versions
                       if (deleted or not v.deleted) and self._readable(request, v.subject))
        return _answer([{"subject": s, "version": v} for s, v in found])

    async def schema_subjects(self, request: web.Request) -> web.Response:
        stored = self._readable_schema(request)
        deleted = _flag(request, "deleted")
        return _answer(sorted({v.subject for v in stored.versions
                               if (deleted or not v.deleted) and self._readable(request, v.subject)}))

    async def list_schemas(self, request: web.Request) -> web.Response:
        prefix = request.query.get("subjectPrefix", "")
        latest_only = _flag(request, "latestOnly")
        out = []
        for subject in self.store.subject_names(deleted=_flag(request, "deleted"), prefix=prefix):
            if not self._readable(request, subject):
                continue
            versions = self.store.versions(subject, deleted=_flag(request, "deleted"))
            for found in versions[-1:] if latest_only else versions:
                stored = self.store.schemas[found.schema_id]
                out.append(self._version_body(subject, found.version, stored, request))
        return _answer(out)

    async def register(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        schema_id, records = self.store.register(subject, await _body(request))
        await self._commit(records)
        return _answer({"id": schema_id})

    async def lookup(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        found = self.store.lookup(subject, await _body(request), deleted=_flag(request, "deleted"))
        stored = self.store.schemas[found.schema_id]
        return _answer(self._version_body(subject, found.version, stored, request))

    async def delete_subject(self, request: web.Request) -> web.Response:
        versions, records = self.store.delete_subject(
            request.match_info["subject"], permanent=_flag(request, "permanent")
        )
        await self._commit(records)
        return _answer(versions)

    async def delete_version(self, request: web.Request) -> web.Response:
        version, records = self.store.delete_version(
            request.match_info["subject"], request.match_info["version"], permanent=_flag(request, "permanent")
        )
        await self._commit(records)
        return _answer(version)

    async def compatibility(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        issues = self.store.check(subject, await _body(request), request.match_info.get("version"))
        answer: dict[str, Any] = {"is_compatible": not issues}
        if _flag(request, "verbose"):
            answer["messages"] = issues
        return _answer(answer)

    # ---- config and mode -------------------------------------------------------------------------
    async def get_config(self, request: web.Request) -> web.Response:
        subject = request.match_info.get("subject")
        if subject is not None and subject not in self.store.compatibility and not _flag(request, "defaultToGlobal"):
            raise RegistryError(40408, f"Subject '{subject}' does not have subject-level compatibility configured")
        return _answer({"compatibilityLevel": self.store.compatibility_of(subject).value})

    async def put_config(self, request: web.Request) -> web.Response:
        body = await _body(request)
        level = body.get("compatibility", body.get("compatibilityLevel"))
        records = self.store.set_compatibility(request.match_info.get("subject"), str(level))
        await self._commit(records)
        return _answer({"compatibility": str(records[0][1])})

    async def delete_config(self, request: web.Request) -> web.Response:
        subject = request.match_info.get("subject")
        previous = self.store.compatibility_of(subject)
        if subject is not None and subject not in self.store.compatibility:
            raise RegistryError(40401, f"Subject '{subject}' not found.")
        await self._commit([(ConfigKey(subject), None)])
        return _answer({"compatibilityLevel": Compatibility(previous).value})

    async def get_mode(self, request: web.Request) -> web.Response:
        subject = request.match_info.get("subject")
        if subject is not None and subject not in self.store.modes and not _flag(request, "defaultToGlobal"):
            raise RegistryError(40409, f"Subject '{subject}' does not have subject-level mode configured")
        return _answer({"mode": self.store.mode_of(subject).value})

    async def put_mode(self, request: web.Request) -> web.Response:
        body = await _body(request)
        records = self.store.set_mode(request.match_info.get("subject"), str(body.get("mode")))
        await self._commit(records)
        return _answer({"mode": str(records[0][1])})

    async def delete_mode(self, request: web.Request) -> web.Response:
        subject = request.match_info.get("subject")
        previous = self.store.mode_of(subject)
        if subject is not None and subject not in self.store.modes:
            raise RegistryError(40401, f"Subject '{subject}' not found.")
        await self._commit([(ModeKey(subject), None)])
        return _answer({"mode": Mode(previous).value})
