"""Offsets by time and records deleted, sent to each partition's leader."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import check
from ..types import LATEST, OffsetAndTimestamp, TopicPartition
from .base import AdminBase


class OffsetAdmin(AdminBase):
    """Offsets by time, and records deleted: per partition leader."""

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
