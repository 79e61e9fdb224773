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


def read_values(bootstrap: str, topic: str, isolation: str = "read_committed", partitions: int = 1,
                idle: float = 2.0) -> dict[int, list[str]]:
    """Every value of the topic's first `partitions` partitions, read from the start with
    `isolation` until `idle` seconds pass with nothing new: what such a consumer can see now
    (it does not wait for an end, which an open transaction holds back)."""
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.monotonic_ns()}",
                            "isolation.level": isolation, "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    got: dict[int, list[str]] = {p: [] for p in range(partitions)}
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < idle:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            quiet_since = time.monotonic()
            got[message.partition()].append(message.value().decode())
    finally:
        consumer.close()
    return got


def values(bootstrap: str, topic: str, isolation: str = "read_committed", idle: float = 2.0) -> list[str]:
    """`read_values` of partition 0."""
    return read_values(bootstrap, topic, isolation, 1, idle)[0]
