"""The group coordinator on the wire: each rule checked with raw requests to a broker process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.protocol import data
from kctl.protocol.data import ConsumerProtocolAssignment, ConsumerProtocolSubscription
from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.create_topics import CreatableTopic, CreateTopicsRequest
from kctl.protocol.messages.delete_groups import DeleteGroupsRequest
from kctl.protocol.messages.delete_topics import DeleteTopicsRequest
from kctl.protocol.messages.describe_groups import DescribeGroupsRequest
from kctl.protocol.messages.find_coordinator import FindCoordinatorRequest
from kctl.protocol.messages.heartbeat import HeartbeatRequest
from kctl.protocol.messages.join_group import JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse
from kctl.protocol.messages.leave_group import LeaveGroupRequest, MemberIdentity
from kctl.protocol.messages.list_groups import ListGroupsRequest
from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kctl.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kctl.protocol.messages.offset_delete import (
    OffsetDeleteRequest,
    OffsetDeleteRequestPartition,
    OffsetDeleteRequestTopic,
)
from kctl.protocol.messages.offset_fetch import (
    OffsetFetchRequest,
    OffsetFetchRequestGroup,
    OffsetFetchRequestTopic,
    OffsetFetchRequestTopics,
)
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.messages.sync_group import SyncGroupRequest, SyncGroupRequestAssignment
from kctl.protocol.records import Record, encode_batch

from .conftest import BrokerProcess
from .rawclient import RawClient

E = ErrorCode
SETTINGS: dict[str, object] = {
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 500,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("coordinator") / "data", SETTINGS).start()
    c = RawClient(b.bootstrap)
    c.call(CreateTopicsRequest(topics=[CreatableTopic("orders", 4, 1), CreatableTopic("audit", 2, 1)],
                               timeout_ms=5000), 4)
    c.close()
    yield b
    assert b.stop() == 0, b.log()


def subscription(*topics: str) -> bytes:
    return data.encode(ConsumerProtocolSubscription(topics=list(topics)), 0)


def assignment(topic: str, *partitions: int) -> bytes:
    return data.encode(ConsumerProtocolAssignment([data.AssignedTopicPartition(topic, list(partitions))]), 0)


def join_request(group: str, member_id: str = "", *, protocols: tuple[str, ...] = ("range",),
                 topics: tuple[str, ...] = ("orders",), session_ms: int = 6000, rebalance_ms: int = 3000,
                 instance_id: str | None = None, protocol_type: str = "consumer") -> JoinGroupRequest:
    return JoinGroupRequest(
        group_id=group, session_timeout_ms=session_ms, rebalance_timeout_ms=rebalance_ms, member_id=member_id,
        group_instance_id=instance_id, protocol_type=protocol_type,
        protocols=[JoinGroupRequestProtocol(name, subscription(*topics)) for name in protocols],
    )


def join(client: RawClient, group: str, **kw: object) -> JoinGroupResponse:
    """Join the way a v5 client does: get an id with MEMBER_ID_REQUIRED, then join with it."""
    first = client.call(join_request(group, **kw), 5)  # type: ignore[arg-type]
    assert first.error_code == E.MEMBER_ID_REQUIRED.code and first.member_id
    response: JoinGroupResponse = client.call(join_request(group, first.member_id, **kw), 5)  # type: ignore[arg-type]
    assert response.error_code == 0, E.of(response.error_code)
    return response


def sync(client: RawClient, group: str, joined: JoinGroupResponse, plan: dict[str, bytes] | None = None) -> bytes:
    response = client.call(SyncGroupRequest(
        group_id=group, generation_id=joined.generation_id, member_id=joined.member_id,
        protocol_type="consumer", protocol_name=joined.protocol_name,
        assignments=[SyncGroupRequestAssignment(m, a) for m, a in (plan or {}).items()],
    ), 5)
    assert response.error_code == 0, E.of(response.error_code)
    return bytes(response.assignment)


def heartbeat(client: RawClient, group: str, joined: JoinGroupResponse, generation: int | None = None) -> int:
    response = client.call(HeartbeatRequest(group, joined.generation_id if generation is None else generation,
                                            joined.member_id), 4)
    return int(response.error_code)


def commit(client: RawClient, group: str, offsets: dict[tuple[str, int], int], *, generation: int = -1,
           member_id: str = "", metadata: str = "", version: int = 8) -> dict[tuple[str, int], int]:
    topics: dict[str, list[OffsetCommitRequestPartition]] = {}
    for (topic, partition), offset in offsets.items():
        topics.setdefault(topic, []).append(OffsetCommitRequestPartition(partition, offset, -1, -1, metadata))
    response = client.call(OffsetCommitRequest(group, generation, member_id, None, -1,
                                               [OffsetCommitRequestTopic(t, ps) for t, ps in topics.items()]), version)
    return {(t.name, p.partition_index): p.error_code for t in response.topics for p in t.partitions}


def fetch_offsets(client: RawClient, group: str, version: int = 7) -> dict[tuple[str, int], int]:
    response = client.call(OffsetFetchRequest(group_id=group, topics=None), version)
    assert response.error_code == 0
    return {(t.name, p.partition_index): p.committed_offset for t in response.topics for p in t.partitions}


def describe(client: RawClient, group: str) -> object:
    return client.call(DescribeGroupsRequest([group]), 5).groups[0]


def listed(client: RawClient, *states: str) -> dict[str, tuple[str, str]]:
    response = client.call(ListGroupsRequest(states_filter=list(states)), 4)
    return {g.group_id: (g.group_state, g.protocol_type) for g in response.groups}


# ---- FindCoordinator ---------------------------------------------------------------------------
def test_find_coordinator_single_and_batched(server: BrokerProcess, client: RawClient) -> None:
    for version in (0, 1, 2, 3):
        response = client.call(FindCoordinatorRequest(key="g1"), version)
        assert (response.error_code, response.port) == (0, server.port)
    batched = client.call(FindCoordinatorRequest(key_type=0, coordinator_keys=["a", "b", "c"]), 4)
    assert [(c.key, c.error_code, c.port) for c in batched.coordinators] == [(k, 0, server.port) for k in "abc"]
    txn = client.call(FindCoordinatorRequest(key_type=1, coordinator_keys=["tx"]), 4)
    assert (txn.coordinators[0].error_code, txn.coordinators[0].port) == (0, server.port)
    share = client.call(FindCoordinatorRequest(key_type=2, coordinator_keys=["s:topic-id:0"]), 6)
    assert (share.coordinators[0].error_code, share.coordinators[0].port) == (0, server.port)
    unknown = client.call(FindCoordinatorRequest(key_type=7, coordinator_keys=["x"]), 6)
    assert unknown.coordinators[0].error_code == E.INVALID_REQUEST.code

    # The offsets topic exists now, is internal, has Kafka's 50 partitions and is not ours to write.
    meta = client.call(MetadataRequest(topics=[MetadataRequestTopic(name="__consumer_offsets")]), 9)
    assert meta.topics[0].is_internal and len(meta.topics[0].partitions) == 50
    records = encode_batch([Record(key=b"k", value=b"v")])
    produce = client.call(ProduceRequest(acks=1, timeout_ms=1000, topic_data=[
        TopicProduceData("__consumer_offsets", [PartitionProduceData(0, records)])]), 8)
    assert produce.responses[0].partition_responses[0].error_code == E.INVALID_TOPIC_EXCEPTION.code
    deleted = client.call(DeleteTopicsRequest(topic_names=["__consumer_offsets"], timeout_ms=1000), 4)
    assert deleted.responses[0].error_code == E.INVALID_REQUEST.code


# ---- JoinGroup ----------------------------------------------------------------------------------
def test_join_needs_a_member_id_from_v4_and_not_before(client: RawClient) -> None:
    first = client.call(join_request("needs-id"), 4)
    assert first.error_code == E.MEMBER_ID_REQUIRED.code
    assert first.member_id.startswith("raw-test-")  # client id + "-" + uuid, as Kafka makes them
    joined = client.call(join_request("needs-id", first.member_id), 4)
    assert (joined.error_code, joined.generation_id, joined.leader) == (0, 1, first.member_id)
    assert [m.member_id for m in joined.members] == [first.member_id]

    old = client.call(join_request("old-client"), 3)  # v3 clients are let in straight away
    assert old.error_code == 0 and old.member_id and old.leader == old.member_id


def test_join_rejects_bad_requests(server: BrokerProcess, client: RawClient) -> None:
    assert client.call(join_request(""), 5).error_code == E.INVALID_GROUP_ID.code
    assert client.call(join_request("g", session_ms=100), 5).error_code == E.INVALID_SESSION_TIMEOUT.code
    assert client.call(join_request("g", "who-is-this"), 5).error_code == E.UNKNOWN_MEMBER_ID.code
    join(client, "protocols", protocols=("range",))
    other = RawClient(server.bootstrap)
    try:
        response = other.call(join_request("protocols", protocols=("sticky",)), 5)
        assert response.error_code == E.INCONSISTENT_GROUP_PROTOCOL.code
        response = other.call(join_request("protocols", protocol_type="connect"), 5)
        assert response.error_code == E.INCONSISTENT_GROUP_PROTOCOL.code
    finally:
        other.close()


def test_a_rebalance_picks_the_protocol_every_member_supports(server: BrokerProcess) -> None:
    a, b = RawClient(server.bootstrap), RawClient(server.bootstrap)
    try:
        first = join(a, "vote", protocols=("range", "roundrobin"))
        assert first.protocol_name == "range"
        sync(a, "vote", first, {first.member_id: assignment("orders", 0, 1, 2, 3)})
        # b only speaks roundrobin: the group moves to the one protocol both support.
        b_id = b.call(join_request("vote", protocols=("roundrobin",)), 5).member_id
        b.send(join_request("vote", b_id, protocols=("roundrobin",)), 5)
        assert heartbeat(a, "vote", first) == E.REBALANCE_IN_PROGRESS.code
        a.send(join_request("vote", first.member_id, protocols=("range", "roundrobin")), 5)
        a_joined, b_joined = a.receive().body, b.receive().body
        assert a_joined.protocol_name == b_joined.protocol_name == "roundrobin"
        assert a_joined.generation_id == b_joined.generation_id == first.generation_id + 1
        assert a_joined.leader == first.member_id and len(a_joined.members) == 2 and b_joined.members == []

        # The follower's SyncGroup waits for the leader's, then both get their share.
        b.send(SyncGroupRequest("vote", b_joined.generation_id, b_joined.member_id, None, None, None, []), 3)
        plan = {a_joined.member_id: assignment("orders", 0, 1), b_joined.member_id: assignment("orders", 2, 3)}
        assert sync(a, "vote", a_joined, plan) == plan[a_joined.member_id]
        assert bytes(b.receive().body.assignment) == plan[b_joined.member_id]
        assert heartbeat(a, "vote", a_joined) == 0
        assert heartbeat(b, "vote", b_joined, generation=first.generation_id) == E.ILLEGAL_GENERATION.code

        found = describe(a, "vote")
        assert (found.group_state, found.protocol_data) == ("Stable", "roundrobin")
        members = {m.member_id: m for m in found.members}
        assert bytes(members[b_joined.member_id].member_assignment) == plan[b_joined.member_id]
        assert members[b_joined.member_id].client_host == "/127.0.0.1"
    finally:
        a.close()
        b.close()


def test_members_that_do_not_rejoin_are_dropped_after_the_rebalance_timeout(server: BrokerProcess) -> None:
    a, b, c = RawClient(server.bootstrap), RawClient(server.bootstrap), RawClient(server.bootstrap)
    try:
        a_joined = join(a, "slow", rebalance_ms=1000)
        sync(a, "slow", a_joined, {a_joined.member_id: assignment("orders", 0)})
        b_id = b.call(join_request("slow", rebalance_ms=1000), 5).member_id
        b.send(join_request("slow", b_id, rebalance_ms=1000), 5)
        a.send(join_request("slow", a_joined.member_id, rebalance_ms=1000), 5)
        a_new, b_new = a.receive().body, b.receive().body
        plan = {a_new.member_id: assignment("orders", 0, 1), b_new.member_id: assignment("orders", 2, 3)}
        b.send(SyncGroupRequest("slow", b_new.generation_id, b_new.member_id, None, None, None, []), 3)
        sync(a, "slow", a_new, plan)
        b.receive()
        # c joins; a rejoins, b never does: after the rebalance timeout the group goes on without b.
        c_id = c.call(join_request("slow", rebalance_ms=1000), 5).member_id
        started = time.monotonic()
        c.send(join_request("slow", c_id, rebalance_ms=1000), 5)
        a.send(join_request("slow", a_new.member_id, rebalance_ms=1000), 5)
        a_third, c_joined = a.receive().body, c.receive().body
        assert time.monotonic() - started >= 0.8
        assert {m.member_id for m in a_third.members} == {a_new.member_id, c_id}
        assert heartbeat(b, "slow", b_new) == E.UNKNOWN_MEMBER_ID.code
        assert c_joined.error_code == 0
    finally:
        for x in (a, b, c):
            x.close()


def test_session_timeout_removes_a_silent_member(client: RawClient) -> None:
    joined = join(client, "silent", session_ms=600)
    sync(client, "silent", joined, {joined.member_id: b""})
    assert listed(client, "Stable")["silent"] == ("Stable", "consumer")
    time.sleep(1.0)
    assert heartbeat(client, "silent", joined) == E.UNKNOWN_MEMBER_ID.code
    assert listed(client, "empty")["silent"] == ("Empty", "consumer")  # filters ignore case, as Kafka's do


def test_static_members_keep_their_place_and_fence_their_old_id(server: BrokerProcess) -> None:
    a, b = RawClient(server.bootstrap), RawClient(server.bootstrap)
    try:
        first = a.call(join_request("static", instance_id="host-1"), 5)
        assert first.error_code == 0 and first.member_id.startswith("host-1-")  # static members skip the round trip
        sync(a, "static", first, {first.member_id: assignment("orders", 0, 1, 2, 3)})
        # The same instance comes back (say, after a restart) with no member id: it takes the old place.
        again = b.call(join_request("static", instance_id="host-1"), 5)
        assert again.error_code == 0 and again.member_id != first.member_id
        assert again.generation_id == first.generation_id  # no rebalance
        assert sync(b, "static", again) == assignment("orders", 0, 1, 2, 3)
        fenced = a.call(HeartbeatRequest("static", first.generation_id, first.member_id, "host-1"), 3)
        assert fenced.error_code == E.FENCED_INSTANCE_ID.code
        # Batched LeaveGroup (v3+) names static members by instance id.
        left = b.call(LeaveGroupRequest("static", members=[MemberIdentity("", "host-1"),
                                                           MemberIdentity("nobody", None)]), 3)
        assert left.error_code == 0
        assert [m.error_code for m in left.members] == [0, E.UNKNOWN_MEMBER_ID.code]
        assert listed(b)["static"] == ("Empty", "consumer")
    finally:
        a.close()
        b.close()


# ---- offsets -------------------------------------------------------------------------------------
def test_commits_from_outside_any_generation(client: RawClient) -> None:
    assert commit(client, "admin-tool", {("orders", 0): 5, ("orders", 1): 7}) == {("orders", 0): 0, ("orders", 1): 0}
    assert listed(client)["admin-tool"] == ("Empty", "")  # a simple group: offsets, no members
    assert fetch_offsets(client, "admin-tool") == {("orders", 0): 5, ("orders", 1): 7}
    assert commit(client, "admin-tool", {("no-such-topic", 0): 1}) == {
        ("no-such-topic", 0): E.UNKNOWN_TOPIC_OR_PARTITION.code}
    assert commit(client, "admin-tool", {("orders", 0): 1}, metadata="x" * 5000) == {
        ("orders", 0): E.OFFSET_METADATA_TOO_LARGE.code}
    assert commit(client, "never-seen", {("orders", 0): 1}, generation=3, member_id="m") == {
        ("orders", 0): E.ILLEGAL_GENERATION.code}
    # v2 (retention time) and v1 (per-partition timestamps) still work.
    assert commit(client, "admin-tool", {("orders", 2): 9}, version=2) == {("orders", 2): 0}
    assert commit(client, "admin-tool", {("orders", 3): 11}, version=1) == {("orders", 3): 0}
    assert fetch_offsets(client, "admin-tool", version=2)[("orders", 3)] == 11


def test_commits_inside_a_generation_are_checked(client: RawClient) -> None:
    joined = join(client, "members-commit")
    sync(client, "members-commit", joined, {joined.member_id: assignment("orders", 0)})
    ok = commit(client, "members-commit", {("orders", 0): 3}, generation=joined.generation_id,
                member_id=joined.member_id)
    assert ok == {("orders", 0): 0}
    stale = commit(client, "members-commit", {("orders", 0): 4}, generation=joined.generation_id - 1,
                   member_id=joined.member_id)
    assert stale == {("orders", 0): E.ILLEGAL_GENERATION.code}
    outsider = commit(client, "members-commit", {("orders", 0): 4})
    assert outsider == {("orders", 0): E.UNKNOWN_MEMBER_ID.code}  # no anonymous commits while it has members
    assert fetch_offsets(client, "members-commit") == {("orders", 0): 3}


def test_offset_fetch_many_groups_at_once(client: RawClient) -> None:
    commit(client, "multi-a", {("orders", 0): 1})
    commit(client, "multi-b", {("audit", 1): 2})
    response = client.call(OffsetFetchRequest(groups=[
        OffsetFetchRequestGroup("multi-a", topics=None),
        OffsetFetchRequestGroup("multi-b", topics=[OffsetFetchRequestTopics("audit", [0, 1])]),
        OffsetFetchRequestGroup("multi-none", topics=None),
    ]), 8)
    got = {g.group_id: {(t.name, p.partition_index): p.committed_offset for t in g.topics for p in t.partitions}
           for g in response.groups}
    assert got == {"multi-a": {("orders", 0): 1}, "multi-b": {("audit", 0): -1, ("audit", 1): 2}, "multi-none": {}}
    single = client.call(OffsetFetchRequest(group_id="multi-b", topics=[OffsetFetchRequestTopic("audit", [1])]), 1)
    assert single.topics[0].partitions[0].committed_offset == 2


def test_delete_groups_and_offsets(server: BrokerProcess, client: RawClient) -> None:
    joined = join(client, "busy", topics=("orders",))
    sync(client, "busy", joined, {joined.member_id: assignment("orders", 0, 1, 2, 3)})
    commit(client, "busy", {("orders", 0): 1, ("audit", 0): 1}, generation=joined.generation_id,
           member_id=joined.member_id)
    result = client.call(DeleteGroupsRequest(["busy", "ghost"]), 2).results
    assert [(r.group_id, r.error_code) for r in result] == [("busy", E.NON_EMPTY_GROUP.code),
                                                             ("ghost", E.GROUP_ID_NOT_FOUND.code)]
    deleted = client.call(OffsetDeleteRequest("busy", [
        OffsetDeleteRequestTopic("orders", [OffsetDeleteRequestPartition(0)]),
        OffsetDeleteRequestTopic("audit", [OffsetDeleteRequestPartition(0)]),
    ]), 0)
    assert deleted.error_code == 0
    assert [(t.name, t.partitions[0].error_code) for t in deleted.topics] == [
        ("orders", E.GROUP_SUBSCRIBED_TO_TOPIC.code), ("audit", 0)]
    assert fetch_offsets(client, "busy") == {("orders", 0): 1}
    client.call(LeaveGroupRequest("busy", joined.member_id), 1)
    result = client.call(DeleteGroupsRequest(["busy"]), 2).results
    assert result[0].error_code == 0
    assert "busy" not in listed(client)
    assert fetch_offsets(client, "busy") == {}
    assert client.call(OffsetDeleteRequest("busy", []), 0).error_code == E.GROUP_ID_NOT_FOUND.code


def test_groups_are_rebuilt_from_consumer_offsets_after_a_restart(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", SETTINGS).start()
    try:
        c = RawClient(broker.bootstrap)
        c.call(CreateTopicsRequest(topics=[CreatableTopic("orders", 4, 1)], timeout_ms=5000), 4)
        joined = join(c, "durable", session_ms=30_000)
        plan = {joined.member_id: assignment("orders", 0, 1, 2, 3)}
        sync(c, "durable", joined, plan)
        commit(c, "durable", {("orders", 2): 42}, generation=joined.generation_id, member_id=joined.member_id)
        commit(c, "simple", {("orders", 1): 7})
        commit(c, "doomed", {("orders", 1): 1})
        c.call(DeleteGroupsRequest(["doomed"]), 2)
        c.close()
        broker.kill()
        broker.start()
        c = RawClient(broker.bootstrap)
        assert fetch_offsets(c, "durable") == {("orders", 2): 42}
        assert fetch_offsets(c, "simple") == {("orders", 1): 7}
        assert listed(c) == {"durable": ("Stable", "consumer"), "simple": ("Empty", "")}
        found = describe(c, "durable")
        assert [(m.member_id, bytes(m.member_assignment)) for m in found.members] == list(plan.items())
        # The member carries on in its generation, as if the broker had never gone away.
        assert heartbeat(c, "durable", joined) == 0
        c.close()
    finally:
        broker.stop()


def test_a_new_group_waits_the_initial_delay_for_more_members(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", {"group.initial.rebalance.delay.ms": 1000}).start()
    a, b = RawClient(broker.bootstrap), RawClient(broker.bootstrap)
    try:
        a.call(CreateTopicsRequest(topics=[CreatableTopic("orders", 4, 1)], timeout_ms=5000), 4)
        a_id = a.call(join_request("starting"), 5).member_id
        started = time.monotonic()
        a.send(join_request("starting", a_id), 5)
        time.sleep(0.5)
        b_id = b.call(join_request("starting"), 5).member_id
        b.send(join_request("starting", b_id), 5)
        a_joined, b_joined = a.receive().body, b.receive().body
        took = time.monotonic() - started
        # One rebalance for both, not one per arrival; b's arrival stretched the wait.
        assert a_joined.generation_id == b_joined.generation_id == 1
        assert len(a_joined.members) == 2
        assert 1.4 <= took < 3.5
    finally:
        a.close()
        b.close()
        broker.stop()
