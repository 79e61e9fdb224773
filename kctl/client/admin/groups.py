"""Groups of every type: listed, described, deleted, and their committed offsets."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kctl.protocol.api import ApiKey
from kctl.protocol.errors import ErrorCode

from ..cluster import COORDINATOR_MOVED
from ..errors import KafkaError, check
from ..types import LATEST, OffsetAndMetadata, TopicPartition
from .base import _by_topic, _error
from .offsets import OffsetAdmin

if TYPE_CHECKING:
    from kctl.protocol.messages.offset_fetch import OffsetFetchRequestTopics
    from kctl.protocol.offset_columns import GroupCommitted

    from ..group_kinds import GroupDescription, GroupListing


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


class GroupAdmin(OffsetAdmin):
    """Groups of every type, and their committed offsets: per group coordinator."""

    async def list_groups(self, states: Iterable[str] = (), types: Iterable[str] = ()) -> list[GroupListing]:
        """Groups on every broker (ListGroups asks one broker about the groups it coordinates),
        each with its type (classic, consumer, share, streams), filtered by state and type."""
        from kctl.protocol.messages.list_groups import ListGroupsRequest
        await self.cluster.refresh_metadata([])
        # Kafka's tools take comma-separated lists too.
        wanted = [s.strip() for text in states for s in text.split(",") if s.strip()]
        from ..group_kinds import GROUP_TYPES, GroupListing, parse_group_types  # kinds load when groups are asked

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
        from ..group_kinds import describe_any

        return await describe_any(self, group_ids)

    async def describe_classic_groups(self, group_ids: Iterable[str]) -> dict[str, GroupDescription | KafkaError]:
        from kctl.protocol.messages.describe_groups import DescribeGroupsRequest

        from ..group_kinds import classic_description

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


def _fetch_topics(partitions: list[TopicPartition] | None) -> list[OffsetFetchRequestTopics]:
    from kctl.protocol.messages.offset_fetch import OffsetFetchRequestTopics
    return [OffsetFetchRequestTopics(t, ps) for t, ps in _by_topic(partitions or []).items()]
