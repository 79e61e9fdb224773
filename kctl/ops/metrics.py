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
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.types import EARLIEST, TopicPartition

from .alerts import Seen
from .groups import GroupLag, Health, LagHistory, iter_group_lag

#: kafka_consumergroup_health: the verdict as a number, worse higher (PINNED came later: last, so
#: the others keep the numbers dashboards know).
HEALTH_VALUES = {Health.OK: 0, Health.WARN: 1, Health.STALL: 2, Health.STOP: 3, Health.REWIND: 4,
                 Health.PINNED: 5}

PARTITION = ["topic", "partition"]
GROUP_PARTITION = ["consumergroup", "topic", "partition"]


@dataclass(slots=True)
class Look:
    """One look at the cluster: the cluster and partition families, ready to render, and the
    group families already rendered."""

    families: list[Metric] = field(default_factory=list)
    group_text: list[bytes] = field(default_factory=list)  # gzip members (see _GroupText)
    taken_at: float = 0.0  # time.time()
    seen: list[Seen] = field(default_factory=list)  # each group's verdict, for alerts


def _gauge(name: str, doc: str, labels: list[str], samples: Iterable[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


async def look(cluster: Cluster, *, groups: re.Pattern[str] | None = None, topics: re.Pattern[str] | None = None,
               history: Callable[[str], LagHistory] | None = None,
               keep: Callable[[GroupLag], None] | None = None) -> Look:
    """Every series kafka_exporter serves, and kctl's own, for the topics and groups that match.
    `keep` sees each group's look as it goes by (for `kctl.ops.why.WhyHistory`)."""
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
    text = await _group_text(cluster, admin, groups, history, keep)
    return Look(families, text.render(), time.time(), text.seen)


#: The group families, in the order they are served: name, help, type.
GROUP_FAMILIES = (
    ("kafka_consumergroup_current_offset", "The group's committed offset.", "gauge"),
    ("kafka_consumergroup_lag", "Records the group is behind on the partition.", "gauge"),
    # kafka_exporter's name; untyped, because Prometheus reserves a gauge's "_sum" for summaries
    # and `promtool check metrics` flags it (its lint leaves untyped series alone).
    ("kafka_consumergroup_lag_sum", "Records the group is behind, all partitions.", "untyped"),
    ("kafka_consumergroup_members", "Members of the group.", "gauge"),
    ("kafka_consumergroup_lag_seconds", "Age of the record the group would read next (0: caught up).", "gauge"),
    ("kafka_consumergroup_catchup_seconds", "Seconds to catch up at the current consume and produce rates.",
     "gauge"),
    ("kafka_consumergroup_health", "The group's health: 0 OK, 1 WARN, 2 STALL, 3 STOP, 4 REWIND.", "gauge"),
)


def label_value(text: str) -> str:
    """A label value in Prometheus's text format (backslash, quote and newline escaped)."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


def sample_value(value: float) -> str:
    """A sample value as prometheus_client writes it (floats; 3 is 3.0)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class _GroupText:
    """The group families as Prometheus text, written batch by batch straight from the lag
    columns and gzipped as they are written: no object per sample, each batch's rows let go once
    written, and the text itself never held whole (at 500 groups of 1,000 partitions it is about
    150 MB; gzipped, a tenth of that). Each family is a gzip member of its own, so they are
    written side by side and served one after another: a multi-member gzip body, which is what
    Prometheus asks for. A partition's labels are formatted once and shared by every group on it;
    values repeat (lag 0, 3, ...), so their text is cached too."""

    def __init__(self) -> None:
        self.members: dict[str, Any] = {}  # family -> its gzip compressor
        self.out: dict[str, list[bytes]] = {}
        for name, doc, kind in GROUP_FAMILIES:
            self.members[name] = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
            self.out[name] = []
            self._write(name, f"# HELP {name} {doc}\n# TYPE {name} {kind}\n".encode())
        self.partition_labels: dict[tuple[str, int], str] = {}
        self.values: dict[float, str] = {}
        self.seen: list[Seen] = []

    def _write(self, name: str, text: bytes) -> None:
        compressed = self.members[name].compress(text)
        if compressed:
            self.out[name].append(compressed)

    def text_of(self, value: float) -> str:
        found = self.values.get(value)
        if found is None:
            found = self.values[value] = sample_value(value)
        return found

    def add(self, group: GroupLag) -> None:
        self.seen.append(Seen(group.group, group.health, group.lag, group.members))
        rows = group.rows
        labels = self.partition_labels
        where = []
        for topic, partition in zip(rows.topics, rows.partitions, strict=True):
            found = labels.get((topic, partition))
            if found is None:
                found = labels[(topic, partition)] = f'topic="{label_value(topic)}",partition="{partition}"}} '
            where.append(found)
        head = f'{{consumergroup="{label_value(group.group)}",'
        text = self.text_of
        for name, column in (("kafka_consumergroup_current_offset", rows.committed),
                             ("kafka_consumergroup_lag", rows.lag),
                             ("kafka_consumergroup_lag_seconds", rows.lag_seconds),
                             ("kafka_consumergroup_catchup_seconds", rows.catch_up_seconds)):
            if column is None:
                continue
            prefix = name + head
            self._write(name, "".join([f"{prefix}{w}{text(v)}\n" for w, v in zip(where, column, strict=True)
                                       if v is not None]).encode())
        for name, value in (("kafka_consumergroup_lag_sum", group.lag), ("kafka_consumergroup_members", group.members),
                            ("kafka_consumergroup_health", HEALTH_VALUES[group.health])):
            self._write(name, f'{name}{{consumergroup="{label_value(group.group)}"}} {text(value)}\n'.encode())

    def render(self) -> list[bytes]:
        """One gzip member per family, in order."""
        members = []
        for name, _, _ in GROUP_FAMILIES:
            self.out[name].append(self.members[name].flush())
            members.append(b"".join(self.out[name]))
            self.out[name].clear()
        return members


async def _group_text(cluster: Cluster, admin: Admin, groups: re.Pattern[str] | None,
                      history: Callable[[str], LagHistory] | None,
                      keep: Callable[[GroupLag], None] | None = None) -> _GroupText:
    names = sorted(g.group_id for g in await admin.list_groups() if groups is None or groups.search(g.group_id))
    text = _GroupText()
    if names:
        async for batch in iter_group_lag(cluster, names, history=history):
            for g in batch:
                text.add(g)
                if keep is not None:
                    keep(g)
    return text


#: Cheap and still about 10:1 on this repetitive text: the look's time is the budget.
GZIP_LEVEL = 1
GZIP_WBITS = 31  # zlib's gzip container


def gzipped(text: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    return compressor.compress(text) + compressor.flush()


def gunzipped(members: Iterable[bytes], chunk: int = 1 << 20) -> Iterator[bytes]:
    """The text of gzip members, a chunk at a time (for a scraper that does not take gzip)."""
    for member in members:
        inflate = zlib.decompressobj(GZIP_WBITS)
        data = member
        while data:
            yield inflate.decompress(data, chunk)
            data = inflate.unconsumed_tail
        tail = inflate.flush()
        if tail:
            yield tail


def render(families: list[Metric]) -> bytes:
    """Prometheus's text format of these families."""

    class Families(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())
    return generate_latest(registry)


class Exposition:
    """What a scrape gets: the last look's series, rendered and gzipped once when it was taken (at
    500 groups of 1,000 partitions, hundreds of thousands of them), and the exporter's own state,
    rendered per scrape: up, errors, how long the look took and how old its values are. A
    scraper that takes gzip (Prometheus does) gets the members as they are; another gets the
    text inflated as it is sent."""

    def __init__(self) -> None:
        self.values: list[bytes] = []  # gzip members
        self.taken_at = 0.0  # time.time() of the look the values are from
        self.up = 0
        self.errors = 0
        self.refresh_seconds = 0.0

    def keep(self, seen: Look) -> None:
        self.values = [gzipped(render(seen.families)), *seen.group_text]
        self.taken_at = seen.taken_at

    def body(self) -> list[bytes]:
        """The gzip members of a scrape's body."""
        errors = CounterMetricFamily("kafka_exporter_errors", "Looks at the cluster that failed.")
        errors.add_metric([], self.errors)
        age = max(time.time() - self.taken_at, 0.0) if self.taken_at else -1.0
        return [*self.values, gzipped(render([
            _gauge("kafka_exporter_up", "1 when the last look at the cluster worked.", [], [([], self.up)]),
            errors,
            _gauge("kafka_exporter_refresh_seconds", "How long the last look took.", [],
                   [([], self.refresh_seconds)]),
            _gauge("kafka_exporter_values_age_seconds", "Seconds since the served values were looked at "
                   "(-1: none yet).", [], [([], age)]),
        ]))]
