"""Consumer groups with real clients: confluent-kafka (librdkafka), kafka-python, aiokafka and kcat.

Members run as separate processes (group_member.py) so "killed" means SIGKILL: no LeaveGroup, the
coordinator only learns of it when the session times out.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BrokerProcess
from .members import MemberProcess, spread, stop_all, wait_for

ck = pytest.importorskip("confluent_kafka")
kafka = pytest.importorskip("kafka")
pytest.importorskip("aiokafka")

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CLIENTS = ["confluent", "kafka-python", "aiokafka"]
SESSION_MS = 3000
#: Quick groups for tests: a short initial delay, and session timeouts down to one second allowed.
GROUP_SETTINGS: dict[str, object] = {"group.initial.rebalance.delay.ms": 300, "group.min.session.timeout.ms": 1000}


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("groups") / "data", GROUP_SETTINGS).start()
    yield b
    assert b.stop() == 0, b.log()


def create_topic(bootstrap: str, topic: str, partitions: int = 6) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)


def produce(bootstrap: str, topic: str, count: int, start: int = 0) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, start + count):
        producer.produce(topic, f"value-{i}".encode(), f"key-{i}".encode())
    assert producer.flush(30) == 0


def end_offsets(bootstrap: str, topic: str, partitions: int = 6) -> dict[int, int]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "end-offsets-probe"})
    ends = {p: consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
    consumer.close()
    return ends


def committed_via_kafka_python(bootstrap: str, group: str) -> dict[int, int]:
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()}


def committed_via_confluent(bootstrap: str, group: str) -> dict[int, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient({"bootstrap.servers": bootstrap})
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(10)
    return {tp.partition: tp.offset for tp in result.topic_partitions}


def committed_by_another_client(client: str, bootstrap: str, group: str) -> dict[int, int]:
    """Committed offsets as an admin client of a different library sees them."""
    if client == "confluent":
        return committed_via_kafka_python(bootstrap, group)
    return committed_via_confluent(bootstrap, group)


@pytest.mark.parametrize("client", CLIENTS)
def test_three_members_share_then_one_leaves_then_one_dies(group_broker: BrokerProcess, client: str) -> None:
    topic = group = f"spread-{client}"
    create_topic(group_broker.bootstrap, topic)
    members = [MemberProcess(client, group_broker.bootstrap, group, topic, client_id=f"m{i}", session_ms=SESSION_MS)
               for i in range(3)]
    try:
        wait_for(lambda: spread(members, 6, 2), 40, "two partitions each", lambda: members)

        # Another library's admin client sees the group the way Kafka would describe it.
        admin = kafka.KafkaAdminClient(bootstrap_servers=group_broker.bootstrap)
        described = admin.describe_groups([group])[group]
        admin.close()
        assert described["group_state"] == "Stable" and described["protocol_type"] == "consumer"
        assert sorted(m["client_id"] for m in described["members"]) == ["m0", "m1", "m2"]
        assert {m["client_host"] for m in described["members"]} == {"/127.0.0.1"}
        assigned = sorted(p for m in described["members"]
                          for a in m["member_assignment"]["assigned_partitions"] for p in a["partitions"])
        assert assigned == list(range(6))

        members[0].terminate()  # leaves the group
        wait_for(lambda: spread(members[1:], 6, 3), 30, "the other two to take over", lambda: members)

        members[1].kill()  # no goodbye: only the session timeout tells
        took = wait_for(lambda: spread(members[2:], 6, 6), 30, "the survivor to take everything", lambda: members)
        assert took >= SESSION_MS / 1000 * 0.6, "partitions moved before the session could have timed out"
        members[2].terminate()
    finally:
        stop_all(members)


@pytest.mark.parametrize("client", CLIENTS)
def test_commits_survive_a_broker_crash_and_consumers_resume(tmp_path: Path, client: str) -> None:
    broker = BrokerProcess(tmp_path / "data", GROUP_SETTINGS).start()
    topic, group = "resume", f"resume-{client}"
    members: list[MemberProcess] = []
    try:
        create_topic(broker.bootstrap, topic)
        produce(broker.bootstrap, topic, 300)
        first = MemberProcess(client, broker.bootstrap, group, topic, client_id="first", session_ms=SESSION_MS)
        members.append(first)
        wait_for(lambda: first.committed >= 300, 40, "300 records read and committed", lambda: first.committed)
        first.terminate()
        ends = end_offsets(broker.bootstrap, topic)
        assert sum(ends.values()) == 300
        assert committed_by_another_client(client, broker.bootstrap, group) == ends

        broker.kill()  # kill -9: the commits were acknowledged, so they must still be there
        broker.start()
        assert committed_by_another_client(client, broker.bootstrap, group) == ends

        produce(broker.bootstrap, topic, 300, start=300)
        second = MemberProcess(client, broker.bootstrap, group, topic, client_id="second", session_ms=SESSION_MS)
        members.append(second)
        wait_for(lambda: len(second.records) >= 300, 40, "the 300 new records", lambda: len(second.records))
        time.sleep(0.5)  # anything re-read would show up by now
        second.terminate()
        by_partition: dict[int, list[int]] = {}
        for partition, offset in second.records:
            by_partition.setdefault(partition, []).append(offset)
        new_ends = end_offsets(broker.bootstrap, topic)
        for partition, offsets in by_partition.items():
            # Resumed exactly at the committed offset: nothing re-read, nothing skipped.
            assert offsets == list(range(ends[partition], new_ends[partition])), partition
        assert sum(len(v) for v in by_partition.values()) == 300
    finally:
        stop_all(members)
        broker.stop()


def test_mixed_group_of_librdkafka_kafka_python_and_aiokafka(group_broker: BrokerProcess) -> None:
    topic = group = "mixed"
    create_topic(group_broker.bootstrap, topic)
    members = [MemberProcess(client, group_broker.bootstrap, group, topic, client_id=client, session_ms=SESSION_MS)
               for client in CLIENTS]
    try:
        wait_for(lambda: spread(members, 6, 2), 40, "two partitions each across libraries", lambda: members)
        members[1].terminate()
        wait_for(lambda: spread([members[0], members[2]], 6, 3), 30, "librdkafka and aiokafka to take over",
                 lambda: members)
    finally:
        stop_all(members)


def test_static_member_restarts_into_its_old_place(group_broker: BrokerProcess) -> None:
    topic = group = "static"
    create_topic(group_broker.bootstrap, topic)
    session_ms = 10_000
    members = [MemberProcess("confluent", group_broker.bootstrap, group, topic, client_id=f"s{i}",
                             instance_id=f"instance-{i}", session_ms=session_ms) for i in range(2)]
    try:
        wait_for(lambda: spread(members, 6, 3), 40, "three partitions each", lambda: members)
        before = members[0].assigned
        other_history = len(members[1].assignments)
        members[0].kill()
        restarted = MemberProcess("confluent", group_broker.bootstrap, group, topic, client_id="s0",
                                  instance_id="instance-0", session_ms=session_ms)
        members.append(restarted)
        took = wait_for(lambda: restarted.assigned == before, 20, "the same partitions back", lambda: members)
        assert took < session_ms / 1000, "the restarted member had to wait for the old one to time out"
        time.sleep(1)
        assert len(members[1].assignments) == other_history, "the other member was rebalanced"
    finally:
        stop_all(members)


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_kcat_balanced_consumer(group_broker: BrokerProcess) -> None:
    topic, group = "kcat-group", "kcat"
    create_topic(group_broker.bootstrap, topic)
    produce(group_broker.bootstrap, topic, 120)
    done = subprocess.run(
        ["kcat", "-b", group_broker.bootstrap, "-G", group, topic, "-o", "beginning", "-e", "-f", "%p %o\\n",
         "-X", "session.timeout.ms=3000"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = sorted(tuple(map(int, line.split())) for line in done.stdout.splitlines())
    assert len(seen) == 120 and len(set(seen)) == 120
    # kcat commits what it read as it closes.
    assert committed_via_confluent(group_broker.bootstrap, group) == end_offsets(group_broker.bootstrap, topic)
