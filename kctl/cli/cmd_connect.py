"""kctl connect: Kafka Connect clusters, their connector plugins, connectors and tasks, configs
validated before they are applied, offsets (KIP-875) and topics (KIP-558)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .options import ApplyOpt, OutputOpt, YesOpt
from .output import Output, Table, diagnostic
from .runtime import command_line, confirm, execute_connect

if TYPE_CHECKING:
    from kctl.client.kafka_connect import ConnectClient
    from kctl.connect.contexts import Context

connect_app = cli.Group(
    help="Kafka Connect: connectors and their tasks, plugins, configs, offsets and topics.",
    no_args_is_help=True)
offsets_app = cli.Group(help="A connector's offsets (KIP-875): get, alter, reset.", no_args_is_help=True)
connect_app.add_group(offsets_app, name="offsets")

ClusterOpt = Annotated[str | None, cli.Option("--cluster", "-c", metavar="NAME",
                                                help="Which of the context's connect clusters (the first by "
                                                     "default).")]
NameArg = Annotated[str, cli.Argument(metavar="NAME", help="The connector.")]
ConfigOpt = Annotated[str, cli.Option("--config", "-f", metavar="FILE|-",
                                        help="The config: JSON (the config, or {name, config}) or key=value lines; "
                                             "- reads stdin.")]
CheckOpt = Annotated[bool, cli.Option("--check", help="Exit 7 when a connector or task is FAILED (for runbooks).")]

CLUSTER_COLUMNS = [Column("name", "NAME"), Column("url", "URL"), Column("version", "VERSION"),
                   Column("kafka_cluster_id", "KAFKA CLUSTER"), Column("commit", "COMMIT", wide=True),
                   Column("error", "ERROR")]
PLUGIN_COLUMNS = [Column("class", "CLASS"), Column("type", "TYPE"), Column("version", "VERSION")]
LIST_COLUMNS = [Column("name", "NAME"), Column("type", "TYPE"), Column("plugin", "PLUGIN"), Column("state", "STATE"),
                Column("tasks", "TASKS"), Column("worker_id", "WORKER", wide=True)]
TASK_COLUMNS = [Column("id", "TASK", numeric=True), Column("state", "STATE"), Column("worker_id", "WORKER"),
                Column("trace", "TRACE")]
CONFIG_COLUMNS = [Column("key", "KEY"), Column("value", "VALUE")]
DIFF_COLUMNS = [Column("key", "KEY"), Column("before", "BEFORE"), Column("after", "AFTER")]
OFFSET_COLUMNS = [Column("partition", "PARTITION"), Column("offset", "OFFSET")]
OFFSET_PLAN_COLUMNS = [Column("partition", "PARTITION"), Column("before", "BEFORE"), Column("after", "AFTER")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source).expanduser()
    try:
        return path.read_text()
    except OSError as exc:
        from kctl.ops.errors import BadUsage

        raise BadUsage(f"cannot read {source}: {exc.strerror or exc}") from None


def _first_line(trace: str | None) -> str:
    return (trace or "").strip().splitlines()[0] if trace else ""


@connect_app.command("clusters")
def connect_clusters(ctx: cli.Context, output: OutputOpt = "table") -> None:
    """The context's Kafka Connect clusters, each asked for its version and Kafka cluster id."""
    settings = _settings(ctx)

    async def body(_: Any, context: Context) -> Output:
        import asyncio

        from kctl.client.kafka_connect import ConnectClient
        from kctl.connect.cluster import connect_clusters as known
        from kctl.ops.errors import explain

        async def ask(found: Any) -> dict[str, Any]:
            row = {"name": found.name, "url": found.url, "version": "", "commit": "", "kafka_cluster_id": "",
                   "error": ""}
            async with ConnectClient(found) as client:
                try:
                    info = await client.info()
                except Exception as exc:  # one cluster down must not hide the others
                    row["error"] = explain(exc).message
                else:
                    row.update(version=info.get("version", ""), commit=info.get("commit", ""),
                               kafka_cluster_id=info.get("kafka_cluster_id", ""))
            return row

        rows = list(await asyncio.gather(*(ask(c) for c in known(context, settings))))
        return Output(rows, [Table(rows, CLUSTER_COLUMNS)])

    from .runtime import execute

    execute(settings, body, fmt=output, cluster=False, start_local=False)


@connect_app.command("plugins")
def connect_plugins(
    ctx: cli.Context,
    all_plugins: Annotated[bool, cli.Option("--all", help="Transforms, predicates and converters too.")] = False,
    cluster: ClusterOpt = None, output: OutputOpt = "table",
) -> None:
    """The connector plugins installed on the workers."""

    async def body(client: ConnectClient, context: Context) -> Output:
        rows = sorted(await client.plugins(connectors_only=not all_plugins), key=lambda p: (p["type"], p["class"]))
        return Output(rows, [Table(rows, PLUGIN_COLUMNS)])

    execute_connect(_settings(ctx), cluster, body, fmt=output)


@connect_app.command("list")
def connect_list(ctx: cli.Context, check: CheckOpt = False, cluster: ClusterOpt = None,
                 output: OutputOpt = "table") -> None:
    """Connectors with their state and tasks, failing ones first."""
    outcome: list[Any] = []

    async def body(client: ConnectClient, context: Context) -> Output:
        from kctl.ops.connectors import connector_rows

        rows = await connector_rows(client)
        outcome.append(rows)
        return Output(rows, [Table(rows, LIST_COLUMNS)])

    execute_connect(_settings(ctx), cluster, body, fmt=output)
    if check and outcome:
        _check(outcome[0])


def _check(rows: list[dict[str, Any]]) -> None:
    from kctl.ops.connectors import check

    from .runtime import fail

    try:
        check(rows)
    except Exception as exc:
        fail(exc)


@connect_app.command("describe")
def connect_describe(ctx: cli.Context, name: NameArg, check: CheckOpt = False, cluster: ClusterOpt = None,
                     output: OutputOpt = "table") -> None:
    """A connector: state, worker, config, each task's state and worker (and the trace of a failed
    one), and the topics it has used."""
    outcome: list[Any] = []

    async def body(client: ConnectClient, context: Context) -> Output:
        from kctl.ops.connectors import describe

        found = await describe(client, name)
        outcome.append(found)
        summary: list[tuple[str, Any]] = [("name", found["name"]), ("type", found["type"]),
                                          ("plugin", found["plugin"]), ("state", found["state"]),
                                          ("worker", found["worker_id"])]
        if found["trace"]:
            summary.append(("trace", _first_line(found["trace"])))
        if found["topics"] is not None:
            summary.append(("topics", ", ".join(found["topics"]) or "(none yet)"))
        tasks = [{**t, "trace": _first_line(t["trace"])} for t in found["task_states"]]
        config = [{"key": k, "value": v} for k, v in found["config"].items()]
        return Output(found, [Table(tasks, TASK_COLUMNS, "Tasks"), Table(config, CONFIG_COLUMNS, "Config")], summary)

    execute_connect(_settings(ctx), cluster, body, fmt=output)
    if check and outcome:
        _check([outcome[0]])


def _apply(ctx: cli.Context, name: str, source: str, *, create: bool, dry_run: bool, cluster: str | None,
           output: str) -> None:
    async def body(client: ConnectClient, context: Context) -> Output:
        from kctl.ops.connectors import apply_config, parse_config, plan_config

        plan = await plan_config(client, name, parse_config(_read(source), source), create=create)
        rows = [{"key": c.key, "before": c.before, "after": c.after} for c in plan.changes]
        data: dict[str, Any] = {"name": name, "created": plan.previous is None, "applied": not dry_run,
                                "changes": rows}
        if not rows:
            diagnostic(f"connector {name!r}: the config is unchanged")
        elif dry_run:
            diagnostic("dry run: the workers validated the config; nothing changed")
        else:
            if plan.previous is not None:  # the change, before it is made
                for c in plan.changes:
                    diagnostic(f"  {c.key}: {'(unset)' if c.before is None else c.before} -> "
                               f"{'(unset)' if c.after is None else c.after}")
            from kctl.ops.journal import connect_cluster_id, journaled

            saved = await journaled(
                await connect_cluster_id(client), context.name, command_line(),
                "connector-created" if plan.previous is None else "connector-config",
                {"connect": client.settings.name, "url": client.url, "connector": name}, plan.previous, plan.config,
                lambda: apply_config(client, plan))
            data["previous_saved_to"] = str(saved) if saved else None
            diagnostic(f"connector {name!r} {'created' if plan.previous is None else 'updated'}"
                       + (f"; its previous config is saved in {saved}" if saved else ""))
        return Output(data, [Table(rows, DIFF_COLUMNS)])

    execute_connect(_settings(ctx), cluster, body, fmt=output, changes=not dry_run)


DryRunOpt = Annotated[bool, cli.Option("--dry-run", help="Validate and show the change; change nothing.")]


@connect_app.command("create")
def connect_create(ctx: cli.Context, name: NameArg, config: ConfigOpt, dry_run: DryRunOpt = False,
                   cluster: ClusterOpt = None, output: OutputOpt = "table") -> None:
    """Make a connector; the workers validate its config first and any error is shown per field."""
    _apply(ctx, name, config, create=True, dry_run=dry_run, cluster=cluster, output=output)


@connect_app.command("update")
def connect_update(ctx: cli.Context, name: NameArg, config: ConfigOpt, dry_run: DryRunOpt = False,
                   cluster: ClusterOpt = None, output: OutputOpt = "table") -> None:
    """Replace a connector's config: validated first, the difference shown, the old one saved."""
    _apply(ctx, name, config, create=False, dry_run=dry_run, cluster=cluster, output=output)


@connect_app.command("delete")
def connect_delete(ctx: cli.Context, name: NameArg, yes: YesOpt = False, cluster: ClusterOpt = None) -> None:
    """Delete a connector (its config is saved first: `kctl connect create NAME --config SAVED` brings it back)."""
    async def body(client: ConnectClient, context: Context) -> None:
        from kctl.ops.connectors import delete, found_connector
        from kctl.ops.journal import connect_cluster_id, journaled

        confirm(f"deleting connector {name!r} stops its tasks", name, yes)
        config = await found_connector(client.config(name), name)
        saved = await journaled(await connect_cluster_id(client), context.name, command_line(), "connector-deleted",
                                {"connect": client.settings.name, "url": client.url, "connector": name}, config,
                                None, lambda: delete(client, name))
        diagnostic(f"connector {name!r} deleted; its config is saved in {saved}")

    execute_connect(_settings(ctx), cluster, body, changes=True)


def _state_change(verb: str, help_text: str) -> None:
    def command(ctx: cli.Context, name: NameArg, yes: YesOpt = False, cluster: ClusterOpt = None) -> None:
        async def body(client: ConnectClient, context: Context) -> None:
            from kctl.ops.connectors import change_state

            diagnostic(f"connector {name!r} {await change_state(client, name, verb)}")

        execute_connect(_settings(ctx), cluster, body, changes=True)

    command.__doc__ = help_text
    connect_app.command(verb)(command)


_state_change("pause", "Pause a connector and its tasks (they stay assigned; resume picks up where they were).")
_state_change("resume", "Resume a paused or stopped connector.")
_state_change("stop", "Stop a connector: its tasks shut down (KIP-875); needed before its offsets change.")


@connect_app.command("restart")
def connect_restart(
    ctx: cli.Context, name: NameArg,
    include_tasks: Annotated[bool, cli.Option("--include-tasks", help="Restart its tasks too.")] = False,
    only_failed: Annotated[bool, cli.Option("--only-failed", help="Only what is FAILED.")] = False,
    yes: YesOpt = False, cluster: ClusterOpt = None, output: OutputOpt = "table",
) -> None:
    """Restart a connector (with --include-tasks its tasks; --only-failed only the FAILED ones)."""

    async def body(client: ConnectClient, context: Context) -> Output | None:
        from kctl.ops.connectors import found_connector

        answer = await found_connector(client.restart(name, include_tasks=include_tasks, only_failed=only_failed), name)
        diagnostic(f"connector {name!r}: restart requested")
        if isinstance(answer, dict):  # 202 with the states the restart leaves (Connect 3.0+, with tasks)
            tasks = [{"id": t.get("id"), "state": t.get("state", ""), "worker_id": t.get("worker_id", ""),
                      "trace": ""} for t in answer.get("tasks", [])]
            return Output(answer, [Table(tasks, TASK_COLUMNS)],
                          [("connector", answer.get("connector", {}).get("state", ""))])
        return None

    execute_connect(_settings(ctx), cluster, body, fmt=output, changes=True)


@connect_app.command("restart-task")
def connect_restart_task(
    ctx: cli.Context, name: NameArg,
    task: Annotated[int, cli.Argument(metavar="ID", help="The task's number.")],
    yes: YesOpt = False, cluster: ClusterOpt = None,
) -> None:
    """Restart one task of a connector."""

    async def body(client: ConnectClient, context: Context) -> None:
        from kctl.ops.connectors import restart_task

        await restart_task(client, name, task)
        diagnostic(f"connector {name!r}: task {task} restarted")

    execute_connect(_settings(ctx), cluster, body, changes=True)


@connect_app.command("topics")
def connect_topics(
    ctx: cli.Context,
    words: Annotated[list[str], cli.Argument(metavar="[reset] NAME",
                                               help="A connector; `reset NAME` forgets the topics it used.")],
    yes: YesOpt = False, cluster: ClusterOpt = None, output: OutputOpt = "table",
) -> None:
    """The topics a connector has used (KIP-558); `topics reset NAME` empties that set."""
    from .errors import USAGE, CliError
    from .runtime import fail

    if len(words) == 2 and words[0] == "reset":
        reset, name = True, words[1]
    elif len(words) == 1:
        reset, name = False, words[0]
    else:
        fail(CliError("expected NAME or reset NAME", "kctl connect topics NAME | kctl connect topics reset NAME",
                      USAGE))

    async def body(client: ConnectClient, context: Context) -> Output | None:
        from kctl.ops.connectors import found_connector

        if reset:
            await found_connector(client.reset_topics(name), name)
            diagnostic(f"connector {name!r}: its active topics were reset")
            return None
        topics = await found_connector(client.topics(name), name)
        rows = [{"topic": t} for t in topics]
        return Output({"name": name, "topics": topics}, [Table(rows, [Column("topic", "TOPIC")])])

    execute_connect(_settings(ctx), cluster, body, fmt=None if reset else output, changes=reset)


@offsets_app.command("get")
def offsets_get(ctx: cli.Context, name: NameArg, cluster: ClusterOpt = None, output: OutputOpt = "table") -> None:
    """A connector's offsets: per source partition (or per Kafka partition, for a sink)."""

    async def body(client: ConnectClient, context: Context) -> Output:
        from kctl.ops.connectors import found_connector, offset_rows

        offsets = await found_connector(client.offsets(name), name)
        return Output({"offsets": offsets}, [Table(offset_rows(offsets), OFFSET_COLUMNS)])

    execute_connect(_settings(ctx), cluster, body, fmt=output)


def _offsets_change(ctx: cli.Context, name: str, wanted: list[dict[str, Any]] | None, execute_it: bool,
                    cluster: str | None, output: str) -> None:
    """Preview (and with --execute make) an offsets change; None means reset them all."""

    async def body(client: ConnectClient, context: Context) -> Output:
        from kctl.ops.connectors import apply_offsets, plan_offsets

        plan = await plan_offsets(client, name, wanted)
        data: dict[str, Any] = {"name": name, "applied": execute_it, "changes": plan.rows}
        if not execute_it:
            diagnostic("dry run: nothing changed; stop the connector, then add --execute to apply")
        else:
            message, saved = await apply_offsets(client, plan)
            data["previous_saved_to"] = str(saved)
            diagnostic(f"{message or 'offsets changed'}; the previous offsets are saved in {saved} "
                       f"(`kctl connect offsets alter {name} --file` with it puts them back)")
        return Output(data, [Table(plan.rows, OFFSET_PLAN_COLUMNS)])

    execute_connect(_settings(ctx), cluster, body, fmt=output, changes=execute_it)


@offsets_app.command("alter")
def offsets_alter(
    ctx: cli.Context, name: NameArg,
    file: Annotated[str, cli.Option("--file", "-f", metavar="FILE|-",
                                      help='{"offsets": [{"partition": {...}, "offset": {...}|null}]}, as '
                                           '`offsets get -o json` prints; - reads stdin.')],
    execute_it: ApplyOpt = False, cluster: ClusterOpt = None, output: OutputOpt = "table",
) -> None:
    """Set some of a STOPPED connector's offsets (null forgets one); a dry run unless --execute."""
    from kctl.ops.connectors import parse_offsets

    from .runtime import fail

    try:
        wanted = parse_offsets(_read(file), file)
    except Exception as exc:
        fail(exc)
    _offsets_change(ctx, name, wanted, execute_it, cluster, output)


@offsets_app.command("reset")
def offsets_reset(ctx: cli.Context, name: NameArg, execute_it: ApplyOpt = False, cluster: ClusterOpt = None,
                  output: OutputOpt = "table") -> None:
    """Forget all of a STOPPED connector's offsets: it starts over; a dry run unless --execute."""
    _offsets_change(ctx, name, None, execute_it, cluster, output)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"connect": connect_app}
