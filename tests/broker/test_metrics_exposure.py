"""/metrics under attack: series only for topics that exist and requests that were allowed, and
HTTP basic auth with the broker's users when the broker is secured."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from pathlib import Path

from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Record, encode_batch

from .conftest import BrokerProcess, free_port
from .rawclient import RawClient
from .test_server import create


def scrape(port: int, who: tuple[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if who is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{who[0]}:{who[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_made_up_topic_names_never_become_series(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", metrics_port=free_port()).start()
    client = RawClient(broker.bootstrap)
    try:
        create(client, "real")
        batch = encode_batch([Record(b"k", b"v")])
        client.call(ProduceRequest(acks=-1, timeout_ms=5000, topic_data=[
            TopicProduceData("real", [PartitionProduceData(0, batch)])]), 9)
        before = len(scrape(broker.metrics_port)[1])  # type: ignore[arg-type]
        for i in range(500):  # 20,000 topics no one created
            client.call(ProduceRequest(acks=-1, timeout_ms=5000, topic_data=[
                TopicProduceData(f"made-up-{i}-{j}", [PartitionProduceData(0, batch)]) for j in range(40)]), 9)
        status, text = scrape(broker.metrics_port)  # type: ignore[arg-type]
        assert status == 200 and "made-up" not in text
        assert 'kctl_broker_topic_bytes_in_total{topic="real"}' in text
        assert len(text) - before < 5000, f"/metrics grew by {len(text) - before} bytes"
    finally:
        client.close()
        broker.stop()


def test_denied_produces_never_become_series(tmp_path: Path) -> None:
    from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
    from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest

    broker = BrokerProcess(tmp_path / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "PLAIN",
        "sasl.users.admin": "admin-secret", "sasl.users.alice": "alice-secret",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin"}, metrics_port=free_port()).start()
    try:
        admin = RawClient(broker.bootstrap)
        admin.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
        admin.call(SaslAuthenticateRequest(auth_bytes=b"\0admin\0admin-secret"), 2)
        create(admin, "guarded")
        admin.close()
        alice = RawClient(broker.bootstrap)
        alice.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
        alice.call(SaslAuthenticateRequest(auth_bytes=b"\0alice\0alice-secret"), 2)
        batch = encode_batch([Record(b"k", b"v")])
        for i in range(200):
            answer = alice.call(ProduceRequest(acks=-1, timeout_ms=5000, topic_data=[
                TopicProduceData(name, [PartitionProduceData(0, batch)]) for name in ("guarded", f"nope-{i}")]), 9)
            assert {p.error_code for t in answer.responses for p in t.partition_responses} == {29}  # denied
        alice.close()
        status, text = scrape(broker.metrics_port, ("alice", "alice-secret"))  # type: ignore[arg-type]
        assert status == 200
        assert "nope-" not in text and 'topic="guarded"' not in text  # nothing was written
        assert scrape(broker.metrics_port)[0] == 401  # type: ignore[arg-type]
        assert scrape(broker.metrics_port, ("alice", "wrong"))[0] == 401  # type: ignore[arg-type]
    finally:
        broker.stop()


def test_metrics_authentication_can_be_turned_off(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "PLAIN",
        "sasl.users.alice": "alice-secret", "metrics.authentication": "none"}, metrics_port=free_port()).start()
    try:
        assert scrape(broker.metrics_port)[0] == 200  # type: ignore[arg-type]
    finally:
        broker.stop()
