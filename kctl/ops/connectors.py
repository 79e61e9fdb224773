"""Kafka Connect operations: connectors and their tasks as rows, health for runbooks, configs
validated before they are applied, and offsets (KIP-875) changed with a preview and a save.

Everything here works through `ConnectClient` (the worker REST API); nothing talks to Kafka.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kctl.protocol.clock import now_ms

from .errors import BadUsage, Kind, NotFound, OpsError, Refused
from .saves import new_save, state_dir_of
from .times import iso

if TYPE_CHECKING:
    from kctl.client.kafka_connect import ConnectClient

FAILED = "FAILED"
#: How rows sort: trouble first, so a long list starts with what needs a look.
_STATE_ORDER = {"FAILED": 0, "UNASSIGNED": 1, "RESTARTING": 2, "PAUSED": 3, "STOPPED": 4, "RUNNING": 5}


class Unhealthy(OpsError):
    """`--check` found connectors or tasks FAILED."""

    kind = Kind.UNHEALTHY


def _short(class_name: str | None) -> str:
    return (class_name or "").rsplit(".", 1)[-1]


def _task_summary(tasks: list[dict[str, Any]]) -> str:
    """'2/2 RUNNING', or each state's count when they differ ('1 RUNNING, 1 FAILED')."""
    if not tasks:
        return "0"
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.get("state", "?")] = counts.get(task.get("state", "?"), 0) + 1
    if len(counts) == 1:
        state, n = next(iter(counts.items()))
        return f"{n}/{len(tasks)} {state}"
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items(), key=lambda sc: _STATE_ORDER.get(sc[0], 9)))


def connector_row(name: str, info: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    connector = status.get("connector", {})
    tasks = sorted(status.get("tasks", []), key=lambda t: t.get("id", 0))
    config = info.get("config", {})
    failed = [t["id"] for t in tasks if t.get("state") == FAILED]
    return {
        "name": name,
        "type": status.get("type") or info.get("type") or "",
        "plugin": _short(config.get("connector.class")),
        "state": connector.get("state", ""),
        "worker_id": connector.get("worker_id", ""),
        "tasks": _task_summary(tasks),
        "task_count": len(tasks),
        "failed_tasks": failed,
        "trouble": connector.get("state") == FAILED or bool(failed),
    }


def _sort_key(row: Mapping[str, Any]) -> tuple[int, int, str]:
    return (0 if row["trouble"] else 1, _STATE_ORDER.get(row["state"], 9), row["name"])


async def connector_rows(client: ConnectClient) -> list[dict[str, Any]]:
    """Every connector: type, plugin, state, worker, tasks; failing ones first."""
    expanded = await client.connectors()
    rows = [connector_row(name, both.get("info", {}), both.get("status", {})) for name, both in expanded.items()]
    return sorted(rows, key=_sort_key)


def failing(rows: list[dict[str, Any]]) -> list[str]:
    """What `--check` reports: each connector FAILED, or with FAILED tasks, in words."""
    out = []
    for row in rows:
        if row["state"] == FAILED:
            out.append(f"{row['name']}: connector FAILED")
        if row["failed_tasks"]:
            out.append(f"{row['name']}: task(s) {', '.join(map(str, row['failed_tasks']))} FAILED")
    return out


def check(rows: list[dict[str, Any]], what: str = "kctl connect describe NAME") -> None:
    bad = failing(rows)
    if bad:
        raise Unhealthy("unhealthy: " + "; ".join(bad), f"see the trace with `{what}`; "
                        "`kctl connect restart NAME --include-tasks --only-failed` restarts them")


async def describe(client: ConnectClient, name: str) -> dict[str, Any]:
    """A connector's config, state and tasks (with worker ids and the trace of a failed one), and
    the topics it has used (when the workers track them)."""
    from kctl.client.errors import ConnectError

    info = await found_connector(client.connector(name), name)
    status = await found_connector(client.status(name), name)
    try:
        topics: list[str] | None = await client.topics(name)
    except ConnectError:
        topics = None  # topic.tracking.enable=false on the workers
    row = connector_row(name, info, status)
    connector = status.get("connector", {})
    return {
        **row,
        "trace": connector.get("trace"),
        "config": dict(sorted(info.get("config", {}).items())),
        "task_states": [{"id": t.get("id"), "state": t.get("state", ""), "worker_id": t.get("worker_id", ""),
                         "trace": t.get("trace")} for t in sorted(status.get("tasks", []), key=lambda t: t["id"])],
        "topics": topics,
    }


async def found_connector(call: Any, name: str) -> Any:
    """Await a call about connector `name`; Connect's 404 becomes NotFound."""
    from kctl.client.errors import ConnectError

    try:
        return await call
    except ConnectError as exc:
        if exc.status == 404:
            raise NotFound(f"no connector named {name!r}", "list them with `kctl connect list`") from None
        raise


# ---- configs: read, validated, diffed ---------------------------------------------------------------
def parse_config(text: str, source: str) -> dict[str, str]:
    """A connector config from JSON (the config itself, or Connect's {"name", "config"} form) or a
    .properties file (key=value lines). Every value becomes a string, as Connect stores it."""
    stripped = text.strip()
    if not stripped:
        raise BadUsage(f"{source} is empty", "give the connector's config as JSON or key=value lines")
    if stripped.startswith("{"):
        try:
            raw = json.loads(stripped)
        except ValueError as exc:
            raise BadUsage(f"{source} is not valid JSON: {exc}") from None
        if isinstance(raw.get("config"), dict):
            raw = raw["config"]
        return {str(k): _config_value(v) for k, v in raw.items()}
    out: dict[str, str] = {}
    for number, line in enumerate(stripped.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise BadUsage(f"{source}, line {number}: expected key=value, got {line!r}")
        out[key.strip()] = value.strip()
    return out


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


@dataclass(slots=True)
class FieldError:
    name: str
    value: str | None
    errors: list[str]


def field_errors(verdict: Mapping[str, Any]) -> list[FieldError]:
    """The fields Connect's validation found wrong, with its messages."""
    out = []
    for item in verdict.get("configs", []):
        value = item.get("value", {})
        if value.get("errors"):
            out.append(FieldError(value.get("name", ""), value.get("value"), list(value["errors"])))
    return out


@dataclass(slots=True)
class ConfigChange:
    key: str
    before: str | None
    after: str | None


def config_diff(before: Mapping[str, str], after: Mapping[str, str]) -> list[ConfigChange]:
    return [ConfigChange(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)]


@dataclass(slots=True)
class ConfigPlan:
    name: str
    config: dict[str, str]
    previous: dict[str, str] | None  # None: a new connector
    changes: list[ConfigChange] = field(default_factory=list)


async def plan_config(client: ConnectClient, name: str, config: dict[str, str], *, create: bool) -> ConfigPlan:
    """Check a config the way the workers will (`/connector-plugins/{type}/config/validate`) and
    say what it changes. create: the connector must not exist yet; otherwise it must."""
    from kctl.client.errors import ConnectError

    if config.get("name", name) != name:
        raise BadUsage(f"the config names connector {config['name']!r}, not {name!r}")
    config = {**config, "name": name}
    plugin = config.get("connector.class")
    if not plugin:
        raise BadUsage("the config has no connector.class", "`kctl connect plugins` lists the classes installed")
    try:
        previous: dict[str, str] | None = await client.config(name)
    except ConnectError as exc:
        if exc.status != 404:
            raise
        previous = None
    if create and previous is not None:
        raise Refused(f"connector {name!r} already exists", f"change it with `kctl connect update {name}`")
    if not create and previous is None:
        raise NotFound(f"no connector named {name!r}", f"make it with `kctl connect create {name}`")
    try:
        verdict = await client.validate(plugin, config)
    except ConnectError as exc:
        if exc.status == 404:
            raise BadUsage(f"no connector plugin {plugin!r} on the workers",
                           "`kctl connect plugins` lists the classes installed") from None
        raise
    errors = field_errors(verdict)
    if errors:
        lines = "; ".join(f"{e.name}: {' '.join(e.errors)}" for e in errors)
        raise BadUsage(f"Kafka Connect refused the config ({len(errors)} field(s)): {lines}",
                       "fix those settings and run this again")
    return ConfigPlan(name, config, previous, config_diff(previous or {}, config))


def connectors_state_dir() -> Path:
    return state_dir_of("connectors")


def save_config(name: str, config: Mapping[str, str], why: str) -> Path:
    """Keep a connector's config before it is replaced or deleted: `kctl connect create NAME
    --config FILE` puts it back."""
    body = {"name": name, "saved_at": iso(now_ms()), "why": why, "config": dict(config)}
    return new_save(connectors_state_dir() / name, json.dumps(body, indent=2))


async def apply_config(client: ConnectClient, plan: ConfigPlan) -> Path | None:
    """Create or replace the connector; returns where its previous config was saved, if any."""
    saved = save_config(plan.name, plan.previous, "update") if plan.previous is not None else None
    if plan.previous is None:
        await client.create(plan.name, plan.config)
    else:
        await client.put_config(plan.name, plan.config)
    return saved


async def delete(client: ConnectClient, name: str) -> Path:
    """Delete a connector after saving its config; returns where it was saved."""
    config = await found_connector(client.config(name), name)
    saved = save_config(name, config, "delete")
    await found_connector(client.delete(name), name)
    return saved


# ---- offsets (KIP-875) ------------------------------------------------------------------------------
def offset_rows(offsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per source partition (or Kafka partition, for a sink), each side as compact JSON."""
    return [{"partition": compact_json(o.get("partition")), "offset": compact_json(o.get("offset"))} for o in offsets]


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_offsets(text: str, source: str) -> list[dict[str, Any]]:
    """Offsets as Connect takes them: {"offsets": [{"partition": {...}, "offset": {...}|null}]}
    or the bare list."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise BadUsage(f"{source} is not valid JSON: {exc}") from None
    items = raw.get("offsets") if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise BadUsage(f"{source} names no offsets", '{"offsets": [{"partition": {...}, "offset": {...}}]}')
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("partition"), dict) or "offset" not in item:
            raise BadUsage(f"{source}: each offset needs a partition object and an offset (an object, or null "
                           f"to forget it), got {compact_json(item)}")
    return items


async def refuse_unless_stopped(client: ConnectClient, name: str) -> None:
    status = await found_connector(client.status(name), name)
    state = status.get("connector", {}).get("state")
    if state != "STOPPED":
        raise Refused(f"connector {name!r} is {state}: Connect changes offsets only of a STOPPED connector",
                      f"stop it first with `kctl connect stop {name}`, then `kctl connect resume {name}` after")


def save_offsets(name: str, offsets: list[dict[str, Any]], why: str) -> Path:
    body = {"name": name, "saved_at": iso(now_ms()), "why": why, "offsets": offsets}
    return new_save(connectors_state_dir() / name, json.dumps(body, indent=2))


@dataclass(slots=True)
class OffsetsPlan:
    name: str
    current: list[dict[str, Any]]
    wanted: list[dict[str, Any]] | None  # None: forget them all
    rows: list[dict[str, str]]  # partition, before, after


async def plan_offsets(client: ConnectClient, name: str, wanted: list[dict[str, Any]] | None) -> OffsetsPlan:
    """What an alter (wanted) or a reset (None) would change, partition by partition."""
    current = await found_connector(client.offsets(name), name)
    before = {compact_json(o["partition"]): o.get("offset") for o in current}
    after = ({compact_json(o["partition"]): o.get("offset") for o in wanted} if wanted is not None
             else dict.fromkeys(before))
    rows = [{"partition": key, "before": "-" if before.get(key) is None else compact_json(before.get(key)),
             "after": "-" if after[key] is None else compact_json(after[key])} for key in sorted(after)]
    return OffsetsPlan(name, current, wanted, rows)


async def apply_offsets(client: ConnectClient, plan: OffsetsPlan) -> tuple[str, Path]:
    """Make the change (the connector must be STOPPED); Connect's message and where the previous
    offsets were saved (`offsets alter --file` with that file puts them back)."""
    await refuse_unless_stopped(client, plan.name)
    saved = save_offsets(plan.name, plan.current, "reset" if plan.wanted is None else "alter")
    if plan.wanted is None:
        message = await client.reset_offsets(plan.name)
    else:
        message = await client.alter_offsets(plan.name, plan.wanted)
    return message, saved


STATE_CHANGES = {"pause": "paused", "resume": "resumed", "stop": "stopped"}


async def change_state(client: ConnectClient, name: str, verb: str) -> str:
    """pause, resume or stop a connector; what it became, in words."""
    await found_connector(getattr(client, verb)(name), name)
    return STATE_CHANGES[verb]


async def restart_task(client: ConnectClient, name: str, task: int) -> None:
    from kctl.client.errors import ConnectError

    try:
        await client.restart_task(name, task)
    except ConnectError as exc:
        if exc.status == 404:
            raise NotFound(f"connector {name!r} has no task {task}",
                           f"`kctl connect describe {name}` lists its tasks") from None
        raise
