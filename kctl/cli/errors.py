"""One table from failures to a one-line message, a hint and an exit code.

Exit codes (documented in `kctl --help` and the man pages):

    0  success
    1  any other error
    2  usage: a bad option, argument or value
    3  not found: no such topic, group, partition or context
    4  connection: no broker answered
    5  auth: the cluster refused our credentials or permissions
    6  timeout: the cluster did not answer in time
    7  unhealthy: `kctl lag --check` found a group in trouble
    8  refused: a read-only context, or a change the cluster would not make
"""

from __future__ import annotations

from dataclasses import dataclass

from kctl.client.errors import ConnectionFailed, KafkaError, NoBrokersAvailable, RequestTimedOut
from kctl.protocol.errors import ErrorCode

OK, ERROR, USAGE, NOT_FOUND, CONNECTION, AUTH, TIMEOUT, UNHEALTHY, REFUSED = range(9)

EXIT_CODES = {
    OK: "success",
    ERROR: "any other error",
    USAGE: "usage: a bad option, argument or value",
    NOT_FOUND: "not found: no such topic, group, partition or context",
    CONNECTION: "connection: no broker answered",
    AUTH: "auth: the cluster refused our credentials or permissions",
    TIMEOUT: "timeout: the cluster did not answer in time",
    UNHEALTHY: "unhealthy: `kctl lag --check` found a group in trouble",
    REFUSED: "refused: a read-only context, or a change the cluster would not make",
}


class CliError(Exception):
    """A failure with what to tell the user: one line, a hint, an exit code."""

    def __init__(self, message: str, hint: str | None = None, code: int = ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True, slots=True)
class _Rule:
    code: int
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
    ErrorCode.INVALID_PARTITIONS: "a topic's partition count can only grow",
    ErrorCode.INVALID_REPLICATION_FACTOR: "the replication factor cannot exceed the number of brokers",
    ErrorCode.POLICY_VIOLATION: "the cluster's create-topic policy refused it",
    ErrorCode.TOPIC_DELETION_DISABLED: "the cluster has delete.topic.enable=false",
    ErrorCode.REBALANCE_IN_PROGRESS: "the group is rebalancing; try again in a moment",
}


def _rule_for(error: KafkaError) -> _Rule:
    if isinstance(error, NoBrokersAvailable | ConnectionFailed):
        return _Rule(CONNECTION, "check --bootstrap-server / the context, and that the brokers are up "
                                 "(`kctl broker status` for the built-in one)")
    if isinstance(error, RequestTimedOut):
        return _Rule(TIMEOUT, "the cluster is slow or unreachable; try --timeout with a larger value")
    code = error.code
    if code in _NOT_FOUND:
        return _Rule(NOT_FOUND, _HINTS.get(code))
    if code in _AUTH:
        return _Rule(AUTH, "check the context's SASL/TLS settings and the ACLs for this principal")
    if code is ErrorCode.REQUEST_TIMED_OUT:
        return _Rule(TIMEOUT, "the cluster is slow or unreachable; try --timeout with a larger value")
    if code is not None:
        return _Rule(REFUSED if code in _HINTS else ERROR, _HINTS.get(code))
    return _Rule(ERROR, None)


def to_cli_error(error: BaseException) -> CliError:
    """The user-facing form of any failure a command can raise."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, KafkaError):
        rule = _rule_for(error)
        return CliError(str(error), rule.hint, rule.code)
    if isinstance(error, TimeoutError):
        return CliError("the cluster did not answer in time", "try --timeout with a larger value", TIMEOUT)
    if isinstance(error, OSError):
        return CliError(str(error), None, ERROR)
    return CliError(f"unexpected {type(error).__name__}: {error}", "this is a kctl bug; please report it", ERROR)
