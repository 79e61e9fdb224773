"""The committed message modules are exactly what the generator makes from our definitions."""

from __future__ import annotations

import pytest

from kctl.protocol import codegen


def test_generated_modules_are_fresh() -> None:
    assert codegen.main(["--check"]) == 0, "run: python -m kctl.protocol.codegen"


def test_versions_sharing_a_layout_share_code() -> None:
    from kctl.protocol.messages import heartbeat

    # Heartbeat v0-v2 differ only in throttle time on the response side, so requests v0-v2 share one encoder.
    assert heartbeat.REQUEST_ENCODERS[0] is heartbeat.REQUEST_ENCODERS[2]
    assert heartbeat.REQUEST_ENCODERS[3] is not heartbeat.REQUEST_ENCODERS[4]  # v4 is flexible


def test_generated_classes_behave_as_values() -> None:
    from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic, MetadataResponsePartition

    first, second = MetadataRequest(), MetadataRequest()
    first.topics.append(MetadataRequestTopic(name="orders"))  # type: ignore[union-attr]
    assert second.topics == [], "each instance gets its own default list"
    assert MetadataRequest(topics=None).topics is None, "None stays None where the field is nullable"
    assert first == MetadataRequest([MetadataRequestTopic(name="orders")])  # positional, in field order
    assert first != second and first != "MetadataRequest"
    assert repr(MetadataRequestTopic(name="orders")) == (
        "MetadataRequestTopic(topic_id=UUID('00000000-0000-0000-0000-000000000000'), name='orders')")
    partition = MetadataResponsePartition(partition_index=3)
    assert partition.leader_epoch == -1 and partition.replica_nodes == []
    with pytest.raises(AttributeError):
        partition.not_a_field = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        hash(partition)
