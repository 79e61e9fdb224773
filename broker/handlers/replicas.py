"""Replica management on a single node, answered as Apache Kafka would answer it for a cluster
whose only broker is this one: every partition's one replica is here, is its leader, and is its
preferred leader. So a reassignment to this broker is done at once, any other broker does not
exist, and no election is ever needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
    ReassignablePartitionResponse,
    ReassignableTopicResponse,
)
from kctl.protocol.messages.elect_leaders import (
    ElectionPartitionResult,
    ElectLeadersRequest,
    ElectLeadersResponse,
    ReplicaElectionResult,
)
from kctl.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer


def _exists(broker: BrokerContext, topic: str, partition: int) -> bool:
    return broker.logs.partition(topic, partition) is not None


def _reassignment_error(broker: BrokerContext, replicas: list[int] | None) -> tuple[int, str | None]:
    if replicas is None:
        return ErrorCode.NO_REASSIGNMENT_IN_PROGRESS.code, "no reassignment is in progress to cancel"
    if not replicas:
        return ErrorCode.INVALID_REPLICATION_ASSIGNMENT.code, "the replica list is empty"
    if len(set(replicas)) != len(replicas):
        return ErrorCode.INVALID_REPLICATION_ASSIGNMENT.code, f"replicas {replicas} name a broker twice"
    unknown = [r for r in replicas if r != broker.node_id]
    if unknown:
        return (ErrorCode.INVALID_REPLICATION_ASSIGNMENT.code,
                f"no broker {', '.join(map(str, unknown))}: this cluster is broker {broker.node_id} alone")
    return 0, None  # already where it is asked to be


def alter_partition_reassignments(
    broker: BrokerContext, header: RequestHeader, request: AlterPartitionReassignmentsRequest, peer: Peer
) -> AlterPartitionReassignmentsResponse:
    if not broker.authorizer.permits(peer, AclOperation.ALTER, ResourceType.CLUSTER):
        return AlterPartitionReassignmentsResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code)
    responses = []
    for topic in request.topics:
        partitions = []
        for p in topic.partitions:
            code, message = ((ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
                              f"{topic.name}[{p.partition_index}] does not exist")
                             if not _exists(broker, topic.name, p.partition_index)
                             else _reassignment_error(broker, p.replicas))
            partitions.append(ReassignablePartitionResponse(p.partition_index, code, message))
        responses.append(ReassignableTopicResponse(topic.name, partitions))
    return AlterPartitionReassignmentsResponse(responses=responses)


def list_partition_reassignments(
    broker: BrokerContext, header: RequestHeader, request: ListPartitionReassignmentsRequest, peer: Peer
) -> ListPartitionReassignmentsResponse:
    if not broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return ListPartitionReassignmentsResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code)
    return ListPartitionReassignmentsResponse()  # a reassignment here completes as it is made


def elect_leaders(
    broker: BrokerContext, header: RequestHeader, request: ElectLeadersRequest, peer: Peer
) -> ElectLeadersResponse:
    if not broker.authorizer.permits(peer, AclOperation.ALTER, ResourceType.CLUSTER):
        return ElectLeadersResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code)
    if request.topic_partitions is None:
        return ElectLeadersResponse()  # every partition: none needs an election, so none is listed
    results = []
    for entry in request.topic_partitions:
        results.append(ReplicaElectionResult(entry.topic, [
            ElectionPartitionResult(p, ErrorCode.ELECTION_NOT_NEEDED.code, "the leader is the preferred replica")
            if _exists(broker, entry.topic, p) else
            ElectionPartitionResult(p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, f"{entry.topic}[{p}] does not exist")
            for p in entry.partitions
        ]))
    return ElectLeadersResponse(replica_election_results=results)
