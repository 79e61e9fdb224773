"""Transactions as an administrator sees them, on any cluster: the transactional ids each
coordinator knows (ListTransactions, DescribeTransactions), the producers each partition's leader
tracks (DescribeProducers: who holds a transaction open there, since which offset), and aborting a
hanging transaction by writing its abort marker to a partition (WriteTxnMarkers), as Kafka's
Admin.abortTransaction does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .cluster import COORDINATOR_MOVED, TRANSACTION, Cluster
from .errors import KafkaError, check
from .types import TopicPartition


@dataclass(frozen=True, slots=True)
class TransactionListing:
    transactional_id: str
    coordinator: int
    producer_id: int
    state: str


@dataclass(frozen=True, slots=True)
class TransactionDescription:
    transactional_id: str
    coordinator: int
    state: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    start_ms: int  # -1: no transaction under way
    partitions: tuple[TopicPartition, ...]


@dataclass(frozen=True, slots=True)
class ProducerInfo:
    """One producer a partition's leader tracks."""

    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int  # -1: no marker written for it yet
    txn_start_offset: int  # -1: no transaction open here


class TransactionAdmin:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def list_transactions(self, *, states: Iterable[str] = (), producer_ids: Iterable[int] = (),
                                longer_than_ms: int = -1) -> list[TransactionListing]:
        """Every broker's transactional ids (each coordinates some), filtered as asked."""
        from kctl.protocol.messages.list_transactions import ListTransactionsRequest

        await self.cluster.refresh_metadata([])
        request = ListTransactionsRequest(list(states), list(producer_ids), longer_than_ms)

        async def ask(node: int) -> list[TransactionListing]:
            response = await self.cluster.send(node, request)
            check(response.error_code, f"transactions on broker {node}")
            return [TransactionListing(t.transactional_id, node, t.producer_id, t.transaction_state)
                    for t in response.transaction_states]

        nodes = sorted(self.cluster.brokers)
        listed = await asyncio.gather(*(ask(n) for n in nodes))
        return sorted((t for per_node in listed for t in per_node), key=lambda t: t.transactional_id)

    async def describe_transactions(self, transactional_ids: Iterable[str]
                                    ) -> dict[str, TransactionDescription | KafkaError]:
        """Each transactional id's state from its coordinator (or the error, such as
        TRANSACTIONAL_ID_NOT_FOUND)."""
        from kctl.protocol.messages.describe_transactions import DescribeTransactionsRequest

        wanted = list(dict.fromkeys(transactional_ids))
        out: dict[str, TransactionDescription | KafkaError] = {}

        async def attempt() -> None:
            remaining = [t for t in wanted if t not in out]
            by_node: dict[int, list[str]] = {}
            for txid, node in (await self.cluster.coordinators(remaining, TRANSACTION)).items():
                by_node.setdefault(node, []).append(txid)
            for node, txids in by_node.items():
                response = await self.cluster.send(node, DescribeTransactionsRequest(txids))
                for state in response.transaction_states:
                    if state.error_code:
                        error = KafkaError.from_code(state.error_code, f"transactional id {state.transactional_id!r}")
                        if error.code in COORDINATOR_MOVED:
                            self.cluster.forget_coordinator(state.transactional_id, TRANSACTION)
                            raise error
                        out[state.transactional_id] = error
                        continue
                    out[state.transactional_id] = TransactionDescription(
                        state.transactional_id, node, state.transaction_state, state.producer_id,
                        state.producer_epoch, state.transaction_timeout_ms, state.transaction_start_time_ms,
                        tuple(TopicPartition(t.topic, p) for t in state.topics for p in t.partitions))

        if wanted:
            await self.cluster.retry(attempt, what="DescribeTransactions")
        return out

    async def describe_producers(self, partitions: Iterable[TopicPartition]
                                 ) -> dict[TopicPartition, list[ProducerInfo]]:
        """The producers each partition's leader tracks."""
        from kctl.protocol.messages.describe_producers import DescribeProducersRequest, TopicRequest

        wanted = list(dict.fromkeys(partitions))
        out: dict[TopicPartition, list[ProducerInfo]] = {}

        async def ask(node: int, tps: list[TopicPartition]) -> None:
            by_topic: dict[str, list[int]] = {}
            for tp in tps:
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            response = await self.cluster.send(node, DescribeProducersRequest(
                [TopicRequest(t, ps) for t, ps in by_topic.items()]))
            for topic in response.topics:
                for part in topic.partitions:
                    tp = TopicPartition(topic.name, part.partition_index)
                    check(part.error_code, f"producers of {tp}", part.error_message)
                    out[tp] = [ProducerInfo(p.producer_id, p.producer_epoch, p.last_sequence, p.last_timestamp,
                                            p.coordinator_epoch, p.current_txn_start_offset)
                               for p in part.active_producers]

        async def attempt() -> None:
            remaining = [tp for tp in wanted if tp not in out]
            by_leader = await self.cluster.leaders(remaining)
            await asyncio.gather(*(ask(node, tps) for node, tps in by_leader.items()))

        await self.cluster.retry(attempt, what="DescribeProducers")
        return out

    async def abort_transaction(self, tp: TopicPartition, producer_id: int, producer_epoch: int,
                                coordinator_epoch: int) -> None:
        """Write an abort marker for the producer's transaction to the partition (its leader
        needs ClusterAction): read_committed readers then move past it."""
        from kctl.protocol.messages.write_txn_markers import (
            WritableTxnMarker,
            WritableTxnMarkerTopic,
            WriteTxnMarkersRequest,
        )

        request = WriteTxnMarkersRequest([WritableTxnMarker(
            producer_id, producer_epoch, False, [WritableTxnMarkerTopic(tp.topic, [tp.partition])],
            max(coordinator_epoch, 0))])

        async def attempt() -> None:
            node = await self.cluster.leader(tp)
            response = await self.cluster.send(node, request)
            for marker in response.markers:
                for topic in marker.topics:
                    for part in topic.partitions:
                        check(part.error_code, f"aborting producer {producer_id}'s transaction on {tp}")

        await self.cluster.retry(attempt, what="WriteTxnMarkers")


def open_transactions(producers: Mapping[TopicPartition, list[ProducerInfo]]
                      ) -> list[tuple[TopicPartition, ProducerInfo]]:
    """(partition, producer) for every transaction open in a partition."""
    return [(tp, p) for tp, ps in sorted(producers.items()) for p in ps if p.txn_start_offset >= 0]
