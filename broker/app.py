"""The broker process: storage, the listening socket and the supervised background work."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ProtocolError
from kctl.protocol.tasks import supervised

from .authorizer import Authorizer
from .config import BrokerConfig, ConfigError, parse_host_port
from .context import ClientConnection
from .durability import Flusher
from .entity_configs import EntityConfigs
from .groups.coordinator import GroupCoordinator
from .listeners import Listener, parse_listeners
from .quotas import ClientQuotas
from .sasl import SaslSettings
from .server import ConnectionLimits, KafkaConnection
from .storage import disk
from .storage.manager import LogManager
from .tls import PrincipalMapper, TlsAcceptor
from .transactions.coordinator import TransactionCoordinator

if TYPE_CHECKING:
    from .metrics import BrokerMetrics
    from .registry.http import SchemaRegistry

log = logging.getLogger("broker")

#: Where the registry listens unless told otherwise: Confluent's port, on this machine only.
DEFAULT_SCHEMA_REGISTRY = ("127.0.0.1", 8081)


class Broker:
    def __init__(
        self,
        config: BrokerConfig,
        data_dir: Path,
        listeners: list[Listener],
        metrics: tuple[str, int] | None = None,
        schema_registry: tuple[str, int] | None = None,
        schema_registry_explicit: bool = True,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.listeners = listeners
        self.node_id: int = config["node.id"]
        self.sasl = SaslSettings.from_config(config, data_dir)
        self.quotas = ClientQuotas(data_dir)
        self.authorizer = Authorizer(config, data_dir)
        self.logs = LogManager(data_dir, config)
        self.entity_configs = EntityConfigs(data_dir)
        self.groups = GroupCoordinator(config, self.logs, lambda plog: self.flusher.after_append(plog),
                                       self.entity_configs)
        self.transactions = TransactionCoordinator(config, self.logs, self.groups,
                                                   lambda plog: self.flusher.after_append(plog))
        self.connections: set[ClientConnection] = set()
        self.connection_limits = ConnectionLimits.from_config(config)
        self.principal_mapper = PrincipalMapper.parse(config["ssl.principal.mapping.rules"])
        #: Fetched record bytes sent so far: [from the file by sendfile, read and copied].
        self.fetch_bytes_sent = [0, 0]
        self.flusher: Flusher
        self.stopping = False
        self.metrics_address = metrics
        self.metrics: BrokerMetrics | None = None
        self.registry_address = schema_registry
        #: A registry asked for by address must start; the default one steps aside for a busy port.
        self.registry_explicit = schema_registry_explicit
        self.registry: SchemaRegistry | None = None
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: asyncio.Future[BaseException] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._failed = loop.create_future()
        started = time.monotonic()
        await loop.run_in_executor(None, self.logs.open)
        partitions = sum(len(t.partitions) for t in self.logs.topics.values())
        log.info("found %d topic(s), %d partition(s) in %s in %.2fs%s; each opens on first use", len(self.logs.topics),
                 partitions, self.data_dir, time.monotonic() - started,
                 ", recovering after a crash" if self.logs.recovered else "")
        started = time.monotonic()
        records = await loop.run_in_executor(None, self.groups.load)
        if records:
            log.info("loaded %d group(s) from %d __consumer_offsets record(s) in %.2fs", len(self.groups.groups),
                     records, time.monotonic() - started)
        started = time.monotonic()
        shared = await loop.run_in_executor(None, self.groups.share_partitions.load)
        self.groups.restore_share_groups()
        if shared:
            log.info("loaded %d share partition(s) of share groups in %.2fs", shared, time.monotonic() - started)
        started = time.monotonic()
        records = await loop.run_in_executor(None, self.transactions.load)
        if records:
            log.info("loaded %d transactional id(s) from %d __transaction_state record(s) in %.2fs",
                     len(self.transactions.machine.transactions), records, time.monotonic() - started)
        if self.metrics_address is not None:
            from .metrics import BrokerMetrics

            self.metrics = BrokerMetrics(self)
            host, port = self.metrics_address
            wanted = self.config["metrics.authentication"]
            basic = wanted == "basic" or (wanted == "auto" and self.sasl.required)
            if basic and not self.sasl.required:
                raise ConfigError("metrics.authentication=basic needs SASL users to check passwords against "
                                  "(sasl.enabled.mechanisms and [sasl.users]), or OAUTHBEARER's tokens")
            bound = self.metrics.serve(host, port, self.sasl.check_http_auth if basic else None)
            log.info("metrics on http://%s:%d/metrics%s", host, bound,
                     " (HTTP basic auth with the broker's users)" if basic else "")
        self.flusher = Flusher(self.metrics.fsync.observe if self.metrics is not None else None)
        self.groups.start()
        self.transactions.start()
        if self.registry_address is not None:
            await self._start_registry(*self.registry_address)
        if self.sasl.oauth is not None:  # before the listeners, so the first OAUTHBEARER login finds keys
            try:
                await self.sasl.oauth.fetch()
            except (OSError, ValueError) as exc:
                log.error("cannot fetch the JWKS from %s: %s; OAUTHBEARER logins fail until it can",
                          self.sasl.oauth.url, exc)
        for listener in self.listeners:
            server = await loop.create_server(self._protocol_for(listener), listener.host, listener.port,
                                              reuse_address=True, backlog=1024)
            self._servers.append(server)
            listener.bound(server.sockets[0].getsockname()[1])
        if self.sasl.oauth is not None:
            self._supervise("JWKS refresher", self.sasl.oauth.keep_fresh)
        self._supervise("flusher", self.flusher.run)
        self._supervise("partition opener", self._open_partitions_loop)
        self._supervise("checkpointer", self._checkpoint_loop)
        self._supervise("flush scheduler", self._flush_schedule_loop)
        self._supervise("retention", self._retention_loop)
        self._supervise("log cleaner", self._cleaner_loop)
        self._supervise("offsets expiry", self._offsets_expiry_loop)
        self._supervise("transaction timeouts", self._transaction_timeouts_loop)
        self._supervise("transactional id expiry", self._transactional_id_expiry_loop)
        self._supervise("idle connections", self._idle_connections_loop)
        self._supervise("leftover removal", self._leftovers_loop)
        for listener in self.listeners:
            log.info("broker %d listening on %s:%d (%s, %s), advertised as %s:%d", self.node_id, listener.host,
                     listener.port, listener.name, listener.protocol, listener.advertised_host,
                     listener.advertised_port)

    # ---- listeners -----------------------------------------------------------------------------
    @property
    def listen_host(self) -> str:
        return self.listeners[0].host

    @property
    def listen_port(self) -> int:
        return self.listeners[0].port

    @property
    def advertised_host(self) -> str:
        return self.listeners[0].advertised_host

    @property
    def advertised_port(self) -> int:
        return self.listeners[0].advertised_port

    def advertised_for(self, listener: str) -> tuple[str, int]:
        for candidate in self.listeners:
            if candidate.name == listener:
                return candidate.advertised_host, candidate.advertised_port
        return self.advertised_host, self.advertised_port

    def _protocol_for(self, listener: Listener) -> Callable[[], asyncio.BaseProtocol]:
        """A listener's connections: plain, or behind the broker's own TLS (`tls.py`)."""
        context = listener.ssl_context
        if context is None:
            return lambda: KafkaConnection(self, listener)
        timeout = self.config["ssl.handshake.timeout.ms"] / 1000

        def accept() -> asyncio.BaseProtocol:
            return TlsAcceptor(context, listener.name, timeout,
                               lambda principal: KafkaConnection(self, listener, principal), self.principal_mapper)

        return accept

    async def _start_registry(self, host: str, port: int) -> None:
        from .registry.guard import RegistryGuard
        from .registry.http import SchemaRegistry

        loop = asyncio.get_running_loop()
        # Secured broker, secured registry: its users log in with HTTP basic auth (`registry/guard.py`).
        guard = RegistryGuard(self.sasl, self.authorizer) if self.sasl.required else None
        registry = SchemaRegistry(self.logs, lambda plog: self.flusher.after_append(plog), self.data_dir, guard)
        started = time.monotonic()
        records = await loop.run_in_executor(None, registry.load)
        if records:
            log.info("loaded %d schema(s) in %d subject(s) from %d _schemas record(s) in %.2fs",
                     len(registry.store.schemas), len(registry.store.subjects), records, time.monotonic() - started)
        try:
            await registry.serve(host, port)
        except OSError as exc:
            if self.registry_explicit:
                raise RuntimeError(f"schema registry: cannot listen on {host}:{port}: {exc.strerror or exc}"
                                   " (choose another with --schema-registry HOST:PORT, or off)") from None
            log.warning("schema registry not started: %s:%d: %s (choose another with --schema-registry HOST:PORT)",
                        host, port, exc.strerror or exc)
            return
        self.registry = registry
        log.info("schema registry listening on %s%s%s", registry.bound,
                 "" if (registry.url or "").endswith(registry.bound) else f" (reach it at {registry.url})",
                 "; HTTP basic auth with the broker's users" if guard is not None else "")

    def _supervise(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        def failed(exc: BaseException) -> None:
            log.error("background task %r failed; stopping the broker", name, exc_info=exc)
            if self._failed is not None and not self._failed.done():
                self._failed.set_result(exc)

        self._tasks.append(supervised(name, body, failed))

    async def serve_until_stopped(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set (or a background task fails, which is re-raised)."""
        assert self._failed is not None
        waiter = asyncio.ensure_future(stop.wait())
        try:
            pending: list[asyncio.Future[Any]] = [waiter, self._failed]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._failed.done():
            raise RuntimeError("a broker background task failed") from self._failed.result()

    async def stop(self) -> None:
        """Stop accepting, finish in-flight work briefly, then close every log cleanly."""
        self.stopping = True
        for server in self._servers:
            server.close()
        if self.registry is not None:
            await self.registry.stop()
        for conn in list(self.connections):
            for task in list(conn.tasks):
                task.cancel()
            if conn.transport is not None:
                conn.transport.close()
        self.groups.stop()
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, result in zip(self._tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("background task %r had failed: %r", task.get_name(), result)
        for server in self._servers:
            await server.wait_closed()
        await asyncio.get_running_loop().run_in_executor(None, self.logs.close)
        by_sendfile, copied = self.fetch_bytes_sent
        log.info("broker stopped; fetched records sent: %d bytes by sendfile, %d bytes copied", by_sendfile, copied)

    # ---- background work -----------------------------------------------------------------------
    async def _open_partitions_loop(self) -> None:
        """Open the partitions no request has asked for yet, 10 ms at a time between requests, so
        that retention, flushing and metrics cover every partition soon after a restart."""
        started, total = time.monotonic(), self.logs.unopened
        while self.logs.open_some(0.01):
            await asyncio.sleep(0)
        if total:
            log.info("every partition is open, %.1fs after listening", time.monotonic() - started)

    async def _every(self, seconds: float, what: str, body: Callable[[], Awaitable[object]]) -> None:
        """Run `body` every `seconds`. A write that fails (a full or failing disk) is said once,
        counted, and tried again next time: it never stops the broker."""
        failing = False
        while True:
            await asyncio.sleep(seconds)
            try:
                await body()
            except OSError as exc:
                self.storage_failed(exc)
                if not failing:
                    log.error("%s failed: %s; trying again every %gs", what, disk.describe(exc), seconds)
                failing = True
            else:
                if failing:
                    log.info("%s works again", what)
                failing = False

    async def _leftovers_loop(self) -> None:
        """Remove the directories of deleted topics 10 ms at a time between requests (a topic of
        100,000 partitions, or those a crash left), saying once how many went."""
        while True:
            if self.logs.leftovers:
                started, count = time.monotonic(), len(self.logs.leftovers)
                while self.logs.remove_leftovers(0.01):
                    await asyncio.sleep(0)
                log.info("removed %d directories of deleted topics in %.1fs", count, time.monotonic() - started)
            await asyncio.sleep(0.5)

    async def _idle_connections_loop(self) -> None:
        """Close connections that moved no bytes for connections.max.idle.ms, as Kafka does."""
        idle_ms = self.config["connections.max.idle.ms"]
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(idle_ms / 1000 / 4, 30))
            horizon = loop.time() - idle_ms / 1000
            for conn in list(self.connections):
                since = conn.idle_since()
                if since is not None and since < horizon:
                    log.info("closing connection from %s: idle for more than connections.max.idle.ms=%d",
                             conn.peer, idle_ms)
                    conn.abort()

    def produced(self, topic: str, size: int) -> None:
        if self.metrics is not None:
            self.metrics.produced(topic, size)

    def storage_failed(self, exc: OSError) -> None:
        if self.metrics is not None:
            self.metrics.storage_errors.labels("full" if exc.errno in disk.FULL else "io").inc()

    async def _checkpoint_loop(self) -> None:
        async def checkpoint() -> None:
            await self.flusher.flush_now(list(self.logs.opened_partitions()))
            self.logs.write_recovery_points()

        await self._every(self.config["log.flush.offset.checkpoint.interval.ms"] / 1000, "checkpoint", checkpoint)

    async def _flush_schedule_loop(self) -> None:
        async def flush_due() -> None:
            now = now_ms()
            due = [
                p for p in self.logs.opened_partitions()
                if p.unflushed_since_ms >= 0 and now - p.unflushed_since_ms >= p.config.flush_ms
            ]
            if due:
                await self.flusher.flush_now(due)

        await self._every(self.config["log.flush.scheduler.interval.ms"] / 1000, "scheduled flush", flush_due)

    async def _retention_loop(self) -> None:
        await self._every(self.config["log.retention.check.interval.ms"] / 1000, "retention", self.enforce_retention)

    async def enforce_retention(self) -> int:
        """Drop segments past retention on the loop (a list change and renames), then unlink their
        files on a worker thread: freeing a gigabyte file can take the file system a while."""
        now = now_ms()
        partitions = list(self.logs.opened_partitions())
        deleted = sum(p.apply_retention(now) for p in partitions)
        self.logs.expire_producers()
        if deleted:
            self.logs.write_log_start_offsets()
            emptied = [p for p in partitions if p.deleted_files]

            def remove() -> None:
                for plog in emptied:
                    plog.remove_deleted_files()

            await asyncio.get_running_loop().run_in_executor(None, remove)
        return deleted

    async def _cleaner_loop(self) -> None:
        await self._every(max(self.config["log.cleaner.backoff.ms"] / 1000, 0.05), "log cleaner", self.compact_logs)

    async def _offsets_expiry_loop(self) -> None:
        async def expire() -> None:
            self.groups.expire_offsets()

        await self._every(self.config["offsets.retention.check.interval.ms"] / 1000, "offsets expiry", expire)

    async def _transaction_timeouts_loop(self) -> None:
        async def abort_timed_out() -> None:
            self.transactions.tick()

        # Owed markers are retried at least every second; timeouts are checked as often too
        # (cheap: a pass over the open transactions), and at Kafka's interval at the latest.
        interval = min(self.config["transaction.abort.timed.out.transaction.cleanup.interval.ms"], 1000)
        await self._every(interval / 1000, "transaction timeouts", abort_timed_out)

    async def _transactional_id_expiry_loop(self) -> None:
        async def expire() -> None:
            self.transactions.expire_ids()

        await self._every(self.config["transaction.remove.expired.transaction.cleanup.interval.ms"] / 1000,
                          "transactional id expiry", expire)

    async def compact_logs(self) -> int:
        """Clean the compacted topics' closed segments: reading and rewriting them on a worker
        thread, swapping the cleaned files in on the loop (see `storage.cleaner`). A partition
        whose data cannot be read is marked uncleanable and left as it is, as Kafka's cleaner
        does; one whose cleaned files cannot be written is tried again next time."""
        now = now_ms()
        loop = asyncio.get_running_loop()
        removed = 0
        for plog in list(self.logs.opened_partitions()):
            job = plog.compaction_job(now) if plog.needs_compaction(now) else None
            if job is None:
                continue
            try:
                await loop.run_in_executor(None, job.run)
            except ProtocolError as exc:
                job.discard()
                plog.uncleanable = str(exc)
                log.error("%s-%d cannot be cleaned and is marked uncleanable until the broker restarts: %s",
                          plog.topic, plog.partition, exc)
                continue
            except OSError as exc:
                job.discard()
                self.storage_failed(exc)
                log.warning("%s-%d: cleaning failed (%s); trying again later", plog.topic, plog.partition,
                            disk.describe(exc))
                continue
            removed += job.finish()
        return removed


def install_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def run_broker(broker: Broker, ready: Callable[[Broker], Any] | None = None) -> None:
    """Start, serve until SIGINT/SIGTERM, stop cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await broker.start()
    if ready is not None:
        ready(broker)
    try:
        await broker.serve_until_stopped(stop)
    finally:
        log.info("shutting down")
        await broker.stop()


def build_broker(
    *,
    data_dir: str | None = None,
    listen: str | None = None,
    advertised: str | None = None,
    config_file: str | None = None,
    metrics: str | None = None,
    schema_registry: str | None = None,
) -> Broker:
    """A broker from command-line style options; options override the config file."""
    from .config import default_data_dir

    config = BrokerConfig.from_toml(Path(config_file)) if config_file else BrokerConfig()
    # --listen and --advertised set the first listener's address; its name and protocol stay.
    if listen is not None:
        config.set("listeners", _with_first_address(config["listeners"], listen, "listen address"))
    first = config["listeners"].split(",")[0].split("://")[0].strip() or "PLAINTEXT"
    if advertised is not None:
        parse_host_port(advertised, "advertised address")
        others = [a for a in (config["advertised.listeners"] or "").split(",")
                  if a.strip() and a.split("://")[0].strip().upper() != first.upper()]
        config.set("advertised.listeners", ",".join([f"{first}://{advertised.split('://')[-1]}", *others]))
    if data_dir is not None:
        config.set("log.dirs", data_dir)
    directory = Path(config["log.dirs"]).expanduser() if config["log.dirs"] else default_data_dir()
    listeners = parse_listeners(config, directory)
    metrics_addr = parse_host_port(metrics, "metrics address") if metrics else None
    if schema_registry is None:
        registry_addr: tuple[str, int] | None = DEFAULT_SCHEMA_REGISTRY
    elif schema_registry == "off":
        registry_addr = None
    else:
        registry_addr = parse_host_port(schema_registry, "schema registry address")
    return Broker(config, directory, listeners, metrics_addr, registry_addr,
                  schema_registry_explicit=schema_registry is not None)


def _with_first_address(listeners: str, address: str, what: str) -> str:
    """`listeners` with its first entry's HOST:PORT replaced by `address` (HOST:PORT)."""
    host, port = parse_host_port(address, what)
    entries = [e.strip() for e in listeners.split(",") if e.strip()]
    name = entries[0].split("://")[0] if entries and "://" in entries[0] else "PLAINTEXT"
    shown = f"[{host}]" if ":" in host else host
    return ",".join([f"{name}://{shown}:{port}", *entries[1:]])
