"""Topics: list, describe, create, delete, and add partitions; and the cluster's brokers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kctl.protocol.errors import ErrorCode

from ..errors import KafkaError
from ..types import BrokerInfo, TopicInfo
from .base import AdminBase, _error


@dataclass(frozen=True, slots=True)
class NewTopic:
    name: str
    partitions: int = -1  # -1: the broker's num.partitions
    replication_factor: int = -1
    configs: Mapping[str, str] = field(default_factory=dict)


class TopicAdmin(AdminBase):
    """The cluster's brokers and its topics."""

    async def describe_cluster(self) -> tuple[str | None, int, list[BrokerInfo]]:
        """(cluster id, controller id, brokers). On KRaft the controller is the metadata quorum's
        leader: the controller id brokers give in Metadata is an arbitrary broker there."""
        from ..controller import active_controller

        await self.cluster.refresh_metadata([])
        leader = await active_controller(self.cluster)
        controller = self.cluster.controller_id if leader is None else leader
        return self.cluster.cluster_id, controller, sorted(self.cluster.brokers.values(), key=lambda b: b.node_id)

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
