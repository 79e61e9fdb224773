"""The transaction coordinator's rules on the built-in broker, with confluent-kafka as the client:
transaction.timeout.ms is enforced, offsets committed in a transaction show only once it commits,
the state and the aborted-transactions index survive restarts, and compaction keeps what
read_committed readers need."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from broker.storage.producer_state import AbortedTxn
from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.describe_transactions import DescribeTransactionsRequest
from kctl.protocol.messages.list_transactions import ListTransactionsRequest
from kctl.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchRequestTopic
from kctl.protocol.records import ControlType, Record, encode_batch

from .conftest import BrokerProcess
from .rawclient import RawClient
from .reading import values
from .test_storage import NOW, open_log

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def create(bootstrap: str, topic: str, partitions: int = 1, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1, config=configs)])[topic].result(20)


def state_of(bootstrap: str, transactional_id: str) -> str:
    raw = RawClient(bootstrap)
    try:
        described = raw.call(DescribeTransactionsRequest([transactional_id]), 0).transaction_states[0]
    finally:
        raw.close()
    return str(described.transaction_state)


def transactional(bootstrap: str, transactional_id: str, **settings: object) -> ck.Producer:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, **settings})
    producer.init_transactions(30)
    return producer


def test_a_transaction_past_its_timeout_is_aborted_and_readers_move_on(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {"transaction.abort.timed.out.transaction.cleanup.interval.ms": 200})
    broker.start()
    create(broker.bootstrap, "slow")
    producer = transactional(broker.bootstrap, "slow-tx", **{"transaction.timeout.ms": 8000})
    producer.begin_transaction()
    producer.produce("slow", value=b"never-committed")
    producer.flush(30)
    plain = ck.Producer({"bootstrap.servers": broker.bootstrap})
    plain.produce("slow", value=b"later")
    plain.flush(30)
    assert values(broker.bootstrap, "slow", idle=1) == []  # pinned by the open transaction
    deadline = time.monotonic() + 30
    while state_of(broker.bootstrap, "slow-tx") != "CompleteAbort":
        assert time.monotonic() < deadline, broker.log()[-2000:]
        time.sleep(0.2)
    assert values(broker.bootstrap, "slow") == ["later"]
    assert "timed out after 8000 ms: aborting it" in broker.log()
    # The producer was fenced by the abort: its commit fails instead of committing.
    with pytest.raises(ck.KafkaException):
        producer.commit_transaction(10)
    assert broker.stop() == 0


def offset_fetch(bootstrap: str, group: str, topic: str, *, require_stable: bool) -> tuple[int, int]:
    raw = RawClient(bootstrap)
    try:
        response = raw.call(OffsetFetchRequest(group, [OffsetFetchRequestTopic(topic, [0])],
                                               require_stable=require_stable), 7)
    finally:
        raw.close()
    partition = response.topics[0].partitions[0]
    return partition.committed_offset, partition.error_code


def test_offsets_committed_in_a_transaction_show_only_once_it_commits(broker: BrokerProcess) -> None:
    create(broker.bootstrap, "in")
    consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "copier"})
    metadata = consumer.consumer_group_metadata()
    producer = transactional(broker.bootstrap, "copier-tx")
    for offset, commit in ((5, False), (7, True)):
        producer.begin_transaction()
        producer.send_offsets_to_transaction([ck.TopicPartition("in", 0, offset)], metadata, 30)
        # Pending: no offset yet for plain readers (the aborted one never showed), and
        # UNSTABLE_OFFSET_COMMIT for read_committed consumers, which ask with require_stable (KIP-447).
        assert offset_fetch(broker.bootstrap, "copier", "in", require_stable=False) == (-1, 0)
        assert offset_fetch(broker.bootstrap, "copier", "in", require_stable=True)[1] == (
            ErrorCode.UNSTABLE_OFFSET_COMMIT.code)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    assert offset_fetch(broker.bootstrap, "copier", "in", require_stable=True) == (7, 0)
    consumer.close()
    # The committed offset is kept in __consumer_offsets as Kafka keeps it: it survives a restart.
    assert broker.stop() == 0
    broker.start()
    assert offset_fetch(broker.bootstrap, "copier", "in", require_stable=True) == (7, 0)


@pytest.mark.parametrize("restart", ["clean stop", "kill -9"])
def test_transactions_survive_a_restart(broker: BrokerProcess, restart: str) -> None:
    create(broker.bootstrap, "kept")
    producer = transactional(broker.bootstrap, "kept-tx", **{"transaction.timeout.ms": 60_000})
    for value, commit in (("one", True), ("aborted", False)):
        producer.begin_transaction()
        producer.produce("kept", value=value.encode())
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce("kept", value=b"open")
    producer.flush(30)
    if restart == "kill -9":
        broker.kill()
    else:
        assert broker.stop() == 0
    broker.start()
    # The aborted transaction stays hidden; the open one still pins the last stable offset.
    assert values(broker.bootstrap, "kept") == ["one"]
    assert values(broker.bootstrap, "kept", "read_uncommitted") == ["one", "aborted", "open"]
    assert state_of(broker.bootstrap, "kept-tx") == "Ongoing"
    raw = RawClient(broker.bootstrap)
    try:
        listed = raw.call(ListTransactionsRequest(state_filters=["Ongoing"]), 1)
    finally:
        raw.close()
    assert [t.transactional_id for t in listed.transaction_states] == ["kept-tx"]
    producer.commit_transaction(30)  # the producer carries on across the restart
    assert values(broker.bootstrap, "kept") == ["one", "open"]


def test_compaction_drops_aborted_records_and_keeps_markers(tmp_path: Path) -> None:
    plog = open_log(tmp_path, **{"cleanup.policy": "compact"})

    def in_txn(producer_id: int, sequence: int, *values: tuple[bytes, bytes]) -> None:
        batch = encode_batch([Record(key=k, value=v, timestamp=NOW) for k, v in values], producer_id=producer_id,
                             producer_epoch=0, base_sequence=sequence, transactional=True)
        plog.append(batch, NOW, in_transaction=lambda header: None)

    in_txn(1, 0, (b"a", b"a-committed"), (b"b", b"b-committed"))
    plog.append_marker(1, 0, commit=True, now=NOW)
    in_txn(2, 0, (b"a", b"a-aborted"))
    plog.append_marker(2, 0, commit=False, now=NOW)
    assert plog.producers.aborted == [AbortedTxn(2, 3, 4)]
    plog.roll()
    in_txn(1, 2, (b"a", b"a-open"))  # undecided: its segment and later ones are not cleaned
    plog.roll()
    plog.append(encode_batch([Record(key=b"a", value=b"a-plain", timestamp=NOW)]), NOW)
    assert plog.last_stable_offset == 5
    plog.compact(NOW + 1)
    batches = list(plog.replay_batches())
    stored = [r.value for b in batches if not b.header.is_control for r in b.records]
    # The aborted value is gone and did not make the committed one look outdated; nothing at or
    # after the open transaction was touched.
    assert stored == [b"a-committed", b"b-committed", b"a-open", b"a-plain"]
    assert [b.control_type for b in batches if b.header.is_control] == [ControlType.COMMIT, ControlType.ABORT]
    plog.append_marker(1, 0, commit=True, now=NOW)
    plog.roll()
    plog.compact(NOW + 1)  # decided now: the newest value of each key is all that is left
    stored = [r.value for b in plog.replay_batches() if not b.header.is_control for r in b.records]
    assert stored == [b"b-committed", b"a-plain"]


def test_the_aborted_index_is_rebuilt_from_the_log_whatever_the_snapshot_says(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    batch = encode_batch([Record(value=b"x", timestamp=NOW)], producer_id=3, producer_epoch=0, base_sequence=0,
                         transactional=True)
    plog.append(batch, NOW, in_transaction=lambda header: None)
    plog.append_marker(3, 0, commit=False, now=NOW)
    plog.append(encode_batch([Record(value=b"open", timestamp=NOW)], producer_id=4, producer_epoch=0,
                             base_sequence=0, transactional=True), NOW, in_transaction=lambda header: None)
    want = ([AbortedTxn(3, 0, 1)], 2)
    assert (plog.producers.aborted, plog.last_stable_offset) == want
    plog.close()  # a clean stop: from the snapshot
    plog = open_log(tmp_path)
    assert (plog.producers.aborted, plog.last_stable_offset) == want
    # A crash: no snapshot at all, or one past the log's end (the log lost its tail): from the log.
    (tmp_path / "producer.snapshot").unlink()
    plog = open_log(tmp_path, recovery_point=0)
    assert (plog.producers.aborted, plog.last_stable_offset) == want
    plog.producers.save(tmp_path / "producer.snapshot", 99)
    plog = open_log(tmp_path, recovery_point=0)
    assert (plog.producers.aborted, plog.last_stable_offset) == want


def test_a_transactional_batch_outside_its_transaction_is_refused_and_not_stored(broker: BrokerProcess) -> None:
    """What a client that skips AddPartitionsToTxn (the way hanging transactions were made before
    KIP-890) gets: a refusal, and nothing in the log to pin its last stable offset."""
    from kctl.protocol.messages.init_producer_id import InitProducerIdRequest
    from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData

    create(broker.bootstrap, "guarded")
    raw = RawClient(broker.bootstrap)
    try:
        got = raw.call(InitProducerIdRequest("sneaky", 60_000, -1, -1), 4)
        assert got.error_code == 0
        batch = encode_batch([Record(value=b"hanging", timestamp=NOW)], producer_id=got.producer_id,
                             producer_epoch=got.producer_epoch, base_sequence=0, transactional=True)
        for transactional_id, refused in (("sneaky", ErrorCode.INVALID_TXN_STATE), (None, ErrorCode.INVALID_TXN_STATE),
                                          ("someone-else", ErrorCode.INVALID_TXN_STATE)):
            answer = raw.call(ProduceRequest(transactional_id, -1, 5000, [
                TopicProduceData("guarded", [PartitionProduceData(0, batch)])]), 9)
            assert answer.responses[0].partition_responses[0].error_code == refused.code, transactional_id
        forged = encode_batch([Record(value=b"marker", timestamp=NOW)], producer_id=got.producer_id,
                              producer_epoch=got.producer_epoch, transactional=True, control=True)
        answer = raw.call(ProduceRequest("sneaky", -1, 5000, [
            TopicProduceData("guarded", [PartitionProduceData(0, forged)])]), 9)
        assert answer.responses[0].partition_responses[0].error_code == ErrorCode.INVALID_RECORD.code
    finally:
        raw.close()
    assert values(broker.bootstrap, "guarded", "read_uncommitted", idle=1) == []
