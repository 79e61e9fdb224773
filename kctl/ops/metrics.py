"""What `kctl exporter` serves to Prometheus: the cluster, its partitions and its groups' lag.

Names and labels follow kafka_exporter's (`topic`, `partition`, `consumergroup`), so its
dashboards work unchanged. Three series are kctl's own: lag in seconds, time to catch up, and the
health verdict as a number (`HEALTH_VALUES`).

A look is taken in the background every interval and rendered once; a scrape gets the last
rendering, so a slow cluster never holds one up. The age of what is served is a series of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, UnknownMetricFamily
from prometheus_client.registry import Collector

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.types import EARLIEST, TopicPartition

from .groups import Health, LagHistory, iter_group_lag

#: kafka_consumergroup_health: the verdict as a number, worse higher (PINNED came later: last, so
#: the others keep the numbers dashboards know).
HEALTH_VALUES = {Health.OK: 0, Health.WARN: 1, Health.STALL: 2, Health.STOP: 3, Health.REWIND: 4,
                 Health.PINNED: 5}

PARTITION = ["topic", "partition"]
GROUP_PARTITION = ["consumergroup", "topic", "partition"]


@dataclass(slots=True)
class Look:
    """One look at the cluster, as metric families ready to render."""

    families: list[Metric] = field(default_factory=list)
    taken_at: float = 0.0  # time.time()


def _gauge(name: str, doc: str, labels: list[str], samples: Iterable[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


async def look(cluster: Cluster, *, groups: re.Pattern[str] | None = None, topics: re.Pattern[str] | None = None,
               history: Callable[[str], LagHistory] | None = None) -> Look:
    """Every series kafka_exporter serves, and kctl's own, for the topics and groups that match."""
    admin = Admin(cluster)
    _, _, brokers = await admin.describe_cluster()
    listed = {name: info for name, info in (await admin.list_topics()).items()
              if topics is None or topics.search(name)}
    tps = [(name, p) for name, info in sorted(listed.items()) for p in sorted(info.partitions)]
    ends = await admin.end_offsets([TopicPartition(t, p) for t, p in tps])
    starts = {tp: o.offset for tp, o in
              (await admin.list_offsets(dict.fromkeys([TopicPartition(t, p) for t, p in tps], EARLIEST))).items()}
    parts = [(t, p, listed[t].partitions[p]) for t, p in tps]
    families: list[Metric] = [
        _gauge("kafka_brokers", "Brokers in the cluster.", [], [([], len(brokers))]),
        _gauge("kafka_topic_partitions", "Partitions of the topic.", ["topic"],
               (([name], len(info.partitions)) for name, info in sorted(listed.items()))),
        _gauge("kafka_topic_partition_current_offset", "The partition's log end offset.", PARTITION,
               (([t, str(p)], ends[TopicPartition(t, p)]) for t, p in tps)),
        _gauge("kafka_topic_partition_oldest_offset", "The partition's log start offset.", PARTITION,
               (([t, str(p)], starts[TopicPartition(t, p)]) for t, p in tps)),
        _gauge("kafka_topic_partition_leader", "The partition's leader (broker id).", PARTITION,
               (([t, str(p)], info.leader) for t, p, info in parts)),
        _gauge("kafka_topic_partition_replicas", "Replicas of the partition.", PARTITION,
               (([t, str(p)], len(info.replicas)) for t, p, info in parts)),
        _gauge("kafka_topic_partition_in_sync_replica", "In-sync replicas of the partition.", PARTITION,
               (([t, str(p)], len(info.isr)) for t, p, info in parts)),
        _gauge("kafka_topic_partition_under_replicated_partition", "1 when the partition is under-replicated.",
               PARTITION, (([t, str(p)], int(len(info.isr) < len(info.replicas))) for t, p, info in parts)),
    ]
    families += await _group_families(cluster, admin, groups, history)
    return Look(families, time.time())


async def _group_families(cluster: Cluster, admin: Admin, groups: re.Pattern[str] | None,
                          history: Callable[[str], LagHistory] | None) -> list[Metric]:
    names = sorted(g.group_id for g in await admin.list_groups() if groups is None or groups.search(g.group_id))
    current = GaugeMetricFamily("kafka_consumergroup_current_offset", "The group's committed offset.",
                                labels=GROUP_PARTITION)
    lag = GaugeMetricFamily("kafka_consumergroup_lag", "Records the group is behind on the partition.",
                            labels=GROUP_PARTITION)
    lag_seconds = GaugeMetricFamily("kafka_consumergroup_lag_seconds",
                                    "Age of the record the group would read next (0: caught up).",
                                    labels=GROUP_PARTITION)
    catchup = GaugeMetricFamily("kafka_consumergroup_catchup_seconds",
                                "Seconds to catch up at the current consume and produce rates.",
                                labels=GROUP_PARTITION)
    # kafka_exporter's name; untyped, because Prometheus reserves a gauge's "_sum" for summaries and
    # `promtool check metrics` flags it (its lint leaves untyped series alone).
    lag_sum = UnknownMetricFamily("kafka_consumergroup_lag_sum", "Records the group is behind, all partitions.",
                                  labels=["consumergroup"])
    members = GaugeMetricFamily("kafka_consumergroup_members", "Members of the group.", labels=["consumergroup"])
    health = GaugeMetricFamily("kafka_consumergroup_health",
                               "The group's health: 0 OK, 1 WARN, 2 STALL, 3 STOP, 4 REWIND.",
                               labels=["consumergroup"])
    if names:
        async for batch in iter_group_lag(cluster, names, history=history):
            for g in batch:
                rows = g.rows  # column by column: no dict per row
                n = len(rows)
                ages = rows.lag_seconds or [None] * n
                catch_up = rows.catch_up_seconds or [None] * n
                for topic, partition, committed, behind, age, catching_up in zip(
                        rows.topics, rows.partitions, rows.committed, rows.lag, ages, catch_up, strict=True):
                    where = [g.group, topic, str(partition)]
                    current.add_metric(where, committed)
                    lag.add_metric(where, behind)
                    if age is not None:
                        lag_seconds.add_metric(where, age)
                    if catching_up is not None:
                        catchup.add_metric(where, catching_up)
                lag_sum.add_metric([g.group], g.lag)
                members.add_metric([g.group], g.members)
                health.add_metric([g.group], HEALTH_VALUES[g.health])
    return [current, lag, lag_sum, members, lag_seconds, catchup, health]


def render(families: list[Metric]) -> bytes:
    """Prometheus's text format of these families."""

    class Families(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())
    return generate_latest(registry)


class Exposition:
    """What a scrape gets: the last look's series, rendered once when it was taken (at 500 groups
    of 1,000 partitions, hundreds of thousands of them), and the exporter's own state, rendered per
    scrape: up, errors, how long the look took and how old its values are."""

    def __init__(self) -> None:
        self.values = b""
        self.taken_at = 0.0  # time.time() of the look the values are from
        self.up = 0
        self.errors = 0
        self.refresh_seconds = 0.0

    def keep(self, seen: Look) -> None:
        self.values = render(seen.families)
        self.taken_at = seen.taken_at

    def body(self) -> bytes:
        errors = CounterMetricFamily("kafka_exporter_errors", "Looks at the cluster that failed.")
        errors.add_metric([], self.errors)
        age = max(time.time() - self.taken_at, 0.0) if self.taken_at else -1.0
        return self.values + render([
            _gauge("kafka_exporter_up", "1 when the last look at the cluster worked.", [], [([], self.up)]),
            errors,
            _gauge("kafka_exporter_refresh_seconds", "How long the last look took.", [],
                   [([], self.refresh_seconds)]),
            _gauge("kafka_exporter_values_age_seconds", "Seconds since the served values were looked at "
                   "(-1: none yet).", [], [([], age)]),
        ])
