"""The console's views: cluster overview, topics, one topic, groups, one group. Each fetches
through `kctl.ops`, the same code as the matching `kctl` command, and names that command."""

from __future__ import annotations

import shlex
import time
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from kctl.ops.cells import Column

from .base import ListScreen, Pane, Rows, Summary
from .console import OpenReset, OpenTail, view
from .widgets import health_text, human_bytes, human_seconds, spark


def _c(key: str, header: str) -> Column:
    return Column(key, header)


@view("cluster", "overview", "brokers")
class ClusterScreen(ListScreen):
    """Brokers, topics, partitions, total size, and produce and consume rates; on KRaft, the
    metadata quorum (its leader is the active controller)."""

    view_name = "cluster"
    panes = (Pane("brokers", (_c("id", "ID"), _c("host", "HOST"), _c("port", "PORT"), _c("rack", "RACK"),
                              _c("alive", "ALIVE"), _c("replicas", "REPLICAS"), _c("leaders", "LEADERS"),
                              _c("size", "SIZE"), _c("controller", "CONTROLLER")), key="id", title="brokers"),
             Pane("quorum", (_c("node", "NODE"), _c("role", "ROLE"), _c("log_end_offset", "LOG END"),
                             _c("lag", "LAG"), _c("endpoints", "ENDPOINTS")), key="node",
                  title="KRaft quorum (`kctl cluster quorum`; none on a cluster without one)"))
    totals: dict[str, Any]

    def equivalent(self) -> str:
        return self.kctl.cli("cluster info")

    async def fetch(self) -> dict[str, Rows]:
        seen = await (await self.kctl.backend()).overview()
        # Partitions count the internal topics' too, as the brokers' replicas do; records, size
        # and rates are the users' topics' (offset commits are not produced records).
        topics = [t for t in seen.topics if not t.get("internal")]
        internal = [t for t in seen.topics if t.get("internal")]
        produced = sum(t.get("high_watermark", 0) for t in topics)
        now = time.monotonic()
        sizes = [t["size"] for t in topics if t.get("size") is not None]
        self.totals = {
            "cluster_id": seen.cluster_id, "controller": seen.controller, "brokers": len(seen.brokers),
            "topics": len(topics), "internal_topics": len(internal),
            "partitions": sum(t["partitions"] for t in seen.topics),
            "internal_partitions": sum(t["partitions"] for t in internal),
            "records": sum(t.get("records", 0) for t in topics), "size": sum(sizes) if sizes else None,
            "groups": len(seen.groups), "authentication": seen.authentication,
            "produce_rate": self.kctl.rates.rate("cluster:produce", produced, now),
            "consume_rate": self.kctl.rates.rate("cluster:consume", seen.consumed, now),
        }
        return {"brokers": seen.brokers, "quorum": seen.quorum}

    def summary(self) -> Summary | None:
        t = getattr(self, "totals", None)
        if t is None:
            return None

        def rate(value: float | None) -> str:
            return "-" if value is None else f"{value:,.1f}/s"

        return [[("cluster", t["cluster_id"] or "-"), ("controller", str(t["controller"])),
                 ("context", self.kctl.context_label), ("auth", t["authentication"])],
                [("brokers", str(t["brokers"])),
                 ("topics", f"{t['topics']:,}"
                  + (f" (+{t['internal_topics']} internal)" if t["internal_topics"] else "")),
                 ("partitions", f"{t['partitions']:,}"
                  + (f" ({t['internal_partitions']:,} internal)" if t["internal_partitions"] else "")),
                 ("records", f"{t['records']:,}"),
                 ("size", human_bytes(t["size"])), ("groups", str(t["groups"]))],
                [("produce", rate(t["produce_rate"])), ("consume", rate(t["consume_rate"]))]]


@view("topics")
class TopicsScreen(ListScreen):
    view_name = "topics"
    panes = (Pane("topics", (_c("name", "TOPIC"), _c("partitions", "PARTITIONS"), _c("replicas", "REPLICAS"),
                             _c("under_replicated", "UNDER-REPL"), _c("offline", "OFFLINE"),
                             _c("records", "RECORDS"), _c("size", "SIZE"), _c("rate", "RECORDS/S"))),)
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListScreen.BINDINGS,
        Binding("t", "tail", "tail", id="tail"),
        Binding("c", "create", "create", id="create"),
        Binding("ctrl+d", "delete", "delete", id="delete"),
    ]

    def equivalent(self) -> str:
        return self.kctl.cli("topics list -o wide")

    async def fetch(self) -> dict[str, Rows]:
        rows = await (await self.kctl.backend()).topics()
        now = time.monotonic()
        for row in rows:
            row["rate"] = self.kctl.rates.rate(f"topic:{row['name']}", row.get("high_watermark", 0), now)
        return {"topics": rows}

    def open(self, key: str, pane_id: str) -> None:
        self.app.push_screen(TopicScreen(key))

    def action_tail(self) -> None:
        topic = self.selected_key()
        if topic is not None:
            self.post_message(OpenTail(topic))

    def action_create(self) -> None:
        from .dialogs import CreateTopicScreen

        if self.kctl.may_change("create a topic"):
            self.app.push_screen(CreateTopicScreen(), self._reload_if)

    def action_delete(self) -> None:
        topic = self.selected_key()
        if topic is None or not self.kctl.may_change(f"delete {topic}"):
            return
        from .dialogs import ConfirmScreen

        command = self.kctl.cli(f"topics delete {shlex.quote(topic)} --yes")

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.kctl.run_change(self._delete(topic), f"topic {topic} deleted", command, then=self.load)

        self.app.push_screen(ConfirmScreen(
            f"Delete topic [b]{topic}[/] and all its records on {self.kctl.context_label}? This cannot be undone.",
            topic, command), confirmed)

    async def _delete(self, topic: str) -> None:
        await (await self.kctl.backend()).delete_topic(topic)


class TopicScreen(ListScreen):
    """One topic: partitions with leader, log start, high watermark and size; configs with source."""

    view_name = "partitions"
    panes = (
        Pane("partitions", (_c("partition", "PARTITION"), _c("leader", "LEADER"), _c("replicas", "REPLICAS"),
                            _c("isr", "ISR"), _c("out_of_isr", "OUT OF ISR"), _c("log_start_offset", "LOG START"),
                            _c("high_watermark", "HIGH WATERMARK"), _c("records", "RECORDS"), _c("size", "SIZE")),
             key="partition"),
        Pane("configs", (_c("name", "CONFIG"), _c("value", "VALUE"), _c("source", "SOURCE")),
             title="configs (e edits the selected one)"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListScreen.BINDINGS,
        Binding("t", "tail", "tail", id="tail"),
        Binding("e", "edit", "edit config", id="edit"),
    ]

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    def crumb(self) -> str:
        return self.topic

    def equivalent(self) -> str:
        return self.kctl.cli(f"topics describe {shlex.quote(self.topic)} --all-configs")

    async def fetch(self) -> dict[str, Rows]:
        return await (await self.kctl.backend()).topic(self.topic)

    def action_tail(self) -> None:
        self.post_message(OpenTail(self.topic))

    def action_edit(self) -> None:
        from .dialogs import EditConfigScreen

        name = self.selected_key("configs")
        row = self.row(name, "configs") if name is not None else None
        if row is None or not self.kctl.may_change(f"change {self.topic}'s configs"):
            return
        if row["read_only"]:
            self.notify(f"{name} is read-only", severity="warning")
            return
        self.app.push_screen(EditConfigScreen(self.topic, str(name), row["value"], row["source"]), self._reload_if)

    def open(self, key: str, pane_id: str) -> None:
        if pane_id == "configs":
            self.action_edit()


@view("groups")
class GroupsScreen(ListScreen):
    view_name = "groups"
    panes = (Pane("groups", (_c("group", "GROUP"), _c("type", "TYPE"), _c("state", "STATE"), _c("members", "MEMBERS"),
                             _c("lag", "LAG"), _c("health", "HEALTH"), _c("trend", "LAG TREND")), key="group"),)
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListScreen.BINDINGS,
        Binding("R", "reset", "reset offsets", key_display="R", id="reset"),
    ]

    def equivalent(self) -> str:
        return self.kctl.cli("lag")

    async def fetch(self) -> dict[str, Rows]:
        backend = await self.kctl.backend()
        rows = []
        # Each batch of groups goes into its history and is dropped: at hundreds of groups of
        # thousands of partitions, holding every row at once would be most of the console's memory.
        async for batch in backend.group_lag(ages=False, history=self.kctl.history, at=time.monotonic()):
            for g in batch:
                totals = self.kctl.history(g.group).total_lag()
                kind = g.description.type if g.description is not None else "-"
                rows.append({"group": g.group, "type": kind, "state": g.state, "members": g.members,
                             "lag": totals[-1], "health": g.health, "trend": spark(totals)})
        return {"groups": rows}

    def open(self, key: str, pane_id: str) -> None:
        row = self.row(key, "groups")
        self.app.push_screen(group_screen(key, row.get("type") if row is not None else None))

    def action_reset(self) -> None:
        group = self.selected_key()
        if group is not None:
            self.post_message(OpenReset(group))


#: How far back the group detail's `why` verdict looks.
WHY_WINDOW_S = 60.0


class GroupScreen(ListScreen):
    """One classic group, live: lag per partition with its trend, rates and time to catch up;
    members. The screens below it show what each Kafka 4 group type adds."""

    view_name = "lag"
    refresh_s = 2.0
    panes: ClassVar[tuple[Pane, ...]] = (
        Pane("lag", (_c("topic", "TOPIC"), _c("partition", "PARTITION"), _c("committed_offset", "COMMITTED"),
                     _c("log_end_offset", "LOG END"), _c("lag", "LAG"), _c("lag_seconds", "LAG TIME"),
                     _c("consume_rate", "CONSUME/S"), _c("produce_rate", "PRODUCE/S"),
                     _c("catch_up_seconds", "CATCH UP"), _c("trend", "TREND"), _c("member", "MEMBER")), key="key"),
        Pane("members", (_c("member_id", "MEMBER"), _c("client_id", "CLIENT"), _c("host", "HOST"),
                         _c("assignment", "ASSIGNMENT")), key="member_id", title="members"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListScreen.BINDINGS,
        Binding("R", "reset", "reset offsets", key_display="R", id="reset"),
    ]
    state = "?"
    group_type = "classic"

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group
        self.looks: list[Any] = []  # kctl.ops.why Samples over the last WHY_WINDOW_S, for the verdict

    def crumb(self) -> str:
        return self.group

    def equivalent(self) -> str:
        return self.kctl.cli(f"lag {shlex.quote(self.group)} --watch -o wide")

    async def fetch(self) -> dict[str, Rows]:
        backend = await self.kctl.backend()
        self.kctl.restart_rates_after_a_reset(self.group)
        looked = [g async for batch in backend.group_lag([self.group], history=self.kctl.history) for g in batch]
        description = looked[0].description if looked else None
        members = description.members if description is not None else []
        self.state = looked[0].state if looked else "Unknown"
        self.described = description
        if looked:
            from kctl.ops.why import Sample

            now = time.time()
            self.looks = [s for s in self.looks if now - s.at <= WHY_WINDOW_S] + [Sample(now, looked[0])]
        owners = {tp: m.client_id or m.member_id for m in members for tp in m.assignment}
        history = self.kctl.history(self.group)
        rows: list[dict[str, Any]] = []
        for lag in (g.rows for g in looked):
            for r in lag:
                row: dict[str, Any] = dict(r)
                row["key"] = f"{r['topic']}:{r['partition']}"
                row["member"] = owners.get(_tp(row))
                row["trend"] = spark(history.partition_lag(r["topic"], r["partition"]))
                rows.append(row)
        from kctl.ops.groups import member_row

        return {"lag": rows, "members": [_member_cells(member_row(m)) for m in members]}

    def summary(self) -> Summary | None:
        history = self.kctl.history(self.group)
        if not history.looks:
            return None
        rows = self.data.get("lag", [])
        rated = [r for r in rows if r.get("consume_rate") is not None]  # none on a first look, or after a reset
        consume = sum(r["consume_rate"] for r in rated) if rated else None
        produce = sum(r.get("produce_rate") or 0 for r in rated) if rated else None
        lag = history.total_lag()[-1]
        catch_up: float | None = None
        if lag == 0:
            catch_up = 0.0
        elif consume is not None and produce is not None and consume > produce:
            catch_up = lag / (consume - produce)
        members = len(self.data.get("members", []))

        def rate(value: float | None) -> str:
            return "-" if value is None else f"{value:,.1f}/s"

        lines: Summary = [[("type", self.group_type), ("state", self.state), ("members", str(members)),
                           ("lag", f"{lag:,}"), ("health", health_text(history.verdict(self.state),
                                                                        self.app.current_theme)),
                           ("consume", rate(consume)), ("produce", rate(produce)),
                           ("catch up", human_seconds(catch_up))],
                          [("lag history", spark(history.total_lag(), 60))]]
        if len(self.looks) >= 2 and self.looks[-1].at - self.looks[0].at >= 1.0:
            from kctl.ops.why import Evidence, diagnose

            # `kctl why` from the looks this screen took: what the cluster shows over the last minute
            # (the command also reads quotas, transactions and the stuck record).
            lines.append([("why", diagnose(Evidence(self.group, list(self.looks))).verdict.summary)])
        return lines

    def action_reset(self) -> None:
        self.post_message(OpenReset(self.group))



class ConsumerGroupScreen(GroupScreen):
    """A consumer group on the consumer protocol (KIP-848): each member's epoch, its assignment
    and the target the coordinator is moving it to, and what it subscribes to."""

    group_type = "consumer"
    panes = (
        GroupScreen.panes[0],
        Pane("members", (_c("member_id", "MEMBER"), _c("client_id", "CLIENT"), _c("host", "HOST"),
                         _c("epoch", "EPOCH"), _c("assignment", "ASSIGNMENT"), _c("target_assignment", "TARGET"),
                         _c("subscription", "SUBSCRIBED")), key="member_id", title="members"),
    )


class ShareGroupScreen(GroupScreen):
    """A share group (KIP-932): per partition where it starts (the first record not yet
    acknowledged) and the backlog from there; its members and their epochs."""

    group_type = "share"
    panes = (
        Pane("lag", (_c("topic", "TOPIC"), _c("partition", "PARTITION"), _c("committed_offset", "START"),
                     _c("log_end_offset", "LOG END"), _c("lag", "BACKLOG"), _c("consume_rate", "CONSUME/S"),
                     _c("produce_rate", "PRODUCE/S"), _c("catch_up_seconds", "CATCH UP"), _c("trend", "TREND"),
                     _c("member", "MEMBER")), key="key"),
        Pane("members", (_c("member_id", "MEMBER"), _c("client_id", "CLIENT"), _c("host", "HOST"),
                         _c("epoch", "EPOCH"), _c("assignment", "ASSIGNMENT")), key="member_id", title="members"),
    )


class StreamsGroupScreen(GroupScreen):
    """A Kafka Streams group (KIP-1071): its topology's subtopologies, and each member's process
    and tasks (active, standby, warm-up)."""

    group_type = "streams"
    panes = (
        GroupScreen.panes[0],
        Pane("members", (_c("member_id", "MEMBER"), _c("process_id", "PROCESS"), _c("epoch", "EPOCH"),
                         _c("active_tasks", "ACTIVE"), _c("standby_tasks", "STANDBY"),
                         _c("warmup_tasks", "WARM-UP")), key="member_id", title="members"),
        Pane("topology", (_c("subtopology", "SUBTOPOLOGY"), _c("source_topics", "SOURCE TOPICS"),
                          _c("repartition_sink_topics", "REPARTITION SINKS"),
                          _c("state_changelog_topics", "CHANGELOGS")), key="subtopology", title="topology"),
    )

    async def fetch(self) -> dict[str, Rows]:
        found = await super().fetch()
        topology = getattr(self.described, "topology", None) or []
        found["topology"] = [{"subtopology": t.subtopology_id, "source_topics": ", ".join(t.source_topics),
                              "repartition_sink_topics": ", ".join(t.repartition_sink_topics),
                              "state_changelog_topics": ", ".join(t.state_changelog_topics)} for t in topology]
        return found


def group_screen(group: str, group_type: str | None) -> GroupScreen:
    """The detail screen of a group's type."""
    screen = {"consumer": ConsumerGroupScreen, "share": ShareGroupScreen,
              "streams": StreamsGroupScreen}.get(group_type or "", GroupScreen)
    return screen(group)


def _member_cells(row: dict[str, Any]) -> dict[str, Any]:
    """A member as `kctl groups describe` has it, with its lists joined for a cell."""
    return {key: ", ".join(value) if isinstance(value, list) else value for key, value in row.items()}


@view("reassign")
class ReassignScreen(ListScreen):
    """The last reassignment kctl started: per partition, moving or done, and the bytes copied."""

    view_name = "reassignment"
    refresh_s = 2.0
    panes = (Pane("partitions", (_c("topic", "TOPIC"), _c("partition", "PARTITION"), _c("target", "TARGET"),
                                 _c("state", "STATE"), _c("adding", "ADDING"), _c("bytes_copied", "COPIED"),
                                 _c("bytes_total", "TO COPY")), key="key"),)
    started = ""

    def equivalent(self) -> str:
        return self.kctl.cli("reassign status --watch")

    async def fetch(self) -> dict[str, Rows]:
        found = await (await self.kctl.backend()).reassignment()
        if found is None:
            self.started = "none started by kctl here (kctl reassign apply PLAN --execute starts one)"
            return {"partitions": []}
        self.started, rows = found
        for row in rows:
            row["key"] = f"{row['topic']}:{row['partition']}"
        return {"partitions": rows}

    def summary(self) -> Summary | None:
        rows = self.data.get("partitions", [])
        moving = sum(r["state"] == "moving" for r in rows)
        copied, total = sum(r["bytes_copied"] for r in rows), sum(r["bytes_total"] for r in rows)
        return [[("started", self.started or "-"), ("partitions", str(len(rows))), ("moving", str(moving)),
                 ("copied", f"{human_bytes(copied)} of {human_bytes(total)}")]]


@view("users")
class UsersScreen(ListScreen):
    """SCRAM users: one row per user and mechanism, with its iterations."""

    view_name = "users"
    refresh_s = 10.0
    panes = (Pane("users", (_c("user", "USER"), _c("mechanism", "MECHANISM"), _c("iterations", "ITERATIONS")),
                  key="key"),)

    def equivalent(self) -> str:
        return self.kctl.cli("users list")

    async def fetch(self) -> dict[str, Rows]:
        rows = await (await self.kctl.backend()).users()
        for row in rows:
            row["key"] = f"{row['user']}/{row['mechanism']}"
        return {"users": rows}


@view("acls")
class AclsScreen(ListScreen):
    """Every ACL: principal, permission, operation, host and the resource pattern it is on."""

    view_name = "acls"
    refresh_s = 10.0
    panes = (Pane("acls", (_c("principal", "PRINCIPAL"), _c("permission", "PERMISSION"), _c("operation", "OPERATION"),
                           _c("host", "HOST"), _c("resource_type", "TYPE"), _c("resource", "RESOURCE"),
                           _c("pattern", "PATTERN")), key="key"),)

    def equivalent(self) -> str:
        return self.kctl.cli("acls list")

    async def fetch(self) -> dict[str, Rows]:
        rows = await (await self.kctl.backend()).acls()
        for row in rows:
            row["key"] = "/".join(str(row[k]) for k in ("resource_type", "resource", "pattern", "principal", "host",
                                                          "operation", "permission"))
        return {"acls": rows}


@view("transactions")
class TransactionsScreen(ListScreen):
    """Transactional ids and their state; every transaction open in a partition, hanging ones (which
    hold read_committed readers back for good) in the error colour."""

    view_name = "transactions"
    refresh_s = 10.0
    panes = (
        Pane("open", (_c("topic", "TOPIC"), _c("partition", "PARTITION"), _c("producer_id", "PRODUCER ID"),
                      _c("txn_start_offset", "START OFFSET"), _c("idle_ms", "IDLE MS"), _c("hanging", "HANGING"),
                      _c("why", "WHY")), key="key", title="open in partitions"),
        Pane("transactions", (_c("transactional_id", "TRANSACTIONAL ID"), _c("producer_id", "PRODUCER ID"),
                              _c("state", "STATE"), _c("coordinator", "COORDINATOR")), key="transactional_id",
             title="transactional ids"),
    )

    def equivalent(self) -> str:
        return self.kctl.cli("transactions list")

    async def fetch(self) -> dict[str, Rows]:
        return await (await self.kctl.backend()).transactions()


@view("schemas")
class SchemasScreen(ListScreen):
    """The Schema Registry's subjects: latest version, its id and type, how many versions."""

    view_name = "schemas"
    refresh_s = 10.0
    panes = (Pane("subjects", (_c("subject", "SUBJECT"), _c("version", "VERSION"), _c("id", "ID"),
                               _c("type", "TYPE"), _c("versions", "VERSIONS")), key="subject"),)

    def equivalent(self) -> str:
        return self.kctl.cli("schemas list")

    async def fetch(self) -> dict[str, Rows]:
        return {"subjects": await (await self.kctl.backend()).subjects()}

    def open(self, key: str, pane_id: str) -> None:
        self.app.push_screen(SchemaScreen(key))


class SchemaScreen(ListScreen):
    """One subject: its versions, and the text of the one selected (the latest at first), with the
    subject's compatibility level."""

    view_name = "schema"
    refresh_s = 10.0
    panes = (
        Pane("versions", (_c("version", "VERSION"), _c("id", "ID"), _c("type", "TYPE")), key="version",
             title="versions (enter shows one)"),
        Pane("schema", (_c("line", "SCHEMA"),), key="number"),
    )

    def __init__(self, subject: str) -> None:
        super().__init__()
        self.subject = subject
        self.version = "latest"
        self.shown: dict[str, Any] = {}

    def crumb(self) -> str:
        return self.subject

    def equivalent(self) -> str:
        return self.kctl.cli(f"schemas get {shlex.quote(self.subject)} --version {self.version}")

    async def fetch(self) -> dict[str, Rows]:
        from kctl.ops.schemas import pretty
        from kctl.protocol.registry import SchemaType

        found = await (await self.kctl.backend()).subject(self.subject, self.version)
        self.shown = found["schema"]
        text = pretty(self.shown["schema"], SchemaType(self.shown["type"]))
        for row in found["versions"]:
            row["version"] = str(row["version"])
        lines = [{"number": str(n), "line": line} for n, line in enumerate(text.splitlines())]
        return {"versions": found["versions"], "schema": lines}

    def summary(self) -> Summary | None:
        if not self.shown:
            return None
        shown = self.shown
        references = ", ".join(f"{r['name']}={r['subject']}:{r['version']}" for r in shown["references"]) or "-"
        return [[("subject", self.subject), ("version", str(shown["version"])), ("id", str(shown["id"])),
                 ("type", shown["type"]), ("compatibility", shown.get("compatibility") or "-")],
                [("references", references)]]

    def open(self, key: str, pane_id: str) -> None:
        if pane_id == "versions":
            self.version = key
            self.show_command(self.equivalent())
            self.load()


@view("connectors")
class ConnectorsScreen(ListScreen):
    """Kafka Connect's connectors, failing ones first; the tasks of the one picked (enter), and the
    trace of its failed task. p pauses, u resumes, R restarts it with its failed tasks."""

    view_name = "connectors"
    panes = (
        Pane("connectors", (_c("name", "CONNECTOR"), _c("type", "TYPE"), _c("plugin", "PLUGIN"),
                            _c("state", "STATE"), _c("tasks", "TASKS"), _c("worker_id", "WORKER"))),
        Pane("tasks", (_c("id", "TASK"), _c("state", "STATE"), _c("worker_id", "WORKER"), _c("error", "ERROR")),
             key="id", title="tasks of the connector picked (enter picks another)"),
        Pane("trace", (_c("line", "TRACE"),), key="number", title="the trace of its failed task"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *ListScreen.BINDINGS,
        Binding("p", "change('pause')", "pause", id="connector-pause"),
        Binding("u", "change('resume')", "resume", id="connector-resume"),
        Binding("R", "change('restart')", "restart failed", key_display="R", id="connector-restart"),
    ]
    #: What each key does, as the `kctl connect` words that do the same.
    ACTIONS: ClassVar[dict[str, tuple[str, str]]] = {
        "pause": ("connect pause {}", "paused"), "resume": ("connect resume {}", "resumed"),
        "restart": ("connect restart {} --include-tasks --only-failed", "restarted with its failed tasks"),
    }
    chosen: str | None = None
    counts: tuple[int, int] = (0, 0)

    def crumb(self) -> str:
        return "connectors" if self.chosen is None else f"connectors ({self.chosen})"

    def equivalent(self) -> str:
        return self.kctl.cli("connect list")

    async def fetch(self) -> dict[str, Rows]:
        backend = await self.kctl.backend()
        rows = await backend.connectors()
        names = [r["name"] for r in rows]
        if self.chosen not in names:
            self.chosen = names[0] if names else None  # failing ones come first
        self.counts = (len(rows), sum(1 for r in rows if r["trouble"]))
        tasks: Rows = []
        trace: Rows = []
        if self.chosen is not None:
            detail = await backend.connector(self.chosen)
            tasks = [{"id": str(t["id"]), "state": t["state"], "worker_id": t["worker_id"],
                      "error": (t.get("trace") or "").strip().split("\n", 1)[0]} for t in detail["task_states"]]
            failed = next((t["trace"] for t in detail["task_states"] if t.get("trace")), None) or detail.get("trace")
            trace = [{"number": str(n), "line": line} for n, line in enumerate((failed or "").splitlines())]
        return {"connectors": rows, "tasks": tasks, "trace": trace}

    def summary(self) -> Summary | None:
        total, failing = self.counts
        return [[("connectors", str(total)), ("failing", str(failing)), ("picked", self.chosen or "-")]]

    def open(self, key: str, pane_id: str) -> None:
        if pane_id == "connectors":
            self.chosen = key
            self.load()

    def action_change(self, action: str) -> None:
        name = self.selected_key("connectors")
        words, done = self.ACTIONS[action]
        if name is None or not self.kctl.may_change(f"{action} connector {name}"):
            return
        command = self.kctl.cli(words.format(shlex.quote(name)))
        self.kctl.run_change(self._change(name, action), f"connector {name} {done}", command, then=self.load)

    async def _change(self, name: str, action: str) -> None:
        await (await self.kctl.backend()).change_connector(name, action)


def _tp(row: dict[str, Any]) -> Any:
    from kctl.client import TopicPartition

    return TopicPartition(row["topic"], row["partition"])
