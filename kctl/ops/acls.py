"""ACLs on a cluster with an authorizer: list, create, delete, and `check`, which says whether a
principal may do something and which ACL (or rule) decides, by Kafka's own rules
(`kctl.protocol.acl.decide`) over the ACLs and broker settings the cluster reports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kctl.client import Admin
from kctl.protocol.acl import (
    CLUSTER_NAME,
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermission,
    Decision,
    PatternType,
    ResourceType,
    decide,
    parse_enum,
)
from kctl.protocol.enums import ConfigResourceType

from .errors import BadUsage

#: `--topic` and the like: the option's word, and the resource type.
RESOURCE_WORDS = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.CLUSTER,
                  "transactional-id": ResourceType.TRANSACTIONAL_ID}


def operation(text: str) -> AclOperation:
    try:
        return parse_enum(AclOperation, text)
    except ValueError as exc:
        raise BadUsage(str(exc)) from None


def pattern(text: str | None, default: PatternType) -> PatternType:
    if text is None:
        return default
    try:
        return parse_enum(PatternType, text)
    except ValueError as exc:
        raise BadUsage(str(exc)) from None


def resource(topic: str | None = None, group: str | None = None, cluster: bool = False,
             transactional_id: str | None = None) -> tuple[ResourceType, str] | None:
    """The one resource the options name, or None for none."""
    named = [(t, n) for t, n in ((ResourceType.TOPIC, topic), (ResourceType.GROUP, group),
                                 (ResourceType.TRANSACTIONAL_ID, transactional_id)) if n is not None]
    if cluster:
        named.append((ResourceType.CLUSTER, CLUSTER_NAME))
    if len(named) > 1:
        raise BadUsage("name one resource: --topic, --group, --cluster or --transactional-id")
    return named[0] if named else None


def short_resource(text: str) -> tuple[ResourceType, str, PatternType]:
    """`topic:orders`, `topic:orders-*` (a prefix), `group:billing`, `transactional-id:tx`, `cluster`."""
    if text == "cluster":
        return ResourceType.CLUSTER, CLUSTER_NAME, PatternType.LITERAL
    word, sep, name = text.partition(":")
    kind = RESOURCE_WORDS.get(word)
    if not sep or kind is None or not name:
        raise BadUsage(f"resource {text!r} is not TYPE:NAME", "e.g. topic:orders, topic:orders-* (a prefix), "
                                                                "group:billing, transactional-id:tx, cluster")
    if name.endswith("*") and name != "*":
        return kind, name[:-1], PatternType.PREFIXED
    return kind, name, PatternType.LITERAL


def row(acl: AclBinding) -> dict[str, Any]:
    return {"principal": acl.principal, "host": acl.host, "operation": acl.operation.name,
            "permission": acl.permission.name, "resource_type": acl.resource_type.name,
            "resource": acl.resource_name, "pattern": acl.pattern_type.name}


def query(found: tuple[ResourceType, str] | None, principal: str | None, pattern_type: PatternType) -> AclFilter:
    if found is None:
        return AclFilter(principal=principal, pattern_type=pattern_type)
    return AclFilter(found[0], found[1], pattern_type, principal)


async def acl_rows(admin: Admin, wanted: AclFilter) -> list[dict[str, Any]]:
    found = await admin.describe_acls(wanted)
    return sorted((row(a) for a in found), key=lambda r: (r["resource_type"], r["resource"], r["principal"],
                                                          r["operation"], r["permission"]))


async def create(admin: Admin, bindings: Iterable[AclBinding]) -> list[dict[str, Any]]:
    chosen = list(bindings)
    for error in await admin.create_acls(chosen):
        if error is not None:
            raise error
    return [row(a) for a in chosen]


def bindings(principals: Iterable[tuple[str, AclPermission]], operations: Iterable[AclOperation],
             hosts: Iterable[str], target: tuple[ResourceType, str], pattern_type: PatternType) -> list[AclBinding]:
    out = []
    for principal, permission in principals:
        if ":" not in principal:
            raise BadUsage(f"principal {principal!r} is not TYPE:NAME", "e.g. User:alice, or User:* for everyone")
        for op in operations:
            for host in hosts:
                out.append(AclBinding(target[0], target[1], pattern_type, principal, host, op, permission))
    if not out:
        raise BadUsage("name a principal and an operation, e.g. --allow-principal User:alice --operation Read")
    return out


async def check(admin: Admin, principal: str, host: str, op: AclOperation, target: tuple[ResourceType, str], *,
                super_users: Iterable[str] = (), allow_if_no_acl: bool | None = None
                ) -> tuple[Decision, list[AclBinding], list[str]]:
    """The decision, the ACLs on the resource, and caveats. `super.users` and
    `allow.everyone.if.no.acl.found` come from the broker's configs where it shows them; Apache
    Kafka hides both from clients (their values read as null), so they can be given here."""
    acls = await admin.describe_acls(AclFilter(target[0], target[1], PatternType.MATCH))
    chosen_super = list(super_users)
    caveats: list[str] = []
    _, _, brokers = await admin.describe_cluster()
    values: dict[str, str | None] = {}
    if brokers:
        configs = await admin.describe_configs(ConfigResourceType.BROKER, [str(brokers[0].node_id)])
        entries = next(iter(configs.values()))
        if not isinstance(entries, Exception):
            values = {e.name: e.value for e in entries}
    shown_super = values.get("super.users")
    if shown_super:
        chosen_super += [p.strip() for p in shown_super.split(";") if p.strip()]
    elif "super.users" in values and not chosen_super:
        caveats.append("the cluster does not show super.users to clients: pass --super-user for each one")
    if allow_if_no_acl is None:
        shown_allow = values.get("allow.everyone.if.no.acl.found")
        if shown_allow is None and "allow.everyone.if.no.acl.found" in values:
            caveats.append("the cluster does not show allow.everyone.if.no.acl.found: taken as false "
                           "(--allow-if-no-acl says otherwise)")
        allow_if_no_acl = (shown_allow or "false").lower() == "true"
    decision = decide(acls, principal, host, op, target[0], target[1], super_users=chosen_super,
                      allow_if_no_acl=allow_if_no_acl)
    return decision, acls, caveats
