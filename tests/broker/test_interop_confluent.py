"""confluent-kafka (librdkafka) against the broker: admin, produce per codec, consume, offsets, configs."""

from __future__ import annotations

import pytest

from .conftest import BrokerProcess
from .interop import CODECS, PARTITIONS, Got, base_timestamp, check_roundtrip, dataset, timestamp_probes

ck = pytest.importorskip("confluent_kafka")
admin_mod = pytest.importorskip("confluent_kafka.admin")


def test_confluent_kafka_end_to_end(broker: BrokerProcess) -> None:
    # One long scenario on purpose: each step uses the state the one before it left, as a user would.
    topic = "interop-confluent"
    admin = admin_mod.AdminClient({"bootstrap.servers": broker.bootstrap})

    md = admin.list_topics(timeout=10)
    assert list(md.brokers) == [0] and md.brokers[0].port == broker.port

    admin.create_topics([admin_mod.NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=10)
    md = admin.list_topics(topic, timeout=10)
    assert len(md.topics[topic].partitions) == PARTITIONS

    base = base_timestamp()
    sent = []
    for index, codec in enumerate(CODECS):
        records = dataset(codec, index, base)
        producer = ck.Producer({
            "bootstrap.servers": broker.bootstrap, "compression.type": codec, "acks": "all",
            "enable.idempotence": True, "linger.ms": 5,
        })
        errors: list[object] = []

        def report(err: object, _msg: object, errors: list[object] = errors) -> None:
            if err is not None:
                errors.append(err)

        for r in records:
            producer.produce(topic, r.value, r.key, partition=r.partition, timestamp=r.timestamp,
                             headers=list(r.headers), on_delivery=report)
            producer.poll(0)
        assert producer.flush(30) == 0
        assert errors == []
        sent += records

    consumer = ck.Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": "unused-assign-only",
        "enable.auto.commit": False, "enable.partition.eof": True,
    })
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(PARTITIONS)])
    got: list[Got] = []
    at_eof: set[int] = set()
    while len(at_eof) < PARTITIONS:
        for m in consumer.consume(1000, timeout=0.5):
            if m.error():
                assert m.error().code() == ck.KafkaError._PARTITION_EOF, m.error()
                at_eof.add(m.partition())
                continue
            got.append(Got(m.partition(), m.offset(), m.key(), m.value(),
                           tuple(m.headers() or ()), m.timestamp()[1]))
    by_partition = check_roundtrip(sent, got)
    consumer.close()

    # A fresh consumer with nothing assigned, so lookups do not queue behind long-polled fetches.
    consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused-lookups"})

    probes = timestamp_probes(by_partition)
    for p, ts, offset in probes:  # one partition per request: librdkafka merges duplicates
        (answer,) = consumer.offsets_for_times([ck.TopicPartition(topic, p, ts)], timeout=10)
        assert (p, ts, answer.offset) == (p, ts, offset)
    past_end = consumer.offsets_for_times([ck.TopicPartition(topic, 0, base + 10**9)], timeout=10)
    assert past_end[0].offset == -1  # no record that late: librdkafka reports the end as -1
    consumer.close()

    resource = admin_mod.ConfigResource("topic", topic, incremental_configs=[
        admin_mod.ConfigEntry("retention.ms", "86400000", incremental_operation=admin_mod.AlterConfigOpType.SET),
        admin_mod.ConfigEntry("max.message.bytes", "2000000", incremental_operation=admin_mod.AlterConfigOpType.SET),
    ])
    admin.incremental_alter_configs([resource])[resource].result(timeout=10)
    described = admin.describe_configs([admin_mod.ConfigResource("topic", topic)])
    configs = next(iter(described.values())).result(timeout=10)
    assert configs["retention.ms"].value == "86400000"
    assert configs["retention.ms"].source == admin_mod.ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["max.message.bytes"].value == "2000000"
    assert configs["segment.bytes"].source == admin_mod.ConfigSource.DEFAULT_CONFIG.value
    assert not configs["retention.ms"].is_sensitive
