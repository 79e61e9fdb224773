"""Rebalances on the consumer group protocol (KIP-848): kctl's built-in broker against Apache
Kafka, with librdkafka consumers (confluent-kafka, `group.protocol=consumer`) as the members.

For each broker in turn (never both at once), with both brokers' default heartbeat interval
(5 s) and assignor (uniform):
- 3 -> 4: three members share a topic of 12 partitions, all holding records; a fourth joins.
  Timed from its subscribe to its first record, and to the moment all four hold three
  partitions each (the group settled).
- 50 joining: fifty members subscribe at once to a topic of 100 partitions. Timed until every
  member holds two partitions and together they hold all 100.
Median of three runs. Target: at most Apache Kafka's time.

    python bench/rebalance.py            # full run
    python bench/rebalance.py --quick    # one run each
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import confluent_kafka as ck

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from broker import ApacheKafkaBroker, Broker, KctlBroker, create_topic  # noqa: E402

MEMBER = {"group.protocol": "consumer", "auto.offset.reset": "earliest", "enable.auto.commit": False,
          "fetch.wait.max.ms": 100}


@dataclass
class Result:
    first_record: list[float] = field(default_factory=list)  # 3 -> 4: the newcomer's first record
    settled_four: list[float] = field(default_factory=list)  # 3 -> 4: all four hold their share
    settled_fifty: list[float] = field(default_factory=list)  # 50 joining: every member holds its share


def fill(bootstrap: str, topic: str, partitions: int) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for p in range(partitions):
        for _ in range(200):
            producer.produce(topic, value=b"x" * 100, partition=p)
    producer.flush(60)


def members(bootstrap: str, group: str, topic: str, count: int) -> list[ck.Consumer]:
    out = []
    for _ in range(count):
        consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, **MEMBER})
        consumer.subscribe([topic])
        out.append(consumer)
    return out


def poll_all(consumers: list[ck.Consumer]) -> int:
    """One poll of each (records are dropped: nobody commits); how many records came."""
    got = 0
    for consumer in consumers:
        got += sum(1 for m in consumer.consume(100, timeout=0) if m.error() is None)
    return got


def settled(consumers: list[ck.Consumer], share: int, partitions: int) -> bool:
    held = [{tp.partition for tp in c.assignment()} for c in consumers]
    return all(len(h) == share for h in held) and len(set().union(*held)) == partitions


def wait_settled(consumers: list[ck.Consumer], share: int, partitions: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not settled(consumers, share, partitions):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(consumers)} members never settled: "
                               f"{sorted(len(c.assignment()) for c in consumers)}")
        poll_all(consumers)
        time.sleep(0.005)


def three_to_four(bootstrap: str, topic: str, group: str) -> tuple[float, float]:
    running = members(bootstrap, group, topic, 3)
    try:
        wait_settled(running, 4, 12)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:  # settled: heartbeats flowing, fetches in progress
            poll_all(running)
        newcomer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, **MEMBER})
        started = time.perf_counter()
        newcomer.subscribe([topic])
        first = None
        everyone = [*running, newcomer]
        while True:
            if first is None and any(m.error() is None for m in newcomer.consume(100, timeout=0)):
                first = time.perf_counter() - started
            poll_all(running)
            if first is not None and settled(everyone, 3, 12):
                return first, time.perf_counter() - started
            if time.perf_counter() - started > 120:
                raise RuntimeError("the group never settled with four members")
            time.sleep(0.005)
    finally:
        for consumer in [*running, *([newcomer] if "newcomer" in locals() else [])]:
            consumer.close()


def fifty_join(bootstrap: str, topic: str, group: str) -> float:
    started = time.perf_counter()
    joining = members(bootstrap, group, topic, 50)
    try:
        wait_settled(joining, 2, 100)
        return time.perf_counter() - started
    finally:
        for consumer in joining:
            consumer.close()


def run(broker: Broker, rounds: int) -> Result:
    result = Result()
    broker.start()
    try:
        create_topic(broker.bootstrap, "rebalance-12", 12)
        create_topic(broker.bootstrap, "rebalance-100", 100)
        fill(broker.bootstrap, "rebalance-12", 12)
        for round_ in range(rounds):
            first, settled_at = three_to_four(broker.bootstrap, "rebalance-12", f"four-{round_}")
            result.first_record.append(first)
            result.settled_four.append(settled_at)
            result.settled_fifty.append(fifty_join(broker.bootstrap, "rebalance-100", f"fifty-{round_}"))
    finally:
        broker.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--only", choices=["kctl", "kafka"], action="append", help="run only this broker")
    args = parser.parse_args()
    wanted = args.only or ["kctl", "kafka"]
    rounds = 1 if args.quick else 3
    brokers: list[Broker] = [b for b in (KctlBroker(), ApacheKafkaBroker()) if b.name in wanted]
    results = {b.name: run(b, rounds) for b in brokers}
    names = list(results)
    print(f"\nRebalances on the consumer protocol, librdkafka {ck.libversion()[0]} members, seconds "
          f"(median of {rounds}; lower is better)")
    print(f"{'':40}" + "".join(f"{n:>10}" for n in names) + ("  kafka/kctl" if len(names) == 2 else ""))
    missed = []
    for label, pick in (("3 -> 4: newcomer's first record", lambda r: r.first_record),
                        ("3 -> 4: all four settled", lambda r: r.settled_four),
                        ("50 members join: all settled", lambda r: r.settled_fifty)):
        values = [statistics.median(pick(results[n])) for n in names]
        line = f"  {label:<38}" + "".join(f"{v:>10.2f}" for v in values)
        if len(values) == 2:
            line += f"{values[1] / values[0]:>11.2f}x"
            if values[0] > values[1]:
                missed.append(label)
        print(line)
    if len(names) == 2:
        print("target: at most Apache Kafka's time: " + ("met" if not missed else "MISSED: " + ", ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
