"""Health changes of consumer groups, delivered: to a generic JSON webhook, to Slack, and to
Alertmanager's API. `kctl exporter` and `kctl lag --watch` feed every look in.

`Debouncer` decides, with no I/O and the time passed in, when a group's health change is worth a
notice: once the new verdict has held for `hold_s` (a verdict that flickers for one look says
nothing). A return to OK resolves. A firing notice carries the `kctl why` verdict, judged from
the looks the watcher already has (`kctl.ops.why.explain`), where there are enough of them; else
what the health verdict means. `payload` turns a notice into each target's body;
`Notifier` posts them, and to Alertmanager also re-posts what is still firing at every look, as
Prometheus does, so that Alertmanager does not resolve it by timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import BadUsage
from .groups import Health
from .times import iso

KINDS = ("json", "slack", "alertmanager")
SLACK_EVIDENCE = 4  # lines of a diagnosis under a Slack notice
ANNOTATION_LIMIT = 4000  # characters of evidence in an Alertmanager annotation
ALERT_NAME = "KafkaConsumerGroupUnhealthy"

#: What each verdict means, as a notice says it.
MEANING = {
    Health.OK: "caught up, or catching up",
    Health.WARN: "lag is growing while offsets move: consumers slower than producers",
    Health.PINNED: "caught up to a last stable offset that an open transaction keeps from moving",
    Health.STALL: "lag, and committed offsets are not moving: consumers stuck",
    Health.STOP: "lag, and no consumers in the group",
    Health.REWIND: "a committed offset went back",
}


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    url: str


def parse_target(text: str) -> Target:
    """`KIND=URL` (json, slack or alertmanager), or a bare URL for generic JSON."""
    kind, sep, url = text.partition("=")
    if not sep or "://" in kind:
        kind, url = "json", text
    if kind not in KINDS:
        raise BadUsage(f"unknown alert target kind {kind!r}", f"use {', '.join(KINDS)}: e.g. slack=https://hooks...")
    if not url.startswith(("http://", "https://")):
        raise BadUsage(f"alert target {text!r} is not an http(s) URL", "e.g. alertmanager=http://localhost:9093")
    return Target(kind, url)


@dataclass(frozen=True, slots=True)
class Seen:
    """One group's verdict at one look, with the figures a notice shows."""

    group: str
    health: Health
    lag: int
    members: int


@dataclass(frozen=True, slots=True)
class Notice:
    group: str
    health: Health
    previous: Health
    since: float  # when the verdict was first seen (time.time())
    lag: int
    members: int
    #: `kctl why`'s diagnosis (`Diagnosis.data()`) of a firing group, where the looks allowed one.
    diagnosis: dict[str, Any] | None = None

    @property
    def firing(self) -> bool:
        return self.health != Health.OK

    @property
    def why(self) -> str:
        if self.diagnosis is not None:
            return str(self.diagnosis["verdict"]["summary"])
        return MEANING[self.health]

    @property
    def cause(self) -> str | None:
        return None if self.diagnosis is None else str(self.diagnosis["verdict"]["cause"])

    @property
    def evidence(self) -> list[str]:
        """The verdict's figures, then each other cause's summary."""
        if self.diagnosis is None:
            return []
        return [*self.diagnosis["verdict"]["evidence"], *(f"also: {c['summary']}" for c in self.diagnosis["also"])]

    def summary(self, cluster: str) -> str:
        if not self.firing:
            return f"group {self.group} on {cluster} is healthy again (was {self.previous}): lag {self.lag:,}"
        return (f"group {self.group} on {cluster} is {self.health} (was {self.previous}): lag {self.lag:,}, "
                f"{self.members} member(s)")


@dataclass(slots=True)
class _Pending:
    health: Health
    since: float


@dataclass(slots=True)
class Debouncer:
    """Per group: the verdict last notified (OK until one is), and a different one being held."""

    hold_s: float
    notified: dict[str, Health] = field(default_factory=dict)
    pending: dict[str, _Pending] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # when each notified verdict began

    def observe(self, seen: Seen, now: float) -> Notice | None:
        notified = self.notified.get(seen.group, Health.OK)
        if seen.health == notified:
            self.pending.pop(seen.group, None)
            return None
        held = self.pending.get(seen.group)
        if held is None or held.health != seen.health:
            held = self.pending[seen.group] = _Pending(seen.health, now)
        if now - held.since < self.hold_s:
            return None
        del self.pending[seen.group]
        self.notified[seen.group] = seen.health
        self.started[seen.group] = held.since
        return Notice(seen.group, seen.health, notified, held.since, seen.lag, seen.members)

    def firing(self) -> list[str]:
        return [group for group, health in self.notified.items() if health != Health.OK]


def payload(kind: str, notices: Sequence[Notice], cluster: str, now: float) -> Any:
    """The body one target gets for these notices."""
    if kind == "alertmanager":
        return [_alertmanager_alert(n, cluster, now) for n in notices]
    if kind == "slack":
        lines = [(":red_circle: " if n.firing else ":large_green_circle: ") + n.summary(cluster)
                 + ("".join(f"\n>{line}" for line in [n.why, *n.evidence[:SLACK_EVIDENCE]]) if n.firing else "")
                 for n in notices]
        return {"text": "\n".join(lines)}
    return {"cluster": cluster, "notices": [
        {"group": n.group, "health": str(n.health), "previous": str(n.previous), "firing": n.firing,
         "since": iso(int(n.since * 1000)), "lag": n.lag, "members": n.members, "why": n.why,
         "diagnosis": n.diagnosis, "summary": n.summary(cluster)} for n in notices]}


def _alertmanager_alert(notice: Notice, cluster: str, now: float) -> dict[str, Any]:
    # The labels name the alert (Alertmanager's identity): the verdict goes in annotations, so a
    # STALL turning STOP updates one alert instead of leaving two.
    alert: dict[str, Any] = {
        "labels": {"alertname": ALERT_NAME, "consumergroup": notice.group, "kctl_cluster": cluster},
        "annotations": {"summary": notice.summary(cluster), "health": str(notice.health),
                        "why": notice.why if notice.firing else MEANING[notice.previous]},
        "startsAt": _rfc3339(notice.since),
    }
    if notice.firing and notice.diagnosis is not None:
        alert["annotations"]["cause"] = notice.cause
        alert["annotations"]["evidence"] = "\n".join(notice.evidence)[:ANNOTATION_LIMIT]
    if not notice.firing:
        alert["endsAt"] = _rfc3339(now)
    return alert


def _rfc3339(seconds: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class Notifier:
    """Feeds looks to a `Debouncer` and posts what it says to every target. A target that cannot
    be reached gets it again at the next look (until it is delivered): a notice is never dropped."""

    def __init__(self, targets: Iterable[Target], cluster: str, hold_s: float, *,
                 warn: Any = None) -> None:
        self.targets = list(targets)
        self.cluster = cluster
        self.debouncer = Debouncer(hold_s)
        self.last: dict[str, Notice] = {}  # each firing group's latest notice, for Alertmanager's re-posts
        self.undelivered: dict[Target, list[Notice]] = {t: [] for t in self.targets}
        self.warn = warn or (lambda message: None)

    async def look(self, seen: Iterable[Seen], now: float,
                   explain: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None) -> list[Notice]:
        """One look's verdicts in; the notices it gave (already posted, or queued for the next look).
        `explain(group)` gives a firing group's diagnosis, attached to its notice."""
        notices = [n for s in seen if (n := self.debouncer.observe(s, now)) is not None]
        if explain is not None:
            notices = [await self._explained(n, explain) if n.firing else n for n in notices]
        for notice in notices:
            if notice.firing:
                self.last[notice.group] = notice
            else:
                self.last.pop(notice.group, None)
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._post(session, t, notices, now) for t in self.targets))
        return notices

    async def _explained(self, notice: Notice, explain: Callable[[str], Awaitable[dict[str, Any] | None]]
                         ) -> Notice:
        try:
            found = await explain(notice.group)
        except Exception as exc:  # the notice goes out without its diagnosis rather than not at all
            self.warn(f"cannot tell why group {notice.group} is {notice.health}: {exc}")
            return notice
        return notice if found is None else dataclasses.replace(notice, diagnosis=found)

    async def _post(self, session: Any, target: Target, notices: list[Notice], now: float) -> None:
        queued = self.undelivered[target] + notices
        if target.kind == "alertmanager":
            resolved = [n for n in queued if not n.firing]
            queued = resolved + list(self.last.values())  # every firing alert, every look
        if not queued:
            return
        url = target.url.rstrip("/") + "/api/v2/alerts" if target.kind == "alertmanager" else target.url
        try:
            async with session.post(url, json=payload(target.kind, queued, self.cluster, now)) as answer:
                if answer.status >= 300:
                    raise OSError(f"HTTP {answer.status}: {(await answer.text())[:200]}")
        except (TimeoutError, OSError, aiohttp_errors()) as exc:
            self.undelivered[target] = [n for n in queued if target.kind != "alertmanager" or not n.firing]
            self.warn(f"alerts to {target.url} not delivered ({exc}); trying again at the next look")
            return
        self.undelivered[target] = []


def aiohttp_errors() -> type[BaseException]:
    import aiohttp

    return aiohttp.ClientError


def seen_of(totals: Iterable[Any]) -> list[Seen]:
    """Verdicts from `GroupLag`s (or lag totals with group, health, lag, members)."""
    out = []
    for g in totals:
        if isinstance(g, dict):
            out.append(Seen(g["group"], Health(g["health"]), int(g["lag"]), int(g.get("members", 0))))
        else:
            out.append(Seen(g.group, g.health, g.lag, g.members))
    return out
