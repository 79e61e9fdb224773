"""Transaction APIs: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn,
DescribeTransactions, ListTransactions, DescribeProducers and WriteTxnMarkers. Authorization is
Kafka's: Write on the TransactionalId for a transaction's own requests, Describe on it to see it,
ClusterAction to write markers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.clock import now_ms
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnRequest, AddOffsetsToTxnResponse
from kctl.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnPartitionResult,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    AddPartitionsToTxnResult,
    AddPartitionsToTxnTopic,
    AddPartitionsToTxnTopicResult,
)
from kctl.protocol.messages.describe_producers import (
    DescribeProducersRequest,
    DescribeProducersResponse,
    PartitionResponse,
    ProducerState,
    TopicResponse,
)
from kctl.protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
    TopicData,
)
from kctl.protocol.messages.describe_transactions import TransactionState as DescribedTransaction
from kctl.protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from kctl.protocol.messages.init_producer_id import InitProducerIdRequest, InitProducerIdResponse
from kctl.protocol.messages.list_transactions import ListTransactionsRequest, ListTransactionsResponse
from kctl.protocol.messages.list_transactions import TransactionState as ListedTransaction
from kctl.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
    TxnOffsetCommitResponsePartition,
    TxnOffsetCommitResponseTopic,
)
from kctl.protocol.messages.write_txn_markers import (
    WritableTxnMarkerPartitionResult,
    WritableTxnMarkerResult,
    WritableTxnMarkerTopicResult,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)

from ..groups.coordinator import OffsetToCommit
from ..groups.offsets_topic import TOPIC as OFFSETS_TOPIC
from ..transactions.coordinator import Outcome
from ..transactions.machine import TxnState

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

T = TypeVar("T")


def _may(broker: BrokerContext, peer: Peer, operation: AclOperation, transactional_id: str) -> bool:
    return broker.authorizer.permits(peer, operation, ResourceType.TRANSACTIONAL_ID, transactional_id)


def _answer(outcome: Outcome, response: T) -> T | Awaitable[T]:
    """The response now, or once the writes it depends on are durable (a flush policy)."""
    if not outcome.waits:
        return response

    async def after() -> T:
        try:
            await asyncio.gather(*outcome.waits)
        except OSError:
            if hasattr(response, "error_code"):
                response.error_code = ErrorCode.KAFKA_STORAGE_ERROR.code
        return response

    return after()


# ---- InitProducerId --------------------------------------------------------------------------
def init_producer_id(
    broker: BrokerContext, header: RequestHeader, request: InitProducerIdRequest, peer: Peer
) -> InitProducerIdResponse | Awaitable[InitProducerIdResponse]:
    transactional_id = request.transactional_id
    if transactional_id is None:
        return _idempotent_producer_id(broker, request, peer)
    if not _may(broker, peer, AclOperation.WRITE, transactional_id):
        return InitProducerIdResponse(error_code=ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code, producer_id=-1,
                                      producer_epoch=-1)
    expected = (request.producer_id, request.producer_epoch) if request.producer_id >= 0 else None
    outcome = broker.transactions.init_producer_id(transactional_id, request.transaction_timeout_ms, expected)
    return _answer(outcome, InitProducerIdResponse(error_code=outcome.error.code, producer_id=outcome.producer_id,
                                                   producer_epoch=outcome.producer_epoch))


def _idempotent_producer_id(broker: BrokerContext, request: InitProducerIdRequest,
                            peer: Peer) -> InitProducerIdResponse:
    if not (broker.authorizer.permits(peer, AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER)
            or broker.authorizer.may_write_some_topic(peer)):  # KIP-679: Write on any topic allows idempotence
        return InitProducerIdResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code, producer_id=-1,
                                      producer_epoch=-1)
    if request.producer_id >= 0 and 0 <= request.producer_epoch < 32766:
        # KIP-360: an idempotent producer may bump its own epoch to reset its sequences.
        return InitProducerIdResponse(producer_id=request.producer_id, producer_epoch=request.producer_epoch + 1)
    try:
        producer_id = broker.logs.allocate_producer_id()
    except OSError:  # its block of ids could not be reserved on disk: none is handed out
        return InitProducerIdResponse(error_code=ErrorCode.KAFKA_STORAGE_ERROR.code, producer_id=-1, producer_epoch=-1)
    return InitProducerIdResponse(producer_id=producer_id, producer_epoch=0)


# ---- AddPartitionsToTxn ------------------------------------------------------------------------
def add_partitions_to_txn(
    broker: BrokerContext, header: RequestHeader, request: AddPartitionsToTxnRequest, peer: Peer
) -> AddPartitionsToTxnResponse | Awaitable[AddPartitionsToTxnResponse]:
    if header.api_version >= 4:
        return _add_partitions_batched(broker, request, peer)
    results, outcome = _add_partitions(broker, peer, request.v3_and_below_transactional_id,
                                       request.v3_and_below_producer_id, request.v3_and_below_producer_epoch,
                                       request.v3_and_below_topics, verify_only=False)
    return _answer(outcome, AddPartitionsToTxnResponse(results_by_topic_v3_and_below=results))


def _add_partitions_batched(broker: BrokerContext, request: AddPartitionsToTxnRequest,
                            peer: Peer) -> AddPartitionsToTxnResponse | Awaitable[AddPartitionsToTxnResponse]:
    """v4+: the brokers' batched form (KIP-890), which only another broker may send."""
    if not broker.authorizer.permits(peer, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER):
        return AddPartitionsToTxnResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code)
    results: list[AddPartitionsToTxnResult] = []
    waits: list[asyncio.Future[None]] = []
    for txn in request.transactions:
        topic_results, outcome = _add_partitions(broker, peer, txn.transactional_id, txn.producer_id,
                                                 txn.producer_epoch, txn.topics, verify_only=txn.verify_only)
        waits += outcome.waits
        results.append(AddPartitionsToTxnResult(txn.transactional_id, topic_results))
    return _answer(Outcome(waits=waits), AddPartitionsToTxnResponse(results_by_transaction=results))


def _add_partitions(broker: BrokerContext, peer: Peer, transactional_id: str, producer_id: int, epoch: int,
                    topics: list[AddPartitionsToTxnTopic], *, verify_only: bool,
                    ) -> tuple[list[AddPartitionsToTxnTopicResult], Outcome]:
    wanted = [(t.name, p) for t in topics for p in t.partitions]
    errors: dict[tuple[str, int], int] = {}
    if not _may(broker, peer, AclOperation.WRITE, transactional_id):
        errors = dict.fromkeys(wanted, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code)
    else:
        denied = broker.authorizer.denied_topics(peer, AclOperation.WRITE, (t for t, _ in wanted))
        for topic, partition in wanted:
            if topic in denied:
                errors[(topic, partition)] = ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
            elif broker.logs.partition(topic, partition) is None:
                errors[(topic, partition)] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
    outcome = Outcome()
    if errors:  # as Kafka: the others are not attempted
        errors = {tp: errors.get(tp, ErrorCode.OPERATION_NOT_ATTEMPTED.code) for tp in wanted}
    elif verify_only:
        for tp in wanted:
            refused = broker.transactions.check_member(transactional_id, producer_id, epoch, tp)
            errors[tp] = ErrorCode.NONE.code if refused is None else refused.code
    else:
        outcome = broker.transactions.add_partitions(transactional_id, producer_id, epoch, wanted)
        errors = dict.fromkeys(wanted, outcome.error.code)
    by_topic: dict[str, list[AddPartitionsToTxnPartitionResult]] = {}
    for (topic, partition), code in errors.items():
        by_topic.setdefault(topic, []).append(AddPartitionsToTxnPartitionResult(partition, code))
    return [AddPartitionsToTxnTopicResult(name, parts) for name, parts in by_topic.items()], outcome


# ---- AddOffsetsToTxn, TxnOffsetCommit -------------------------------------------------------------
def add_offsets_to_txn(
    broker: BrokerContext, header: RequestHeader, request: AddOffsetsToTxnRequest, peer: Peer
) -> AddOffsetsToTxnResponse | Awaitable[AddOffsetsToTxnResponse]:
    if not _may(broker, peer, AclOperation.WRITE, request.transactional_id):
        return AddOffsetsToTxnResponse(error_code=ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code)
    if not broker.authorizer.permits(peer, AclOperation.READ, ResourceType.GROUP, request.group_id):
        return AddOffsetsToTxnResponse(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    offsets = broker.groups.offsets_partition(request.group_id)
    outcome = broker.transactions.add_partitions(request.transactional_id, request.producer_id,
                                                 request.producer_epoch, [(OFFSETS_TOPIC, offsets.partition)])
    return _answer(outcome, AddOffsetsToTxnResponse(error_code=outcome.error.code))


def txn_offset_commit(
    broker: BrokerContext, header: RequestHeader, request: TxnOffsetCommitRequest, peer: Peer
) -> TxnOffsetCommitResponse | Awaitable[TxnOffsetCommitResponse]:
    wanted = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]

    def all_failed(code: int) -> TxnOffsetCommitResponse:
        return _txn_commit_response(wanted, [code] * len(wanted))

    if not _may(broker, peer, AclOperation.WRITE, request.transactional_id):
        return all_failed(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code)
    if not broker.authorizer.permits(peer, AclOperation.READ, ResourceType.GROUP, request.group_id):
        return all_failed(ErrorCode.GROUP_AUTHORIZATION_FAILED.code)
    offsets_partition = (OFFSETS_TOPIC, broker.groups.offsets_partition(request.group_id).partition)
    refused = broker.transactions.check_member(request.transactional_id, request.producer_id,
                                               request.producer_epoch, offsets_partition)
    if refused is not None:
        return all_failed(refused.code)
    denied = broker.authorizer.denied_topics(peer, AclOperation.READ, (t.name for t in request.topics))
    to_commit = [OffsetToCommit(t.name, p.partition_index, p.committed_offset, p.committed_leader_epoch,
                                p.committed_metadata, -1)
                 for t in request.topics if t.name not in denied for p in t.partitions]
    errors, wait = broker.groups.commit(request.group_id, request.generation_id, request.member_id,
                                        request.group_instance_id, -1, to_commit,
                                        producer=(request.producer_id, request.producer_epoch))
    committed = iter(errors)
    codes = [ErrorCode.TOPIC_AUTHORIZATION_FAILED.code if topic in denied else next(committed)
             for topic, _ in wanted]
    return _answer(Outcome(waits=[] if wait is None else [wait]), _txn_commit_response(wanted, codes))


def _txn_commit_response(wanted: list[tuple[str, int]], codes: list[int]) -> TxnOffsetCommitResponse:
    by_topic: dict[str, list[TxnOffsetCommitResponsePartition]] = {}
    for (topic, partition), code in zip(wanted, codes, strict=True):
        by_topic.setdefault(topic, []).append(TxnOffsetCommitResponsePartition(partition, code))
    return TxnOffsetCommitResponse(topics=[TxnOffsetCommitResponseTopic(t, ps) for t, ps in by_topic.items()])


# ---- EndTxn ----------------------------------------------------------------------------------------
def end_txn(
    broker: BrokerContext, header: RequestHeader, request: EndTxnRequest, peer: Peer
) -> EndTxnResponse | Awaitable[EndTxnResponse]:
    if not _may(broker, peer, AclOperation.WRITE, request.transactional_id):
        return EndTxnResponse(error_code=ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code)
    outcome = broker.transactions.end_txn(request.transactional_id, request.producer_id, request.producer_epoch,
                                          request.committed)
    return _answer(outcome, EndTxnResponse(error_code=outcome.error.code))


# ---- DescribeTransactions, ListTransactions, DescribeProducers ------------------------------------
def describe_transactions(
    broker: BrokerContext, header: RequestHeader, request: DescribeTransactionsRequest, peer: Peer
) -> DescribeTransactionsResponse:
    states: list[DescribedTransaction] = []
    for transactional_id in request.transactional_ids:
        if not _may(broker, peer, AclOperation.DESCRIBE, transactional_id):
            states.append(DescribedTransaction(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code, transactional_id,
                                               producer_id=-1, producer_epoch=-1))
            continue
        found = broker.transactions.describe(transactional_id)
        if found is None:
            states.append(DescribedTransaction(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND.code, transactional_id,
                                               producer_id=-1, producer_epoch=-1))
            continue
        by_topic: dict[str, list[int]] = {}
        hidden = broker.authorizer.denied_topics(peer, AclOperation.DESCRIBE, (t for t, _ in found.partitions))
        for topic, partition in sorted(found.partitions):
            if topic not in hidden:
                by_topic.setdefault(topic, []).append(partition)
        states.append(DescribedTransaction(
            ErrorCode.NONE.code, transactional_id, found.state.label, found.timeout_ms, found.start_ms,
            found.producer_id, found.producer_epoch, [TopicData(t, ps) for t, ps in by_topic.items()]))
    return DescribeTransactionsResponse(transaction_states=states)


def list_transactions(
    broker: BrokerContext, header: RequestHeader, request: ListTransactionsRequest, peer: Peer
) -> ListTransactionsResponse:
    labels = {state.label: state for state in TxnState}
    unknown = [name for name in request.state_filters if name not in labels]
    wanted_states = {labels[name] for name in request.state_filters if name in labels}
    wanted_ids = set(request.producer_id_filters)
    longer_than = request.duration_filter if header.api_version >= 1 else -1
    pattern = None
    if header.api_version >= 2 and request.transactional_id_pattern:
        try:
            pattern = re.compile(request.transactional_id_pattern)
        except re.error:
            return ListTransactionsResponse(error_code=ErrorCode.INVALID_REGULAR_EXPRESSION.code)
    now = now_ms()
    listed: list[ListedTransaction] = []
    for found in sorted(broker.transactions.listing(), key=lambda m: m.transactional_id):
        if request.state_filters and found.state not in wanted_states:
            continue
        if wanted_ids and found.producer_id not in wanted_ids:
            continue
        if pattern is not None and not pattern.fullmatch(found.transactional_id):
            continue
        if longer_than >= 0 and (found.state is not TxnState.ONGOING or now - found.start_ms < longer_than):
            continue
        if not _may(broker, peer, AclOperation.DESCRIBE, found.transactional_id):
            continue
        listed.append(ListedTransaction(found.transactional_id, found.producer_id, found.state.label))
    return ListTransactionsResponse(unknown_state_filters=unknown, transaction_states=listed)


def describe_producers(
    broker: BrokerContext, header: RequestHeader, request: DescribeProducersRequest, peer: Peer
) -> DescribeProducersResponse:
    denied = broker.authorizer.denied_topics(peer, AclOperation.READ, (t.name for t in request.topics))
    topics: list[TopicResponse] = []
    for topic in request.topics:
        parts: list[PartitionResponse] = []
        topics.append(TopicResponse(topic.name, parts))
        for index in topic.partition_indexes:
            plog = broker.logs.partition(topic.name, index)
            if topic.name in denied:
                parts.append(PartitionResponse(index, ErrorCode.TOPIC_AUTHORIZATION_FAILED.code))
                continue
            if plog is None:
                parts.append(PartitionResponse(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code))
                continue
            state = plog.producers
            parts.append(PartitionResponse(index, ErrorCode.NONE.code, None, [
                ProducerState(producer_id, entry.epoch,
                              entry.batches[-1].last_sequence if entry.batches else -1, entry.last_timestamp,
                              -1, state.ongoing.get(producer_id, -1))
                for producer_id, entry in sorted(state.producers.items())
            ]))
    return DescribeProducersResponse(topics=topics)


def write_txn_markers(
    broker: BrokerContext, header: RequestHeader, request: WriteTxnMarkersRequest, peer: Peer
) -> WriteTxnMarkersResponse | Awaitable[WriteTxnMarkersResponse]:
    allowed = broker.authorizer.permits(peer, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER)
    waits: list[asyncio.Future[None]] = []
    results: list[WritableTxnMarkerResult] = []
    for marker in request.markers:
        topics: list[WritableTxnMarkerTopicResult] = []
        for topic in marker.topics:
            parts = [WritableTxnMarkerPartitionResult(index, (
                broker.transactions.write_marker(topic.name, index, marker.producer_id, marker.producer_epoch,
                                                 marker.transaction_result, waits).code
                if allowed else ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code)) for index in topic.partition_indexes]
            topics.append(WritableTxnMarkerTopicResult(topic.name, parts))
        results.append(WritableTxnMarkerResult(marker.producer_id, topics))
    return _answer(Outcome(waits=waits), WriteTxnMarkersResponse(results))
