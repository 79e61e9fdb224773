"""aiokafka (no flexible versions, ApiVersions v0, Metadata <= 5) against the broker."""

from __future__ import annotations

import pytest

from .conftest import BrokerProcess
from .interop import CODECS, PARTITIONS, Got, base_timestamp, check_roundtrip, dataset, timestamp_probes

aiokafka = pytest.importorskip("aiokafka")
aioadmin = pytest.importorskip("aiokafka.admin")


async def test_aiokafka_end_to_end(broker: BrokerProcess) -> None:
    # One long scenario on purpose: each step uses the state the one before it left, as a user would.
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.structs import TopicPartition

    topic = "interop-aiokafka"
    admin = aioadmin.AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([aioadmin.NewTopic(topic, PARTITIONS, 1)])
        assert topic in await admin.list_topics()

        base = base_timestamp()
        sent = []
        for index, codec in enumerate(CODECS):
            records = dataset(codec, index, base)
            producer = aiokafka.AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap, compression_type=None if codec == "none" else codec,
                acks="all", linger_ms=5,
            )
            await producer.start()
            try:
                futures = [
                    await producer.send(topic, value=r.value, key=r.key, partition=r.partition,
                                        timestamp_ms=r.timestamp, headers=list(r.headers))
                    for r in records
                ]
                for f in futures:
                    await f
            finally:
                await producer.stop()
            sent += records

        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                                             enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            got: list[Got] = []
            while len(got) < len(sent):
                batch = await consumer.getmany(timeout_ms=5000)
                assert batch, f"stalled after {len(got)} records"
                for tp, messages in batch.items():
                    for m in messages:
                        got.append(Got(tp.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp))
            by_partition = check_roundtrip(sent, got)
        finally:
            await consumer.stop()
        # A fresh consumer with nothing assigned, so lookups do not queue behind long-polled fetches.
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        await consumer.start()
        try:
            for p, ts, offset in timestamp_probes(by_partition):
                answer = await consumer.offsets_for_times({TopicPartition(topic, p): ts})
                assert answer[TopicPartition(topic, p)].offset == offset, (p, ts)
            late = await consumer.offsets_for_times({TopicPartition(topic, 0): base + 10**9})
            assert late == {TopicPartition(topic, 0): None}
        finally:
            await consumer.stop()

        resource = ConfigResource(ConfigResourceType.TOPIC, topic,
                                           configs={"retention.ms": "7200000", "segment.bytes": "1048576"})
        await admin.alter_configs([resource])
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        configs = {}
        for response in responses:
            for result in response.resources:
                error_code, _msg, _type, name, entries = result[:5]
                assert error_code == 0 and name == topic
                for entry in entries:
                    configs[entry[0]] = entry[1]
        assert configs["retention.ms"] == "7200000"
        assert configs["segment.bytes"] == "1048576"
        assert configs["cleanup.policy"] == "delete"
    finally:
        await admin.close()
