"""Partitions at scale: the built-in broker with 100,000 partitions under a 20,000-descriptor limit.

The broker runs with RLIMIT_NOFILE 20,000 (soft and hard). 1,000 topics of 100 partitions are
created, a record is produced to every partition with confluent-kafka, then the broker is
restarted twice (SIGTERM, then kill -9); each time a consumer reads 1,000 partitions spread over
every topic back and ListOffsets gives every partition's end. Printed:
creation time, peak RSS, descriptors held, time from each restart to listening, and to every
partition open (the broker opens partitions on first use, and the rest in the background).

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


SAMPLE = 1000  # partitions read back by a consumer


def read_back(bootstrap: str, topics: list[str]) -> tuple[int, int]:
    """(records missing from SAMPLE partitions spread over every topic, as a consumer reads
    them; the sum of every partition's log end offset). A consumer assigned all 100,000 partitions at once spends its
    time on per-partition bookkeeping, in librdkafka and in full fetch requests of 100,000
    partitions (the built-in broker has no incremental fetch sessions), so the records are read
    from a sample, and every partition's end is asked by ListOffsets."""
    import asyncio

    import confluent_kafka as ck

    from kctl.client import Admin, Cluster, TopicPartition

    every = max(1, len(topics) * PER_TOPIC // SAMPLE)
    sample = [(t, p) for i, (t, p) in enumerate((t, p) for t in topics for p in range(PER_TOPIC)) if i % every == 0]
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-partitions",
                            "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    consumer.assign([ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for t, p in sample])
    seen = 0
    deadline = time.monotonic() + 300
    try:
        while seen < len(sample) and time.monotonic() < deadline:
            seen += sum(1 for m in consumer.consume(10_000, timeout=1.0) if m.error() is None)
    finally:
        consumer.close()

    async def ends() -> int:
        async with Cluster(bootstrap) as cluster:
            tps = [TopicPartition(t, p) for t in topics for p in range(PER_TOPIC)]
            return sum((await Admin(cluster).end_offsets(tps)).values())

    return len(sample) - seen, asyncio.run(ends())


ALL_OPEN = "every partition is open"


def restart_seconds(broker: BrokerProcess, kill: bool) -> tuple[float, float, float]:
    """(seconds to stop, seconds from starting again to listening, and to every partition open)."""
    opened_before = broker.log().count(ALL_OPEN)
    started = time.perf_counter()
    if kill:
        broker.kill()
    else:
        assert broker.stop(timeout=1800) == 0, broker.log()[-2000:]
    stopped = time.perf_counter() - started
    started = time.perf_counter()
    broker.start(timeout=600)  # returns once the port accepts connections
    listening = time.perf_counter() - started
    while broker.log().count(ALL_OPEN) == opened_before:
        time.sleep(0.2)
    return stopped, listening, time.perf_counter() - started


def create_and_produce(bootstrap: str, topics: list[str]) -> tuple[float, float]:
    """Create the topics 100 at a time and produce one record to every partition; the seconds each took."""
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, NewTopic

    started = time.perf_counter()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for i in range(0, len(topics), 100):
        for future in admin.create_topics([NewTopic(t, PER_TOPIC, 1) for t in topics[i:i + 100]],
                                          operation_timeout=120).values():
            future.result(300)
    created = time.perf_counter() - started
    # librdkafka spends long on a hundred thousand partitions' queues: its default 5-minute
    # delivery timeout would fail records that the broker never even saw. Each record's
    # delivery report is counted: flush() returning 0 says only that none is still queued.
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                            "queue.buffering.max.messages": len(topics) * PER_TOPIC + 10,
                            "message.timeout.ms": 3_600_000})
    failed: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failed.append(str(error))

    produce_started = time.perf_counter()
    for t in topics:
        for p in range(PER_TOPIC):
            producer.produce(t, value=b"x" * 100, partition=p, on_delivery=delivered)
            producer.poll(0)
    assert producer.flush(3600) == 0, "records still queued"
    assert not failed, f"{len(failed)} records not acknowledged, e.g. {failed[0]}"
    # The clients go now: they would keep reconnecting (and saying so) while the broker restarts.
    return created, time.perf_counter() - produce_started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 partitions (CI)")
    args = parser.parse_args()
    topics = [f"scale-{i:04d}" for i in range(100 if args.quick else 1000)]
    partitions = len(topics) * PER_TOPIC
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-partitions-bench-")) / "data",
                           max_open_files=LIMIT).start()
    assert broker.proc is not None
    try:
        created, produced_in = create_and_produce(broker.bootstrap, topics)
        _, peak_after_produce = rss_mb(broker.proc.pid)
        descriptors = broker.open_files()
        read = read_back(broker.bootstrap, topics)
        _, peak = rss_mb(broker.proc.pid)
        clean = restart_seconds(broker, kill=False)
        read_clean = read_back(broker.bootstrap, topics)
        killed = restart_seconds(broker, kill=True)
        read_killed = read_back(broker.bootstrap, topics)
        assert broker.proc is not None
        after_restart, _ = rss_mb(broker.proc.pid)
    finally:
        broker.stop(timeout=1800)  # a clean stop of 100,000 partitions takes longer than a test's
    print(f"\nbuilt-in broker, {partitions:,} partitions, RLIMIT_NOFILE {LIMIT:,}")
    rows = [
        ("create (1,000 topics per 100 at a time)" if not args.quick else "create", f"{created:.1f} s"),
        ("produce one record to each (confluent-kafka)", f"{produced_in:.1f} s"),
        ("peak RSS after producing and reading", f"{max(peak, peak_after_produce):.0f} MB"),
        ("RSS after restarting", f"{after_restart:.0f} MB"),
        ("descriptors held after producing", f"{descriptors:,}"),
        (f"records missing from {SAMPLE:,} partitions read", f"{read[0]} / after SIGTERM {read_clean[0]} / "
                                                            f"after kill -9 {read_killed[0]}"),
        ("log end offsets, summed", f"{read[1]:,} / {read_clean[1]:,} / {read_killed[1]:,}"),
        ("clean stop (SIGTERM)", f"{clean[0]:.1f} s"),
        ("restart to listening after SIGTERM", f"{clean[1]:.1f} s"),
        ("restart to listening after kill -9", f"{killed[1]:.1f} s"),
        ("restart to every partition open, SIGTERM", f"{clean[2]:.1f} s"),
        ("restart to every partition open, kill -9", f"{killed[2]:.1f} s"),
    ]
    for label, value in rows:
        print(f"{label:44}{value:>40}")
    worst_rss = max(peak, peak_after_produce, after_restart)
    worst_restart = max(clean[1], killed[1])
    lost = max(missing + partitions - ends for missing, ends in (read, read_clean, read_killed))
    print(f"targets: RSS <= 500 MB: {worst_rss:.0f} MB {'met' if worst_rss <= 500 else 'MISSED'}; restart <= 20 s: "
          f"{worst_restart:.1f} s {'met' if worst_restart <= 20 else 'MISSED'}; records lost: {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
