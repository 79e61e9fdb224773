"""SASL/OAUTHBEARER: the exchange and the token checks without sockets, then the built-in broker
checking JWTs against a token endpoint's JWKS, used by kctl's CLI and client, confluent-kafka's
OIDC login and Kafka's Java console consumer."""

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
from joserfc.jwk import RSAKey

from broker.oauth import JwksValidator
from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.oauth import (
    ClientCredentials,
    OAuthBearerAuthenticator,
    Token,
    TokenCache,
    TokenCommand,
    TokenError,
    TokenFile,
    jwt_claims,
)
from kctl.protocol.errors import ErrorCode
from kctl.protocol.sasl import (
    Grant,
    OAuthBearerClient,
    OAuthBearerServer,
    SaslError,
    oauthbearer_message,
    parse_oauthbearer_message,
)
from tests.support.oauth import FixedToken, TokenEndpoint
from tests.support.ports import free_port

from .conftest import BrokerProcess

CLIENT_ID, CLIENT_SECRET = "kctl-ops", "s3cret/with:odd chars"


# ---- the exchange, no sockets ---------------------------------------------------------------------------
def test_the_client_message_is_rfc_7628_s_with_kafka_s_extensions() -> None:
    message = oauthbearer_message("eyJ.abc.def", {"logicalCluster": "lkc-abc", "identityPoolId": "pool-Xy1"})
    assert message == (b"n,,\x01auth=Bearer eyJ.abc.def\x01logicalCluster=lkc-abc\x01identityPoolId=pool-Xy1"
                       b"\x01\x01")
    assert parse_oauthbearer_message(message) == ("eyJ.abc.def", {"logicalCluster": "lkc-abc",
                                                                  "identityPoolId": "pool-Xy1"})
    for bad_key in ("auth", "logical-cluster", ""):
        with pytest.raises(SaslError, match="extension"):
            oauthbearer_message("t", {bad_key: "v"})
    with pytest.raises(SaslError, match="extension"):
        oauthbearer_message("t", {"key": "a\x01b"})
    with pytest.raises(SaslError, match="bearer token"):
        oauthbearer_message("two words")
    for malformed in (b"", b"n,,auth=Bearer t", b"n,,\x01auth=Bearer t\x01", b"n,,\x01auth=Basic t\x01\x01",
                      b"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01", b"\xff\xfe"):
        with pytest.raises(SaslError, match=r"malformed|bearer token"):
            parse_oauthbearer_message(malformed)


def test_a_refused_token_gets_the_rfc_s_error_then_fails_with_the_reason() -> None:
    def validate(token: str, extensions: dict[str, str]) -> Grant:
        if token != "good":
            raise SaslError("the token expired 5s ago")
        return Grant("alice", 1_900_000_000_000)

    server = OAuthBearerServer(validate)
    client = OAuthBearerClient("good", {"logicalCluster": "lkc-1"})
    assert server.respond(client.first()) == b"" and server.done
    assert server.user == "alice" and server.extensions == {"logicalCluster": "lkc-1"}
    assert client.next(b"") is None

    server, client = OAuthBearerServer(validate), OAuthBearerClient("bad")
    challenge = server.respond(client.first())
    assert json.loads(challenge) == {"status": "invalid_token"} and not server.done
    reply = client.next(challenge)
    assert reply == b"\x01" and client.refusal == {"status": "invalid_token"}
    with pytest.raises(SaslError, match="invalid_token: the token expired 5s ago"):
        server.respond(reply)


# ---- the broker's checks of a JWT, no sockets -------------------------------------------------------------
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def idp() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(clients={CLIENT_ID: CLIENT_SECRET}, audience="kafka", lifetime_s=3600) as endpoint:
        yield endpoint


def _validator(idp: TokenEndpoint, **kwargs: object) -> JwksValidator:
    settings: dict[str, object] = {"audiences": ["kafka", "kafka-dev"], "issuer": idp.issuer, "skew_s": 30,
                                   "clock": lambda: NOW}
    settings.update(kwargs)
    validator = JwksValidator(idp.jwks_url, **settings)  # type: ignore[arg-type]
    validator.load(json.dumps(idp.jwks()))
    return validator


def test_the_broker_takes_a_good_token_and_says_why_it_refuses_a_bad_one(idp: TokenEndpoint) -> None:
    validator = _validator(idp)
    good = {"iat": int(NOW), "exp": int(NOW) + 60}
    assert validator.validate(idp.mint("alice", **good), {}) == Grant("alice", (int(NOW) + 60) * 1000)
    assert validator.validate(idp.mint("bob", **good, aud=["other", "kafka-dev"]), {}).principal == "bob"
    other_key = RSAKey.generate_key(2048, parameters={"kid": idp.key.kid})
    refused = {
        "expired 31s ago": idp.mint(iat=int(NOW) - 100, exp=int(NOW) - 31),
        "audience": idp.mint(**good, aud="billing"),
        "issuer": idp.mint(**good, iss="https://elsewhere.test"),
        "signature does not verify": idp.mint(**good, key=other_key),
        "key id the JWKS does not hold": idp.mint(**good, kid="signing-2"),
        "no exp claim": idp.mint(iat=int(NOW), exp=None),
        "names no principal": idp.mint("", **good),
        "nbf is in the future": idp.mint(**good, nbf=int(NOW) + 31),
        "not a usable JWT": "not-a-jwt",
    }
    for reason, token in refused.items():
        with pytest.raises(SaslError, match=reason):
            validator.validate(token, {})
    # Within the clock skew, a token just expired or not yet valid is still taken, as in Kafka.
    assert validator.validate(idp.mint(iat=int(NOW) - 100, exp=int(NOW) - 29), {}).principal == "alice"
    # The principal can come from another claim.
    assert _validator(idp, sub_claim="client_id").validate(idp.mint(**good, client_id="svc-1"), {}).principal == "svc-1"


def test_a_jwks_that_is_not_one_keeps_the_keys_held(idp: TokenEndpoint) -> None:
    validator = _validator(idp)
    for bad in ("not json", '{"keys": []}', '{"keys": [{"kty": "RSA"}]}', "[1, 2]"):
        with pytest.raises(ValueError, match="JWKS"):
            validator.load(bad)
    assert validator.validate(idp.mint(iat=int(NOW), exp=int(NOW) + 60), {}).principal == "alice"


# ---- where a client's tokens come from, no broker --------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class _Source:
    description = "a test source"

    def __init__(self, clock: _Clock, lifetime_s: float) -> None:
        self.clock, self.lifetime_s, self.fetched, self.fail = clock, lifetime_s, 0, False

    async def fetch(self) -> Token:
        if self.fail:
            raise TokenError("the endpoint is down")
        self.fetched += 1
        return Token(f"token-{self.fetched}", self.clock(), self.clock() + self.lifetime_s, "alice")


async def test_a_token_is_renewed_once_80_percent_of_its_lifetime_has_passed() -> None:
    clock = _Clock()
    source = _Source(clock, 100)
    cache = TokenCache(source, clock)
    assert (await cache.get()).value == "token-1"
    clock.now += 79
    assert (await cache.get()).value == "token-1"
    clock.now += 1
    assert (await cache.get()).value == "token-2"
    # A failed renewal keeps the current token while it is valid, and fails once it has expired.
    clock.now += 85
    source.fail = True
    assert (await cache.get()).value == "token-2"
    clock.now += 15
    with pytest.raises(TokenError, match="down"):
        await cache.get()
    # A source that hands out an expired token is refused before any broker sees it.
    expired = _Source(clock, -1)
    with pytest.raises(TokenError, match="expired"):
        await TokenCache(expired, clock).get()


async def test_tokens_from_a_file_a_command_and_a_token_endpoint(idp: TokenEndpoint, tmp_path: Path) -> None:
    token = idp.mint("from-file", lifetime_s=600)
    path = tmp_path / "token"
    path.write_text(token + "\n")
    got = await TokenFile(path).fetch()
    assert got.value == token and got.principal == "from-file" and got.expires_at == jwt_claims(token)["exp"]
    with pytest.raises(TokenError, match="token file"):
        await TokenFile(tmp_path / "missing").fetch()
    got = await TokenCommand(f"cat {path}").fetch()
    assert got.value == token
    with pytest.raises(TokenError, match="exited 3: no vault"):
        await TokenCommand("echo no vault >&2; exit 3").fetch()
    with pytest.raises(TokenError, match="empty"):
        await TokenCommand("true").fetch()
    fetched = await ClientCredentials(idp.token_url, CLIENT_ID, CLIENT_SECRET, scope="kafka",
                                      audience="kafka-dev").fetch()
    assert fetched.principal == CLIENT_ID and 3590 < fetched.lifetime_s <= 3600
    assert jwt_claims(fetched.value)["aud"] == "kafka-dev"
    assert {"grant_type": "client_credentials", "scope": "kafka", "audience": "kafka-dev"}.items() \
        <= idp.requests[-1].items()
    with pytest.raises(TokenError, match=r"HTTP 401.*invalid_client"):
        await ClientCredentials(idp.token_url, CLIENT_ID, "wrong").fetch()
    with pytest.raises(TokenError, match="token endpoint"):
        await ClientCredentials("http://127.0.0.1:1/token", CLIENT_ID, CLIENT_SECRET, timeout_s=2).fetch()


# ---- the built-in broker ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oauth_broker(idp: TokenEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("oauth") / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "OAUTHBEARER",
        "sasl.oauthbearer.jwks.endpoint.url": idp.jwks_url,
        "sasl.oauthbearer.expected.audience": "kafka",
        "sasl.oauthbearer.expected.issuer": idp.issuer,
        "sasl.oauthbearer.clock.skew.seconds": 0,
        "num.partitions": 1,
    }, metrics_port=free_port(), registry_port=free_port()).start()
    yield b
    b.stop()


async def test_bad_tokens_are_refused_with_kafka_s_error(oauth_broker: BrokerProcess, idp: TokenEndpoint) -> None:
    now = int(time.time())
    other_key = RSAKey.generate_key(2048, parameters={"kid": idp.key.kid})
    bad = {
        "expired": idp.mint(iat=now - 100, exp=now - 10),
        "audience": idp.mint(aud="billing"),
        "signature": idp.mint(key=other_key),
        "key id": idp.mint(kid="signing-2"),
    }
    for reason, token in bad.items():
        cluster = Cluster(oauth_broker.bootstrap, request_timeout_s=5, connect_timeout_s=5,
                          authenticator=FixedToken(token))
        with pytest.raises(KafkaError) as refused:
            await cluster.start()
        await cluster.close()
        assert refused.value.code is ErrorCode.SASL_AUTHENTICATION_FAILED, (reason, refused.value)
        assert reason in str(refused.value) and "invalid_token" in str(refused.value)
    cluster = Cluster(oauth_broker.bootstrap, request_timeout_s=5, connect_timeout_s=5,
                      authenticator=FixedToken(idp.mint("alice")))
    await cluster.start()
    assert cluster.brokers
    await cluster.close()


async def test_the_client_renews_its_token_and_the_broker_takes_the_new_one(oauth_broker: BrokerProcess,
                                                                              idp: TokenEndpoint) -> None:
    idp.lifetime_s = 3
    try:
        authenticator = OAuthBearerAuthenticator(ClientCredentials(idp.token_url, CLIENT_ID, CLIENT_SECRET))
        first = Cluster(oauth_broker.bootstrap, request_timeout_s=5, authenticator=authenticator)
        await first.start()
        await first.close()
        issued, first_token = len(idp.issued), authenticator.tokens.token
        assert first_token is not None and authenticator.principal == CLIENT_ID
        await asyncio.sleep(4)  # the first token has expired, and the broker allows no clock skew
        stale = Cluster(oauth_broker.bootstrap, request_timeout_s=5, authenticator=FixedToken(first_token.value))
        with pytest.raises(KafkaError, match="expired"):
            await stale.start()
        await stale.close()
        second = Cluster(oauth_broker.bootstrap, request_timeout_s=5, authenticator=authenticator)
        await second.start()
        await second.refresh_metadata(None)
        await second.close()
        assert len(idp.issued) == issued + 1
        assert authenticator.tokens.token is not None and authenticator.tokens.token.value != first_token.value
    finally:
        idp.lifetime_s = 3600


def _kctl(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kctl", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_kctl_cli_logs_in_with_oidc_client_credentials(oauth_broker: BrokerProcess, idp: TokenEndpoint,
                                                       tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    env = {**os.environ, "KCTL_CONFIG": str(config), "IDP_SECRET": CLIENT_SECRET}
    done = _kctl(env, "config", "set-context", "cloud", "-b", oauth_broker.bootstrap, "--sasl-mechanism",
                 "oauthbearer", "--sasl-token-endpoint", idp.token_url, "--sasl-client-id", CLIENT_ID,
                 "--sasl-client-secret-env", "IDP_SECRET", "--sasl-scope", "kafka",
                 "--sasl-extension", "logicalCluster=lkc-local")
    assert done.returncode == 0, done.stderr
    assert CLIENT_SECRET not in config.read_text()
    for args, stdin in ((["topics", "create", "oauth-cli", "-p", "2"], None),
                        (["produce", "oauth-cli"], "one\ntwo\nthree\n")):
        done = _kctl(env, "--context", "cloud", *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
    done = _kctl(env, "--context", "cloud", "tail", "oauth-cli", "-o", "jsonl")
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(line)["value"] for line in done.stdout.splitlines()) == ["one", "three", "two"]
    shown = _kctl(env, "config", "get-contexts", "-o", "json")
    assert CLIENT_SECRET not in shown.stdout
    # A wrong secret: the token endpoint refuses, and kctl says so (exit 5, authentication).
    done = _kctl({**env, "IDP_SECRET": "wrong"}, "--context", "cloud", "--timeout", "5", "topics", "list")
    assert done.returncode == 5 and "invalid_client" in done.stderr, done.stderr
    # No token source: a usage error that names the options.
    done = _kctl(env, "config", "set-context", "half", "-b", oauth_broker.bootstrap, "--sasl-mechanism",
                 "OAUTHBEARER")
    assert done.returncode == 2 and "--sasl-token-endpoint" in done.stderr


def test_confluent_kafka_logs_in_with_oidc(oauth_broker: BrokerProcess, idp: TokenEndpoint) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    common = {"bootstrap.servers": oauth_broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanisms": "OAUTHBEARER", "sasl.oauthbearer.method": "oidc",
              "sasl.oauthbearer.client.id": CLIENT_ID, "sasl.oauthbearer.client.secret": CLIENT_SECRET,
              "sasl.oauthbearer.token.endpoint.url": idp.token_url, "sasl.oauthbearer.scope": "kafka"}
    producer = confluent_kafka.Producer(common)
    for i in range(3):
        producer.produce("oauth-librdkafka", f"v{i}".encode())
    assert producer.flush(30) == 0
    consumer = confluent_kafka.Consumer({**common, "group.id": "oauth-g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["oauth-librdkafka"])
    seen: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(seen) < 3 and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            seen.append(message.value())
    consumer.close()
    assert seen == [b"v0", b"v1", b"v2"]


def test_kafka_s_java_console_consumer_logs_in_with_oauthbearer(oauth_broker: BrokerProcess, idp: TokenEndpoint,
                                                                tmp_path: Path) -> None:
    from tests.support.apache_kafka import require_jars, run_tool

    require_jars()

    async def produce() -> None:
        from kctl.client.producer import Producer

        authenticator = OAuthBearerAuthenticator(ClientCredentials(idp.token_url, CLIENT_ID, CLIENT_SECRET))
        cluster = Cluster(oauth_broker.bootstrap, authenticator=authenticator)
        await cluster.start()
        try:
            producer = Producer(cluster)
            await producer.start()
            for i in range(3):
                await producer.send("oauth-java", f"j{i}".encode())
            await producer.close()
        finally:
            await cluster.close()

    asyncio.run(produce())
    properties = tmp_path / "consumer.properties"
    properties.write_text("\n".join([
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=OAUTHBEARER",
        "sasl.login.callback.handler.class="
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        f"sasl.oauthbearer.token.endpoint.url={idp.token_url}",
        "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        f'clientId="{CLIENT_ID}" clientSecret="{CLIENT_SECRET}" scope="kafka";',
    ]) + "\n")
    done = run_tool("console-consumer", "--bootstrap-server", oauth_broker.bootstrap, "--topic", "oauth-java",
                    "--from-beginning", "--max-messages", "3", "--timeout-ms", "30000",
                    "--command-config", str(properties),
                    jvm=[f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={idp.token_url}"])
    assert done.stdout.split() == ["j0", "j1", "j2"]


async def test_the_console_shows_the_mechanism_the_principal_and_the_token_s_expiry(
        oauth_broker: BrokerProcess, idp: TokenEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    from kctl.connect.cluster import Settings
    from kctl.connect.contexts import Context
    from kctl.tui.backend import LiveBackend

    monkeypatch.setenv("IDP_SECRET", CLIENT_SECRET)
    context = Context("cloud", oauth_broker.bootstrap, sasl={
        "mechanism": "OAUTHBEARER", "token-endpoint": idp.token_url, "client-id": CLIENT_ID,
        "client-secret-env": "IDP_SECRET", "extensions": {"logicalCluster": "lkc-local"}})
    backend = LiveBackend(context, Settings(timeout=10))
    try:
        overview = await backend.overview()
    finally:
        await backend.close()
    assert overview.authentication == f"OAUTHBEARER as {CLIENT_ID}, token expires in 60m"
    assert overview.brokers


def test_the_registry_and_metrics_take_the_same_bearer_tokens(oauth_broker: BrokerProcess,
                                                              idp: TokenEndpoint) -> None:
    import urllib.error
    import urllib.request

    def status(url: str, token: str | None) -> int:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    metrics = f"http://127.0.0.1:{oauth_broker.metrics_port}/metrics"
    subjects = f"{oauth_broker.registry_url}/subjects"
    now = int(time.time())
    for url in (metrics, subjects):
        assert status(url, idp.mint("alice")) == 200
        assert status(url, None) == 401
        assert status(url, idp.mint(iat=now - 100, exp=now - 10)) == 401
        assert status(url, idp.mint(aud="billing")) == 401


@pytest.mark.parametrize(("settings", "error"), [
    ('"sasl.enabled.mechanisms" = "OAUTHBEARER"\n', "needs sasl.oauthbearer.jwks.endpoint.url"),
    ('"sasl.enabled.mechanisms" = "OAUTHBEARER"\n"sasl.oauthbearer.jwks.endpoint.url" = "ftp://idp/jwks"\n',
     "use an http, https or file URL"),
])
def test_oauthbearer_without_a_usable_jwks_url_is_a_config_error(tmp_path: Path, settings: str, error: str) -> None:
    config = tmp_path / "broker.toml"
    config.write_text('listeners = "SASL_PLAINTEXT://127.0.0.1:0"\n' + settings)
    done = subprocess.run([sys.executable, "-m", "broker", "--data-dir", str(tmp_path / "data"), "--listen",
                           "127.0.0.1:0", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and error in done.stderr, done.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_the_broker_reads_a_jwks_from_a_file_url(idp: TokenEndpoint, tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(idp.jwks()))
    validator = JwksValidator(jwks.as_uri(), audiences=[], issuer=None)
    asyncio.run(validator.fetch())
    assert validator.validate(idp.mint("from-file-keys"), {}).principal == "from-file-keys"


def test_contexts_take_each_token_source_and_refuse_two(idp: TokenEndpoint, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`kctl config set-context` writes each source's settings; the context turns them into the
    source (a client secret from a file here), and a context with two sources is refused."""
    from kctl.connect.cluster import _authenticator
    from kctl.connect.contexts import contexts, load_file
    from kctl.ops.errors import BadUsage

    secret = tmp_path / "secret"
    secret.write_text(CLIENT_SECRET + "\n")
    env = {**os.environ, "KCTL_CONFIG": str(tmp_path / "config.toml")}
    for name, options in {
        "oidc": ["--sasl-token-endpoint", idp.token_url, "--sasl-client-id", CLIENT_ID,
                 "--sasl-client-secret-file", str(secret), "--sasl-audience", "kafka"],
        "file": ["--sasl-token-file", str(tmp_path / "token")],
        "command": ["--sasl-token-command", "vault read -field=token secret/kafka"],
        "msk": ["--sasl-aws-region", "eu-west-1", "--sasl-aws-profile", "prod"],
    }.items():
        done = _kctl(env, "config", "set-context", name, "-b", "kafka:9092", "--sasl-mechanism", "OAUTHBEARER",
                     *options)
        assert done.returncode == 0, done.stderr
    monkeypatch.setenv("KCTL_CONFIG", env["KCTL_CONFIG"])
    known = contexts(load_file())
    assert known["msk"].sasl == {"mechanism": "OAUTHBEARER", "aws-region": "eu-west-1", "aws-profile": "prod"}
    sources = {name: _authenticator(known[name]).tokens.source for name in known}
    assert [type(s).__name__ for s in sources.values()] == ["ClientCredentials", "TokenFile", "TokenCommand",
                                                            "MskIamToken"]
    assert sources["oidc"].client_secret == CLIENT_SECRET and sources["oidc"].audience == "kafka"
    assert asyncio.run(sources["oidc"].fetch()).principal == CLIENT_ID
    # Switching sources replaces the old one; two at once in a hand-edited file are refused.
    done = _kctl(env, "config", "set-context", "file", "--sasl-token-command", "cat token")
    assert done.returncode == 0, done.stderr
    assert contexts(load_file())["file"].sasl == {"mechanism": "OAUTHBEARER", "token-command": "cat token"}
    two = known["file"]
    two.sasl["token-command"] = "cat token"
    with pytest.raises(BadUsage, match="exactly one token source"):
        _authenticator(two)
