"""Listeners with TLS: PLAINTEXT, SSL (client certificates required) and SASL_SSL on one broker.

Each listener advertises its own address; confluent-kafka, kcat, kctl and Kafka's Java client work
over SSL with a client certificate and over SASL_SSL with SCRAM; the principal comes from the
certificate's subject. Bad input on a TLS port (plaintext, a CA the client does not trust, an
expired client certificate, a handshake that stalls) closes that connection with one log line,
while other clients go on at full speed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.tls import TlsFiles, make_tls_files

from .conftest import BrokerProcess, free_port

USER, PASSWORD = "alice", "alice-secret"


class TlsBroker(BrokerProcess):
    def __init__(self, folder: Path) -> None:
        self.files = make_tls_files(folder / "certs")
        self.ssl_port, self.sasl_ssl_port = free_port(), free_port()
        super().__init__(folder / "data", {
            "listeners": f"PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:{self.ssl_port},"
                         f"SASL_SSL://127.0.0.1:{self.sasl_ssl_port}",
            "ssl.keystore.location": str(self.files.broker.both),
            "ssl.truststore.location": str(self.files.ca),
            "ssl.client.auth": "required",
            "ssl.handshake.timeout.ms": 1000,
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            f"sasl.users.{USER}": PASSWORD,
            "num.partitions": 1,
        })

    @property
    def ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ssl_port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_ssl_port}"

    def librdkafka(self, protocol: str = "SSL", identity: str = "alice") -> dict[str, Any]:
        files: TlsFiles = self.files
        who = getattr(files, identity)
        config: dict[str, Any] = {
            "bootstrap.servers": self.ssl_bootstrap if protocol == "SSL" else self.sasl_ssl_bootstrap,
            "security.protocol": protocol, "ssl.ca.location": str(files.ca),
            "ssl.certificate.location": str(who.cert), "ssl.key.location": str(who.key),
        }
        if protocol == "SASL_SSL":
            config.update({"sasl.mechanism": "SCRAM-SHA-512", "sasl.username": USER, "sasl.password": PASSWORD})
        return config


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    b = TlsBroker(tmp_path_factory.mktemp("tls"))
    b.start()
    yield b
    b.stop()


def _metadata_ports(config: dict[str, Any]) -> list[int]:
    from confluent_kafka.admin import AdminClient

    return [b.port for b in AdminClient(config).list_topics(timeout=10).brokers.values()]


def test_each_listener_advertises_its_own_address(tls_broker: TlsBroker) -> None:
    assert _metadata_ports({"bootstrap.servers": tls_broker.bootstrap}) == [tls_broker.port]
    assert _metadata_ports(tls_broker.librdkafka("SSL")) == [tls_broker.ssl_port]
    assert _metadata_ports(tls_broker.librdkafka("SASL_SSL")) == [tls_broker.sasl_ssl_port]


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_confluent_kafka_produces_and_consumes_over_tls(tls_broker: TlsBroker, protocol: str) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = f"tls-{protocol.lower()}"
    producer = Producer(tls_broker.librdkafka(protocol))
    for i in range(1000):
        producer.produce(topic, value=b"x" * 5000 + str(i).encode(), key=str(i).encode())
    assert producer.flush(30) == 0
    consumer = Consumer({**tls_broker.librdkafka(protocol), "group.id": f"g-{protocol}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    keys = []
    deadline = time.monotonic() + 30
    while len(keys) < 1000 and time.monotonic() < deadline:
        keys += [m.key() for m in consumer.consume(500, 1) if m.error() is None]
    consumer.close()
    assert keys == [str(i).encode() for i in range(1000)]


def test_kcat_lists_metadata_over_ssl_with_a_client_certificate(tls_broker: TlsBroker) -> None:
    files = tls_broker.files
    done = subprocess.run(["kcat", "-b", tls_broker.ssl_bootstrap, "-L", "-J", "-X", "security.protocol=ssl",
                           "-X", f"ssl.ca.location={files.ca}", "-X", f"ssl.certificate.location={files.alice.cert}",
                           "-X", f"ssl.key.location={files.alice.key}"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert [b["name"] for b in json.loads(done.stdout)["brokers"]] == [tls_broker.ssl_bootstrap]


def test_kctl_context_over_ssl_with_a_client_certificate(tls_broker: TlsBroker, tmp_path: Path) -> None:
    files = tls_broker.files
    config = tmp_path / "kctl.toml"
    config.write_text(f'current-context = "tls"\n[contexts.tls]\nbootstrap-servers = "{tls_broker.ssl_bootstrap}"\n'
                      f'tls = {{ ca-file = "{files.ca}", cert-file = "{files.alice.cert}", '
                      f'key-file = "{files.alice.key}" }}\n')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KCTL_")}, "KCTL_CONFIG": str(config)}

    def kctl(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "kctl", *args], env=env, input=stdin, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    kctl("topics", "create", "over-tls")
    kctl("produce", "over-tls", stdin="one\ntwo\n")
    lines = kctl("tail", "over-tls", "--from", "beginning", "-o", "jsonl").splitlines()
    assert [json.loads(line)["value"] for line in lines] == ["one", "two"]


def test_the_java_client_over_ssl_and_sasl_ssl(tls_broker: TlsBroker, tmp_path: Path) -> None:
    from tests.support.apache_kafka import require_jars, run_tool

    require_jars()
    files = tls_broker.files
    common = ("ssl.truststore.type=PEM\n"
              f"ssl.truststore.location={files.ca}\nssl.keystore.type=PEM\nssl.keystore.location={files.alice.both}\n"
              "ssl.endpoint.identification.algorithm=\n")
    ssl_props, sasl_props = tmp_path / "ssl.properties", tmp_path / "sasl-ssl.properties"
    ssl_props.write_text("security.protocol=SSL\n" + common)
    sasl_props.write_text("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
                          "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                          f'username="{USER}" password="{PASSWORD}";\n' + common)
    for name, bootstrap, props in (("ssl", tls_broker.ssl_bootstrap, ssl_props),
                                   ("sasl-ssl", tls_broker.sasl_ssl_bootstrap, sasl_props)):
        topic = f"java-{name}"
        run_tool("console-producer", "--bootstrap-server", bootstrap, "--topic", topic, "--command-config",
                 str(props), input="".join(f"record-{i}\n" for i in range(20)))
        read = run_tool("console-consumer", "--bootstrap-server", bootstrap, "--topic", topic, "--from-beginning",
                        "--max-messages", "20", "--timeout-ms", "20000", "--command-config", str(props)).stdout
        assert read.split() == [f"record-{i}" for i in range(20)]


async def test_the_principal_is_the_certificates_subject(tmp_path: Path) -> None:
    """The broker's TLS (in process): the connection is told `User:` and the subject, RFC 2253."""
    from broker.tls import TlsAcceptor

    files = make_tls_files(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.broker.both)
    server.load_verify_locations(files.ca)
    server.verify_mode = ssl.CERT_REQUIRED
    told: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    class Echo(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(1024)

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def get_buffer(self, sizehint: int) -> memoryview:
            return memoryview(self.buffer)

        def buffer_updated(self, nbytes: int) -> None:
            self.transport.write(bytes(self.buffer[:nbytes]).upper())

    def made(principal: str | None) -> Echo:
        told.set_result(principal)
        return Echo()

    listener = await asyncio.get_running_loop().create_server(
        lambda: TlsAcceptor(server, "SSL", 5, made), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = ssl.create_default_context(cafile=str(files.ca))
    client.load_cert_chain(files.alice.cert, files.alice.key)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"HELLO"
    assert await told == "User:CN=alice,OU=ops,O=kctl"
    writer.close()
    listener.close()


def _refused_lines(broker: TlsBroker, port: int) -> list[str]:
    return [line for line in broker.log().splitlines() if f"127.0.0.1:{port} on SSL" in line]


def _wait_closed(sock: socket.socket, seconds: float = 5.0) -> None:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, TimeoutError, ssl.SSLError):
        pass


def test_bad_input_on_a_tls_port_closes_that_connection_with_one_log_line(tls_broker: TlsBroker) -> None:
    files = tls_broker.files
    cases: dict[str, tuple[int, str]] = {}
    # A plaintext client: an ApiVersions request where the ClientHello should be.
    plain = socket.create_connection(("127.0.0.1", tls_broker.ssl_port))
    plain.sendall(b"\x00\x00\x00\x0f\x00\x12\x00\x03\x00\x00\x00\x01\x00\x03kcl\x00")
    cases["plaintext"] = (plain.getsockname()[1], "wrong version number")
    _wait_closed(plain)
    # A client that does not trust the broker's CA: it aborts, the broker hears why.
    distrust = ssl.create_default_context(cafile=str(files.stranger_ca))
    raw = socket.create_connection(("127.0.0.1", tls_broker.ssl_port))
    cases["unknown CA"] = (raw.getsockname()[1], "unknown ca")
    with pytest.raises(ssl.SSLCertVerificationError):
        distrust.wrap_socket(raw, server_hostname="127.0.0.1")
    raw.close()
    # An expired client certificate.
    expired = ssl.create_default_context(cafile=str(files.ca))
    expired.load_cert_chain(files.expired.cert, files.expired.key)
    raw = socket.create_connection(("127.0.0.1", tls_broker.ssl_port))
    cases["expired"] = (raw.getsockname()[1], "certificate has expired")
    try:
        wrapped = expired.wrap_socket(raw, server_hostname="127.0.0.1")
        _wait_closed(wrapped)  # TLS 1.3: the client hears the refusal on its first read
    except ssl.SSLError:
        pass
    raw.close()
    # A handshake that stalls: connected, nothing sent.
    stalled = socket.create_connection(("127.0.0.1", tls_broker.ssl_port))
    cases["stalled"] = (stalled.getsockname()[1], "no TLS handshake within 1s")
    started = time.monotonic()
    _wait_closed(stalled)
    assert time.monotonic() - started < 3
    time.sleep(0.2)
    for name, (port, reason) in cases.items():
        lines = _refused_lines(tls_broker, port)
        assert len(lines) == 1, (name, lines)
        assert reason in lines[0], (name, lines[0])


def test_stalled_handshakes_do_not_slow_other_clients(tls_broker: TlsBroker) -> None:
    from confluent_kafka import Producer

    producer = Producer({**tls_broker.librdkafka("SSL"), "linger.ms": 0})

    def round_trips(count: int) -> list[float]:
        times = []
        for i in range(count):
            started = time.perf_counter()
            producer.produce("tls-latency", value=str(i).encode())
            producer.flush(10)
            times.append(time.perf_counter() - started)
        return times

    round_trips(20)
    quiet = statistics.median(round_trips(100))
    stalled = [socket.create_connection(("127.0.0.1", tls_broker.ssl_port)) for _ in range(50)]
    for sock in stalled[:25]:
        sock.sendall(b"\x16\x03\x01\x00")  # the start of a ClientHello that never finishes
    try:
        busy = statistics.median(round_trips(100))
    finally:
        for sock in stalled:
            sock.close()
    assert busy < max(3 * quiet, quiet + 0.005), (quiet, busy)
