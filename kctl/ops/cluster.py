"""Cluster health for runbooks: brokers, the controller, and the partitions in trouble.

A partition is offline without a leader, under-replicated when its ISR is smaller than its
replica set, under min ISR when its ISR is smaller than the topic's min.insync.replicas (producers
with acks=all are refused), and at min ISR when it has exactly that many (one more loss refuses
them). The verdict is CRIT when a partition is offline or under min ISR, WARN when one is
under-replicated or a broker holding replicas is not alive, OK otherwise.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.controller import QuorumDescription, describe_quorum, supports_quorum
from kctl.client.errors import KafkaError
from kctl.client.types import PartitionInfo, TopicInfo
from kctl.protocol.enums import ConfigResourceType


class Verdict(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"


#: A partition's troubles: (key in `kctl cluster health`'s JSON, PartitionHealth's property, label).
STATES = (("offline", "unavailable", "offline"), ("under_replicated", "under_replicated", "under-replicated"),
          ("under_min_isr", "under_min_isr", "under min ISR"), ("at_min_isr", "at_min_isr", "at min ISR"))


@dataclass(slots=True)
class PartitionHealth:
    topic: str
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    min_isr: int

    @property
    def unavailable(self) -> bool:
        return self.leader < 0

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def under_min_isr(self) -> bool:
        return len(self.isr) < self.min_isr

    @property
    def at_min_isr(self) -> bool:
        return len(self.isr) == self.min_isr

    @property
    def out_of_isr(self) -> list[int]:
        return [r for r in self.replicas if r not in self.isr]

    @property
    def in_trouble(self) -> bool:
        return self.unavailable or self.under_replicated or self.under_min_isr

    def states(self) -> list[str]:
        return [label for _, prop, label in STATES if getattr(self, prop)]

    def row(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "leader": self.leader,
                "replicas": self.replicas, "isr": self.isr, "out_of_isr": self.out_of_isr}


@dataclass(slots=True)
class ClusterHealth:
    status: Verdict
    controller: int
    brokers: list[dict[str, Any]]  # id, host, port, rack, alive, controller
    partitions: list[PartitionHealth] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        listed = {key: [{"topic": p.topic, "partition": p.partition} for p in self.partitions if getattr(p, prop)]
                  for key, prop, _ in STATES}
        return {"status": self.status, "controller": self.controller, "brokers": self.brokers, **listed}


async def partition_health(admin: Admin, topics: dict[str, TopicInfo] | None = None) -> list[PartitionHealth]:
    """Every partition (of these topics, or all, internal ones too) with its topic's min ISR."""
    if topics is None:
        topics = await admin.list_topics(internal=True)
    described = await admin.describe_configs(ConfigResourceType.TOPIC, list(topics), include_synonyms=False)
    out: list[PartitionHealth] = []
    for name, info in sorted(topics.items()):
        entries = described.get(name)
        min_isr = 1
        if entries is not None and not isinstance(entries, KafkaError):
            min_isr = next((int(e.value) for e in entries if e.name == "min.insync.replicas" and e.value), 1)
        out.extend(_health(name, p, min_isr) for _, p in sorted(info.partitions.items()))
    return out


def _health(topic: str, p: PartitionInfo, min_isr: int) -> PartitionHealth:
    return PartitionHealth(topic, p.partition, p.leader, list(p.replicas), list(p.isr), min_isr)


async def cluster_health(admin: Admin) -> ClusterHealth:
    _, controller, alive = await admin.describe_cluster()
    partitions = await partition_health(admin)
    alive_ids = {b.node_id for b in alive}
    known = sorted(alive_ids | {r for p in partitions for r in p.replicas})
    by_id = {b.node_id: b for b in alive}
    brokers = [{"id": i, "host": by_id[i].host if i in by_id else None, "port": by_id[i].port if i in by_id else None,
                "rack": by_id[i].rack if i in by_id else None, "alive": i in alive_ids, "controller": i == controller}
               for i in known]
    if any(p.unavailable or p.under_min_isr for p in partitions):
        status = Verdict.CRIT
    elif any(p.under_replicated for p in partitions) or len(known) > len(alive_ids):
        status = Verdict.WARN
    else:
        status = Verdict.OK
    return ClusterHealth(status, controller, brokers, partitions)


async def broker_rows(admin: Admin) -> list[dict[str, Any]]:
    """Per broker (alive, or holding replicas): address, rack, alive, controller, and the replicas,
    leaderships and bytes it holds."""
    _, controller, alive = await admin.describe_cluster()
    topics = await admin.list_topics(internal=True)
    replicas: Counter[int] = Counter()
    leaders: Counter[int] = Counter()
    for info in topics.values():
        for p in info.partitions.values():
            replicas.update(p.replicas)
            if p.leader >= 0:
                leaders[p.leader] += 1
    sizes: Counter[int] = Counter()
    for broker, dirs in (await admin.describe_log_dirs()).items():
        sizes[broker] = sum(sum(d.partition_sizes.values()) for d in dirs)
    by_id = {b.node_id: b for b in alive}
    return [{"id": i, "host": by_id[i].host if i in by_id else None, "port": by_id[i].port if i in by_id else None,
             "rack": by_id[i].rack if i in by_id else None, "alive": i in by_id, "controller": i == controller,
             "replicas": replicas[i], "leaders": leaders[i], "size": sizes.get(i) if i in by_id else None}
            for i in sorted(set(by_id) | set(replicas))]


def quorum_replica_rows(quorum: QuorumDescription) -> list[dict[str, Any]]:
    """The KRaft quorum's voters and observers, as `kctl cluster quorum` lists them."""
    return [{"node": r.node_id, "role": r.role, "directory_id": r.directory_id, "log_end_offset": r.log_end_offset,
             "lag": r.lag, "last_fetch_ms": r.last_fetch_ms, "last_caught_up_ms": r.last_caught_up_ms,
             "endpoints": quorum.endpoints.get(r.node_id, [])}
            for r in quorum.voters + quorum.observers]


async def quorum_rows(cluster: Cluster) -> list[dict[str, Any]]:
    """The quorum's rows, or none where there is no KRaft quorum to describe (the built-in
    broker, a ZooKeeper cluster) or describing it is not allowed."""
    if not supports_quorum(cluster):
        return []
    try:
        return quorum_replica_rows(await describe_quorum(cluster))
    except KafkaError:
        return []
