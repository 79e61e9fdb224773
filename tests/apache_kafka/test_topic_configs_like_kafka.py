"""Topic configs held to Apache Kafka's: the same names, defaults and types in DescribeConfigs on
a fresh topic, and the same values accepted and refused by IncrementalAlterConfigs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess
from tests.support.apache_kafka import KafkaCluster

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

#: (name, value): values on both sides of each validator, and of each type's range.
CASES = [
    ("segment.bytes", "200"), ("segment.bytes", "1048576"), ("segment.bytes", "2147483648"),
    ("segment.bytes", "1e6"), ("compression.gzip.level", "10"), ("compression.gzip.level", "0"),
    ("compression.gzip.level", "-1"), ("compression.gzip.level", "9"), ("compression.zstd.level", "-131073"),
    ("compression.zstd.level", "22"), ("compression.lz4.level", "18"), ("compression.lz4.level", "1"),
    ("min.cleanable.dirty.ratio", "1.5"), ("min.cleanable.dirty.ratio", "0.2"),
    ("leader.replication.throttled.replicas", "0:1"), ("leader.replication.throttled.replicas", "*"),
    ("leader.replication.throttled.replicas", "x"), ("follower.replication.throttled.replicas", "0:1,1:1"),
    ("remote.storage.enable", "true"), ("remote.storage.enable", "false"), ("segment.index.bytes", "3"),
    ("max.compaction.lag.ms", "0"), ("max.compaction.lag.ms", "1000"), ("local.retention.ms", "-3"),
    ("local.retention.bytes", "-2"), ("message.timestamp.after.max.ms", "-1"),
    ("message.timestamp.before.max.ms", "1000"), ("preallocate", "yes"), ("preallocate", "true"),
    ("unclean.leader.election.enable", "true"), ("index.interval.bytes", "2147483648"),
    ("segment.jitter.ms", "-1"), ("segment.jitter.ms", "10"), ("flush.messages", "0"), ("retention.ms", "-2"),
    ("retention.ms", "-1"), ("max.message.bytes", "-1"), ("file.delete.delay.ms", "0"),
    ("remote.log.copy.disable", "true"), ("remote.log.delete.on.disable", "true"),
    ("message.timestamp.type", "LogAppendTime"), ("message.timestamp.type", "Now"),
    ("delete.retention.ms", "-1"), ("no.such.config", "1"),
]


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("configs") / "data").start()
    yield b
    b.stop()


def fresh_topic(bootstrap: str, name: str) -> AdminClient:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
    return admin


def described(admin: AdminClient, topic: str) -> dict[str, Any]:
    resource = ConfigResource("topic", topic)
    for _ in range(20):
        try:
            return dict(admin.describe_configs([resource])[resource].result(30))
        except ck.KafkaException:  # a new topic Kafka's metadata has not caught up with yet
            time.sleep(0.2)
    raise AssertionError(f"cannot describe {topic}")


def verdicts(admin: AdminClient, topic: str) -> dict[tuple[str, str], str]:
    out = {}
    for name, value in CASES:
        resource = ConfigResource("topic", topic, incremental_configs=[
            ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)])
        try:
            admin.incremental_alter_configs([resource], validate_only=True)[resource].result(30)
            out[(name, value)] = "ok"
        except ck.KafkaException as exc:
            out[(name, value)] = exc.args[0].name()
    return out


def test_the_same_topic_configs_as_apache_kafka(kafka_one: KafkaCluster, ours: BrokerProcess) -> None:
    theirs = described(fresh_topic(kafka_one.bootstrap, "configs-fresh"), "configs-fresh")
    mine = described(fresh_topic(ours.bootstrap, "configs-fresh"), "configs-fresh")
    assert sorted(mine) == sorted(theirs)
    for name, entry in theirs.items():
        if name == "min.insync.replicas":
            continue  # the test bed's cluster sets its own
        assert mine[name].value == entry.value, name
        assert mine[name].source == entry.source, name
        assert mine[name].is_read_only == entry.is_read_only, name


def test_the_same_values_accepted_and_refused_as_apache_kafka(kafka_one: KafkaCluster, ours: BrokerProcess) -> None:
    theirs = verdicts(fresh_topic(kafka_one.bootstrap, "configs-alter"), "configs-alter")
    mine = verdicts(fresh_topic(ours.bootstrap, "configs-alter"), "configs-alter")
    assert mine == theirs


def test_the_same_config_types_as_apache_kafka(kafka_one: KafkaCluster, ours: BrokerProcess) -> None:
    """DescribeConfigs v3+ names each config's type (INT, LONG, DOUBLE, LIST, ...)."""
    from kctl.protocol.messages.describe_configs import DescribeConfigsRequest, DescribeConfigsResource
    from tests.broker.rawclient import RawClient

    def types(bootstrap: str) -> dict[str, int]:
        client = RawClient(bootstrap)
        try:
            response = client.call(DescribeConfigsRequest(
                resources=[DescribeConfigsResource(2, "configs-fresh", None)], include_synonyms=False), 4)
        finally:
            client.close()
        return {c.name: c.config_type for c in response.results[0].configs}

    assert types(ours.bootstrap) == types(kafka_one.bootstrap)
