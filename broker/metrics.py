"""The broker's own metrics, served on /metrics when `--metrics HOST:PORT` is given (off by default).

Requests per API and version, errors per API and code, request latency; bytes in and out per
topic; fsync latency; and, read when scraped, log size and segments per partition, connections,
and groups per state. prometheus_client serves them from a thread of its own, so a scrape never
waits for the event loop, and reads the loop's state only as a snapshot.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from kctl.protocol.api import API_BY_KEY
from kctl.protocol.errors import ErrorCode

if TYPE_CHECKING:
    from .context import ServingContext

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BrokerMetrics:
    def __init__(self, broker: ServingContext) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("kctl_broker_requests", "Requests handled, by API and version.",
                                ["api", "version"], registry=r)
        self.errors = Counter("kctl_broker_request_errors", "Answers carrying an error code, by API and code.",
                              ["api", "error"], registry=r)
        self.latency = Histogram("kctl_broker_request_seconds", "From a request's arrival to its answer, by API "
                                 "(a long-polled fetch counts its wait).", ["api"], buckets=LATENCY_BUCKETS,
                                 registry=r)
        self.bytes_in = Counter("kctl_broker_topic_bytes_in", "Record bytes produced, by topic.", ["topic"],
                                registry=r)
        self.bytes_out = Counter("kctl_broker_topic_bytes_out", "Record bytes fetched, by topic.", ["topic"],
                                 registry=r)
        self.fsync = Histogram("kctl_broker_fsync_seconds", "How long making appended data durable took.",
                               buckets=LATENCY_BUCKETS, registry=r)
        self.storage_errors = Counter("kctl_broker_storage_errors", "Background writes to the data directory "
                                      "that failed (checkpoints, flushes, retention, cleaning), by kind: full (no "
                                      "space left) or io (any other error).", ["kind"], registry=r)
        r.register(_State(broker))

    def serve(self, host: str, port: int, check_auth: Callable[[str | None], str | None] | None = None) -> int:
        """Start serving /metrics, on a thread of its own; the port it listens on. With
        `check_auth`, every scrape must carry an Authorization header that it accepts."""
        app = make_wsgi_app(self.registry)
        if check_auth is not None:
            app = _basic_auth(app, check_auth)
        server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, name="kctl-metrics", daemon=True).start()
        return int(server.server_address[1])

    # ---- what the connections report ----------------------------------------------------------------
    def answered(self, api_key: int, version: int, response: Any, started: float) -> None:
        name = _api_name(api_key)
        self.requests.labels(name, str(version)).inc()
        self.latency.labels(name).observe(time.perf_counter() - started)
        for code in _error_codes(response):
            self.errors.labels(name, _error_name(code)).inc()
        for topic, size in _fetched(response):
            self.bytes_out.labels(topic).inc(size)

    def failed(self, api_key: int, version: int, started: float) -> None:
        """A handler that raised: answered with UNKNOWN_SERVER_ERROR, or the connection closed."""
        name = _api_name(api_key)
        self.requests.labels(name, str(version)).inc()
        self.latency.labels(name).observe(time.perf_counter() - started)
        self.errors.labels(name, "UNKNOWN_SERVER_ERROR").inc()

    def produced(self, topic: str, size: int) -> None:
        """Bytes an authorized produce appended to `topic`, which exists."""
        self.bytes_in.labels(topic).inc(size)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


def _basic_auth(app: Any, check: Callable[[str | None], str | None]) -> Any:
    """`app`, for requests whose `Authorization` header `check` accepts; 401 for the rest."""

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if check(environ.get("HTTP_AUTHORIZATION")) is not None:
            return app(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="kctl broker metrics"'),
                                            ("Content-Type", "text/plain")])
        return [b"authentication required\n"]

    return guarded


def _api_name(key: int) -> str:
    spec = API_BY_KEY.get(key)
    return spec.name if spec is not None else str(key)


def _error_name(code: int) -> str:
    try:
        return ErrorCode.of(code).name
    except (KeyError, ValueError):
        return str(code)


def _error_codes(response: Any) -> Iterator[int]:
    """The answer's error code, and those of its partitions for Produce and Fetch."""
    code = getattr(response, "error_code", 0)
    if code:
        yield code
    for topic in getattr(response, "responses", None) or []:
        for part in getattr(topic, "partition_responses", None) or getattr(topic, "partitions", None) or []:
            code = getattr(part, "error_code", 0)
            if code:
                yield code


def _fetched(response: Any) -> Iterator[tuple[str, int]]:
    for topic in getattr(response, "responses", None) or []:
        partitions = getattr(topic, "partitions", None)
        if not partitions or not hasattr(partitions[0], "records"):
            continue  # not a FetchResponse (Produce answers have `responses` too)
        size = sum(len(p.records) for p in partitions if p.records is not None)
        if size:
            yield getattr(topic, "topic", ""), size


class _State(Collector):
    """What the loop's state shows at scrape time: logs, connections, groups."""

    def __init__(self, broker: ServingContext) -> None:
        self.broker = broker

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily("kctl_broker_log_size_bytes", "Bytes of the partition's log.",
                                 labels=["topic", "partition"])
        segments = GaugeMetricFamily("kctl_broker_log_segments", "Segments of the partition's log.",
                                     labels=["topic", "partition"])
        uncleanable = 0
        for plog in _snapshot(lambda: list(self.broker.logs.opened_partitions())):
            where = [plog.topic, str(plog.partition)]
            size.add_metric(where, plog.size)
            segments.add_metric(where, len(plog.segments))
            uncleanable += plog.uncleanable is not None
        yield size
        yield segments
        yield GaugeMetricFamily("kctl_broker_uncleanable_partitions", "Partitions the log cleaner skips because "
                                "their data cannot be read (Kafka's uncleanable-partitions-count).", value=uncleanable)
        yield GaugeMetricFamily("kctl_broker_connections", "Open client connections.",
                                value=len(self.broker.connections))
        registry = getattr(self.broker, "registry", None)
        if registry is not None:
            yield GaugeMetricFamily("kctl_broker_registry_skipped_records", "Records of _schemas the Schema "
                                    "Registry could not read at start, and skipped.", value=registry.skipped.count)
        groups = GaugeMetricFamily("kctl_broker_groups", "Consumer groups, by state.", labels=["state"])
        states = Tally(g.state.value for g in _snapshot(lambda: list(self.broker.groups.groups.values())))
        for state, count in sorted(states.items()):
            groups.add_metric([state], count)
        yield groups


def _snapshot(read: Any) -> list[Any]:
    """A copy of a collection the event loop may change meanwhile (a retry if it did)."""
    for _ in range(5):
        try:
            return read()  # type: ignore[no-any-return]
        except RuntimeError:  # changed size during iteration
            continue
    return []
