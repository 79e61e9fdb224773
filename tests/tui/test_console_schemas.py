"""The console with a Schema Registry: the schemas view (subjects, versions, schema text and level)
and the tail's record pane showing a value decoded with its schema, subject, version and id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.connect.cluster import Settings
from kctl.tui.app import KctlTui
from kctl.tui.tail import TailScreen
from kctl.tui.views import SchemaScreen, SchemasScreen
from kctl.tui.widgets import RecordList
from tests.broker.conftest import BrokerProcess, free_port

from .conftest import kctl, table_keys, wait_for, wait_rows
from .test_console import _static_text, summary_of, text_of

ORDER_V1 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}}]}
ORDER_V2 = {**ORDER_V1, "fields": [*ORDER_V1["fields"], {"name": "note", "type": "string", "default": ""}]}


@pytest.fixture(scope="module")
def registry_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    folder = tmp_path_factory.mktemp("console-schemas")
    b = BrokerProcess(folder / "data", registry_port=free_port()).start()
    env = {"KCTL_SCHEMA_REGISTRY": b.registry_url}
    v1, v2 = folder / "v1.avsc", folder / "v2.avsc"
    v1.write_text(json.dumps(ORDER_V1))
    v2.write_text(json.dumps(ORDER_V2))
    kctl(b.bootstrap, "topics", "create", "orders")
    kctl(b.bootstrap, "produce", "orders", "--value-schema", str(v1), stdin='{"id": 7, "price": "19.99"}\n', env=env)
    kctl(b.bootstrap, "schemas", "register", "orders-value", str(v2), env=env)
    kctl(b.bootstrap, "produce", "orders", stdin="plain text\n")
    yield b
    b.stop()


def _console(broker: BrokerProcess) -> KctlTui:
    return KctlTui(Settings(bootstrap=broker.bootstrap, timeout=10, schema_registry=broker.registry_url),
                   cursor_blink=False)


async def test_schemas_view_lists_subjects_and_shows_versions_and_text(registry_broker: BrokerProcess,
                                                                       tmp_path: Path) -> None:
    app = _console(registry_broker)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("colon", *"schemas", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SchemasScreen), "the schemas view")
        await wait_rows(pilot, app, 1)
        assert table_keys(app) == ["orders-value"]
        assert app.screen.data["subjects"][0] == {  # type: ignore[attr-defined]
            "subject": "orders-value", "version": 2, "id": 2, "type": "AVRO", "versions": 2}
        assert "schemas list" in text_of(app, "#hint")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SchemaScreen), "the subject view")
        await wait_rows(pilot, app, 2, "versions")
        summary = await summary_of(pilot, app)
        assert "version 2" in summary and "compatibility BACKWARD" in summary and "type AVRO" in summary
        lines = [r["line"] for r in app.screen.data["schema"]]  # type: ignore[attr-defined]
        assert '      "name": "note",' in lines
        await pilot.press("home", "enter")  # version 1
        await wait_for(pilot, lambda: "version 1" in text_of(app, "#summary"), "version 1")
        lines = [r["line"] for r in app.screen.data["schema"]]  # type: ignore[attr-defined]
        assert not any('"note"' in line for line in lines)
        assert "schemas get orders-value --version 1" in text_of(app, "#hint")


async def test_the_record_pane_decodes_with_the_schema_and_names_it(registry_broker: BrokerProcess) -> None:
    app = _console(registry_broker)
    async with app.run_test(size=(160, 40)) as pilot:
        app.tail("orders")
        await wait_for(pilot, lambda: isinstance(app.screen, TailScreen), "the tail")
        screen = app.screen
        records = screen.query_one(RecordList)
        await wait_for(pilot, lambda: records.count == 2, "2 records")
        await pilot.press("home", "enter")
        pane = screen.query_one("#record")
        await wait_for(pilot, lambda: '"price": "19.99"' in _static_text(pane), "the decoded value")
        assert "schema orders-value version 1 (id 1)" in _static_text(pane)
        await pilot.press("x")  # hex shows the bytes as they are, magic byte first
        await wait_for(pilot, lambda: "00000000  00 00 00 00 01" in _static_text(pane), "hex dump")
        await pilot.press("x", "down", "enter")  # a record not in Confluent's format: its text
        await wait_for(pilot, lambda: "plain text" in _static_text(pane), "plain text")
        assert "schema " not in _static_text(pane)
