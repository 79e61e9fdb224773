"""Groups as `kctl lag`, `kctl groups describe` and the console show them: lag, health and members.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.group_kinds import (
    CLASSIC,
    SHARE,
    GroupDescription,
    MemberDescription,
)
from kctl.client.types import TopicPartition
from kctl.protocol.enums import GroupState

if TYPE_CHECKING:
    pass
from .history import LagHistory, single_look_health
from .lag import iter_lag, share_lag
from .rows import Health, LagRows


@dataclass(slots=True)
class GroupLag:
    """One look at one group: its state, its members, its rows and the verdict on them."""

    group: str
    state: str
    description: GroupDescription | None  # None when the group could not be described
    rows: LagRows
    health: Health
    problem: KafkaError | None = None  # why it could not be described

    @property
    def lag(self) -> int:
        return sum(self.rows.lag)

    @property
    def members(self) -> int:
        return len(self.description.members) if self.description is not None else 0


async def iter_group_lag(cluster: Cluster, groups: Sequence[str] | None = None, *, ages: bool = True,
                         history: Callable[[str], LagHistory] | None = None, at: float | None = None
                         ) -> AsyncIterator[list[GroupLag]]:
    """Every (or the named) group's lag and health, a batch of groups at a time: the one
    assembly behind `kctl lag`, `kctl groups describe` and the console's group views.

    `history` gives the history a group's look is added to (rates, trend, a verdict over time);
    without it each group's verdict is from this one look.
    """
    admin = Admin(cluster)
    names = list(groups) if groups else sorted(g.group_id for g in await admin.list_groups())
    if not names:
        return
    described = await admin.describe_groups(names)
    # Share groups commit no offsets: their lag is from where each share partition starts.
    share = [g for g in names if getattr(described.get(g), "type", None) == SHARE]
    if share:
        yield [group_lag(rows, described.get(rows.group), history, at) for rows in await share_lag(cluster, share)]
    share_groups = set(share)
    committing = [g for g in names if g not in share_groups] if share else names
    if not committing:
        return
    async for batch in iter_lag(cluster, committing, ages=ages):
        yield [group_lag(rows, described.get(rows.group), history, at) for rows in batch]


def group_lag(rows: LagRows, found: GroupDescription | KafkaError | None,
              history: Callable[[str], LagHistory] | None = None, at: float | None = None) -> GroupLag:
    """One look at a group from its description and lag rows: the verdict, over its history
    when one is given, and on each row."""
    problem, description = (found, None) if isinstance(found, KafkaError) else (None, found)
    state = description.state if description is not None else "Unknown"
    if history is None:
        verdict = single_look_health(rows, state)
    else:
        looks = history(rows.group)
        looks.add(rows, at)
        verdict = looks.verdict(state)
    rows.health = verdict
    return GroupLag(rows.group, state, description, rows, verdict, problem)


async def describe_group(cluster: Cluster, group: str) -> tuple[dict[str, Any], list[tuple[str, Any]]] | None:
    """`kctl groups describe`: the group by its type's describe API, its members (epochs,
    assignments and targets, subscriptions, a streams member's tasks), a streams group's
    topology, and its lag per partition. None when there is no such group."""
    [looked] = [g async for batch in iter_group_lag(cluster, [group], ages=False) for g in batch]
    if looked.problem is not None:
        raise looked.problem
    described = looked.description
    assert described is not None
    partitions: list[dict[str, Any]] = [dict(r) for r in looked.rows]
    if described.state == GroupState.DEAD and not partitions:
        return None
    owner = {(tp.topic, tp.partition): m.member_id for m in described.members for tp in m.assignment}
    for row in partitions:
        del row["group"], row["health"]
        row["member"] = owner.get((row["topic"], row["partition"]))
    members = [member_row(m) for m in described.members]
    data: dict[str, Any] = {
        "group": group, "type": described.type, "state": described.state,
        "protocol_type": described.protocol_type, "protocol": described.protocol,
        "coordinator": described.coordinator, "group_epoch": described.group_epoch,
        "assignment_epoch": described.assignment_epoch, "members": members, "partitions": partitions,
        "lag": sum(p["lag"] for p in partitions)}
    if described.topology is not None:
        data["topology_epoch"] = described.topology_epoch
        data["subtopologies"] = [{"subtopology": s.subtopology_id, "source_topics": s.source_topics,
                                  "repartition_sink_topics": s.repartition_sink_topics,
                                  "state_changelog_topics": s.state_changelog_topics,
                                  "repartition_source_topics": s.repartition_source_topics}
                                 for s in described.topology]
    summary: list[tuple[str, Any]] = [("group", group), ("type", described.type), ("state", described.state),
                                      ("protocol" if described.type == CLASSIC else "assignor",
                                       described.protocol or "-")]
    if described.group_epoch is not None:
        summary.append(("epoch", f"group {described.group_epoch}, assignment {described.assignment_epoch}"))
    summary += [("members", len(members)), ("total lag", data["lag"])]
    return data, summary


def member_row(m: MemberDescription) -> dict[str, Any]:
    """A member as `kctl groups describe` and the console show it."""
    def names(tps: Sequence[TopicPartition] | None) -> list[str] | None:
        return None if tps is None else [f"{tp.topic}[{tp.partition}]" for tp in tps]

    row: dict[str, Any] = {"member_id": m.member_id, "instance_id": m.instance_id, "client_id": m.client_id,
                           "host": m.client_host, "epoch": m.epoch, "assignment": names(m.assignment),
                           "target_assignment": names(m.target_assignment),
                           "subscription": m.subscribed_regex or m.subscription, "rack": m.rack}
    if m.classic_member:
        row["classic_member"] = True
    if m.tasks is not None:
        row["process_id"] = m.process_id
        for kind in ("active", "standby", "warmup"):
            tasks: dict[str, list[int]] = getattr(m.tasks, kind)
            row[f"{kind}_tasks"] = [f"{sub}:{','.join(map(str, parts))}" for sub, parts in tasks.items()]
        row["target_active_tasks"] = [f"{sub}:{','.join(map(str, parts))}"
                                      for sub, parts in (m.target_tasks.active if m.target_tasks else {}).items()]
    return row
