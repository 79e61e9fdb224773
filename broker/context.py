"""What request handlers may use of the broker: its settings, logs, groups, durability policy and
the address clients reach it at. The `Broker` provides it; a test can build one from parts and call
handlers in-process, with no socket and no subprocess."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .config import BrokerConfig
    from .durability import Flusher
    from .groups.coordinator import GroupCoordinator
    from .metrics import BrokerMetrics
    from .sasl import SaslSettings
    from .server import KafkaConnection
    from .storage.manager import LogManager


class BrokerContext(Protocol):
    config: BrokerConfig
    node_id: int
    advertised_host: str
    advertised_port: int
    logs: LogManager
    groups: GroupCoordinator
    flusher: Flusher
    sasl: SaslSettings  # mechanisms and users, SCRAM credentials among them
    stopping: bool  # a clean stop has begun: parked fetches answer at once


class ServingContext(BrokerContext, Protocol):
    """What the connections add: the open connections, and the count of fetched bytes sent by
    sendfile and by copy."""

    connections: set[KafkaConnection]
    fetch_bytes_sent: list[int]
    metrics: BrokerMetrics | None  # with --metrics
