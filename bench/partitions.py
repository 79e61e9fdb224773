"""Partitions at scale: the built-in broker with 100,000 partitions under a 20,000-descriptor limit.

The broker runs with RLIMIT_NOFILE 20,000 (soft and hard). 1,000 topics of 100 partitions are
created, a record is produced to every partition with confluent-kafka, then the broker is
restarted twice (SIGTERM, then kill -9) and every record is read back after each. Printed:
creation time, peak RSS, descriptors held, time from each restart to listening.

    python bench/partitions.py            # 100,000 partitions
    python bench/partitions.py --quick    # 10,000 partitions, for CI

Targets (100,000 partitions): RSS at most 500 MB, restart to listening within 20 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.broker.conftest import BrokerProcess  # noqa: E402

LIMIT = 20_000
PER_TOPIC = 100


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident MB of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def read_all(bootstrap: str, topics: list[str]) -> int:
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-partitions",
                            "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    consumer.assign([ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for t in topics for p in range(PER_TOPIC)])
    seen = 0
    expected = len(topics) * PER_TOPIC
    deadline = time.monotonic() + 600
    try:
        while seen < expected and time.monotonic() < deadline:
            seen += sum(1 for m in consumer.consume(10_000, timeout=1.0) if m.error() is None)
    finally:
        consumer.close()
    return seen


def restart_seconds(broker: BrokerProcess, kill: bool) -> float:
    if kill:
        broker.kill()
    else:
        broker.stop()
    started = time.perf_counter()
    broker.start()  # returns once the port accepts connections
    return time.perf_counter() - started


def main() -> int:
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, NewTopic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 partitions (CI)")
    args = parser.parse_args()
    topics = [f"scale-{i:04d}" for i in range(100 if args.quick else 1000)]
    partitions = len(topics) * PER_TOPIC
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-partitions-bench-")) / "data",
                           max_open_files=LIMIT).start()
    assert broker.proc is not None
    try:
        started = time.perf_counter()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for i in range(0, len(topics), 100):
            for future in admin.create_topics([NewTopic(t, PER_TOPIC, 1) for t in topics[i:i + 100]],
                                              operation_timeout=120).values():
                future.result(300)
        created = time.perf_counter() - started
        producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20,
                                "queue.buffering.max.messages": partitions + 10})
        for t in topics:
            for p in range(PER_TOPIC):
                producer.produce(t, value=b"x" * 100, partition=p)
        assert producer.flush(600) == 0, "not every record was acknowledged"
        del producer, admin  # they would keep reconnecting (and saying so) while the broker restarts
        _, peak_after_produce = rss_mb(broker.proc.pid)
        descriptors = broker.open_files()
        read = read_all(broker.bootstrap, topics)
        _, peak = rss_mb(broker.proc.pid)
        clean = restart_seconds(broker, kill=False)
        read_clean = read_all(broker.bootstrap, topics)
        killed = restart_seconds(broker, kill=True)
        read_killed = read_all(broker.bootstrap, topics)
        assert broker.proc is not None
        after_restart, _ = rss_mb(broker.proc.pid)
    finally:
        broker.stop()
    print(f"\nbuilt-in broker, {partitions:,} partitions, RLIMIT_NOFILE {LIMIT:,}")
    rows = [
        ("create (1,000 topics per 100 at a time)" if not args.quick else "create", f"{created:.1f} s"),
        ("peak RSS after producing and reading", f"{max(peak, peak_after_produce):.0f} MB"),
        ("RSS after restarting", f"{after_restart:.0f} MB"),
        ("descriptors held after producing", f"{descriptors:,}"),
        ("records read back (of one per partition)", f"{read:,} / clean restart {read_clean:,} / "
                                                      f"kill -9 {read_killed:,}"),
        ("restart to listening after SIGTERM", f"{clean:.1f} s"),
        ("restart to listening after kill -9", f"{killed:.1f} s"),
    ]
    for label, value in rows:
        print(f"{label:44}{value:>40}")
    worst_rss = max(peak, peak_after_produce, after_restart)
    worst_restart = max(clean, killed)
    lost = partitions - min(read, read_clean, read_killed)
    print(f"targets: RSS <= 500 MB: {worst_rss:.0f} MB {'met' if worst_rss <= 500 else 'MISSED'}; restart <= 20 s: "
          f"{worst_restart:.1f} s {'met' if worst_restart <= 20 else 'MISSED'}; records lost: {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
