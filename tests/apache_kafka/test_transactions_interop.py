"""Transactions with real clients, on the built-in broker and on Apache Kafka side by side: Kafka's
Java client (commit, abort, zombie fencing, consume-transform-produce), a Kafka Streams app with
exactly_once_v2, confluent-kafka, and Kafka's TransactionsCommand. What a client sees must be the
same on both brokers. The Java apps run with the test bed's reference client and, on the built-in
broker, with the older release's client (3.9.1) too."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import BrokerProcess
from tests.broker.reading import read_values
from tests.support.apache_kafka import KafkaCluster, kafka_version, releases, require_jars, run_tool

ck = pytest.importorskip("confluent_kafka")
ck_admin = pytest.importorskip("confluent_kafka.admin")

JAVA = Path(__file__).resolve().parents[1] / "support" / "java"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    require_jars()
    b = BrokerProcess(tmp_path_factory.mktemp("transactions") / "data",
                      {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}).start()
    yield b
    assert b.stop() == 0, b.log()


@pytest.fixture(scope="module", params=["ours", "kafka_one"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(request.param)
    return broker.bootstrap


#: (broker, Java client version): every client on the built-in broker, the test bed's on Apache Kafka.
JAVA_TARGETS = [("ours", v) for v in releases()] + [("kafka_one", kafka_version())]


@pytest.fixture(scope="module", params=JAVA_TARGETS, ids=[f"{b}-java-{v}" for b, v in JAVA_TARGETS])
def java_target(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """(bootstrap, the client's jars)."""
    name, version = request.param
    broker: BrokerProcess | KafkaCluster = request.getfixturevalue(name)
    return broker.bootstrap, require_jars(version)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = ck_admin.AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([ck_admin.NewTopic(topic, partitions, 1)])[topic].result(30)


def java(program: str, lib: Path, *args: str, timeout: float = 120) -> dict[str, str]:
    """Run one of the Java programs beside the tests with the client in `lib`; its `key=value`
    words, parsed."""
    done = subprocess.run(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                           "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{lib}/*",
                           str(JAVA / program), *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{program} {args} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
    return dict(word.split("=", 1) for word in done.stdout.split() if "=" in word)


# ---- Kafka's Java client -----------------------------------------------------------------------
def test_java_commit_and_abort(java_target: tuple[str, Path]) -> None:
    bootstrap, lib = java_target
    topic = unique("jtx")
    create_topic(bootstrap, topic)
    seen = java("TxnClients.java", lib, "commit-abort", bootstrap, topic, unique("tx"), "5")
    assert seen["read_committed"] == "committed:5,after:5"
    assert seen["read_uncommitted"] == "committed:5,aborted:5,after:5"
    # 15 records and three markers: the end offset a read_committed reader sees is the log end.
    assert seen["end_offset"] == "18"


def test_java_zombie_is_fenced(java_target: tuple[str, Path]) -> None:
    bootstrap, lib = java_target
    topic = unique("fence")
    create_topic(bootstrap, topic)
    seen = java("TxnClients.java", lib, "fence", bootstrap, topic, unique("tx"))
    assert seen["zombie"] in ("ProducerFencedException", "InvalidProducerEpochException"), seen
    assert seen["read_committed"] == "successor:1"  # the zombie's open transaction was aborted


def test_java_consume_transform_produce(java_target: tuple[str, Path]) -> None:
    bootstrap, lib = java_target
    source, sink, group = unique("ctp-in"), unique("ctp-out"), unique("ctp")
    create_topic(bootstrap, source, 3)
    create_topic(bootstrap, sink, 3)
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    for i in range(300):
        producer.produce(source, key=f"k{i % 17}", value=f"v{i}")
    assert producer.flush(30) == 0
    assert java("TxnClients.java", lib, "consume-transform-produce", bootstrap, source, unique("tx"), sink, group,
                "300")["copied"] == "300"
    copied = read_values(bootstrap, sink, "read_committed", 3)
    assert sorted(v for values in copied.values() for v in values) == sorted(f"v{i}" for i in range(300))
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        committed = consumer.committed([ck.TopicPartition(source, p) for p in range(3)], timeout=30)
    finally:
        consumer.close()
    assert sum(tp.offset for tp in committed) == 300  # the offsets committed in the transactions


# ---- Kafka Streams, exactly_once_v2 ---------------------------------------------------------------
class StreamsApp:
    """EosCounter.java in a child process, its state changes followed on a thread."""

    def __init__(self, lib: Path, bootstrap: str, app_id: str, source: str, sink: str, state_dir: Path,
                 millis_per_record: int = 0) -> None:
        self.proc = subprocess.Popen(
            ["java", "-Xmx384m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{lib}/*",
             str(JAVA / "EosCounter.java"), bootstrap, app_id, source, sink, str(state_dir), str(millis_per_record)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_state(self, state: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while f"STATE {state}" not in self.lines:
            assert self.proc.poll() is None, "\n".join(self.lines[-60:])
            assert time.monotonic() < deadline, f"no {state} in time:\n" + "\n".join(self.lines[-60:])
            time.sleep(0.1)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def produce_words(bootstrap: str, topic: str, start: int, count: int, keys: int) -> dict[str, int]:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    sent: dict[str, int] = {}
    for i in range(start, start + count):
        key = f"key-{i % keys}"
        producer.produce(topic, key=key, value=str(i))
        sent[key] = sent.get(key, 0) + 1
    assert producer.flush(60) == 0
    return sent


def counts_by_key(bootstrap: str, topic: str, partitions: int) -> dict[str, list[int]]:
    """Every count the app wrote, by key, in order, as read_committed consumers see them."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("check"),
                            "isolation.level": "read_committed", "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    out: dict[str, list[int]] = {}
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < 2:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            quiet_since = time.monotonic()
            out.setdefault(message.key().decode(), []).append(int(message.value()))
    finally:
        consumer.close()
    return out


def wait_for_counts(bootstrap: str, topic: str, partitions: int, expected: dict[str, int],
                    timeout: float = 120) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        seen = counts_by_key(bootstrap, topic, partitions)
        if {k: v[-1] for k, v in seen.items()} == expected or time.monotonic() > deadline:
            return seen
        time.sleep(1)


def test_streams_exactly_once_counts_are_exact(java_target: tuple[str, Path], tmp_path: Path) -> None:
    bootstrap, lib = java_target
    source, sink, app = unique("words"), unique("counts"), unique("eos")
    create_topic(bootstrap, source, 2)
    create_topic(bootstrap, sink, 2)
    sent = produce_words(bootstrap, source, 0, 2000, keys=20)
    streams = StreamsApp(lib, bootstrap, app, source, sink, tmp_path / "state")
    try:
        streams.wait_state("RUNNING")
        seen = wait_for_counts(bootstrap, sink, 2, sent)
    finally:
        streams.close()
    # Caching is off: each record's new count is written, so a key seen n times reads 1..n once each.
    assert seen == {key: list(range(1, n + 1)) for key, n in sent.items()}


# ---- confluent-kafka ---------------------------------------------------------------------------------
def test_confluent_kafka_transactions(bootstrap: str) -> None:
    topic = unique("cktx")
    create_topic(bootstrap, topic, 2)
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("cktx")})
    producer.init_transactions(30)
    for kind, commit in (("committed", True), ("aborted", False), ("after", True)):
        producer.begin_transaction()
        for i in range(10):
            producer.produce(topic, value=f"{kind}-{i}", partition=i % 2)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.flush(30)
            producer.abort_transaction(30)
    committed = read_values(bootstrap, topic, "read_committed", 2)
    everything = read_values(bootstrap, topic, "read_uncommitted", 2)
    for partition in (0, 1):
        kinds = [v.split("-")[0] for v in committed[partition]]
        assert kinds == ["committed"] * 5 + ["after"] * 5
        assert [v.split("-")[0] for v in everything[partition]] == ["committed"] * 5 + ["aborted"] * 5 + ["after"] * 5


def test_read_committed_stops_at_an_open_transaction(bootstrap: str) -> None:
    topic = unique("lso")
    create_topic(bootstrap, topic)
    plain = ck.Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic, value="before")
    assert plain.flush(30) == 0
    open_txn = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("open")})
    open_txn.init_transactions(30)
    open_txn.begin_transaction()
    open_txn.produce(topic, value="undecided")
    open_txn.flush(30)
    plain.produce(topic, value="after")
    assert plain.flush(30) == 0
    # The open transaction pins the last stable offset: read_committed readers stop before it.
    assert read_values(bootstrap, topic, "read_committed")[0] == ["before"]
    assert read_values(bootstrap, topic, "read_uncommitted")[0] == ["before", "undecided", "after"]
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("w"),
                            "isolation.level": "read_committed"})
    try:
        low, high = consumer.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=30, cached=False)
    finally:
        consumer.close()
    assert (low, high) == (0, 1)  # read_committed: the high watermark it sees is the last stable offset
    open_txn.commit_transaction(30)
    assert read_values(bootstrap, topic, "read_committed")[0] == ["before", "undecided", "after"]


# ---- Kafka's TransactionsCommand on the built-in broker ----------------------------------------------
def test_transactions_command_on_our_broker(ours: BrokerProcess) -> None:
    b, topic, txid = ours.bootstrap, unique("tcmd"), unique("tcmd")
    create_topic(b, topic)
    producer = ck.Producer({"bootstrap.servers": b, "transactional.id": txid})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value="open")
    producer.flush(30)

    listed = run_tool("transactions", "--bootstrap-server", b, "list").stdout
    row = next(line.split() for line in listed.splitlines() if txid in line)
    assert row[0] == txid and row[-1] == "Ongoing"
    # ListTransactions v2 (KIP-1152): only the ids the pattern matches.
    matching = run_tool("transactions", "--bootstrap-server", b, "list", "--transactional-id-pattern",
                        "tcmd-.*").stdout
    assert txid in matching
    assert txid not in run_tool("transactions", "--bootstrap-server", b, "list", "--transactional-id-pattern",
                                "other-.*").stdout
    described = run_tool("transactions", "--bootstrap-server", b, "describe", "--transactional-id", txid).stdout
    assert "Ongoing" in described and f"{topic}-0" in described
    producers = run_tool("transactions", "--bootstrap-server", b, "describe-producers", "--topic", topic,
                         "--partition", "0").stdout
    header, values = [line.split() for line in producers.splitlines()[:2]]
    state = dict(zip(header, values, strict=False))
    assert state["CurrentTransactionStartOffset"] == "0"
    # Not hanging: the coordinator knows the partition is in the transaction.
    hanging = run_tool("transactions", "--bootstrap-server", b, "find-hanging", "--broker-id", "0").stdout
    assert txid not in hanging
    producer.abort_transaction(30)
    listed = run_tool("transactions", "--bootstrap-server", b, "list").stdout
    assert next(line.split() for line in listed.splitlines() if txid in line)[-1] == "CompleteAbort"


# ---- kill -9 under a Streams app ---------------------------------------------------------------------
class SteadyProducer(threading.Thread):
    """Writes `count` keyed records at a steady pace, through broker restarts; counts the
    deliveries acknowledged per key."""

    def __init__(self, bootstrap: str, topic: str, count: int, keys: int) -> None:
        super().__init__(daemon=True)
        self.producer = ck.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                     "message.timeout.ms": 120_000, "reconnect.backoff.max.ms": 200})
        self.topic, self.count, self.keys = topic, count, keys
        self.acked: dict[str, int] = {}
        self.sent = 0

    def _delivered(self, err: object, msg: object) -> None:
        if err is None:
            key = msg.key().decode()  # type: ignore[attr-defined]
            self.acked[key] = self.acked.get(key, 0) + 1

    def run(self) -> None:
        for i in range(self.count):
            self.producer.produce(self.topic, key=f"key-{i % self.keys}", value=str(i), on_delivery=self._delivered)
            self.sent = i + 1
            if i % 50 == 0:  # about 1,000 records a second
                self.producer.poll(0)
                time.sleep(0.05)
        assert self.producer.flush(120) == 0


def log_end(bootstrap: str, topic: str, partitions: int) -> int:
    """The sum of the topic's partitions' log end offsets."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": unique("ends")})
    try:
        return sum(consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10, cached=False)[1]
                   for p in range(partitions))
    finally:
        consumer.close()


def test_streams_counts_stay_exact_across_kill_9_of_our_broker(tmp_path: Path) -> None:
    lib = require_jars()  # the reference release's Kafka Streams
    broker = BrokerProcess(tmp_path / "data", {"group.initial.rebalance.delay.ms": 0}).start()
    source, sink = "words", "counts"
    create_topic(broker.bootstrap, source, 2)
    create_topic(broker.bootstrap, sink, 2)
    # A millisecond a record keeps the app busy: a transaction with records on the broker is
    # always open (records go out at once; commits every 500 ms).
    streams = StreamsApp(lib, broker.bootstrap, "eos-kill", source, sink, tmp_path / "state", 1)
    producer = SteadyProducer(broker.bootstrap, source, 12_000, keys=20)
    try:
        streams.wait_state("RUNNING")
        producer.start()
        # Killed while records come in and the app is in the middle of its transactions.
        while producer.sent < 3000:
            time.sleep(0.05)
        broker.kill()
        assert producer.sent < producer.count, "the input was all written before the kill"
        time.sleep(1)
        broker.start()
        # Then, once it writes again, the app itself dies mid-transaction: the coordinator
        # aborts what it left open, and its successor counts those records again.
        written = log_end(broker.bootstrap, sink, 2)
        deadline = time.monotonic() + 60
        while log_end(broker.bootstrap, sink, 2) < written + 1000:
            assert time.monotonic() < deadline, "\n".join(streams.lines[-40:])
            time.sleep(0.1)
        streams.proc.kill()
        streams.proc.wait()
        assert producer.sent < producer.count, "the input was all written before the app died"
        streams = StreamsApp(lib, broker.bootstrap, "eos-kill", source, sink, tmp_path / "state", 1)
        producer.join(180)
        assert not producer.is_alive()
        seen = wait_for_counts(broker.bootstrap, sink, 2, producer.acked, timeout=180)
    finally:
        streams.close()
        broker.stop()
    assert sum(producer.acked.values()) == 12_000
    assert seen == {key: list(range(1, n + 1)) for key, n in producer.acked.items()}, broker.log()[-3000:]
