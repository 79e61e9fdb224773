"""Consumer groups (KIP-848) on the state machine alone: no sockets, no event loop, no real time.

A small driver keeps the timers the machine arms; time moves only when a test says so. Topics
come from a catalog the test edits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from uuid import UUID

import pytest

from broker.groups.assignors import MemberSpec, range_, uniform
from broker.groups.consumer_group import ConsumerGroup, MemberState, TopicShape, from_classic, to_classic
from broker.groups.consumer_membership import (
    RECONCILE,
    ConsumerLimits,
    ConsumerMembership,
    ConsumerTimer,
    Downgrade,
    Event,
    HeartbeatRequest,
    HeartbeatResult,
    Step,
)
from broker.groups.group import Group, JoinResult, Member
from broker.groups.membership import Arm, Cancel, JoinRequest, SyncRequest
from kctl.protocol import data
from kctl.protocol.data import (
    AssignedTopicPartition,
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
    OwnedTopicPartition,
)
from kctl.protocol.enums import GroupState
from kctl.protocol.errors import ErrorCode

NONE = 0
SESSION_MS = 10_000
REBALANCE_MS = 30_000


class Catalog:
    def __init__(self) -> None:
        self.topics: dict[str, TopicShape] = {}
        self.version = 0

    def create(self, name: str, partitions: int) -> UUID:
        self.topics[name] = TopicShape(uuid.uuid4(), partitions)
        self.version += 1
        return self.topics[name].topic_id

    def grow(self, name: str, partitions: int) -> None:
        self.topics[name] = TopicShape(self.topics[name].topic_id, partitions)
        self.version += 1

    def shape(self, name: str) -> TopicShape | None:
        return self.topics.get(name)

    def user_topics(self) -> Iterable[str]:
        return list(self.topics)


class Driver:
    def __init__(self, assignors: tuple[str, ...] = ("uniform", "range"),
                 timing: Callable[[str], tuple[int, int]] | None = None) -> None:
        self.groups: dict[str, Group | ConsumerGroup] = {}
        self.catalog = Catalog()
        self.machine = ConsumerMembership(self.groups, ConsumerLimits(SESSION_MS, 1000, 100, assignors), self.catalog,
                                          timing)
        self.now = 1000.0
        self.timers: dict[tuple[object, str, int | str], float] = {}
        self.owned: dict[str, list[tuple[UUID, list[int]]]] = {}  # what each member last reported
        self.epochs: dict[str, int] = {}

    def _effects(self) -> None:
        for effect in self.machine.take_effects():
            if isinstance(effect, Arm):
                assert effect.at >= self.now
                self.timers[effect.key] = effect.at
            elif isinstance(effect, Cancel):
                self.timers.pop(effect.key, None)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = sorted((at, key) for key, at in self.timers.items() if at <= end)
            if not due:
                break
            at, key = due[0]
            del self.timers[key]
            self.now = at
            self.machine.timer(key, self.now)  # type: ignore[arg-type]
            self._effects()
        self.now = end

    def beat(self, member_id: str, *, group: str = "g", epoch: int | None = None, topics: list[str] | None = None,
             regex: str | None = None, owned: list[tuple[UUID, list[int]]] | None = None,
             instance: str | None = None, assignor: str | None = None, full: bool = False) -> HeartbeatResult:
        """A heartbeat as the Java consumer sends it: the first one full, later ones with what
        it owns now (that is, what it was last assigned, after revoking)."""
        epoch = self.epochs.get(member_id, 0) if epoch is None else epoch
        first = epoch == 0
        result = self.machine.heartbeat(HeartbeatRequest(
            group_id=group, member_id=member_id, member_epoch=epoch, instance_id=instance,
            rebalance_timeout_ms=REBALANCE_MS if first or full else -1,
            subscribed_topic_names=topics if first or full or topics is not None else None,
            subscribed_topic_regex=regex,
            server_assignor=assignor,
            owned=[] if first else (owned if owned is not None else self.owned.get(member_id, [])),
            client_id="client", client_host="/127.0.0.1",
        ), self.now)
        self._effects()
        if result.error == NONE:
            self.epochs[member_id] = result.member_epoch
            if result.assignment is not None:
                self.owned[member_id] = [(t, ps) for t, ps in result.assignment.items()]
        return result

    def group(self, group_id: str = "g") -> ConsumerGroup:
        found = self.groups[group_id]
        assert isinstance(found, ConsumerGroup)
        return found

    def assigned(self, member_id: str) -> set[tuple[UUID, int]]:
        return {(t, p) for t, ps in self.owned.get(member_id, []) for p in ps}


def partitions(topic: UUID, *indexes: int) -> set[tuple[UUID, int]]:
    return {(topic, p) for p in indexes}


# ---- the table -------------------------------------------------------------------------------------
def test_the_table_covers_every_member_state() -> None:
    assert {state for state, _ in RECONCILE} == set(MemberState)
    # A member asked to give partitions up moves on only once it reports them gone.
    assert RECONCILE[(MemberState.UNREVOKED_PARTITIONS, Event.REVOCATION_PENDING)] is Step.STAY
    assert RECONCILE[(MemberState.UNREVOKED_PARTITIONS, Event.REVOKED)] is Step.NEXT_AT_FOLLOWING_EPOCH


# ---- joining and incremental rebalancing ---------------------------------------------------------
def test_the_first_member_gets_every_partition_at_epoch_one() -> None:
    d = Driver()
    t = d.catalog.create("orders", 4)
    result = d.beat("a", topics=["orders"])
    assert (result.error, result.member_epoch, result.heartbeat_interval_ms) == (NONE, 1, 1000)
    assert d.assigned("a") == partitions(t, 0, 1, 2, 3)
    assert d.group().state is GroupState.STABLE
    assert (d.group().group_epoch, d.group().assignment_epoch, d.group().assignor_name) == (1, 1, "uniform")


def test_a_second_member_waits_for_the_first_to_give_partitions_up() -> None:
    d = Driver()
    t = d.catalog.create("orders", 4)
    d.beat("a", topics=["orders"])
    joined = d.beat("b", topics=["orders"])
    # b is at the new epoch but gets nothing yet: a still holds what b is owed.
    assert (joined.member_epoch, d.assigned("b")) == (2, set())
    assert d.group().members["b"].state is MemberState.UNRELEASED_PARTITIONS
    # a is asked to give up two partitions and stays at epoch 1 until it does.
    asked = d.beat("a")
    assert asked.member_epoch == 1
    assert d.assigned("a") == partitions(t, 0, 1)
    assert d.group().members["a"].state is MemberState.UNREVOKED_PARTITIONS
    assert d.group().state is GroupState.RECONCILING
    assert (ConsumerTimer.REVOCATION, "g", "a") in d.timers
    # Its next heartbeat reports them gone: it reaches epoch 2, and b can take them.
    done = d.beat("a")
    assert (done.member_epoch, done.assignment) == (2, None)  # nothing new for a: no assignment sent
    assert (ConsumerTimer.REVOCATION, "g", "a") not in d.timers
    taken = d.beat("b")
    assert d.assigned("b") == partitions(t, 2, 3)
    assert taken.member_epoch == 2
    assert d.group().state is GroupState.STABLE


def test_a_member_that_still_reports_revoked_partitions_keeps_its_epoch() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.beat("a", topics=["orders"])
    d.beat("b", topics=["orders"])
    d.beat("a")  # asked to give up partition 1
    still = d.beat("a", owned=[(t, [0, 1])])
    assert still.member_epoch == 1
    assert d.group().members["a"].state is MemberState.UNREVOKED_PARTITIONS


def test_a_member_slower_than_its_rebalance_timeout_is_fenced() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.beat("a", topics=["orders"])
    d.beat("b", topics=["orders"])
    d.beat("a")  # asked to give up partition 1; never reports it gone
    for _ in range(4):
        d.advance(REBALANCE_MS / 1000 / 4 - 0.1)
        d.beat("b")
        d.beat("a", owned=[(t, [0, 1])])
    d.advance(1)
    assert "a" not in d.group().members
    d.beat("b")
    assert d.assigned("b") == partitions(t, 0, 1)
    assert d.beat("a").error == ErrorCode.UNKNOWN_MEMBER_ID.code


def test_a_silent_member_times_out_and_its_partitions_move() -> None:
    d = Driver()
    t = d.catalog.create("orders", 4)
    d.beat("a", topics=["orders"])
    d.beat("b", topics=["orders"])
    d.beat("a")
    d.beat("a")
    d.beat("b")
    for _ in range(3):
        d.advance(SESSION_MS / 1000 / 2)
        d.beat("b")
    assert "a" not in d.group().members
    assert d.assigned("b") == partitions(t, 0, 1, 2, 3)
    assert d.group().state is GroupState.STABLE


def test_the_last_member_leaving_empties_the_group() -> None:
    d = Driver()
    d.catalog.create("orders", 1)
    d.beat("a", topics=["orders"])
    left = d.beat("a", epoch=-1)
    assert (left.error, left.member_epoch) == (NONE, -1)
    assert d.group().state is GroupState.EMPTY
    assert not d.timers


def test_a_lost_response_is_forgiven_a_stale_epoch_is_not() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.beat("a", topics=["orders"])
    d.beat("b", topics=["orders"])
    d.beat("a")
    d.beat("a")  # now at epoch 2 holding partition 0; suppose the response was lost
    again = d.beat("a", epoch=1, owned=[(t, [0])])
    assert (again.error, again.member_epoch) == (NONE, 2)
    fenced = d.beat("a", epoch=1, owned=[(t, [0, 1])])  # holds more than it is assigned
    assert fenced.error == ErrorCode.FENCED_MEMBER_EPOCH.code
    assert d.beat("a", epoch=7).error == ErrorCode.FENCED_MEMBER_EPOCH.code


def test_a_member_rejoining_with_epoch_zero_starts_afresh() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.beat("a", topics=["orders"])
    again = d.beat("a", epoch=0, topics=["orders"])
    assert again.error == NONE and again.member_epoch == 3
    assert d.assigned("a") == partitions(t, 0, 1)


def test_a_groups_own_configs_set_its_session_and_heartbeat() -> None:
    d = Driver(timing=lambda group_id: (2000, 500) if group_id == "fast" else (SESSION_MS, 1000))
    d.catalog.create("orders", 1)
    assert d.beat("a", group="fast", topics=["orders"]).heartbeat_interval_ms == 500
    assert d.beat("b", group="slow", topics=["orders"]).heartbeat_interval_ms == 1000
    d.advance(2.5)
    assert "a" not in d.group("fast").members
    assert "b" in d.group("slow").members


# ---- subscriptions ----------------------------------------------------------------------------------
def test_a_regex_follows_topics_as_they_come_and_go() -> None:
    d = Driver()
    a = d.catalog.create("rx-a", 2)
    d.catalog.create("other", 2)
    d.beat("m", regex="rx-.*", topics=[])
    assert d.assigned("m") == partitions(a, 0, 1)
    b = d.catalog.create("rx-b", 1)
    grown = d.beat("m")
    assert grown.member_epoch == 2
    assert d.assigned("m") == partitions(a, 0, 1) | partitions(b, 0)
    d.catalog.grow("rx-a", 3)
    d.beat("m")
    assert d.assigned("m") == partitions(a, 0, 1, 2) | partitions(b, 0)
    assert d.group().subscribed_topics() == {"rx-a", "rx-b"}


def test_a_changed_subscription_moves_the_assignment() -> None:
    d = Driver()
    t = d.catalog.create("orders", 1)
    u = d.catalog.create("payments", 1)
    d.beat("a", topics=["orders"])
    d.beat("a", topics=["payments"])  # orders must go first
    assert d.group().members["a"].state is MemberState.UNREVOKED_PARTITIONS
    d.beat("a", owned=[])
    assert d.assigned("a") == partitions(u, 0)
    assert (t, 0) not in d.group().partition_epochs


def test_bad_heartbeats_get_kafkas_errors() -> None:
    d = Driver()
    d.catalog.create("orders", 1)
    first = HeartbeatRequest(group_id="g", member_id="a", member_epoch=0, rebalance_timeout_ms=-1,
                             subscribed_topic_names=["orders"], owned=[])
    result = d.machine.heartbeat(first, d.now)
    assert (result.error, result.message) == (ErrorCode.INVALID_REQUEST.code,
                                              "RebalanceTimeoutMs must be provided in first request.")
    assert d.beat("a", topics=["orders"], assignor="sticky").error == ErrorCode.UNSUPPORTED_ASSIGNOR.code
    assert d.beat("a", regex="(unclosed", topics=[]).error == ErrorCode.INVALID_REGULAR_EXPRESSION.code
    assert d.beat("", topics=["orders"]).error == ErrorCode.INVALID_REQUEST.code
    assert d.beat("ghost", epoch=3).error == ErrorCode.UNKNOWN_MEMBER_ID.code


# ---- static members ---------------------------------------------------------------------------------
def test_a_static_member_comes_back_to_its_partitions_without_a_rebalance() -> None:
    d = Driver()
    t = d.catalog.create("orders", 4)
    d.beat("a", topics=["orders"], instance="i-a")
    d.beat("b", topics=["orders"], instance="i-b")
    d.beat("a")
    d.beat("a")
    d.beat("b")
    epoch = d.group().group_epoch
    held = d.assigned("b")
    assert d.beat("b", epoch=-2, instance="i-b").member_epoch == -2
    # Another member may not take i-b's partitions while it is away...
    assert d.beat("a").member_epoch == epoch
    assert d.assigned("a") == partitions(t, 0, 1, 2, 3) - held
    # ...nor its instance id, until it comes back under a new member id.
    busy = d.beat("a2", topics=["orders"], instance="i-a")
    assert busy.error == ErrorCode.UNRELEASED_INSTANCE_ID.code
    back = d.beat("b2", topics=["orders"], instance="i-b")
    assert (back.error, back.member_epoch) == (NONE, epoch)
    assert d.assigned("b2") == held
    assert d.group().group_epoch == epoch
    assert d.beat("b", instance="i-b", epoch=epoch).error == ErrorCode.FENCED_INSTANCE_ID.code


def test_a_static_member_that_stays_away_times_out() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.beat("a", topics=["orders"], instance="i-a")
    d.beat("b", topics=["orders"])
    d.beat("a")
    d.beat("a")
    d.beat("a", epoch=-2, instance="i-a")
    for _ in range(3):
        d.advance(SESSION_MS / 1000 / 2)
        d.beat("b")
    assert d.assigned("b") == partitions(t, 0, 1)


# ---- assignors -----------------------------------------------------------------------------------------
def test_the_range_assignor_when_members_ask_for_it() -> None:
    d = Driver()
    t = d.catalog.create("orders", 5)
    d.beat("a", topics=["orders"], assignor="range")
    d.beat("b", topics=["orders"], assignor="range")
    d.beat("a")
    d.beat("a")
    d.beat("b")
    assert d.group().assignor_name == "range"
    assert d.assigned("a") == partitions(t, 0, 1, 2)
    assert d.assigned("b") == partitions(t, 3, 4)


def test_uniform_is_balanced_and_sticky() -> None:
    t = uuid.uuid4()
    three = uniform({m: MemberSpec(frozenset({t})) for m in "abc"}, {t: 12})
    assert sorted(len(a[t]) for a in three.values()) == [4, 4, 4]
    specs = {m: MemberSpec(frozenset({t}), three[m]) for m in "abc"}
    specs["d"] = MemberSpec(frozenset({t}))
    four = uniform(specs, {t: 12})
    assert sorted(len(a[t]) for a in four.values()) == [3, 3, 3, 3]
    moved = sum(len(three[m][t] - four[m][t]) for m in "abc")
    assert moved == 3  # only what the newcomer needs


def test_uniform_with_different_subscriptions() -> None:
    t, u = uuid.uuid4(), uuid.uuid4()
    result = uniform({"a": MemberSpec(frozenset({t})), "b": MemberSpec(frozenset({t, u}))}, {t: 2, u: 2})
    assert result["a"] == {t: {0, 1}} or len(result["a"].get(t, ())) >= 1
    assert result["b"].get(u) == {0, 1}
    assert sum(len(ps) for a in result.values() for ps in a.values()) == 4


def test_range_gives_contiguous_ranges_in_member_order() -> None:
    t = uuid.uuid4()
    assert range_({m: MemberSpec(frozenset({t})) for m in "cab"}, {t: 7}) == {
        "a": {t: {0, 1, 2}}, "b": {t: {3, 4}}, "c": {t: {5, 6}}}


# ---- group types and offsets --------------------------------------------------------------------------
def test_an_empty_classic_group_becomes_a_consumer_group_and_keeps_its_offsets() -> None:
    d = Driver()
    d.catalog.create("orders", 1)
    classic = Group("g")
    classic.offsets[("orders", 0)] = object()  # type: ignore[assignment]
    d.groups["g"] = classic
    assert d.beat("a", topics=["orders"]).error == NONE
    assert d.group().offsets is classic.offsets


def test_a_live_classic_group_is_not_taken_over() -> None:
    d = Driver()
    d.catalog.create("orders", 1)
    classic = Group("g")
    classic.add(Member("old", None, "c", "/h", 10_000, 10_000, "consumer", [("range", b"")]))
    d.groups["g"] = classic
    result = d.beat("a", topics=["orders"])
    assert (result.error, result.message) == (ErrorCode.GROUP_ID_NOT_FOUND.code, "Group g is not a consumer group.")


def test_commits_are_checked_against_the_members_epoch() -> None:
    d = Driver()
    d.catalog.create("orders", 2)
    d.beat("a", topics=["orders"])
    group = d.group()
    check = d.machine.check_commit
    assert check(group, "a", 1, 9, False) == NONE
    assert check(group, "a", 2, 9, False) == ErrorCode.STALE_MEMBER_EPOCH.code
    assert check(group, "a", 1, 8, False) == ErrorCode.UNSUPPORTED_VERSION.code
    assert check(group, "zz", 1, 9, False) == ErrorCode.UNKNOWN_MEMBER_ID.code
    assert check(group, "", -1, 9, False) == ErrorCode.UNKNOWN_MEMBER_ID.code  # members present
    d.beat("b", topics=["orders"])
    d.beat("a")
    d.beat("a")  # a: epoch 3, keeps partition 0 (held since epoch 1)
    per_partition = check(group, "a", 1, 9, False)
    assert callable(per_partition)
    assert per_partition("orders", 0) == NONE
    assert per_partition("orders", 1) == ErrorCode.STALE_MEMBER_EPOCH.code  # no longer a's
    assert d.machine.check_fetch(group, "a", 1) == ErrorCode.STALE_MEMBER_EPOCH.code
    assert d.machine.check_fetch(group, None, -1) == NONE


@pytest.mark.parametrize("members", [3, 50])
def test_many_members_end_up_with_every_partition_once(members: int) -> None:
    d = Driver()
    t = d.catalog.create("orders", 60)
    ids = [f"m{i:02d}" for i in range(members)]
    for m in ids:
        d.beat(m, topics=["orders"])
    for _ in range(4):
        for m in ids:
            d.beat(m)
    held = [d.assigned(m) for m in ids]
    assert set().union(*held) == partitions(t, *range(60))
    assert sum(len(h) for h in held) == 60
    assert max(len(h) for h in held) - min(len(h) for h in held) <= 1
    assert d.group().state is GroupState.STABLE


# ---- classic members and the online migration (KIP-848) ----------------------------------------------
def classic_join(d: Driver, member_id: str, topics: list[str], owned: dict[str, list[int]] | None = None,
                 instance: str | None = None) -> JoinResult:
    metadata = data.encode(ConsumerProtocolSubscription(
        topics=topics, owned_partitions=[OwnedTopicPartition(t, ps) for t, ps in (owned or {}).items()]), 1)
    result = d.machine.classic_join(d.group(), JoinRequest(
        member_id=member_id, instance_id=instance, client_id="classic", client_host="/127.0.0.1",
        session_timeout_ms=10_000, rebalance_timeout_ms=REBALANCE_MS, protocol_type="consumer",
        protocols=[("range", metadata), ("cooperative-sticky", metadata)], group_id="g"), d.now)
    d._effects()
    return result


def classic_group(d: Driver, topic: str, split: dict[str, list[int]]) -> Group:
    """A stable classic group of generation 5 whose members hold `split` of `topic`."""
    group = Group("g")
    subscription = data.encode(ConsumerProtocolSubscription(topics=[topic]), 1)
    for member_id, partitions in split.items():
        group.add(Member(member_id, None, "classic", "/127.0.0.1", 10_000, REBALANCE_MS, "consumer",
                         [("range", subscription)], assignment=data.encode(
                             ConsumerProtocolAssignment([AssignedTopicPartition(topic, partitions)]), 1)))
    group.generation, group.protocol_name, group.state = 5, "range", GroupState.STABLE
    return group


def test_a_classic_group_taken_over_keeps_its_assignment_then_rebalances() -> None:
    d = Driver()
    t = d.catalog.create("orders", 4)
    group = from_classic(classic_group(d, "orders", {"a": [0, 1], "b": [2, 3]}), d.catalog.shape)
    d.groups["g"] = group
    assert (group.group_epoch, group.members["a"].epoch, group.state) == (5, 5, GroupState.STABLE)
    assert group.members["a"].assigned == {t: {0, 1}} and group.members["a"].classic is not None
    joined = d.beat("c", topics=["orders"])  # a member of the consumer protocol arrives: epoch 6
    assert joined.member_epoch == 6 and d.assigned("c") == set()
    # The classic members hear of it on their heartbeat, and rejoin (eagerly: owning nothing).
    assert d.machine.classic_heartbeat(group, 5, "a", None, d.now) == ErrorCode.REBALANCE_IN_PROGRESS.code
    assert d.machine.classic_heartbeat(group, 4, "a", None, d.now) == ErrorCode.ILLEGAL_GENERATION.code
    rejoined = classic_join(d, "a", ["orders"])
    assert (rejoined.error, rejoined.generation, rejoined.leader, rejoined.protocol_name) == (NONE, 6, "", "range")
    synced = d.machine.classic_sync(group, SyncRequest("g", 6, "a", None, "consumer", "range", {}), d.now)
    assigned = data.decode(ConsumerProtocolAssignment, synced.assignment)
    kept = {p for part in assigned.assigned_partitions for p in part.partitions}
    assert synced.error == NONE and kept < {0, 1}
    classic_join(d, "b", ["orders"])
    d.beat("c")
    assert len(d.assigned("c")) == 1  # the one partition a gave up, and b's when b gives one up
    assert d.machine.check_commit(group, "a", 6, 2, False) == NONE  # classic members commit with old versions
    assert d.machine.check_commit(group, "a", 5, 2, False) == ErrorCode.ILLEGAL_GENERATION.code


def test_the_last_consumer_member_leaving_hands_the_group_back() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.groups["g"] = from_classic(classic_group(d, "orders", {"a": [0, 1]}), d.catalog.shape)
    d.beat("c", topics=["orders"])
    classic_join(d, "a", ["orders"])
    d.beat("c")
    result = d.machine.heartbeat(HeartbeatRequest(group_id="g", member_id="c", member_epoch=-1), d.now)
    downgrades = [e for e in d.machine.take_effects() if isinstance(e, Downgrade)]
    assert result.error == NONE and downgrades == [Downgrade("g")]
    back = to_classic(d.group())
    assert (back.protocol_type, back.protocol_name, list(back.members), back.state) == (
        "consumer", "range", ["a"], GroupState.STABLE)
    decoded = data.decode(ConsumerProtocolAssignment, back.members["a"].assignment)
    assert {p for part in decoded.assigned_partitions for p in part.partitions} == {
        p for p in d.group().members["a"].assigned.get(t, ())}


def test_a_classic_member_of_another_protocol_type_is_refused() -> None:
    d = Driver()
    d.catalog.create("orders", 1)
    d.beat("c", topics=["orders"])
    refused = d.machine.classic_join(d.group(), JoinRequest(
        member_id="", instance_id=None, client_id="x", client_host="/h", session_timeout_ms=10_000,
        rebalance_timeout_ms=10_000, protocol_type="connect", protocols=[("default", b"")], group_id="g"), d.now)
    assert refused.error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL.code
    needs_id = d.machine.classic_join(d.group(), JoinRequest(
        member_id="", instance_id=None, client_id="x", client_host="/h", session_timeout_ms=10_000,
        rebalance_timeout_ms=10_000, protocol_type="consumer", require_known_member_id=True,
        protocols=[("range", data.encode(ConsumerProtocolSubscription(topics=["orders"]), 1))], group_id="g"), d.now)
    assert needs_id.error == ErrorCode.MEMBER_ID_REQUIRED.code and needs_id.member_id.startswith("x-")


def test_a_new_classic_member_joins_a_consumer_group_after_the_member_id_round_trip() -> None:
    d = Driver()
    t = d.catalog.create("orders", 2)
    d.beat("c", topics=["orders"])
    metadata = data.encode(ConsumerProtocolSubscription(topics=["orders"]), 1)

    def join(member_id: str) -> JoinResult:
        result = d.machine.classic_join(d.group(), JoinRequest(
            member_id=member_id, instance_id=None, client_id="old-client", client_host="/h", session_timeout_ms=10_000,
            rebalance_timeout_ms=10_000, protocol_type="consumer", require_known_member_id=True,
            protocols=[("range", metadata)], group_id="g"), d.now)
        d._effects()
        return result

    first = join("")
    assert first.error == ErrorCode.MEMBER_ID_REQUIRED.code
    joined = join(first.member_id)
    assert (joined.error, joined.leader, joined.generation) == (NONE, "", 2)
    assert d.group().members[first.member_id].classic is not None
    d.beat("c")  # asked to give up a partition for the newcomer...
    d.beat("c")  # ...and reports it gone
    again = join(first.member_id)
    synced = d.machine.classic_sync(d.group(), SyncRequest("g", again.generation, first.member_id, None, "consumer",
                                                           "range", {}), d.now)
    decoded = data.decode(ConsumerProtocolAssignment, synced.assignment)
    assert synced.error == NONE and [(a.topic, a.partitions) for a in decoded.assigned_partitions] == [("orders", [1])]
    assert d.assigned("c") == {(t, 0)}
