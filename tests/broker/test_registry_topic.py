"""The registry's own topic, `_schemas`, as an attacker or old data leaves it: unreadable
batches and records are logged, counted and skipped, and the broker starts; a `_schemas` made
with cleanup.policy=delete is put right to compact."""

from __future__ import annotations

import json
from pathlib import Path

from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Record, encode_batch

from .conftest import BrokerProcess, free_port
from .poison import garbage_gzip
from .rawclient import RawClient
from .test_metrics_exposure import scrape
from .test_schema_registry import V1, Registry
from .test_server import create


def test_garbage_in_schemas_is_skipped_and_counted_and_the_broker_starts(tmp_path: Path) -> None:
    port = free_port()
    broker = BrokerProcess(tmp_path / "data", registry_port=port, metrics_port=free_port()).start()
    registry = Registry(broker.registry_url)
    first = registry.ok("POST", "/subjects/orders-value/versions", V1)["id"]
    client = RawClient(broker.bootstrap)
    junk = encode_batch([Record(b"{not json", b"{}"), Record(json.dumps({"keytype": "SCHEMA"}).encode(), b"[]")])
    answer = client.call(ProduceRequest(acks=-1, timeout_ms=5000, topic_data=[
        TopicProduceData("_schemas", [PartitionProduceData(0, junk)])]), 9)
    assert answer.responses[0].partition_responses[0].error_code == 0  # valid batches of records it cannot use
    client.close()
    assert broker.stop() == 0
    # A batch that cannot be read at all, as old data or bit rot leaves one.
    segment = max((tmp_path / "data" / "_schemas-0").glob("*.log"))
    poison = bytearray(garbage_gzip())
    poison[0:8] = (3).to_bytes(8, "big")  # after the schema (offset 0) and the two junk records
    with open(segment, "ab") as f:
        f.write(poison)
    broker.start()
    assert Registry(broker.registry_url).ok("GET", "/subjects") == ["orders-value"]
    assert Registry(broker.registry_url).ok("GET", f"/schemas/ids/{first}")["schema"]
    log = broker.log()
    assert "3 record(s) could not be read and were skipped" in log
    assert "kctl_broker_registry_skipped_records 3.0" in scrape(broker.metrics_port)[1]  # type: ignore[arg-type]
    assert "CorruptRecordError" not in log and "Traceback" not in log
    second = Registry(broker.registry_url).ok("POST", "/subjects/more-value/versions", V1)
    assert second["id"] == first  # the same schema, the same id
    assert broker.stop() == 0


def test_a_schemas_topic_made_with_delete_is_set_to_compact(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data").start()  # no registry yet
    client = RawClient(broker.bootstrap)
    create(client, "_schemas", cleanup_policy="delete")
    client.close()
    assert broker.stop() == 0
    broker.registry_port = free_port()
    broker.start()
    Registry(broker.registry_url).ok("POST", "/subjects/orders-value/versions", V1)
    assert "_schemas has cleanup.policy=delete; setting it to compact" in broker.log()
    topics = json.loads((tmp_path / "data" / "topics.json").read_text())
    assert topics["topics"]["_schemas"]["configs"]["cleanup.policy"] == "compact"
    assert broker.stop() == 0
