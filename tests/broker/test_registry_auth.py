"""A secured broker secures its Schema Registry: HTTP basic auth against the broker's own users
(PLAIN passwords and SCRAM credentials), subjects guarded by their topics' ACLs, read against
write. A user deleted through the API can log in neither with SASL PLAIN nor to the registry."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import BrokerProcess, free_port
from .test_schema_registry import CONTENT_TYPE, V1, V2

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import (  # noqa: E402
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
)

ADMIN, ALICE = ("admin", "admin-secret"), ("alice", "alice-secret")
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def call(url: str, method: str, path: str, who: tuple[str, str] | None, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
    if who is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{who[0]}:{who[1]}".encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        if error.code == 401:
            assert error.headers["WWW-Authenticate"].startswith("Basic")
        return error.code, json.loads(error.read())


@pytest.fixture(params=["PLAIN,SCRAM-SHA-256", "SCRAM-SHA-512"])
def secured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": request.param,
        f"sasl.users.{ADMIN[0]}": ADMIN[1], f"sasl.users.{ALICE[0]}": ALICE[1],
        "authorizer.class.name": AUTHORIZER, "super.users": f"User:{ADMIN[0]}"}, registry_port=free_port()).start()
    b.mechanism = request.param.split(",")[-1]  # type: ignore[attr-defined]
    yield b
    b.stop()


def admin_client(broker: BrokerProcess, who: tuple[str, str]) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
                        "sasl.mechanism": broker.mechanism, "sasl.username": who[0],  # type: ignore[attr-defined]
                        "sasl.password": who[1]})


def test_the_registry_asks_for_the_brokers_users(secured: BrokerProcess) -> None:
    url = secured.registry_url
    assert call(url, "GET", "/subjects", None)[0] == 401
    assert call(url, "GET", "/subjects", ("alice", "wrong"))[0] == 401
    assert call(url, "GET", "/subjects", ("mallory", "x"))[0] == 401
    assert call(url, "GET", "/subjects", ADMIN) == (200, [])
    assert "HTTP basic auth with the broker's users" in secured.log()


def test_subjects_are_guarded_by_their_topics_acls(secured: BrokerProcess) -> None:
    url = secured.registry_url
    for subject in ("orders-value", "payments-value", "secret-value"):
        assert call(url, "POST", f"/subjects/{subject}/versions", ADMIN, V1)[0] == 200
    admin = admin_client(secured, ADMIN)
    acls = [AclBinding(ResourceType.TOPIC, "orders", ResourcePatternType.LITERAL, "User:alice", "*",
                       AclOperation.READ, AclPermissionType.ALLOW),
            AclBinding(ResourceType.TOPIC, "payments", ResourcePatternType.LITERAL, "User:alice", "*",
                       AclOperation.WRITE, AclPermissionType.ALLOW)]
    for future in admin.create_acls(acls).values():
        future.result(20)
    assert call(url, "GET", "/subjects", ALICE) == (200, ["orders-value", "payments-value"])
    assert call(url, "GET", "/subjects/orders-value/versions/1", ALICE)[0] == 200
    assert call(url, "GET", "/subjects/secret-value/versions/1", ALICE)[0] == 403
    status, answer = call(url, "POST", "/subjects/orders-value/versions", ALICE, V2)  # read only
    assert (status, answer["error_code"]) == (403, 40301)
    assert call(url, "POST", "/subjects/payments-value/versions", ALICE, V2)[0] == 200
    assert call(url, "DELETE", "/subjects/orders-value", ALICE)[0] == 403
    assert call(url, "PUT", "/config", ALICE, {"compatibility": "NONE"})[0] == 403
    assert call(url, "PUT", "/config", ADMIN, {"compatibility": "NONE"})[0] == 200
    assert call(url, "GET", "/config", ALICE)[0] == 200
    schemas = call(url, "GET", "/schemas", ALICE)[1]
    assert {s["subject"] for s in schemas} == {"orders-value", "payments-value"}
    # V1 is registered under all three subjects: alice may read it through orders-value.
    assert call(url, "GET", "/schemas/ids/1/subjects", ALICE) == (200, ["orders-value", "payments-value"])


def test_a_user_deleted_through_the_api_cannot_log_in_with_a_config_password(secured: BrokerProcess) -> None:
    url = secured.registry_url
    assert call(url, "GET", "/subjects", ALICE)[0] == 200
    admin = admin_client(secured, ADMIN)
    mechanism = getattr(ScramMechanism, secured.mechanism.replace("-", "_"))  # type: ignore[attr-defined]
    deletion = UserScramCredentialDeletion("alice", mechanism)  # her one SCRAM credential
    admin.alter_user_scram_credentials([deletion])["alice"].result(20)
    assert call(url, "GET", "/subjects", ALICE)[0] == 401
    if "PLAIN" in secured.config["sasl.enabled.mechanisms"]:  # type: ignore[operator]
        from kctl.protocol.errors import ErrorCode

        from .rawclient import RawClient
        from .test_client_limits import sasl_plain

        client = RawClient(secured.bootstrap)
        assert sasl_plain(client, ALICE[1]) == ErrorCode.SASL_AUTHENTICATION_FAILED.code
        client.close()
