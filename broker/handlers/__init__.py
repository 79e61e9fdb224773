"""One table of the APIs the broker serves: the versions it advertises and serves, and the handler
of each. Handlers return a response, an awaitable of one, or None."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kctl.protocol.api import API_BY_KEY, ApiKey
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.api_versions import (
    ApiVersion,
    ApiVersionsRequest,
    ApiVersionsResponse,
    FinalizedFeatureKey,
    SupportedFeatureKey,
)
from kctl.protocol.messages.produce import (
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicProduceResponse,
)

from ..features import FEATURES, FEATURES_EPOCH
from . import acls, admin, configs, data, groups, quotas, replicas, share, transactions, users
from .data import CloseConnection

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

#: (broker, request header, request, client host) -> response
Handler = Callable[["BrokerContext", RequestHeader, Any, "Peer"], Any]


@dataclass(frozen=True, slots=True)
class Route:
    """How the broker serves one API."""

    advertised: tuple[int, int]  # the versions ApiVersions lists
    handler: Handler | None  # None: the connection answers it (SASL: see ServerConnection)
    served_from: int | None = None  # where serving starts, when above the advertised minimum

    def serves(self, version: int) -> bool:
        low, high = self.advertised
        return max(low, self.served_from or low) <= version <= high




def _api_versions(broker: BrokerContext, header: RequestHeader, request: ApiVersionsRequest, peer: Peer) -> Any:
    return ApiVersionsResponse(
        error_code=0, api_keys=advertised_versions(),
        supported_features=[SupportedFeatureKey(name, low, high) for name, (low, high, _) in FEATURES.items()],
        finalized_features_epoch=FEATURES_EPOCH,
        finalized_features=[FinalizedFeatureKey(name, level, level) for name, (_, _, level) in FEATURES.items()
                            if level > 0],
    )


# Produce v0-2 are advertised but answered with UNSUPPORTED_VERSION, as Kafka 4 does: librdkafka
# before 2.11.1 disables compression unless it sees Produce v0 in the list. SaslHandshake v0 (raw
# tokens after it) likewise: librdkafka only tries SASL when v0 is in the list, then uses v1.
# OffsetFetch v0 (offsets kept in ZooKeeper) is not offered at all.
ROUTES: dict[ApiKey, Route] = {
    ApiKey.PRODUCE: Route((0, 11), data.produce, served_from=3),
    ApiKey.FETCH: Route((4, 12), data.fetch),
    ApiKey.LIST_OFFSETS: Route((0, 8), data.list_offsets),
    ApiKey.METADATA: Route((0, 12), admin.metadata),
    ApiKey.OFFSET_COMMIT: Route((0, 9), groups.offset_commit),
    ApiKey.OFFSET_FETCH: Route((1, 9), groups.offset_fetch),
    ApiKey.FIND_COORDINATOR: Route((0, 6), groups.find_coordinator),
    ApiKey.JOIN_GROUP: Route((0, 9), groups.join_group),
    ApiKey.HEARTBEAT: Route((0, 4), groups.heartbeat),
    ApiKey.LEAVE_GROUP: Route((0, 5), groups.leave_group),
    ApiKey.SYNC_GROUP: Route((0, 5), groups.sync_group),
    ApiKey.DESCRIBE_GROUPS: Route((0, 5), groups.describe_groups),
    ApiKey.LIST_GROUPS: Route((0, 5), groups.list_groups),
    ApiKey.SASL_HANDSHAKE: Route((0, 1), None, served_from=1),
    ApiKey.API_VERSIONS: Route((0, 4), _api_versions),
    ApiKey.CREATE_TOPICS: Route((0, 7), admin.create_topics),
    ApiKey.DELETE_TOPICS: Route((0, 6), admin.delete_topics),
    ApiKey.DELETE_RECORDS: Route((0, 2), admin.delete_records),
    ApiKey.INIT_PRODUCER_ID: Route((0, 5), transactions.init_producer_id),
    ApiKey.OFFSET_FOR_LEADER_EPOCH: Route((0, 4), data.offset_for_leader_epoch),
    ApiKey.DESCRIBE_CONFIGS: Route((0, 4), configs.describe_configs),
    ApiKey.ALTER_CONFIGS: Route((0, 2), configs.alter_configs),
    ApiKey.DESCRIBE_LOG_DIRS: Route((0, 4), admin.describe_log_dirs),
    ApiKey.SASL_AUTHENTICATE: Route((0, 2), None),
    ApiKey.CREATE_PARTITIONS: Route((0, 3), admin.create_partitions),
    ApiKey.DELETE_GROUPS: Route((0, 2), groups.delete_groups),
    ApiKey.ELECT_LEADERS: Route((0, 2), replicas.elect_leaders),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: Route((0, 1), configs.incremental_alter_configs),
    ApiKey.ALTER_PARTITION_REASSIGNMENTS: Route((0, 0), replicas.alter_partition_reassignments),
    ApiKey.LIST_PARTITION_REASSIGNMENTS: Route((0, 0), replicas.list_partition_reassignments),
    ApiKey.OFFSET_DELETE: Route((0, 0), groups.offset_delete),
    ApiKey.DESCRIBE_CLUSTER: Route((0, 1), admin.describe_cluster),
    ApiKey.DESCRIBE_ACLS: Route((0, 3), acls.describe_acls),
    ApiKey.CREATE_ACLS: Route((0, 3), acls.create_acls),
    ApiKey.DELETE_ACLS: Route((0, 3), acls.delete_acls),
    ApiKey.DESCRIBE_CLIENT_QUOTAS: Route((0, 1), quotas.describe_client_quotas),
    ApiKey.ALTER_CLIENT_QUOTAS: Route((0, 1), quotas.alter_client_quotas),
    ApiKey.ADD_PARTITIONS_TO_TXN: Route((0, 5), transactions.add_partitions_to_txn),
    ApiKey.ADD_OFFSETS_TO_TXN: Route((0, 4), transactions.add_offsets_to_txn),
    ApiKey.END_TXN: Route((0, 5), transactions.end_txn),
    ApiKey.TXN_OFFSET_COMMIT: Route((0, 4), transactions.txn_offset_commit),
    ApiKey.WRITE_TXN_MARKERS: Route((0, 1), transactions.write_txn_markers),
    ApiKey.DESCRIBE_PRODUCERS: Route((0, 0), transactions.describe_producers),
    ApiKey.DESCRIBE_TRANSACTIONS: Route((0, 0), transactions.describe_transactions),
    ApiKey.LIST_TRANSACTIONS: Route((0, 2), transactions.list_transactions),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: Route((0, 0), users.describe_user_scram_credentials),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: Route((0, 0), users.alter_user_scram_credentials),
    ApiKey.CONSUMER_GROUP_HEARTBEAT: Route((0, 1), groups.consumer_group_heartbeat),
    ApiKey.CONSUMER_GROUP_DESCRIBE: Route((0, 1), groups.consumer_group_describe),
    ApiKey.DESCRIBE_QUORUM: Route((0, 2), admin.describe_quorum),
    ApiKey.UPDATE_FEATURES: Route((0, 2), admin.update_features),
    ApiKey.LIST_CONFIG_RESOURCES: Route((0, 1), configs.list_config_resources),
    ApiKey.SHARE_GROUP_HEARTBEAT: Route((1, 1), share.share_group_heartbeat),
    ApiKey.SHARE_GROUP_DESCRIBE: Route((1, 1), share.share_group_describe),
    ApiKey.SHARE_FETCH: Route((1, 2), share.share_fetch),
    ApiKey.SHARE_ACKNOWLEDGE: Route((1, 2), share.share_acknowledge),
    ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS: Route((0, 1), share.describe_share_group_offsets),
    ApiKey.ALTER_SHARE_GROUP_OFFSETS: Route((0, 0), share.alter_share_group_offsets),
    ApiKey.DELETE_SHARE_GROUP_OFFSETS: Route((0, 0), share.delete_share_group_offsets),
}


def advertised_versions() -> list[ApiVersion]:
    return [ApiVersion(key, *route.advertised) for key, route in sorted(ROUTES.items())]


def error_response(header: RequestHeader, request: Any, code: int) -> Any | None:
    """A response of the request's own version carrying `code`, or None if the shape has no place for it.

    Used for versions the codec can read but the broker does not serve (Produce v0-2) and for
    APIs not advertised yet, so the client hears UNSUPPORTED_VERSION instead of a closed socket.
    """
    if isinstance(request, ProduceRequest):
        return ProduceResponse(responses=[
            TopicProduceResponse(t.name, [PartitionProduceResponse(index=p.index, error_code=code)
                                          for p in t.partition_data])
            for t in request.topic_data
        ])
    response_type = API_BY_KEY[header.api_key].response_type
    response = response_type()
    if "error_code" in response.__slots__:
        setattr(response, "error_code", code)  # noqa: B010 - the type is only known at run time
        return response
    return None


__all__ = ["ROUTES", "CloseConnection", "Route", "advertised_versions", "error_response"]
