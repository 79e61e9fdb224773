"""Durability: kill -9 the broker under acks=all load, and torn or garbage segment tails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from .conftest import BrokerProcess

ck = pytest.importorskip("confluent_kafka")

PRODUCER = textwrap.dedent("""
    import sys
    import confluent_kafka as ck
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                     "linger.ms": 2, "message.timeout.ms": 120000, "reconnect.backoff.max.ms": 200})
    def acked(err, msg):
        if err is None:
            print(msg.value().decode(), msg.partition(), msg.offset(), flush=True)
        else:
            print("ERROR", err, file=sys.stderr, flush=True)
    for i in range(count):
        while True:
            try:
                p.produce(topic, f"value-{i}".encode(), f"key-{i % 100}".encode(), on_delivery=acked)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if i % 500 == 0:
            p.poll(0.01)
    sys.exit(0 if p.flush(120) == 0 else 3)
""")


def consume_all(bootstrap: str, topic: str, partitions: int) -> list[tuple[int, int, bytes]]:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-check",
                            "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    out: list[tuple[int, int, bytes]] = []
    eof: set[int] = set()
    deadline = time.monotonic() + 60
    while len(eof) < partitions and time.monotonic() < deadline:
        for m in consumer.consume(1000, timeout=0.5):
            if m.error():
                eof.add(m.partition())
            else:
                out.append((m.partition(), m.offset(), m.value()))
    consumer.close()
    assert len(eof) == partitions, "consumer did not reach the end of every partition"
    return out


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)


@pytest.mark.parametrize("settings", [{}, {"log.flush.interval.messages": 1}], ids=["default", "fsync-acks"])
def test_kill_9_under_acks_all_loses_no_acknowledged_record(tmp_path: Path, settings: dict[str, object]) -> None:
    broker = BrokerProcess(tmp_path / "data", settings).start()
    topic = "crash"
    create_topic(broker.bootstrap, topic, 3)
    total = 30_000
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, broker.bootstrap, topic, str(total)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert producer.stdout is not None
    acked_before: list[str] = []
    while len(acked_before) < 5000:
        line = producer.stdout.readline()
        assert line, "producer ended early"
        acked_before.append(line)
    broker.kill()  # SIGKILL mid-stream: no flush, no checkpoint, no clean-shutdown marker
    time.sleep(0.5)
    broker.start()
    # Keep reading through the same buffered file: communicate() would read the raw pipe and
    # lose whatever readline() had already buffered.
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.append(producer.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    reader.join(120)
    if reader.is_alive():
        producer.kill()
        pytest.fail("the producer hung after the broker restarted")
    assert producer.wait(10) == 0
    acked = acked_before + rest[0].splitlines()
    acked_values = {line.split()[0] for line in acked}
    assert len(acked_values) == total, "every record is eventually acknowledged"

    stored = consume_all(broker.bootstrap, topic, 3)
    values = [v.decode() for _, _, v in stored]
    assert len(values) == len(set(values)), "a retried batch was written twice"
    assert acked_values <= set(values)
    # Offsets reported in acks point at the records that were acknowledged.
    by_position = {(p, o): v.decode() for p, o, v in stored}
    for line in acked:
        value, partition, offset = line.split()
        assert by_position[(int(partition), int(offset))] == value
    assert "recovering" in broker.log()
    broker.stop()


def test_garbage_tail_is_truncated_and_earlier_records_survive(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data").start()
    topic = "torn"
    create_topic(broker.bootstrap, topic, 1)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1})
    for i in range(2000):
        producer.produce(topic, f"value-{i}".encode())
        if i % 100 == 99:
            producer.flush(10)
    assert producer.flush(10) == 0
    broker.kill()

    segment = tmp_path / "data" / f"{topic}-0" / f"{0:020d}.log"
    size = segment.stat().st_size
    with open(segment, "ab") as f:
        # A plausible batch header (right magic) whose body never made it, then junk.
        f.write((10**6).to_bytes(8, "big") + (5000).to_bytes(4, "big") + b"\0\0\0\0\x02" + b"\xab" * 300)

    broker.start()
    # Partitions open (and recover) just after the broker listens: wait for this one.
    deadline = time.monotonic() + 20
    while segment.stat().st_size != size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert segment.stat().st_size == size, "the garbage tail was cut off"
    assert "truncating" in broker.log()
    values = [v for _, _, v in consume_all(broker.bootstrap, topic, 1)]
    assert values == [f"value-{i}".encode() for i in range(2000)]

    # The partition keeps working after the repair.
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    producer.produce(topic, b"after")
    assert producer.flush(10) == 0
    assert [v for _, _, v in consume_all(broker.bootstrap, topic, 1)][-1] == b"after"
    broker.stop()


def test_corrupt_batch_in_the_middle_truncates_from_there(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data").start()
    topic = "flipped"
    create_topic(broker.bootstrap, topic, 1)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(10):
        producer.produce(topic, f"value-{i}".encode())
        producer.flush(10)  # one batch per record
    broker.kill()
    segment = tmp_path / "data" / f"{topic}-0" / f"{0:020d}.log"
    data = bytearray(segment.read_bytes())
    batch_size = len(data) // 10
    data[batch_size * 6 + 70] ^= 0xFF  # flip a byte inside the 7th batch's records
    segment.write_bytes(bytes(data))
    broker.start()
    values = [v for _, _, v in consume_all(broker.bootstrap, topic, 1)]
    assert values == [f"value-{i}".encode() for i in range(6)]
    assert "fails its CRC" in broker.log()  # said when the partition opened, which reading it does
    broker.stop()
