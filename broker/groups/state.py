"""The classic consumer-group state machine: one table says which transitions exist."""

from __future__ import annotations

from kctl.protocol.enums import GroupState

__all__ = ["CLASSIC_STATES", "TRANSITIONS", "GroupState", "IllegalTransition", "check_transition"]

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
