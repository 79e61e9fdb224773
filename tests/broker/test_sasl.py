"""SASL PLAIN and SCRAM-SHA-256/512: the sans-IO exchanges against RFC 7677's example, then a broker
with SASL on, used by librdkafka (confluent-kafka and kcat), kafka-python, kctl's client and the CLI."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.protocol.sasl import PlainClient, PlainServer, SaslError, ScramClient, ScramCredential, ScramServer

from .conftest import BrokerProcess

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
USER, PASSWORD = "alice", "wonder land"


# ---- the exchanges, no sockets --------------------------------------------------------------------------
def test_scram_sha_256_matches_rfc_7677() -> None:
    """RFC 7677 section 3: user "user", password "pencil", both nonces and the salt fixed."""
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert client.first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    final = client.next(server_first)
    assert final == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert client.next(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") is None
    # The same exchange from the server's side.
    credential = ScramCredential.derive("SCRAM-SHA-256", "pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    server = ScramServer("SCRAM-SHA-256", {"user": credential}, nonce="%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    assert server.respond(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == server_first
    assert server.respond(final) == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert server.done and server.user == "user"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_refuses_a_wrong_password_and_a_server_that_cannot_prove_itself(mechanism: str) -> None:
    credentials = {USER: ScramCredential.derive(mechanism, PASSWORD)}
    client, server = ScramClient(mechanism, USER, "wrong"), ScramServer(mechanism, credentials)
    final = client.next(server.respond(client.first()))
    assert final is not None
    with pytest.raises(SaslError, match="authentication failed"):
        server.respond(final)
    client, server = ScramClient(mechanism, USER, PASSWORD), ScramServer(mechanism, credentials)
    final = client.next(server.respond(client.first()))
    assert final is not None
    with pytest.raises(SaslError, match="prove"):
        client.next(b"v=" + base64.b64encode(b"x" * 32))
    assert not server.done


def test_plain_checks_the_password() -> None:
    server = PlainServer({USER: PASSWORD})
    assert server.respond(PlainClient(USER, PASSWORD).first()) == b"" and server.user == USER
    with pytest.raises(SaslError):
        PlainServer({USER: PASSWORD}).respond(PlainClient(USER, "nope").first())
    with pytest.raises(SaslError, match="malformed"):
        PlainServer({USER: PASSWORD}).respond(b"no separators")


# ---- a broker that asks for SASL ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("sasl") / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": ",".join(MECHANISMS), f"sasl.users.{USER}": PASSWORD, "num.partitions": 1,
    }).start()
    yield b
    b.stop()


def librdkafka_config(bootstrap: str, mechanism: str, password: str = PASSWORD) -> dict[str, object]:
    return {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
            "sasl.username": USER, "sasl.password": password}


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_confluent_kafka_produces_and_consumes_with_each_mechanism(sasl_broker: BrokerProcess, mechanism: str) -> None:
    ck = pytest.importorskip("confluent_kafka")
    topic = f"sasl-{mechanism.lower()}"
    producer = ck.Producer(librdkafka_config(sasl_broker.bootstrap, mechanism))
    for i in range(10):
        producer.produce(topic, f"record {i}".encode())
    assert producer.flush(20) == 0
    consumer = ck.Consumer({**librdkafka_config(sasl_broker.bootstrap, mechanism), "group.id": f"g-{mechanism}",
                            "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    seen: list[bytes] = []
    for _ in range(100):
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            seen.append(m.value())
        if len(seen) == 10:
            break
    consumer.close()
    assert seen == [f"record {i}".encode() for i in range(10)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_a_wrong_password_is_refused(sasl_broker: BrokerProcess, mechanism: str) -> None:
    ck = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(librdkafka_config(sasl_broker.bootstrap, mechanism, "wrong"))
    with pytest.raises(ck.KafkaException):
        admin.list_topics(timeout=3)
    assert f"SASL {mechanism} from" in sasl_broker.log() and "authentication failed for user 'alice'" in \
        sasl_broker.log()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (apt-get install kcat)")
def test_kcat_lists_metadata_over_scram(sasl_broker: BrokerProcess) -> None:
    done = subprocess.run(["kcat", "-b", sasl_broker.bootstrap, "-L", "-J", "-X", "security.protocol=SASL_PLAINTEXT",
                           "-X", "sasl.mechanism=SCRAM-SHA-256", "-X", f"sasl.username={USER}",
                           "-X", f"sasl.password={PASSWORD}"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["brokers"][0]["id"] == 0


def test_kafka_python_authenticates_with_scram(sasl_broker: BrokerProcess) -> None:
    kafka = pytest.importorskip("kafka")
    admin = kafka.KafkaAdminClient(bootstrap_servers=sasl_broker.bootstrap, security_protocol="SASL_PLAINTEXT",
                                   sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=USER,
                                   sasl_plain_password=PASSWORD, request_timeout_ms=10_000)
    try:
        admin.create_topics([kafka.admin.NewTopic("from-kafka-python", 2, 1)])
        assert "from-kafka-python" in admin.list_topics()
    finally:
        admin.close()


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_our_client_authenticates_and_a_wrong_password_or_none_is_refused(sasl_broker: BrokerProcess,
                                                                                 mechanism: str) -> None:
    from kctl.client import Admin, Cluster, KafkaError
    from kctl.client.sasl import SaslAuthenticator
    from kctl.protocol.errors import ErrorCode

    async with Cluster(sasl_broker.bootstrap, authenticator=SaslAuthenticator(mechanism, USER, PASSWORD)) as cluster:
        _, _, brokers = await Admin(cluster).describe_cluster()
        assert [b.node_id for b in brokers] == [0]
    wrong = Cluster(sasl_broker.bootstrap, authenticator=SaslAuthenticator(mechanism, USER, "wrong"),
                    request_timeout_s=5)
    with pytest.raises(KafkaError) as refused:
        await wrong.start()
    await wrong.close()
    assert "refused" in str(refused.value) or refused.value.code is ErrorCode.SASL_AUTHENTICATION_FAILED
    anonymous = Cluster(sasl_broker.bootstrap, request_timeout_s=5, connect_timeout_s=5)
    with pytest.raises(KafkaError):  # the broker closes a connection that skips SASL
        await anonymous.start()
    await anonymous.close()


def test_cli_context_with_scram_and_a_password_from_the_environment(sasl_broker: BrokerProcess,
                                                                     tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    env = {**os.environ, "KCTL_CONFIG": str(config), "KAFKA_PASSWORD": PASSWORD}
    kctl = [sys.executable, "-m", "kctl"]
    subprocess.run([*kctl, "config", "set-context", "secure", "-b", sasl_broker.bootstrap, "--sasl-mechanism",
                    "scram-sha-512", "--sasl-username", USER, "--sasl-password-env", "KAFKA_PASSWORD"],
                   env=env, check=True, capture_output=True)
    assert PASSWORD not in config.read_text()  # the file names the variable, not the password
    done = subprocess.run([*kctl, "--context", "secure", "topics", "create", "from-cli", "-p", "2"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([*kctl, "--context", "secure", "topics", "list", "-o", "json"], env=env,
                            capture_output=True, text=True)
    assert {"name": "from-cli", "partitions": 2}.items() <= next(
        t for t in json.loads(listed.stdout) if t["name"] == "from-cli").items()
    missing = {k: v for k, v in env.items() if k != "KAFKA_PASSWORD"}
    done = subprocess.run([*kctl, "--context", "secure", "topics", "list"], env=missing, capture_output=True,
                          text=True)
    assert done.returncode == 5 and "$KAFKA_PASSWORD is not set" in done.stderr
    wrong = {**env, "KAFKA_PASSWORD": "wrong"}
    done = subprocess.run([*kctl, "--context", "secure", "--timeout", "5", "topics", "list"], env=wrong,
                          capture_output=True, text=True)
    assert done.returncode == 5, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # one line and a hint


def test_sasl_without_users_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text('listeners = "SASL_PLAINTEXT://127.0.0.1:0"\n"sasl.enabled.mechanisms" = "PLAIN"\n')
    done = subprocess.run([sys.executable, "-m", "broker", "--data-dir", str(tmp_path / "data"), "--listen",
                           "127.0.0.1:0", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "names nobody" in done.stderr
