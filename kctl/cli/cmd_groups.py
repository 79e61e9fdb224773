"""kctl groups (list, describe, delete, delete-offsets, reset-offsets, undo-reset) and kctl lag."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .completion import complete_groups
from .errors import NOT_FOUND, UNHEALTHY, USAGE, CliError
from .options import (
    AlertForOpt,
    AlertOpt,
    ApplyOpt,
    ByDurationOpt,
    FromFileOpt,
    OutputOpt,
    ShiftByOpt,
    ToDatetimeOpt,
    ToEarliestOpt,
    ToLatestOpt,
    ToOffsetOpt,
    YesOpt,
)
from .output import Output, RowWriter, Table, diagnostic, render
from .runtime import ask_on_terminal, check_format, command_line, confirm, execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

groups_app = cli.Group(help="Groups of every type (classic, consumer, share, streams): list, describe, delete, "
                         "reset offsets.", no_args_is_help=True)

LAG_COLUMNS = [
    Column("group", "GROUP"), Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
    Column("committed_offset", "COMMITTED", numeric=True), Column("log_end_offset", "LOG END", numeric=True),
    Column("lag", "LAG", numeric=True), Column("lag_seconds", "LAG SECONDS", numeric=True),
    # Records behind an open transaction: not yet readable by read_committed consumers.
    Column("in_open_transactions", "IN OPEN TXN", numeric=True),
    Column("last_stable_offset", "LAST STABLE", numeric=True, wide=True),
    Column("consume_rate", "CONSUME/S", numeric=True, wide=True),
    Column("produce_rate", "PRODUCE/S", numeric=True, wide=True),
    Column("catch_up_seconds", "CATCH UP S", numeric=True, wide=True),
]
RESET_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                 Column("current_offset", "CURRENT", numeric=True), Column("new_offset", "NEW", numeric=True),
                 Column("skipped", "SKIPPED", numeric=True), Column("reread", "RE-READ", numeric=True)]
LAG_TOTAL_COLUMNS = [Column("group", "GROUP"), Column("state", "STATE"), Column("lag", "TOTAL LAG", numeric=True),
                     Column("health", "HEALTH")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


# ---- list / describe / delete ---------------------------------------------------------------------------
@groups_app.command("list")
def groups_list(
    ctx: cli.Context,
    state: Annotated[list[str] | None, cli.Option("--state", help="Only groups in this state (repeatable).")] = None,
    group_type: Annotated[list[str] | None, cli.Option(
        "--type", help="Only groups of this type: classic, consumer, share or streams (repeatable).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Groups of every type (classic, consumer, share, streams) with their state and protocol."""

    from kctl.client.group_kinds import GROUP_TYPES, parse_group_types

    _, unknown = parse_group_types(group_type or [])
    if unknown:
        raise CliError(f"unknown group type(s) {', '.join(unknown)}", f"use {', '.join(GROUP_TYPES)}", USAGE)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin

        groups = await Admin(cluster).list_groups(state or [], group_type or [])
        rows = [{"group": g.group_id, "type": g.type, "state": g.state, "protocol_type": g.protocol_type}
                for g in groups]
        return Output(rows, [Table(rows, [Column("group", "GROUP"), Column("type", "TYPE"), Column("state", "STATE"),
                                          Column("protocol_type", "PROTOCOL")])])

    execute(_settings(ctx), body, fmt=output)


@groups_app.command("describe")
def groups_describe(
    ctx: cli.Context,
    group: Annotated[str, cli.Argument(help="The group.", autocompletion=complete_groups)],
    output: OutputOpt = "table",
) -> None:
    """State, members with their epochs and assignments, and per partition the committed offset,
    log end offset and lag; a streams group's topology, a share group's start offsets."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.ops.groups import describe_group

        described = await describe_group(cluster, group)
        if described is None:
            raise CliError(f"group {group!r} does not exist", "list groups with `kctl groups list`", NOT_FOUND)
        data, summary = described
        partition_columns = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                             Column("committed_offset", "START" if data["type"] == "share" else "COMMITTED",
                                    numeric=True),
                             Column("log_end_offset", "LOG END", numeric=True), Column("lag", "LAG", numeric=True),
                             Column("member", "MEMBER")]
        member_columns = [Column("member_id", "MEMBER"), Column("client_id", "CLIENT"), Column("host", "HOST")]
        if data["type"] != "classic":
            member_columns.append(Column("epoch", "EPOCH", numeric=True))
        if data["type"] == "streams":
            member_columns += [Column("process_id", "PROCESS", wide=True), Column("active_tasks", "ACTIVE"),
                               Column("standby_tasks", "STANDBY"), Column("warmup_tasks", "WARMUP", wide=True)]
        else:
            member_columns.append(Column("assignment", "ASSIGNMENT"))
        if data["type"] == "consumer":
            member_columns += [Column("target_assignment", "TARGET", wide=True),
                               Column("subscription", "SUBSCRIBED", wide=True)]
        tables = [Table(data["partitions"], partition_columns),
                  Table(data["members"], member_columns, title="members")]
        if data.get("subtopologies"):
            tables.append(Table(data["subtopologies"], [
                Column("subtopology", "SUBTOPOLOGY"), Column("source_topics", "SOURCE TOPICS"),
                Column("repartition_sink_topics", "REPARTITION SINKS"),
                Column("state_changelog_topics", "CHANGELOGS"),
                Column("repartition_source_topics", "REPARTITION SOURCES", wide=True)], title="topology"))
        return Output(data, tables, summary)

    execute(_settings(ctx), body, fmt=output)


@groups_app.command("delete")
def groups_delete(
    ctx: cli.Context,
    groups: Annotated[list[str], cli.Argument(help="Groups to delete (they must have no members).",
                                                autocompletion=complete_groups)],
    yes: YesOpt = False,
) -> None:
    """Delete groups and their committed offsets."""

    async def body(cluster: Cluster, context: Context) -> None:
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


@groups_app.command("delete-offsets")
def groups_delete_offsets(
    ctx: cli.Context,
    group: Annotated[str, cli.Argument(help="The group.", autocompletion=complete_groups)],
    topic: Annotated[list[str], cli.Option(
        "--topic", "-t", metavar="TOPIC[:P,P]", help="A topic, or some of its partitions (repeatable).")],
    yes: YesOpt = False,
) -> None:
    """Forget the group's committed offsets for these topics or partitions."""

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin
        from kctl.ops.groups import delete_offsets, expand_specs, parse_topic_specs

        specs = parse_topic_specs(topic)
        partitions = await expand_specs(cluster, specs)
        deleted = await delete_offsets(Admin(cluster), group, partitions,
                                       whole_topics=all(ps is None for _, ps in specs))
        diagnostic(f"group {group}: committed offsets of {deleted} partition(s) deleted")

    execute(_settings(ctx), body, changes=True)


# ---- reset-offsets and undo-reset --------------------------------------------------------------------------
@groups_app.command("reset-offsets")
def groups_reset_offsets(
    ctx: cli.Context,
    group: Annotated[str, cli.Argument(help="The group (it must have no active members).",
                                         autocompletion=complete_groups)],
    topic: Annotated[list[str] | None, cli.Option(
        "--topic", "-t", metavar="TOPIC[:P,P]", help="A topic, or some of its partitions (repeatable).")] = None,
    all_topics: Annotated[bool, cli.Option("--all-topics", help="Every topic the group has offsets for.")] = False,
    to_earliest: ToEarliestOpt = False,
    to_latest: ToLatestOpt = False,
    to_current: Annotated[bool, cli.Option("--to-current", help="Where it is (re-commits it).")] = False,
    to_offset: ToOffsetOpt = None,
    shift_by: ShiftByOpt = None,
    to_datetime: ToDatetimeOpt = None,
    by_duration: ByDurationOpt = None,
    from_file: FromFileOpt = None,
    to_group: Annotated[str | None, cli.Option("--to-group", help="Copy another group's committed offsets.")
                        ] = None,
    execute_plan: ApplyOpt = False,
    export: Annotated[str | None, cli.Option("--export", help="Write the plan to this file.")] = None,
    export_format: Annotated[str, cli.Option("--export-format", help="csv (Kafka's) or json.")] = "csv",
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Plan (and with --execute apply) new committed offsets, showing per partition what is skipped or re-read."""
    from kctl.ops.groups import Strategy

    settings = _settings(ctx)
    strategy = Strategy.chosen({"to-earliest": to_earliest, "to-latest": to_latest, "to-current": to_current,
                                "to-offset": to_offset, "shift-by": shift_by, "to-datetime": to_datetime,
                                "by-duration": by_duration, "from-file": from_file, "to-group": to_group})
    if export_format not in ("csv", "json"):
        raise CliError(f"unknown --export-format {export_format!r}", "use csv or json", USAGE)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.ops.groups import apply_reset, plan_reset, reset_scope

        partitions = await reset_scope(cluster, topic, all_topics=all_topics, strategy=strategy)
        plan = await plan_reset(cluster, group, strategy, partitions)
        if export:
            _export(export, export_format, plan.rows)
        if execute_plan:
            ask_on_terminal(f"reset the offsets of group {group} as shown", group, yes,
                            Output(None, [Table([dict(r) for r in plan.rows], RESET_COLUMNS)]))
            from kctl.client import Admin
            from kctl.ops.groups.resets import reset_offsets_before_after
            from kctl.ops.journal import recorded

            before, after = reset_offsets_before_after(plan)
            saved = await recorded(Admin(cluster), context.name, command_line(), "offsets", {"group": group}, before,
                                   after, lambda: apply_reset(cluster, plan))
            diagnostic(f"group {group}: offsets of {len(plan.offsets)} partition(s) reset "
                       f"(previous offsets saved to {saved}; `kctl groups undo-reset {group}` restores them)")
        else:
            diagnostic("dry run: nothing changed; add --execute to apply")
        rows: list[Any] = plan.rows
        data = {"group": group, "executed": execute_plan, "partitions": rows}
        return Output(data, [Table(rows, RESET_COLUMNS)])

    execute(settings, body, fmt=output, changes=execute_plan)


def _export(path: str, fmt: str, rows: Sequence[Mapping[str, Any]]) -> None:
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


@groups_app.command("undo-reset")
def groups_undo_reset(
    ctx: cli.Context,
    group: Annotated[str, cli.Argument(help="The group whose last executed reset to undo.",
                                         autocompletion=complete_groups)],
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Put back the offsets the group had before its last executed reset."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.ops.groups import last_saved_reset, undo_reset

        shown = last_saved_reset(group)
        ask_on_terminal(f"put back the offsets group {group} had before the reset of {shown.saved_at}", group, yes,
                        Output(None, [Table(_restored_rows(shown), RESTORED_COLUMNS)]))
        from kctl.client import Admin
        from kctl.ops.journal import Journal, recorded

        journal = Journal()
        restored = [(t, p, o) for t, p, o in shown.offsets]
        # The journaled reset this takes back: the group's last applied one that put back these offsets.
        resets = [c for c in journal.changes() if c.kind == "offsets" and c.target.get("group") == group
                  and c.outcome == "applied" and [tuple(o) for o in c.before] == restored]
        saved = await recorded(Admin(cluster), context.name, command_line(), "offsets", {"group": group},
                               [tuple(o) for o in resets[-1].after] if resets else [], restored,
                               lambda: undo_reset(cluster, group), journal=journal,
                               undoes=resets[-1].id if resets else None)
        diagnostic(f"group {group}: offsets from before the reset of {saved.saved_at} restored")
        rows = _restored_rows(saved)
        return Output({"group": group, "restored": rows}, [Table(rows, RESTORED_COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=True)


RESTORED_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                    Column("offset", "OFFSET", numeric=True)]


def _restored_rows(saved: Any) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p, "offset": o} for t, p, o in saved.offsets]


# ---- lag -------------------------------------------------------------------------------------------------
def _lag_total(g: Any) -> dict[str, Any]:
    return {"group": g.group, "state": g.state, "lag": g.lag, "health": g.health, "members": g.members}


async def _write_lag(cluster: Cluster, groups: list[str] | None, output: str,
                     histories: dict[str, Any] | None = None, keep: Any = None) -> list[dict[str, Any]]:
    """One look, written as each batch of groups is answered (at 500 groups x 1,000 partitions
    that is half a million rows, never all held at once), then each group's total for a table.
    With `histories`, the look is added to each group's history, for rates and verdicts over
    time; `keep` sees each group's look (for `kctl why`'s verdict on an alert). Returns the totals."""
    from kctl.ops.groups import iter_group_lag

    writer = RowWriter(output, LAG_COLUMNS)
    totals: list[dict[str, Any]] = []
    history = None if histories is None else _history_of(histories)
    async for batch in iter_group_lag(cluster, groups, history=history):
        for g in batch:
            writer.write_columns(g.rows.columns())
            if keep is not None:
                keep(g)
        totals.extend(_lag_total(g) for g in batch)
    writer.close()
    if output in ("table", "wide"):
        sys.stdout.write("\n")
        render(Output(totals, [Table(totals, LAG_TOTAL_COLUMNS)]), output)
    sys.stdout.flush()
    return totals


async def _lag_look(cluster: Cluster, groups: list[str] | None, histories: dict[str, Any]) -> None:
    """One look added to each group's history, written nowhere: the first of a check's two."""
    from kctl.ops.groups import iter_group_lag

    async for _ in iter_group_lag(cluster, groups, history=_history_of(histories)):
        pass


def _history_of(histories: dict[str, Any]) -> Any:
    from kctl.ops.groups import LagHistory

    def history(group: str) -> LagHistory:
        found: LagHistory = histories.setdefault(group, LagHistory(min_gap_s=0.0))
        return found

    return history


def lag(
    ctx: cli.Context,
    groups: Annotated[list[str] | None, cli.Argument(help="Groups (default: every group).",
                                                       autocompletion=complete_groups)] = None,
    watch: Annotated[bool, cli.Option("--watch", "-w", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, cli.Option("--interval", help="Seconds between samples.")] = 5.0,
    check: Annotated[bool, cli.Option("--check", help="Exit 7 when a group is unhealthy (for runbooks).")] = False,
    alert: AlertOpt = None,
    alert_for: AlertForOpt = "1m",
    output: OutputOpt = "table",
) -> None:
    """Lag per group, topic and partition: records, seconds, rates, time to catch up, and a health
    verdict. With --watch and --alert, health changes are posted to webhooks, with `kctl why`'s
    verdict."""
    from .cmd_exporter import notifier_for

    settings = _settings(ctx)
    check_format(output)
    if alert and not watch:
        raise CliError("--alert needs --watch", "alerts come from a watch over time", USAGE)
    notifier = notifier_for(alert, alert_for, "")

    async def body(cluster: Cluster, context: Context) -> Output | None:
        import asyncio

        if notifier is not None:
            notifier.cluster = context.name
        if not watch and not check:
            await _write_lag(cluster, groups, output)
            return None
        histories: dict[str, Any] = {}
        if check and not watch:
            await _lag_look(cluster, groups, histories)
            await asyncio.sleep(min(interval, 5.0))  # a verdict needs two looks
            totals = await _write_lag(cluster, groups, output, histories)
            unhealthy = [g for g in totals if g["health"] != "OK"]
            if unhealthy:
                bad = ", ".join(f"{g['group']} {g['health']}" for g in unhealthy)
                raise CliError(f"unhealthy: {bad}", "see `kctl groups describe GROUP`", UNHEALTHY)
            return None
        import time

        from kctl.ops.why import WhyHistory, explain

        why_history = WhyHistory()
        while True:
            if output in ("table", "wide") and sys.stdout.isatty():
                sys.stdout.write("\x1b[2J\x1b[H")
            totals = await _write_lag(cluster, groups, output, histories,
                                      keep=None if notifier is None else lambda g: why_history.add(g, time.time()))
            if notifier is not None:
                from kctl.ops.alerts import seen_of

                await notifier.look(seen_of(totals), time.time(), lambda g: explain(cluster, why_history, g))
            await asyncio.sleep(interval)

    execute(settings, body, fmt=output)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"lag": lag, "groups": groups_app}
