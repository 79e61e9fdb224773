"""The broker's authorizer: ACLs kept in the data directory, decided by Kafka's rules.

On when `authorizer.class.name` is set (Kafka's `org.apache.kafka.metadata.authorizer.StandardAuthorizer`
is the name to use, so a Kafka config file reads the same here), with `super.users` (principals
separated by `;`) and `allow.everyone.if.no.acl.found`. The rules themselves live in
`kctl.protocol.acl.decide`; here are the store, Kafka's checks on new ACLs and the filters that
describe and delete them. Without an authorizer everything is allowed, and the ACL APIs answer
SECURITY_DISABLED, as Kafka does.

A connection's principal is its SASL user or its TLS client certificate's subject, and
`User:ANONYMOUS` otherwise, as Kafka names it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from kctl.protocol.acl import (
    CLUSTER_NAME,
    WILDCARD,
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
    decide,
)
from kctl.protocol.errors import ErrorCode

from .config import BrokerConfig
from .storage import disk

if TYPE_CHECKING:
    from .context import Peer

ACLS_FILE = "acls.json"
ANONYMOUS = "User:ANONYMOUS"

log = logging.getLogger("broker.authorizer")

#: The operations that apply to each resource type (Kafka's AclEntry.supportedOperations).
_OPERATIONS_OF = {
    ResourceType.CLUSTER: (AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
                           AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER,
                           AclOperation.DESCRIBE),
    ResourceType.TOPIC: (AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE,
                         AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS,
                         AclOperation.ALTER_CONFIGS),
    ResourceType.GROUP: (AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE),
}


class AclError(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def _encode(acl: AclBinding) -> list[object]:
    return [acl.resource_type.name, acl.resource_name, acl.pattern_type.name, acl.principal, acl.host,
            acl.operation.name, acl.permission.name]


def _decode(raw: list[str]) -> AclBinding:
    return AclBinding(ResourceType[raw[0]], raw[1], PatternType[raw[2]], raw[3], raw[4], AclOperation[raw[5]],
                      AclPermission[raw[6]])


def filter_matches(wanted: AclFilter, acl: AclBinding) -> bool:
    """Kafka's AclBindingFilter semantics: ANY and None match anything; a MATCH pattern means the
    ACLs that apply to the name (itself, the wildcard, and prefixes of it)."""
    if wanted.resource_type not in (ResourceType.ANY, acl.resource_type):
        return False
    if wanted.pattern_type == PatternType.MATCH:
        if wanted.resource_name is not None and not acl.matches_resource(acl.resource_type, wanted.resource_name):
            return False
    else:
        if wanted.pattern_type not in (PatternType.ANY, acl.pattern_type):
            return False
        if wanted.resource_name is not None and wanted.resource_name != acl.resource_name:
            return False
    return (wanted.principal in (None, acl.principal) and wanted.host in (None, acl.host)
            and wanted.operation in (AclOperation.ANY, acl.operation)
            and wanted.permission in (AclPermission.ANY, acl.permission))


def check_filter(wanted: AclFilter) -> None:
    if ResourceType.UNKNOWN in (wanted.resource_type,) or wanted.pattern_type == PatternType.UNKNOWN:
        raise AclError(ErrorCode.INVALID_REQUEST, "The filter has an unknown resource or pattern type")
    if wanted.operation == AclOperation.UNKNOWN or wanted.permission == AclPermission.UNKNOWN:
        raise AclError(ErrorCode.INVALID_REQUEST, "The filter has an unknown operation or permission type")


class Authorizer:
    def __init__(self, config: BrokerConfig, data_dir: Path) -> None:
        self.enabled = bool(config["authorizer.class.name"])
        self.super_users = {p.strip() for p in (config["super.users"] or "").split(";") if p.strip()}
        self.allow_if_no_acl: bool = config["allow.everyone.if.no.acl.found"]
        self.path = data_dir / ACLS_FILE
        self.acls: list[AclBinding] = []
        if self.path.exists():
            self.acls = [_decode(raw) for raw in json.loads(self.path.read_text())]

    # ---- decisions ---------------------------------------------------------------------------
    def allowed(self, principal: str | None, host: str, operation: AclOperation, resource_type: ResourceType,
                name: str) -> bool:
        if not self.enabled:
            return True
        return decide(self.acls, principal or ANONYMOUS, host, operation, resource_type, name,
                      super_users=self.super_users, allow_if_no_acl=self.allow_if_no_acl).allowed

    def permits(self, peer: Peer, operation: AclOperation, resource_type: ResourceType,
                name: str = CLUSTER_NAME) -> bool:
        """Whether the connection's principal, from its host, may do this (always, with no authorizer)."""
        return self.allowed(peer.principal, peer.host, operation, resource_type, name)

    def authorized_operations(self, peer: Peer, resource_type: ResourceType, name: str = CLUSTER_NAME) -> int:
        """The bit field of operations the principal may do on the resource, of those that apply
        to its type, as Kafka's AuthHelper.authorizedOperations answers."""
        return sum(1 << op for op in _OPERATIONS_OF[resource_type] if self.permits(peer, op, resource_type, name))

    def denied_topics(self, peer: Peer, operation: AclOperation, names: Iterable[str]) -> set[str]:
        """The topics among `names` the connection may not `operation` (none, with no authorizer)."""
        if not self.enabled:
            return set()
        return {n for n in set(names) if not self.permits(peer, operation, ResourceType.TOPIC, n)}

    def may_write_some_topic(self, peer: Peer) -> bool:
        """Whether an ALLOW ACL lets the principal write to any topic (which, since KIP-679,
        allows an idempotent producer without IDEMPOTENT_WRITE on the cluster)."""
        if not self.enabled:
            return True
        principal = peer.principal or ANONYMOUS
        return any(a.resource_type == ResourceType.TOPIC and a.permission == AclPermission.ALLOW
                   and a.operation in (AclOperation.WRITE, AclOperation.ALL)
                   and a.principal in (principal, "User:*") and a.host in (peer.host, WILDCARD) for a in self.acls)

    # ---- the ACL APIs --------------------------------------------------------------------------
    @staticmethod
    def check_new(acl: AclBinding) -> None:
        """Kafka's checks on an ACL to create."""
        if acl.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
            raise AclError(ErrorCode.INVALID_REQUEST, "Invalid resourceType " + acl.resource_type.name)
        if acl.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
            raise AclError(ErrorCode.INVALID_REQUEST, "Invalid patternType " + acl.pattern_type.name)
        if acl.operation in (AclOperation.UNKNOWN, AclOperation.ANY):
            raise AclError(ErrorCode.INVALID_REQUEST, "Invalid operation " + acl.operation.name)
        if acl.permission in (AclPermission.UNKNOWN, AclPermission.ANY):
            raise AclError(ErrorCode.INVALID_REQUEST, "Invalid permissionType " + acl.permission.name)
        kind, sep, name = acl.principal.partition(":")
        if not sep or not kind or not name:
            raise AclError(ErrorCode.INVALID_REQUEST, f"Could not parse principal from `{acl.principal}` "
                                                      "(no colon is present separating the principal type from the "
                                                      "principal name)")
        if not acl.resource_name:
            raise AclError(ErrorCode.INVALID_REQUEST, "Resource name should not be empty")
        if acl.resource_type == ResourceType.CLUSTER and acl.resource_name != CLUSTER_NAME:
            raise AclError(ErrorCode.INVALID_REQUEST, "The only valid name for the CLUSTER resource is kafka-cluster")
        if acl.pattern_type == PatternType.PREFIXED and acl.resource_name == WILDCARD:
            raise AclError(ErrorCode.INVALID_REQUEST, "A prefixed ACL cannot be for the wildcard resource")

    def create(self, acls: Iterable[AclBinding]) -> list[AclError | None]:
        out: list[AclError | None] = []
        kept = list(self.acls)
        for acl in acls:
            try:
                self.check_new(acl)
            except AclError as exc:
                out.append(exc)
                continue
            if acl not in kept:
                kept.append(acl)
            out.append(None)
        failed = self._save(kept)
        return [error if error is not None else failed for error in out]

    def describe(self, wanted: AclFilter) -> list[AclBinding]:
        check_filter(wanted)
        return [acl for acl in self.acls if filter_matches(wanted, acl)]

    def delete(self, filters: Iterable[AclFilter]) -> list[list[AclBinding] | AclError]:
        out: list[list[AclBinding] | AclError] = []
        kept = list(self.acls)
        for wanted in filters:
            try:
                check_filter(wanted)
            except AclError as exc:
                out.append(exc)
                continue
            matched = [acl for acl in kept if filter_matches(wanted, acl)]
            kept = [acl for acl in kept if acl not in matched]
            out.append(matched)
        failed = self._save(kept)
        return [failed if failed is not None and not isinstance(result, AclError) else result for result in out]

    def _save(self, acls: list[AclBinding]) -> AclError | None:
        """Write `acls` and make them the ones in force; if the write fails, those in force stay
        and the error says why."""
        if acls == self.acls:
            return None
        try:
            disk.write_atomically(self.path, json.dumps([_encode(a) for a in acls], indent=1))
        except OSError as exc:
            log.error("cannot save the ACLs: %s", disk.describe(exc))
            return AclError(ErrorCode.KAFKA_STORAGE_ERROR, f"the ACLs could not be saved: {disk.describe(exc)}")
        self.acls = acls
        return None
