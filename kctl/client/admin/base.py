"""What every part of the admin client shares: the cluster, and sending to the controller."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..cluster import Cluster
from ..errors import KafkaError
from ..types import TopicPartition


def _error(code: int, context: str, message: str | None = None) -> KafkaError | None:
    return KafkaError.from_code(code, context, message) if code else None


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tp in partitions:
        out.setdefault(tp.topic, []).append(tp.partition)
    return out


class AdminBase:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def _to_controller(self, request: Any) -> Any:
        async def attempt() -> Any:
            if self.cluster.controller_id < 0 or self.cluster.controller_id not in self.cluster.brokers:
                await self.cluster.refresh_metadata([])
            node = self.cluster.controller_id if self.cluster.controller_id >= 0 else next(iter(self.cluster.brokers))
            return await self.cluster.send(node, request)

        return await self.cluster.retry(attempt, what=type(request).__name__)
