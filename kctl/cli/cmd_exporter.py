"""kctl exporter: the cluster's partitions and its groups' lag, for Prometheus to scrape."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Annotated, Any

from . import declare as cli
from .errors import USAGE, CliError
from .options import AlertForOpt, AlertOpt
from .output import diagnostic
from .runtime import fail

if TYPE_CHECKING:
    from kctl.connect.cluster import Settings
    from kctl.connect.contexts import Context
    from kctl.ops.alerts import Notifier
    from kctl.ops.why import WhyHistory


def exporter(
    ctx: cli.Context,
    listen: Annotated[str, cli.Option("--listen", metavar="HOST:PORT", help="Where to serve /metrics.")
                      ] = "127.0.0.1:9308",
    interval: Annotated[str, cli.Option("--interval", metavar="DURATION",
                                          help="How often to look at the cluster (e.g. 15s, 1m).")] = "15s",
    group: Annotated[str | None, cli.Option("--group", metavar="REGEX", help="Only groups matching this.")
                     ] = None,
    topic: Annotated[str | None, cli.Option("--topic", metavar="REGEX", help="Only topics matching this.")
                     ] = None,
    alert: AlertOpt = None,
    alert_for: AlertForOpt = "1m",
) -> None:
    """Serve /metrics for Prometheus: kafka_exporter's series (lag, offsets, replicas) plus lag in
    seconds, time to catch up and a health verdict per group. A look is taken every --interval in
    the background; scrapes get the last one, with its age, and an unreachable cluster shows as
    kafka_exporter_up 0 while the exporter keeps running. With --alert, each group's health change
    (held for --alert-for) is posted with `kctl why`'s verdict, judged from the exporter's own
    looks. /why/GROUP serves that verdict too (`kctl why GROUP --exporter URL`)."""
    from kctl.connect.contexts import resolve
    from kctl.ops.times import parse_duration_ms

    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        fail(CliError(f"bad --listen {listen!r}", "write HOST:PORT, e.g. 127.0.0.1:9308", USAGE))
    every = parse_duration_ms(interval) / 1000
    if every <= 0:
        fail(CliError("--interval must be positive", None, USAGE))
    try:
        groups = re.compile(group) if group else None
        topics = re.compile(topic) if topic else None
    except re.error as exc:
        fail(CliError(f"bad regex: {exc}", "--group and --topic take Python regular expressions", USAGE))
    settings = ctx.obj
    context = resolve(settings.bootstrap, settings.context)
    notifier = notifier_for(alert, alert_for, context.name)
    try:
        asyncio.run(_serve(context, settings, host or "127.0.0.1", int(port), every, groups, topics, notifier))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def notifier_for(alert: list[str] | None, alert_for: str, cluster: str) -> Notifier | None:
    """The --alert targets as a Notifier (None without any), refusing bad ones before anything starts."""
    if not alert:
        return None
    from kctl.ops.alerts import Notifier, parse_target
    from kctl.ops.times import parse_duration_ms

    try:
        targets = [parse_target(a) for a in alert]
        hold = parse_duration_ms(alert_for) / 1000
    except Exception as exc:
        fail(exc)
    return Notifier(targets, cluster, hold, warn=diagnostic)


async def _serve(context: Context, settings: Settings, host: str, port: int, every: float,
                 groups: re.Pattern[str] | None, topics: re.Pattern[str] | None, notifier: Notifier | None) -> None:
    from kctl.ops.errors import explain
    from kctl.ops.groups import LagHistory
    from kctl.ops.metrics import Exposition, look
    from kctl.ops.why import WhyHistory

    exposition = Exposition()
    verdicts = Verdicts(asyncio.get_running_loop(), WhyHistory())
    server = _start_http(host, port, exposition, verdicts)
    diagnostic(f"kctl exporter: serving http://{host}:{server.server_address[1]}/metrics for {context.name} "
               f"({context.bootstrap_servers}), a look every {every:g}s")
    histories: dict[str, LagHistory] = {}
    cluster = None
    try:
        while True:
            started = time.monotonic()
            try:
                if cluster is None:
                    cluster = await _connect(context, settings)
                verdicts.cluster = cluster
                seen = await look(cluster, groups=groups, topics=topics,
                                  history=lambda g: histories.setdefault(g, LagHistory()),
                                  keep=lambda g: verdicts.history.add(g, time.time()))
                await asyncio.to_thread(exposition.keep, seen)  # rendering is seconds at scale: off the loop
                exposition.up = 1
                verdicts.last = {s.group: s for s in seen.seen}
                if notifier is not None:
                    await notifier.look(seen.seen, seen.taken_at, verdicts.diagnosis)
                del seen
            except Exception as exc:  # the exporter keeps running: up 0, one more error, the old values
                exposition.up = 0
                exposition.errors += 1
                diagnostic(f"kctl exporter: {explain(exc).message}")
                verdicts.cluster = None
                if cluster is not None:
                    await cluster.close()
                    cluster = None
            exposition.refresh_seconds = time.monotonic() - started
            await asyncio.sleep(max(every - (time.monotonic() - started), 0.0))
    finally:
        server.shutdown()
        if cluster is not None:
            await cluster.close()


class Verdicts:
    """`kctl why`'s verdicts from the exporter's own looks: for alerts, and for /why/GROUP (asked
    from the HTTP server's threads, answered on the exporter's event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, history: WhyHistory) -> None:
        self.loop = loop
        self.history = history
        self.cluster: Any = None
        self.last: dict[str, Any] = {}  # group -> its `alerts.Seen` at the last look

    async def diagnosis(self, group: str) -> dict[str, Any] | None:
        from kctl.ops.why import explain

        return None if self.cluster is None else await explain(self.cluster, self.history, group)

    def answer(self, group: str) -> tuple[int, dict[str, Any]]:
        """The HTTP status and body of /why/GROUP."""
        from kctl.ops.groups import Health

        seen = self.last.get(group)
        if seen is None:
            return 404, {"error": f"no group {group!r} at the exporter's last look"}
        if seen.health == Health.OK:
            return 200, {"group": group, "health": "OK", "window_s": 0, "also": [], "verdict": {
                "cause": "healthy", "summary": "healthy at the exporter's last look",
                "evidence": [f"lag {seen.lag:,}, {seen.members} member(s)"]}}
        found = asyncio.run_coroutine_threadsafe(self.diagnosis(group), self.loop).result(timeout=60)
        if found is None:
            return 503, {"error": f"group {group} is {seen.health}; one look at it so far: ask again after the next"}
        return 200, found


async def _connect(context: Context, settings: Settings) -> Any:
    from kctl.connect.cluster import cluster_for

    cluster = cluster_for(context, settings)
    try:
        await cluster.start()
    except BaseException:
        await cluster.close()
        raise
    return cluster


def _start_http(host: str, port: int, exposition: Any, verdicts: Verdicts) -> ThreadingHTTPServer:
    from prometheus_client import CONTENT_TYPE_LATEST

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/why/"):
                self._why(urllib.parse.unquote(path[len("/why/"):]))
                return
            if path != "/metrics":
                self.send_error(404, "/metrics and /why/GROUP are served")
                return
            from kctl.ops.metrics import gunzipped

            members = exposition.body()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(sum(len(member) for member in members)))
                self.end_headers()
                for member in members:
                    self.wfile.write(member)
            else:  # inflated as it goes; the end of the body is the end of the connection (HTTP/1.0)
                self.end_headers()
                for text in gunzipped(members):
                    self.wfile.write(text)

        def _why(self, group: str) -> None:
            import json

            try:
                status, body = verdicts.answer(group)
            except Exception as exc:  # a look that failed: said, and the exporter goes on
                status, body = 500, {"error": f"cannot tell why: {exc}"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood stderr

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        fail(CliError(f"cannot listen on {host}:{port}: {exc.strerror}", "pick another with --listen", USAGE))
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"exporter": exporter}

__all__ = ["exporter"]
