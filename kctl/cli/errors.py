"""One table from failures to a one-line message, a hint and an exit code.

Exit codes (documented in `kctl --help` and the man pages):

    0  success
    1  any other error
    2  usage: a bad option, argument or value
    3  not found: no such topic, group, partition or context
    4  connection: no broker answered
    5  auth: the cluster refused our credentials or permissions
    6  timeout: the cluster did not answer in time
    7  unhealthy: a --check found a group, the cluster or a connector in trouble
    8  refused: a read-only context, or a change the cluster would not make

What a failure says and which kind it is comes from `kctl.ops.errors.explain`, which the console
uses too; this module adds only the exit code of each kind.
"""

from __future__ import annotations

from kctl.ops.errors import Kind, explain

OK, ERROR, USAGE, NOT_FOUND, CONNECTION, AUTH, TIMEOUT, UNHEALTHY, REFUSED = range(9)

EXIT_CODE_OF: dict[Kind, int] = {
    Kind.OTHER: ERROR,
    Kind.USAGE: USAGE,
    Kind.NOT_FOUND: NOT_FOUND,
    Kind.CONNECTION: CONNECTION,
    Kind.AUTH: AUTH,
    Kind.TIMEOUT: TIMEOUT,
    Kind.UNHEALTHY: UNHEALTHY,
    Kind.REFUSED: REFUSED,
}

EXIT_CODES = {OK: "success"} | {code: kind.value for kind, code in sorted(EXIT_CODE_OF.items(), key=lambda kc: kc[1])}


class CliError(Exception):
    """A failure with what to tell the user: one line, a hint, an exit code."""

    def __init__(self, message: str, hint: str | None = None, code: int = ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def to_cli_error(error: BaseException) -> CliError:
    """The user-facing form of any failure a command can raise."""
    if isinstance(error, CliError):
        return error
    failure = explain(error)
    return CliError(failure.message, failure.hint, EXIT_CODE_OF[failure.kind])
