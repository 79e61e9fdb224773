"""kill -9 at every write of a transaction: its records on two partitions, its consumer offsets, the
coordinator's state records and its commit markers. After the restart each transaction is whole:
committed everywhere (both records readable with read_committed, the offset committed) or aborted
everywhere (none of it), never half visible."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kctl.protocol.messages.describe_transactions import DescribeTransactionsRequest

from .conftest import BrokerProcess
from .rawclient import RawClient

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC, GROUP, TXID = "txn", "txn-group", "crash-tx"

# One transaction: a record on each of two partitions and the group's offset, then commit.
CLIENT = textwrap.dedent("""
    import sys
    import confluent_kafka as ck
    bootstrap = sys.argv[1]
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": "crash-tx",
                            "transaction.timeout.ms": 3000, "log_level": 0})
    producer.init_transactions(20)
    producer.begin_transaction()
    for partition in (0, 1):
        producer.produce("txn", value=f"in-txn-{partition}".encode(), partition=partition)
    producer.flush(20)
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-group"})
    producer.send_offsets_to_transaction([ck.TopicPartition("txn", 0, 42)], consumer.consumer_group_metadata(), 20)
    producer.commit_transaction(20)
    print("committed", flush=True)
""")


def run_client(broker: BrokerProcess) -> str:
    """Run the transaction until it commits or the broker dies (then the client is stopped)."""
    client = subprocess.Popen([sys.executable, "-c", CLIENT, broker.bootstrap], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert broker.proc is not None
    deadline = time.monotonic() + 60
    while client.poll() is None and broker.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if client.poll() is None:
        client.kill()
    out, _ = client.communicate()
    return out


def outcome(bootstrap: str) -> tuple[list[str], int | None, str]:
    """(values read_committed on both partitions, the group's committed offset, the transaction's
    state), once the transaction is decided."""
    deadline = time.monotonic() + 30
    while True:
        raw = RawClient(bootstrap)
        try:
            described = raw.call(DescribeTransactionsRequest([TXID]), 0).transaction_states[0]
        finally:
            raw.close()
        state = described.transaction_state if described.error_code == 0 else "unknown"
        if state in ("CompleteCommit", "CompleteAbort", "Empty", "unknown") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "isolation.level": "read_committed",
                            "enable.auto.commit": False})
    try:
        committed = consumer.committed([ck.TopicPartition(TOPIC, 0)], timeout=20)[0].offset
        consumer.assign([ck.TopicPartition(TOPIC, p, ck.OFFSET_BEGINNING) for p in (0, 1)])
        values: list[str] = []
        quiet = time.monotonic()
        while time.monotonic() - quiet < 1.5:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                values.append(message.value().decode())
                quiet = time.monotonic()
    finally:
        consumer.close()
    return sorted(values), committed if committed >= 0 else None, state


def test_kill_9_at_every_write_of_a_transaction(tmp_path: Path) -> None:
    config = {"transaction.abort.timed.out.transaction.cleanup.interval.ms": 500, "offsets.topic.num.partitions": 1,
              "transaction.state.log.num.partitions": 1}
    seen: dict[int, tuple[list[str], int | None, str]] = {}
    write = 0
    while True:
        write += 1
        assert write < 40, "the transaction never completed without a crash"
        broker = BrokerProcess(tmp_path / f"data-{write}", config)
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 2, 1)])[TOPIC].result(20)
        broker.stop()
        # Each run dies just after the Nth append to a log once the topics exist: a write is
        # whole or not begun, as a killed process leaves it, so "before N" is "after N - 1".
        broker.crash_at = f"write_at:{write}:after:.log"
        broker.start()
        finished = run_client(broker) == "committed\n"
        assert broker.proc is not None
        if broker.proc.poll() is None:
            assert finished, broker.log()[-3000:]
            seen[write] = outcome(broker.bootstrap)
            assert seen[write] == (["in-txn-0", "in-txn-1"], 42, "CompleteCommit")
            broker.stop()
            break
        broker.crash_at = None
        broker.start()
        seen[write] = result = outcome(broker.bootstrap)
        broker.stop()
        values, committed, state = result
        committed_whole = (values, committed, state) == (["in-txn-0", "in-txn-1"], 42, "CompleteCommit")
        aborted_whole = values == [] and committed is None and state in ("CompleteAbort", "Empty", "unknown")
        assert committed_whole or aborted_whole, f"half a transaction after kill -9 at write {write}: {result}"
    # The sweep went through every step: some crashes aborted the transaction, later ones committed it.
    states = [s for _, _, s in seen.values()]
    assert "CompleteAbort" in states and states.count("CompleteCommit") >= 2, seen
