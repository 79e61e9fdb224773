"""What request handlers may use of the broker: its settings, logs, groups, durability policy and
the address clients reach it at. The `Broker` provides it; a test can build one from parts and call
handlers in-process, with no socket and no subprocess."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .authorizer import Authorizer
    from .config import BrokerConfig
    from .durability import Flusher
    from .entity_configs import EntityConfigs
    from .groups.coordinator import GroupCoordinator
    from .metrics import BrokerMetrics
    from .quotas import ClientQuotas
    from .sasl import SaslSettings
    from .storage.manager import LogManager
    from .transactions.coordinator import TransactionCoordinator


@dataclass(frozen=True, slots=True)
class Peer:
    """Who sent a request: the client's host, the listener it came in on, and its principal
    (`User:alice` from SASL or a client certificate's subject; None when anonymous)."""

    host: str
    listener: str = "PLAINTEXT"
    principal: str | None = None

    @property
    def user(self) -> str:
        """The user name quotas are kept under: the principal's name, or ANONYMOUS as Kafka has it."""
        return self.principal.removeprefix("User:") if self.principal else "ANONYMOUS"


class BrokerContext(Protocol):
    config: BrokerConfig
    node_id: int
    logs: LogManager
    groups: GroupCoordinator
    transactions: TransactionCoordinator
    flusher: Flusher
    sasl: SaslSettings  # mechanisms and users, SCRAM credentials among them
    quotas: ClientQuotas  # produce and fetch byte rates per user and client id
    authorizer: Authorizer  # ACLs; allows everything unless authorizer.class.name is set
    entity_configs: EntityConfigs  # client-metrics subscriptions and group configs
    stopping: bool  # a clean stop has begun: parked fetches answer at once

    def advertised_for(self, listener: str) -> tuple[str, int]:
        """The address clients of `listener` are told: each listener names its own."""
        ...

    def produced(self, topic: str, size: int) -> None:
        """Record bytes appended to an existing topic by an authorized produce (for metrics: a
        series per topic that exists, never per name a client made up)."""
        ...


class ClientConnection(Protocol):
    """One open client connection, as the broker's upkeep sees it (`server.KafkaConnection` is
    one): declared here so that the handlers and the context need not import the server."""

    peer: str
    tasks: set[asyncio.Task[Any]]
    transport: asyncio.Transport | None

    def idle_since(self) -> float | None:
        """When it last moved a byte (the loop's clock), or None while a request is in hand."""
        ...

    def abort(self) -> None: ...


class ConnectionAdmission(Protocol):
    """Whether one more connection from an address may open (`server.ConnectionLimits`)."""

    def admit(self, address: str, open_now: int) -> str | None:
        """None to admit it, or why it is refused."""
        ...

    def release(self, address: str) -> None: ...


class ServingContext(BrokerContext, Protocol):
    """What the connections add: the open connections, and the count of fetched bytes sent by
    sendfile and by copy."""

    connections: set[ClientConnection]

    @property
    def connection_limits(self) -> ConnectionAdmission: ...

    fetch_bytes_sent: list[int]
    metrics: BrokerMetrics | None  # with --metrics
