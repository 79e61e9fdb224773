"""Connections and the cluster view, over real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from kctl.client import Cluster, ConnectionFailed, KafkaError, NoBrokersAvailable, RequestTimedOut
from kctl.client.cluster import parse_bootstrap
from kctl.client.connection import TRANSITIONS, BrokerConnection, ConnectionConfig, ConnectionState
from kctl.protocol.messages.api_versions import ApiVersionsRequest
from kctl.protocol.messages.metadata import MetadataRequest
from tests.broker.conftest import BrokerProcess

from .conftest import TansuProcess


async def test_versions_are_negotiated_per_connection(any_broker: BrokerProcess | TansuProcess) -> None:
    host, port = any_broker.bootstrap.split(":")
    connection = await BrokerConnection.open(host, int(port), ConnectionConfig())
    try:
        assert connection.state is ConnectionState.READY
        for key, version in connection.versions.items():
            low, high = connection.broker_versions[key]
            assert low <= version <= high  # within what the broker offers, and the highest both speak
        capped = await BrokerConnection.open(host, int(port), ConnectionConfig(version_caps={3: 5}))
        assert capped.versions[3] == 5
        response = await capped.request(MetadataRequest(topics=[]))
        assert response.brokers
        capped.close()
    finally:
        connection.close()


async def test_requests_are_pipelined_on_one_connection(kctl_broker: BrokerProcess) -> None:
    host, port = kctl_broker.bootstrap.split(":")
    connection = await BrokerConnection.open(host, int(port), ConnectionConfig())
    try:
        futures = [connection.send(ApiVersionsRequest(client_software_name="kctl", client_software_version=str(i)))
                   for i in range(50)]
        assert connection.in_flight == 50  # all written before any answer came back
        responses = await asyncio.gather(*futures)
        assert all(r.error_code == 0 for r in responses)
    finally:
        connection.close()


async def test_a_silent_broker_times_out_and_names_its_address() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        with pytest.raises(RequestTimedOut, match=f"127.0.0.1:{port}"):
            await BrokerConnection.open("127.0.0.1", port, ConnectionConfig(request_timeout_s=0.3))
    finally:
        listener.close()


async def test_no_bootstrap_server_answering_is_one_clear_error() -> None:
    dead = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead.append(s.getsockname()[1])
        s.close()
    cluster = Cluster(f"127.0.0.1:{dead[0]},127.0.0.1:{dead[1]}", connect_timeout_s=1)
    with pytest.raises(NoBrokersAvailable) as caught:
        await cluster.start()
    message = str(caught.value)
    assert f"127.0.0.1:{dead[0]}" in message and f"127.0.0.1:{dead[1]}" in message
    assert "refused" in message.lower()


def test_bootstrap_lists_are_parsed_with_default_ports_and_ipv6() -> None:
    assert parse_bootstrap("a:1, b ,[::1]:3,[fe80::1]") == [("a", 1), ("b", 9092), ("::1", 3), ("fe80::1", 9092)]
    with pytest.raises(KafkaError, match="port"):
        parse_bootstrap("host:http")
    with pytest.raises(KafkaError):
        parse_bootstrap(" , ")


async def test_reconnects_after_the_broker_restarts(tmp_path: object) -> None:
    from pathlib import Path

    broker = BrokerProcess(Path(str(tmp_path)) / "data").start()
    try:
        async with Cluster(broker.bootstrap, reconnect_backoff_max_s=0.2) as cluster:
            first = await cluster.connection(0)
            broker.stop()
            await asyncio.sleep(0.2)
            assert first.closed
            with pytest.raises(ConnectionFailed, match=broker.bootstrap):
                await cluster.connection(0)
            broker.start()
            response = await cluster.retry(lambda: cluster.send(0, MetadataRequest(topics=[])), timeout_s=10)
            assert response.brokers[0].port == broker.port
    finally:
        broker.stop()


async def test_authenticator_hook_runs_after_negotiation(kctl_broker: BrokerProcess) -> None:
    seen: list[tuple[ConnectionState, int]] = []

    class Recording:
        async def authenticate(self, connection: BrokerConnection) -> None:
            seen.append((connection.state, connection.versions[18]))

    class Refusing:
        async def authenticate(self, connection: BrokerConnection) -> None:
            raise KafkaError("bad credentials")

    host, port = kctl_broker.bootstrap.split(":")
    connection = await BrokerConnection.open(host, int(port), ConnectionConfig(authenticator=Recording()))
    connection.close()
    assert seen == [(ConnectionState.AUTHENTICATING, 4)]
    with pytest.raises(KafkaError, match="bad credentials"):
        await BrokerConnection.open(host, int(port), ConnectionConfig(authenticator=Refusing()))


def test_connection_states_form_one_table() -> None:
    assert set(TRANSITIONS) == set(ConnectionState)
    connection = BrokerConnection("h", 1, ConnectionConfig())
    from kctl.client.connection import IllegalConnectionTransition

    with pytest.raises(IllegalConnectionTransition):
        connection._move(ConnectionState.READY)  # must negotiate first
    connection.close()
    assert connection.state is ConnectionState.CLOSED
    with pytest.raises(ConnectionFailed):
        connection.send(MetadataRequest(topics=[]))


async def test_tls_hook_carries_the_protocol_through_tls(kctl_broker: BrokerProcess) -> None:
    """A TLS-terminating relay in front of the broker: the client's ssl_context does the rest."""
    import ssl

    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    host, port = kctl_broker.bootstrap.split(":")

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=server_context)
    tls_port = server.sockets[0].getsockname()[1]
    try:
        connection = await BrokerConnection.open("localhost", tls_port, ConnectionConfig(ssl_context=client_context))
        response = await connection.request(MetadataRequest(topics=[]))
        assert response.brokers and connection.versions[3] >= 1
        connection.close()
        untrusting = ConnectionConfig(ssl_context=ssl.create_default_context())
        with pytest.raises(ConnectionFailed, match=f"localhost:{tls_port}"):  # a client that does not trust it
            await BrokerConnection.open("localhost", tls_port, untrusting)
    finally:
        server.close()
        await server.wait_closed()


async def test_retry_refreshes_stale_metadata_and_respects_the_deadline(cluster: Cluster) -> None:
    from kctl.protocol.errors import ErrorCode

    calls = []

    async def flaky() -> str:
        calls.append(cluster.metadata_at)
        if len(calls) < 3:
            raise KafkaError.from_code(ErrorCode.NOT_LEADER_OR_FOLLOWER.code, "produce")
        return "done"

    assert await cluster.retry(flaky, timeout_s=5) == "done"
    assert calls[1] == 0.0  # the stale-metadata error made the cached metadata expire

    async def never() -> None:
        raise KafkaError.from_code(ErrorCode.COORDINATOR_NOT_AVAILABLE.code)

    started = asyncio.get_running_loop().time()
    with pytest.raises(KafkaError, match="COORDINATOR_NOT_AVAILABLE"):
        await cluster.retry(never, timeout_s=0.5)
    assert 0.4 <= asyncio.get_running_loop().time() - started < 2

    async def fatal() -> None:
        raise KafkaError.from_code(ErrorCode.INVALID_CONFIG.code)

    with pytest.raises(KafkaError, match="INVALID_CONFIG"):
        await cluster.retry(fatal, timeout_s=10)
