"""What the client raises: Kafka's error codes as exceptions, and failures of its own."""

from __future__ import annotations

from kctl.protocol.errors import ErrorCode


class KafkaError(Exception):
    """An error from a broker (`code` set) or from the client itself (`code` None)."""

    def __init__(self, message: str, code: ErrorCode | None = None, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = code.retriable if retriable is None and code is not None else bool(retriable)

    @classmethod
    def from_code(cls, code: int, context: str = "", message: str | None = None) -> KafkaError:
        error = ErrorCode.of(code)
        text = message or error.message
        return cls(f"{context}: {text} ({error.name})" if context else f"{text} ({error.name})", error)


class ConnectionFailed(KafkaError):
    """A broker could not be reached, or the connection broke; names the address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot reach {address}: {reason}", retriable=True)
        self.address = address


class NoBrokersAvailable(KafkaError):
    """None of the bootstrap servers answered."""

    def __init__(self, failures: dict[str, str]) -> None:
        details = "; ".join(f"{address}: {why}" for address, why in failures.items())
        super().__init__(f"no bootstrap server answered ({details})", retriable=False)
        self.failures = failures


class RequestTimedOut(KafkaError):
    def __init__(self, what: str, address: str, seconds: float) -> None:
        super().__init__(f"{what} to {address} got no answer within {seconds:g}s", ErrorCode.REQUEST_TIMED_OUT)
        self.address = address


class UnsupportedVersion(KafkaError):
    """The broker does not speak any version of an API that we can use."""

    def __init__(self, api: str, address: str) -> None:
        super().__init__(f"{address} does not support {api} in any version kctl speaks", ErrorCode.UNSUPPORTED_VERSION)


def check(code: int, context: str = "", message: str | None = None) -> None:
    """Raise KafkaError for a non-zero error code."""
    if code:
        raise KafkaError.from_code(code, context, message)


class RegistryError(Exception):
    """An error answer from the registry: Confluent's code (40401 ...) and its message."""

    def __init__(self, code: int, message: str, status: int = 0) -> None:
        super().__init__(f"{message} (error {code})")
        self.code = code
        self.message = message
        self.status = status or (code if code < 1000 else int(str(code)[:3]))


class RegistryUnreachable(Exception):
    """No answer from the registry at all."""


class ConnectError(Exception):
    """An error answer from Kafka Connect: the HTTP status (404 no such connector, 409 a rebalance
    or a conflict, 400 a bad config) and Connect's message."""

    def __init__(self, status: int, message: str, request: str = "") -> None:
        super().__init__(f"{message} (HTTP {status}{', ' + request if request else ''})")
        self.status = status
        self.message = message
        self.request = request


class ConnectUnreachable(Exception):
    """No answer from any Kafka Connect worker given."""
