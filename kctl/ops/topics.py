"""Topic listings and details, as rows, for `kctl topics ...` and the console's topic views."""

from __future__ import annotations

import re
from typing import Any

from kctl.client.admin import Admin
from kctl.client.errors import KafkaError
from kctl.client.types import EARLIEST, LATEST, TopicInfo, TopicPartition
from kctl.protocol.enums import ConfigResourceType

from .errors import BadUsage


def parse_configs(pairs: list[str] | None) -> dict[str, str]:
    """KEY=VALUE pairs, as `-c` takes them."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadUsage(f"config {pair!r} is not KEY=VALUE", "e.g. -c retention.ms=86400000")
        out[key.strip()] = value.strip()
    return out


async def partition_sizes(admin: Admin) -> dict[TopicPartition, int]:
    """Bytes on disk per partition, from DescribeLogDirs; empty where brokers do not offer it."""
    sizes: dict[TopicPartition, int] = {}
    try:
        for dirs in (await admin.describe_log_dirs()).values():
            for d in dirs:
                sizes.update(d.partition_sizes)
    except KafkaError:
        return {}
    return sizes


async def offset_bounds(admin: Admin, partitions: list[TopicPartition]
                        ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(log start, high watermark) per partition."""
    if not partitions:
        return {}, {}
    starts = await admin.list_offsets(dict.fromkeys(partitions, EARLIEST))
    ends = await admin.list_offsets(dict.fromkeys(partitions, LATEST))
    return {tp: o.offset for tp, o in starts.items()}, {tp: o.offset for tp, o in ends.items()}


async def topic_rows(admin: Admin, *, internal: bool = False, matcher: re.Pattern[str] | None = None,
                     with_sizes: bool = False) -> list[dict[str, Any]]:
    """One row per topic: name, partitions, replicas, how many partitions are under-replicated
    and offline, internal, id; `with_sizes` adds records, size, and `high_watermark` (the sum over
    partitions, for rates)."""
    topics = await admin.list_topics(internal=internal)
    rows = []
    for name, info in topics.items():
        if matcher is not None and not matcher.search(name):
            continue
        replicas = max((len(p.replicas) for p in info.partitions.values()), default=0)
        parts = info.partitions.values()
        rows.append({"name": name, "partitions": len(info.partitions), "replicas": replicas,
                     "under_replicated": sum(len(p.isr) < len(p.replicas) for p in parts),
                     "offline": sum(p.leader < 0 for p in parts),
                     "internal": info.internal, "id": str(info.topic_id) if info.topic_id else None})
    if with_sizes and rows:
        await _add_sizes(admin, rows, topics)
    return rows


async def _add_sizes(admin: Admin, rows: list[dict[str, Any]], topics: dict[str, TopicInfo]) -> None:
    by_topic = {r["name"]: [TopicPartition(r["name"], p) for p in topics[r["name"]].partitions] for r in rows}
    starts, ends = await offset_bounds(admin, [tp for mine in by_topic.values() for tp in mine])
    sizes = await partition_sizes(admin)
    for row in rows:
        mine = by_topic[row["name"]]
        row["records"] = sum(max(ends[tp] - starts[tp], 0) for tp in mine)
        row["high_watermark"] = sum(ends[tp] for tp in mine)
        row["size"] = sum(sizes.get(tp, 0) for tp in mine) if sizes else None


#: `kctl configs` resource kinds: the config resource type each names.
CONFIG_KINDS = {"topic": ConfigResourceType.TOPIC, "broker": ConfigResourceType.BROKER,
                "cluster": ConfigResourceType.BROKER, "broker-logger": ConfigResourceType.BROKER_LOGGER,
                "group": ConfigResourceType.GROUP, "client-metrics": ConfigResourceType.CLIENT_METRICS}


def config_resource(kind: str, name: str | None) -> tuple[int, str]:
    """(resource type, resource name) for a `kctl configs` kind: `cluster` is every broker's
    default (the broker resource with no name, as `kafka-configs --entity-default` writes it)."""
    if kind not in CONFIG_KINDS:
        raise BadUsage(f"unknown resource type {kind!r}", f"use one of {', '.join(CONFIG_KINDS)}")
    if kind == "cluster":
        return CONFIG_KINDS[kind], ""
    if not name:
        raise BadUsage(f"a {kind} config needs the {kind}'s name", f"kctl configs get {kind} NAME")
    if kind in ("broker", "broker-logger") and not name.isdigit():
        raise BadUsage(f"a {kind} is named by a broker id, not {name!r}", "list them with `kctl brokers list`")
    return CONFIG_KINDS[kind], name


async def config_rows(admin: Admin, resource_type: int, name: str, *, all_configs: bool = False
                      ) -> list[dict[str, Any]]:
    """Configs with value, source and flags; only the overrides unless `all_configs` (a broker
    logger's levels are all shown: each is set, by default or not)."""
    entries = (await admin.describe_configs(resource_type, [name]))[name]
    if isinstance(entries, KafkaError):
        raise entries
    if resource_type == ConfigResourceType.BROKER_LOGGER:
        all_configs = True
    overrides = ("topic", "dynamic-broker", "dynamic-default-broker", "static-broker", "group", "client-metrics",
                 "dynamic-broker-logger")
    return [{"name": e.name, "value": "(sensitive)" if e.sensitive else e.value, "source": e.source,
             "read_only": e.read_only, "default": e.is_default}
            for e in entries if all_configs or e.source in overrides]


async def topic_detail(admin: Admin, topic: str, *, all_configs: bool = False) -> dict[str, Any]:
    """Per partition: leader, replicas, ISR, log start, high watermark, records, size; and configs."""
    found = (await admin.describe_topics([topic]))[topic]
    if isinstance(found, KafkaError):
        raise found
    tps = [TopicPartition(topic, p) for p in sorted(found.partitions)]
    starts, ends = await offset_bounds(admin, tps)
    sizes = await partition_sizes(admin)
    partitions: list[dict[str, Any]] = []
    for tp in tps:
        p = found.partitions[tp.partition]
        partitions.append({
            "partition": tp.partition, "leader": p.leader, "replicas": p.replicas, "isr": p.isr,
            "out_of_isr": [r for r in p.replicas if r not in p.isr],
            "log_start_offset": starts[tp], "high_watermark": ends[tp],
            "records": max(ends[tp] - starts[tp], 0), "size": sizes.get(tp),
        })
    try:
        configs = await config_rows(admin, ConfigResourceType.TOPIC, topic, all_configs=all_configs)
    except KafkaError:
        configs = []
    for c in configs:
        c.pop("default")
    return {"name": topic, "id": str(found.topic_id) if found.topic_id else None, "internal": found.internal,
            "partitions": partitions, "configs": configs}


def check_new_topic(partitions: int, replication_factor: int) -> None:
    """A new topic's counts: at least one each, or -1 for the broker's default."""
    if partitions == 0 or partitions < -1:
        raise BadUsage(f"a topic needs at least one partition, not {partitions}",
                       "leave out --partitions for the broker's default (num.partitions)")
    if replication_factor == 0 or replication_factor < -1:
        raise BadUsage(f"a topic needs at least one replica, not {replication_factor}",
                       "leave out --replication-factor for the broker's default")
