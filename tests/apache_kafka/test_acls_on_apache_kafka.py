"""`kctl acls` on Apache Kafka with its StandardAuthorizer: ACLs created in kafka-acls.sh's form and
the short form are listed and enforced; `kctl acls check` gives the verdict Kafka enforces, and
names the ACL or rule that decides; delete removes what it matched. On brokers without an
authorizer (Apache Kafka's default, and the built-in broker) the ACL APIs answer SECURITY_DISABLED."""

from __future__ import annotations

import json
from pathlib import Path

from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique
from tests.conftest import SCRAM_ADMIN, SCRAM_ALICE
from tests.support.apache_kafka import KafkaCluster


def _context(tmp_path: Path, cluster: KafkaCluster, user: str, password: str) -> dict[str, str]:
    env = {**isolated_env(tmp_path / user, None), "PW": password}
    kctl(env, "config", "set-context", user, "-b", cluster.bootstrap, "--sasl-mechanism", "SCRAM-SHA-512",
         "--sasl-username", user, "--sasl-password-env", "PW", "--use")
    return env


def test_kctl_acls_on_apache_kafkas_authorizer(kafka_acl: KafkaCluster, tmp_path: Path) -> None:
    admin = _context(tmp_path, kafka_acl, SCRAM_ADMIN.name, SCRAM_ADMIN.password)
    alice = _context(tmp_path, kafka_acl, SCRAM_ALICE.name, SCRAM_ALICE.password)
    topic = unique("orders")
    secret, other = f"{topic}-secret", unique("other")
    for name in (topic, secret, other):
        kctl(admin, "topics", "create", name)
        kctl(admin, "produce", name, stdin="one\ntwo\n")
    kctl(admin, "acls", "allow", "User:alice", "read,describe", f"topic:{topic}*")  # a prefix: secret too
    kctl(admin, "acls", "create", "--allow-principal", "User:alice", "--operation", "Read", "--group", "g-alice")
    kctl(admin, "acls", "deny", "User:alice", "read", f"topic:{secret}")
    rows = json.loads(kctl(admin, "acls", "list", "--principal", "User:alice", "-o", "json").stdout)
    assert {(r["permission"], r["operation"], r["resource_type"], r["resource"], r["pattern"]) for r in rows} >= {
        ("ALLOW", "READ", "TOPIC", topic, "PREFIXED"), ("ALLOW", "DESCRIBE", "TOPIC", topic, "PREFIXED"),
        ("ALLOW", "READ", "GROUP", "g-alice", "LITERAL"), ("DENY", "READ", "TOPIC", secret, "LITERAL")}

    def enforced(operation: str, name: str) -> bool:
        """What Kafka does when alice tries it."""
        if operation == "Read":
            done = kctl(alice, "tail", name, "--from", "beginning", "-o", "jsonl", ok=False)
        elif operation == "Write":
            done = kctl(alice, "produce", name, stdin="x\n", ok=False)
        else:
            done = kctl(alice, "topics", "describe", name, "-o", "json", ok=False)
        assert done.returncode in (0, 5), done.stderr  # allowed, or an authorization error
        return done.returncode == 0

    def checked(principal: str, operation: str, name: str, *extra: str) -> tuple[bool, dict[str, object]]:
        done = kctl(admin, "acls", "check", "--principal", principal, "--operation", operation, "--topic", name,
                    "-o", "json", *extra, ok=False)
        assert done.returncode in (0, 8), done.stderr
        return done.returncode == 0, json.loads(done.stdout)

    for operation, name, reason in (
        ("Read", topic, "an ALLOW ACL matches"),
        ("Describe", topic, "an ALLOW ACL matches"),
        ("Read", secret, "a DENY ACL matches"),
        ("Write", topic, "no ALLOW ACL"),
        ("Read", other, "no ACL on the resource"),
    ):
        verdict, result = checked("User:alice", operation, name)
        assert verdict == enforced(operation, name), (operation, name, result)
        assert str(result["reason"]).startswith(reason), result
    denied, result = checked("User:alice", "Read", secret)
    assert not denied and result["acl"] == {"principal": "User:alice", "host": "*", "operation": "READ",
                                            "permission": "DENY", "resource_type": "TOPIC", "resource": secret,
                                            "pattern": "LITERAL"}
    # Kafka shows neither super.users nor allow.everyone.if.no.acl.found to clients: check says so.
    denied, result = checked("User:admin", "Write", other)
    assert not denied and any("super.users" in c for c in result["caveats"])  # type: ignore[attr-defined]
    allowed, result = checked("User:admin", "Write", other, "--super-user", "User:admin")
    assert allowed and "super user" in str(result["reason"])

    deleted = json.loads(kctl(admin, "acls", "delete", "--topic", secret, "--principal", "User:alice", "--yes",
                              "-o", "json").stdout)
    assert [(d["permission"], d["resource"]) for d in deleted] == [("DENY", secret)]
    assert enforced("Read", secret)  # the prefixed ALLOW applies again
    missing = kctl(admin, "acls", "delete", "--topic", secret, "--principal", "User:alice", "--yes", ok=False)
    assert missing.returncode == 3

    # The journal has every ACL change, and takes each back: the deletion, then the prefixed ALLOW.
    changes = json.loads(kctl(admin, "history", "-o", "json").stdout)
    deletion, allow = changes[-1], next(c for c in changes if c["kind"] == "acls-created")
    assert deletion["kind"] == "acls-deleted" and deletion["before"] == [
        {"resource_type": "TOPIC", "resource_name": secret, "pattern_type": "LITERAL", "principal": "User:alice",
         "host": "*", "operation": "READ", "permission": "DENY"}]
    kctl(admin, "undo", deletion["id"], "--execute", "--yes")
    assert not enforced("Read", secret)  # the DENY is back
    kctl(admin, "undo", allow["id"], "--execute", "--yes")
    assert not enforced("Read", topic)  # no ALLOW left for it
    assert [c["undoes"] for c in json.loads(kctl(admin, "history", "-o", "json").stdout)[-2:]] == [
        deletion["id"], allow["id"]]


def test_kctl_users_and_quotas_on_a_secured_apache_kafka(kafka_acl: KafkaCluster, tmp_path: Path) -> None:
    """The admin context on Apache Kafka with SASL and the StandardAuthorizer: users and quotas."""
    admin = _context(tmp_path, kafka_acl, SCRAM_ADMIN.name, SCRAM_ADMIN.password)
    user = unique("carol")
    kctl({**admin, "CAROL_PW": "carol-pw"}, "users", "create", user, "--password-env", "CAROL_PW")
    listed = json.loads(kctl(admin, "users", "list", user, "-o", "json").stdout)
    assert listed == [{"user": user, "mechanism": "SCRAM-SHA-512", "iterations": 8192}]
    kctl(admin, "quotas", "set", "--user", user, "--producer-byte-rate", "2048")
    rows = json.loads(kctl(admin, "quotas", "get", "--user", user, "-o", "json").stdout)
    assert [(r["key"], r["value"]) for r in rows] == [("producer_byte_rate", 2048.0)]
    kctl(admin, "quotas", "delete", "--user", user, "--yes")
    kctl(admin, "users", "delete", user, "--yes")
    alice = _context(tmp_path, kafka_acl, SCRAM_ALICE.name, SCRAM_ALICE.password)
    denied = kctl(alice, "quotas", "get", ok=False)
    assert denied.returncode == 5 and "CLUSTER_AUTHORIZATION_FAILED" in denied.stderr


def test_without_an_authorizer_acls_are_security_disabled_on_both_brokers(kafka_one: KafkaCluster,
                                                                          tmp_path: Path) -> None:
    ours = BrokerProcess(tmp_path / "data").start()
    try:
        answers = {}
        for name, bootstrap in (("kafka", kafka_one.bootstrap), ("ours", ours.bootstrap)):
            env = isolated_env(tmp_path / name, bootstrap)
            listed = kctl(env, "acls", "list", ok=False)
            created = kctl(env, "acls", "allow", "User:alice", "read", "topic:orders", ok=False)
            answers[name] = [(done.returncode, "SECURITY_DISABLED" in done.stderr) for done in (listed, created)]
        assert answers["ours"] == answers["kafka"] == [(8, True), (8, True)]
    finally:
        ours.stop()
