"""Causes of consumer lag made on purpose, for `kctl why` to find: each a context manager that sets
the cause up on a broker (the built-in one or Apache Kafka) and keeps it going while `kctl why`
watches, yielding the group to ask about. Clients are confluent-kafka's (librdkafka), as an
application's would be."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cli.test_commands import kctl, unique


def _topic(bootstrap: str, partitions: int = 1) -> str:
    name = unique("why")
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: its futures end with it
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
    return name


def _produce(bootstrap: str, topic: str, count: int, *, key: bytes | None = None, size: int = 10,
             partition: int | None = None) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(count):
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, b"x" * size, key=key if key is not None else f"k{i}".encode(), **extra)
    producer.flush(30)


@contextlib.contextmanager
def _running(loop: Callable[[threading.Event], None]) -> Iterator[None]:
    """`loop(stop)` on a thread until the block ends."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            loop(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
    if errors:
        raise errors[0]


def _producing(bootstrap: str, topic: str, per_second: float) -> Callable[[threading.Event], None]:
    def loop(stop: threading.Event) -> None:
        producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        while not stop.wait(1 / per_second):
            producer.produce(topic, b"more")
            producer.poll(0)
        producer.flush(10)
    return loop


def _consumer(bootstrap: str, group: str, **extra: Any) -> ck.Consumer:
    return ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                        "auto.offset.reset": "earliest", "session.timeout.ms": 10_000,
                        "heartbeat.interval.ms": 500, **extra})


def _wait_member(env: dict[str, str], group: str, members: int = 1) -> None:
    import json

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = kctl(env, "groups", "describe", group, "-o", "json", ok=False)
        if done.returncode == 0 and len(json.loads(done.stdout).get("members", [])) >= members \
                and json.loads(done.stdout).get("state") == "Stable":
            return
        time.sleep(0.5)
    raise AssertionError(f"group {group} never had {members} stable member(s)")


def _behind(bootstrap: str, env: dict[str, str], name: str, *, partitions: int = 1, count: int = 5,
            key: bytes | None = None, size: int = 10, to: tuple[str, ...] = ("--to-earliest",)) -> tuple[str, str]:
    """A topic with `count` records and a group committed behind them (by default at the start)."""
    topic, group = _topic(bootstrap, partitions), unique(name)
    _produce(bootstrap, topic, count, key=key, size=size)
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, *to, "--execute")
    return topic, group


def _consuming(bootstrap: str, group: str, topic: str, handle: Callable[[ck.Consumer, Any], None],
               **extra: Any) -> Callable[[threading.Event], None]:
    """A member of the group that hands each poll's result (a message or None) to `handle`."""
    def loop(stop: threading.Event) -> None:
        consumer = _consumer(bootstrap, group, **extra)
        consumer.subscribe([topic])
        while not stop.is_set():
            message = consumer.poll(0.2)
            handle(consumer, None if message is None or message.error() else message)
        consumer.close()
    return loop


def _idle(consumer: ck.Consumer, message: Any) -> None:
    """Alive in the group, never committing."""


@contextlib.contextmanager
def no_consumers(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """Lag and nobody to read it; all of it on one partition, one key (skew, seen as well)."""
    _, group = _behind(bootstrap, env, "idle", partitions=4, count=40, key=b"hot")
    yield group


@contextlib.contextmanager
def stuck(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """A member holds the partition and commits nothing while records arrive."""
    topic, group = _behind(bootstrap, env, "stuck")
    with _running(_consuming(bootstrap, group, topic, _idle)), _running(_producing(bootstrap, topic, 5)):
        _wait_member(env, group)
        yield group


@contextlib.contextmanager
def poison(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """A consumer that fails on one record, commits its offset again, and retries it."""
    topic, group = _behind(bootstrap, env, "poison", to=("--to-offset", "2"))

    def retry(consumer: ck.Consumer, message: Any) -> None:
        if message is not None:
            where = ck.TopicPartition(topic, message.partition(), message.offset())
            consumer.commit(offsets=[where], asynchronous=False)  # "done up to here", again
            consumer.seek(where)  # and the same record once more
            time.sleep(0.2)

    with _running(_consuming(bootstrap, group, topic, retry)):
        _wait_member(env, group)
        yield group


@contextlib.contextmanager
def slow(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """Records arrive at 20/s and the consumer handles 2/s."""
    topic, group = _behind(bootstrap, env, "slow")

    def dawdle(consumer: ck.Consumer, message: Any) -> None:
        if message is not None:
            consumer.commit(message=message, asynchronous=False)
            time.sleep(0.5)

    with _running(_consuming(bootstrap, group, topic, dawdle)), _running(_producing(bootstrap, topic, 20)):
        _wait_member(env, group)
        yield group


@contextlib.contextmanager
def open_transaction(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """Caught up to a last stable offset that a transaction, begun and never ended, holds back."""
    topic, group = _topic(bootstrap), unique("pinned")
    _produce(bootstrap, topic, 5)
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("tx"),
                            "transaction.timeout.ms": 600_000})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"in flight")
    producer.flush(30)
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-offset", "5", "--execute")
    try:
        yield group
    finally:
        producer.abort_transaction(30)


@contextlib.contextmanager
def churn(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """Consumers joining and leaving, over and over."""
    topic, group = _behind(bootstrap, env, "churn", partitions=2)
    steady = _consuming(bootstrap, group, topic, _idle, **{"enable.auto.commit": True})

    def coming_and_going(stop: threading.Event) -> None:
        while not stop.is_set():
            visit = threading.Event()  # a member for 1.5 s (or until the block ends), then gone
            threading.Timer(1.5, visit.set).start()
            _consuming(bootstrap, group, topic, _idle, **{"enable.auto.commit": True})(visit)
            stop.wait(0.5)

    with _running(steady):
        _wait_member(env, group)
        with _running(coming_and_going):
            yield group


@contextlib.contextmanager
def throttled(bootstrap: str, env: dict[str, str]) -> Iterator[str]:
    """The consumer's client id has a 2 KB/s fetch quota; records arrive faster than that."""
    client = unique("throttled-client")
    kctl(env, "quotas", "set", "--client-id", client, "--consumer-byte-rate", "2048")
    topic, group = _behind(bootstrap, env, "throttled", count=200, size=1000)

    def big_records(stop: threading.Event) -> None:
        producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        while not stop.wait(0.1):
            producer.produce(topic, b"y" * 1000)
            producer.poll(0)
        producer.flush(10)

    reading = _consuming(bootstrap, group, topic, _idle, **{"client.id": client, "enable.auto.commit": True,
                                                            "auto.commit.interval.ms": 200})
    with _running(reading), _running(big_records):
        _wait_member(env, group)
        yield group


#: Each cause made on purpose, with the verdict `kctl why` must give (and a cause it must list too).
SCENARIOS: dict[str, tuple[Callable[[str, dict[str, str]], Any], str, str | None]] = {
    "no consumers": (no_consumers, "no-consumers", "skew"),
    "stuck partition": (stuck, "stuck-partitions", None),
    "poison record": (poison, "poison-record", None),
    "slow consumer": (slow, "slow-consumers", None),
    "open transaction": (open_transaction, "open-transaction", None),
    "rebalance churn": (churn, "rebalance-churn", None),
    "quota throttling": (throttled, "throttled", None),
}
#: What the verdict's figures must show for some causes: a throttle the brokers were heard to impose.
MUST_SHOW = {"quota throttling": "(throttle_time_ms)"}
