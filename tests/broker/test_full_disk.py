"""A full or failing disk, injected at the storage seam: a write that fails leaves the log exactly
as it was, the client is told KAFKA_STORAGE_ERROR, reads go on, and writes work again once there
is room. Nothing acknowledged is lost, after a clean stop or a crash."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from broker.config import BrokerConfig
from broker.storage.log import AppendError, PartitionLog
from broker.storage.manager import RECOVERY_OWED, LogManager
from kctl.protocol.errors import ErrorCode
from kctl.protocol.records import Record, decode_batches, encode_batch

from .faults import FAULTS, DiskFaults
from .test_storage import NOW, config

pytestmark = pytest.mark.parametrize("code", FAULTS, ids=["ENOSPC", "EIO"])


def batch(*values: bytes) -> bytes:
    return encode_batch([Record(key=b"k", value=v, timestamp=NOW) for v in values])


def open_log(path: Path, recovery_point: int | None = None, **overrides: object) -> PartitionLog:
    plog = PartitionLog(path, "t", 0, config(**overrides))
    plog.open(recovery_point, 0)
    return plog


def all_values(plog: PartitionLog) -> list[bytes | None]:
    return [r.value for r in plog.replay()]


def segment_bytes(plog: PartitionLog) -> list[tuple[str, int]]:
    return sorted((s.log_path.name, os.path.getsize(s.log_path)) for s in plog.segments)


def test_a_failed_append_leaves_the_log_as_it_was_and_later_ones_succeed(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    plog = open_log(tmp_path / "p")
    plog.append(batch(b"a", b"b"), NOW)
    before = (plog.log_end_offset, plog.active.size, segment_bytes(plog))
    with faults.full(code), pytest.raises(AppendError) as refused:
        plog.append(batch(b"lost"), NOW)
    assert refused.value.error is ErrorCode.KAFKA_STORAGE_ERROR
    assert os.strerror(code) in refused.value.message
    assert (plog.log_end_offset, plog.active.size, segment_bytes(plog)) == before  # the torn half is gone
    assert all_values(plog) == [b"a", b"b"]  # reads go on meanwhile
    assert plog.append(batch(b"c"), NOW).base_offset == 2  # room again: the next write lands
    assert all_values(plog) == [b"a", b"b", b"c"]
    plog.close()
    for recovery_point in (None, 0):  # a clean start and one after a crash (every CRC checked)
        again = open_log(tmp_path / "p", recovery_point)
        assert all_values(again) == [b"a", b"b", b"c"]
        assert again.log_end_offset == 3
        again.close()


def fail_leaving_a_torn_write(plog: PartitionLog, faults: DiskFaults, code: int) -> None:
    """An append that fails part-way, and whose torn half cannot be cut off either."""
    faults.truncate_fails = True
    with faults.full(code), pytest.raises(AppendError):
        plog.append(batch(b"x" * 5000), NOW)
    faults.truncate_fails = False


def test_a_torn_write_that_cannot_be_cut_off_is_overwritten_then_cut_at_close(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    plog = open_log(tmp_path / "p")
    plog.append(batch(b"a"), NOW)
    faults.truncate_fails = True
    with faults.full(code), pytest.raises(AppendError):
        plog.append(batch(b"x" * 5000), NOW)
    assert os.path.getsize(plog.active.log_path) > plog.active.size  # the torn half is still there
    with pytest.raises(AppendError):  # it must go before anything is written after it
        plog.append(batch(b"b"), NOW)
    faults.truncate_fails = False
    plog.append(batch(b"b"), NOW)
    assert os.path.getsize(plog.active.log_path) == plog.active.size
    fail_leaving_a_torn_write(plog, faults, code)  # once more, left there until the log closes
    assert plog.close() is True
    again = open_log(tmp_path / "p")
    assert all_values(again) == [b"a", b"b"]


def test_a_torn_write_still_there_after_a_crash_is_cut_by_recovery(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    plog = open_log(tmp_path / "p")
    plog.append(batch(b"a"), NOW)
    fail_leaving_a_torn_write(plog, faults, code)
    # A crash now (nothing closes): recovery checks every batch after the recovery point.
    again = open_log(tmp_path / "p", recovery_point=0)
    assert all_values(again) == [b"a"]
    assert os.path.getsize(again.active.log_path) == again.active.size
    assert again.append(batch(b"b"), NOW).base_offset == 1


def test_a_roll_that_cannot_create_the_new_segment_fails_the_append_only(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    plog = open_log(tmp_path / "p", **{"internal.segment.bytes": 200})
    plog.append(batch(b"a" * 100), NOW)
    before = segment_bytes(plog)
    with faults.full(code), pytest.raises(AppendError) as refused:
        plog.append(batch(b"b" * 100), NOW)  # needs a new segment
    assert refused.value.error is ErrorCode.KAFKA_STORAGE_ERROR
    assert segment_bytes(plog) == before and plog.log_end_offset == 1
    plog.append(batch(b"b" * 100), NOW)
    assert len(plog.segments) == 2 and all_values(plog) == [b"a" * 100, b"b" * 100]


def test_index_files_that_cannot_be_written_are_rebuilt_from_the_log(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    plog = open_log(tmp_path / "p", **{"index.interval.bytes": 1})
    for i in range(20):
        plog.append(batch(str(i).encode()), NOW)
    with faults.full(code):
        plog.flush()  # fsync works; the index files do not
        assert not plog.active.index_path.exists()
        assert plog.close() is True
    again = open_log(tmp_path / "p")
    assert all_values(again) == [str(i).encode() for i in range(20)]
    assert decode_batches(again.read(13, 1 << 20))[0].records[0].value == b"13"


def test_a_failed_fsync_at_close_leaves_the_partition_owed_recovery(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    manager = LogManager(tmp_path / "d", BrokerConfig())
    manager.open()
    topic = manager.create_topic("t", 1)
    topic.partitions[0].append(batch(b"a"), NOW)
    faults.fsync_fails = 1  # the partition's; the checkpoints after it are written
    manager.close()  # says so, does not raise
    assert (tmp_path / "d" / ".kafka_cleanshutdown").exists()
    assert "t 0 " in (tmp_path / "d" / RECOVERY_OWED).read_text()
    again = LogManager(tmp_path / "d", BrokerConfig())
    again.open()
    assert all_values(again.topics["t"].partitions[0]) == [b"a"]
    again.close()


def test_checkpoints_that_cannot_be_written_keep_the_old_ones(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    manager = LogManager(tmp_path / "d", BrokerConfig())
    manager.open()
    manager.create_topic("t", 1).partitions[0].append(batch(b"a"), NOW)
    points = tmp_path / "d" / "recovery-point-offset-checkpoint"
    old = points.read_text()
    with faults.full(code), pytest.raises(OSError) as failed:
        manager.write_recovery_points()
    assert failed.value.errno == code
    assert points.read_text() == old
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "d").iterdir())
    manager.close()


def test_errno_of_a_full_disk_is_told_apart(code: int) -> None:
    from broker.storage import disk

    assert (code in disk.FULL) == (code == errno.ENOSPC)


# ---- the other write paths: each refuses the change and keeps what it had -----------------------
def test_an_offset_commit_that_cannot_be_written_keeps_the_committed_offsets(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    from broker.groups.coordinator import GroupCoordinator, OffsetToCommit

    manager = LogManager(tmp_path / "d", BrokerConfig())
    manager.open()
    manager.create_topic("t", 1)
    groups = GroupCoordinator(BrokerConfig(), manager, lambda plog: None)

    def commit(offset: int) -> list[int]:
        return groups.commit("g", -1, "", None, -1, [OffsetToCommit("t", 0, offset, -1, None, -1)])[0]

    assert commit(5) == [0]
    with faults.full(code):
        assert commit(9) == [ErrorCode.COORDINATOR_NOT_AVAILABLE.code]  # the client retries
    assert [c.offset for _, _, c in groups.committed("g", [("t", 0)]) if c] == [5]
    assert commit(9) == [0]
    manager.close()
    again = LogManager(tmp_path / "d", BrokerConfig())
    again.open()
    reloaded = GroupCoordinator(BrokerConfig(), again, lambda plog: None)
    reloaded.load()
    assert [c.offset for _, _, c in reloaded.committed("g", [("t", 0)]) if c] == [9]
    again.close()


def test_a_cleaning_that_cannot_write_leaves_the_log_as_it_was(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    plog = open_log(tmp_path / "p", **{"cleanup.policy": "compact", "internal.segment.bytes": 200})
    for i in range(12):
        plog.append(encode_batch([Record(key=f"k{i % 3}".encode(), value=str(i).encode(), timestamp=NOW)]), NOW)
    before = segment_bytes(plog), all_values(plog)
    job = plog.compaction_job(NOW)
    assert job is not None
    with faults.full(code), pytest.raises(OSError):
        job.run()
    job.discard()
    assert (segment_bytes(plog), all_values(plog)) == before
    assert not list((tmp_path / "p").glob("*.cleaned"))
    assert plog.compact(NOW) > 0  # and it cleans once it can
    assert all_values(plog)[-3:] == [b"9", b"10", b"11"]


def test_a_registry_write_that_fails_registers_nothing(tmp_path: Path, faults: DiskFaults, code: int) -> None:
    import asyncio

    from broker.registry.http import SchemaRegistry
    from broker.registry.store import RegistryError

    manager = LogManager(tmp_path / "d", BrokerConfig())
    manager.open()
    registry = SchemaRegistry(manager, lambda plog: None, tmp_path / "d")
    schema = {"schema": '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}'}

    async def register(subject: str) -> int:
        schema_id, records = registry.store.register(subject, schema)
        await registry._commit(records)
        return schema_id

    with faults.full(code), pytest.raises(RegistryError) as failed:
        asyncio.run(register("s-value"))
    assert failed.value.code == 50001 and os.strerror(code) in failed.value.message
    assert registry.store.subject_names(deleted=True, prefix="") == []
    assert asyncio.run(register("s-value")) == 1
    manager.close()


def test_acl_user_and_quota_changes_that_cannot_be_saved_change_nothing(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    from broker.authorizer import Authorizer
    from broker.quotas import ClientQuotas, QuotaChange
    from broker.users import ScramUsers, Upsert
    from kctl.protocol.acl import AclBinding, AclOperation, AclPermission, PatternType, ResourceType

    config = BrokerConfig({"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer"})
    acls = Authorizer(config, tmp_path)
    acl = AclBinding(ResourceType.TOPIC, "t", PatternType.LITERAL, "User:alice", "*", AclOperation.READ,
                     AclPermission.ALLOW)
    with faults.full(code):
        [error] = acls.create([acl])
    assert error is not None and error.error is ErrorCode.KAFKA_STORAGE_ERROR
    assert acls.acls == [] and not (tmp_path / "acls.json").exists()
    assert acls.create([acl]) == [None] and acls.acls == [acl]

    users = ScramUsers(tmp_path, {}, ["SCRAM-SHA-256"])
    upsert = Upsert("bob", 1, 4096, b"salt", b"x" * 32)  # 1: SCRAM-SHA-256
    with faults.full(code):
        [outcome] = users.alter([], [upsert])
    assert outcome.error is ErrorCode.KAFKA_STORAGE_ERROR and "bob" not in users.credentials("SCRAM-SHA-256")
    assert users.alter([], [upsert])[0].error is ErrorCode.NONE and "bob" in users.credentials("SCRAM-SHA-256")

    quotas = ClientQuotas(tmp_path)
    change = QuotaChange((("user", "bob"),), [("producer_byte_rate", 1024.0, False)])
    with faults.full(code):
        [(error_code, _)] = quotas.alter([change], validate_only=False)
    assert error_code is ErrorCode.KAFKA_STORAGE_ERROR and quotas.quotas == {}
    assert quotas.alter([change], validate_only=False)[0][0] is ErrorCode.NONE and quotas.quotas


def test_topic_and_producer_id_changes_that_cannot_be_saved_change_nothing(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    manager = LogManager(tmp_path / "d", BrokerConfig())
    manager.open()
    manager.create_topic("kept", 1)
    with faults.full(code):
        with pytest.raises(OSError):
            manager.create_topic("new", 3)
        with pytest.raises(OSError):
            manager.add_partitions("kept", 4)
        with pytest.raises(OSError):
            manager.set_topic_overrides("kept", {"retention.ms": 1000})
        with pytest.raises(OSError):
            manager.delete_topic("kept")
        with pytest.raises(OSError):
            manager.allocate_producer_id()
    assert list(manager.topics) == ["kept"] and len(manager.topics["kept"].partitions) == 1
    assert manager.topics["kept"].overrides == {}
    assert manager.allocate_producer_id() == 0  # the block was not handed out while unsaved
    manager.close()
    again = LogManager(tmp_path / "d", BrokerConfig())
    again.open()
    assert list(again.topics) == ["kept"] and len(again.topics["kept"].partitions) == 1
    again.close()


def test_admin_requests_get_kafka_storage_error_when_nothing_could_be_saved(
        tmp_path: Path, faults: DiskFaults, code: int) -> None:
    from kctl.protocol.api import ApiKey
    from kctl.protocol.messages.create_partitions import CreatePartitionsRequest, CreatePartitionsTopic
    from kctl.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicState
    from kctl.protocol.messages.init_producer_id import InitProducerIdRequest

    from .test_handlers_in_process import call, in_process

    with in_process(tmp_path) as context:
        context.logs.create_topic("t", 1)
        with faults.full(code):
            grown = call(context, ApiKey.CREATE_PARTITIONS, 3, CreatePartitionsRequest(
                topics=[CreatePartitionsTopic("t", 3, None)], timeout_ms=1000, validate_only=False))
            deleted = call(context, ApiKey.DELETE_TOPICS, 6, DeleteTopicsRequest(
                topics=[DeleteTopicState(name="t")], timeout_ms=1000))
            pid = call(context, ApiKey.INIT_PRODUCER_ID, 4, InitProducerIdRequest(
                transactional_id=None, transaction_timeout_ms=-1))
        assert grown.results[0].error_code == ErrorCode.KAFKA_STORAGE_ERROR.code
        assert deleted.responses[0].error_code == ErrorCode.KAFKA_STORAGE_ERROR.code
        assert pid.error_code == ErrorCode.KAFKA_STORAGE_ERROR.code
        assert "t" in context.logs.topics and len(context.logs.topics["t"].partitions) == 1
