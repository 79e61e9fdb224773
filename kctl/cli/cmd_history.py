"""kctl history and kctl undo: the change journal (`kctl.ops.journal`) read back, and a change
taken back where it has an inverse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kctl.ops.cells import Column

from .errors import REFUSED, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, diagnostic, render
from .runtime import ask_on_terminal, check_format, command_line, execute, guard

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

COLUMNS = [Column("id", "ID"), Column("when", "WHEN"), Column("context", "CONTEXT"), Column("user", "USER"),
           Column("kind", "KIND"), Column("change", "CHANGE"), Column("applied", "APPLIED"),
           Column("undoes", "UNDOES", wide=True), Column("cluster", "CLUSTER", wide=True),
           Column("command", "COMMAND", wide=True)]


def history(
    cluster: Annotated[str | None, typer.Option("--cluster", help="Only this cluster id or context.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DURATION",
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
    ctx: typer.Context,
    change_id: Annotated[str, typer.Argument(metavar="ID", help="The change, as `kctl history` lists it.")],
    execute_it: Annotated[bool, typer.Option("--execute", help="Apply the inverse (the default is a dry run).")
                          ] = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Take back one change from `kctl history`: the inverse is shown, and applied with --execute.
    A change with no inverse (partitions added) says why."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.journal import Journal, inverse, recorded

        journal = Journal()
        change = journal.find(change_id)
        taken = inverse(change)
        if taken.impossible is not None or taken.apply is None:
            raise CliError(f"change {change.id} cannot be undone: {taken.impossible}", None, REFUSED)
        if change.cluster_id is not None and cluster.cluster_id != change.cluster_id:
            raise CliError(f"change {change.id} was made on cluster {change.cluster_id}; this context "
                           f"({context.name}) is cluster {cluster.cluster_id}",
                           f"use --context {change.context}", REFUSED)
        earlier = [c.id for c in journal.changes() if c.undoes == change.id and c.outcome == "applied"]
        if earlier:
            diagnostic(f"note: change {change.id} was undone before, by {', '.join(earlier)}")
        rows = [{"step": step} for step in taken.plan]
        preview = Output(rows, [Table(rows, [Column("step", "UNDO " + change.id)])])
        if not execute_it:
            diagnostic("dry run: nothing was changed; --execute applies it")
            return preview
        ask_on_terminal(f"undoing change {change.id} on {context.name}", "undo", yes, preview)
        admin = Admin(cluster)
        apply = taken.apply
        await recorded(admin, context.name, command_line(), taken.kind, taken.target, taken.before, taken.after,
                       lambda: apply(admin), journal=journal, undoes=change.id)
        diagnostic(f"change {change.id} undone")
        return preview

    execute(ctx.obj, body, fmt=output, changes=execute_it)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"history": history, "undo": undo}
