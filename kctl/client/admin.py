"""Cluster administration: topics, configs, offsets, records, groups and log dirs.

Requests are batched the way the brokers allow: per partition leader for offsets and records,
per group coordinator for groups (OffsetFetch v8 takes many groups in one request), and sent to
all brokers concurrently. Per-item failures come back as `KafkaError` values in the result;
a failure of the whole call raises.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from kctl.protocol.api import ApiKey
from kctl.protocol.enums import AlterConfigOp, ConfigResourceType, ConfigSource
from kctl.protocol.errors import ErrorCode

from .cluster import COORDINATOR_MOVED, Cluster
from .errors import KafkaError, check
from .group_kinds import (
    GROUP_TYPES,
    GroupDescription,
    GroupListing,
    classic_description,
    describe_any,
    parse_group_types,
)
from .types import LATEST, BrokerInfo, OffsetAndMetadata, OffsetAndTimestamp, TopicInfo, TopicPartition

if TYPE_CHECKING:
    from kctl.protocol.acl import AclBinding, AclFilter
    from kctl.protocol.messages.offset_fetch import OffsetFetchRequestTopics
    from kctl.protocol.offset_columns import GroupCommitted

def _source_label(source: int) -> str:
    """A DescribeConfigs config_source as kctl prints it: 'topic', 'static-broker', 'default', ..."""
    try:
        return ConfigSource(source).label
    except ValueError:
        return str(source)


@dataclass(frozen=True, slots=True)
class NewTopic:
    name: str
    partitions: int = -1  # -1: the broker's num.partitions
    replication_factor: int = -1
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ConfigEntry:
    name: str
    value: str | None
    source: str
    read_only: bool
    sensitive: bool
    is_default: bool
    synonyms: list[tuple[str, str | None, str]] = field(default_factory=list)  # (name, value, source)


@dataclass(slots=True)
class LogDirDescription:
    path: str
    error: KafkaError | None
    partition_sizes: dict[TopicPartition, int]
    total_bytes: int
    usable_bytes: int


class OngoingReassignment(NamedTuple):
    replicas: list[int]  # the full replica set while it moves: old and new
    adding: list[int]
    removing: list[int]


@dataclass(slots=True)
class PartitionLag:
    committed: int  # -1: nothing committed
    log_end: int
    log_start: int

    @property
    def lag(self) -> int:
        """Records between the committed offset and the end (from the start when nothing is committed)."""
        base = self.committed if self.committed >= 0 else self.log_start
        return max(self.log_end - base, 0)


#: SCRAM mechanisms by the numbers the user-credential APIs use.
SCRAM_MECHANISMS = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}


def _error(code: int, context: str, message: str | None = None) -> KafkaError | None:
    return KafkaError.from_code(code, context, message) if code else None


class Admin:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    # ---- cluster -----------------------------------------------------------------------------
    async def describe_cluster(self) -> tuple[str | None, int, list[BrokerInfo]]:
        """(cluster id, controller id, brokers). On KRaft the controller is the metadata quorum's
        leader: the controller id brokers give in Metadata is an arbitrary broker there."""
        from .controller import active_controller

        await self.cluster.refresh_metadata([])
        leader = await active_controller(self.cluster)
        controller = self.cluster.controller_id if leader is None else leader
        return self.cluster.cluster_id, controller, sorted(self.cluster.brokers.values(), key=lambda b: b.node_id)

    # ---- topics ------------------------------------------------------------------------------
    async def list_topics(self, *, internal: bool = False) -> dict[str, TopicInfo]:
        await self.cluster.refresh_metadata(None)
        return {name: t for name, t in sorted(self.cluster.topics.items()) if internal or not t.internal}

    async def describe_topics(self, names: Iterable[str]) -> dict[str, TopicInfo | KafkaError]:
        wanted = list(names)
        response = await self.cluster.refresh_metadata(wanted)
        out: dict[str, TopicInfo | KafkaError] = {}
        for t in response.topics:
            if t.name is None:
                continue
            info = self.cluster.topics.get(t.name)
            out[t.name] = info if info is not None and not t.error_code else KafkaError.from_code(
                t.error_code or ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, f"topic {t.name!r}")
        return out

    async def create_topics(self, topics: Iterable[NewTopic], *, validate_only: bool = False,
                            timeout_s: float = 30.0) -> dict[str, KafkaError | None]:
        from kctl.protocol.messages.create_topics import CreatableTopic, CreatableTopicConfig, CreateTopicsRequest
        request = CreateTopicsRequest(
            topics=[CreatableTopic(t.name, t.partitions, t.replication_factor, [],
                                   [CreatableTopicConfig(k, v) for k, v in t.configs.items()]) for t in topics],
            timeout_ms=int(timeout_s * 1000), validate_only=validate_only,
        )
        response = await self._to_controller(request)
        return {r.name: _error(r.error_code, f"creating topic {r.name!r}", r.error_message) for r in response.topics}

    async def delete_topics(self, names: Iterable[str], *, timeout_s: float = 30.0) -> dict[str, KafkaError | None]:
        from kctl.protocol.messages.delete_topics import DeleteTopicsRequest
        wanted = list(names)
        request = DeleteTopicsRequest(topic_names=wanted, timeout_ms=int(timeout_s * 1000))
        if self.cluster.version(20) >= 6:
            from kctl.protocol.messages.delete_topics import DeleteTopicState

            request = DeleteTopicsRequest(topics=[DeleteTopicState(name=n) for n in wanted],
                                          timeout_ms=int(timeout_s * 1000))
        response = await self._to_controller(request)
        return {(r.name or ""): _error(r.error_code, f"deleting topic {r.name!r}", r.error_message)
                for r in response.responses}

    async def create_partitions(self, counts: Mapping[str, int], *, validate_only: bool = False,
                                timeout_s: float = 30.0) -> dict[str, KafkaError | None]:
        from kctl.protocol.messages.create_partitions import CreatePartitionsRequest, CreatePartitionsTopic
        request = CreatePartitionsRequest(
            topics=[CreatePartitionsTopic(name, count, None) for name, count in counts.items()],
            timeout_ms=int(timeout_s * 1000), validate_only=validate_only,
        )
        response = await self._to_controller(request)
        return {r.name: _error(r.error_code, f"adding partitions to {r.name!r}", r.error_message)
                for r in response.results}

    async def _to_controller(self, request: Any) -> Any:
        async def attempt() -> Any:
            if self.cluster.controller_id < 0 or self.cluster.controller_id not in self.cluster.brokers:
                await self.cluster.refresh_metadata([])
            node = self.cluster.controller_id if self.cluster.controller_id >= 0 else next(iter(self.cluster.brokers))
            return await self.cluster.send(node, request)

        return await self.cluster.retry(attempt, what=type(request).__name__)

    # ---- configs -----------------------------------------------------------------------------
    async def describe_configs(self, resource_type: int, names: Iterable[str], *,
                               include_synonyms: bool = True) -> dict[str, list[ConfigEntry] | KafkaError]:
        """Configs of topics (ConfigResourceType.TOPIC), brokers and broker loggers (BROKER and
        BROKER_LOGGER, by node id: each broker answers for itself alone; BROKER "" is every
        broker's default), groups (GROUP) or client-metrics subscriptions (CLIENT_METRICS)."""
        from kctl.protocol.messages.describe_configs import DescribeConfigsRequest, DescribeConfigsResource
        names = list(names)
        if resource_type in (ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER) and len(names) > 1:
            out: dict[str, list[ConfigEntry] | KafkaError] = {}
            for one in await asyncio.gather(*(self.describe_configs(resource_type, [n],
                                                                    include_synonyms=include_synonyms)
                                              for n in names)):
                out.update(one)
            return out
        request = DescribeConfigsRequest(
            resources=[DescribeConfigsResource(resource_type, name, None) for name in names],
            include_synonyms=include_synonyms,
        )
        response = await self._for_resource(resource_type, request, name=names[0] if names else None)
        out = {}
        for result in response.results:
            if result.error_code:
                out[result.resource_name] = KafkaError.from_code(
                    result.error_code, f"configs of {result.resource_name!r}", result.error_message)
                continue
            out[result.resource_name] = [
                ConfigEntry(c.name, c.value, _source_label(c.config_source),
                            c.read_only, c.is_sensitive, c.config_source == ConfigSource.DEFAULT or c.is_default,
                            [(s.name, s.value, _source_label(s.source)) for s in c.synonyms])
                for c in sorted(result.configs, key=lambda c: c.name)
            ]
        return out

    async def alter_configs(self, resource_type: int, name: str, *, set_configs: Mapping[str, str] | None = None,
                            delete: Iterable[str] = (), validate_only: bool = False) -> None:
        """Set and delete config overrides; IncrementalAlterConfigs when the broker has it.

        Without it, AlterConfigs replaces every override at once, so the current overrides are
        read first and sent back with the change applied.
        """
        from kctl.protocol.messages.alter_configs import AlterableConfig, AlterConfigsRequest, AlterConfigsResource
        from kctl.protocol.messages.incremental_alter_configs import AlterableConfig as IncrementalConfig
        from kctl.protocol.messages.incremental_alter_configs import AlterConfigsResource as IncrementalResource
        from kctl.protocol.messages.incremental_alter_configs import IncrementalAlterConfigsRequest
        set_configs = dict(set_configs or {})
        deleted = list(delete)
        if self.cluster.version(ApiKey.INCREMENTAL_ALTER_CONFIGS) < 0:
            await self.cluster.any_connection()
        if self.cluster.version(ApiKey.INCREMENTAL_ALTER_CONFIGS) >= 0:
            configs = [IncrementalConfig(k, AlterConfigOp.SET, v) for k, v in set_configs.items()]
            configs += [IncrementalConfig(k, AlterConfigOp.DELETE, None) for k in deleted]
            request: Any = IncrementalAlterConfigsRequest(
                [IncrementalResource(resource_type, name, configs)], validate_only)
        else:
            current = (await self.describe_configs(resource_type, [name], include_synonyms=False))[name]
            if isinstance(current, KafkaError):
                raise current
            overrides = {c.name: c.value for c in current if c.source in ("topic", "dynamic-broker") and
                         c.value is not None}
            overrides.update(set_configs)
            for key in deleted:
                overrides.pop(key, None)
            request = AlterConfigsRequest(
                [AlterConfigsResource(resource_type, name, [AlterableConfig(k, v) for k, v in overrides.items()])],
                validate_only)
        response = await self._for_resource(resource_type, request, name=name)
        for r in response.responses:
            check(r.error_code, f"altering configs of {r.resource_name!r}", r.error_message)

    async def list_config_resources(self, resource_type: int) -> list[str]:
        """The names of the resources of a type that have configs (ListConfigResources; before
        Kafka 4.1, ListClientMetricsResources, for client-metrics subscriptions only)."""
        from kctl.protocol.messages.list_config_resources import ListConfigResourcesRequest

        await self.cluster.any_connection()
        version = self.cluster.version(ApiKey.LIST_CONFIG_RESOURCES)
        if version < 0 or (version < 1 and resource_type != ConfigResourceType.CLIENT_METRICS):
            kind = ConfigResourceType(resource_type).name.lower().replace("_", "-")
            lacks = "ListConfigResources v1" if version == 0 else "ListConfigResources"
            raise KafkaError(f"the cluster cannot list {kind} config resources (it lacks {lacks})")
        response = await self.cluster.retry(
            lambda: self.cluster.send_any(ListConfigResourcesRequest([resource_type])), what="ListConfigResources")
        check(response.error_code, "listing config resources")
        return sorted(r.resource_name for r in response.config_resources if r.resource_type == resource_type)

    async def _for_resource(self, resource_type: int, request: Any, name: str | None = None) -> Any:
        async def attempt() -> Any:
            # A broker's own configs and loggers are known to that broker alone.
            if (resource_type in (ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER)
                    and name is not None and name.isdigit()):
                return await self.cluster.send(int(name), request)
            return await self.cluster.send_any(request)

        return await self.cluster.retry(attempt, what=type(request).__name__)

    # ---- offsets and records -------------------------------------------------------------------
    async def list_offsets(self, specs: Mapping[TopicPartition, int], *,
                           read_committed: bool = False) -> dict[TopicPartition, OffsetAndTimestamp]:
        """Offsets by spec (EARLIEST, LATEST, MAX_TIMESTAMP or a timestamp in ms), one request per leader.

        A timestamp later than every record gives offset -1. With `read_committed`, LATEST is the
        last stable offset: where a read_committed consumer stops (an open transaction pins it).
        """
        from kctl.protocol.messages.list_offsets import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
        results: dict[TopicPartition, OffsetAndTimestamp] = {}

        async def for_leader(node: int, partitions: list[TopicPartition]) -> None:
            by_topic: dict[str, list[ListOffsetsPartition]] = {}
            for tp in partitions:
                by_topic.setdefault(tp.topic, []).append(ListOffsetsPartition(tp.partition, -1, specs[tp], 1))
            request = ListOffsetsRequest(replica_id=-1, isolation_level=int(read_committed),
                                         topics=[ListOffsetsTopic(t, ps) for t, ps in by_topic.items()])
            response = await self.cluster.send(node, request)
            for t in response.topics:
                for p in t.partitions:
                    tp = TopicPartition(t.name, p.partition_index)
                    check(p.error_code, f"offsets of {tp}")
                    offset = p.offset if p.offset != -1 or not p.old_style_offsets else p.old_style_offsets[0]
                    results[tp] = OffsetAndTimestamp(offset, p.timestamp, p.leader_epoch)

        await self._per_leader(list(specs), for_leader, "ListOffsets")
        return results

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: o.offset for tp, o in (await self.list_offsets(dict.fromkeys(partitions, LATEST))).items()}

    async def delete_records(self, before: Mapping[TopicPartition, int], *,
                             timeout_s: float = 30.0) -> dict[TopicPartition, int]:
        """Move each partition's log start to the offset (-1: the end); returns the new log starts."""
        from kctl.protocol.messages.delete_records import (
            DeleteRecordsPartition,
            DeleteRecordsRequest,
            DeleteRecordsTopic,
        )
        results: dict[TopicPartition, int] = {}

        async def for_leader(node: int, partitions: list[TopicPartition]) -> None:
            by_topic: dict[str, list[DeleteRecordsPartition]] = {}
            for tp in partitions:
                by_topic.setdefault(tp.topic, []).append(DeleteRecordsPartition(tp.partition, before[tp]))
            request = DeleteRecordsRequest([DeleteRecordsTopic(t, ps) for t, ps in by_topic.items()],
                                           int(timeout_s * 1000))
            response = await self.cluster.send(node, request)
            for t in response.topics:
                for p in t.partitions:
                    tp = TopicPartition(t.name, p.partition_index)
                    check(p.error_code, f"deleting records of {tp}")
                    results[tp] = p.low_watermark

        await self._per_leader(list(before), for_leader, "DeleteRecords")
        return results

    async def _per_leader(self, partitions: list[TopicPartition], send: Any, what: str) -> None:
        """Run `send(node, partitions)` for every leader at once; retry the ones whose leader moved."""
        remaining = list(partitions)

        async def attempt() -> None:
            nonlocal remaining
            by_leader = await self.cluster.leaders(remaining)
            outcomes = await asyncio.gather(*(send(node, tps) for node, tps in by_leader.items()),
                                            return_exceptions=True)
            failed: list[TopicPartition] = []
            first_error: BaseException | None = None
            for (_, tps), outcome in zip(by_leader.items(), outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    failed.extend(tps)
                    first_error = first_error or outcome
            remaining = failed
            if first_error is not None:
                raise first_error

        await self.cluster.retry(attempt, what=what)

    # ---- groups --------------------------------------------------------------------------------
    async def list_groups(self, states: Iterable[str] = (), types: Iterable[str] = ()) -> list[GroupListing]:
        """Groups on every broker (ListGroups asks one broker about the groups it coordinates),
        each with its type (classic, consumer, share, streams), filtered by state and type."""
        from kctl.protocol.messages.list_groups import ListGroupsRequest
        await self.cluster.refresh_metadata([])
        # Kafka's tools take comma-separated lists too.
        wanted = [s.strip() for text in states for s in text.split(",") if s.strip()]
        kinds, unknown = parse_group_types(types)
        if unknown:
            raise KafkaError(f"unknown group type(s) {', '.join(unknown)}: the types are {', '.join(GROUP_TYPES)}")
        request = ListGroupsRequest(states_filter=wanted, types_filter=kinds)

        async def ask(node: int) -> list[GroupListing]:
            async def attempt() -> list[GroupListing]:
                response = await self.cluster.send(node, request)
                check(response.error_code, f"listing groups on broker {node}")
                # Before ListGroups v5 every group is a classic group.
                return [GroupListing(g.group_id, g.protocol_type, g.group_state, g.group_type.lower() or "classic")
                        for g in response.groups]

            return await self.cluster.retry(attempt, what="ListGroups")

        found = await asyncio.gather(*(ask(n) for n in self.cluster.brokers))
        listing = [g for per_broker in found for g in per_broker]
        if wanted and self.cluster.version(16) < 4:  # old brokers ignore the filters
            lowered = {s.lower() for s in wanted}
            listing = [g for g in listing if g.state.lower() in lowered]
        if kinds and self.cluster.version(16) < 5:
            listing = [g for g in listing if g.type in kinds]
        return sorted(listing, key=lambda g: g.group_id)

    async def describe_groups(self, group_ids: Iterable[str]) -> dict[str, GroupDescription | KafkaError]:
        """Each group by the describe API of its type: DescribeGroups, ConsumerGroupDescribe,
        ShareGroupDescribe or StreamsGroupDescribe (a group that is none of them is Dead)."""
        return await describe_any(self, group_ids)

    async def describe_classic_groups(self, group_ids: Iterable[str]) -> dict[str, GroupDescription | KafkaError]:
        from kctl.protocol.messages.describe_groups import DescribeGroupsRequest
        results: dict[str, GroupDescription | KafkaError] = {}

        async def for_coordinator(node: int, groups: list[str]) -> None:
            response = await self.cluster.send(node, DescribeGroupsRequest(groups))
            for g in response.groups:
                error = ErrorCode.of(g.error_code)
                if error in COORDINATOR_MOVED:
                    self.cluster.forget_coordinator(g.group_id)
                    raise KafkaError.from_code(g.error_code, f"group {g.group_id!r}")
                if g.error_code:
                    results[g.group_id] = KafkaError.from_code(g.error_code, f"group {g.group_id!r}")
                    continue
                results[g.group_id] = classic_description(g, node)

        await self.per_coordinator(list(group_ids), for_coordinator, "DescribeGroups")
        return results

    async def delete_groups(self, group_ids: Iterable[str]) -> dict[str, KafkaError | None]:
        from kctl.protocol.messages.delete_groups import DeleteGroupsRequest
        results: dict[str, KafkaError | None] = {}

        async def for_coordinator(node: int, groups: list[str]) -> None:
            response = await self.cluster.send(node, DeleteGroupsRequest(groups))
            for r in response.results:
                if ErrorCode.of(r.error_code) in COORDINATOR_MOVED:
                    self.cluster.forget_coordinator(r.group_id)
                    raise KafkaError.from_code(r.error_code, f"group {r.group_id!r}")
                results[r.group_id] = _error(r.error_code, f"deleting group {r.group_id!r}")

        await self.per_coordinator(list(group_ids), for_coordinator, "DeleteGroups")
        return results

    async def list_group_offsets(
        self, groups: Iterable[str] | Mapping[str, Iterable[TopicPartition] | None]
    ) -> dict[str, dict[TopicPartition, OffsetAndMetadata]]:
        """Committed offsets of many groups: one OffsetFetch per coordinator (v8+), else one per group.

        Partitions without a committed offset are left out.
        """
        return {
            group: {TopicPartition(topic, p.partition_index): OffsetAndMetadata(
                        p.committed_offset, p.metadata or "", p.committed_leader_epoch)
                    for topic, partitions in answer for p in partitions
                    if p.committed_offset >= 0 and not p.error_code}
            for group, answer in (await self._offset_fetch(groups)).items()
        }

    async def iter_committed(self, group_ids: Sequence[str], *, per_request: int = 50, window: int = 3
                             ) -> AsyncIterator[list[GroupCommitted]]:
        """Committed offsets of many groups, `per_request` groups at a time: per group, three
        columns (topic, partition, offset) sorted by topic and partition, of the partitions with
        an offset committed.

        Up to `window` requests are in flight, so a broker answers the next batch while this one is
        used, and only a few batches are held at once however many groups there are. Columns, not
        objects: at hundreds of thousands of partitions, an object per partition is most of the cost.
        """
        batches = [group_ids[i:i + per_request] for i in range(0, len(group_ids), per_request)]
        pending: deque[asyncio.Future[list[GroupCommitted]]] = deque()
        try:
            for batch in batches:
                pending.append(asyncio.ensure_future(self._committed_columns(batch)))
                # Let the new request go out now: the caller's work on a batch already here
                # never waits, so without this the request would wait for that work to end.
                await asyncio.sleep(0)
                if len(pending) >= window:
                    yield await pending.popleft()
            while pending:
                yield await pending.popleft()
        finally:
            for future in pending:
                future.cancel()

    async def _committed_columns(self, group_ids: Sequence[str]) -> list[GroupCommitted]:
        """OffsetFetch (v8+) read by the columnar decoder; one request per group before v8."""
        from kctl.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchRequestGroup
        from kctl.protocol.offset_columns import GroupCommitted, decode_offset_fetch_columns

        results: dict[str, GroupCommitted] = {}
        older: list[str] = []

        async def for_coordinator(node: int, group_ids: list[str]) -> None:
            connection = await self.cluster.connection(node)
            if not connection.supports(ApiKey.OFFSET_FETCH, 8):
                older.extend(group_ids)
                return
            request = OffsetFetchRequest(groups=[OffsetFetchRequestGroup(g, topics=None) for g in group_ids])
            for g in await connection.request_decoded(request, decode_offset_fetch_columns):
                self._check_group(g.group_id, g.error_code)
                results[g.group_id] = g

        await self.per_coordinator(list(group_ids), for_coordinator, "OffsetFetch")
        for group, answer in (await self._offset_fetch(older)).items() if older else ():
            rows = sorted((topic, p.partition_index, p.committed_offset) for topic, partitions in answer
                          for p in partitions if p.committed_offset >= 0 and not p.error_code)
            results[group] = GroupCommitted(group, 0, [t for t, _, _ in rows], [p for _, p, _ in rows],
                                            [o for _, _, o in rows])
        return [results[g] for g in group_ids if g in results]

    async def _offset_fetch(self, groups: Iterable[str] | Mapping[str, Iterable[TopicPartition] | None]
                            ) -> dict[str, list[tuple[str, list[Any]]]]:
        """OffsetFetch as the coordinators answer it: per group, (topic, partitions as decoded)."""
        from kctl.protocol.messages.offset_fetch import (
            OffsetFetchRequest,
            OffsetFetchRequestGroup,
            OffsetFetchRequestTopic,
        )
        wanted: dict[str, list[TopicPartition] | None] = (
            {g: (None if tps is None else list(tps)) for g, tps in groups.items()} if isinstance(groups, Mapping)
            else dict.fromkeys(groups)
        )
        results: dict[str, list[tuple[str, list[Any]]]] = {}

        async def for_coordinator(node: int, group_ids: list[str]) -> None:
            connection = await self.cluster.connection(node)
            if connection.supports(ApiKey.OFFSET_FETCH, 8):
                request = OffsetFetchRequest(groups=[
                    OffsetFetchRequestGroup(g, topics=None if wanted[g] is None else _fetch_topics(wanted[g]))
                    for g in group_ids
                ])
                response = await connection.request(request)
                for g in response.groups:
                    self._check_group(g.group_id, g.error_code)
                    results[g.group_id] = [(t.name, t.partitions) for t in g.topics]
                return
            for group in group_ids:
                tps = wanted[group]
                single = OffsetFetchRequest(group_id=group, topics=None if tps is None else [
                    OffsetFetchRequestTopic(t.name, t.partition_indexes) for t in _fetch_topics(tps)])
                response = await connection.request(single)
                self._check_group(group, response.error_code)
                results[group] = [(t.name, t.partitions) for t in response.topics]

        await self.per_coordinator(list(wanted), for_coordinator, "OffsetFetch")
        return results

    def _check_group(self, group: str, code: int) -> None:
        if ErrorCode.of(code) in COORDINATOR_MOVED:
            self.cluster.forget_coordinator(group)
        check(code, f"offsets of group {group!r}")

    async def alter_group_offsets(self, group_id: str,
                                  offsets: Mapping[TopicPartition, int | OffsetAndMetadata]) -> dict[TopicPartition,
                                                                                                    KafkaError | None]:
        """Commit offsets for a group from outside it (the group must have no active members)."""
        from kctl.protocol.messages.offset_commit import (
            OffsetCommitRequest,
            OffsetCommitRequestPartition,
            OffsetCommitRequestTopic,
        )
        by_topic: dict[str, list[OffsetCommitRequestPartition]] = {}
        for tp, value in offsets.items():
            meta = value if isinstance(value, OffsetAndMetadata) else OffsetAndMetadata(value)
            by_topic.setdefault(tp.topic, []).append(
                OffsetCommitRequestPartition(tp.partition, meta.offset, meta.leader_epoch, -1, meta.metadata))
        request = OffsetCommitRequest(group_id, -1, "", None, -1,
                                      [OffsetCommitRequestTopic(t, ps) for t, ps in by_topic.items()])
        results: dict[TopicPartition, KafkaError | None] = {}

        async def for_coordinator(node: int, _groups: list[str]) -> None:
            response = await self.cluster.send(node, request)
            for t in response.topics:
                for p in t.partitions:
                    if ErrorCode.of(p.error_code) in COORDINATOR_MOVED:
                        self.cluster.forget_coordinator(group_id)
                        raise KafkaError.from_code(p.error_code, f"group {group_id!r}")
                    tp = TopicPartition(t.name, p.partition_index)
                    results[tp] = _error(p.error_code, f"committing {tp} for group {group_id!r}")

        await self.per_coordinator([group_id], for_coordinator, "OffsetCommit")
        return results

    async def delete_group_offsets(self, group_id: str,
                                   partitions: Iterable[TopicPartition]) -> dict[TopicPartition, KafkaError | None]:
        from kctl.protocol.messages.offset_delete import (
            OffsetDeleteRequest,
            OffsetDeleteRequestPartition,
            OffsetDeleteRequestTopic,
        )
        by_topic: dict[str, list[OffsetDeleteRequestPartition]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(OffsetDeleteRequestPartition(tp.partition))
        request = OffsetDeleteRequest(group_id, [OffsetDeleteRequestTopic(t, ps) for t, ps in by_topic.items()])
        results: dict[TopicPartition, KafkaError | None] = {}

        async def for_coordinator(node: int, _groups: list[str]) -> None:
            response = await self.cluster.send(node, request)
            self._check_group(group_id, response.error_code)
            for t in response.topics:
                for p in t.partitions:
                    tp = TopicPartition(t.name, p.partition_index)
                    results[tp] = _error(p.error_code, f"deleting the offset of {tp} for group {group_id!r}")

        await self.per_coordinator([group_id], for_coordinator, "OffsetDelete")
        return results

    async def per_coordinator(self, group_ids: list[str], send: Any, what: str) -> None:
        remaining = list(dict.fromkeys(group_ids))

        async def attempt() -> None:
            nonlocal remaining
            coordinators = await self.cluster.coordinators(remaining)
            by_node: dict[int, list[str]] = {}
            for group, node in coordinators.items():
                by_node.setdefault(node, []).append(group)
            outcomes = await asyncio.gather(*(send(node, groups) for node, groups in by_node.items()),
                                            return_exceptions=True)
            failed: list[str] = []
            first_error: BaseException | None = None
            for (_node, groups), outcome in zip(by_node.items(), outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    failed.extend(groups)
                    if isinstance(outcome, KafkaError) and outcome.retriable:
                        for g in groups:
                            self.cluster.forget_coordinator(g)
                    first_error = first_error or outcome
            remaining = failed
            if first_error is not None:
                raise first_error

        await self.cluster.retry(attempt, what=what)

    async def group_lag(self, group_ids: Iterable[str]) -> dict[str, dict[TopicPartition, PartitionLag]]:
        """Committed offset, log start and log end per partition for many groups.

        One OffsetFetch per coordinator for every group at once, then one ListOffsets per leader
        for the latest offsets and one for the earliest: a handful of round trips per broker,
        however many groups and partitions there are.
        """
        committed = await self.list_group_offsets(list(group_ids))
        partitions = sorted({tp for offsets in committed.values() for tp in offsets})
        if not partitions:
            return {g: {} for g in committed}
        ends, starts = await asyncio.gather(
            self.list_offsets(dict.fromkeys(partitions, LATEST)),
            self.list_offsets(dict.fromkeys(partitions, -2)),
        )
        return {
            g: {tp: PartitionLag(o.offset, ends[tp].offset, starts[tp].offset) for tp, o in sorted(offsets.items())}
            for g, offsets in committed.items()
        }

    # ---- replicas: reassignment and leader election ------------------------------------------
    async def alter_partition_reassignments(self, targets: Mapping[TopicPartition, list[int] | None], *,
                                            timeout_s: float = 60.0) -> dict[TopicPartition, KafkaError | None]:
        """Move each partition's replicas to the given brokers (the first one preferred leader);
        None cancels the partition's reassignment in progress."""
        from kctl.protocol.messages.alter_partition_reassignments import (  # rarely used: not at start-up
            AlterPartitionReassignmentsRequest,
            ReassignablePartition,
            ReassignableTopic,
        )

        by_topic: dict[str, list[ReassignablePartition]] = {}
        for tp, replicas in targets.items():
            by_topic.setdefault(tp.topic, []).append(ReassignablePartition(tp.partition, replicas))
        request = AlterPartitionReassignmentsRequest(
            int(timeout_s * 1000), [ReassignableTopic(t, ps) for t, ps in by_topic.items()])
        response = await self._to_controller(request)
        check(response.error_code, "reassigning partitions", response.error_message)
        return {TopicPartition(t.name, p.partition_index):
                _error(p.error_code, f"reassigning {t.name}[{p.partition_index}]", p.error_message)
                for t in response.responses for p in t.partitions}

    async def list_partition_reassignments(self, partitions: Iterable[TopicPartition] | None = None
                                           ) -> dict[TopicPartition, OngoingReassignment]:
        """The reassignments in progress (of these partitions, or all)."""
        from kctl.protocol.messages.list_partition_reassignments import (
            ListPartitionReassignmentsRequest,
            ListPartitionReassignmentsTopics,
        )

        topics = None if partitions is None else [
            ListPartitionReassignmentsTopics(t, ps) for t, ps in _by_topic(partitions).items()]
        response = await self._to_controller(ListPartitionReassignmentsRequest(topics=topics))
        check(response.error_code, "listing reassignments", response.error_message)
        return {TopicPartition(t.name, p.partition_index):
                OngoingReassignment(p.replicas, p.adding_replicas, p.removing_replicas)
                for t in response.topics for p in t.partitions}

    async def elect_leaders(self, partitions: Iterable[TopicPartition] | None, *, unclean: bool = False,
                            timeout_s: float = 60.0) -> dict[TopicPartition, KafkaError | None]:
        """Preferred (or unclean) leader election for these partitions (None: every partition).
        A partition whose leader is already the one it would elect answers ELECTION_NOT_NEEDED."""
        from kctl.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersTopicPartitions

        topics = None if partitions is None else [
            ElectLeadersTopicPartitions(t, ps) for t, ps in _by_topic(partitions).items()]
        request = ElectLeadersRequest(1 if unclean else 0, topics, int(timeout_s * 1000))
        response = await self._to_controller(request)
        check(response.error_code, "electing leaders")
        return {TopicPartition(r.topic, p.partition_id):
                _error(p.error_code, f"electing a leader for {r.topic}[{p.partition_id}]", p.error_message)
                for r in response.replica_election_results for p in r.partition_result}

    # ---- ACLs -------------------------------------------------------------------------------------
    async def describe_acls(self, query: AclFilter) -> list[AclBinding]:
        from kctl.protocol.acl import AclBinding, AclOperation, AclPermission, PatternType, ResourceType
        from kctl.protocol.messages.describe_acls import DescribeAclsRequest

        request = DescribeAclsRequest(query.resource_type, query.resource_name, query.pattern_type, query.principal,
                                      query.host, query.operation, query.permission)
        response = await self._to_controller(request)
        check(response.error_code, "describing ACLs", response.error_message)
        return [AclBinding(ResourceType(r.resource_type), r.resource_name, PatternType(r.pattern_type), a.principal,
                           a.host, AclOperation(a.operation), AclPermission(a.permission_type))
                for r in response.resources for a in r.acls]

    async def create_acls(self, bindings: Iterable[AclBinding]) -> list[KafkaError | None]:
        from kctl.protocol.messages.create_acls import AclCreation, CreateAclsRequest

        creations = [AclCreation(b.resource_type, b.resource_name, b.pattern_type, b.principal, b.host, b.operation,
                                 b.permission) for b in bindings]
        response = await self._to_controller(CreateAclsRequest(creations))
        return [_error(r.error_code, "creating an ACL", r.error_message) for r in response.results]

    async def delete_acls(self, filters: Iterable[AclFilter]) -> list[AclBinding]:
        """Delete the ACLs every filter matches; the ACLs deleted."""
        from kctl.protocol.acl import AclBinding, AclOperation, AclPermission, PatternType, ResourceType
        from kctl.protocol.messages.delete_acls import DeleteAclsFilter, DeleteAclsRequest

        request = DeleteAclsRequest([DeleteAclsFilter(f.resource_type, f.resource_name, f.pattern_type, f.principal,
                                                      f.host, f.operation, f.permission) for f in filters])
        response = await self._to_controller(request)
        deleted = []
        for result in response.filter_results:
            check(result.error_code, "deleting ACLs", result.error_message)
            for m in result.matching_acls:
                check(m.error_code, "deleting an ACL", m.error_message)
                deleted.append(AclBinding(ResourceType(m.resource_type), m.resource_name, PatternType(m.pattern_type),
                                          m.principal, m.host, AclOperation(m.operation),
                                          AclPermission(m.permission_type)))
        return deleted

    # ---- client quotas ------------------------------------------------------------------------------
    async def describe_client_quotas(self, components: Iterable[tuple[str, str | None]] = (), *,
                                     strict: bool = False) -> list[tuple[dict[str, str | None], dict[str, float]]]:
        """Quotas of the entities that match: (entity type, name) components, a None name matching
        the default entity; none at all lists every quota. Each: {type: name}, {key: value}."""
        from kctl.protocol.messages.describe_client_quotas import ComponentData, DescribeClientQuotasRequest

        request = DescribeClientQuotasRequest(
            [ComponentData(t, 1 if name is None else 0, name) for t, name in components], strict)
        response = await self._to_controller(request)
        check(response.error_code, "describing client quotas", response.error_message)
        return [({e.entity_type: e.entity_name for e in entry.entity}, {v.key: v.value for v in entry.values})
                for entry in response.entries or []]

    async def alter_client_quotas(self, entity: Mapping[str, str | None], set_values: Mapping[str, float] | None = None,
                                  remove: Iterable[str] = (), *, validate_only: bool = False) -> None:
        """Set and remove quota keys of one entity ({type: name}, None naming the default)."""
        from kctl.protocol.messages.alter_client_quotas import (
            AlterClientQuotasEntry,
            AlterClientQuotasRequest,
            AlterQuotaEntity,
            QuotaOp,
        )

        ops = [QuotaOp(k, float(v), False) for k, v in (set_values or {}).items()] + [
            QuotaOp(k, 0.0, True) for k in remove]
        entry = AlterClientQuotasEntry([AlterQuotaEntity(t, n) for t, n in entity.items()], ops)
        response = await self._to_controller(AlterClientQuotasRequest([entry], validate_only))
        for result in response.entries:
            check(result.error_code, "changing client quotas", result.error_message)

    # ---- SCRAM users --------------------------------------------------------------------------------
    async def describe_user_scram_credentials(self, users: Iterable[str] | None = None
                                              ) -> dict[str, dict[str, int] | KafkaError]:
        """Per user: mechanism name -> iterations, or the error for a named user that has none.
        None lists every user with a SCRAM credential."""
        from kctl.protocol.messages.describe_user_scram_credentials import (
            DescribeUserScramCredentialsRequest,
            UserName,
        )

        names = None if users is None else [UserName(u) for u in users]
        response = await self._to_controller(DescribeUserScramCredentialsRequest(names))
        check(response.error_code, "describing SCRAM users", response.error_message)
        out: dict[str, dict[str, int] | KafkaError] = {}
        for result in response.results:
            error = _error(result.error_code, f"user {result.user!r}", result.error_message)
            out[result.user] = error if error is not None else {
                SCRAM_MECHANISMS.get(c.mechanism, str(c.mechanism)): c.iterations for c in result.credential_infos}
        return out

    async def alter_user_scram_credentials(
        self,
        upsert: Iterable[tuple[str, str, str, int]] = (),
        delete: Iterable[tuple[str, str]] = (),
    ) -> dict[str, KafkaError | None]:
        """Set (user, mechanism, password, iterations) and delete (user, mechanism) credentials.
        The password is salted and hashed here (SCRAM's SaltedPassword): it never leaves this process.
        Kafka refuses a request that names a user twice (even for two mechanisms), so each change
        goes in a request of its own; a user's result is its first error, or None."""
        import secrets

        from kctl.protocol.messages.alter_user_scram_credentials import (
            AlterUserScramCredentialsRequest,
            ScramCredentialDeletion,
            ScramCredentialUpsertion,
        )
        from kctl.protocol.sasl import salted_password

        numbers = {name: number for number, name in SCRAM_MECHANISMS.items()}
        requests = []
        for user, mechanism, password, iterations in upsert:
            salt = secrets.token_bytes(32)
            upsertion = ScramCredentialUpsertion(user, numbers[mechanism], iterations, salt,
                                                 salted_password(mechanism, password, salt, iterations))
            requests.append(AlterUserScramCredentialsRequest([], [upsertion]))
        requests += [AlterUserScramCredentialsRequest([ScramCredentialDeletion(user, numbers[mechanism])], [])
                     for user, mechanism in delete]
        out: dict[str, KafkaError | None] = {}
        for request in requests:
            response = await self._to_controller(request)
            for r in response.results:
                if out.get(r.user) is None:
                    out[r.user] = _error(r.error_code, f"user {r.user!r}", r.error_message)
        return out

    # ---- log dirs --------------------------------------------------------------------------------
    async def describe_log_dirs(self, brokers: Iterable[int] | None = None) -> dict[int, list[LogDirDescription]]:
        from kctl.protocol.messages.describe_log_dirs import DescribeLogDirsRequest
        await self.cluster.refresh_metadata([])
        nodes = list(self.cluster.brokers) if brokers is None else list(brokers)

        async def ask(node: int) -> list[LogDirDescription]:
            response = await self.cluster.send(node, DescribeLogDirsRequest(topics=None))
            check(response.error_code, f"log dirs of broker {node}")
            return [
                LogDirDescription(
                    r.log_dir, _error(r.error_code, f"log dir {r.log_dir}"),
                    {TopicPartition(t.name, p.partition_index): p.partition_size
                     for t in r.topics for p in t.partitions},
                    r.total_bytes, r.usable_bytes,
                )
                for r in response.results
            ]

        described = await asyncio.gather(*(ask(n) for n in nodes))
        return dict(zip(nodes, described, strict=True))


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tp in partitions:
        out.setdefault(tp.topic, []).append(tp.partition)
    return out


def _fetch_topics(partitions: list[TopicPartition] | None) -> list[OffsetFetchRequestTopics]:
    from kctl.protocol.messages.offset_fetch import OffsetFetchRequestTopics
    return [OffsetFetchRequestTopics(t, ps) for t, ps in _by_topic(partitions or []).items()]
