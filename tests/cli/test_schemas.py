"""kctl with a Schema Registry: confluent-kafka's serializers write through the built-in broker's
registry and `kctl tail` decodes; `kctl produce` encodes and confluent-kafka's deserializers read;
the schemas commands; the built-in context finds its registry by itself."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess, free_port

from .conftest import isolated_env
from .test_commands import as_json, kctl, unique

ORDER_AVRO = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
ORDER_PROTO = 'syntax = "proto3";\npackage shop;\nmessage Order {\n  int64 id = 1;\n  string sku = 2;\n}\n'
ORDER_JSON = {"type": "object", "properties": {"id": {"type": "integer"}, "sku": {"type": "string"}},
              "required": ["id"]}


@pytest.fixture(scope="module")
def registry_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("schemas") / "data", registry_port=free_port()).start()
    yield b
    b.stop()


@pytest.fixture
def env(tmp_path: Path, registry_broker: BrokerProcess) -> dict[str, str]:
    out = isolated_env(tmp_path, registry_broker.bootstrap)
    out["KCTL_SCHEMA_REGISTRY"] = registry_broker.registry_url
    return out


def _serializers(url: str) -> dict[str, Any]:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from google.protobuf import struct_pb2

    client = SchemaRegistryClient({"url": url})
    return {
        "avro": AvroSerializer(client, json.dumps(ORDER_AVRO)),
        "json": JSONSerializer(json.dumps(ORDER_JSON), client),
        "protobuf": ProtobufSerializer(struct_pb2.Struct, client, {"use.deprecated.format": False}),
    }


def test_tail_decodes_what_confluent_kafkas_serializers_wrote(env: dict[str, str],
                                                              registry_broker: BrokerProcess) -> None:
    from decimal import Decimal

    from confluent_kafka import Producer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf import struct_pb2

    topic = unique("serialized")
    kctl(env, "topics", "create", topic)
    serializers = _serializers(registry_broker.registry_url)

    def ctx(kind: str) -> SerializationContext:  # a subject per format: one subject holds one type
        return SerializationContext(f"{topic}.{kind}", MessageField.VALUE)

    struct = struct_pb2.Struct()
    struct.update({"sku": "A-1", "qty": 2})
    values = [
        serializers["avro"]({"id": 7, "price": Decimal("12.50"), "note": None}, ctx("avro")),
        serializers["json"]({"id": 8, "sku": "B-2"}, ctx("json")),
        serializers["protobuf"](struct, ctx("protobuf")),
    ]
    producer = Producer({"bootstrap.servers": registry_broker.bootstrap})
    for value in values:
        producer.produce(topic, value, key=b"k")
    producer.flush(10)

    lines = [json.loads(line) for line in kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl").stdout
             .splitlines()]
    assert [line["value"] for line in lines] == [
        {"id": 7, "price": "12.50", "note": None},
        {"id": 8, "sku": "B-2"},
        {"sku": "A-1", "qty": 2.0},  # google.protobuf.Struct in its JSON mapping
    ]
    assert len({line["value_schema_id"] for line in lines}) == 3 and all(line["key"] == "k" for line in lines)
    human = kctl(env, "tail", topic, "--from", "beginning", "-n", "1").stdout
    assert '"price": "12.50"' in human and f"value-schema={lines[0]['value_schema_id']}" in human
    # --no-decode shows the bytes in Confluent's format, as they are.
    raw = json.loads(kctl(env, "tail", topic, "--from", "beginning", "-n", "1", "--no-decode", "-o", "jsonl")
                     .stdout)
    assert raw["value_encoding"] == "base64" and "value_schema_id" not in raw


def test_confluent_kafkas_deserializers_read_what_kctl_produced(env: dict[str, str], tmp_path: Path,
                                                                 registry_broker: BrokerProcess) -> None:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = unique("encoded")
    kctl(env, "topics", "create", topic)
    schema_file = tmp_path / "order.avsc"
    schema_file.write_text(json.dumps(ORDER_AVRO))
    # A file is registered under TOPIC-value first; then the subject and an id work as well.
    kctl(env, "produce", topic, "--value-schema", str(schema_file), stdin='{"id": 1, "price": "3.10"}\n')
    kctl(env, "produce", topic, "--value-schema", f"{topic}-value", stdin='{"id": 2, "price": "0.99", "note": "x"}\n')
    json_file = tmp_path / "order.json"
    json_file.write_text(json.dumps(ORDER_JSON))
    registered = as_json(kctl(env, "schemas", "register", f"{topic}-json", str(json_file), "-o", "json"))
    kctl(env, "produce", topic, "--value-schema", str(registered["id"]), "-K", ":",
         stdin='order-3:{"id": 3, "sku": "C"}\n')

    client = SchemaRegistryClient({"url": registry_broker.registry_url})
    consumer = Consumer({"bootstrap.servers": registry_broker.bootstrap, "group.id": "reader",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        records = [consumer.poll(10) for _ in range(3)]
    finally:
        consumer.close()
    ctx = SerializationContext(topic, MessageField.VALUE)
    avro = AvroDeserializer(client)
    first, second = (avro(r.value(), ctx) for r in records[:2])
    assert (first["id"], str(first["price"]), first["note"]) == (1, "3.10", None)
    assert (second["id"], str(second["price"]), second["note"]) == (2, "0.99", "x")
    assert JSONDeserializer(None, schema_registry_client=client)(records[2].value(), ctx) == {"id": 3, "sku": "C"}
    assert records[2].key() == b"order-3"


def test_confluent_kafkas_protobuf_deserializer_reads_what_kctl_produced(
        env: dict[str, str], tmp_path: Path, registry_broker: BrokerProcess) -> None:
    """A message class protobuf ships (Timestamp) reads what kctl encoded from the same .proto text."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf import timestamp_pb2

    topic = unique("proto-read")
    kctl(env, "topics", "create", topic)
    proto = tmp_path / "timestamp.proto"
    proto.write_text('syntax = "proto3";\npackage google.protobuf;\n'
                     "message Timestamp {\n  int64 seconds = 1;\n  int32 nanos = 2;\n}\n")
    # Timestamp has its own JSON mapping, as protobuf's json_format gives it.
    kctl(env, "produce", topic, "--value-schema", str(proto), stdin='"2026-01-01T00:00:00.000000005Z"\n')
    consumer = Consumer({"bootstrap.servers": registry_broker.bootstrap, "group.id": "reader",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        record = consumer.poll(10)
    finally:
        consumer.close()
    assert record is not None and record.error() is None
    read = ProtobufDeserializer(timestamp_pb2.Timestamp, {"use.deprecated.format": False})(
        record.value(), SerializationContext(topic, MessageField.VALUE))
    assert (read.seconds, read.nanos) == (1_767_225_600, 5)


def test_produce_checks_every_line_before_sending_any(env: dict[str, str], tmp_path: Path) -> None:
    topic = unique("checked")
    kctl(env, "topics", "create", topic)
    schema_file = tmp_path / "order.avsc"
    schema_file.write_text(json.dumps(ORDER_AVRO))
    lines = '{"id": 1, "price": "1.00"}\n{"id": 2, "price": "1.00", "nope": 1}\n'
    bad = kctl(env, "produce", topic, "--value-schema", str(schema_file), stdin=lines, ok=False)
    assert bad.returncode == 2
    assert "line 2: the value: field nope: not in record shop.Order" in bad.stderr
    assert as_json(kctl(env, "offsets", topic, "-o", "json"))[0]["latest"] == 0  # nothing was sent
    not_json = kctl(env, "produce", topic, "--value-schema", str(schema_file), stdin="hello\n", ok=False)
    assert not_json.returncode == 2 and "line 1: the value is not JSON" in not_json.stderr


def test_protobuf_produce_picks_the_message_and_tail_reads_it(env: dict[str, str], tmp_path: Path) -> None:
    topic = unique("proto")
    kctl(env, "topics", "create", topic)
    proto = tmp_path / "order.proto"
    proto.write_text(ORDER_PROTO + "message Refund {\n  int64 order = 1;\n}\n")
    kctl(env, "produce", topic, "--value-schema", str(proto), "--message", "Refund", stdin='{"order": "9"}\n')
    kctl(env, "produce", topic, "--value-schema", str(proto), stdin='{"id": "4", "sku": "D"}\n')
    lines = kctl(env, "tail", topic, "--from", "beginning", "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["value"] for line in lines] == [{"order": "9"}, {"id": "4", "sku": "D"}]
    wrong = kctl(env, "produce", topic, "--value-schema", str(proto), "--message", "Nope", stdin="{}\n", ok=False)
    assert wrong.returncode == 2 and "no message 'Nope'" in wrong.stderr


def test_schemas_commands(env: dict[str, str], tmp_path: Path) -> None:
    subject = unique("cmd") + "-value"
    v1, v2, breaking = (tmp_path / name for name in ("v1.avsc", "v2.avsc", "breaking.avsc"))
    v1.write_text(json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}))
    v2.write_text(json.dumps({"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}]}))
    breaking.write_text(json.dumps({"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"}, {"name": "c", "type": "string"}]}))
    first = as_json(kctl(env, "schemas", "register", subject, str(v1), "-o", "json"))
    assert first["version"] == 1 and first["type"] == "AVRO"
    assert as_json(kctl(env, "schemas", "check", subject, str(v2), "-o", "json"))["compatible"] is True
    check = kctl(env, "schemas", "check", subject, str(breaking), "-o", "json", ok=False)
    assert check.returncode == 8 and json.loads(check.stdout)["compatible"] is False
    assert any("/fields/c" in m for m in json.loads(check.stdout)["messages"])
    refused = kctl(env, "schemas", "register", subject, str(breaking), ok=False)
    assert refused.returncode == 8 and "incompatible" in refused.stderr
    kctl(env, "schemas", "register", subject, str(v2))
    rows = as_json(kctl(env, "schemas", "list", "--prefix", subject, "-o", "json"))
    assert rows == [{"subject": subject, "version": 2, "id": rows[0]["id"], "type": "AVRO", "versions": 2}]
    got = as_json(kctl(env, "schemas", "get", subject, "--version", "1", "-o", "json"))
    assert got["version"] == 1 and json.loads(got["schema"]) == json.loads(v1.read_text())
    assert "compatibility: BACKWARD" in kctl(env, "schemas", "get", subject).stdout
    assert [r["version"] for r in as_json(kctl(env, "schemas", "versions", subject, "-o", "json"))] == [1, 2]
    assert as_json(kctl(env, "schemas", "compatibility", subject, "--set", "full", "-o", "json"))[
        "compatibility"] == "FULL"
    assert as_json(kctl(env, "schemas", "mode", "-o", "json"))["mode"] == "READWRITE"
    assert as_json(kctl(env, "schemas", "delete", subject, "--version", "1", "-o", "json"))["versions"] == [1]
    assert as_json(kctl(env, "schemas", "delete", subject, "-o", "json"))["versions"] == [2]
    permanent = kctl(env, "schemas", "delete", subject, "--permanent", ok=False)
    assert permanent.returncode == 2 and "--yes" in permanent.stderr  # no terminal: refuses without --yes
    kctl(env, "schemas", "delete", subject, "--permanent", "--yes")
    missing = kctl(env, "schemas", "get", subject, ok=False)
    assert missing.returncode == 3 and "not found" in missing.stderr
    bad = tmp_path / "bad.proto"
    bad.write_text('syntax = "proto3"; message A { int32 a = 1 }')
    invalid = kctl(env, "schemas", "register", subject, str(bad), ok=False)
    assert invalid.returncode == 2 and "line 1:" in invalid.stderr


def test_without_a_registry_schema_commands_say_how_to_configure_one(tmp_path: Path,
                                                                     registry_broker: BrokerProcess) -> None:
    env = isolated_env(tmp_path, registry_broker.bootstrap)
    done = kctl(env, "schemas", "list", ok=False)
    assert done.returncode == 2 and "no schema registry is configured" in done.stderr
    assert "--schema-registry" in done.stderr
    gone = kctl(env, "--schema-registry", f"http://127.0.0.1:{free_port()}", "schemas", "list", ok=False)
    assert gone.returncode == 4 and "cannot reach the schema registry" in gone.stderr


def test_a_context_names_its_registry(tmp_path: Path, registry_broker: BrokerProcess) -> None:
    env = isolated_env(tmp_path, None)
    config = tmp_path / "config" / "kctl" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'current-context = "dev"\n[contexts.dev]\nbootstrap-servers = "{registry_broker.bootstrap}"\n'
                      f'schema-registry = {{ url = "{registry_broker.registry_url}", username = "ops", '
                      'password-env = "SR_PASSWORD" }\n')
    missing = kctl(env, "schemas", "list", ok=False)
    assert missing.returncode == 5 and "$SR_PASSWORD" in missing.stderr
    listed = kctl({**env, "SR_PASSWORD": "secret"}, "schemas", "list", "-o", "json")
    assert isinstance(json.loads(listed.stdout), list)
    shown = as_json(kctl(env, "config", "get-contexts", "-o", "json"))
    assert "secret" not in json.dumps(shown)


def test_the_built_in_broker_serves_a_registry_kctl_finds_by_itself(tmp_path: Path) -> None:
    port, registry = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCTL_", "XDG_"))}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "KCTL_LOCAL_LISTEN": f"127.0.0.1:{port}",
                "KCTL_LOCAL_DATA": str(tmp_path / "local"), "KCTL_LOCAL_SCHEMA_REGISTRY": f"127.0.0.1:{registry}"})
    schema = tmp_path / "order.avsc"
    schema.write_text(json.dumps(ORDER_AVRO))
    try:
        kctl(env, "topics", "create", "orders")
        kctl(env, "produce", "orders", "--value-schema", str(schema), stdin='{"id": 5, "price": "1.50"}\n')
        line = json.loads(kctl(env, "tail", "orders", "--from", "beginning", "-o", "jsonl").stdout)
        assert line["value"] == {"id": 5, "price": "1.50", "note": None}
        assert as_json(kctl(env, "broker", "status", "-o", "json"))["schema_registry"] == f"http://127.0.0.1:{registry}"
        assert [r["subject"] for r in as_json(kctl(env, "schemas", "list", "-o", "json"))] == ["orders-value"]
    finally:
        kctl(env, "broker", "stop")


def test_kafkajs_schema_registry_client_registers_and_decodes(env: dict[str, str], tmp_path: Path,
                                                              registry_broker: BrokerProcess) -> None:
    """@kafkajs/confluent-schema-registry (npm) against our registry, both ways with kctl."""
    import base64

    from tests.support.node_oracle import run

    topic = unique("kafkajs")
    kctl(env, "topics", "create", topic)
    avro_schema = {"type": "record", "name": "Item", "namespace": "shop",
                   "fields": [{"name": "id", "type": "int"}, {"name": "sku", "type": "string"}]}
    json_schema = {"type": "object", "properties": {"id": {"type": "integer"}, "sku": {"type": "string"}}}
    schema_file = tmp_path / "item.avsc"
    schema_file.write_text(json.dumps(avro_schema))
    kctl(env, "produce", topic, "--value-schema", str(schema_file), stdin='{"id": 1, "sku": "from-kctl"}\n')
    raw = json.loads(kctl(env, "tail", topic, "--from", "beginning", "--no-decode", "-o", "jsonl").stdout)
    ours = raw["value"] if raw.get("value_encoding") == "base64" else base64.b64encode(raw["value"].encode()).decode()

    answer = json.loads(run("registry_roundtrip.js", registry_broker.registry_url, topic, json.dumps(avro_schema),
                            json.dumps(json_schema), ours))
    assert answer["decoded"] == [{"id": 1, "sku": "from-kctl"}]  # kafkajs reads what kctl wrote
    assert answer["latest"] == answer["avroId"]
    # What kafkajs wrote, kctl decodes with the schemas kafkajs registered.
    records = "".join(json.dumps({"value": payload, "value_encoding": "base64"}) + "\n"
                      for payload in answer["encoded"])
    kctl(env, "produce", topic, "--jsonl", stdin=records)
    lines = [json.loads(line) for line in kctl(env, "tail", topic, "--from", "1", "-o", "jsonl").stdout.splitlines()]
    assert [line["value"] for line in lines] == [{"id": 42, "sku": "from-kafkajs"}, {"id": 43, "sku": "from-kafkajs"}]
    assert [line["value_schema_id"] for line in lines] == [answer["avroId"], answer["jsonId"]]
    assert base64.b64decode(answer["encoded"][0])[:1] == b"\x00"


def test_compatibility_and_mode_changes_are_journaled_and_undone_through_the_registry(
        env: dict[str, str], tmp_path: Path, registry_broker: BrokerProcess) -> None:
    import urllib.error
    import urllib.request

    subject = unique("journaled") + "-value"
    schema = tmp_path / "v1.avsc"
    schema.write_text(json.dumps({"type": "record", "name": "J", "fields": [{"name": "a", "type": "int"}]}))
    kctl(env, "schemas", "register", subject, str(schema))

    def own_level() -> str | None:  # the subject's own level, as Confluent's API tells it
        try:
            with urllib.request.urlopen(f"{registry_broker.registry_url}/config/{subject}") as answer:
                return str(json.load(answer)["compatibilityLevel"])
        except urllib.error.HTTPError as exc:
            assert json.load(exc)["error_code"] == 40408
            return None

    assert own_level() is None
    kctl(env, "schemas", "compatibility", subject, "--set", "full")
    kctl(env, "schemas", "compatibility", subject, "--set", "none")
    kctl(env, "schemas", "mode", "--set", "readonly")
    first, second, mode = as_json(kctl(env, "history", "-o", "json"))[-3:]
    assert [first["kind"], second["kind"], mode["kind"]] == ["schema-compatibility", "schema-compatibility",
                                                             "schema-mode"]
    assert first["cluster"] == registry_broker.registry_url and first["applied"] == "yes"
    assert (first["before"], first["after"], second["before"], second["after"]) == (None, "FULL", "FULL", "NONE")
    assert (mode["before"], mode["after"]) == ("READWRITE", "READONLY")
    assert f"compatibility of subject {subject}: (the registry default) -> FULL" == first["change"]

    # Elsewhere: a registry other than the one the change was made on is refused.
    other = kctl({**env, "KCTL_SCHEMA_REGISTRY": f"http://127.0.0.1:{free_port()}"}, "undo", mode["id"],
                 "--execute", ok=False)
    assert other.returncode == 8 and f"was made on registry {registry_broker.registry_url}" in other.stderr
    assert as_json(kctl(env, "schemas", "mode", "-o", "json"))["mode"] == "READONLY"

    preview = kctl(env, "undo", mode["id"], "-o", "json")
    assert [r["step"] for r in json.loads(preview.stdout)] == ["mode of the registry: back to READWRITE"]
    kctl(env, "undo", mode["id"], "--execute")
    assert as_json(kctl(env, "schemas", "mode", "-o", "json"))["mode"] == "READWRITE"
    kctl(env, "undo", second["id"], "--execute")
    assert own_level() == "FULL"
    steps = [r["step"] for r in json.loads(kctl(env, "undo", first["id"], "-o", "json").stdout)]
    assert steps == [f"compatibility of subject {subject}: remove its own (FULL); the registry's applies again"]
    kctl(env, "undo", first["id"], "--execute")
    assert own_level() is None
    assert as_json(kctl(env, "schemas", "compatibility", subject, "-o", "json"))["compatibility"] == "BACKWARD"
    undone = as_json(kctl(env, "history", "-o", "json"))[-3:]
    assert [u["undoes"] for u in undone] == [mode["id"], second["id"], first["id"]]
    assert all(u["cluster"] == registry_broker.registry_url for u in undone)
