"""Cluster administration: topics, configs, offsets, records, groups, replicas and security.

Requests are batched the way the brokers allow: per partition leader for offsets and records,
per group coordinator for groups (OffsetFetch v8 takes many groups in one request), and sent to
all brokers concurrently. Per-item failures come back as `KafkaError` values in the result;
a failure of the whole call raises.

One client, `Admin`, made of a part per resource (as franz-go's kadm keeps one file per
resource): `topics`, `configs`, `offsets`, `groups`, `replicas` and `security`.
"""

from __future__ import annotations

from .configs import ConfigAdmin, ConfigEntry
from .groups import GroupAdmin, PartitionLag
from .replicas import LogDirDescription, OngoingReassignment, ReplicaAdmin
from .security import SCRAM_MECHANISMS, SecurityAdmin
from .topics import NewTopic, TopicAdmin

__all__ = ["SCRAM_MECHANISMS", "Admin", "ConfigEntry", "LogDirDescription", "NewTopic", "OngoingReassignment",
           "PartitionLag"]


class Admin(TopicAdmin, ConfigAdmin, GroupAdmin, ReplicaAdmin, SecurityAdmin):
    """The admin client: `Admin(cluster)`, with every part's operations."""
