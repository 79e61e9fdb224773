"""kctl acls: list, create, delete ACLs (kafka-acls.sh's options, or the short `allow`/`deny`
form), and check what a principal may do and which ACL decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .errors import REFUSED, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, render
from .runtime import command_line, confirm, execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

acls_app = cli.Group(help="ACLs: list, create (or allow / deny), delete, and check what a principal may do.",
                       no_args_is_help=True)

TopicOpt = Annotated[str | None, cli.Option("--topic", help="A topic (or a prefix, with --resource-pattern-type "
                                                              "prefixed).")]
GroupOpt = Annotated[str | None, cli.Option("--group", help="A consumer group.")]
ClusterOpt = Annotated[bool, cli.Option("--cluster", help="The cluster.")]
TxOpt = Annotated[str | None, cli.Option("--transactional-id", help="A transactional id.")]
PatternOpt = Annotated[str | None, cli.Option("--resource-pattern-type", help="literal, prefixed, match or any.")]
PrincipalOpt = Annotated[str | None, cli.Option("--principal", help="Only ACLs of this principal (User:alice).")]
COLUMNS = [Column("principal", "PRINCIPAL"), Column("permission", "PERMISSION"), Column("operation", "OPERATION"),
           Column("host", "HOST"), Column("resource_type", "TYPE"), Column("resource", "RESOURCE"),
           Column("pattern", "PATTERN")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


@acls_app.command("list")
def acls_list(ctx: cli.Context, topic: TopicOpt = None, group: GroupOpt = None, cluster: ClusterOpt = False,
              transactional_id: TxOpt = None, principal: PrincipalOpt = None, resource_pattern_type: PatternOpt = None,
              output: OutputOpt = "table") -> None:
    """ACLs, all or those on one resource (with a name: the ones that apply to it, prefixes and * too)."""
    from kctl.ops import acls
    from kctl.protocol.acl import PatternType

    target = acls.resource(topic, group, cluster, transactional_id)
    wanted = acls.query(target, principal, acls.pattern(
        resource_pattern_type, PatternType.MATCH if target else PatternType.ANY))

    async def body(cluster_: Any, context: Context) -> Output:
        from kctl.client import Admin

        rows = await acls.acl_rows(Admin(cluster_), wanted)
        return Output(rows, [Table(rows, COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


@acls_app.command("create")
def acls_create(
    ctx: cli.Context,
    allow_principal: Annotated[list[str] | None, cli.Option("--allow-principal", help="Principal to allow.")] = None,
    deny_principal: Annotated[list[str] | None, cli.Option("--deny-principal", help="Principal to deny.")] = None,
    operation: Annotated[list[str] | None, cli.Option("--operation", help="Read, Write, Create, Delete, Alter, "
                                                        "Describe, DescribeConfigs, AlterConfigs, IdempotentWrite, "
                                                        "All (repeatable).")] = None,
    allow_host: Annotated[list[str] | None, cli.Option("--allow-host", help="Host (default *).")] = None,
    deny_host: Annotated[list[str] | None, cli.Option("--deny-host", help="Host for deny ACLs (default *).")] = None,
    topic: TopicOpt = None, group: GroupOpt = None, cluster: ClusterOpt = False, transactional_id: TxOpt = None,
    resource_pattern_type: PatternOpt = None, output: OutputOpt = "table",
) -> None:
    """Create ACLs with kafka-acls.sh's options: every principal x operation x host given."""
    from kctl.ops import acls
    from kctl.protocol.acl import AclPermission, PatternType

    target = acls.resource(topic, group, cluster, transactional_id)
    if target is None:
        raise CliError("name a resource: --topic, --group, --cluster or --transactional-id", None, 2)
    kind = acls.pattern(resource_pattern_type, PatternType.LITERAL)
    ops = [acls.operation(o) for o in operation or []]
    made = (acls.bindings([(p, AclPermission.ALLOW) for p in allow_principal or []], ops, allow_host or ["*"],
                          target, kind)
            if allow_principal else [])
    made += (acls.bindings([(p, AclPermission.DENY) for p in deny_principal or []], ops, deny_host or ["*"], target,
                           kind) if deny_principal else [])
    _create(ctx, made, output)


def _create(ctx: cli.Context, made: list[Any], output: str) -> None:
    if not made:
        raise CliError("name a principal and an operation", "e.g. --allow-principal User:alice --operation Read", 2)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops import acls
        from kctl.ops.journal import acl_json, recorded

        admin = Admin(cluster)
        rows = await recorded(admin, context.name, command_line(), "acls-created", {}, [],
                              [acl_json(b) for b in made], lambda: acls.create(admin, made))
        return Output(rows, [Table(rows, COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=True)


def _short(ctx: cli.Context, principal: str, operations: str, target: str, host: str, output: str,
           permission: str) -> None:
    from kctl.ops import acls
    from kctl.protocol.acl import AclPermission

    kind, name, pattern_type = acls.short_resource(target)
    ops = [acls.operation(o) for o in operations.split(",") if o]
    _create(ctx, acls.bindings([(principal, AclPermission[permission])], ops, [host], (kind, name), pattern_type),
            output)


ShortPrincipal = Annotated[str, cli.Argument(help="User:alice, or User:* for everyone.")]
ShortOps = Annotated[str, cli.Argument(help="Operations, comma-separated: read,describe.")]
ShortResource = Annotated[str, cli.Argument(help="topic:orders, topic:orders-* (a prefix), group:billing, "
                                                   "transactional-id:tx or cluster.")]
HostOpt = Annotated[str, cli.Option("--host", help="The host it applies to.")]


@acls_app.command("allow")
def acls_allow(ctx: cli.Context, principal: ShortPrincipal, operations: ShortOps, target: ShortResource,
               host: HostOpt = "*", output: OutputOpt = "table") -> None:
    """The short form: `kctl acls allow User:alice read,describe topic:orders`."""
    _short(ctx, principal, operations, target, host, output, "ALLOW")


@acls_app.command("deny")
def acls_deny(ctx: cli.Context, principal: ShortPrincipal, operations: ShortOps, target: ShortResource,
              host: HostOpt = "*", output: OutputOpt = "table") -> None:
    """The short form of a DENY ACL: `kctl acls deny User:mallory all topic:payments`."""
    _short(ctx, principal, operations, target, host, output, "DENY")


@acls_app.command("delete")
def acls_delete(ctx: cli.Context, topic: TopicOpt = None, group: GroupOpt = None, cluster: ClusterOpt = False,
                transactional_id: TxOpt = None, principal: PrincipalOpt = None,
                operation: Annotated[str | None, cli.Option("--operation", help="Only this operation.")] = None,
                resource_pattern_type: PatternOpt = None, yes: YesOpt = False, output: OutputOpt = "table") -> None:
    """Delete the ACLs the options match (literal ones on the resource, unless the pattern type says)."""
    from kctl.ops import acls
    from kctl.protocol.acl import AclFilter, AclOperation, PatternType

    target = acls.resource(topic, group, cluster, transactional_id)
    base = acls.query(target, principal, acls.pattern(resource_pattern_type,
                                                      PatternType.LITERAL if target else PatternType.ANY))
    wanted = AclFilter(base.resource_type, base.resource_name, base.pattern_type, base.principal, None,
                       acls.operation(operation) if operation else AclOperation.ANY)

    async def body(cluster_: Any, context: Context) -> Output:
        from kctl.client import Admin

        admin = Admin(cluster_)
        matching = await acls.acl_rows(admin, wanted)
        if not matching:
            raise CliError("no ACL matches", "see them with `kctl acls list`", 3)
        confirm(f"deleting {len(matching)} ACL(s) on {context.name}", "delete", yes)
        from kctl.ops.journal import acl_json, recorded

        before = [acl_json(b) for b in await admin.describe_acls(wanted)]
        gone = await recorded(admin, context.name, command_line(), "acls-deleted", {}, before, [],
                              lambda: admin.delete_acls([wanted]))
        deleted = [acls.row(a) for a in gone]
        return Output(deleted, [Table(deleted, COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=True)


@acls_app.command("check")
def acls_check(
    ctx: cli.Context,
    principal: Annotated[str, cli.Option("--principal", help="Who: User:alice.")],
    operation: Annotated[str, cli.Option("--operation", help="What: Read, Write, Describe, ...")],
    topic: TopicOpt = None, group: GroupOpt = None, cluster: ClusterOpt = False, transactional_id: TxOpt = None,
    host: Annotated[str, cli.Option("--host", help="From which host.")] = "*",
    super_user: Annotated[list[str] | None, cli.Option(
        "--super-user", help="A principal in the brokers' super.users (Kafka does not show it to clients).")] = None,
    allow_if_no_acl: Annotated[bool | None, cli.Option(
        "--allow-if-no-acl/--deny-if-no-acl", help="The brokers' allow.everyone.if.no.acl.found, where the cluster "
                                                   "does not show it.")] = None,
    output: OutputOpt = "table",
) -> None:
    """May PRINCIPAL do OPERATION on a resource? Which ACL or rule decides, and why. Exit 8 when denied."""
    from kctl.ops import acls

    target = acls.resource(topic, group, cluster, transactional_id)
    if target is None:
        raise CliError("name a resource: --topic, --group, --cluster or --transactional-id", None, 2)
    op = acls.operation(operation)

    async def body(cluster_: Any, context: Context) -> Output:
        from kctl.client import Admin

        decision, on_resource, caveats = await acls.check(Admin(cluster_), principal, host, op, target,
                                                          super_users=super_user or [],
                                                          allow_if_no_acl=allow_if_no_acl)
        result = {"principal": principal, "operation": op.name, "resource_type": target[0].name,
                  "resource": target[1], "host": host, "allowed": decision.allowed, "reason": decision.reason,
                  "acl": acls.row(decision.acl) if decision.acl else None,
                  "acls_on_resource": [acls.row(a) for a in on_resource], "caveats": caveats}
        out = Output(result, summary=[("verdict", "ALLOW" if decision.allowed else "DENY"),
                                      ("reason", decision.reason),
                                      ("decided by", decision.acl.describe() if decision.acl else "-"),
                                      *(("note", c) for c in caveats)])
        if not decision.allowed:
            render(out, output)
            raise CliError(f"{principal} may not {op.name} {target[0].name.lower()} {target[1]}", decision.reason,
                           REFUSED)
        return out

    execute(_settings(ctx), body, fmt=output)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"acls": acls_app}

__all__ = ["acls_app"]
