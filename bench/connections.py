"""Many connections: 1,000 open client connections to one broker, 100 of them producing and
fetching, and the end-to-end latency those 100 see. kctl's built-in broker, Apache Kafka and
Tansu in turn, under the same load.

900 connections are idle clients: each connects, asks ApiVersions and stays open. 50 clients of
kctl's own asyncio client each produce to a partition of their own with acks=all (one
connection) and fetch it back (another): a record every 50 ms each, from a moment of its own,
1,000 records/s in all, every one carrying its send time. Printed: p50, p99, p99.9 and max of the delay from send to
the consumer's hands, the samples taken, and the broker's descriptors.

    python bench/connections.py            # 20 s of load
    python bench/connections.py --quick    # 5 s, kctl's broker only, for CI

Target: p99 under 10 ms on kctl's broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency_clients import percentiles  # noqa: E402


def _broker_bench() -> Any:
    """bench/broker.py, whose broker classes this reuses (by path: `broker` is the broker's package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_broker", ROOT / "bench" / "broker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_broker"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


bench_broker = _broker_bench()

IDLE = 900
PAIRS = 50  # each a producing and a fetching connection
INTERVAL_S = 0.05


async def idle_connections(bootstrap: str, count: int) -> list[asyncio.StreamWriter]:
    """Connections that said hello (ApiVersions) and then keep quiet, as idle clients do."""
    from kctl.protocol.framing import ClientConnection
    from kctl.protocol.messages.api_versions import ApiVersionsRequest

    host, port = bootstrap.rsplit(":", 1)

    async def one() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection(host, int(port))
        _, frame = ClientConnection(client_id="idle").send_request(ApiVersionsRequest(), 0)
        writer.write(frame)
        size = int.from_bytes(await reader.readexactly(4), "big")
        await reader.readexactly(size)
        return writer

    writers: list[asyncio.StreamWriter] = []
    for start in range(0, count, 100):  # a hundred at a time: a listen backlog is finite
        writers += await asyncio.gather(*(one() for _ in range(start, min(count, start + 100))))
    return writers


async def load(bootstrap: str, topic: str, seconds: float) -> list[float]:
    from kctl.client import Cluster, TopicPartition
    from kctl.client.consumer import Consumer
    from kctl.client.producer import Producer

    delays: list[float] = []
    stop_at = time.monotonic() + seconds

    async def pair(index: int) -> None:
        async with Cluster(bootstrap) as cluster, Producer(cluster, linger_ms=0) as producer:
            tp = TopicPartition(topic, index)
            consumer = Consumer(cluster, fetch_max_wait_ms=100)
            consumer.assign([tp])
            async with consumer:
                await consumer.seek_to_end(tp)
                sent = 0
                sending = asyncio.Event()  # cleared once the last send is acknowledged
                sending.set()

                async def read() -> None:
                    # Until the sender is done (its last send may still be in flight at stop_at),
                    # then until every record it sent is here, for at most 5 s more.
                    while sending.is_set() or (time.monotonic() < stop_at + 5 and len(mine) < sent):
                        for records in (await consumer.getmany(timeout_ms=50)).values():
                            now = time.perf_counter_ns()
                            mine.extend((now - int(r.value or b"0")) / 1e6 for r in records)

                mine: list[float] = []
                reader = asyncio.create_task(read())
                # Each client keeps its own time, as independent clients do: 50 sending in the
                # same instant every 50 ms would measure a queue of our own making.
                next_at = time.monotonic() + random.uniform(0, INTERVAL_S)
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                while time.monotonic() < stop_at:
                    await producer.send_and_wait(topic, str(time.perf_counter_ns()).encode(), partition=index)
                    sent += 1
                    next_at += INTERVAL_S
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                sending.clear()
                await reader
                if len(mine) < sent:
                    raise RuntimeError(f"{bootstrap}: pair {index} received {len(mine)} of {sent} records")
                delays.extend(mine)

    await asyncio.gather(*(pair(i) for i in range(PAIRS)))
    return delays


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(broker: Any, seconds: float) -> tuple[tuple[float, float, float, float], int, int, float, float]:
    broker.start()
    try:
        bench_broker.create_topic(broker.bootstrap, "connections", PAIRS)

        async def everything() -> tuple[list[float], int, float, float]:
            idle = await idle_connections(broker.bootstrap, IDLE)
            try:
                ours, theirs = time.process_time(), cpu_seconds(broker.proc.pid)
                delays = await load(broker.bootstrap, "connections", seconds)
                held = len(os.listdir(f"/proc/{broker.proc.pid}/fd"))
                return delays, held, time.process_time() - ours, cpu_seconds(broker.proc.pid) - theirs
            finally:
                for writer in idle:
                    writer.close()

        delays, descriptors, client_cpu, broker_cpu = asyncio.run(everything())
        # CPU per second of load: one core is 1.0. A client near 1.0 is what limits the figures.
        return percentiles(delays), len(delays), descriptors, client_cpu / seconds, broker_cpu / seconds
    finally:
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s of load on kctl's broker only (CI)")
    parser.add_argument("--only", choices=["kctl", "kafka", "tansu"], action="append",
                        help="run only this broker (repeatable)")
    args = parser.parse_args()
    brokers = bench_broker.available_brokers(args.only or (["kctl"] if args.quick else ["kctl", "kafka", "tansu"]))
    seconds = 5.0 if args.quick else 20.0
    results = {b.name: run(b, seconds) for b in brokers}
    print(f"\n{IDLE + 2 * PAIRS} connections, {2 * PAIRS} producing and fetching, "
          f"{PAIRS / INTERVAL_S:,.0f} records/s, acks=all; end-to-end ms")
    print(f"{'':24}" + "".join(f"{name:>12}" for name in results))
    for index, label in enumerate(("p50", "p99", "p99.9", "max")):
        print(f"{label:24}" + "".join(f"{r[0][index]:>12.2f}" for r in results.values()))
    print(f"{'samples':24}" + "".join(f"{r[1]:>12,}" for r in results.values()))
    print(f"{'broker descriptors':24}" + "".join(f"{r[2]:>12,}" for r in results.values()))
    print(f"{'broker CPU (cores)':24}" + "".join(f"{r[4]:>12.2f}" for r in results.values()))
    print(f"{'load generator CPU':24}" + "".join(f"{r[3]:>12.2f}" for r in results.values()))
    if "kctl" in results:
        p99 = results["kctl"][0][1]
        print(f"target: p99 under 10 ms with 1,000 connections: {p99:.2f} ms {'met' if p99 < 10 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
