"""The client's view of a cluster: brokers, topic metadata, connections, coordinators, retries.

Everything else (admin, producer, consumer) goes through one `Cluster`: it opens and reuses one
connection per broker, reconnects with backoff, refreshes metadata when leadership moves, finds
group coordinators, and retries retriable errors inside an overall deadline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from kctl.protocol.api import Request
from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.find_coordinator import FindCoordinatorRequest
from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic, MetadataResponse

from .connection import Authenticator, BrokerConnection, ConnectionConfig, R
from .errors import ConnectionFailed, KafkaError, NoBrokersAvailable
from .types import BrokerInfo, PartitionInfo, TopicInfo, TopicPartition

log = logging.getLogger("kctl.client")

T = TypeVar("T")
FIND_COORDINATOR = 10
DEFAULT_PORT = 9092

#: Errors that mean our metadata is stale: refresh it before retrying.
STALE_METADATA = frozenset({
    ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH, ErrorCode.NOT_CONTROLLER,
    ErrorCode.KAFKA_STORAGE_ERROR,
})
#: FindCoordinator's key types.
GROUP, TRANSACTION = 0, 1
#: Errors that mean a group's coordinator moved.
COORDINATOR_MOVED = frozenset({ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE})


def parse_bootstrap(servers: str | Iterable[str]) -> list[tuple[str, int]]:
    """'host:port,host2' -> [(host, port), (host2, 9092)]; IPv6 in brackets."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    out: list[tuple[str, int]] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":") or str(DEFAULT_PORT)
        elif item.count(":") == 1:
            host, port = item.split(":")
        else:
            host, port = item, str(DEFAULT_PORT)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise KafkaError(f"bad bootstrap server {item!r}: the port must be a number from 1 to 65535")
        out.append((host, int(port)))
    if not out:
        raise KafkaError("no bootstrap servers given")
    return out


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    @property
    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at


#: Connection channels to one broker: requests in order on MAIN, a consumer's long polls on FETCH.
MAIN, FETCH = "main", "fetch"


class Cluster:
    def __init__(
        self,
        bootstrap_servers: str | Iterable[str],
        *,
        client_id: str = "kctl",
        request_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        authenticator: Authenticator | None = None,
        retry_backoff_s: float = 0.1,
        reconnect_backoff_max_s: float = 1.0,
        metadata_max_age_s: float = 300.0,
        version_caps: dict[int, int] | None = None,
    ) -> None:
        self.bootstrap = parse_bootstrap(bootstrap_servers)
        self.config = ConnectionConfig(client_id, request_timeout_s, connect_timeout_s, ssl_context, authenticator,
                                       version_caps=dict(version_caps or {}))
        self.retry_backoff_s = retry_backoff_s
        self.reconnect_backoff_max_s = reconnect_backoff_max_s
        self.metadata_max_age_s = metadata_max_age_s
        self.cluster_id: str | None = None
        self.controller_id = -1
        self.brokers: dict[int, BrokerInfo] = {}
        self.topics: dict[str, TopicInfo] = {}
        self.metadata_at = 0.0
        # Per (node, channel): fetches have a channel of their own, because Apache Kafka reads a
        # connection's next request only after answering the one before, and a fetch parked for
        # fetch.max.wait.ms would hold up a produce or a commit queued behind it.
        self._connections: dict[tuple[int, str], BrokerConnection] = {}
        self._connecting: dict[tuple[int, str], asyncio.Task[BrokerConnection]] = {}
        self._backoff: dict[int, tuple[float, float]] = {}  # node -> (next attempt at, current backoff)
        self._bootstrap_connection: BrokerConnection | None = None
        self._coordinators: dict[tuple[int, str], int] = {}  # (key type, key) -> node
        self._metadata_lock = asyncio.Lock()
        self._closed = False

    # ---- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Reach a bootstrap server and learn the brokers; raises NoBrokersAvailable naming each address."""
        await self.refresh_metadata([])

    async def close(self) -> None:
        self._closed = True
        for task in self._connecting.values():
            task.cancel()
        for connection in list(self._connections.values()):
            connection.close()
        if self._bootstrap_connection is not None:
            self._bootstrap_connection.close()
        self._connections.clear()

    async def __aenter__(self) -> Cluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- connections ---------------------------------------------------------------------------
    async def connection(self, node_id: int, channel: str = MAIN) -> BrokerConnection:
        """The open connection to a broker for this channel (MAIN, or FETCH for a consumer's
        long polls), opened (with backoff after failures) when needed."""
        key = (node_id, channel)
        existing = self._connections.get(key)
        if existing is not None and not existing.closed:
            if existing.session_ended:  # idle past its SASL session: the broker would close it
                existing.close()
            else:
                if existing.reauthentication_due:
                    await existing.reauthenticate()
                return existing
        task = self._connecting.get(key)
        if task is None:
            task = asyncio.ensure_future(self._connect(node_id, channel))
            self._connecting[key] = task
            task.add_done_callback(functools.partial(self._connected, key))
        return await asyncio.shield(task)

    def _connected(self, key: tuple[int, str], task: asyncio.Task[BrokerConnection]) -> None:
        self._connecting.pop(key, None)
        if not task.cancelled():
            task.exception()  # the waiters see it; a failure nobody waited for is not an error

    async def _connect(self, node_id: int, channel: str) -> BrokerConnection:
        broker = self.brokers.get(node_id)
        if broker is None:
            await self.refresh_metadata([])
            broker = self.brokers.get(node_id)
            if broker is None:
                raise KafkaError(f"broker {node_id} is not in the cluster's metadata", retriable=True)
        next_at, backoff = self._backoff.get(node_id, (0.0, 0.0))
        wait = next_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            connection = await BrokerConnection.open(broker.host, broker.port, self.config, node_id)
        except ConnectionFailed:
            backoff = min(max(backoff * 2, 0.05), self.reconnect_backoff_max_s)
            import random  # only on a failure: not every command pays for its import

            self._backoff[node_id] = (time.monotonic() + backoff * random.uniform(0.8, 1.2), backoff)
            raise
        self._backoff.pop(node_id, None)
        key = (node_id, channel)
        connection.on_close = functools.partial(self._forget, key)
        self._connections[key] = connection
        return connection

    def _forget(self, key: tuple[int, str], connection: BrokerConnection) -> None:
        if self._connections.get(key) is connection:
            del self._connections[key]

    async def any_connection(self) -> BrokerConnection:
        """A connection to some broker: an open one if there is one, else the bootstrap servers in turn."""
        for (node_id, channel), connection in list(self._connections.items()):
            if not connection.closed:
                return await self.connection(node_id, channel)  # re-authenticated if it is due
        bootstrap = self._bootstrap_connection
        if bootstrap is not None and not bootstrap.closed:
            if bootstrap.session_ended:
                bootstrap.close()
            else:
                if bootstrap.reauthentication_due:
                    await bootstrap.reauthenticate()
                return bootstrap
        for node_id in list(self.brokers):
            try:
                return await self.connection(node_id)
            except ConnectionFailed:
                continue
        failures: dict[str, str] = {}
        for host, port in self.bootstrap:
            try:
                self._bootstrap_connection = await BrokerConnection.open(host, port, self.config)
                return self._bootstrap_connection
            except ConnectionFailed as exc:
                failures[f"{host}:{port}"] = str(exc).split(": ", 1)[-1]
        raise NoBrokersAvailable(failures)

    def connections(self) -> list[BrokerConnection]:
        return [c for c in self._connections.values() if not c.closed]

    @property
    def requests_sent(self) -> int:
        """Requests sent on every connection so far (tests count round trips with it)."""
        total = sum(c.requests_sent for c in self._connections.values())
        if self._bootstrap_connection is not None:
            total += self._bootstrap_connection.requests_sent
        return total

    async def send(self, node_id: int, request: Request[R], *, version: int | None = None,
                   timeout: float | None = None, channel: str = MAIN) -> R:
        connection = await self.connection(node_id, channel)
        return await connection.request(request, version=version, timeout=timeout)

    async def send_any(self, request: Request[R], *, timeout: float | None = None) -> R:
        connection = await self.any_connection()
        return await connection.request(request, timeout=timeout)

    def version(self, api_key: int) -> int:
        """The version negotiated with the brokers we are connected to (the lowest of them), or -1."""
        versions = [c.versions.get(api_key, -1) for c in self.connections()]
        if not versions and self._bootstrap_connection is not None:
            versions = [self._bootstrap_connection.versions.get(api_key, -1)]
        return min(versions) if versions else -1

    # ---- metadata ------------------------------------------------------------------------------
    async def refresh_metadata(self, topics: Iterable[str] | None = None, *,
                               allow_auto_create: bool = False) -> MetadataResponse:
        """Fetch metadata for `topics` (None: every topic; []: brokers only) and update the cache."""
        names = None if topics is None else sorted(set(topics))
        request = MetadataRequest(
            topics=None if names is None else [MetadataRequestTopic(name=n) for n in names],
            allow_auto_topic_creation=allow_auto_create,
        )
        async with self._metadata_lock:
            response: MetadataResponse = await self.send_any(request)
            self._apply_metadata(response, full=names is None)
        return response

    def _apply_metadata(self, response: MetadataResponse, *, full: bool) -> None:
        self.brokers = {b.node_id: BrokerInfo(b.node_id, b.host, b.port, b.rack) for b in response.brokers}
        self.cluster_id = response.cluster_id
        self.controller_id = response.controller_id
        if full:
            self.topics = {}
        for t in response.topics:
            if t.name is None:
                continue
            if t.error_code:
                self.topics.pop(t.name, None)
                continue
            self.topics[t.name] = TopicInfo(
                t.name, t.topic_id, t.is_internal,
                {p.partition_index: PartitionInfo(p.partition_index, p.leader_id, p.leader_epoch,
                                                  list(p.replica_nodes), list(p.isr_nodes),
                                                  list(p.offline_replicas), p.error_code)
                 for p in t.partitions},
                t.error_code,
            )
        self.metadata_at = time.monotonic()
        for (node_id, _), connection in list(self._connections.items()):
            if node_id not in self.brokers:
                connection.close()

    async def topic(self, name: str, *, allow_auto_create: bool = False) -> TopicInfo:
        info = self.topics.get(name)
        if info is None or time.monotonic() - self.metadata_at > self.metadata_max_age_s:
            response = await self.refresh_metadata([name], allow_auto_create=allow_auto_create)
            info = self.topics.get(name)
            if info is None:
                found = next((t for t in response.topics if t.name == name), None)
                code = found.error_code if found is not None else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                error = KafkaError.from_code(code, f"topic {name!r}")
                if code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code:
                    error.retriable = False  # the metadata itself says so: waiting will not help
                raise error
        return info

    async def leader(self, tp: TopicPartition) -> int:
        info = await self.topic(tp.topic)
        partition = info.partitions.get(tp.partition)
        if partition is None:
            raise KafkaError(f"{tp} does not exist (the topic has {len(info.partitions)} partitions)",
                             ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, retriable=False)
        if partition.leader < 0:
            raise KafkaError.from_code(ErrorCode.LEADER_NOT_AVAILABLE.code, str(tp))
        return partition.leader

    async def leaders(self, partitions: Iterable[TopicPartition]) -> dict[int, list[TopicPartition]]:
        """Partitions grouped by their leader (one round of metadata for every unknown topic)."""
        wanted = list(partitions)
        unknown = {tp.topic for tp in wanted if tp.topic not in self.topics}
        if unknown:
            await self.refresh_metadata(unknown)
        by_leader: dict[int, list[TopicPartition]] = {}
        for tp in wanted:
            by_leader.setdefault(await self.leader(tp), []).append(tp)
        return by_leader

    # ---- coordinators ---------------------------------------------------------------------------
    async def coordinators(self, group_ids: Iterable[str], key_type: int = GROUP) -> dict[str, int]:
        """The coordinator of each group (or, with key_type TRANSACTION, of each transactional id):
        cached, else FindCoordinator (one batched request from v4)."""
        what = "group" if key_type == GROUP else "transactional id"
        groups = list(dict.fromkeys(group_ids))
        missing = [g for g in groups if (key_type, g) not in self._coordinators]
        if missing:
            connection = await self.any_connection()
            if connection.supports(FIND_COORDINATOR, 4):
                response = await connection.request(FindCoordinatorRequest(key_type=key_type,
                                                                           coordinator_keys=missing))
                found = [(c.key, c.node_id, c.host, c.port, c.error_code, c.error_message)
                         for c in response.coordinators]
            else:
                found = []
                for group in missing:
                    r = await connection.request(FindCoordinatorRequest(key=group, key_type=key_type))
                    found.append((group, r.node_id, r.host, r.port, r.error_code, r.error_message))
            for group, node_id, host, port, code, message in found:
                if code:
                    raise KafkaError.from_code(code, f"finding the coordinator of {what} {group!r}", message)
                if node_id not in self.brokers:
                    self.brokers[node_id] = BrokerInfo(node_id, host, port)
                self._coordinators[(key_type, group)] = node_id
        return {g: self._coordinators[(key_type, g)] for g in groups}

    async def coordinator(self, group_id: str, key_type: int = GROUP) -> int:
        return (await self.coordinators([group_id], key_type))[group_id]

    def forget_coordinator(self, group_id: str, key_type: int = GROUP) -> None:
        self._coordinators.pop((key_type, group_id), None)

    # ---- retries -------------------------------------------------------------------------------
    async def retry(self, operation: Callable[[], Awaitable[T]], *, timeout_s: float | None = None,
                    what: str = "request") -> T:
        """Run `operation`, retrying retriable errors with backoff until the deadline passes.

        Stale-metadata errors refresh the metadata first; lost coordinators are looked up again
        by the operation itself (it is expected to call `forget_coordinator`).
        """
        deadline = Deadline(self.config.request_timeout_s if timeout_s is None else timeout_s)
        backoff = self.retry_backoff_s
        while True:
            try:
                return await operation()
            except KafkaError as exc:
                if not exc.retriable or deadline.expired or self._closed:
                    raise
                log.debug("%s failed (%s); retrying in %.2fs", what, exc, backoff)
                if exc.code in STALE_METADATA:
                    self.metadata_at = 0.0
                await asyncio.sleep(min(backoff, deadline.remaining))
                backoff = min(backoff * 2, 1.0)
