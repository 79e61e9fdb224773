"""kctl cluster, brokers, topics and configs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .completion import complete_topics
from .errors import UNHEALTHY, USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, diagnostic
from .runtime import command_line, confirm, execute, fail

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

cluster_app = cli.Group(help="The cluster as a whole.", no_args_is_help=True)
brokers_app = cli.Group(help="The brokers of the cluster.", no_args_is_help=True)
topics_app = cli.Group(help="List, describe, create, alter and delete topics.", no_args_is_help=True)
configs_app = cli.Group(help="Configs of topics, brokers, the cluster, broker loggers, groups and "
                           "client-metrics subscriptions: list, get, set, delete.", no_args_is_help=True)



def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


# ---- cluster and brokers ---------------------------------------------------------------------------
@cluster_app.command("info")
def cluster_info(ctx: cli.Context, output: OutputOpt = "table") -> None:
    """Cluster id, the active controller (on KRaft, the metadata quorum's leader), brokers, and
    how many topics and partitions there are."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin

        admin = Admin(cluster)
        cluster_id, controller, brokers = await admin.describe_cluster()
        topics = await admin.list_topics(internal=True)
        data = {
            "cluster_id": cluster_id, "controller": controller, "context": context.name,
            "bootstrap_servers": context.bootstrap_servers, "brokers": len(brokers),
            "topics": len([t for t in topics.values() if not t.internal]),
            "partitions": sum(len(t.partitions) for t in topics.values()),
        }
        return Output(data, tables=[], summary=list(data.items()))

    execute(_settings(ctx), body, fmt=output)


@cluster_app.command("quorum")
def cluster_quorum(ctx: cli.Context, output: OutputOpt = "table") -> None:
    """The KRaft metadata quorum: its leader (the active controller), epoch and high watermark,
    and each voter's and observer's log end, lag and last fetch."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client.controller import describe_quorum
        from kctl.ops.cluster import quorum_replica_rows

        quorum = await describe_quorum(cluster)
        rows = quorum_replica_rows(quorum)
        voters, observers = [r.node_id for r in quorum.voters], [r.node_id for r in quorum.observers]
        data = {"leader_id": quorum.leader_id, "leader_epoch": quorum.leader_epoch,
                "high_watermark": quorum.high_watermark, "max_follower_lag": quorum.max_follower_lag,
                "voters": voters, "observers": observers,
                "replicas": rows}
        summary = [("leader", quorum.leader_id), ("leader epoch", quorum.leader_epoch),
                   ("high watermark", quorum.high_watermark), ("max follower lag", quorum.max_follower_lag),
                   ("voters", ", ".join(map(str, voters)) or "-"),
                   ("observers", ", ".join(map(str, observers)) or "-")]
        columns = [Column("node", "NODE", numeric=True), Column("role", "ROLE"),
                   Column("log_end_offset", "LOG END", numeric=True), Column("lag", "LAG", numeric=True),
                   Column("last_fetch_ms", "LAST FETCH", numeric=True, wide=True),
                   Column("last_caught_up_ms", "LAST CAUGHT UP", numeric=True, wide=True),
                   Column("endpoints", "ENDPOINTS")]
        return Output(data, [Table(rows, columns)], summary)

    execute(_settings(ctx), body, fmt=output)


@cluster_app.command("health")
def cluster_health(
    ctx: cli.Context,
    check: Annotated[bool, cli.Option("--check", help="Exit 7 unless the verdict is OK (for runbooks).")] = False,
    output: OutputOpt = "table",
) -> None:
    """Brokers alive, the controller, offline, under-replicated and min-ISR partitions; OK, WARN or CRIT."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.cluster import STATES, Verdict, cluster_health

        health = await cluster_health(Admin(cluster))
        data = health.as_dict()
        alive = sum(b["alive"] for b in health.brokers)
        summary = [("status", health.status), ("controller", health.controller),
                   ("brokers", f"{alive} alive of {len(health.brokers)}"),
                   *((label, len(data[key])) for key, _, label in STATES)]
        rows = [{**p.row(), "state": ", ".join(p.states())} for p in health.partitions if p.in_trouble]
        tables = [Table(health.brokers, [Column("id", "ID", numeric=True), Column("host", "HOST"),
                                         Column("port", "PORT", numeric=True), Column("rack", "RACK"),
                                         Column("alive", "ALIVE"), Column("controller", "CONTROLLER")])]
        if rows:
            tables.append(Table(rows, [*PARTITION_COLUMNS, Column("state", "STATE")], title="partitions in trouble"))
        output_ = Output(data, tables, summary)
        if check and health.status is not Verdict.OK:
            from .output import render

            render(output_, output)
            raise CliError(f"cluster health is {health.status}", "see `kctl cluster health`", UNHEALTHY)
        return output_

    execute(_settings(ctx), body, fmt=output)


PARTITION_COLUMNS = [Column("topic", "TOPIC"), Column("partition", "PARTITION", numeric=True),
                     Column("leader", "LEADER", numeric=True), Column("replicas", "REPLICAS"), Column("isr", "ISR"),
                     Column("out_of_isr", "OUT OF ISR")]


@brokers_app.command("list")
def brokers_list(ctx: cli.Context, output: OutputOpt = "table") -> None:
    """Every broker with its address, rack and whether it is the controller."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin

        _, controller, brokers = await Admin(cluster).describe_cluster()
        rows = [{"id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack,
                 "controller": b.node_id == controller} for b in brokers]
        columns = [Column("id", "ID", numeric=True), Column("host", "HOST"), Column("port", "PORT", numeric=True),
                   Column("rack", "RACK"), Column("controller", "CONTROLLER")]
        return Output(rows, [Table(rows, columns)])

    execute(_settings(ctx), body, fmt=output)


@brokers_app.command("drain")
def brokers_drain(
    ctx: cli.Context,
    broker: Annotated[int, cli.Argument(metavar="ID", help="The broker to empty.")],
    topic: Annotated[list[str] | None, cli.Option("--topic", "-t", help="Only this topic's replicas "
                                                    "(repeatable; default: every topic, internal ones too).",
                                                    autocompletion=complete_topics)] = None,
    throttle: Annotated[str | None, cli.Option("--throttle", metavar="RATE",
                                                 help="Replication limit while data moves, bytes/s.")] = None,
    execute_it: Annotated[bool, cli.Option("--execute", help="Start it (the default is a dry run).")] = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Plan moving every replica, and so every leadership, off a broker; with --execute, start it.

    A topic with as many replicas as there are brokers cannot leave one: the plan says so."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.errors import NotFound
        from kctl.ops.reassign import plan_reassignment

        from .cmd_replicas import apply_plan, parse_rate

        admin = Admin(cluster)
        _, _, live = await admin.describe_cluster()
        if broker not in {b.node_id for b in live}:
            raise NotFound(f"no live broker {broker}", "`kctl brokers list` lists them")
        everything = await admin.list_topics(internal=True)
        if missing := [t for t in topic or [] if t not in everything]:
            raise NotFound(f"no topic {', '.join(missing)}", "`kctl topics list` lists them")
        topics = {name: info for name, info in everything.items()
                  if (not topic or name in topic) and any(broker in p.replicas for p in info.partitions.values())}
        others = [b.node_id for b in live if b.node_id != broker]
        plan = plan_reassignment(topics, live, only=others)
        return await apply_plan(cluster, plan, execute_it=execute_it, throttle=parse_rate(throttle),
                                what=f"draining broker {broker}", context=context)

    execute(_settings(ctx), body, fmt=output, changes=execute_it)


# ---- topics -------------------------------------------------------------------------------------------
@topics_app.command("list")
def topics_list(
    ctx: cli.Context,
    pattern: Annotated[str | None, cli.Option("--pattern", "-p", help="Only topics matching this regex.")] = None,
    internal: Annotated[bool, cli.Option("--internal", help="Include internal topics.")] = False,
    under_replicated: Annotated[bool, cli.Option(
        "--under-replicated", help="Only partitions whose ISR is smaller than their replica set.")] = False,
    under_min_isr: Annotated[bool, cli.Option(
        "--under-min-isr", help="Only partitions with fewer in sync than min.insync.replicas.")] = False,
    at_min_isr: Annotated[bool, cli.Option(
        "--at-min-isr", help="Only partitions with exactly min.insync.replicas in sync.")] = False,
    unavailable: Annotated[bool, cli.Option("--unavailable", help="Only partitions without a leader.")] = False,
    output: OutputOpt = "table",
) -> None:
    """Topics with their partition and replica counts (-o wide adds records and size).

    With --under-replicated, --under-min-isr, --at-min-isr or --unavailable: the partitions in that
    state instead (any of them), one per line, internal topics' too, as kafka-topics --describe
    lists them."""
    try:
        matcher = re.compile(pattern) if pattern else None
    except re.error as exc:
        fail(CliError(f"bad --pattern: {exc}", "it is a Python regular expression", USAGE))

    wanted = [name for name, on in (("under_replicated", under_replicated), ("under_min_isr", under_min_isr),
                                    ("at_min_isr", at_min_isr), ("unavailable", unavailable)) if on]

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.topics import topic_rows

        if wanted:  # an under-replicated __consumer_offsets is trouble too: internal topics always
            return await _partitions_in_state(Admin(cluster), wanted, matcher)
        rows = await topic_rows(Admin(cluster), internal=internal, matcher=matcher, with_sizes=output == "wide")
        for row in rows:
            row.pop("high_watermark", None)
        columns = [Column("name", "TOPIC"), Column("partitions", "PARTITIONS", numeric=True),
                   Column("replicas", "REPLICAS", numeric=True), Column("records", "RECORDS", wide=True, numeric=True),
                   Column("size", "SIZE", wide=True, numeric=True), Column("internal", "INTERNAL", wide=True)]
        return Output(rows, [Table(rows, columns)])

    execute(_settings(ctx), body, fmt=output)


async def _partitions_in_state(admin: Any, wanted: list[str], matcher: Any) -> Output:
    from kctl.ops.cluster import partition_health

    topics = {name: info for name, info in (await admin.list_topics(internal=True)).items()
              if matcher is None or matcher.search(name)}
    rows = [p.row() for p in await partition_health(admin, topics) if any(getattr(p, w) for w in wanted)]
    return Output(rows, [Table(rows, PARTITION_COLUMNS)])


@topics_app.command("describe")
def topics_describe(
    ctx: cli.Context,
    topic: Annotated[str, cli.Argument(help="The topic.", autocompletion=complete_topics)],
    all_configs: Annotated[bool, cli.Option("--all-configs", help="Show defaults too, not only overrides.")] = False,
    output: OutputOpt = "table",
) -> None:
    """Per partition: leader, replicas, ISR, log start, high watermark, size; configs with their source."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.topics import topic_detail

        data = await topic_detail(Admin(cluster), topic, all_configs=all_configs)
        partitions, configs = data["partitions"], data["configs"]
        summary = [("topic", topic), ("id", data["id"]), ("partitions", len(partitions)),
                   ("replication", max((len(p["replicas"]) for p in partitions), default=0)),
                   ("records", sum(p["records"] for p in partitions))]
        tables = [
            Table(partitions, [Column("partition", "PARTITION", numeric=True), Column("leader", "LEADER", numeric=True),
                               Column("replicas", "REPLICAS"), Column("isr", "ISR"),
                               Column("out_of_isr", "OUT OF ISR"),
                               Column("log_start_offset", "LOG START", numeric=True),
                               Column("high_watermark", "HIGH WATERMARK", numeric=True),
                               Column("records", "RECORDS", numeric=True), Column("size", "SIZE", numeric=True)]),
            Table(configs, [Column("name", "CONFIG"), Column("value", "VALUE"), Column("source", "SOURCE")],
                  title="configs" + ("" if all_configs else " (overrides; --all-configs shows every one)")),
        ]
        return Output(data, tables, summary)

    execute(_settings(ctx), body, fmt=output)


@topics_app.command("create")
def topics_create(
    ctx: cli.Context,
    topic: Annotated[str, cli.Argument(help="The new topic.")],
    partitions: Annotated[int, cli.Option("--partitions", "-p", help="Partition count (default: the broker's).")
                          ] = -1,
    replication_factor: Annotated[int, cli.Option("--replication-factor", "-r", help="Replicas per partition.")] = -1,
    config: Annotated[list[str] | None, cli.Option(
        "--config", "-c", metavar="KEY=VALUE", help="A topic config, repeatable.")] = None,
    validate_only: Annotated[bool, cli.Option("--validate-only", help="Check it, create nothing.")] = False,
    if_not_exists: Annotated[bool, cli.Option("--if-not-exists", help="Succeed if it already exists.")] = False,
    yes: YesOpt = False,
) -> None:
    """Create a topic."""
    from kctl.ops.topics import check_new_topic, parse_configs

    configs = parse_configs(config)

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin, NewTopic
        from kctl.protocol.errors import ErrorCode

        check_new_topic(partitions, replication_factor)
        result = await Admin(cluster).create_topics([NewTopic(topic, partitions, replication_factor, configs)],
                                                    validate_only=validate_only)
        error = result.get(topic)
        if error is not None:
            if if_not_exists and error.code is ErrorCode.TOPIC_ALREADY_EXISTS:
                diagnostic(f"topic {topic} already exists")
                return
            raise error
        diagnostic(f"topic {topic} {'would be created' if validate_only else 'created'}")

    execute(_settings(ctx), body, changes=not validate_only)


@topics_app.command("delete")
def topics_delete(
    ctx: cli.Context,
    topics: Annotated[list[str], cli.Argument(help="Topics to delete.", autocompletion=complete_topics)],
    yes: YesOpt = False,
) -> None:
    """Delete topics and all their records (asks you to type the name unless --yes)."""

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin

        names = ", ".join(topics)
        confirm(f"deleting {names} on {context.name} ({context.bootstrap_servers}) cannot be undone",
                topics[0] if len(topics) == 1 else "delete", yes)
        results = await Admin(cluster).delete_topics(topics)
        failed = [e for e in results.values() if e is not None]
        for name, error in results.items():
            if error is None:
                diagnostic(f"topic {name} deleted")
        if failed:
            raise failed[0]

    execute(_settings(ctx), body, changes=True)


@topics_app.command("alter")
def topics_alter(
    ctx: cli.Context,
    topic: Annotated[str, cli.Argument(help="The topic.", autocompletion=complete_topics)],
    config: Annotated[list[str] | None, cli.Option(
        "--config", "-c", metavar="KEY=VALUE", help="Set a topic config, repeatable.")] = None,
    delete_config: Annotated[list[str] | None, cli.Option("--delete-config", "-d",
                                                            help="Reset KEY to its default, repeatable.")] = None,
    partitions: Annotated[int | None, cli.Option("--partitions", "-p", help="New (larger) partition count.")] = None,
    replication_factor: Annotated[int | None, cli.Option(
        "--replication-factor", "-r", help="New replica count: a reassignment, previewed unless --execute.")] = None,
    throttle: Annotated[str | None, cli.Option("--throttle", metavar="RATE", help="With --replication-factor: "
                                                 "replication limit while data moves, bytes/s.")] = None,
    execute_it: Annotated[bool, cli.Option("--execute", help="With --replication-factor: start the "
                                                               "reassignment (the default is a dry run).")] = False,
    validate_only: Annotated[bool, cli.Option("--validate-only", help="Check it, change nothing.")] = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Change a topic's configs, add partitions, or change its replication factor (a reassignment)."""
    from kctl.ops.topics import parse_configs

    configs = parse_configs(config)
    if not configs and not delete_config and partitions is None and replication_factor is None:
        fail(CliError("nothing to change", "give --config, --delete-config, --partitions or --replication-factor",
                      USAGE))

    async def body(cluster: Cluster, context: Context) -> Output | None:
        from kctl.client import Admin
        from kctl.protocol.enums import ConfigResourceType

        admin = Admin(cluster)
        if configs or delete_config:
            await _alter_configs(admin, context, ConfigResourceType.TOPIC, "topic", topic, configs,
                                 delete_config or [], validate_only)
        if partitions is not None:
            async def add_partitions() -> None:
                error = (await admin.create_partitions({topic: partitions}, validate_only=validate_only)).get(topic)
                if error is not None:
                    raise error

            if validate_only:
                await add_partitions()
            else:
                from kctl.ops.journal import recorded

                found = (await admin.describe_topics([topic]))[topic]
                before = None if isinstance(found, BaseException) else len(found.partitions)
                await recorded(admin, context.name, command_line(), "partitions", {"topic": topic}, before,
                               partitions, add_partitions)
        if replication_factor is not None:
            from kctl.ops.reassign import plan_reassignment

            from .cmd_replicas import apply_plan, described_topics, parse_rate

            _, _, live = await admin.describe_cluster()
            plan = plan_reassignment(await described_topics(admin, [topic]), live,
                                     replication_factor=replication_factor)
            return await apply_plan(cluster, plan, execute_it=execute_it and not validate_only,
                                    throttle=parse_rate(throttle), what=f"{topic} to {replication_factor} replicas",
                                    context=context)
        diagnostic(f"topic {topic} {'would be changed' if validate_only else 'changed'}")
        return None

    execute(_settings(ctx), body, fmt=output, changes=not validate_only)


# ---- configs ---------------------------------------------------------------------------------------
KindArg = Annotated[str, cli.Argument(
    help="topic, broker, cluster (every broker's defaults), broker-logger, group or client-metrics.")]
NameArg = Annotated[str | None, cli.Argument(
    help="The topic, broker id, group or client-metrics subscription (none for cluster).")]


@configs_app.command("list")
def configs_list(
    ctx: cli.Context,
    kind: Annotated[str, cli.Argument(help="topic, group or client-metrics.")],
    output: OutputOpt = "table",
) -> None:
    """The resources of a kind that have configs (ListConfigResources): client-metrics subscriptions, say."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.topics import CONFIG_KINDS

        if kind not in ("topic", "group", "client-metrics"):
            raise CliError(f"cannot list {kind!r} config resources", "use topic, group or client-metrics", USAGE)
        names = await Admin(cluster).list_config_resources(CONFIG_KINDS[kind])
        rows = [{"name": n} for n in names]
        return Output(rows, [Table(rows, [Column("name", "NAME")])])

    execute(_settings(ctx), body, fmt=output)


@configs_app.command("get")
def configs_get(
    ctx: cli.Context,
    kind: KindArg,
    name: NameArg = None,
    all_configs: Annotated[bool, cli.Option("--all", help="Show defaults too, not only overrides.")] = False,
    output: OutputOpt = "table",
) -> None:
    """Configs with their value and where it comes from (overrides only unless --all); a
    broker-logger's are its loggers and their levels."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.topics import config_resource, config_rows

        resource_type, resource = config_resource(kind, name)
        rows = await config_rows(Admin(cluster), resource_type, resource, all_configs=all_configs)
        columns = [Column("name", "CONFIG"), Column("value", "VALUE"), Column("source", "SOURCE"),
                   Column("read_only", "READ ONLY", wide=True)]
        return Output(rows, [Table(rows, columns)])

    execute(_settings(ctx), body, fmt=output)


@configs_app.command("set")
def configs_set(
    ctx: cli.Context,
    kind: KindArg,
    name_or_pair: Annotated[list[str], cli.Argument(
        metavar="[NAME] KEY=VALUE...", help="The resource (none for cluster), then KEY=VALUE pairs.")],
    validate_only: Annotated[bool, cli.Option("--validate-only", help="Check it, change nothing.")] = False,
    yes: YesOpt = False,
) -> None:
    """Set config overrides (a broker-logger's: LOGGER=LEVEL)."""
    from kctl.ops.topics import config_resource, parse_configs

    name, pairs = _name_and_rest(kind, name_or_pair, "KEY=VALUE")
    configs = parse_configs(pairs)
    resource_type, resource = config_resource(kind, name)

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin

        await _alter_configs(Admin(cluster), context, resource_type, kind, resource, configs, [], validate_only)
        diagnostic(f"{kind} {resource or '(default)'}: {', '.join(configs)} "
                   f"{'would be set' if validate_only else 'set'}")

    execute(_settings(ctx), body, changes=not validate_only)


@configs_app.command("delete")
def configs_delete(
    ctx: cli.Context,
    kind: KindArg,
    name_or_key: Annotated[list[str], cli.Argument(
        metavar="[NAME] KEY...", help="The resource (none for cluster), then config names to reset.")],
    yes: YesOpt = False,
) -> None:
    """Remove config overrides, so the defaults apply again."""
    from kctl.ops.topics import config_resource

    name, keys = _name_and_rest(kind, name_or_key, "KEY")
    resource_type, resource = config_resource(kind, name)

    async def body(cluster: Cluster, context: Context) -> None:
        from kctl.client import Admin

        await _alter_configs(Admin(cluster), context, resource_type, kind, resource, {}, keys, False)
        diagnostic(f"{kind} {resource or '(default)'}: {', '.join(keys)} reset to the default")

    execute(_settings(ctx), body, changes=True)


async def _alter_configs(admin: Any, context: Context, resource_type: int, kind: str, name: str,
                         configs: dict[str, str], delete: list[str], validate_only: bool) -> None:
    """Set and delete overrides, journaled with the values they replace (not when only validating)."""
    if validate_only:
        await admin.alter_configs(resource_type, name, set_configs=configs, delete=delete, validate_only=True)
        return
    from kctl.ops.journal import config_overrides, recorded

    keys = [*configs, *delete]
    before = await config_overrides(admin, resource_type, name, keys)
    after: dict[str, str | None] = {**configs, **dict.fromkeys(delete)}
    await recorded(admin, context.name, command_line(), "config",
                   {"resource": kind, "resource_type": resource_type, "name": name}, before, after,
                   lambda: admin.alter_configs(resource_type, name, set_configs=configs, delete=delete))


def _name_and_rest(kind: str, words: list[str], what: str) -> tuple[str | None, list[str]]:
    """A cluster's configs name no resource: every word is a config; otherwise the first word names it."""
    if kind == "cluster":
        rest = words
        name = None
    else:
        name, rest = words[0], words[1:]
    if not rest:
        raise CliError(f"no {what} given", f"kctl configs ... {kind} {'' if kind == 'cluster' else 'NAME '}{what}",
                       USAGE)
    return name, rest



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {
    "cluster": cluster_app,
    "brokers": brokers_app,
    "topics": topics_app,
    "configs": configs_app,
}

__all__ = ["brokers_app", "cluster_app", "configs_app", "topics_app"]
