"""The built-in broker's Schema Registry over real HTTP: Confluent's REST API and error codes,
compatibility levels, modes, deletes, references, and `_schemas` surviving restarts and kill -9."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, BrokerProcess, free_port

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class Registry:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.headers["Content-Type"].startswith(CONTENT_TYPE)
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status == 200, answer
        return answer

    def error(self, method: str, path: str, body: Any = None) -> tuple[int, int, str]:
        status, answer = self.call(method, path, body)
        assert status >= 400, answer
        return status, answer["error_code"], answer["message"]


def avro(*fields: tuple[str, Any, Any]) -> dict[str, Any]:
    """A registration body for an Avro record Order with (name, type, default) fields."""
    listed = []
    for name, kind, default in fields:
        field: dict[str, Any] = {"name": name, "type": kind}
        if default is not ...:
            field["default"] = default
        listed.append(field)
    return {"schema": json.dumps({"type": "record", "name": "Order", "fields": listed})}


V1 = avro(("id", "long", ...))
V2 = avro(("id", "long", ...), ("note", "string", ""))
BREAKS = avro(("id", "long", ...), ("qty", "int", ...))


@pytest.fixture
def registered(tmp_path: Path) -> Iterator[tuple[BrokerProcess, Registry]]:
    broker = BrokerProcess(tmp_path / "data", registry_port=free_port()).start()
    try:
        yield broker, Registry(broker.registry_url)
    finally:
        broker.stop()


def test_register_look_up_and_read_back(registered: tuple[BrokerProcess, Registry]) -> None:
    _, sr = registered
    assert sr.ok("GET", "/subjects") == []
    assert sr.ok("POST", "/subjects/orders-value/versions", V1) == {"id": 1}
    assert sr.ok("POST", "/subjects/orders-value/versions", V1) == {"id": 1}  # known: no new version
    assert sr.ok("POST", "/subjects/orders-value/versions", V2) == {"id": 2}
    assert sr.ok("POST", "/subjects/copy-value/versions", V1) == {"id": 1}  # the same schema keeps its id
    assert sr.ok("GET", "/subjects") == ["copy-value", "orders-value"]
    assert sr.ok("GET", "/subjects/orders-value/versions") == [1, 2]
    latest = sr.ok("GET", "/subjects/orders-value/versions/latest")
    assert (latest["subject"], latest["version"], latest["id"]) == ("orders-value", 2, 2)
    assert "schemaType" not in latest  # Avro, as Confluent leaves it out
    assert json.loads(sr.ok("GET", "/schemas/ids/1")["schema"]) == json.loads(V1["schema"])
    assert sr.ok("GET", "/schemas/ids/1/versions") == [
        {"subject": "copy-value", "version": 1}, {"subject": "orders-value", "version": 1}]
    found = sr.ok("POST", "/subjects/orders-value", V1)
    assert (found["version"], found["id"]) == (1, 1)
    assert sr.ok("GET", "/schemas/types") == ["JSON", "PROTOBUF", "AVRO"]


def test_errors_carry_confluents_codes(registered: tuple[BrokerProcess, Registry]) -> None:
    _, sr = registered
    sr.ok("POST", "/subjects/orders-value/versions", V1)
    assert sr.error("GET", "/subjects/nope/versions")[:2] == (404, 40401)
    assert sr.error("GET", "/subjects/orders-value/versions/7")[:2] == (404, 40402)
    assert sr.error("GET", "/schemas/ids/99")[:2] == (404, 40403)
    assert sr.error("POST", "/subjects/orders-value", V2)[:2] == (404, 40403)
    assert sr.error("GET", "/subjects/orders-value/versions/zero")[:2] == (422, 42202)
    status, code, message = sr.error("POST", "/subjects/x/versions", {"schema": '{"type": "record"'})
    assert (status, code) == (422, 42201) and "Invalid schema" in message
    assert sr.error("POST", "/subjects/x/versions", {"schema": "{}", "schemaType": "XML"})[:2] == (422, 42201)
    assert sr.error("PUT", "/config", {"compatibility": "SIDEWAYS"})[:2] == (422, 42203)
    assert sr.error("PUT", "/mode", {"mode": "SLEEPY"})[:2] == (422, 42204)
    assert sr.error("GET", "/config/orders-value")[:2] == (404, 40408)
    assert sr.ok("GET", "/subjects") == ["orders-value"]  # nothing refused was stored


def test_compatibility_levels_decide_what_registers(registered: tuple[BrokerProcess, Registry]) -> None:
    _, sr = registered
    sr.ok("POST", "/subjects/orders-value/versions", V1)
    status, code, message = sr.error("POST", "/subjects/orders-value/versions", BREAKS)
    assert (status, code) == (409, 409) and "/fields/qty" in message
    verdict = sr.ok("POST", "/compatibility/subjects/orders-value/versions/latest?verbose=true", BREAKS)
    assert verdict["is_compatible"] is False and any("/fields/qty" in m for m in verdict["messages"])
    assert sr.ok("POST", "/compatibility/subjects/orders-value/versions/latest", V2) == {"is_compatible": True}
    # FORWARD: old readers must read new data; removing the field without a default breaks that.
    assert sr.ok("PUT", "/config/orders-value", {"compatibility": "FORWARD"}) == {"compatibility": "FORWARD"}
    assert sr.ok("GET", "/config/orders-value") == {"compatibilityLevel": "FORWARD"}
    assert sr.ok("POST", "/subjects/orders-value/versions", BREAKS) == {"id": 2}
    assert sr.error("POST", "/subjects/orders-value/versions", avro(("qty", "int", ...)))[:2] == (409, 409)
    # TRANSITIVE checks every version, not just the latest.
    sr.ok("PUT", "/config/orders-value", {"compatibility": "BACKWARD"})
    loose = avro(("id", "long", ...), ("qty", "int", 0))
    sr.ok("POST", "/subjects/orders-value/versions", loose)
    sr.ok("PUT", "/config/orders-value", {"compatibility": "FULL_TRANSITIVE"})
    only_qty = avro(("qty", "int", 0))
    assert sr.error("POST", "/subjects/orders-value/versions", only_qty)[:2] == (409, 409)
    sr.ok("PUT", "/config/orders-value", {"compatibility": "NONE"})
    assert sr.ok("POST", "/subjects/orders-value/versions", only_qty)["id"] == 4
    assert sr.ok("DELETE", "/config/orders-value") == {"compatibilityLevel": "NONE"}
    assert sr.ok("GET", "/config/orders-value?defaultToGlobal=true") == {"compatibilityLevel": "BACKWARD"}


def test_readonly_mode_refuses_new_versions(registered: tuple[BrokerProcess, Registry]) -> None:
    _, sr = registered
    sr.ok("POST", "/subjects/orders-value/versions", V1)
    assert sr.ok("PUT", "/mode", {"mode": "READONLY"}) == {"mode": "READONLY"}
    assert sr.error("POST", "/subjects/orders-value/versions", V2)[:2] == (422, 42205)
    assert sr.error("DELETE", "/subjects/orders-value")[:2] == (422, 42205)
    sr.ok("PUT", "/mode", {"mode": "READWRITE"})
    assert sr.ok("POST", "/subjects/orders-value/versions", V2) == {"id": 2}


def test_soft_then_permanent_deletes_and_references(registered: tuple[BrokerProcess, Registry]) -> None:
    _, sr = registered
    address = {"schema": json.dumps({"type": "record", "name": "Address", "namespace": "shop",
                                     "fields": [{"name": "city", "type": "string"}]})}
    customer = {"schema": json.dumps({"type": "record", "name": "Customer", "namespace": "shop",
                                      "fields": [{"name": "home", "type": "shop.Address"}]}),
                "references": [{"name": "shop.Address", "subject": "address", "version": 1}]}
    sr.ok("POST", "/subjects/address/versions", address)
    assert sr.ok("POST", "/subjects/customer-value/versions", customer) == {"id": 2}
    assert sr.ok("GET", "/subjects/address/versions/1/referencedby") == [2]
    assert sr.ok("GET", "/schemas/ids/2")["references"] == customer["references"]
    assert sr.error("DELETE", "/subjects/address")[:2] == (422, 42206)  # still referenced
    dangling = {**customer, "references": [{"name": "shop.Address", "subject": "nope", "version": 1}]}
    assert sr.error("POST", "/subjects/other/versions", dangling)[:2] == (422, 42201)

    assert sr.ok("DELETE", "/subjects/customer-value") == [1]
    assert sr.ok("GET", "/subjects") == ["address"]
    assert sr.ok("GET", "/subjects?deleted=true") == ["address", "customer-value"]
    assert sr.ok("GET", "/schemas/ids/2")["schema"]  # readers can still fetch a soft-deleted schema by id
    assert sr.error("DELETE", "/subjects/customer-value")[:2] == (404, 40404)
    assert sr.error("DELETE", "/subjects/address?permanent=true")[:2] == (404, 40405)
    assert sr.ok("DELETE", "/subjects/customer-value?permanent=true") == [1]
    assert sr.ok("GET", "/subjects?deleted=true") == ["address"]
    assert sr.error("GET", "/schemas/ids/2")[:2] == (404, 40403)
    assert sr.ok("DELETE", "/subjects/address") == [1]  # no longer referenced


def test_protobuf_and_json_schemas_register_with_their_types(registered: tuple[BrokerProcess, Registry]) -> None:
    _, sr = registered
    proto = 'syntax = "proto3";\npackage shop;\nmessage Order { int64 id = 1; }\n'
    assert sr.ok("POST", "/subjects/p-value/versions", {"schema": proto, "schemaType": "PROTOBUF"}) == {"id": 1}
    got = sr.ok("GET", "/schemas/ids/1")
    assert got == {"schema": proto, "schemaType": "PROTOBUF"}
    serialized = sr.ok("GET", "/schemas/ids/1?format=serialized")["schema"]
    # The same schema as a base64 descriptor (as confluent-kafka registers it) is the same id.
    assert sr.ok("POST", "/subjects/p-value/versions", {"schema": serialized, "schemaType": "PROTOBUF"}) == {"id": 1}
    retyped = {"schema": proto.replace("int64 id", "string id"), "schemaType": "PROTOBUF"}
    assert sr.error("POST", "/subjects/p-value/versions", retyped)[:2] == (409, 409)
    schema = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}}})
    assert sr.ok("POST", "/subjects/j-value/versions", {"schema": schema, "schemaType": "JSON"}) == {"id": 2}
    required = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]})
    assert sr.error("POST", "/subjects/j-value/versions", {"schema": required, "schemaType": "JSON"})[1] == 409
    assert sr.error("POST", "/subjects/p-value/versions", {"schema": schema, "schemaType": "JSON"})[1] == 409


@pytest.mark.parametrize("stop", ["sigterm", "kill -9"])
def test_the_registry_survives_restarts_from_schemas(tmp_path: Path, stop: str) -> None:
    port = free_port()
    broker = BrokerProcess(tmp_path / "data", {"log.flush.interval.messages": 1}, registry_port=port).start()
    sr = Registry(broker.registry_url)
    sr.ok("POST", "/subjects/orders-value/versions", V1)
    sr.ok("POST", "/subjects/orders-value/versions", V2)
    sr.ok("PUT", "/config/orders-value", {"compatibility": "FULL"})
    sr.ok("PUT", "/mode/orders-value", {"mode": "READONLY"})
    sr.ok("POST", "/subjects/gone/versions", avro(("x", "int", ...)))
    sr.ok("DELETE", "/subjects/gone")
    if stop == "sigterm":
        broker.stop()
    else:
        broker.kill()
    broker.start()
    try:
        assert sr.ok("GET", "/subjects") == ["orders-value"]
        assert sr.ok("GET", "/subjects?deleted=true") == ["gone", "orders-value"]
        assert sr.ok("GET", "/subjects/orders-value/versions/latest")["id"] == 2
        assert sr.ok("GET", "/config/orders-value") == {"compatibilityLevel": "FULL"}
        assert sr.ok("GET", "/mode/orders-value") == {"mode": "READONLY"}
        sr.ok("PUT", "/mode/orders-value", {"mode": "READWRITE"})
        assert sr.ok("POST", "/subjects/next/versions", avro(("y", "int", ...))) == {"id": 4}  # ids are not reused
    finally:
        broker.stop()


def test_schemas_topic_holds_confluents_record_format(registered: tuple[BrokerProcess, Registry]) -> None:
    from confluent_kafka import Consumer, TopicPartition

    broker, sr = registered
    sr.ok("POST", "/subjects/orders-value/versions", V1)
    sr.ok("PUT", "/config", {"compatibility": "FULL"})
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition("_schemas", 0, 0)])
        records = [consumer.poll(10) for _ in range(2)]
    finally:
        consumer.close()
    keys = [json.loads(r.key()) for r in records if r is not None and r.error() is None]
    values = [json.loads(r.value()) for r in records if r is not None and r.error() is None]
    assert keys == [{"keytype": "SCHEMA", "subject": "orders-value", "version": 1, "magic": 1},
                    {"keytype": "CONFIG", "subject": None, "magic": 0}]
    assert values[0] == {"subject": "orders-value", "version": 1, "id": 1, "schema": V1["schema"], "deleted": False}
    assert values[1] == {"compatibilityLevel": "FULL"}


def _run_broker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "broker", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_busy_registry_port_stops_the_broker_only_when_it_was_asked_for(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        explicit = _run_broker("--data-dir", str(tmp_path / "a"), "--listen", f"127.0.0.1:{free_port()}",
                               "--schema-registry", f"127.0.0.1:{busy}")
        out, _ = explicit.communicate(timeout=60)
        assert explicit.returncode == 1
        assert f"schema registry: cannot listen on 127.0.0.1:{busy}" in out


def test_a_busy_default_registry_port_leaves_the_broker_serving(tmp_path: Path) -> None:
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", 8081))
        except OSError:
            pytest.skip("port 8081 is in use here already")
        holder.listen()
        port = free_port()
        broker = _run_broker("--data-dir", str(tmp_path / "b"), "--listen", f"127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the broker did not start")
            assert not (tmp_path / "b" / "schema-registry.url").exists()
        finally:
            broker.terminate()
            out, _ = broker.communicate(timeout=30)
        assert "schema registry not started: 127.0.0.1:8081" in out
        assert broker.returncode == 0


def test_the_registry_logs_the_address_it_is_bound_to(tmp_path: Path) -> None:
    port = free_port()
    broker = _run_broker("--data-dir", str(tmp_path / "c"), "--listen", f"127.0.0.1:{free_port()}",
                         "--schema-registry", f"0.0.0.0:{port}")
    try:
        assert broker.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and "schema registry" not in line:
            line = broker.stdout.readline()
        assert f"schema registry listening on 0.0.0.0:{port} (reach it at http://127.0.0.1:{port})" in line
        assert Registry(f"http://127.0.0.1:{port}").ok("GET", "/subjects") == []
    finally:
        broker.terminate()
        broker.wait(30)
