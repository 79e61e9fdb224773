"""Client quotas on the built-in broker: `kctl quotas` and Kafka's configs tool set and read them,
they survive a restart, bad changes get Apache Kafka's error codes, and a producer over its byte
rate is held to it (with throttle_time_ms in its answers) while other clients are not."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import BrokerProcess


@pytest.fixture
def quota_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data", {"num.partitions": 1}).start()
    yield b
    b.stop()


def kctl(bootstrap: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCTL_")}
    done = subprocess.run([sys.executable, "-m", "kctl", "-b", bootstrap, *args], env=env, capture_output=True,
                          text=True, timeout=60)
    if ok:
        assert done.returncode == 0, f"kctl {' '.join(args)}: {done.stderr}"
    return done


def test_kctl_quotas_set_get_delete_and_survive_a_restart(quota_broker: BrokerProcess) -> None:
    b = quota_broker.bootstrap
    kctl(b, "quotas", "set", "--user", "alice", "--producer-byte-rate", "1048576", "--consumer-byte-rate", "2097152")
    kctl(b, "quotas", "set", "--user-default", "--client-id", "batch", "--producer-byte-rate", "65536")
    rows = json.loads(kctl(b, "quotas", "get", "-o", "json").stdout)
    assert {(r["entity"], r["key"], r["value"]) for r in rows} == {
        ("client-id=batch,user=<default>", "producer_byte_rate", 65536.0),
        ("user=alice", "consumer_byte_rate", 2097152.0),
        ("user=alice", "producer_byte_rate", 1048576.0),
    }
    quota_broker.kill()
    quota_broker.start()
    alice = json.loads(kctl(b, "quotas", "get", "--user", "alice", "-o", "json").stdout)
    assert [(r["key"], r["value"]) for r in alice] == [("consumer_byte_rate", 2097152.0),
                                                       ("producer_byte_rate", 1048576.0)]
    removed = json.loads(kctl(b, "quotas", "delete", "--user", "alice", "--key", "consumer_byte_rate", "--yes",
                              "-o", "json").stdout)
    assert removed["removed"] == ["consumer_byte_rate"]
    assert [r["key"] for r in json.loads(kctl(b, "quotas", "get", "--user", "alice", "-o", "json").stdout)] == [
        "producer_byte_rate"]
    missing = kctl(b, "quotas", "delete", "--user", "bob", "--yes", ok=False)
    assert missing.returncode == 3
    nothing = kctl(b, "quotas", "set", "--user", "bob", ok=False)
    assert nothing.returncode == 2 and "at least one quota" in nothing.stderr


def test_kafkas_configs_tool_sets_and_describes_quotas_here(quota_broker: BrokerProcess) -> None:
    from tests.support.apache_kafka import require_jars, run_tool

    require_jars()
    common = ["--bootstrap-server", quota_broker.bootstrap]
    run_tool("configs", *common, "--alter", "--entity-type", "users", "--entity-name", "carol",
             "--entity-type", "clients", "--entity-name", "app", "--add-config",
             "producer_byte_rate=4096,consumer_byte_rate=8192")
    described = run_tool("configs", *common, "--describe", "--entity-type", "users", "--entity-name", "carol",
                         "--entity-type", "clients", "--entity-name", "app").stdout
    assert "producer_byte_rate=4096.0" in described and "consumer_byte_rate=8192.0" in described
    rows = json.loads(kctl(quota_broker.bootstrap, "quotas", "get", "--user", "carol", "--client-id", "app",
                           "-o", "json").stdout)
    assert [(r["key"], r["value"]) for r in rows] == [("consumer_byte_rate", 8192.0), ("producer_byte_rate", 4096.0)]


def test_bad_quota_changes_get_kafkas_error_codes(quota_broker: BrokerProcess, kafka_one: Any) -> None:
    from kctl.client import Cluster
    from kctl.protocol.errors import ErrorCode
    from kctl.protocol.messages.alter_client_quotas import (
        AlterClientQuotasEntry,
        AlterClientQuotasRequest,
        AlterQuotaEntity,
        QuotaOp,
    )
    from kctl.protocol.messages.describe_client_quotas import ComponentData, DescribeClientQuotasRequest

    def entry(entity: list[tuple[str, str | None]], key: str = "producer_byte_rate", value: float = 1000.0,
              remove: bool = False) -> AlterClientQuotasEntry:
        return AlterClientQuotasEntry([AlterQuotaEntity(t, n) for t, n in entity], [QuotaOp(key, value, remove)])

    cases = {
        "an unknown key": [entry([("user", "u1")], key="bytes_per_fortnight")],
        "an unknown entity type": [entry([("team", "t1")])],
        "ip with a user": [entry([("ip", "10.0.0.1"), ("user", "u1")], key="connection_creation_rate")],
        "a producer rate on an ip": [entry([("ip", "10.0.0.1")])],
        "a good user and client id": [entry([("user", "u2"), ("client-id", "c2")])],
        "a good default user": [entry([("user", None)], key="consumer_byte_rate", value=5000.0)],
        "a connection rate on an ip": [entry([("ip", "10.0.0.2")], key="connection_creation_rate", value=10.0)],
    }

    async def answers(bootstrap: str) -> dict[str, Any]:
        async with Cluster(bootstrap) as cluster:
            node = next(iter(cluster.brokers))
            out: dict[str, Any] = {}
            for name, entries in cases.items():
                response = await cluster.send(node, AlterClientQuotasRequest(entries, False))
                out[name] = [ErrorCode.of(r.error_code).name for r in response.entries]
            described = await cluster.send(node, DescribeClientQuotasRequest([ComponentData("user", 2, None)], False))
            out["users with a name"] = sorted(
                (sorted((e.entity_type, e.entity_name) for e in x.entity), sorted((v.key, v.value) for v in x.values))
                for x in described.entries or [])
            # Apache Kafka's cluster is shared by the session: a default user quota left behind
            # would throttle every later consumer on it.
            removals = [AlterClientQuotasEntry(e.entity, [QuotaOp(op.key, 0.0, True) for op in e.ops])
                        for entries in cases.values() for e in entries]
            await cluster.send(node, AlterClientQuotasRequest(removals, False))
            return out

    theirs = asyncio.run(answers(kafka_one.bootstrap))
    ours = asyncio.run(answers(quota_broker.bootstrap))
    assert ours == theirs
    assert theirs["an unknown key"] == ["INVALID_REQUEST"] and theirs["a good default user"] == ["NONE"]


def _produce_for(bootstrap: str, client_id: str, seconds: float) -> tuple[int, list[int]]:
    """Bytes acknowledged while producing as fast as possible for `seconds`, and the throttle
    times librdkafka reported."""
    from confluent_kafka import Producer

    throttles: list[int] = []
    acked = [0]

    def stats(raw: str) -> None:
        for broker in json.loads(raw)["brokers"].values():
            if broker.get("throttle", {}).get("max"):
                throttles.append(broker["throttle"]["max"])

    def delivered(error: Any, message: Any) -> None:
        if error is None:
            acked[0] += len(message.value())

    producer = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5,
                         "statistics.interval.ms": 500, "stats_cb": stats, "queue.buffering.max.kbytes": 4096})
    value = b"q" * 10_000
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            producer.produce("quota-topic", value, on_delivery=delivered)
        except BufferError:
            producer.poll(0.05)
        producer.poll(0)
    producer.purge()
    producer.flush(10)
    return acked[0], throttles


def test_a_producer_over_its_byte_rate_is_held_to_it_as_on_apache_kafka(quota_broker: BrokerProcess,
                                                                         kafka_one: Any) -> None:
    """The same quota and the same producer on both brokers: about the same bytes get through."""
    rate = 100_000
    got: dict[str, tuple[int, list[int]]] = {}
    for name, bootstrap in (("ours", quota_broker.bootstrap), ("kafka", kafka_one.bootstrap)):
        client = f"slow-{time.time_ns() % 10**9}"
        kctl(bootstrap, "quotas", "set", "--client-id", client, "--producer-byte-rate", str(rate))
        time.sleep(1)  # Apache Kafka applies a quota change through its metadata log
        got[name] = _produce_for(bootstrap, client, 5)
    fast, _ = _produce_for(quota_broker.bootstrap, "fast", 2)
    ours, throttles = got["ours"]
    theirs, _ = got["kafka"]
    # Both take a first burst (Kafka measures a rate over at least ten seconds) and then hold it.
    assert ours <= theirs * 1.5 + 200_000, (ours, theirs)
    assert ours >= theirs * 0.3, (ours, theirs)
    assert fast > 5 * ours, (fast, ours)
    assert throttles and max(throttles) > 0  # the answers said how long to back off


def _consume_for(bootstrap: str, topic: str, client_id: str, seconds: float) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": client_id, "client.id": client_id,
                         "enable.auto.commit": False, "fetch.max.bytes": 1_048_576})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in consumer.consume(100, 0.2):
            if message.error() is None:
                got += len(message.value())
    consumer.close()
    return got


def test_a_consumer_over_its_byte_rate_is_held_to_it_as_on_apache_kafka(quota_broker: BrokerProcess,
                                                                        kafka_one: Any) -> None:
    from confluent_kafka import Producer

    rate, total = 100_000, 4_000_000
    got: dict[str, tuple[int, int]] = {}
    for name, bootstrap in (("ours", quota_broker.bootstrap), ("kafka", kafka_one.bootstrap)):
        topic = f"fetch-quota-{time.time_ns() % 10**9}"
        # One record per batch on both brokers: how many whole batches fit under the quota must not
        # depend on how the producer happened to batch them.
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 16_384})
        for _ in range(total // 10_000):
            producer.produce(topic, b"f" * 10_000)
        assert producer.flush(30) == 0
        client = f"reader-{time.time_ns() % 10**9}"
        kctl(bootstrap, "quotas", "set", "--client-id", client, "--consumer-byte-rate", str(rate))
        time.sleep(1)  # Apache Kafka applies a quota change through its metadata log
        got[name] = (_consume_for(bootstrap, topic, client, 5), _consume_for(bootstrap, topic, "free-" + client, 3))
    (ours, free), (theirs, _) = got["ours"], got["kafka"]
    assert free == total  # an unthrottled client reads it all
    assert ours <= theirs * 1.5 + 300_000, (ours, theirs)
    assert ours >= theirs * 0.3, (ours, theirs)
    assert ours < total / 2
