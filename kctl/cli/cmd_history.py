"""kctl history and kctl undo: the change journal (`kctl.ops.journal`) read back, and a change
taken back where it has an inverse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .errors import REFUSED, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, diagnostic, render
from .runtime import ask_on_terminal, check_format, command_line, execute, execute_connect, execute_registry, guard

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

COLUMNS = [Column("id", "ID"), Column("when", "WHEN"), Column("context", "CONTEXT"), Column("user", "USER"),
           Column("kind", "KIND"), Column("change", "CHANGE"), Column("applied", "APPLIED"),
           Column("undoes", "UNDOES", wide=True), Column("cluster", "CLUSTER", wide=True),
           Column("command", "COMMAND", wide=True)]


def history(
    cluster: Annotated[str | None, cli.Option("--cluster", help="Only this cluster id or context.")] = None,
    since: Annotated[str | None, cli.Option("--since", metavar="DURATION",
                                              help="Only changes this recent: 1h, 30m, 2d.")] = None,
    output: OutputOpt = "table",
) -> None:
    """What kctl changed on your clusters, newest last: who, when, the command, before and after.
    A change kctl never saw complete (it was killed mid-way) shows as applied "unknown"."""

    def body() -> None:
        from kctl.ops.journal import Journal
        from kctl.ops.times import iso, parse_duration_ms
        from kctl.protocol.clock import now_ms

        check_format(output)
        since_ms = now_ms() - parse_duration_ms(since) if since else None
        changes = Journal().changes(cluster=cluster, since_ms=since_ms)
        rows = [{**c.row(), "when": iso(c.at_ms), "before": c.before, "after": c.after} for c in changes]
        render(Output(rows, [Table(rows, COLUMNS)]), output)

    guard(body)


def undo(
    ctx: cli.Context,
    change_id: Annotated[str, cli.Argument(metavar="ID", help="The change, as `kctl history` lists it.")],
    execute_it: Annotated[bool, cli.Option("--execute", help="Apply the inverse (the default is a dry run).")
                          ] = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Take back one change from `kctl history`: the inverse is shown, and applied with --execute,
    through what it was made on (the cluster, its Schema Registry or its Kafka Connect). A change
    with no inverse (partitions added, records deleted) says why."""
    from kctl.ops.journal import CONNECT, REGISTRY, Change, Inverse, Journal, connect_cluster_id, inverse, journaled

    journal = Journal()
    found: list[tuple[Change, Inverse]] = []

    def look_up() -> None:
        change = journal.find(change_id)
        taken = inverse(change)
        if taken.impossible is not None or taken.apply is None:
            raise CliError(f"change {change.id} cannot be undone: {taken.impossible}", None, REFUSED)
        found.append((change, taken))

    guard(look_up)
    change, taken = found[0]

    async def undo_on(client: Any, identity: str | None, context: Context) -> Output:
        what = {REGISTRY: "registry", CONNECT: "the Connect of cluster"}.get(taken.service, "cluster")
        if change.cluster_id is not None and identity != change.cluster_id:
            raise CliError(f"change {change.id} was made on {what} {change.cluster_id}; this context "
                           f"({context.name}) reaches {what} {identity}",
                           f"use --context {change.context}" if not change.context.startswith("(")
                           else f"point kctl at the {what.split()[-1]} the change was made on", REFUSED)
        earlier = [c.id for c in journal.changes() if c.undoes == change.id and c.outcome == "applied"]
        if earlier:
            diagnostic(f"note: change {change.id} was undone before, by {', '.join(earlier)}")
        rows = [{"step": step} for step in taken.plan]
        preview = Output(rows, [Table(rows, [Column("step", "UNDO " + change.id)])])
        if not execute_it:
            diagnostic("dry run: nothing was changed; --execute applies it")
            return preview
        ask_on_terminal(f"undoing change {change.id} on {context.name}", "undo", yes, preview)
        apply = taken.apply
        assert apply is not None
        await journaled(identity, context.name, command_line(), taken.kind, taken.target, taken.before, taken.after,
                        lambda: apply(client), journal=journal, undoes=change.id)
        diagnostic(f"change {change.id} undone")
        return preview

    if taken.service == REGISTRY:
        async def on_registry(registry: Any, context: Context) -> Output:
            return await undo_on(registry, registry.url, context)

        execute_registry(ctx.obj, on_registry, fmt=output, changes=execute_it)
    elif taken.service == CONNECT:
        async def on_connect(connect: Any, context: Context) -> Output:
            return await undo_on(connect, await connect_cluster_id(connect), context)

        execute_connect(ctx.obj, change.target.get("connect"), on_connect, fmt=output, changes=execute_it)
    else:
        async def on_cluster(cluster: Cluster, context: Context) -> Output:
            from kctl.client import Admin

            return await undo_on(Admin(cluster), cluster.cluster_id, context)

        execute(ctx.obj, on_cluster, fmt=output, changes=execute_it)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"history": history, "undo": undo}
