"""ACLs as Kafka defines them, and the decision Kafka's StandardAuthorizer makes from them.

Sans-IO: the enums the ACL APIs carry, an `AclBinding`, and `decide()`, which says whether a
principal may perform an operation on a resource from a host, and which ACL (or rule) decides:

1. a super user may do anything;
2. a DENY that matches the principal (or `User:*`), the host (or `*`) and the operation (or ALL)
   wins over everything else;
3. with no ACL at all on the resource, `allow.everyone.if.no.acl.found` decides;
4. an ALLOW that matches allows it, where READ, WRITE, DELETE and ALTER also allow DESCRIBE, and
   ALTER_CONFIGS allows DESCRIBE_CONFIGS;
5. otherwise it is denied.

An ACL's resource pattern matches a name when it is LITERAL and equal (or the wildcard `*`), or
PREFIXED and a prefix of it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar


class ResourceType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class AclOperation(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class AclPermission(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


WILDCARD = "*"
WILDCARD_PRINCIPAL = "User:*"
CLUSTER_NAME = "kafka-cluster"
#: Operations an ALLOW of another operation implies.
IMPLIED_BY: dict[AclOperation, frozenset[AclOperation]] = {
    AclOperation.DESCRIBE: frozenset({AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE,
                                      AclOperation.ALTER}),
    AclOperation.DESCRIBE_CONFIGS: frozenset({AclOperation.ALTER_CONFIGS}),
}


E = TypeVar("E", bound=enum.IntEnum)


def parse_enum(kind: type[E], text: str) -> E:
    """An enum member by name, in any case, with - or _ (`describe-configs`, `DescribeConfigs`)."""
    wanted = text.strip().replace("-", "_").upper()
    for member in kind:
        if member.name == wanted or member.name.replace("_", "") == wanted:
            return member
    raise ValueError(f"unknown {kind.__name__} {text!r}: one of "
                     f"{', '.join(m.name.lower() for m in kind if m.name not in ('UNKNOWN', 'ANY', 'MATCH'))}")


@dataclass(frozen=True, slots=True)
class AclBinding:
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    principal: str
    host: str
    operation: AclOperation
    permission: AclPermission

    def matches_resource(self, resource_type: ResourceType, name: str) -> bool:
        if self.resource_type != resource_type:
            return False
        if self.pattern_type == PatternType.LITERAL:
            return self.resource_name in (name, WILDCARD)
        return self.pattern_type == PatternType.PREFIXED and name.startswith(self.resource_name)

    def describe(self) -> str:
        pattern = "" if self.pattern_type == PatternType.LITERAL else f" ({self.pattern_type.name.lower()})"
        return (f"{self.permission.name} {self.principal} {self.operation.name} on "
                f"{self.resource_type.name.lower()} {self.resource_name!r}{pattern} from host {self.host}")


@dataclass(frozen=True, slots=True)
class AclFilter:
    """Which ACLs a describe or delete means: None and ANY match everything; a MATCH pattern
    matches the ACLs that apply to the name (literal, wildcard and prefixed)."""

    resource_type: ResourceType = ResourceType.ANY
    resource_name: str | None = None
    pattern_type: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: AclOperation = AclOperation.ANY
    permission: AclPermission = AclPermission.ANY


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    acl: AclBinding | None = None  # the ACL that decided, if one did


def decide(
    acls: Iterable[AclBinding],
    principal: str,
    host: str,
    operation: AclOperation,
    resource_type: ResourceType,
    name: str,
    *,
    super_users: Iterable[str] = (),
    allow_if_no_acl: bool = False,
) -> Decision:
    if principal in set(super_users):
        return Decision(True, f"{principal} is a super user (super.users)")
    on_resource = [a for a in acls if a.matches_resource(resource_type, name)]

    def applies(acl: AclBinding) -> bool:
        return acl.principal in (principal, WILDCARD_PRINCIPAL) and acl.host in (host, WILDCARD)

    for acl in on_resource:
        if acl.permission == AclPermission.DENY and applies(acl) and acl.operation in (operation, AclOperation.ALL):
            return Decision(False, "a DENY ACL matches (DENY wins over ALLOW)", acl)
    if not on_resource:
        if allow_if_no_acl:
            return Decision(True, "no ACL on the resource, and allow.everyone.if.no.acl.found is true")
        return Decision(False, "no ACL on the resource (allow.everyone.if.no.acl.found is false)")
    granting = {operation, AclOperation.ALL} | IMPLIED_BY.get(operation, frozenset())
    for acl in on_resource:
        if acl.permission == AclPermission.ALLOW and applies(acl) and acl.operation in granting:
            implied = "" if acl.operation in (operation, AclOperation.ALL) else f" ({acl.operation.name} implies it)"
            return Decision(True, f"an ALLOW ACL matches{implied}", acl)
    return Decision(False, f"no ALLOW ACL for {principal} to {operation.name} it from {host}")
