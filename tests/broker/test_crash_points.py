"""kill -9 at each step of the broker's writes: an append, a segment roll, an index write, a
checkpoint, a cleaning, a deletion, a registry write and an ACL write, just before and just after
the call at the storage seam (`crashing.py`). After a restart, every acknowledged record is read
back by consuming, and the broker serves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .conftest import BrokerProcess, free_port
from .reading import read_partition
from .test_schema_registry import Registry, avro

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import (  # noqa: E402
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

WHEN = ["before", "after"]


def wait_dead(broker: BrokerProcess, seconds: float = 30) -> None:
    assert broker.proc is not None
    try:
        broker.proc.wait(seconds)
    except Exception:
        broker.kill()
        pytest.fail(f"the broker was never killed at {broker.crash_at}:\n{broker.log()[-3000:]}")
    assert broker.proc.returncode == -9, broker.log()[-3000:]


def produce_until_dead(broker: BrokerProcess, topic: str, keys: int = 0) -> dict[str, str]:
    """Produce records one small batch at a time until the broker dies; key -> the last value
    acknowledged for it (each value its own key without `keys`)."""
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1,
                            "message.timeout.ms": 3000, "retries": 0, "log_level": 0})
    acked: dict[str, str] = {}

    def report(err: object, msg: object) -> None:
        if err is None:
            acked[msg.key().decode()] = msg.value().decode()  # type: ignore[attr-defined]

    i = 0
    assert broker.proc is not None
    while broker.proc.poll() is None and i < 20_000:
        for _ in range(20):
            key = f"k{i % keys}" if keys else f"v{i}"
            producer.produce(topic, f"v{i}".encode() + b"." * 200, key=key.encode(), on_delivery=report)
            i += 1
        producer.flush(5)
    producer.flush(5)
    return {k: v.rstrip(".") for k, v in acked.items()}


def read_all(bootstrap: str, topic: str) -> dict[str, list[str]]:
    """Key -> the values read back for it, in order."""
    out: dict[str, list[str]] = {}
    for key, value in read_partition(bootstrap, topic):
        assert key is not None and value is not None
        out.setdefault(key.decode(), []).append(value.decode().rstrip("."))
    return out


def create(bootstrap: str, topic: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config=configs)])[topic].result(20)


def restart_and_check_serving(broker: BrokerProcess) -> None:
    broker.crash_at = None
    broker.start()
    assert "Traceback" not in broker.log().split("starting kctl broker")[-1], broker.log()[-3000:]


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize(("step", "crash_at"), [
    ("append", "write_at:150:{when}"),
    ("roll", "open_segment:4:{when}"),
    ("index write", "append_file:6:{when}"),
    ("checkpoint", "write_atomically:4:{when}:recovery-point"),
    ("fsync", "fsync:5:{when}"),
])
def test_kill_9_while_writing_the_log(tmp_path: Path, step: str, crash_at: str, when: str) -> None:
    broker = BrokerProcess(tmp_path / "data", {"log.flush.offset.checkpoint.interval.ms": 100,
                                               "log.flush.interval.messages": 50})
    broker.start()
    create(broker.bootstrap, "log", **{"internal.segment.bytes": "16384", "index.interval.bytes": "512"})
    broker.stop()
    broker.crash_at = crash_at.format(when=when)
    broker.start()
    acked = produce_until_dead(broker, "log")
    wait_dead(broker)
    assert acked, "nothing was acknowledged before the crash"
    restart_and_check_serving(broker)
    stored = read_all(broker.bootstrap, "log")
    missing = sorted(set(acked) - set(stored))
    assert not missing, f"{len(missing)} acknowledged records lost after kill -9 at {step}: {missing[:5]}"
    create(broker.bootstrap, "after")  # it serves writes again
    assert broker.stop() == 0


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("crash_at", ["write_new_file:1", "replace:1"])
def test_kill_9_while_cleaning(tmp_path: Path, crash_at: str, when: str) -> None:
    broker = BrokerProcess(tmp_path / "data", {"log.cleaner.backoff.ms": 50})
    broker.crash_at = f"{crash_at}:{when}"
    broker.start()
    create(broker.bootstrap, "state", **{"cleanup.policy": "compact", "internal.segment.bytes": "4096",
                                         "min.cleanable.dirty.ratio": "0.01"})
    acked = produce_until_dead(broker, "state", keys=30)
    wait_dead(broker)
    restart_and_check_serving(broker)
    stored = read_all(broker.bootstrap, "state")
    for key, value in acked.items():
        assert key in stored and int(stored[key][-1][1:]) >= int(value[1:]), (key, value, stored.get(key))
    assert broker.stop() == 0


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize(("what", "crash_at"), [("retention", "rename:2"), ("topic deletion", "remove_tree:2")])
def test_kill_9_while_deleting(tmp_path: Path, what: str, crash_at: str, when: str) -> None:
    # No auto-creation: the producer below still knows "gone", and its metadata refreshes after the
    # restart would create it again, as they would on Kafka.
    broker = BrokerProcess(tmp_path / "data", {"log.retention.check.interval.ms": 100,
                                               "auto.create.topics.enable": False})
    broker.start()
    create(broker.bootstrap, "kept")
    create(broker.bootstrap, "going", **{"internal.segment.bytes": "2048", "retention.bytes": "4096"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("gone", 4, 1)])["gone"].result(20)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for i in range(200):
        for partition in range(4):
            producer.produce("gone", b"x" * 100, partition=partition)
        producer.produce("kept", f"v{i}".encode(), key=f"v{i}".encode())
    assert producer.flush(20) == 0
    broker.stop()
    broker.crash_at = f"{crash_at}:{when}"
    broker.start()
    if what == "retention":
        produce_until_dead(broker, "going")
    else:
        deleter = AdminClient({"bootstrap.servers": broker.bootstrap})  # must outlive the future
        deleter.delete_topics(["gone"])["gone"].result(20)
    wait_dead(broker)
    restart_and_check_serving(broker)
    assert set(read_all(broker.bootstrap, "kept")) == {f"v{i}" for i in range(200)}
    topics = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics
    if what == "topic deletion":
        assert "gone" not in topics
        deadline = time.monotonic() + 20
        while any(p.name.startswith("gone-") for p in (tmp_path / "data").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(p.name.startswith("gone-") for p in (tmp_path / "data").iterdir())
    else:
        read_all(broker.bootstrap, "going")  # what retention left is readable
    assert broker.stop() == 0


@pytest.mark.parametrize("when", WHEN)
def test_kill_9_while_the_registry_writes(tmp_path: Path, when: str) -> None:
    broker = BrokerProcess(tmp_path / "data", registry_port=free_port())
    broker.crash_at = f"write_at:4:{when}"  # the fourth record appended anywhere: a registration's
    broker.start()
    registry = Registry(broker.registry_url)
    acknowledged = []
    for i in range(10):
        try:
            status, answer = registry.call("POST", f"/subjects/s{i}-value/versions", avro((f"f{i}", "long", ...)))
        except OSError:
            break
        if status != 200:
            break
        acknowledged.append((f"s{i}-value", answer["id"]))
    wait_dead(broker)
    restart_and_check_serving(broker)
    registry = Registry(broker.registry_url)
    for subject, schema_id in acknowledged:
        assert registry.ok("GET", f"/subjects/{subject}/versions/1")["id"] == schema_id
    assert broker.stop() == 0


@pytest.mark.parametrize("when", WHEN)
def test_kill_9_while_writing_acls(tmp_path: Path, when: str) -> None:
    config = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
              "allow.everyone.if.no.acl.found": True}
    broker = BrokerProcess(tmp_path / "data", config)
    broker.crash_at = f"write_atomically:3:{when}:acls.json"
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    acknowledged = []
    for i in range(5):
        acl = AclBinding(ResourceType.TOPIC, f"t{i}", ResourcePatternType.LITERAL, "User:alice", "*",
                         AclOperation.READ, AclPermissionType.ALLOW)
        try:
            admin.create_acls([acl])[acl].result(5)
        except ck.KafkaException:
            break
        acknowledged.append(f"t{i}")
    wait_dead(broker)
    restart_and_check_serving(broker)
    stored = json.loads((tmp_path / "data" / "acls.json").read_text())  # whole: the old file or the new
    assert acknowledged == ["t0", "t1"]  # the third write was the one killed
    assert {acl[1] for acl in stored} >= set(acknowledged), stored
    assert broker.stop() == 0
