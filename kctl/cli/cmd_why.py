"""kctl why GROUP: why a consumer group lags, one verdict with its evidence (see `kctl.ops.why`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from . import declare as cli
from .completion import complete_groups
from .errors import UNHEALTHY, USAGE, CliError
from .options import OutputOpt
from .output import Output, diagnostic, render
from .runtime import check_format, execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context


def why(
    ctx: cli.Context,
    group: Annotated[str, cli.Argument(help="The consumer group.", autocompletion=complete_groups)],
    window: Annotated[str, cli.Option("--window", metavar="DURATION",
                                        help="How long to watch the group before judging (e.g. 60s, 2m).")] = "60s",
    output: OutputOpt = "table",
) -> None:
    """Why a group lags: one verdict with the figures that show it, from watching the group over
    --window (commits, log ends, members), its partitions' replicas, open transactions, quotas, the
    record it is stuck on and the keys on its hottest partition. Exits 0 when healthy, 7 when not."""
    from kctl.ops.times import parse_duration_ms

    check_format(output)
    window_s = parse_duration_ms(window) / 1000
    if window_s <= 0:
        raise CliError("--window must be positive", "e.g. --window 60s", USAGE)
    verdicts: list[Any] = []

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.ops.why import diagnose, gather

        diagnostic(f"watching group {group} for {window_s:g}s")
        found = diagnose(await gather(cluster, group, window_s=window_s))
        verdicts.append(found)
        if output in ("table", "wide"):
            lines = [f"{found.group}: {found.verdict.summary}"]
            lines += [f"  {line}" for line in found.verdict.evidence]
            for other in found.causes[1:]:
                lines.append(f"also: {other.summary}")
                lines += [f"  {line}" for line in other.evidence]
            cli.echo("\n".join(lines))
        else:
            render(Output(found.data()), output)

    execute(ctx.obj, body)
    if verdicts and not verdicts[0].healthy:
        raise SystemExit(UNHEALTHY)


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"why": why}
