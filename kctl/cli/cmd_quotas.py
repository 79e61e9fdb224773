"""kctl quotas: client quotas (produce and fetch byte rates and the rest) per user, client id or IP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .options import OutputOpt, YesOpt
from .output import Output, Table
from .runtime import command_line, confirm, execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

quotas_app = cli.Group(help="Client quotas per user, client id or IP: get, set, delete.", no_args_is_help=True)

UserOpt = Annotated[str | None, cli.Option("--user", help="A user (the principal's name).")]
UserDefaultOpt = Annotated[bool, cli.Option("--user-default", help="The default for every user.")]
ClientOpt = Annotated[str | None, cli.Option("--client-id", help="A client id.")]
ClientDefaultOpt = Annotated[bool, cli.Option("--client-id-default", help="The default for every client id.")]
IpOpt = Annotated[str | None, cli.Option("--ip", help="An IP address (connection_creation_rate only).")]
COLUMNS = [Column("entity", "ENTITY"), Column("key", "QUOTA"), Column("value", "VALUE", numeric=True)]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


@quotas_app.command("get")
def quotas_get(ctx: cli.Context, user: UserOpt = None, user_default: UserDefaultOpt = False,
               client_id: ClientOpt = None, client_id_default: ClientDefaultOpt = False, ip: IpOpt = None,
               output: OutputOpt = "table") -> None:
    """Quotas set, for one entity or (without options) every one."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.quotas import entity, quota_rows

        rows = await quota_rows(Admin(cluster), entity(user, user_default, client_id, client_id_default, ip))
        return Output(rows, [Table(rows, COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


@quotas_app.command("set")
def quotas_set(
    ctx: cli.Context, user: UserOpt = None, user_default: UserDefaultOpt = False, client_id: ClientOpt = None,
    client_id_default: ClientDefaultOpt = False, ip: IpOpt = None,
    producer_byte_rate: Annotated[float | None, cli.Option("--producer-byte-rate", help="Bytes/s produced.")] = None,
    consumer_byte_rate: Annotated[float | None, cli.Option("--consumer-byte-rate", help="Bytes/s fetched.")] = None,
    request_percentage: Annotated[float | None, cli.Option("--request-percentage",
                                                             help="Percent of a request thread.")] = None,
    connection_creation_rate: Annotated[float | None, cli.Option("--connection-creation-rate",
                                                                   help="New connections/s (with --ip).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Set quotas of a user, a client id, both, or an IP (the rest of its quotas stay)."""
    values = {k: v for k, v in (("producer_byte_rate", producer_byte_rate), ("consumer_byte_rate", consumer_byte_rate),
                                ("request_percentage", request_percentage),
                                ("connection_creation_rate", connection_creation_rate)) if v is not None}

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.quotas import entity, entity_text, quota_rows, set_quotas

        names = entity(user, user_default, client_id, client_id_default, ip)
        from kctl.ops.journal import quota_values, recorded

        admin = Admin(cluster)
        before = await quota_values(admin, names, values) if names else {}
        await recorded(admin, context.name, command_line(), "quotas", {"entity": entity_text(names), "names": names},
                       before, values, lambda: set_quotas(admin, names, values))
        rows = await quota_rows(admin, names)
        return Output(rows, [Table(rows, COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=True)


@quotas_app.command("delete")
def quotas_delete(
    ctx: cli.Context, user: UserOpt = None, user_default: UserDefaultOpt = False, client_id: ClientOpt = None,
    client_id_default: ClientDefaultOpt = False, ip: IpOpt = None,
    key: Annotated[list[str] | None, cli.Option("--key", help="Only this quota (repeatable).")] = None,
    yes: YesOpt = False, output: OutputOpt = "table",
) -> None:
    """Remove an entity's quotas (all of them, or --key ones)."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.quotas import delete_quotas, entity, entity_text

        names = entity(user, user_default, client_id, client_id_default, ip)
        confirm(f"removing quotas of {entity_text(names)} on {context.name}", entity_text(names), yes)
        from kctl.ops.journal import quota_values, recorded

        admin = Admin(cluster)
        current = await admin.describe_client_quotas(list(names.items()), strict=True) if names else []
        keys = key or sorted({k for entity_, values in current if dict(entity_) == dict(names) for k in values})
        before = await quota_values(admin, names, keys) if names else {}
        removed = await recorded(admin, context.name, command_line(), "quotas",
                                 {"entity": entity_text(names), "names": names}, before, dict.fromkeys(keys),
                                 lambda: delete_quotas(admin, names, key or []))
        result = {"entity": entity_text(names), "removed": removed}
        return Output(result, summary=[("entity", result["entity"]), ("removed", ", ".join(removed))])

    execute(_settings(ctx), body, fmt=output, changes=True)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"quotas": quotas_app}

__all__ = ["quotas_app"]
