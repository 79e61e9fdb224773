"""kctl against Apache Kafka configured for SASL/OAUTHBEARER, with Kafka's own JWKS validator
(OAuthBearerValidatorCallbackHandler) and a token endpoint started by the tests: the CLI lists,
produces and tails through it, the client renews its token and logs in again on its connections
as Kafka's sessions end (KIP-368), and Kafka refuses bad tokens."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.oauth import ClientCredentials, OAuthBearerAuthenticator
from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.metadata import MetadataRequest
from tests.support.apache_kafka import KafkaCluster, require_jars
from tests.support.oauth import FixedToken, TokenEndpoint

CLIENT_ID, CLIENT_SECRET = "kctl-ops", "kafka-oauth-secret"


@pytest.fixture(scope="module")
def idp() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(clients={CLIENT_ID: CLIENT_SECRET}, audience="kafka") as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def kafka_oauth(idp: TokenEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    require_jars()
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-oauth"), size=1, oauth={
        "sasl.oauthbearer.jwks.endpoint.url": idp.jwks_url,
        "sasl.oauthbearer.expected.audience": "kafka",
        "sasl.oauthbearer.expected.issuer": idp.issuer,
        "sasl.oauthbearer.clock.skew.seconds": "0",
        "connections.max.reauth.ms": "3000",  # sessions end: clients log in again (KIP-368)
    }).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _kctl(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kctl", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=90)


def test_kctl_lists_produces_and_tails_through_kafka_s_oauthbearer(kafka_oauth: KafkaCluster, idp: TokenEndpoint,
                                                                     tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    env = {**os.environ, "KCTL_CONFIG": str(config), "IDP_SECRET": CLIENT_SECRET}
    done = _kctl(env, "config", "set-context", "oauth", "-b", kafka_oauth.bootstrap, "--sasl-mechanism",
                 "OAUTHBEARER", "--sasl-token-endpoint", idp.token_url, "--sasl-client-id", CLIENT_ID,
                 "--sasl-client-secret-env", "IDP_SECRET", "--use")
    assert done.returncode == 0, done.stderr
    done = _kctl(env, "topics", "create", "oauth-on-kafka", "-p", "3")
    assert done.returncode == 0, done.stderr
    listed = _kctl(env, "topics", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert "oauth-on-kafka" in {t["name"] for t in json.loads(listed.stdout)}
    done = _kctl(env, "produce", "oauth-on-kafka", "-K", ":", stdin="a:1\nb:2\nc:3\n")
    assert done.returncode == 0, done.stderr
    tailed = _kctl(env, "tail", "oauth-on-kafka", "-o", "jsonl")
    assert tailed.returncode == 0, tailed.stderr
    assert sorted((r["key"], r["value"]) for r in map(json.loads, tailed.stdout.splitlines())) == \
        [("a", "1"), ("b", "2"), ("c", "3")]


async def test_kafka_refuses_bad_tokens_and_takes_a_renewed_one(kafka_oauth: KafkaCluster,
                                                               idp: TokenEndpoint) -> None:
    now = int(time.time())
    for reason, token in {"expired": idp.mint(iat=now - 100, exp=now - 10),
                          "audience": idp.mint(aud="billing"),
                          "unknown key id": idp.mint(kid="signing-2")}.items():
        cluster = Cluster(kafka_oauth.bootstrap, request_timeout_s=10, connect_timeout_s=5,
                          authenticator=FixedToken(token))
        with pytest.raises(KafkaError) as refused:
            await cluster.start()
        await cluster.close()
        assert refused.value.code is ErrorCode.SASL_AUTHENTICATION_FAILED, (reason, refused.value)

    idp.lifetime_s = 4
    try:
        authenticator = OAuthBearerAuthenticator(ClientCredentials(idp.token_url, CLIENT_ID, CLIENT_SECRET))
        first = Cluster(kafka_oauth.bootstrap, request_timeout_s=10, authenticator=authenticator)
        await first.start()
        await first.close()
        first_token = authenticator.tokens.token
        assert first_token is not None
        await asyncio.sleep(5)  # expired now, and Kafka is told to allow no clock skew
        stale = Cluster(kafka_oauth.bootstrap, request_timeout_s=10, authenticator=FixedToken(first_token.value))
        with pytest.raises(KafkaError):
            await stale.start()
        await stale.close()
        second = Cluster(kafka_oauth.bootstrap, request_timeout_s=10, authenticator=authenticator)
        await second.start()
        await second.refresh_metadata(None)
        assert second.brokers
        await second.close()
        assert authenticator.tokens.fetched == 2 and authenticator.tokens.token is not first_token
    finally:
        idp.lifetime_s = 3600


async def test_kctl_logs_in_again_as_kafka_s_sessions_end(kafka_oauth: KafkaCluster, idp: TokenEndpoint) -> None:
    idp.lifetime_s = 10  # renewed after 8 s, while Kafka's sessions last 3 s at most
    try:
        authenticator = OAuthBearerAuthenticator(ClientCredentials(idp.token_url, CLIENT_ID, CLIENT_SECRET))
        cluster = Cluster(kafka_oauth.bootstrap, request_timeout_s=10, authenticator=authenticator)
        await cluster.start()
        try:
            node = next(iter(cluster.brokers))
            first = await cluster.connection(node)
            deadline = time.monotonic() + 11
            # A request every 50 ms: the client logs in again when a connection is handed out past
            # 85-95% of the session, so requests must come closer together than the 0.15-0.45 s left
            # of a 3 s session; every 0.2 s, a slow moment of a busy machine let the session end
            # between two of them, and the connection was replaced rather than kept.
            while time.monotonic() < deadline:
                await cluster.send(node, MetadataRequest(topics=[]))
                await asyncio.sleep(0.05)
            assert await cluster.connection(node) is first and not first.closed
            assert first.reauthentications >= 3
            assert authenticator.tokens.fetched >= 2  # and some of those logins carried a renewed token
        finally:
            await cluster.close()
    finally:
        idp.lifetime_s = 3600
