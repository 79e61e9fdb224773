"""kctl groups (list, describe, delete, delete-offsets, reset-offsets, undo-reset) and kctl lag."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .completion import complete_groups
from .errors import NOT_FOUND, REFUSED, UNHEALTHY, USAGE, CliError
from .output import Column, Output, Table, diagnostic, render
from .runtime import check_format, confirm, execute
from .timeparse import iso, now_ms, parse_duration_ms, parse_timestamp_ms

OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table, wide, json, yaml, jsonl or csv.")]
groups_app = typer.Typer(help="Consumer groups: list, describe, delete, reset offsets.", no_args_is_help=True)

LAG_COLUMNS = [
    Column("group", "GROUP"), Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
    Column("committed_offset", "COMMITTED", numeric=True), Column("log_end_offset", "LOG END", numeric=True),
    Column("lag", "LAG", numeric=True), Column("lag_seconds", "LAG SECONDS", numeric=True),
    Column("consume_rate", "CONSUME/S", numeric=True, wide=True),
    Column("produce_rate", "PRODUCE/S", numeric=True, wide=True),
    Column("catch_up_seconds", "CATCH UP S", numeric=True, wide=True),
]


def _settings(ctx: typer.Context) -> Any:
    return ctx.obj


# ---- list / describe / delete ---------------------------------------------------------------------------
@groups_app.command("list")
def groups_list(
    ctx: typer.Context,
    state: Annotated[list[str] | None, typer.Option("--state", help="Only groups in this state (repeatable).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Groups with their state and protocol type."""

    async def body(cluster: Any, context: Any) -> Output:
        from kctl.client import Admin

        groups = await Admin(cluster).list_groups(state or [])
        rows = [{"group": g.group_id, "state": g.state, "protocol_type": g.protocol_type} for g in groups]
        return Output(rows, [Table(rows, [Column("group", "GROUP"), Column("state", "STATE"),
                                          Column("protocol_type", "TYPE")])])

    execute(_settings(ctx), body, fmt=output)


async def _partition_lag(admin: Any, groups: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Committed offset, log end and lag per partition, for many groups in a few round trips."""
    lags = await admin.group_lag(groups)
    return {
        group: [{"group": group, "topic": tp.topic, "partition": tp.partition, "committed_offset": p.committed,
                 "log_end_offset": p.log_end, "log_start_offset": p.log_start, "lag": p.lag}
                for tp, p in sorted(per.items())]
        for group, per in lags.items()
    }


@groups_app.command("describe")
def groups_describe(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group.", autocompletion=complete_groups)],
    output: OutputOpt = "table",
) -> None:
    """State, members, and per partition the committed offset, log end offset and lag."""

    async def body(cluster: Any, context: Any) -> Output:
        from kctl.client import Admin, KafkaError

        admin = Admin(cluster)
        described = (await admin.describe_groups([group]))[group]
        if isinstance(described, KafkaError):
            raise described
        partitions = (await _partition_lag(admin, [group]))[group]
        if described.state == "Dead" and not partitions:
            raise CliError(f"group {group!r} does not exist", "list groups with `kctl groups list`", NOT_FOUND)
        owner = {(tp.topic, tp.partition): m.member_id for m in described.members for tp in m.assignment}
        for row in partitions:
            row.pop("group")
            row["member"] = owner.get((row["topic"], row["partition"]))
        members = [{"member_id": m.member_id, "instance_id": m.instance_id, "client_id": m.client_id,
                    "host": m.client_host, "assignment": [f"{tp.topic}[{tp.partition}]" for tp in m.assignment]}
                   for m in described.members]
        data = {"group": group, "state": described.state, "protocol_type": described.protocol_type,
                "protocol": described.protocol, "coordinator": described.coordinator, "members": members,
                "partitions": partitions, "lag": sum(p["lag"] for p in partitions)}
        summary = [("group", group), ("state", described.state), ("protocol", described.protocol or "-"),
                   ("members", len(members)), ("total lag", data["lag"])]
        tables = [
            Table(partitions, [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                               Column("committed_offset", "COMMITTED", numeric=True),
                               Column("log_end_offset", "LOG END", numeric=True), Column("lag", "LAG", numeric=True),
                               Column("member", "MEMBER")]),
            Table(members, [Column("member_id", "MEMBER"), Column("client_id", "CLIENT"), Column("host", "HOST"),
                            Column("assignment", "ASSIGNMENT")], title="members"),
        ]
        return Output(data, tables, summary)

    execute(_settings(ctx), body, fmt=output)


@groups_app.command("delete")
def groups_delete(
    ctx: typer.Context,
    groups: Annotated[list[str], typer.Argument(help="Groups to delete (they must have no members).",
                                                autocompletion=complete_groups)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete groups and their committed offsets."""

    async def body(cluster: Any, context: Any) -> None:
        from kctl.client import Admin

        confirm(f"deleting group(s) {', '.join(groups)} and their offsets on {context.name}",
                groups[0] if len(groups) == 1 else "delete", yes)
        results = await Admin(cluster).delete_groups(groups)
        failed = [e for e in results.values() if e is not None]
        for name, error in results.items():
            if error is None:
                diagnostic(f"group {name} deleted")
        if failed:
            raise failed[0]

    execute(_settings(ctx), body, changes=True)


def _parse_topic_specs(specs: list[str] | None) -> list[tuple[str, list[int] | None]]:
    out: list[tuple[str, list[int] | None]] = []
    for spec in specs or []:
        topic, sep, parts = spec.partition(":")
        if not topic:
            raise CliError(f"bad --topic {spec!r}", "write TOPIC or TOPIC:0,1,2", USAGE)
        if not sep:
            out.append((topic, None))
            continue
        try:
            out.append((topic, sorted({int(p) for p in parts.split(",") if p.strip()})))
        except ValueError:
            raise CliError(f"bad partitions in --topic {spec!r}", "write TOPIC:0,1,2", USAGE) from None
    return out


async def _expand(cluster: Any, specs: list[tuple[str, list[int] | None]]) -> list[Any]:
    from kctl.client import TopicPartition

    out = []
    for topic, partitions in specs:
        info = await cluster.topic(topic)
        for p in partitions if partitions is not None else sorted(info.partitions):
            if p not in info.partitions:
                raise CliError(f"{topic} has no partition {p}", f"it has {len(info.partitions)}", NOT_FOUND)
            out.append(TopicPartition(topic, p))
    return out


@groups_app.command("delete-offsets")
def groups_delete_offsets(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group.", autocompletion=complete_groups)],
    topic: Annotated[list[str], typer.Option("--topic", "-t", help="TOPIC or TOPIC:P,P (repeatable).")],
) -> None:
    """Forget the group's committed offsets for these topics or partitions."""

    async def body(cluster: Any, context: Any) -> None:
        from kctl.client import Admin

        partitions = await _expand(cluster, _parse_topic_specs(topic))
        results = await Admin(cluster).delete_group_offsets(group, partitions)
        failed = [e for e in results.values() if e is not None]
        if failed:
            raise failed[0]
        diagnostic(f"group {group}: committed offsets of {len(partitions)} partition(s) deleted")

    execute(_settings(ctx), body, changes=True)


# ---- reset-offsets and undo-reset --------------------------------------------------------------------------
def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kctl" / "resets"


def _read_plan_file(path: str) -> dict[tuple[str, int], int]:
    """Kafka's reset CSV: TOPIC,PARTITION,OFFSET per line (as --export writes it)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", None, USAGE) from None
    out: dict[tuple[str, int], int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise CliError(f"{path}:{number}: expected TOPIC,PARTITION,OFFSET", None, USAGE)
        try:
            out[(row[0].strip(), int(row[1]))] = int(row[2])
        except ValueError:
            raise CliError(f"{path}:{number}: partition and offset must be numbers", None, USAGE) from None
    return out


@groups_app.command("reset-offsets")
def groups_reset_offsets(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group (it must have no active members).",
                                         autocompletion=complete_groups)],
    topic: Annotated[list[str] | None, typer.Option("--topic", "-t", help="TOPIC or TOPIC:P,P (repeatable).")] = None,
    all_topics: Annotated[bool, typer.Option("--all-topics", help="Every topic the group has offsets for.")] = False,
    to_earliest: Annotated[bool, typer.Option("--to-earliest", help="The oldest record still kept.")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest", help="The end: skip everything there is.")] = False,
    to_current: Annotated[bool, typer.Option("--to-current", help="Where it is (re-commits it).")] = False,
    to_offset: Annotated[int | None, typer.Option("--to-offset", help="This offset in every partition.")] = None,
    shift_by: Annotated[int | None, typer.Option("--shift-by", help="Move by N (negative: back).")] = None,
    to_datetime: Annotated[str | None, typer.Option("--to-datetime", help="First record at or after this time.")
                           ] = None,
    by_duration: Annotated[str | None, typer.Option("--by-duration", help="This long ago (e.g. 1h, PT30M).")] = None,
    from_file: Annotated[str | None, typer.Option("--from-file", help="Kafka's CSV: TOPIC,PARTITION,OFFSET.")] = None,
    to_group: Annotated[str | None, typer.Option("--to-group", help="Copy another group's committed offsets.")
                        ] = None,
    execute_plan: Annotated[bool, typer.Option("--execute", help="Apply it (the default is a dry run).")] = False,
    export: Annotated[str | None, typer.Option("--export", help="Write the plan to this file.")] = None,
    export_format: Annotated[str, typer.Option("--export-format", help="csv (Kafka's) or json.")] = "csv",
    output: OutputOpt = "table",
) -> None:
    """Plan (and with --execute apply) new committed offsets, showing per partition what is skipped or re-read."""
    strategies = [s for s, on in [("--to-earliest", to_earliest), ("--to-latest", to_latest),
                                  ("--to-current", to_current), ("--to-offset", to_offset is not None),
                                  ("--shift-by", shift_by is not None), ("--to-datetime", to_datetime is not None),
                                  ("--by-duration", by_duration is not None), ("--from-file", from_file is not None),
                                  ("--to-group", to_group is not None)] if on]
    settings = _settings(ctx)

    async def body(cluster: Any, context: Any) -> Output:
        from kctl.client import EARLIEST, LATEST, Admin, TopicPartition

        if len(strategies) != 1:
            got = f" (got {', '.join(strategies)})" if strategies else ""
            raise CliError("give exactly one reset strategy" + got,
                           "--to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime, "
                           "--by-duration, --from-file or --to-group", USAGE)
        if export_format not in ("csv", "json"):
            raise CliError(f"unknown --export-format {export_format!r}", "use csv or json", USAGE)
        admin = Admin(cluster)
        committed = (await admin.list_group_offsets([group]))[group]
        file_plan = _read_plan_file(from_file) if from_file else {}
        if topic:
            partitions = await _expand(cluster, _parse_topic_specs(topic))
        elif all_topics:
            partitions = sorted(committed)
        elif file_plan:
            partitions = [TopicPartition(t, p) for t, p in sorted(file_plan)]
        else:
            raise CliError("say which partitions: --topic T[:P,P] or --all-topics", None, USAGE)
        if not partitions:
            raise CliError(f"group {group!r} has no committed offsets to reset", "name them with --topic", NOT_FOUND)
        earliest = await admin.list_offsets(dict.fromkeys(partitions, EARLIEST))
        latest = await admin.list_offsets(dict.fromkeys(partitions, LATEST))
        targets: dict[Any, int] = {}
        if to_datetime is not None or by_duration is not None:
            when = parse_timestamp_ms(to_datetime) if to_datetime is not None else now_ms() - parse_duration_ms(
                by_duration or "0s")
            found = await admin.list_offsets(dict.fromkeys(partitions, when))
            targets = {tp: o.offset if o.offset >= 0 else latest[tp].offset for tp, o in found.items()}
        elif to_group is not None:
            other = (await admin.list_group_offsets([to_group]))[to_group]
            targets = {tp: other[tp].offset for tp in partitions if tp in other}
        rows = []
        plan: dict[Any, int] = {}
        for tp in partitions:
            current = committed[tp].offset if tp in committed else None
            start, end = earliest[tp].offset, latest[tp].offset
            base = current if current is not None else end
            if to_earliest:
                new = start
            elif to_latest:
                new = end
            elif to_current:
                new = base
            elif to_offset is not None:
                new = to_offset
            elif shift_by is not None:
                new = base + shift_by
            elif from_file:
                new = file_plan.get((tp.topic, tp.partition), base)
            else:
                if tp not in targets:
                    continue  # --to-group: the other group has nothing here
                new = targets[tp]
            new = min(max(new, start), end)  # clamped to what the log holds, as Kafka does
            plan[tp] = new
            delta = new - base
            rows.append({"topic": tp.topic, "partition": tp.partition, "current_offset": current,
                         "new_offset": new, "log_start_offset": start, "log_end_offset": end,
                         "skipped": max(delta, 0), "reread": max(-delta, 0)})
        if export:
            _export(export, export_format, rows)
        if execute_plan:
            if context.read_only:
                raise CliError(f"context {context.name!r} is read-only", None, REFUSED)
            await _refuse_if_active(admin, group)
            saved = _save_previous(group, committed, list(plan))
            results = await admin.alter_group_offsets(group, plan)
            failed = [e for e in results.values() if e is not None]
            if failed:
                raise failed[0]
            diagnostic(f"group {group}: offsets of {len(plan)} partition(s) reset "
                       f"(previous offsets saved to {saved}; `kctl groups undo-reset {group}` restores them)")
        else:
            diagnostic("dry run: nothing changed; add --execute to apply")
        columns = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                   Column("current_offset", "CURRENT", numeric=True), Column("new_offset", "NEW", numeric=True),
                   Column("skipped", "SKIPPED", numeric=True), Column("reread", "RE-READ", numeric=True)]
        data = {"group": group, "executed": execute_plan, "partitions": rows}
        return Output(data, [Table(rows, columns)])

    execute(settings, body, fmt=output, changes=execute_plan)


def _export(path: str, fmt: str, rows: list[dict[str, Any]]) -> None:
    if fmt == "json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for row in rows:
            writer.writerow([row["topic"], row["partition"], row["new_offset"]])
        text = buf.getvalue()
    Path(path).write_text(text)
    diagnostic(f"plan written to {path}")


async def _refuse_if_active(admin: Any, group: str) -> None:
    """Offsets must not move under running consumers: they would overwrite them at their next commit."""
    from kctl.client import KafkaError

    described = (await admin.describe_groups([group]))[group]
    if not isinstance(described, KafkaError) and described.members:
        raise CliError(f"group {group!r} has {len(described.members)} active member(s) "
                       f"(state {described.state}); refusing to move its offsets under it",
                       "stop its consumers, then run this again", REFUSED)


def _save_previous(group: str, committed: dict[Any, Any], partitions: list[Any]) -> Path:
    directory = _state_dir() / group
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{time.strftime('%Y%m%dT%H%M%S')}-{now_ms() % 1000:03d}.json"
    record = [{"topic": tp.topic, "partition": tp.partition,
               "offset": committed[tp].offset if tp in committed else None} for tp in partitions]
    path.write_text(json.dumps({"group": group, "saved_at": iso(now_ms()), "offsets": record}, indent=2))
    return path


@groups_app.command("undo-reset")
def groups_undo_reset(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group whose last executed reset to undo.",
                                         autocompletion=complete_groups)],
    output: OutputOpt = "table",
) -> None:
    """Put back the offsets the group had before its last executed reset."""

    async def body(cluster: Any, context: Any) -> Output:
        from kctl.client import Admin, TopicPartition

        saves = sorted((_state_dir() / group).glob("*.json"))
        if not saves:
            raise CliError(f"no executed reset of group {group!r} to undo", "resets are saved by --execute",
                           NOT_FOUND)
        saved = json.loads(saves[-1].read_text())
        admin = Admin(cluster)
        await _refuse_if_active(admin, group)
        restore = {TopicPartition(o["topic"], o["partition"]): o["offset"] for o in saved["offsets"]
                   if o["offset"] is not None}
        forget = [TopicPartition(o["topic"], o["partition"]) for o in saved["offsets"] if o["offset"] is None]
        if restore:
            failed = [e for e in (await admin.alter_group_offsets(group, restore)).values() if e is not None]
            if failed:
                raise failed[0]
        if forget:
            await admin.delete_group_offsets(group, forget)
        saves[-1].rename(saves[-1].with_suffix(".undone"))
        diagnostic(f"group {group}: offsets from before the reset of {saved['saved_at']} restored")
        rows = [{"topic": o["topic"], "partition": o["partition"], "offset": o["offset"]} for o in saved["offsets"]]
        return Output({"group": group, "restored": rows},
                      [Table(rows, [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                                    Column("offset", "OFFSET", numeric=True)])])

    execute(_settings(ctx), body, fmt=output, changes=True)


# ---- lag -------------------------------------------------------------------------------------------------
async def _record_age_ms(cluster: Any, rows: list[dict[str, Any]]) -> None:
    """Seconds of lag: the age of the record at each committed offset (one small fetch per leader)."""
    from kctl.client import TopicPartition
    from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
    from kctl.protocol.records import decode_batches

    behind = [r for r in rows if r["lag"] > 0 and r["committed_offset"] is not None and r["committed_offset"] >= 0]
    by_leader = await cluster.leaders([TopicPartition(r["topic"], r["partition"]) for r in behind])
    wanted = {(r["topic"], r["partition"]): r for r in behind}
    now = now_ms()
    for node, tps in by_leader.items():
        topics: dict[str, list[Any]] = {}
        for tp in tps:
            topics.setdefault(tp.topic, []).append(FetchPartition(
                partition=tp.partition, fetch_offset=wanted[(tp.topic, tp.partition)]["committed_offset"],
                partition_max_bytes=64 * 1024))
        response = await cluster.send(node, FetchRequest(replica_id=-1, max_wait_ms=0, min_bytes=0,
                                                         max_bytes=4 << 20,
                                                         topics=[FetchTopic(t, ps) for t, ps in topics.items()]))
        for topic in response.responses:
            for part in topic.partitions:
                row = wanted.get((topic.topic, part.partition_index))
                if row is None or part.error_code or not part.records:
                    continue
                for batch in decode_batches(part.records):
                    record = next((r for r in batch.records if (r.offset or 0) >= row["committed_offset"]), None)
                    if record is not None and record.timestamp is not None:
                        row["lag_seconds"] = max(now - record.timestamp, 0) / 1000
                        break


def _health(history: list[list[dict[str, Any]]], state: str) -> str:
    """Burrow's verdicts over a window of samples, minus its false STOP on idle topics."""
    first, last = history[0], history[-1]
    lag_first = sum(r["lag"] for r in first)
    lag_last = sum(r["lag"] for r in last)
    committed_first = {(r["topic"], r["partition"]): r["committed_offset"] for r in first}
    if any(r["committed_offset"] is not None and committed_first.get((r["topic"], r["partition"])) is not None
           and r["committed_offset"] < committed_first[(r["topic"], r["partition"])] for r in last):
        return "REWIND"
    if lag_last == 0:
        return "OK"  # caught up: an idle topic is not a stopped consumer
    if state in ("Empty", "Dead"):
        return "STOP"
    moved = any(r["committed_offset"] != committed_first.get((r["topic"], r["partition"])) for r in last)
    if len(history) > 1 and not moved:
        return "STALL"
    if len(history) > 1 and lag_last > lag_first:
        return "WARN"
    return "OK"


async def _lag_sample(cluster: Any, groups: list[str] | None) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    from kctl.client import Admin, KafkaError

    admin = Admin(cluster)
    names = groups or [g.group_id for g in await admin.list_groups()]
    per_group = await _partition_lag(admin, names)
    described = await admin.describe_groups(names)
    states = {g: (d.state if not isinstance(d, KafkaError) else "Unknown") for g, d in described.items()}
    rows = [r for g in names for r in per_group.get(g, [])]
    for r in rows:
        r["lag_seconds"] = 0.0 if r["lag"] == 0 else None
    await _record_age_ms(cluster, rows)
    return per_group, states


def lag(
    ctx: typer.Context,
    groups: Annotated[list[str] | None, typer.Argument(help="Groups (default: every group).",
                                                       autocompletion=complete_groups)] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between samples.")] = 5.0,
    check: Annotated[bool, typer.Option("--check", help="Exit 7 when a group is unhealthy (for runbooks).")] = False,
    output: OutputOpt = "table",
) -> None:
    """Lag per group, topic and partition: records, seconds, rates, time to catch up, and a health verdict."""
    settings = _settings(ctx)
    check_format(output)

    async def body(cluster: Any, context: Any) -> Output:
        import asyncio

        history: dict[str, list[list[dict[str, Any]]]] = {}
        times: list[float] = []
        rounds = 0
        verdicts: dict[str, str] = {}
        while True:
            sample, states = await _lag_sample(cluster, groups)
            times.append(time.monotonic())
            for group, rows in sample.items():
                history.setdefault(group, []).append(rows)
            rounds += 1
            if check and rounds == 1 and not watch:
                await asyncio.sleep(min(interval, 5.0))  # a verdict needs two looks
                continue
            rows_out: list[dict[str, Any]] = []
            summary_rows = []
            for group, samples in history.items():
                verdicts[group] = _health(samples[-10:], states.get(group, "Unknown"))
                _rates(samples, times, group)
                rows_out.extend(samples[-1])
                summary_rows.append({"group": group, "state": states.get(group), "lag": sum(r["lag"] for r in
                                                                                           samples[-1]),
                                     "health": verdicts[group]})
            for r in rows_out:
                r["health"] = verdicts[r["group"]]
            result = Output(rows_out, [
                Table(summary_rows, [Column("group", "GROUP"), Column("state", "STATE"),
                                     Column("lag", "TOTAL LAG", numeric=True), Column("health", "HEALTH")]),
                Table(rows_out, LAG_COLUMNS),
            ])
            if not watch:
                if check and any(v != "OK" for v in verdicts.values()):
                    render(result, output)
                    bad = ", ".join(f"{g} {v}" for g, v in verdicts.items() if v != "OK")
                    raise CliError(f"unhealthy: {bad}", "see `kctl groups describe GROUP`", UNHEALTHY)
                return result
            if output in ("table", "wide"):
                import sys

                if sys.stdout.isatty():
                    sys.stdout.write("\x1b[2J\x1b[H")
            render(result, output)
            await asyncio.sleep(interval)

    execute(settings, body, fmt=output)


def _rates(samples: list[list[dict[str, Any]]], times: list[float], group: str) -> None:
    if len(samples) < 2:
        return
    first, last = samples[max(len(samples) - 10, 0)], samples[-1]
    seconds = times[-1] - times[max(len(times) - 10, 0)] or 1.0
    before = {(r["topic"], r["partition"]): r for r in first}
    for r in last:
        old = before.get((r["topic"], r["partition"]))
        if old is None:
            continue
        consumed = (r["committed_offset"] or 0) - (old["committed_offset"] or 0)
        produced = r["log_end_offset"] - old["log_end_offset"]
        r["consume_rate"] = round(consumed / seconds, 1)
        r["produce_rate"] = round(produced / seconds, 1)
        net = r["consume_rate"] - r["produce_rate"]
        r["catch_up_seconds"] = round(r["lag"] / net, 1) if net > 0 and r["lag"] else (0.0 if not r["lag"] else None)
