"""What went wrong, in words for people: domain exceptions and the one table that explains any failure.

Operations raise `OpsError`s, which say what kind of failure it is but carry no exit code: the CLI
maps each `Kind` to its exit code (`kctl.cli.errors`), and the console shows the message and hint.
"""

from __future__ import annotations

import enum
from typing import ClassVar, NamedTuple

from kctl.client.errors import (
    ConnectError,
    ConnectionFailed,
    ConnectUnreachable,
    KafkaError,
    NoBrokersAvailable,
    RegistryError,
    RegistryUnreachable,
    RequestTimedOut,
)
from kctl.protocol.errors import ErrorCode


class Kind(enum.Enum):
    USAGE = "usage: a bad option, argument or value"
    NOT_FOUND = "not found: no such topic, group, partition or context"
    CONNECTION = "connection: no broker answered"
    AUTH = "auth: the cluster refused our credentials or permissions"
    TIMEOUT = "timeout: the cluster did not answer in time"
    UNHEALTHY = "unhealthy: a --check found a group, the cluster or a connector in trouble"
    REFUSED = "refused: a read-only context, or a change the cluster would not make"
    OTHER = "any other error"


class OpsError(Exception):
    """A failure with what to tell the user: one line and, where one helps, a hint."""

    kind: ClassVar[Kind] = Kind.OTHER

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadUsage(OpsError):
    kind = Kind.USAGE


class NotFound(OpsError):
    kind = Kind.NOT_FOUND


class Refused(OpsError):
    kind = Kind.REFUSED


class Unreachable(OpsError):
    kind = Kind.CONNECTION


class AuthFailed(OpsError):
    kind = Kind.AUTH


class Failure(NamedTuple):
    kind: Kind
    message: str
    hint: str | None


_NOT_FOUND = frozenset({ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.GROUP_ID_NOT_FOUND,
                        ErrorCode.UNKNOWN_TOPIC_ID})
_AUTH = frozenset({ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED,
                   ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ErrorCode.SASL_AUTHENTICATION_FAILED,
                   ErrorCode.ILLEGAL_SASL_STATE, ErrorCode.UNSUPPORTED_SASL_MECHANISM})
_HINTS: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: "list topics with `kctl topics list`",
    ErrorCode.GROUP_ID_NOT_FOUND: "list groups with `kctl groups list`",
    ErrorCode.NON_EMPTY_GROUP: "stop the group's consumers first; `kctl groups describe` shows them",
    ErrorCode.TOPIC_ALREADY_EXISTS: "pick another name, or change it with `kctl topics alter`",
    ErrorCode.INVALID_CONFIG: "`kctl configs get TOPIC` lists the settings and their values",
    ErrorCode.INVALID_PARTITIONS: "a topic has at least one partition, and its count can only grow",
    ErrorCode.INVALID_REPLICATION_FACTOR: "the replication factor cannot exceed the number of brokers",
    ErrorCode.POLICY_VIOLATION: "the cluster's create-topic policy refused it",
    ErrorCode.TOPIC_DELETION_DISABLED: "the cluster has delete.topic.enable=false",
    ErrorCode.REBALANCE_IN_PROGRESS: "the group is rebalancing; try again in a moment",
    ErrorCode.SECURITY_DISABLED: "the cluster has no authorizer (authorizer.class.name): ACLs do not apply there",
}
_SLOW = "the cluster is slow or unreachable; try --timeout with a larger value"


def _kafka_kind(error: KafkaError) -> tuple[Kind, str | None]:
    if isinstance(error, NoBrokersAvailable | ConnectionFailed):
        return Kind.CONNECTION, ("check --bootstrap-server / the context, and that the brokers are up "
                                 "(`kctl broker status` for the built-in one)")
    if isinstance(error, RequestTimedOut) or error.code is ErrorCode.REQUEST_TIMED_OUT:
        return Kind.TIMEOUT, _SLOW
    code = error.code
    if code in _NOT_FOUND:
        return Kind.NOT_FOUND, _HINTS.get(code)
    if code in _AUTH:
        return Kind.AUTH, "check the context's SASL/TLS settings and the ACLs for this principal"
    if code is not None and code in _HINTS:
        return Kind.REFUSED, _HINTS[code]
    return Kind.OTHER, None


def explain(error: BaseException) -> Failure:
    """The one table from any failure an operation can raise to what a person is told."""
    if isinstance(error, OpsError):
        return Failure(error.kind, error.message, error.hint)
    if isinstance(error, KafkaError):
        kind, hint = _kafka_kind(error)
        return Failure(kind, str(error), hint)
    if isinstance(error, RegistryError):
        return _registry_failure(error)
    if isinstance(error, RegistryUnreachable):
        return Failure(Kind.CONNECTION, str(error), "check --schema-registry / the context's schema-registry url")
    if isinstance(error, ConnectError):
        return _connect_failure(error)
    if isinstance(error, ConnectUnreachable):
        return Failure(Kind.CONNECTION, str(error), "check --connect / the context's connect url, and the workers")
    if isinstance(error, TimeoutError):
        return Failure(Kind.TIMEOUT, "the cluster did not answer in time", "try --timeout with a larger value")
    if isinstance(error, OSError):
        return Failure(Kind.OTHER, str(error), None)
    return Failure(Kind.OTHER, f"unexpected {type(error).__name__}: {error}", "this is a kctl bug; please report it")


def _registry_failure(error: RegistryError) -> Failure:
    """Confluent's registry codes: 404xx not found, 409 incompatible, 422xx invalid, 401/403 auth."""
    message = f"schema registry: {error.message}"
    if error.status == 404:
        return Failure(Kind.NOT_FOUND, message, "list subjects with `kctl schemas list`")
    if error.status in (401, 403):
        return Failure(Kind.AUTH, message, "check the context's schema-registry username and password")
    if error.status == 409:
        hint = "`kctl schemas check` explains; `kctl schemas compatibility` shows the level"
        return Failure(Kind.REFUSED, message, hint)
    if error.status == 422:
        return Failure(Kind.USAGE, message, None)
    return Failure(Kind.OTHER, message, None)


def _connect_failure(error: ConnectError) -> Failure:
    """Kafka Connect's statuses: 404 not found, 409 a rebalance or conflict, 400 bad input, 401/403 auth."""
    message = f"Kafka Connect: {error.message}"
    if error.status == 404:
        return Failure(Kind.NOT_FOUND, message, "list connectors with `kctl connect list`")
    if error.status in (401, 403):
        return Failure(Kind.AUTH, message, "check the connect cluster's username and password")
    if error.status == 409:
        return Failure(Kind.REFUSED, message, "the workers are rebalancing or the change conflicts; try again shortly")
    if error.status == 400 or error.status == 422:
        return Failure(Kind.USAGE, message, None)
    return Failure(Kind.OTHER, message, None)
