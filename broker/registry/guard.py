"""Who may use the Schema Registry when the broker is secured (SASL users configured).

Authentication: HTTP basic auth against the broker's own users, the [sasl.users] passwords and
the SCRAM credentials alike (a SCRAM password is checked by deriving its keys again, as a SCRAM
login would). Authorization, when the broker has an authorizer: a subject is guarded by the ACLs
of the topic it is for (TopicNameStrategy: `orders-value` is topic `orders`; a subject of another
form is a topic of its own name), as Confluent's topic-based registry authorizer does. Reading a
subject needs READ or DESCRIBE on that topic, writing it (registering, deleting, its config and
mode) WRITE; the registry-wide config and mode need ALTER_CONFIGS on the cluster. Super users may
do anything; lists show only the subjects the caller may read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kctl.protocol.acl import AclOperation, ResourceType

if TYPE_CHECKING:
    from ..authorizer import Authorizer
    from ..sasl import SaslSettings

CLUSTER_NAME = "kafka-cluster"
READ, WRITE, ADMIN = "read", "write", "admin"


def topic_of(subject: str) -> str:
    for suffix in ("-value", "-key"):
        if subject.endswith(suffix) and len(subject) > len(suffix):
            return subject[: -len(suffix)]
    return subject


class RegistryGuard:
    def __init__(self, sasl: SaslSettings, authorizer: Authorizer) -> None:
        self.sasl = sasl
        self.authorizer = authorizer

    def principal(self, authorization: str | None) -> str | None:
        """`User:name` for a valid `Authorization` header (basic, or an OAuth bearer token), else None."""
        user = self.sasl.check_http_auth(authorization)
        return None if user is None else f"User:{user}"

    def may(self, principal: str, host: str, access: str, subject: str | None) -> bool:
        """Whether `principal` may read or write `subject` (None: the registry-wide settings)."""
        if not self.authorizer.enabled:
            return True
        allowed = self.authorizer.allowed
        if subject is None:
            if access == READ:
                return True
            return allowed(principal, host, AclOperation.ALTER_CONFIGS, ResourceType.CLUSTER, CLUSTER_NAME)
        topic = topic_of(subject)
        if access == READ:
            return (allowed(principal, host, AclOperation.READ, ResourceType.TOPIC, topic)
                    or allowed(principal, host, AclOperation.DESCRIBE, ResourceType.TOPIC, topic))
        return allowed(principal, host, AclOperation.WRITE, ResourceType.TOPIC, topic)
