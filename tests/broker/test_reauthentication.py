"""KIP-368 re-authentication: with connections.max.reauth.ms, a SASL session ends, and the client
logs in again on the same connection. The session rules without sockets; then the built-in broker
with kctl's client and librdkafka re-authenticating, and a client that does not being cut off.
(Apache Kafka's side: tests/apache_kafka/test_oauth_on_apache_kafka.py.)"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest

from kctl.client.cluster import Cluster
from kctl.client.connection import BrokerConnection, ConnectionConfig
from kctl.client.errors import KafkaError
from kctl.client.sasl import SaslAuthenticator
from kctl.protocol.errors import ErrorCode
from kctl.protocol.events import Authenticated, RequestReceived
from kctl.protocol.framing import ClientConnection, NotAuthenticated, ServerConnection
from kctl.protocol.messages.metadata import MetadataRequest
from kctl.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
from kctl.protocol.messages.sasl_handshake import SaslHandshakeRequest
from kctl.protocol.sasl import (
    Grant,
    OAuthBearerClient,
    OAuthBearerServer,
    PlainClient,
    PlainServer,
    ServerAuthentication,
)

from .conftest import BrokerProcess

USER, PASSWORD = "alice", "reauth-secret"


# ---- the session rules, no sockets ---------------------------------------------------------------------
def _tokens(expiry_ms: dict[str, int]) -> ServerAuthentication:
    def validate(token: str, extensions: dict[str, str]) -> Grant:
        return Grant(token.split("-")[0], expiry_ms[token])

    def exchange_for(mechanism: str) -> OAuthBearerServer | PlainServer:
        return OAuthBearerServer(validate) if mechanism == "OAUTHBEARER" else PlainServer({"alice": "pw"})

    return ServerAuthentication(["OAUTHBEARER", "PLAIN"], exchange_for, max_reauth_ms=10_000)


def _login(auth: ServerAuthentication, token: str, now_ms: int, mechanism: str = "OAUTHBEARER") -> tuple[int, int]:
    """(error code, session lifetime) of a whole login."""
    assert auth.handshake(SaslHandshakeRequest(mechanism)).error_code == 0
    first = OAuthBearerClient(token).first() if mechanism == "OAUTHBEARER" else PlainClient(token, "pw").first()
    answer, _ = auth.authenticate(SaslAuthenticateRequest(first), now_ms)
    return answer.error_code, answer.session_lifetime_ms


def test_a_session_lasts_max_reauth_ms_and_never_outlives_its_token() -> None:
    auth = _tokens({"alice-long": 10**9, "alice-short": 5_000, "bob-x": 10**9})
    assert _login(auth, "alice-long", 1_000) == (0, 10_000)
    assert not auth.expired(10_999) and auth.expired(11_000)
    # Logging in again (same mechanism, same principal) starts a new session, here cut to the token's.
    assert _login(auth, "alice-short", 2_000) == (0, 3_000)
    assert auth.session_ends_ms == 5_000
    # Another principal on the same connection is refused, and the connection is no longer trusted.
    assert _login(auth, "bob-x", 3_000) == (ErrorCode.SASL_AUTHENTICATION_FAILED.code, 0)
    assert not auth.authenticated


def test_re_authentication_keeps_the_mechanism_and_sessions_without_the_setting_never_end() -> None:
    auth = _tokens({"alice-long": 10**9})
    assert _login(auth, "alice-long", 0) == (0, 10_000)
    assert auth.handshake(SaslHandshakeRequest("PLAIN")).error_code == ErrorCode.ILLEGAL_SASL_STATE.code
    forever = ServerAuthentication(["PLAIN"], lambda m: PlainServer({"alice": "pw"}))
    assert _login(forever, "alice", 0, "PLAIN") == (0, 0)
    assert not forever.expired(10**12)


def test_a_request_after_the_session_ended_is_refused_by_the_connection() -> None:
    auth = ServerAuthentication(["PLAIN"], lambda m: PlainServer({"alice": "pw"}), max_reauth_ms=1_000)
    server, client = ServerConnection(authentication=auth), ClientConnection("test")

    def send(body: object, version: int, now_ms: int) -> object:
        server.receive_data(client.send_request(body, version)[1])
        return server.next_event(now_ms)

    send(SaslHandshakeRequest("PLAIN"), 1, 0)
    assert isinstance(send(SaslAuthenticateRequest(PlainClient("alice", "pw").first()), 2, 0), Authenticated)
    assert isinstance(send(MetadataRequest(topics=[]), 12, 999), RequestReceived)
    with pytest.raises(NotAuthenticated, match="session of 'alice' ended"):
        send(MetadataRequest(topics=[]), 12, 1_000)


# ---- the built-in broker ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reauth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("reauth") / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,PLAIN", f"sasl.users.{USER}": PASSWORD,
        "connections.max.reauth.ms": 3000, "num.partitions": 1,
    }).start()
    yield b
    b.stop()


async def test_kctl_s_client_logs_in_again_on_the_same_connection(reauth_broker: BrokerProcess) -> None:
    cluster = Cluster(reauth_broker.bootstrap, request_timeout_s=5,
                      authenticator=SaslAuthenticator("SCRAM-SHA-256", USER, PASSWORD))
    await cluster.start()
    try:
        node = next(iter(cluster.brokers))
        first = await cluster.connection(node)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # a request every 100 ms through 2+ session lifetimes
            await cluster.send(node, MetadataRequest(topics=[]))
            await asyncio.sleep(0.1)
        assert await cluster.connection(node) is first and not first.closed
        assert first.reauthentications >= 2
    finally:
        await cluster.close()


async def test_a_client_that_does_not_log_in_again_is_cut_off(reauth_broker: BrokerProcess) -> None:
    host, port = reauth_broker.bootstrap.split(":")
    config = ConnectionConfig(request_timeout_s=5, authenticator=SaslAuthenticator("PLAIN", USER, PASSWORD))
    connection = await BrokerConnection.open(host, int(port), config)  # used directly: nobody re-authenticates
    await connection.request(MetadataRequest(topics=[]))
    await asyncio.sleep(3.3)
    with pytest.raises(KafkaError):
        await connection.request(MetadataRequest(topics=[]))
    assert "session of 'alice' ended" in reauth_broker.log()


def test_librdkafka_re_authenticates_with_the_built_in_broker(reauth_broker: BrokerProcess) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    producer = confluent_kafka.Producer({
        "bootstrap.servers": reauth_broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": USER, "sasl.password": PASSWORD, "linger.ms": 0})
    failures: list[object] = []
    deadline = time.monotonic() + 8
    sent = 0
    while time.monotonic() < deadline:
        producer.produce("reauth-librdkafka", b"x", on_delivery=lambda err, msg: failures.append(err) if err else None)
        sent += 1
        producer.poll(0.1)
    assert producer.flush(20) == 0 and not failures and sent > 20
    # The same connection (peer address) logged in more than once.
    logins: dict[str, int] = {}
    for peer in re.findall(r"(\S+) authenticated as 'alice' with SCRAM-SHA-256", reauth_broker.log()):
        logins[peer] = logins.get(peer, 0) + 1
    assert max(logins.values()) >= 3, logins
