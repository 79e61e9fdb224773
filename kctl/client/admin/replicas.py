"""Replicas: reassignments, leader elections and log dirs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import KafkaError, check
from ..types import TopicPartition
from .base import AdminBase, _by_topic, _error


class OngoingReassignment(NamedTuple):
    replicas: list[int]  # the full replica set while it moves: old and new
    adding: list[int]
    removing: list[int]


@dataclass(slots=True)
class LogDirDescription:
    path: str
    error: KafkaError | None
    partition_sizes: dict[TopicPartition, int]
    total_bytes: int
    usable_bytes: int


class ReplicaAdmin(AdminBase):
    """Reassignments, leader elections and log dirs."""

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
