"""What the broker advertises in ApiVersions, and the versions it actually serves.

Produce v0-2 are advertised but answered with UNSUPPORTED_VERSION, as Kafka 4 does: librdkafka
before 2.11.1 disables compression unless it sees Produce v0 in the list. SaslHandshake v0 (raw
tokens after it) likewise: librdkafka only tries SASL when v0 is in the list, then uses v1. OffsetFetch v0 (offsets
kept in ZooKeeper) is not offered at all.
"""

from __future__ import annotations

from kctl.protocol.messages.api_versions import ApiVersion, ApiVersionsRequest, ApiVersionsResponse

#: api key -> (advertised min, advertised max)
ADVERTISED: dict[int, tuple[int, int]] = {
    0: (0, 11),  # Produce
    1: (4, 12),  # Fetch
    2: (0, 8),  # ListOffsets
    3: (0, 12),  # Metadata
    8: (0, 9),  # OffsetCommit
    9: (1, 9),  # OffsetFetch
    10: (0, 6),  # FindCoordinator
    11: (0, 9),  # JoinGroup
    12: (0, 4),  # Heartbeat
    13: (0, 5),  # LeaveGroup
    14: (0, 5),  # SyncGroup
    15: (0, 5),  # DescribeGroups
    16: (0, 5),  # ListGroups
    17: (0, 1),  # SaslHandshake
    18: (0, 4),  # ApiVersions
    19: (0, 7),  # CreateTopics
    20: (0, 6),  # DeleteTopics
    21: (0, 2),  # DeleteRecords
    22: (0, 5),  # InitProducerId
    23: (0, 4),  # OffsetForLeaderEpoch
    32: (0, 4),  # DescribeConfigs
    33: (0, 2),  # AlterConfigs
    35: (0, 4),  # DescribeLogDirs
    36: (0, 2),  # SaslAuthenticate
    37: (0, 3),  # CreatePartitions
    42: (0, 2),  # DeleteGroups
    44: (0, 1),  # IncrementalAlterConfigs
    47: (0, 0),  # OffsetDelete
    60: (0, 1),  # DescribeCluster
}

#: Where serving starts when it is above the advertised minimum.
SERVED_FROM: dict[int, int] = {0: 3, 17: 1}


def serves(api_key: int, version: int) -> bool:
    advertised = ADVERTISED.get(api_key)
    if advertised is None:
        return False
    low, high = advertised
    return max(low, SERVED_FROM.get(api_key, low)) <= version <= high


def advertised_versions() -> list[ApiVersion]:
    return [ApiVersion(key, low, high) for key, (low, high) in sorted(ADVERTISED.items())]


def api_versions(request: ApiVersionsRequest) -> ApiVersionsResponse:
    return ApiVersionsResponse(error_code=0, api_keys=advertised_versions(), finalized_features_epoch=-1)
