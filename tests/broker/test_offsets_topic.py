"""`__consumer_offsets` as other tools see it, and the coordinator's pure rules.

The records are read back with kafka-python's schema engine driven by Apache Kafka's own JSON
definitions of OffsetCommitKey/Value and GroupMetadataKey/Value, not with our codec, so Burrow,
kminion and Kafka's offsets formatter will understand them too.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.config import BrokerConfig
from broker.durability import Flusher
from broker.groups.coordinator import GroupCoordinator, OffsetToCommit
from broker.groups.group import Group
from broker.groups.offsets_topic import TOPIC
from broker.groups.state import TRANSITIONS, GroupState, IllegalTransition
from broker.storage.manager import LogManager
from kctl.protocol.data import java_string_hash, partition_for

from .conftest import BrokerProcess

ck = pytest.importorskip("confluent_kafka")
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")
SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "kafka-protocol" / "message"
SCHEMAS = ("OffsetCommitKey", "OffsetCommitValue", "GroupMetadataKey", "GroupMetadataValue")


# ---- pure rules ------------------------------------------------------------------------------------
def test_java_string_hash_and_partitioning_match_kafka() -> None:
    # Values of Java's String.hashCode.
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("Aa") == java_string_hash("BB") == 2112
    assert java_string_hash("polygenelubricants") == -(2**31)  # Utils.abs maps this one to 0
    assert java_string_hash("\U0001f600") == 0xD83D * 31 + 0xDE00  # one code point, two UTF-16 units
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("hello", 50) == 99162322 % 50
    assert partition_for("console-consumer-1", 50) == abs(java_string_hash("console-consumer-1")) % 50


def test_the_state_table_is_the_only_way_to_change_state() -> None:
    assert set(TRANSITIONS) == set(GroupState) - {GroupState.ASSIGNING, GroupState.RECONCILING}
    assert TRANSITIONS[GroupState.DEAD] == frozenset()
    group = Group("g")
    with pytest.raises(IllegalTransition):
        group.transition(GroupState.STABLE)  # Empty -> Stable skips the rebalance
    group.transition(GroupState.PREPARING_REBALANCE)
    group.transition(GroupState.COMPLETING_REBALANCE)
    group.transition(GroupState.STABLE)
    group.transition(GroupState.DEAD)
    with pytest.raises(IllegalTransition):
        group.transition(GroupState.EMPTY)
    assert GroupState.parse("completingrebalance") is GroupState.COMPLETING_REBALANCE
    assert GroupState.parse("bogus") is None


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[GroupCoordinator]:
    config = BrokerConfig()
    config.set("offsets.retention.minutes", 1)
    config.set("offsets.topic.num.partitions", 3)
    logs = LogManager(tmp_path, config)
    logs.open()
    logs.create_topic("orders", 2)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    class NeverFlushed(Flusher):
        def flush_soon(self, plog: object) -> asyncio.Future[None]:
            raise AssertionError("no fsync was asked for")

    yield GroupCoordinator(config, logs, NeverFlushed().after_append)
    logs.close()
    loop.close()
    asyncio.set_event_loop(None)


def test_offsets_of_empty_groups_expire_and_the_group_goes(coordinator: GroupCoordinator) -> None:
    now = int(time.time() * 1000)
    minute = 60_000
    errors, wait = coordinator.commit("simple", -1, "", None, -1, [OffsetToCommit("orders", 0, 5, -1, None, -1)])
    assert errors == [0] and wait is None
    # OffsetCommit v2-v4 could ask for its own retention: an explicit expiry wins.
    coordinator.commit("explicit", -1, "", None, 10 * minute, [OffsetToCommit("orders", 1, 9, -1, "m", -1)])
    assert coordinator.expire_offsets(now + minute // 2) == 0
    assert coordinator.expire_offsets(now + 2 * minute) == 1
    assert "simple" not in coordinator.groups  # empty and without offsets: removed
    assert coordinator.committed("explicit", [("orders", 1)])[0][2] is not None
    assert coordinator.expire_offsets(now + 11 * minute) == 1
    assert coordinator.groups == {}

    # What was written replays to the same state: nothing.
    reloaded = GroupCoordinator(BrokerConfig(), coordinator.logs, lambda plog: None)
    assert reloaded.load() == 6  # 2 commits, 2 offset tombstones, 2 group tombstones
    assert reloaded.groups == {}


def test_a_deleted_topics_offsets_go_with_it(coordinator: GroupCoordinator) -> None:
    # As Kafka's coordinator does when partitions are deleted: the offsets go (the tombstones
    # make a restart agree), and an empty group left with none goes at the next retention check.
    coordinator.logs.create_topic("payments", 1)
    coordinator.commit("only-orders", -1, "", None, -1, [OffsetToCommit("orders", p, 5, -1, None, -1) for p in (0, 1)])
    coordinator.commit("both", -1, "", None, -1, [OffsetToCommit("orders", 0, 7, -1, None, -1),
                                                  OffsetToCommit("payments", 0, 3, -1, None, -1)])
    assert coordinator.topic_deleted("orders") == 3
    assert not coordinator.groups["only-orders"].offsets
    assert [(t, p, c.offset if c else None) for t, p, c in coordinator.committed("both", None)] == [("payments", 0, 3)]
    assert coordinator.topic_deleted("orders") == 0
    reloaded = GroupCoordinator(BrokerConfig(), coordinator.logs, lambda plog: None)
    reloaded.load()
    assert [(t, p) for t, p, _ in reloaded.committed("both", None)] == [("payments", 0)]
    replayed = reloaded.groups.get("only-orders")  # a simple group exists by its offsets alone
    assert replayed is None or not replayed.offsets
    assert coordinator.expire_offsets() == 0 and set(coordinator.groups) == {"both"}


def test_offsets_beyond_one_read_of_the_log_replay_after_a_restart(coordinator: GroupCoordinator) -> None:
    # Replay reads the log a megabyte at a time; a batch cut by that boundary is read as a view
    # of the buffer. Its records must still come back (they once failed to decode as views).
    coordinator.logs.create_topic("wide", 500)
    for round_ in range(40):  # about 60 KB a commit, all in the group's one offsets partition
        errors, _ = coordinator.commit("replayed", -1, "", None, -1, [
            OffsetToCommit("wide", p, round_ * 1000 + p, -1, "m" * 40, -1) for p in range(500)])
        assert set(errors) == {0}
    reloaded = GroupCoordinator(BrokerConfig(), coordinator.logs, lambda plog: None)
    assert reloaded.load() == 40 * 500
    committed = reloaded.committed("replayed", None)
    assert [(t, p, c.offset if c else None) for t, p, c in committed] == [
        ("wide", p, 39_000 + p) for p in sorted(range(500))]


def test_commits_are_refused_for_unknown_partitions_and_big_metadata(coordinator: GroupCoordinator) -> None:
    errors, _ = coordinator.commit("g", -1, "", None, -1, [
        OffsetToCommit("orders", 0, 1, -1, "ok", -1),
        OffsetToCommit("orders", 7, 1, -1, "", -1),
        OffsetToCommit("orders", 1, 1, -1, "x" * 5000, -1),
    ])
    assert errors == [0, 3, 12]  # NONE, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE
    assert [tp for tp, _ in coordinator.groups["g"].offsets.items()] == [("orders", 0)]


# ---- the records, read by someone else -----------------------------------------------------------
@pytest.fixture(scope="module")
def kafka_python_decoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not all((SPEC_DIR / f"{name}.json").exists() for name in SCHEMAS):
        pytest.skip(f"Apache Kafka's message definitions are not in {SPEC_DIR}")
    pytest.importorskip("kafka")
    from kafka.protocol.api_data import ApiData

    # kafka-python loads schemas from a package: make one holding Kafka's four definitions.
    root = tmp_path_factory.mktemp("schemas")
    package = root / "consumer_offsets_schemas"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in SCHEMAS:
        shutil.copy(SPEC_DIR / f"{name}.json", package / f"{name}.json")
    sys.path.insert(0, str(root))
    try:
        return {name: type(name, (ApiData,), {}, load_json="consumer_offsets_schemas") for name in SCHEMAS}
    finally:
        sys.path.remove(str(root))


def read_offsets_topic(bootstrap: str) -> list[tuple[int, bytes, bytes | None]]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "offsets-reader",
                            "enable.partition.eof": True, "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(TOPIC, p, ck.OFFSET_BEGINNING) for p in range(50)])
    out: list[tuple[int, bytes, bytes | None]] = []
    eof: set[int] = set()
    deadline = time.monotonic() + 30
    while len(eof) < 50 and time.monotonic() < deadline:
        for m in consumer.consume(500, timeout=0.5):
            if m.error():
                eof.add(m.partition())
            else:
                out.append((m.partition(), m.key(), m.value()))
    consumer.close()
    assert len(eof) == 50
    return out


def test_consumer_offsets_records_decode_with_kafkas_own_definitions(
    tmp_path: Path, kafka_python_decoders: dict[str, Any]
) -> None:
    # Long on purpose: every record kind the log holds, each read back by the other side's decoders.
    from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment

    broker = BrokerProcess(tmp_path / "data", {"group.initial.rebalance.delay.ms": 0}).start()
    try:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("orders", 3, 1)])["orders"].result(10)
        producer = ck.Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(30):
            producer.produce("orders", b"v", str(i).encode())
        producer.flush(10)
        consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "billing", "client.id": "biller",
                                "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe(["orders"])
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 30 and time.monotonic() < deadline:
            seen += len([m for m in consumer.consume(100, timeout=0.2) if m.error() is None])
        consumer.commit(asynchronous=False)
        consumer.close()
        assert seen == 30
        gone = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "gone"})
        gone.commit(offsets=[ck.TopicPartition("orders", 0, 3)], asynchronous=False)
        gone.close()
        admin.delete_consumer_groups(["gone"])["gone"].result(10)

        records = read_offsets_topic(broker.bootstrap)
    finally:
        broker.stop()

    decoders = kafka_python_decoders
    offsets: dict[tuple[str, str, int], int | None] = {}
    groups: list[tuple[str, Any]] = []
    for partition, key, value in records:
        version = int.from_bytes(key[:2], "big")
        if version in (0, 1):
            k = decoders["OffsetCommitKey"].decode(key)
            assert partition == partition_for(k.group, 50)
            if value is None:
                offsets[(k.group, k.topic, k.partition)] = None
            else:
                assert int.from_bytes(value[:2], "big") == 3  # value v3, as Kafka 2.1-4.0 write it
                v = decoders["OffsetCommitValue"].decode(value)
                assert abs(v.commit_timestamp - time.time() * 1000) < 120_000
                offsets[(k.group, k.topic, k.partition)] = v.offset
        else:
            assert version == 2
            k = decoders["GroupMetadataKey"].decode(key)
            assert partition == partition_for(k.group, 50)
            groups.append((k.group, None if value is None else decoders["GroupMetadataValue"].decode(value)))

    billing = {p: o for (g, _, p), o in offsets.items() if g == "billing"}
    assert sum(o or 0 for o in billing.values()) == 30 and set(billing) == {0, 1, 2}
    assert offsets[("gone", "orders", 0)] is None  # deleted: a tombstone follows the commit

    billing_groups = [v for g, v in groups if g == "billing"]
    stable = next(v for v in billing_groups if v is not None and v.members)
    assert (stable.protocol_type, stable.protocol) == ("consumer", "range")
    member = stable.members[0]
    assert (member.client_id, member.client_host, stable.leader) == ("biller", "/127.0.0.1", member.member_id)
    assigned = ConsumerProtocolAssignment.decode(member.assignment)
    assert sorted(p for t in assigned.assigned_partitions for p in t.partitions) == [0, 1, 2]
    assert billing_groups[-1] is not None and billing_groups[-1].members == []  # it emptied when the member left
    assert billing_groups[-1].generation > stable.generation
    assert [v for g, v in groups if g == "gone"] == [None]
