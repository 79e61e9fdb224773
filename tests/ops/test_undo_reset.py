"""`undo_reset` marks a reset undone only once every offset is back: a partition whose offset it
could not forget (an error from OffsetDelete, injected at the client's seam) fails the undo and
leaves the save live, so that running it again finishes the job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.client import Admin, Cluster
from kctl.client.admin.topics import NewTopic
from kctl.client.errors import KafkaError
from kctl.client.types import TopicPartition
from kctl.ops.groups.resets import Strategy, apply_reset, group_offsets, plan_reset, set_group_offsets, undo_reset
from kctl.protocol.errors import ErrorCode
from tests.broker.conftest import BrokerProcess


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("undo") / "data").start()
    yield b
    b.stop()


async def test_an_undo_that_cannot_forget_an_offset_is_not_marked_done(
        broker: BrokerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    topic, group = "undo-me", "undo-group"
    cluster = Cluster(broker.bootstrap)
    await cluster.start()
    try:
        admin = Admin(cluster)
        await admin.create_topics([NewTopic(topic, 2, 1)])
        zero, one = TopicPartition(topic, 0), TopicPartition(topic, 1)
        await set_group_offsets(admin, group, "classic", {zero: 0})  # partition 1 has no offset yet
        plan = await plan_reset(cluster, group, Strategy("to-latest"), [zero, one])
        saved_at = await apply_reset(cluster, plan)
        assert set(await group_offsets(admin, group)) == {zero, one}

        real = Admin.delete_group_offsets

        async def refused(self: Admin, group_id: str, partitions: list[TopicPartition]) -> dict[
                TopicPartition, KafkaError | None]:
            return {tp: KafkaError("refused", ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC) for tp in partitions}

        monkeypatch.setattr(Admin, "delete_group_offsets", refused)
        with pytest.raises(KafkaError, match="refused"):
            await undo_reset(cluster, group)
        assert saved_at.exists() and not saved_at.with_suffix(".undone").exists(), "marked undone though it failed"

        monkeypatch.setattr(Admin, "delete_group_offsets", real)
        await undo_reset(cluster, group)  # again, now that it can
        assert set(await group_offsets(admin, group)) == {zero}
        assert not saved_at.exists() and saved_at.with_suffix(".undone").exists()
    finally:
        await cluster.close()
