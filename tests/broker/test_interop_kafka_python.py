"""kafka-python 3.x (idempotent by default, Kafka 4 version floors) against the broker."""

from __future__ import annotations

import pytest

from .conftest import BrokerProcess
from .interop import CODECS, PARTITIONS, Got, base_timestamp, check_roundtrip, dataset, timestamp_probes

kafka = pytest.importorskip("kafka")
kafka_admin = pytest.importorskip("kafka.admin")


def test_kafka_python_end_to_end(broker: BrokerProcess) -> None:
    topic = "interop-kafka-python"
    admin = kafka_admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([kafka_admin.NewTopic(topic, PARTITIONS, 1)])
    assert topic in admin.list_topics()
    described = admin.describe_topics([topic])
    assert len(described[0]["partitions"]) == PARTITIONS

    base = base_timestamp()
    sent = []
    for index, codec in enumerate(CODECS):
        records = dataset(codec, index, base)
        producer = kafka.KafkaProducer(
            bootstrap_servers=broker.bootstrap, compression_type=None if codec == "none" else codec,
            linger_ms=5,
        )
        assert producer.config["enable_idempotence"], "kafka-python 3 is idempotent by default"
        futures = [
            producer.send(topic, value=r.value, key=r.key, partition=r.partition, timestamp_ms=r.timestamp,
                          headers=list(r.headers))
            for r in records
        ]
        producer.flush(60)
        for f in futures:
            f.get(timeout=0)  # raises if the broker refused anything
        producer.close()
        sent += records

    consumer = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False)
    partitions = [kafka.TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    assert sum(ends.values()) == len(sent)
    got: list[Got] = []
    while len(got) < len(sent):
        batch = consumer.poll(timeout_ms=5000)
        assert batch, f"stalled after {len(got)} records"
        for tp, messages in batch.items():
            for m in messages:
                got.append(Got(tp.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp))
    by_partition = check_roundtrip(sent, got)

    for p, ts, offset in timestamp_probes(by_partition):
        answer = consumer.offsets_for_times({kafka.TopicPartition(topic, p): ts})
        assert answer[kafka.TopicPartition(topic, p)].offset == offset, (p, ts)
    assert consumer.offsets_for_times({kafka.TopicPartition(topic, 0): base + 10**9}) == {
        kafka.TopicPartition(topic, 0): None
    }
    consumer.close()

    resource = kafka_admin.ConfigResource(kafka_admin.ConfigResourceType.TOPIC, topic,
                                          configs={"retention.ms": "3600000", "cleanup.policy": "delete"})
    admin.alter_configs([resource])
    described = admin.describe_configs([kafka_admin.ConfigResource(kafka_admin.ConfigResourceType.TOPIC, topic)])
    modified = described["topic"][topic]  # kafka-python lists only settings that differ from the default
    assert set(modified) == {"retention.ms", "cleanup.policy"}, modified
    assert modified["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    assert modified["retention.ms"]["value"] == "3600000"
    admin.close()
