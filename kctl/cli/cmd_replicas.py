"""kctl reassign, elect-leaders and log-dirs: where replicas live and which one leads."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .completion import complete_topics
from .errors import USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, diagnostic, render
from .runtime import check_format, command_line, execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

reassign_app = cli.Group(help="Move partition replicas between brokers, as kafka-reassign-partitions does.",
                           no_args_is_help=True)

MOVE_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                Column("current", "CURRENT"), Column("target", "TARGET"), Column("adding", "ADDING"),
                Column("removing", "REMOVING"), Column("bytes_to_copy", "BYTES TO COPY", numeric=True)]
PROGRESS_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                    Column("target", "TARGET"), Column("state", "STATE"), Column("adding", "ADDING"),
                    Column("bytes_copied", "COPIED", numeric=True), Column("bytes_total", "TO COPY", numeric=True)]

ThrottleOpt = Annotated[str | None, cli.Option(
    "--throttle", metavar="RATE", help="Replication limit while data moves, bytes/s (e.g. 50000000, 50M); "
                                       "set on the moving replicas and their brokers, cleared when done.")]
ExecuteOpt = Annotated[bool, cli.Option("--execute", help="Start it (the default is a dry run).")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


def parse_rate(text: str | None) -> int | None:
    if text is None:
        return None
    units = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3}
    raw = text.strip().upper().removesuffix("B/S").removesuffix("/S").removesuffix("B")
    number, unit = (raw[:-1], raw[-1]) if raw[-1:] in units and raw[-1:] else (raw, "")
    try:
        rate = int(float(number) * units[unit])
    except ValueError:
        raise CliError(f"cannot read {text!r} as a rate", "bytes per second, e.g. 50000000 or 50M", USAGE) from None
    if rate <= 0:
        raise CliError("--throttle must be positive", None, USAGE)
    return rate


async def apply_plan(cluster: Cluster, plan: dict[Any, list[int]], *, execute_it: bool, throttle: int | None,
                     what: str, context: Context, undoes: str | None = None) -> Output:
    """Preview the plan per partition; with `execute_it`, start it (saving the previous assignment,
    and journaling it as a change)."""
    from kctl.client import Admin
    from kctl.ops import reassign
    from kctl.ops.journal import recorded

    admin = Admin(cluster)
    moves = await reassign.preview(admin, plan)
    rows = [m.row() for m in moves]
    total = sum(m.bytes_to_copy for m in moves)
    if not moves:
        diagnostic(f"{what}: nothing to move")
    elif execute_it:
        before = [(m.topic, m.partition, m.current) for m in moves]
        after = [(m.topic, m.partition, m.target) for m in moves]
        started = await recorded(admin, context.name, command_line(), "reassignment", {}, before, after,
                                 lambda: reassign.execute(admin, moves, throttle), undoes=undoes)
        diagnostic(f"{what}: {len(moves)} partition(s) reassigning, {total:,} bytes to copy"
                   + (f", throttled to {throttle:,} bytes/s" if throttle else "")
                   + f"; previous assignment saved to {started.path} (`kctl reassign undo` restores it); "
                   "`kctl reassign status --watch` follows it")
    else:
        diagnostic(f"{what}: dry run of {len(moves)} partition(s), {total:,} bytes to copy; "
                   "nothing changed; add --execute to start it")
    return Output({"executed": execute_it and bool(moves), "bytes_to_copy": total, "partitions": rows},
                  [Table(rows, MOVE_COLUMNS)])


@reassign_app.command("plan")
def reassign_plan(
    ctx: cli.Context,
    topic: Annotated[list[str], cli.Option("--topic", "-t", help="A topic to plan for (repeatable).",
                                             autocompletion=complete_topics)],
    brokers: Annotated[str | None, cli.Option("--brokers", metavar="ID,ID", help="Brokers to place replicas on "
                                                "(default: every live one).")] = None,
    replication_factor: Annotated[int | None, cli.Option("--replication-factor", "-r",
                                                           help="Replicas per partition (default: as now).")] = None,
    rack_aware: Annotated[bool, cli.Option("--rack-aware", help="A partition's replicas on distinct racks.")
                          ] = False,
    out: Annotated[Path | None, cli.Option("--out", metavar="FILE", help="Write the plan here (default: stdout).")
                   ] = None,
) -> None:
    """Write a plan, in Kafka's reassignment JSON, that moves the fewest replicas to balance them."""
    only = _broker_ids(brokers)

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin
        from kctl.ops.reassign import plan_json, plan_reassignment

        admin = Admin(cluster)
        topics = await described_topics(admin, topic)
        _, _, live = await admin.describe_cluster()
        plan = plan_reassignment(topics, live, only=only, replication_factor=replication_factor,
                                 rack_aware=rack_aware)
        text = plan_json(plan)
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text)
        diagnostic(f"{len(plan)} partition(s) to move" + (f"; plan written to {out}" if out else "")
                   + ("; `kctl reassign apply PLAN` previews it" if plan else ""))

    execute(_settings(ctx), body)


async def described_topics(admin: Any, names: list[str]) -> dict[str, Any]:
    """The named topics' partitions and replicas; an unknown name fails the command."""
    from kctl.client import KafkaError

    described = await admin.describe_topics(names)
    for found in described.values():
        if isinstance(found, KafkaError):
            raise found
    return dict(described)


def _broker_ids(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return sorted({int(b) for b in text.split(",") if b.strip()})
    except ValueError:
        raise CliError(f"bad --brokers {text!r}", "write broker ids, e.g. 1,2,3", USAGE) from None


@reassign_app.command("apply")
def reassign_apply(
    ctx: cli.Context,
    plan_file: Annotated[Path, cli.Argument(metavar="PLAN", help="A plan in Kafka's reassignment JSON.")],
    throttle: ThrottleOpt = None,
    execute_it: ExecuteOpt = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Preview a plan per partition (moves, bytes to copy); with --execute, start it."""
    from kctl.ops.reassign import read_plan

    try:
        text = plan_file.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {plan_file}: {exc.strerror}", None, USAGE) from None
    plan = read_plan(text, str(plan_file))
    rate = parse_rate(throttle)

    async def body(cluster: Cluster, context: Context) -> Output:
        return await apply_plan(cluster, plan, execute_it=execute_it, throttle=rate, what="reassignment",
                                context=context)

    execute(_settings(ctx), body, fmt=output, changes=execute_it)


@reassign_app.command("status")
def reassign_status(
    ctx: cli.Context,
    watch: Annotated[bool, cli.Option("--watch", "-w", help="Refresh until every partition is done.")] = False,
    interval: Annotated[float, cli.Option("--interval", help="Seconds between looks.")] = 2.0,
    output: OutputOpt = "table",
) -> None:
    """Progress of the last reassignment kctl started, per partition; clears its throttles once done."""
    check_format(output)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops import reassign

        admin = Admin(cluster)
        executed = reassign.Executed.latest()
        while True:
            rows = [p.row() for p in await reassign.progress(admin, executed)]
            done = all(r["state"] == "done" for r in rows)
            if done and executed.throttles:
                await reassign.clear_throttles(admin, executed.throttles)
                executed.throttles = {}
                executed.save()
                diagnostic("reassignment done; throttles cleared")
            result = Output({"started_at": executed.started_at, "done": done, "partitions": rows},
                            [Table(rows, PROGRESS_COLUMNS)])
            if done or not watch:
                return result
            render(result, output)
            await asyncio.sleep(interval)

    execute(_settings(ctx), body, fmt=output)


@reassign_app.command("cancel")
def reassign_cancel(ctx: cli.Context, yes: YesOpt = False) -> None:
    """Stop the partitions of the last reassignment that are still moving, and clear its throttles."""

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin
        from kctl.ops import reassign

        stopped = await reassign.cancel(Admin(cluster), reassign.Executed.latest())
        diagnostic(f"{len(stopped)} partition(s) stopped moving; throttles cleared")

    execute(_settings(ctx), body, changes=True)


@reassign_app.command("undo")
def reassign_undo(ctx: cli.Context, throttle: ThrottleOpt = None, execute_it: ExecuteOpt = False,
                  yes: YesOpt = False, output: OutputOpt = "table") -> None:
    """Put the partitions of the last reassignment back where they were (a dry run unless --execute)."""
    rate = parse_rate(throttle)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.ops import reassign
        from kctl.ops.journal import Journal

        latest = reassign.Executed.latest()
        target = sorted((tp.topic, tp.partition, replicas) for tp, replicas in latest.target.items())
        started = [c for c in Journal().changes() if c.kind == "reassignment" and c.outcome == "applied"
                   and sorted((t, p, list(r)) for t, p, r in c.after) == target]
        return await apply_plan(cluster, latest.previous, execute_it=execute_it, throttle=rate, what="undo",
                                context=context, undoes=started[-1].id if started else None)

    execute(_settings(ctx), body, fmt=output, changes=execute_it)


# ---- leaders and disks ----------------------------------------------------------------------------------
def elect_leaders(
    ctx: cli.Context,
    topic: Annotated[list[str] | None, cli.Option("--topic", "-t", metavar="TOPIC[:P,P]",
                                                    help="A topic, or some of its partitions (repeatable).")] = None,
    all_partitions: Annotated[bool, cli.Option("--all", help="Every partition of the cluster.")] = False,
    unclean: Annotated[bool, cli.Option("--unclean", help="Elect out-of-sync replicas if need be (can lose "
                                                            "records).")] = False,
    preferred: Annotated[bool, cli.Option("--preferred", help="The first replica of each partition "
                                                                "(the default).")] = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Move leadership back to preferred replicas (or, with --unclean, to any replica that is alive)."""
    if unclean and preferred:
        raise CliError("give --preferred or --unclean, not both", None, USAGE)
    if bool(topic) == all_partitions:
        raise CliError("say which partitions: --topic T[:P,P] or --all", None, USAGE)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.groups import expand_specs, parse_topic_specs
        from kctl.protocol.errors import ErrorCode

        partitions = await expand_specs(cluster, parse_topic_specs(topic)) if topic else None
        results = await Admin(cluster).elect_leaders(partitions, unclean=unclean)
        rows = [{"topic": tp.topic, "partition": tp.partition,
                 "result": "elected" if error is None else
                 "not needed" if error.code is ErrorCode.ELECTION_NOT_NEEDED else str(error)}
                for tp, error in sorted(results.items())]
        elected = sum(r["result"] == "elected" for r in rows)
        diagnostic(f"{elected} leader(s) elected" + ("" if partitions is not None else " (partitions that needed it)"))
        failed = [e for e in results.values() if e is not None and e.code is not ErrorCode.ELECTION_NOT_NEEDED]
        if failed:
            render(Output(rows, [Table(rows, RESULT_COLUMNS)]), output)
            raise failed[0]
        return Output(rows, [Table(rows, RESULT_COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=True)


RESULT_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True), Column("result", "RESULT")]


def log_dirs(
    ctx: cli.Context,
    broker: Annotated[list[int] | None, cli.Option("--broker", metavar="ID", help="Only this broker "
                                                                                    "(repeatable).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Size per broker, log directory and topic (with the directory's free space)."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin

        described = await Admin(cluster).describe_log_dirs(broker)
        rows = []
        for node, dirs in sorted(described.items()):
            for d in dirs:
                by_topic: dict[str, tuple[int, int]] = {}
                for tp, size in d.partition_sizes.items():
                    count, total = by_topic.get(tp.topic, (0, 0))
                    by_topic[tp.topic] = (count + 1, total + size)
                for name, (count, total) in sorted(by_topic.items()):
                    rows.append({"broker": node, "log_dir": d.path, "topic": name, "partitions": count,
                                 "size": total, "dir_total": d.total_bytes, "dir_usable": d.usable_bytes,
                                 "error": str(d.error) if d.error else None})
        columns = [Column("broker", "BROKER", numeric=True), Column("log_dir", "LOG DIR"), Column("topic", "TOPIC"),
                   Column("partitions", "PARTITIONS", numeric=True), Column("size", "SIZE", numeric=True),
                   Column("dir_usable", "DIR FREE", numeric=True, wide=True),
                   Column("dir_total", "DIR SIZE", numeric=True, wide=True)]
        return Output(rows, [Table(rows, columns)])

    execute(_settings(ctx), body, fmt=output)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"reassign": reassign_app, "elect-leaders": elect_leaders, "log-dirs": log_dirs}

__all__ = ["apply_plan", "described_topics", "elect_leaders", "log_dirs", "parse_rate", "reassign_app"]
