"""kctl why GROUP: why a consumer group lags, one verdict with its evidence (see `kctl.ops.why`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from . import declare as cli
from .completion import complete_groups
from .errors import UNHEALTHY, USAGE, CliError
from .options import OutputOpt
from .output import Output, diagnostic, render
from .runtime import check_format, execute, guard

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context


def why(
    ctx: cli.Context,
    group: Annotated[str, cli.Argument(help="The consumer group.", autocompletion=complete_groups)],
    window: Annotated[str, cli.Option("--window", metavar="DURATION",
                                        help="How long to watch the group before judging (e.g. 60s, 2m).")] = "60s",
    exporter: Annotated[str | None, cli.Option(
        "--exporter", metavar="URL", help="Judge from a running `kctl exporter`'s looks instead, at once "
                                          "(e.g. http://127.0.0.1:9308).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Why a group lags: one verdict with the figures that show it, from watching the group over
    --window (commits, log ends, members), its partitions' replicas, open transactions, quotas, the
    record it is stuck on and the keys on its hottest partition. With --exporter, from the looks a
    running `kctl exporter` has already taken. Exits 0 when healthy, 7 when not."""
    from kctl.ops.times import parse_duration_ms

    check_format(output)
    window_s = parse_duration_ms(window) / 1000
    if window_s <= 0:
        raise CliError("--window must be positive", "e.g. --window 60s", USAGE)
    verdicts: list[dict[str, Any]] = []

    def show(found: dict[str, Any]) -> None:
        verdicts.append(found)
        if output in ("table", "wide"):
            verdict = found["verdict"]
            lines = [f"{found['group']}: {verdict['summary']}", *(f"  {line}" for line in verdict["evidence"])]
            for other in found["also"]:
                lines.append(f"also: {other['summary']}")
                lines += [f"  {line}" for line in other["evidence"]]
            cli.echo("\n".join(lines))
        else:
            render(Output(found), output)

    if exporter is not None:
        guard(lambda: show(_from_exporter(exporter, group)))
    else:
        async def body(cluster: Cluster, context: Context) -> None:
            from kctl.ops.why import diagnose, gather

            diagnostic(f"watching group {group} for {window_s:g}s")
            show(diagnose(await gather(cluster, group, window_s=window_s)).data())

        execute(ctx.obj, body)
    if verdicts and verdicts[0]["verdict"]["cause"] != "healthy":
        raise SystemExit(UNHEALTHY)


def _from_exporter(url: str, group: str) -> dict[str, Any]:
    """The verdict a running `kctl exporter` gives from its own looks (its /why/GROUP)."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    from kctl.ops.errors import NotFound, Unreachable

    address = f"{url.rstrip('/')}/why/{urllib.parse.quote(group, safe='')}"
    try:
        with urllib.request.urlopen(address, timeout=90) as answer:
            found: dict[str, Any] = json.load(answer)
            return found
    except urllib.error.HTTPError as exc:
        said = json.loads(exc.read() or b"{}").get("error", exc.reason)
        if exc.code == 404:
            raise NotFound(f"the exporter at {url}: {said}", "check --group of `kctl exporter`") from None
        raise CliError(f"the exporter at {url}: {said}", "or judge live, without --exporter", UNHEALTHY) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"cannot reach the exporter at {url}: {reason}", "is `kctl exporter` running there?") \
            from None


#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"why": why}
