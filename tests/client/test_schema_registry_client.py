"""The registry client against a small HTTP server that checks basic auth and counts requests:
credentials are sent, schemas by id and numbered versions are fetched once, errors keep their code."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kctl.client.errors import RegistryError, RegistryUnreachable
from kctl.client.schema_registry import RecordDecoder, RegistryClient, RegistrySettings
from kctl.protocol.registry import SchemaType, frame, parse_schema

SCHEMA = json.dumps({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}]})
GOOD = "Basic " + base64.b64encode(b"ops:secret").decode()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def schema(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.headers.get("Authorization") != GOOD:
            return web.json_response({"error_code": 40101, "message": "Unauthorized"}, status=401)
        if request.match_info["id"] != "7":
            return web.json_response({"error_code": 40403, "message": "Schema 8 not found"}, status=404)
        return web.json_response({"schema": SCHEMA})

    async def version(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"subject": "orders-value", "version": 3, "id": 7, "schema": SCHEMA})

    app = web.Application()
    app.router.add_get("/schemas/ids/{id}", schema)
    app.router.add_get("/subjects/{subject}/versions/{version}", version)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_basic_auth_caching_and_error_codes(server: tuple[str, list[str]]) -> None:
    url, seen = server
    async with RegistryClient(RegistrySettings(url, "ops", "wrong")) as refused:
        with pytest.raises(RegistryError) as caught:
            await refused.schema_by_id(7)
        assert caught.value.code == 40101 and caught.value.status == 401
    async with RegistryClient(RegistrySettings(url, "ops", "secret")) as registry:
        for _ in range(3):
            assert (await registry.schema_by_id(7)).schema_type is SchemaType.AVRO
        for _ in range(2):
            assert (await registry.version("orders-value", 3)).schema_id == 7
        assert seen.count("/schemas/ids/7") == 2  # the refused call, then one fetch for three asks
        assert seen.count("/subjects/orders-value/versions/3") == 1
        with pytest.raises(RegistryError) as missing:
            await registry.schema_by_id(8)
        assert (missing.value.code, missing.value.status) == (40403, 404)


async def test_the_decoder_fetches_each_schema_once_and_reports_what_it_cannot_read(
        server: tuple[str, list[str]]) -> None:
    url, seen = server
    body = parse_schema(SchemaType.AVRO, SCHEMA).encode({"id": 5})
    async with RegistryClient(RegistrySettings(url, "ops", "secret")) as registry:
        decoder = RecordDecoder(registry)
        records = [frame(7, body)] * 100 + [frame(8, body), b"plain", None]
        await decoder.prepare(records)
        decoded = [decoder.decode(r) for r in records]
    assert seen.count("/schemas/ids/7") == 1 and seen.count("/schemas/ids/8") == 1
    assert decoded[0] is not None and (decoded[0].schema_id, decoded[0].value) == (7, {"id": 5})
    assert decoded[100] is not None and decoded[100].error == "Schema 8 not found"
    assert decoded[101] is None and decoded[102] is None
    broken = frame(7, b"\xff")
    async with RegistryClient(RegistrySettings(url, "ops", "secret")) as registry:
        decoder = RecordDecoder(registry)
        await decoder.prepare([broken])
        result = decoder.decode(broken)
    assert result is not None and result.error is not None and "not Avro written with this schema" in result.error


async def test_an_unreachable_registry_says_where() -> None:
    async with RegistryClient(RegistrySettings("http://127.0.0.1:9", timeout=2)) as registry:
        with pytest.raises(RegistryUnreachable, match=re.escape("http://127.0.0.1:9")):
            await registry.subjects()
