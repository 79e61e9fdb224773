"""Transactions for `kctl transactions` and the console: list, describe, the producers of
partitions, find hanging transactions and abort one, with the semantics of Kafka's
TransactionsCommand.

A transaction hangs (KIP-664) when a partition holds it open but its coordinator will never end it
there: the producer id belongs to no transactional id any more, the transactional id is gone, or
the coordinator's transaction does not include the partition. It pins the partition's last stable
offset, so every read_committed consumer of it stalls, silently. `find_hanging` looks, as Kafka's
tool does, at transactions open longer than the longest transaction timeout allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.transactions import ProducerInfo, TransactionAdmin, TransactionDescription, open_transactions
from kctl.client.types import TopicPartition
from kctl.protocol.errors import ErrorCode

from .errors import BadUsage, NotFound

#: Kafka's transaction.max.timeout.ms default, find-hanging's default horizon.
DEFAULT_MAX_TRANSACTION_TIMEOUT_MIN = 15


async def transaction_rows(tadmin: TransactionAdmin, states: Sequence[str] = ()) -> list[dict[str, Any]]:
    listed = await tadmin.list_transactions(states=states)
    return [{"transactional_id": t.transactional_id, "coordinator": t.coordinator, "producer_id": t.producer_id,
             "state": t.state} for t in listed]


def description_row(found: TransactionDescription, now_ms: int) -> dict[str, Any]:
    started = found.start_ms if found.start_ms >= 0 else None
    return {
        "coordinator": found.coordinator, "transactional_id": found.transactional_id,
        "producer_id": found.producer_id, "producer_epoch": found.producer_epoch, "state": found.state,
        "timeout_ms": found.timeout_ms, "start_ms": started,
        "duration_ms": None if started is None else now_ms - started,
        "partitions": [f"{tp.topic}-{tp.partition}" for tp in found.partitions],
    }


async def describe_row(tadmin: TransactionAdmin, transactional_id: str, now_ms: int) -> dict[str, Any]:
    found = (await tadmin.describe_transactions([transactional_id]))[transactional_id]
    if isinstance(found, KafkaError):
        if found.code is ErrorCode.TRANSACTIONAL_ID_NOT_FOUND:
            raise NotFound(f"no transactional id {transactional_id!r}", "list them with `kctl transactions list`")
        raise found
    return description_row(found, now_ms)


def producer_row(tp: TopicPartition, producer: ProducerInfo, now_ms: int) -> dict[str, Any]:
    open_since = producer.txn_start_offset if producer.txn_start_offset >= 0 else None
    return {
        "topic": tp.topic, "partition": tp.partition, "producer_id": producer.producer_id,
        "producer_epoch": producer.producer_epoch, "coordinator_epoch": producer.coordinator_epoch,
        "last_sequence": producer.last_sequence, "last_timestamp": producer.last_timestamp,
        "txn_start_offset": open_since,
        "idle_ms": now_ms - producer.last_timestamp if producer.last_timestamp >= 0 else None,
    }


async def partitions_of(cluster: Cluster, topic: str | None, partition: int | None,
                        broker: int | None = None) -> list[TopicPartition]:
    """The partitions to look at: one, a topic's, or (with `broker`) every partition with a
    replica on that broker, internal topics included."""
    if partition is not None and topic is None:
        raise BadUsage("a partition needs its topic", "add --topic")
    if topic is not None:
        info = await cluster.topic(topic)
        if partition is not None:
            if partition not in info.partitions:
                raise NotFound(f"{topic} has no partition {partition}")
            return [TopicPartition(topic, partition)]
        return [TopicPartition(topic, p) for p, part in sorted(info.partitions.items())
                if broker is None or broker in part.replicas]
    if broker is None:
        raise BadUsage("say where to look", "add --broker ID or --topic T")
    await cluster.refresh_metadata(None)
    return [TopicPartition(name, p) for name, info in sorted(cluster.topics.items())
            for p, part in sorted(info.partitions.items()) if broker in part.replicas]


async def producer_rows(cluster: Cluster, tadmin: TransactionAdmin, topic: str, partition: int | None,
                        now_ms: int) -> list[dict[str, Any]]:
    producers = await tadmin.describe_producers(await partitions_of(cluster, topic, partition))
    return [producer_row(tp, p, now_ms) for tp, ps in sorted(producers.items()) for p in ps]


@dataclass(frozen=True, slots=True)
class Hanging:
    tp: TopicPartition
    producer: ProducerInfo
    transactional_id: str | None  # None: no transactional id has this producer id now
    why: str


async def find_hanging(cluster: Cluster, tadmin: TransactionAdmin, *, broker: int | None = None,
                       topic: str | None = None, partition: int | None = None,
                       max_transaction_timeout_min: int = DEFAULT_MAX_TRANSACTION_TIMEOUT_MIN,
                       now_ms: int) -> list[Hanging]:
    """Kafka's find-hanging: open transactions idle longer than the longest allowed timeout
    whose coordinator will never end them in that partition."""
    if topic is None and broker is None:
        raise BadUsage("find-hanging needs --broker or --topic to limit the search")
    producers = await tadmin.describe_producers(await partitions_of(cluster, topic, partition, broker))
    return await _hanging_among(tadmin, open_transactions(producers), max_transaction_timeout_min, now_ms)


async def _hanging_among(tadmin: TransactionAdmin, opened: list[tuple[TopicPartition, ProducerInfo]],
                         max_transaction_timeout_min: int, now_ms: int) -> list[Hanging]:
    horizon_ms = max_transaction_timeout_min * 60_000
    candidates = [(tp, p) for tp, p in opened if now_ms - p.last_timestamp > horizon_ms]
    if not candidates:
        return []
    producer_ids = {p.producer_id for _, p in candidates}
    owners = {t.producer_id: t.transactional_id
              for t in await tadmin.list_transactions(producer_ids=producer_ids) if t.producer_id in producer_ids}
    descriptions = await tadmin.describe_transactions(owners.values())
    hanging: list[Hanging] = []
    for tp, producer in candidates:
        txid = owners.get(producer.producer_id)
        found = descriptions.get(txid) if txid is not None else None
        if txid is None:
            hanging.append(Hanging(tp, producer, None, "no transactional id has this producer id"))
        elif isinstance(found, KafkaError) or found is None:
            hanging.append(Hanging(tp, producer, txid, f"transactional id {txid!r} is gone"))
        elif tp not in found.partitions:
            hanging.append(Hanging(tp, producer, txid, f"{txid!r}'s coordinator does not have this partition "
                                                       f"in its transaction ({found.state})"))
    return hanging


async def open_transaction_rows(cluster: Cluster, tadmin: TransactionAdmin, *, now_ms: int,
                                max_transaction_timeout_min: int = DEFAULT_MAX_TRANSACTION_TIMEOUT_MIN
                                ) -> list[dict[str, Any]]:
    """Every transaction open in any partition, each marked hanging or not (the console's view)."""
    await cluster.refresh_metadata(None)
    everywhere = [TopicPartition(name, p) for name, info in sorted(cluster.topics.items()) for p in info.partitions]
    opened = open_transactions(await tadmin.describe_producers(everywhere)) if everywhere else []
    hanging = {(h.tp, h.producer.producer_id): h
               for h in await _hanging_among(tadmin, opened, max_transaction_timeout_min, now_ms)}
    rows = []
    for tp, producer in opened:
        row = producer_row(tp, producer, now_ms)
        found = hanging.get((tp, producer.producer_id))
        row["hanging"] = found is not None
        row["why"] = found.why if found is not None else None
        row["key"] = f"{tp.topic}-{tp.partition}/{producer.producer_id}"
        rows.append(row)
    return rows


def hanging_row(found: Hanging, now_ms: int) -> dict[str, Any]:
    row = producer_row(found.tp, found.producer, now_ms)
    row["transactional_id"] = found.transactional_id
    row["duration_min"] = (now_ms - found.producer.last_timestamp) // 60_000
    row["why"] = found.why
    return row


@dataclass(frozen=True, slots=True)
class AbortPlan:
    tp: TopicPartition
    producer: ProducerInfo
    last_stable_offset: int  # now, pinned by this transaction or an earlier one
    log_end_offset: int

    def row(self, now_ms: int) -> dict[str, Any]:
        row = producer_row(self.tp, self.producer, now_ms)
        row["last_stable_offset"] = self.last_stable_offset
        row["log_end_offset"] = self.log_end_offset
        return row


async def plan_abort(cluster: Cluster, tadmin: TransactionAdmin, tp: TopicPartition, start_offset: int) -> AbortPlan:
    """Which producer's transaction begins at `start_offset` in the partition (as Kafka's tool
    finds it), and where the partition's readers stand."""
    from kctl.client.admin import Admin
    from kctl.client.types import LATEST

    await partitions_of(cluster, tp.topic, tp.partition)
    producers = (await tadmin.describe_producers([tp])).get(tp, [])
    found = next((p for p in producers if p.txn_start_offset == start_offset), None)
    if found is None:
        open_at = sorted(p.txn_start_offset for p in producers if p.txn_start_offset >= 0)
        raise NotFound(f"no open transaction starts at offset {start_offset} of {tp.topic}-{tp.partition}",
                       f"open ones start at {', '.join(map(str, open_at))}" if open_at
                       else "no transaction is open there")
    admin = Admin(cluster)
    stable = (await admin.list_offsets({tp: LATEST}, read_committed=True))[tp].offset
    end = (await admin.list_offsets({tp: LATEST}))[tp].offset
    return AbortPlan(tp, found, stable, end)


async def abort(tadmin: TransactionAdmin, plan: AbortPlan) -> None:
    await tadmin.abort_transaction(plan.tp, plan.producer.producer_id, plan.producer.producer_epoch,
                                   plan.producer.coordinator_epoch)
