"""No one client can make the broker run out of memory or keep others waiting: frame sizes before
and after authentication, clients that stop reading their answers, failed logins, connection
counts and idle connections. Real sockets against a real broker process; memory read from /proc."""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.create_topics import CreatableTopic, CreateTopicsRequest
from kctl.protocol.messages.metadata import MetadataRequest
from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest

from .conftest import BrokerProcess
from .rawclient import RawClient

USER, PASSWORD = "alice", "secret"


def rss_mb(broker: BrokerProcess) -> float:
    assert broker.proc is not None
    status = Path(f"/proc/{broker.proc.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def closed_by_peer(sock: socket.socket, within: float = 5) -> bool:
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def metadata_round_trip(bootstrap: str) -> float:
    started = time.monotonic()
    client = RawClient(bootstrap, timeout=60)
    try:
        client.call(MetadataRequest(topics=[]), 9)
    finally:
        client.close()
    return time.monotonic() - started


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "PLAIN",
        f"sasl.users.{USER}": PASSWORD}).start()
    yield b
    b.stop()


def test_frames_before_authentication_are_capped_at_512_kb(sasl_broker: BrokerProcess) -> None:
    before = rss_mb(sasl_broker)
    socks = []
    for _ in range(30):
        sock = socket.create_connection(("127.0.0.1", sasl_broker.port))
        sock.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\0" * 1000)  # claims 100 MB
        socks.append(sock)
    assert all(closed_by_peer(sock) for sock in socks)  # refused at the length prefix
    small = socket.create_connection(("127.0.0.1", sasl_broker.port))
    small.sendall(struct.pack(">i", 600 * 1024))  # just over 512 KB: refused too
    assert closed_by_peer(small)
    assert rss_mb(sasl_broker) - before < 50
    for sock in [*socks, small]:
        sock.close()


def test_a_claimed_frame_size_costs_only_the_bytes_that_arrive(broker: BrokerProcess) -> None:
    before = rss_mb(broker)
    socks = []
    for _ in range(30):
        sock = socket.create_connection(("127.0.0.1", broker.port))
        sock.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\0" * 1000)
        socks.append(sock)
    time.sleep(1)
    assert rss_mb(broker) - before < 100, f"{rss_mb(broker) - before:.0f} MB for 30 claims of 100 MB"
    assert metadata_round_trip(broker.bootstrap) < 2
    for sock in socks:
        sock.close()


def sasl_plain(client: RawClient, password: str) -> int:
    assert client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1).error_code == 0
    token = b"\0" + USER.encode() + b"\0" + password.encode()
    return int(client.call(SaslAuthenticateRequest(auth_bytes=token), 2).error_code)


def test_a_failed_login_closes_the_connection(sasl_broker: BrokerProcess) -> None:
    client = RawClient(sasl_broker.bootstrap)
    assert sasl_plain(client, "wrong") == ErrorCode.SASL_AUTHENTICATION_FAILED.code
    started = time.monotonic()
    assert closed_by_peer(client.sock)  # no second guess on the same connection
    assert time.monotonic() - started >= 0.05  # after connection.failed.authentication.delay.ms (100 ms)
    client.close()
    good = RawClient(sasl_broker.bootstrap)
    assert sasl_plain(good, PASSWORD) == 0
    assert good.call(MetadataRequest(topics=[]), 9) is not None
    good.close()
    assert "WARN" not in sasl_broker.log().split("failed:")[-1][:200]  # said at INFO, as Kafka does


def test_a_client_that_never_reads_its_answers_is_muted(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data").start()
    try:
        setup = RawClient(broker.bootstrap)
        topics = [CreatableTopic(name=f"t{i:03d}-" + "x" * 150, num_partitions=10, replication_factor=1)
                  for i in range(100)]
        assert all(t.error_code == 0 for t in setup.call(CreateTopicsRequest(topics=topics, timeout_ms=30000),
                                                         7).topics)
        setup.close()
        before = rss_mb(broker)
        hog = RawClient(broker.bootstrap)
        hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.sock.setblocking(False)
        request = hog.conn.send_request(MetadataRequest(topics=None), 9)[1]  # every topic: a ~100 KB answer
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # thousands of requests, no answer read
            try:
                sent += hog.sock.send(request * 50)
            except BlockingIOError:
                time.sleep(0.01)
        assert sent > 100 * len(request)
        assert metadata_round_trip(broker.bootstrap) < 2  # others are served meanwhile (it was 32 s)
        grown = rss_mb(broker) - before
        assert grown < 60, f"RSS grew {grown:.0f} MB for a client that reads nothing"
        hog.close()
        assert metadata_round_trip(broker.bootstrap) < 2
    finally:
        assert broker.stop() == 0, broker.log()


def test_connection_limits_and_idle_connections(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {"max.connections.per.ip": 3, "max.connections": 10,
                                               "connections.max.idle.ms": 800}).start()
    try:
        held = [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(3)]
        extra = socket.create_connection(("127.0.0.1", broker.port))
        assert closed_by_peer(extra, within=2)
        assert "max.connections.per.ip (3) reached" in broker.log()
        held[0].close()
        time.sleep(0.2)
        again = RawClient(broker.bootstrap)
        assert again.call(MetadataRequest(topics=[]), 9) is not None
        # Idle ones close after connections.max.idle.ms; the busy one stays open.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            again.call(MetadataRequest(topics=[]), 9)
            time.sleep(0.1)
        assert all(closed_by_peer(sock, within=0.5) for sock in held[1:])
        assert again.call(MetadataRequest(topics=[]), 9) is not None
        again.close()
    finally:
        assert broker.stop() == 0, broker.log()
    broker = BrokerProcess(tmp_path / "data2", {"max.connections": 2}).start()
    try:
        held = [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(2)]
        time.sleep(0.2)
        assert closed_by_peer(socket.create_connection(("127.0.0.1", broker.port)), within=2)
        assert "max.connections (2) reached" in broker.log()
        for sock in held:
            sock.close()
    finally:
        assert broker.stop() == 0, broker.log()


def test_a_huge_create_topics_does_not_stall_other_clients(broker: BrokerProcess) -> None:
    import threading

    from kctl.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicState

    big = RawClient(broker.bootstrap, timeout=120)
    results: list[object] = []
    creating = threading.Thread(target=lambda: results.append(big.call(CreateTopicsRequest(topics=[
        CreatableTopic(name="huge", num_partitions=100_000, replication_factor=1)], timeout_ms=60000), 7)))
    creating.start()
    slowest = 0.0
    while creating.is_alive():
        slowest = max(slowest, metadata_round_trip(broker.bootstrap))
    creating.join()
    assert results[0].topics[0].error_code == 0  # type: ignore[attr-defined]
    assert slowest < 3, f"another client waited {slowest:.1f}s"  # it was 5 minutes
    deleted = big.call(DeleteTopicsRequest(topics=[DeleteTopicState(name="huge")], timeout_ms=60000), 6)
    assert deleted.responses[0].error_code == 0
    assert metadata_round_trip(broker.bootstrap) < 3
    big.close()


def test_a_restart_after_a_crash_during_a_big_deletion_listens_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    broker = BrokerProcess(data).start()
    broker.kill()
    for i in range(30_000):  # what a crash half-way through deleting a big topic leaves
        (data / f"gone-{i}").mkdir()
        (data / f"gone-{i}" / "00000000000000000000.log").write_bytes(b"")
    started = time.monotonic()
    broker.start(timeout=60)
    assert time.monotonic() - started < 10
    assert metadata_round_trip(broker.bootstrap) < 1.5
    deadline = time.monotonic() + 60
    while any(p.name.startswith("gone-") for p in data.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(p.name.startswith("gone-") for p in data.iterdir())
    log = broker.log()
    assert log.count("gone-") == 0, "one summary line, not one per directory"
    assert "30000 partition directories belong to no topic" in log
    assert re.search(r"removed 30000 directories of deleted topics", log)
    assert broker.stop() == 0
