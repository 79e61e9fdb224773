"""The exporter's group families, written straight from the lag columns and gzipped as they are
written, read back by prometheus_client's own parser as the same samples its GaugeMetricFamily
would give, with awkward group names escaped."""

from __future__ import annotations

import gzip

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from kctl.ops.groups import GroupLag, Health, LagRows
from kctl.ops.metrics import HEALTH_VALUES, _GroupText, gunzipped, label_value, sample_value


def group(name: str, lag_seconds: bool) -> GroupLag:
    rows = LagRows(name, ["orders", "orders", "pay"], [0, 1, 0], [5, 7, 0], [9, 7, 4], [0, 0, 0])
    if lag_seconds:
        rows.lag_seconds = [12.5, 0.0, None]
        rows.catch_up_seconds = [3.25, None, float("inf")]
    return GroupLag(name, "Empty", None, rows, Health.STALL if lag_seconds else Health.OK)


def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {(s.name, tuple(sorted(s.labels.items())), s.value)
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_group_text_parses_to_the_samples_prometheus_client_would_write() -> None:
    groups = [group("billing", True), group('we"ird\\name\nhere', False)]
    text = _GroupText()
    for g in groups:
        text.add(g)
    members = text.render()
    ours = b"".join(gunzipped(members)).decode()
    assert gzip.decompress(b"".join(members)).decode() == ours  # one multi-member gzip body, as served

    expected: list[GaugeMetricFamily] = []
    columns = {"kafka_consumergroup_current_offset": lambda r: r.committed, "kafka_consumergroup_lag": lambda r: r.lag,
               "kafka_consumergroup_lag_seconds": lambda r: r.lag_seconds,
               "kafka_consumergroup_catchup_seconds": lambda r: r.catch_up_seconds}
    for name, column in columns.items():
        family = GaugeMetricFamily(name, "doc", labels=["consumergroup", "topic", "partition"])
        for g in groups:
            values = column(g.rows) or []
            for topic, partition, value in zip(g.rows.topics, g.rows.partitions, values, strict=False):
                if value is not None:
                    family.add_metric([g.group, topic, str(partition)], value)
        expected.append(family)
    for name, value in (("kafka_consumergroup_lag_sum", lambda g: g.lag),
                        ("kafka_consumergroup_members", lambda g: g.members),
                        ("kafka_consumergroup_health", lambda g: HEALTH_VALUES[g.health])):
        family = GaugeMetricFamily(name, "doc", labels=["consumergroup"])
        for g in groups:
            family.add_metric([g.group], value(g))
        expected.append(family)

    class Families:
        def collect(self) -> list[GaugeMetricFamily]:
            return expected

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())  # type: ignore[arg-type]
    theirs = generate_latest(registry).decode()
    assert samples(ours) == samples(theirs)
    assert len(samples(ours)) == 2 * 3 + 2 * 3 + 2 + 2 + 2 * 3  # offsets, lag; ages and catch-up of one group
    assert ours.count("# TYPE kafka_consumergroup_lag_sum untyped") == 1


def test_label_and_sample_values_follow_the_text_format() -> None:
    assert label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert label_value("plain-name.1") == "plain-name.1"
    assert [sample_value(v) for v in (3, 0.5, float("inf"), float("-inf"))] == ["3.0", "0.5", "+Inf", "-Inf"]
    assert sample_value(float("nan")) == "NaN"
