"""What the KRaft controllers hold: who leads the metadata quorum and how far each voter and
observer has replicated it (DescribeQuorum, which a broker forwards to the active controller),
and the cluster's feature levels (finalized in ApiVersions, changed with UpdateFeatures), as
`kafka-metadata-quorum.sh` and `kafka-features.sh` show and change them.

DescribeCluster's controller id is not the active controller on KRaft: brokers answer with an
arbitrary broker. The quorum leader is.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kctl.protocol.api import ApiKey

from .cluster import Cluster
from .errors import KafkaError, check

METADATA_TOPIC = "__cluster_metadata"


@dataclass(frozen=True, slots=True)
class QuorumReplica:
    node_id: int
    directory_id: str | None
    log_end_offset: int
    last_fetch_ms: int  # -1: unknown
    last_caught_up_ms: int
    role: str  # Leader, Follower or Observer
    lag: int  # records behind the leader's log end


@dataclass(frozen=True, slots=True)
class QuorumDescription:
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voters: list[QuorumReplica]
    observers: list[QuorumReplica]
    endpoints: dict[int, list[str]] = field(default_factory=dict)  # node -> LISTENER://host:port

    @property
    def max_follower_lag(self) -> int:
        return max((r.lag for r in self.voters + self.observers), default=0)


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    supported_min: int | None  # None: the broker asked does not support it
    supported_max: int | None
    finalized: int  # 0: not finalized (off)
    epoch: int


class UpgradeType(enum.IntEnum):
    """UpdateFeatures' kinds of change."""

    UPGRADE = 1
    SAFE_DOWNGRADE = 2
    UNSAFE_DOWNGRADE = 3


def supports_quorum(cluster: Cluster) -> bool:
    return cluster.version(ApiKey.DESCRIBE_QUORUM) >= 0


async def describe_quorum(cluster: Cluster) -> QuorumDescription:
    """The metadata quorum: raises a KafkaError on a cluster without one (ZooKeeper, or a broker
    that does not forward DescribeQuorum, such as the built-in one)."""
    from kctl.protocol.messages.describe_quorum import (
        DescribeQuorumRequest,
        QuorumPartitionRequest,
        QuorumTopicRequest,
    )

    if not supports_quorum(cluster):
        raise KafkaError("the cluster has no KRaft metadata quorum to describe (DescribeQuorum is not supported)")
    request = DescribeQuorumRequest([QuorumTopicRequest(METADATA_TOPIC, [QuorumPartitionRequest(0)])])
    response = await cluster.retry(lambda: cluster.send_any(request), what="DescribeQuorum")
    check(response.error_code, "describing the metadata quorum", response.error_message or None)
    partition = response.topics[0].partitions[0]
    check(partition.error_code, "describing the metadata quorum", partition.error_message or None)
    leader_end = next((r.log_end_offset for r in partition.current_voters if r.replica_id == partition.leader_id),
                      partition.high_watermark)

    def replica(r: Any, role: str) -> QuorumReplica:
        directory = r.replica_directory_id  # v2+; the zero uuid when unknown
        return QuorumReplica(r.replica_id, str(directory) if directory is not None and directory.int else None,
                             r.log_end_offset, r.last_fetch_timestamp, r.last_caught_up_timestamp, role,
                             max(leader_end - r.log_end_offset, 0))

    voters = [replica(r, "Leader" if r.replica_id == partition.leader_id else "Follower")
              for r in partition.current_voters]
    observers = [replica(r, "Observer") for r in partition.observers]
    endpoints = {n.node_id: [f"{listener.name}://{listener.host}:{listener.port}" for listener in n.listeners]
                 for n in response.nodes}
    return QuorumDescription(partition.leader_id, partition.leader_epoch, partition.high_watermark,
                             sorted(voters, key=lambda r: r.node_id), sorted(observers, key=lambda r: r.node_id),
                             endpoints)


async def active_controller(cluster: Cluster) -> int | None:
    """The active KRaft controller (the quorum leader), or None where there is no quorum to ask."""
    if not supports_quorum(cluster):
        return None
    try:
        return (await describe_quorum(cluster)).leader_id
    except KafkaError:
        return None  # not allowed to describe the cluster, say: fall back to DescribeCluster's answer


async def features(cluster: Cluster) -> list[Feature]:
    """Every feature a broker supports or the cluster has finalized, by name."""
    from kctl import __version__
    from kctl.protocol.messages.api_versions import ApiVersionsRequest

    response = await cluster.retry(lambda: cluster.send_any(ApiVersionsRequest("kctl", __version__)),
                                   what="ApiVersions")
    check(response.error_code, "asking for the cluster's features")
    supported = {f.name: (f.min_version, f.max_version) for f in response.supported_features}
    finalized = {f.name: f.max_version_level for f in response.finalized_features}
    return [Feature(name, supported[name][0] if name in supported else None,
                    supported[name][1] if name in supported else None, finalized.get(name, 0),
                    response.finalized_features_epoch)
            for name in sorted(supported.keys() | finalized.keys())]


async def update_features(cluster: Cluster, levels: Mapping[str, int], kind: UpgradeType, *,
                          validate_only: bool) -> dict[str, KafkaError | None]:
    """Finalize new feature levels (UpdateFeatures, sent to any broker, which forwards it);
    with `validate_only` the controller checks the change and makes none."""
    from kctl.protocol.messages.update_features import FeatureUpdateKey, UpdateFeaturesRequest

    if cluster.version(ApiKey.UPDATE_FEATURES) < 0:
        raise KafkaError("the cluster does not support UpdateFeatures")
    if validate_only and cluster.version(ApiKey.UPDATE_FEATURES) < 1:
        raise KafkaError("the cluster cannot check a feature change without making it (UpdateFeatures v1+)")
    request = UpdateFeaturesRequest(
        feature_updates=[FeatureUpdateKey(name, level, kind != UpgradeType.UPGRADE, int(kind))
                         for name, level in levels.items()],
        validate_only=validate_only)
    response = await cluster.send_any(request)
    whole = KafkaError.from_code(response.error_code, "updating features", response.error_message) \
        if response.error_code else None
    results: dict[str, KafkaError | None] = dict.fromkeys(levels, whole)
    for r in response.results:  # v0-1 answer per feature too
        if r.error_code:
            results[r.feature] = KafkaError.from_code(r.error_code, f"feature {r.feature}", r.error_message)
    return results
