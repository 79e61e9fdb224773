"""Transactional produce: kctl's built-in broker against Apache Kafka, with Kafka's own
ProducerPerformance (the Java client) writing in transactions.

For each broker in turn (never both at once): ProducerPerformance with `--transactional-id` and
`--transaction-duration-ms` (a commit every that many ms), acks=all, 1 KB and 100 B records into
8 partitions, the median of three runs, and the broker's CPU seconds per GB over each run; then a
read_committed consumer must see every record the tool reported sent (a commit it acknowledged
that readers do not see is a bug, reported and failing the run). Target: throughput at least
Apache Kafka's.

    python bench/transactions.py                      # full run
    python bench/transactions.py --quick              # small counts
    python bench/transactions.py --duration-ms 20     # shorter transactions (more commits)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import confluent_kafka as ck

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from broker import PARTITIONS, ApacheKafkaBroker, Broker, KctlBroker, cpu_seconds, create_topic  # noqa: E402

SIZES = (1000, 100)


@dataclass
class Run:
    mb_s: float
    records_s: float
    cpu_s_per_gb: float
    sent: int


@dataclass
class Result:
    runs: dict[int, list[Run]] = field(default_factory=dict)
    missing: int = 0  # records the tool reported sent that read_committed readers do not see

    def median(self, size: int) -> Run:
        ordered = sorted(self.runs[size], key=lambda r: r.mb_s)
        return ordered[len(ordered) // 2]


def producer_performance(bootstrap: str, topic: str, size: int, count: int, duration_ms: int, pid: int) -> Run:
    from tests.support.apache_kafka import run_tool

    before = cpu_seconds(pid)
    done = run_tool("producer-perf", "--topic", topic, "--num-records", str(count), "--record-size", str(size),
                    "--throughput", "-1", "--transactional-id", f"bench-{topic}",
                    "--transaction-duration-ms", str(duration_ms),
                    "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all", timeout=900, heap="1g")
    cpu = cpu_seconds(pid) - before
    summary = [line for line in done.stdout.splitlines() if "records sent" in line][-1]
    sent = int(re.findall(r"(\d+) records sent", summary)[0])
    records_s, mb_s = (float(x) for x in re.findall(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", summary)[0])
    gigabytes = sent * size / 1e9
    return Run(mb_s * 1.048576, records_s, cpu / gigabytes if gigabytes else float("nan"), sent)


def committed_count(bootstrap: str, topic: str) -> int:
    """Records a read_committed consumer reads from the whole topic."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{time.time_ns()}",
                            "isolation.level": "read_committed", "enable.auto.commit": False,
                            "fetch.max.bytes": 52_428_800})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(PARTITIONS)])
    count = 0
    quiet = time.monotonic()
    try:
        while time.monotonic() - quiet < 3:
            batch = consumer.consume(10_000, 0.5)
            good = sum(1 for m in batch if not m.error())
            if good:
                count += good
                quiet = time.monotonic()
    finally:
        consumer.close()
    return count


def run(broker: Broker, quick: bool, duration_ms: int) -> Result:
    result = Result()
    broker.start()
    assert broker.proc is not None
    try:
        counts = {1000: 30_000 if quick else 300_000, 100: 100_000 if quick else 1_000_000}
        for size in SIZES:
            result.runs[size] = []
            for round_ in range(1 if quick else 3):
                topic = f"txn-{size}-{round_}"
                create_topic(broker.bootstrap, topic, PARTITIONS)
                done = producer_performance(broker.bootstrap, topic, size, counts[size], duration_ms, broker.proc.pid)
                result.runs[size].append(done)
                result.missing += max(done.sent - committed_count(broker.bootstrap, topic), 0)
    finally:
        broker.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one run each")
    parser.add_argument("--duration-ms", type=int, default=100, help="how long each transaction lasts (ms)")
    parser.add_argument("--only", choices=["kctl", "kafka"], action="append", help="run only this broker")
    args = parser.parse_args()
    wanted = args.only or ["kctl", "kafka"]
    brokers: list[Broker] = [b for b in (KctlBroker(), ApacheKafkaBroker()) if b.name in wanted]
    results = {b.name: run(b, args.quick, args.duration_ms) for b in brokers}
    names = list(results)
    print(f"\nProducerPerformance in transactions of {args.duration_ms} ms, acks=all, {PARTITIONS} partitions "
          f"(median of {1 if args.quick else 3})")
    print(f"{'':34}" + "".join(f"{n:>12}" for n in names) + ("  kctl/kafka" if len(names) == 2 else ""))
    behind = []
    for size in SIZES:
        label = "1 KB" if size == 1000 else "100 B"
        for what, pick, fmt, higher in (("MB/s", lambda r: r.mb_s, ".1f", True),
                                        ("records/s", lambda r: r.records_s, ",.0f", True),
                                        ("broker CPU s/GB", lambda r: r.cpu_s_per_gb, ".2f", False)):
            values = [pick(results[n].median(size)) for n in names]
            line = f"  {label} {what:<28}"[:34].ljust(34) + "".join(f"{v:>12{fmt}}" for v in values)
            if len(values) == 2 and values[0] and values[1]:
                ratio = values[0] / values[1] if higher else values[1] / values[0]
                line += f"{ratio:>12.2f}x"
                if what == "MB/s" and values[0] < values[1]:
                    behind.append(label)
            print(line)
    spread = {n: {s: statistics.pstdev([r.mb_s for r in results[n].runs[s]]) for s in SIZES} for n in names}
    print("  spread of runs (MB/s, std dev): " + "; ".join(
        f"{n} " + ", ".join(f"{'1 KB' if s == 1000 else '100 B'} {v:.1f}" for s, v in spread[n].items())
        for n in names))
    if "kafka" in results and "kctl" in results:
        print("target: transactional produce at least Apache Kafka's: "
              + ("met" if not behind else "MISSED: " + ", ".join(behind)))
    lost = {n: r.missing for n, r in results.items() if r.missing}
    if lost:
        print(f"records sent but not visible to read_committed readers: {lost}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
