"""`kctl transactions` on Apache Kafka and on the built-in broker: list, describe, producers, and a
hanging transaction made on purpose on Apache Kafka (a transactional batch its coordinator never
heard of, with partition verification off, as clients before KIP-890 could leave one), which kctl
finds and aborts while a read_committed consumer stalls behind it and then moves on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kctl.client import Cluster, TopicPartition
from kctl.client.cluster import TRANSACTION
from kctl.client.errors import check
from kctl.protocol.messages.init_producer_id import InitProducerIdRequest
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Record, encode_batch
from tests.broker.conftest import BrokerProcess
from tests.broker.reading import values
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl
from tests.support.apache_kafka import KafkaCluster, require_jars, run_tool

ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("txn-toolkit") / "data").start()
    yield b
    assert b.stop() == 0, b.log()


@pytest.fixture(scope="module")
def kafka_unverified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka that, like brokers before 3.6, takes transactional batches for partitions the
    transaction never added: the way hanging transactions came about."""
    require_jars()
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-unverified"), size=1,
                           overrides={"transaction.partition.verification.enable": "false"}).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    return broker.bootstrap


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def create_topic(bootstrap: str, topic: str) -> None:
    admin = ck_admin.AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([ck_admin.NewTopic(topic, 1, 1)])[topic].result(30)


def kctl_json(tmp_path: Path, bootstrap: str, *args: str) -> Any:
    return json.loads(kctl(isolated_env(tmp_path, bootstrap), *args, "-o", "json").stdout)


def open_transaction(bootstrap: str, topic: str, txid: str) -> Any:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": txid})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"open", partition=0)
    producer.flush(30)
    return producer


def test_list_describe_and_producers(bootstrap: str, tmp_path: Path) -> None:
    topic, txid = unique("tk"), unique("tk")
    create_topic(bootstrap, topic)
    producer = open_transaction(bootstrap, topic, txid)
    listed = {t["transactional_id"]: t for t in kctl_json(tmp_path, bootstrap, "transactions", "list")}
    assert listed[txid]["state"] == "Ongoing"
    described = kctl_json(tmp_path, bootstrap, "transactions", "describe", txid)
    assert described["state"] == "Ongoing" and described["partitions"] == [f"{topic}-0"]
    assert described["duration_ms"] >= 0 and described["producer_id"] == listed[txid]["producer_id"]
    producers = kctl_json(tmp_path, bootstrap, "transactions", "producers", f"{topic}:0")
    assert [(p["producer_id"], p["txn_start_offset"]) for p in producers] == [(described["producer_id"], 0)]
    # Open, but its coordinator has the partition: not hanging.
    assert kctl_json(tmp_path, bootstrap, "transactions", "find-hanging", "--topic", topic,
                     "--max-transaction-timeout", "0") == []
    producer.commit_transaction(30)
    # Apache Kafka answers the commit at PrepareCommit and writes the markers after.
    deadline = time.monotonic() + 15
    while (state := kctl_json(tmp_path, bootstrap, "transactions", "describe", txid)["state"]) != "CompleteCommit":
        assert state == "PrepareCommit" and time.monotonic() < deadline, state
        time.sleep(0.2)
    missing = kctl(isolated_env(tmp_path, bootstrap), "transactions", "describe", "nobody-" + txid, ok=False)
    assert missing.returncode != 0 and "no transactional id" in missing.stderr


async def _hang(bootstrap: str, topic: str, txid: str) -> None:
    """A transactional batch for a partition the transaction never added (no AddPartitionsToTxn)."""
    async with Cluster(bootstrap) as cluster:
        async def init() -> Any:  # a new cluster makes its transaction state topic first
            cluster.forget_coordinator(txid, TRANSACTION)
            got = await cluster.send(await cluster.coordinator(txid, TRANSACTION),
                                     InitProducerIdRequest(txid, 60_000, -1, -1))
            check(got.error_code, "InitProducerId")
            return got

        got = await cluster.retry(init, timeout_s=60)
        batch = encode_batch([Record(value=b"hanging")], producer_id=got.producer_id,
                             producer_epoch=got.producer_epoch, base_sequence=0, transactional=True)
        leader = await cluster.leader(TopicPartition(topic, 0))
        answer = await cluster.send(leader, ProduceRequest(txid, -1, 10_000, [
            TopicProduceData(topic, [PartitionProduceData(0, batch)])]))
        assert answer.responses[0].partition_responses[0].error_code == 0


def test_a_hanging_transaction_on_apache_kafka_is_found_and_aborted(kafka_unverified: KafkaCluster,
                                                                    tmp_path: Path) -> None:
    b, topic, txid = kafka_unverified.bootstrap, unique("hang"), unique("hang")
    create_topic(b, topic)
    plain = ck.Producer({"bootstrap.servers": b})
    plain.produce(topic, value=b"before", partition=0)
    assert plain.flush(30) == 0
    asyncio.run(_hang(b, topic, txid))
    plain.produce(topic, value=b"after", partition=0)
    assert plain.flush(30) == 0
    # The read_committed consumer stalls at the hanging transaction: "after" never comes.
    assert values(b, topic) == ["before"]
    time.sleep(1)
    hanging = kctl_json(tmp_path, b, "transactions", "find-hanging", "--broker", "1", "--max-transaction-timeout", "0")
    mine = [h for h in hanging if h["topic"] == topic]
    assert [(h["partition"], h["txn_start_offset"]) for h in mine] == [(0, 1)], hanging
    assert "coordinator does not have this partition" in mine[0]["why"]
    # Kafka's own tool agrees.
    kafka_says = run_tool("transactions", "--bootstrap-server", b, "find-hanging", "--topic", topic,
                          "--max-transaction-timeout", "0").stdout
    assert f"{topic}" in kafka_says and str(mine[0]["producer_id"]) in kafka_says
    # A dry run changes nothing; --execute writes the abort marker.
    env = isolated_env(tmp_path, b)
    dry = kctl(env, "transactions", "abort", "--topic", topic, "--partition", "0", "--start-offset", "1")
    assert "dry run" in dry.stderr
    assert values(b, topic, idle=1) == ["before"]
    kctl(env, "transactions", "abort", "--topic", topic, "--partition", "0", "--start-offset", "1", "--execute")
    assert values(b, topic) == ["before", "after"]
    assert kctl_json(tmp_path, b, "transactions", "find-hanging", "--topic", topic,
                     "--max-transaction-timeout", "0") == []


def test_kctl_and_kafkas_tool_abort_on_our_broker(ours: BrokerProcess, tmp_path: Path) -> None:
    b = ours.bootstrap
    for tool in ("kctl", "kafka-transactions.sh"):
        topic = unique("ab")
        create_topic(b, topic)
        producer = open_transaction(b, topic, unique("ab"))
        assert values(b, topic, idle=1) == []
        if tool == "kctl":
            kctl(isolated_env(tmp_path, b), "transactions", "abort", "--topic", topic, "--partition", "0",
                 "--start-offset", "0", "--execute")
        else:
            run_tool("transactions", "--bootstrap-server", b, "abort", "--topic", topic, "--partition", "0",
                     "--start-offset", "0")
        plain = ck.Producer({"bootstrap.servers": b})
        plain.produce(topic, value=b"after", partition=0)
        assert plain.flush(30) == 0
        assert values(b, topic) == ["after"], tool  # the aborted record stays hidden
        del producer
