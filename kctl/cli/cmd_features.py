"""kctl features: the cluster's feature levels (metadata.version, transaction.version,
group.version, share.version, ...) as `kafka-features.sh` shows and changes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .errors import USAGE, CliError
from .options import OutputOpt
from .output import Output, Table, diagnostic
from .runtime import execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

features_app = cli.Group(help="Feature levels of the cluster: list, upgrade, downgrade.", no_args_is_help=True)

FEATURE_COLUMNS = [Column("feature", "FEATURE"), Column("supported_min", "SUPPORTED MIN", numeric=True),
                   Column("supported_max", "SUPPORTED MAX", numeric=True),
                   Column("finalized", "FINALIZED", numeric=True), Column("epoch", "EPOCH", numeric=True, wide=True)]
CHANGE_COLUMNS = [Column("feature", "FEATURE"), Column("current", "CURRENT", numeric=True),
                  Column("target", "TARGET", numeric=True), Column("result", "RESULT")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


@features_app.command("list")
def features_list(ctx: cli.Context, output: OutputOpt = "table") -> None:
    """Each feature: the levels the brokers support and the level the cluster has finalized (0: off)."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.controller import features

        rows = [{"feature": f.name, "supported_min": f.supported_min, "supported_max": f.supported_max,
                 "finalized": f.finalized, "epoch": f.epoch} for f in await features(cluster)]
        return Output(rows, [Table(rows, FEATURE_COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


FeatureOpt = Annotated[list[str], cli.Option(
    "--feature", "-f", metavar="NAME=LEVEL", help="A feature and the level to finalize (repeatable).")]
ExecuteOpt = Annotated[bool, cli.Option("--execute", help="Make the change (the default is a dry run the "
                                                            "controller checks).")]


def _change(ctx: cli.Context, pairs: list[str], *, downgrade: bool, unsafe: bool, execute_it: bool,
            output: str) -> None:
    from kctl.ops.topics import parse_configs

    wanted: dict[str, int] = {}
    for name, level in parse_configs(pairs).items():
        if not level.isdigit():
            raise CliError(f"feature level {level!r} of {name} is not a number", "e.g. --feature share.version=1",
                           USAGE)
        wanted[name] = int(level)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.controller import UpgradeType, features, update_features

        current = {f.name: f for f in await features(cluster)}
        for name, level in wanted.items():
            now = current[name].finalized if name in current else 0
            if (level > now) if downgrade else (level < now):
                verb = "downgrade" if downgrade else "upgrade"
                raise CliError(f"{name} is at {now}: {level} is not a{'' if downgrade else 'n'} {verb}",
                               f"use `kctl features {'upgrade' if downgrade else 'downgrade'}`", USAGE)
        kind = (UpgradeType.UNSAFE_DOWNGRADE if unsafe else UpgradeType.SAFE_DOWNGRADE) if downgrade \
            else UpgradeType.UPGRADE
        results = await update_features(cluster, wanted, kind, validate_only=not execute_it)
        rows = [{"feature": name, "current": current[name].finalized if name in current else 0, "target": level,
                 "result": "ok" if results[name] is None else str(results[name])}
                for name, level in wanted.items()]
        failed = [e for e in results.values() if e is not None]
        if failed:
            raise failed[0]
        diagnostic("features finalized" if execute_it else "dry run: the controller accepts it; add --execute")
        return Output({"executed": execute_it, "features": rows}, [Table(rows, CHANGE_COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=execute_it)


@features_app.command("upgrade")
def features_upgrade(ctx: cli.Context, feature: FeatureOpt, execute_it: ExecuteOpt = False,
                     output: OutputOpt = "table") -> None:
    """Raise finalized feature levels (a dry run the controller validates unless --execute)."""
    _change(ctx, feature, downgrade=False, unsafe=False, execute_it=execute_it, output=output)


@features_app.command("downgrade")
def features_downgrade(
    ctx: cli.Context, feature: FeatureOpt, execute_it: ExecuteOpt = False,
    unsafe: Annotated[bool, cli.Option("--unsafe", help="Allow a downgrade that may lose metadata.")] = False,
    output: OutputOpt = "table",
) -> None:
    """Lower finalized feature levels (0 turns a feature off); a dry run unless --execute."""
    _change(ctx, feature, downgrade=True, unsafe=unsafe, execute_it=execute_it, output=output)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"features": features_app}

__all__ = ["features_app"]
