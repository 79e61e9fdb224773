"""The classic consumer-group state machine: one table says which transitions exist."""

from __future__ import annotations

import enum

from kctl.protocol.enums import GroupState

__all__ = ["CLASSIC_STATES", "INITIAL_DELAY_MOVES", "TRANSITIONS", "DelayHappening", "GroupState", "IllegalTransition",
           "InitialDelay", "check_transition"]

E, P, C, S, D = (
    GroupState.EMPTY,
    GroupState.PREPARING_REBALANCE,
    GroupState.COMPLETING_REBALANCE,
    GroupState.STABLE,
    GroupState.DEAD,
)

#: From each state, the states a group may move to.
#: Empty -> PreparingRebalance: a first member joins. PreparingRebalance -> CompletingRebalance:
#: the join phase ends with members; -> Empty: it ends without any. CompletingRebalance -> Stable:
#: the leader's SyncGroup arrives; -> PreparingRebalance: a member joins, leaves or times out.
#: Stable -> PreparingRebalance: the same. Any live state -> Dead: the group is deleted or its
#: last offsets expire.
TRANSITIONS: dict[GroupState, frozenset[GroupState]] = {
    E: frozenset({P, D}),
    P: frozenset({C, E, D}),
    C: frozenset({S, P, D}),
    S: frozenset({P, D}),
    D: frozenset(),
}


#: The states a classic group has (consumer groups derive theirs: `consumer_group.ConsumerGroup`).
CLASSIC_STATES = frozenset(TRANSITIONS)


class IllegalTransition(RuntimeError):
    """A transition the table does not allow: a coordinator bug, never a client's fault."""


def check_transition(group_id: str, current: GroupState, target: GroupState) -> None:
    if target not in TRANSITIONS.get(current, ()):
        raise IllegalTransition(f"group {group_id!r} cannot go from {current.value} to {target.value}")


class InitialDelay(enum.Enum):
    """Where a group that is starting up is in its initial delay (group.initial.rebalance.delay.ms):
    it waits a moment for the rest of its members, so it does not rebalance once per arrival."""

    OFF = "not in the delay: a full join phase ends early"
    QUIET = "in the delay, and nobody new since its timer was armed"
    ARRIVALS = "in the delay, and new members arrived: it is extended while time is left"


class DelayHappening(enum.Enum):
    BEGUN = "a rebalance began from Empty"
    ARRIVED = "a new member joined"
    REARMED = "the delay's timer was armed again"
    ENDED = "the join phase ended"


#: (where the delay is, what happened) -> where it is next. Pairs not listed leave it as it is.
INITIAL_DELAY_MOVES: dict[tuple[InitialDelay, DelayHappening], InitialDelay] = {
    **{(d, DelayHappening.BEGUN): InitialDelay.QUIET for d in InitialDelay},
    (InitialDelay.QUIET, DelayHappening.ARRIVED): InitialDelay.ARRIVALS,
    (InitialDelay.ARRIVALS, DelayHappening.REARMED): InitialDelay.QUIET,
    **{(d, DelayHappening.ENDED): InitialDelay.OFF for d in InitialDelay},
}
