"""Where the console's data comes from and where its changes go.

Views, dialogs and the tail talk to a `Backend`, never to the client: `LiveBackend` answers from a
cluster through `kctl.ops` (the same code as the matching `kctl` commands); tests can hand the
console any other backend, such as recorded answers for the snapshot tests, which then need no
broker at all.

A view that needs data of its own registers a query beside it, and asks for it by name:

    @query("brokers-by-rack")
    async def brokers_by_rack(live: LiveBackend) -> list[dict[str, Any]]:
        ...  # live.cluster(), live.admin(), live.registry(), live.connect()

    rows = await (await self.kctl.backend()).ask("brokers-by-rack")

so a new view is its own module: the Backend protocol, `LiveBackend` and the recorded backend of
the snapshot tests (which records every registered query) need no change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kctl.client import Cluster
    from kctl.client.kafka_connect import ConnectClient
    from kctl.client.schema_registry import RecordDecoder, RegistryClient
    from kctl.client.types import ConsumerRecord, TopicPartition
    from kctl.connect.cluster import Settings
    from kctl.connect.contexts import Context
    from kctl.ops.groups import GroupLag, LagHistory, ResetPlan, Strategy
    from kctl.ops.tail import TailSpec

Batches = AsyncIterator[list["ConsumerRecord"]]


@dataclass(slots=True)
class ClusterOverview:
    cluster_id: str | None
    controller: int
    brokers: list[dict[str, Any]]  # id, host, port, rack, alive, controller, replicas, leaders, size
    topics: list[dict[str, Any]]  # as `topic_rows(with_sizes=True, internal=True)` gives them
    groups: list[str]
    consumed: int  # every group's committed offsets added up, for the consume rate
    quorum: list[dict[str, Any]] = field(default_factory=list)  # KRaft voters and observers, as `cluster quorum`
    authentication: str = "no SASL"  # mechanism, principal, token expiry (`connect.cluster.authentication_label`)


#: What a view asks a cluster for: an async function of the live backend.
Query = Callable[["LiveBackend"], Awaitable[Any]]
#: Every registered query by name (`@query`).
QUERIES: dict[str, Query] = {}


def query(name: str) -> Callable[[Query], Query]:
    """Register a view's query under `name`, for `Backend.ask`."""

    def register(fetch: Query) -> Query:
        if QUERIES.get(name, fetch) is not fetch:
            raise ValueError(f"two console queries are named {name!r}")
        QUERIES[name] = fetch
        return fetch

    return register


class Backend(Protocol):
    async def ask(self, name: str) -> Any:
        """What the query registered as `name` answers (JSON-shaped data)."""
        ...

    async def overview(self) -> ClusterOverview: ...

    async def topics(self) -> list[dict[str, Any]]: ...

    async def reassignment(self) -> tuple[str, list[dict[str, Any]]] | None:
        """The last reassignment kctl started (when, and per partition its progress), if any."""
        ...

    async def topic(self, name: str) -> dict[str, Any]:
        """{"partitions": rows, "configs": rows} as `kctl topics describe --all-configs` has them."""
        ...

    def group_lag(self, groups: list[str] | None = None, *, ages: bool = True,
                  history: Callable[[str], LagHistory] | None = None, at: float | None = None
                  ) -> AsyncIterator[list[GroupLag]]: ...

    async def create_topic(self, name: str, partitions: int, replication: int, configs: dict[str, str]) -> None: ...

    async def delete_topic(self, name: str) -> None: ...

    async def set_topic_config(self, topic: str, name: str, value: str | None) -> None:
        """Set a config, or with None put it back to its default."""
        ...

    async def plan_reset(self, group: str, strategy: Strategy, scope: list[str]
                         ) -> tuple[ResetPlan, list[TopicPartition] | None]:
        """The plan, and the partitions `scope` (TOPIC or TOPIC:P,P words; none: all) names."""
        ...

    async def apply_reset(self, plan: ResetPlan) -> Path: ...

    def tail(self, spec: TailSpec) -> AbstractAsyncContextManager[Batches]: ...

    async def subjects(self) -> list[dict[str, Any]]:
        """The registry's subjects as `kctl schemas list` has them."""
        ...

    async def users(self) -> list[dict[str, Any]]:
        """SCRAM users, one row per mechanism, as `kctl users list` has them."""
        ...

    async def acls(self) -> list[dict[str, Any]]:
        """Every ACL, as `kctl acls list` has them."""
        ...

    async def transactions(self) -> dict[str, list[dict[str, Any]]]:
        """{"transactions": as `kctl transactions list`, "open": every transaction open in a
        partition, marked hanging as `kctl transactions find-hanging` finds them}."""
        ...

    async def subject(self, name: str, version: str) -> dict[str, Any]:
        """{"schema": as `kctl schemas get`, "versions": rows as `kctl schemas versions`}."""
        ...

    async def connectors(self) -> list[dict[str, Any]]:
        """Kafka Connect's connectors as `kctl connect list` has them (failing ones first)."""
        ...

    async def connector(self, name: str) -> dict[str, Any]:
        """One connector as `kctl connect describe` has it (tasks with their traces)."""
        ...

    async def change_connector(self, name: str, action: str) -> None:
        """pause, resume, or restart (the connector and its failed tasks)."""
        ...

    async def decode(self, record: ConsumerRecord) -> dict[str, Any] | None:
        """The record's key and value decoded with their registry schemas ("key"/"value": Decoded or
        None, "value_subjects": [(subject, version)]); None when neither is in Confluent's format."""
        ...

    async def close(self) -> None: ...


class LiveBackend:
    """A cluster, connected on first use (starting the built-in broker first for the local context)."""

    def __init__(self, context: Context, settings: Settings) -> None:
        self.context = context
        self.settings = settings
        self._cluster: Cluster | None = None
        self._registry: RegistryClient | None = None
        self._decoder: RecordDecoder | None = None
        self._connect: ConnectClient | None = None

    def connect(self) -> ConnectClient:
        """The context's (first) Kafka Connect cluster, or --connect."""
        if self._connect is None:
            from kctl.client.kafka_connect import ConnectClient
            from kctl.connect.cluster import connect_cluster_for

            self._connect = ConnectClient(connect_cluster_for(self.context, self.settings))
        return self._connect

    async def registry(self) -> RegistryClient:
        if self._registry is None:
            from kctl.connect.cluster import registry_for
            from kctl.ops.schemas import no_registry

            await self.cluster()  # the built-in broker serves the built-in context's registry
            found = registry_for(self.context, self.settings)
            if found is None:
                raise no_registry()
            self._registry = found
        return self._registry

    async def cluster(self) -> Cluster:
        if self._cluster is None:
            from kctl.connect.cluster import cluster_for

            if self.context.local:
                import asyncio

                from kctl.connect.local import start_background

                await asyncio.to_thread(start_background)
            cluster = cluster_for(self.context, self.settings)
            await cluster.start()
            self._cluster = cluster
        return self._cluster

    async def admin(self) -> Any:
        from kctl.client import Admin

        return Admin(await self.cluster())


    async def ask(self, name: str) -> Any:
        found = QUERIES.get(name)
        if found is None:
            raise KeyError(f"no console query is named {name!r} (register it with @query)")
        return await found(self)

    async def overview(self) -> ClusterOverview:
        from kctl.ops.cluster import broker_rows, quorum_rows
        from kctl.ops.topics import topic_rows

        admin = await self.admin()
        cluster_id, controller, _ = await admin.describe_cluster()
        topics = await topic_rows(admin, with_sizes=True, internal=True)  # the brokers' replicas count them too
        groups = [g.group_id for g in await admin.list_groups()]
        consumed = 0
        async for batch in admin.iter_committed(groups):
            consumed += sum(sum(g.offsets) for g in batch)
        from kctl.connect.cluster import authentication_label

        return ClusterOverview(cluster_id, controller, await broker_rows(admin), topics, groups, consumed,
                               await quorum_rows(admin.cluster), authentication_label(admin.cluster))

    async def reassignment(self) -> tuple[str, list[dict[str, Any]]] | None:
        from kctl.ops import reassign
        from kctl.ops.errors import NotFound

        try:
            executed = reassign.Executed.latest()
        except NotFound:
            return None
        return executed.started_at, [p.row() for p in await reassign.progress(await self.admin(), executed)]

    async def topics(self) -> list[dict[str, Any]]:
        from kctl.ops.topics import topic_rows

        return await topic_rows(await self.admin(), with_sizes=True)

    async def topic(self, name: str) -> dict[str, Any]:
        from kctl.ops.topics import topic_detail

        detail = await topic_detail(await self.admin(), name, all_configs=True)
        return {"partitions": detail["partitions"], "configs": detail["configs"]}

    async def group_lag(self, groups: list[str] | None = None, *, ages: bool = True,
                        history: Callable[[str], LagHistory] | None = None, at: float | None = None
                        ) -> AsyncIterator[list[GroupLag]]:
        from kctl.ops.groups import iter_group_lag

        async for batch in iter_group_lag(await self.cluster(), groups, ages=ages, history=history, at=at):
            yield batch

    async def create_topic(self, name: str, partitions: int, replication: int, configs: dict[str, str]) -> None:
        from kctl.client import NewTopic

        error = (await (await self.admin()).create_topics([NewTopic(name, partitions, replication, configs)])
                 ).get(name)
        if error is not None:
            raise error

    async def delete_topic(self, name: str) -> None:
        error = (await (await self.admin()).delete_topics([name])).get(name)
        if error is not None:
            raise error

    async def set_topic_config(self, topic: str, name: str, value: str | None) -> None:
        from kctl.protocol.enums import ConfigResourceType

        admin = await self.admin()
        if value is None:
            await admin.alter_configs(ConfigResourceType.TOPIC, topic, delete=[name])
        else:
            await admin.alter_configs(ConfigResourceType.TOPIC, topic, set_configs={name: value})

    async def plan_reset(self, group: str, strategy: Strategy, scope: list[str]
                         ) -> tuple[ResetPlan, list[TopicPartition] | None]:
        from kctl.ops.groups import expand_specs, parse_topic_specs, plan_reset

        cluster = await self.cluster()
        partitions = await expand_specs(cluster, parse_topic_specs(scope)) if scope else None
        return await plan_reset(cluster, group, strategy, partitions), partitions

    async def apply_reset(self, plan: ResetPlan) -> Path:
        from kctl.ops.groups import apply_reset

        return await apply_reset(await self.cluster(), plan)

    @asynccontextmanager
    async def tail(self, spec: TailSpec) -> AsyncIterator[Batches]:
        from kctl.ops.tail import TailSession

        async with TailSession(await self.cluster(), spec) as session:
            yield aiter(session)

    async def acls(self) -> list[dict[str, Any]]:
        from kctl.ops.acls import acl_rows
        from kctl.protocol.acl import AclFilter

        return await acl_rows(await self.admin(), AclFilter())

    async def transactions(self) -> dict[str, list[dict[str, Any]]]:
        import time

        from kctl.client.transactions import TransactionAdmin
        from kctl.ops.transactions import open_transaction_rows, transaction_rows

        cluster = await self.cluster()
        tadmin = TransactionAdmin(cluster)
        now = int(time.time() * 1000)
        return {"transactions": await transaction_rows(tadmin),
                "open": await open_transaction_rows(cluster, tadmin, now_ms=now)}

    async def users(self) -> list[dict[str, Any]]:
        from kctl.ops.users import user_rows

        return await user_rows(await self.admin())

    async def subjects(self) -> list[dict[str, Any]]:
        from kctl.ops.schemas import subject_rows

        return await subject_rows(await self.registry())

    async def subject(self, name: str, version: str) -> dict[str, Any]:
        from kctl.ops.schemas import describe

        registry = await self.registry()
        schema = await describe(registry, name, version, None)
        rows = []
        for number in await registry.versions(name):
            found = await registry.version(name, number)
            rows.append({"version": number, "id": found.schema_id, "type": found.schema_type.value})
        return {"schema": schema, "versions": rows}

    async def connectors(self) -> list[dict[str, Any]]:
        from kctl.ops.connectors import connector_rows

        return await connector_rows(self.connect())

    async def connector(self, name: str) -> dict[str, Any]:
        from kctl.ops.connectors import describe

        return await describe(self.connect(), name)

    async def change_connector(self, name: str, action: str) -> None:
        from kctl.ops.connectors import STATE_CHANGES, change_state, found_connector

        client = self.connect()
        if action in STATE_CHANGES:
            await change_state(client, name, action)
        elif action == "restart":
            await found_connector(client.restart(name, include_tasks=True, only_failed=True), name)
        else:
            raise ValueError(f"no connector action {action!r}")

    async def decode(self, record: ConsumerRecord) -> dict[str, Any] | None:
        from kctl.protocol.registry import unframe

        framed = unframe(record.value)
        if framed is None and unframe(record.key) is None:
            return None
        registry = await self.registry()
        if self._decoder is None:
            from kctl.ops.schemas import decoder_for

            self._decoder = decoder_for(registry)
        await self._decoder.prepare((record.key, record.value))
        subjects = [] if framed is None else await registry.subjects_of(framed.schema_id)
        return {"key": self._decoder.decode(record.key), "value": self._decoder.decode(record.value),
                "value_subjects": [(s["subject"], s["version"]) for s in subjects]}

    async def close(self) -> None:
        if self._connect is not None:
            await self._connect.close()
            self._connect = None
        if self._registry is not None:
            await self._registry.close()
            self._registry = None
        if self._cluster is not None:
            await self._cluster.close()
            self._cluster = None
