"""Reading a partition back to its end with confluent-kafka: how the durability tests count what
the broker kept."""

from __future__ import annotations

import time

import pytest


def read_partition(bootstrap: str, topic: str, partition: int = 0,
                   seconds: float = 30) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record of one partition, from its start to its end."""
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.monotonic()}",
                            "enable.partition.eof": True, "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(topic, partition, ck.OFFSET_BEGINNING)])
    out: list[tuple[bytes | None, bytes | None]] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == ck.KafkaError._PARTITION_EOF, m.error()
                return out
            out.append((m.key(), m.value()))
        pytest.fail(f"the consumer never reached the end of {topic}-{partition}")
    finally:
        consumer.close()
