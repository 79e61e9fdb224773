"""kctl streams: a Kafka Streams app's group and topics, and the reset
kafka-streams-application-reset.sh does (input offsets moved, internal topics deleted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .options import (
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
from .output import Output, Table, diagnostic
from .runtime import execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

streams_app = cli.Group(help="Kafka Streams apps: describe one, reset one to reprocess its input.",
                          no_args_is_help=True)

AppArg = Annotated[str, cli.Argument(metavar="APP_ID", help="The app's application.id (its group id).")]
TOPIC_COLUMNS = [Column("topic", "TOPIC"), Column("kind", "KIND"), Column("partitions", "PARTITIONS", numeric=True)]
RESET_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                 Column("current_offset", "CURRENT", numeric=True), Column("new_offset", "NEW", numeric=True),
                 Column("reread", "RE-READ", numeric=True), Column("skipped", "SKIPPED", numeric=True)]
DELETE_COLUMNS = [Column("topic", "INTERNAL TOPIC TO DELETE")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


@streams_app.command("describe")
def streams_describe(ctx: cli.Context, app_id: AppArg, output: OutputOpt = "table") -> None:
    """The app's group (type, state, members; a streams group's topology on Kafka 4.4), its input
    topics (where it has committed offsets) and its internal topics."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.ops.streams import describe_app

        app = await describe_app(cluster, app_id)
        counts = {t: len((await cluster.topic(t)).partitions) for t in app.input_topics + app.internal_topics}
        rows = ([{"topic": t, "kind": "input", "partitions": counts[t]} for t in app.input_topics]
                + [{"topic": t, "kind": "changelog" if t.endswith("-changelog") else
                    "repartition" if t.endswith("-repartition") else "internal", "partitions": counts[t]}
                   for t in app.internal_topics])
        data = {"app_id": app.app_id, "group_type": app.group_type, "state": app.state, "members": app.members,
                "input_topics": app.input_topics, "internal_topics": app.internal_topics, "group": app.group}
        summary: list[tuple[str, Any]] = [("app", app.app_id),
                                          ("group", f"{app.group_type}, {app.state}" if app.group_type else "none"),
                                          ("members", app.members)]
        tables = [Table(rows, TOPIC_COLUMNS)]
        if app.group and app.group.get("subtopologies"):
            tables.append(Table([{"subtopology": s["subtopology"], "sources": ", ".join(s["source_topics"]),
                                  "changelogs": ", ".join(s["state_changelog_topics"])}
                                 for s in app.group["subtopologies"]],
                                [Column("subtopology", "SUBTOPOLOGY"), Column("sources", "SOURCE TOPICS"),
                                 Column("changelogs", "CHANGELOGS")], "Topology (streams group)"))
        return Output(data, tables, summary)

    execute(_settings(ctx), body, fmt=output)


@streams_app.command("reset")
def streams_reset(
    ctx: cli.Context,
    app_id: AppArg,
    input_topic: Annotated[list[str] | None, cli.Option(
        "--input-topic", "-i", metavar="TOPIC",
        help="An input topic (repeatable; default: every non-internal topic the app has offsets on).")] = None,
    internal_topic: Annotated[list[str] | None, cli.Option(
        "--internal-topic", metavar="TOPIC",
        help="Delete only these of its internal topics (repeatable; default: all of them).")] = None,
    to_earliest: ToEarliestOpt = False,
    to_latest: ToLatestOpt = False,
    to_offset: ToOffsetOpt = None,
    shift_by: ShiftByOpt = None,
    to_datetime: ToDatetimeOpt = None,
    by_duration: ByDurationOpt = None,
    from_file: FromFileOpt = None,
    execute_plan: ApplyOpt = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Reset an app to reprocess its input: its input offsets moved (--to-earliest by default), its
    repartition and changelog topics deleted. A dry run unless --execute; refused while it runs.
    Each instance's local state (state.dir) is its own to clean: KafkaStreams#cleanUp()."""
    from kctl.ops.groups import Strategy

    given = {"to-earliest": to_earliest, "to-latest": to_latest, "to-offset": to_offset, "shift-by": shift_by,
             "to-datetime": to_datetime, "by-duration": by_duration, "from-file": from_file}
    settings = _settings(ctx)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.ops.streams import apply_streams_reset, plan_streams_reset, reset_command

        strategy = (Strategy.chosen(given) if any(v not in (None, False) for v in given.values())
                    else Strategy("to-earliest"))
        plan = await plan_streams_reset(cluster, app_id, strategy, input_topics=input_topic,
                                        internal_topics=internal_topic)
        rows: list[dict[str, Any]] = [dict(r) for r in plan.offsets.rows] if plan.offsets is not None else []
        data: dict[str, Any] = {"app_id": app_id, "strategy": strategy.name, "offsets": rows,
                                "delete_topics": plan.delete, "executed": execute_plan}
        if not rows:
            diagnostic("no input topic to reset: the app has no committed offsets (name them with --input-topic)")
        if execute_plan:
            done = await apply_streams_reset(cluster, plan)
            data["offsets_saved_to"] = str(done.offsets_saved) if done.offsets_saved else None
            diagnostic(f"app {app_id}: offsets of {len(rows)} partition(s) reset, {len(done.deleted)} internal "
                       f"topic(s) deleted" + (f"; the previous offsets are saved for `kctl groups undo-reset "
                                              f"{app_id}`" if done.offsets_saved else ""))
            diagnostic("clean each instance's local state before it starts again (KafkaStreams#cleanUp())")
        else:
            diagnostic("dry run: nothing changed; add --execute to reset (stop every instance first)")
            diagnostic(f"the same with Kafka's tool: {reset_command(app_id, plan)}")
        return Output(data, [Table(rows, RESET_COLUMNS), Table([{"topic": t} for t in plan.delete], DELETE_COLUMNS)])

    execute(settings, body, fmt=output, changes=execute_plan)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"streams": streams_app}
