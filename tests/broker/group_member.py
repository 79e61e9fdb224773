"""One consumer-group member in its own process, so tests can kill members for real.

    python group_member.py CLIENT BOOTSTRAP GROUP TOPIC [--instance-id ID] [--session-ms N]
                           [--assignor range|roundrobin] [--client-id NAME]

CLIENT is confluent, kafka-python or aiokafka. The member subscribes to TOPIC, commits after every
batch it reads and prints JSON lines: {"assigned": [...]} whenever its assignment changes,
{"record": [partition, offset]} per record and {"committed": n} after each commit. SIGTERM makes it
close cleanly (leaving the group) and print {"closed": true}; SIGKILL leaves no trace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from typing import Any


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Reporter:
    def __init__(self) -> None:
        self.assigned: list[int] | None = None

    def assignment(self, partitions: list[int]) -> None:
        partitions = sorted(partitions)
        if partitions != self.assigned:
            self.assigned = partitions
            emit(assigned=partitions)


def run_confluent(args: argparse.Namespace, stop: threading.Event) -> None:
    import confluent_kafka as ck

    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "client.id": args.client_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": args.session_ms,
        "heartbeat.interval.ms": max(args.session_ms // 10, 100),
        "max.poll.interval.ms": max(args.session_ms, 10_000),
        "partition.assignment.strategy": args.assignor,
    }
    if args.instance_id:
        config["group.instance.id"] = args.instance_id
    consumer = ck.Consumer(config)
    consumer.subscribe([args.topic])
    reporter = Reporter()
    while not stop.is_set():
        messages = consumer.consume(500, timeout=0.1)
        records = [m for m in messages if m.error() is None]
        for m in records:
            emit(record=[m.partition(), m.offset()])
        if records:
            consumer.commit(asynchronous=False)
            emit(committed=len(records))
        reporter.assignment([tp.partition for tp in consumer.assignment()])
    consumer.close()


def run_kafka_python(args: argparse.Namespace, stop: threading.Event) -> None:
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[args.assignor]
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.client_id,
        group_instance_id=args.instance_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=max(args.session_ms // 10, 100),
        max_poll_interval_ms=max(args.session_ms, 10_000),
        partition_assignment_strategy=[assignor],
    )
    reporter = Reporter()
    while not stop.is_set():
        batches = consumer.poll(100)
        count = 0
        for records in batches.values():
            for r in records:
                emit(record=[r.partition, r.offset])
                count += 1
        if count:
            consumer.commit()
            emit(committed=count)
        reporter.assignment([tp.partition for tp in consumer.assignment()])
    consumer.close()


async def run_aiokafka(args: argparse.Namespace, stop: threading.Event) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[args.assignor]
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.client_id,
        group_instance_id=args.instance_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=max(args.session_ms // 10, 100),
        max_poll_interval_ms=max(args.session_ms, 10_000),
        partition_assignment_strategy=(assignor,),
    )
    await consumer.start()
    reporter = Reporter()
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=100)
        count = 0
        for records in batches.values():
            for r in records:
                emit(record=[r.partition, r.offset])
                count += 1
        if count:
            await consumer.commit()
            emit(committed=count)
        reporter.assignment([tp.partition for tp in consumer.assignment()])
    await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=["confluent", "kafka-python", "aiokafka"])
    parser.add_argument("bootstrap")
    parser.add_argument("group")
    parser.add_argument("topic")
    parser.add_argument("--instance-id")
    parser.add_argument("--session-ms", type=int, default=3000)
    parser.add_argument("--assignor", default="range", choices=["range", "roundrobin"])
    parser.add_argument("--client-id", default="group-member")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.client == "confluent":
        run_confluent(args, stop)
    elif args.client == "kafka-python":
        run_kafka_python(args, stop)
    else:
        asyncio.run(run_aiokafka(args, stop))
    emit(closed=True)


if __name__ == "__main__":
    main()
