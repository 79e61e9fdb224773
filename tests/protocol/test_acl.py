"""Kafka's authorization rules over ACLs, with no broker: super users, DENY winning, implied
operations, prefixes and wildcards, and allow.everyone.if.no.acl.found."""

from __future__ import annotations

import pytest

from kctl.protocol.acl import (
    AclBinding,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
    decide,
    parse_enum,
)

T, G = ResourceType.TOPIC, ResourceType.GROUP
OP = AclOperation


def acl(name: str, op: AclOperation, permission: AclPermission = AclPermission.ALLOW, *,
        principal: str = "User:alice", host: str = "*", pattern: PatternType = PatternType.LITERAL,
        kind: ResourceType = T) -> AclBinding:
    return AclBinding(kind, name, pattern, principal, host, op, permission)


ACLS = [
    acl("orders", OP.READ),
    acl("pay", OP.WRITE, pattern=PatternType.PREFIXED),
    acl("payments-secret", OP.ALL, AclPermission.DENY),
    acl("*", OP.DESCRIBE, principal="User:*"),
    acl("audit", OP.ALTER_CONFIGS),
    acl("audit", OP.READ, host="10.0.0.1"),
    acl("billing", OP.READ, kind=G),
]


@pytest.mark.parametrize(
    ("principal", "host", "op", "kind", "name", "allowed", "reason"),
    [
        ("User:alice", "1.2.3.4", OP.READ, T, "orders", True, "an ALLOW ACL matches"),
        ("User:alice", "1.2.3.4", OP.DESCRIBE, T, "orders", True, "an ALLOW ACL matches"),  # the wildcard
        ("User:alice", "1.2.3.4", OP.WRITE, T, "orders", False, "no ALLOW ACL"),
        ("User:alice", "1.2.3.4", OP.WRITE, T, "payments", True, "an ALLOW ACL matches"),  # the prefix
        ("User:alice", "1.2.3.4", OP.DESCRIBE, T, "payments", True, "an ALLOW ACL matches (WRITE implies it)"),
        ("User:alice", "1.2.3.4", OP.WRITE, T, "payments-secret", False, "a DENY ACL matches"),
        ("User:alice", "1.2.3.4", OP.DESCRIBE_CONFIGS, T, "audit", True, "an ALLOW ACL matches (ALTER_CONFIGS"),
        ("User:alice", "1.2.3.4", OP.READ, T, "audit", False, "no ALLOW ACL"),  # that ACL names another host
        ("User:alice", "10.0.0.1", OP.READ, T, "audit", True, "an ALLOW ACL matches"),
        ("User:bob", "1.2.3.4", OP.READ, T, "orders", False, "no ALLOW ACL"),
        ("User:bob", "1.2.3.4", OP.READ, G, "nobody", False, "no ACL on the resource"),
        ("User:admin", "1.2.3.4", OP.WRITE, T, "payments-secret", True, "User:admin is a super user"),
    ],
)
def test_decisions(principal: str, host: str, op: AclOperation, kind: ResourceType, name: str, allowed: bool,
                   reason: str) -> None:
    decision = decide(ACLS, principal, host, op, kind, name, super_users=["User:admin"])
    assert decision.allowed is allowed and decision.reason.startswith(reason), decision


def test_no_acl_at_all_follows_allow_everyone_if_no_acl_found() -> None:
    assert decide([], "User:bob", "h", OP.READ, G, "g", allow_if_no_acl=True).allowed
    assert not decide([], "User:bob", "h", OP.READ, G, "g").allowed


def test_operations_parse_as_kafka_acls_spells_them() -> None:
    assert parse_enum(AclOperation, "DescribeConfigs") is OP.DESCRIBE_CONFIGS
    assert parse_enum(AclOperation, "idempotent-write") is OP.IDEMPOTENT_WRITE
    with pytest.raises(ValueError, match="unknown AclOperation 'fly'"):
        parse_enum(AclOperation, "fly")
