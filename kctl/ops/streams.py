"""Kafka Streams applications: what an app has on the cluster (its group, input and internal
topics) and the reset `kafka-streams-application-reset.sh` does, with a preview first.

A reset moves the app's committed offsets on its input topics (to the earliest by default, or
any strategy `groups reset-offsets` knows) and deletes its internal topics: the repartition and
changelog topics Kafka Streams made, named `<application.id>-...-repartition` or `-changelog`
(and the foreign-key join topics), as Kafka's tool infers them. Refused while the app runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kctl.client import Admin
from kctl.client.group_kinds import GroupDescription
from kctl.protocol.enums import GroupState

from .errors import BadUsage, NotFound, Refused
from .groups import ResetPlan, Strategy, apply_reset, expand_specs, group_offsets, plan_reset

if TYPE_CHECKING:
    from kctl.client import Cluster

_INTERNAL_SUFFIXES = ("-changelog", "-repartition", "-subscription-registration-topic",
                      "-subscription-response-topic")
_FK_JOIN = re.compile(r".+-KTABLE-FK-JOIN-SUBSCRIPTION-(REGISTRATION|RESPONSE)-\d+-topic")


def is_internal_topic(app_id: str, topic: str) -> bool:
    """Whether Kafka Streams made `topic` for the app (the rule of Kafka's reset tool)."""
    return topic.startswith(app_id + "-") and (topic.endswith(_INTERNAL_SUFFIXES) or bool(_FK_JOIN.fullmatch(topic)))


@dataclass(slots=True)
class StreamsApp:
    app_id: str
    group_type: str | None  # None: no group on the cluster yet
    state: str | None
    members: int
    input_topics: list[str]  # from the group's committed offsets
    internal_topics: list[str]
    group: dict[str, Any] | None = None  # `groups describe` of it, when it exists


async def describe_app(cluster: Cluster, app_id: str, *, with_group: bool = True,
                       topics: set[str] | None = None) -> StreamsApp:
    """The app's group (a consumer group, or a streams group on Kafka 4.4 with KIP-1071), the
    input topics it has committed offsets on, and its internal topics. `with_group` adds the
    group as `groups describe` shows it (members, topology, lag); `topics`: the cluster's, if
    already listed."""
    from .groups import describe_group

    admin = Admin(cluster)
    topics = set(await admin.list_topics()) if topics is None else topics
    internal = sorted(t for t in topics if is_internal_topic(app_id, t))
    described = (await admin.describe_groups([app_id]))[app_id]
    if not isinstance(described, GroupDescription) or described.state == GroupState.DEAD:
        if not internal:
            raise NotFound(f"no Kafka Streams app {app_id!r} on this cluster: no group and no internal topics",
                           "`kctl groups list` shows the groups; an app's group is its application.id")
        return StreamsApp(app_id, None, None, 0, [], internal)
    committed = await group_offsets(admin, app_id, described.type)
    inputs = sorted({tp.topic for tp in committed if tp.topic not in internal and tp.topic in topics})
    shown = await describe_group(cluster, app_id) if with_group else None
    return StreamsApp(app_id, described.type, str(described.state), len(described.members), inputs, internal,
                      shown[0] if shown else None)


@dataclass(slots=True)
class StreamsResetPlan:
    app: StreamsApp
    offsets: ResetPlan | None  # None: no input topic to move
    delete: list[str] = field(default_factory=list)


async def plan_streams_reset(cluster: Cluster, app_id: str, strategy: Strategy, *,
                             input_topics: list[str] | None = None,
                             internal_topics: list[str] | None = None) -> StreamsResetPlan:
    """What the reset would do. Input topics: those given, else every topic the app's group has
    offsets on that is not one of its internal topics. Internal topics: those given (each must
    be one Kafka's rule infers), else all it infers."""
    topics = set(await Admin(cluster).list_topics())
    app = await describe_app(cluster, app_id, with_group=False, topics=topics)
    inputs = input_topics if input_topics else app.input_topics
    missing = sorted(set(inputs) - topics)
    if missing:
        raise NotFound(f"input topic(s) not found: {', '.join(missing)}", "`kctl topics list` shows the topics")
    inferred = [t for t in app.internal_topics if t not in inputs]
    if internal_topics:
        strays = sorted(set(internal_topics) - set(inferred))
        if strays:  # in the words of Kafka's tool
            raise BadUsage(f"Invalid topic specified in the --internal-topics option: {', '.join(strays)}. Ensure "
                           "that the topics specified are all internal topics.",
                           "do a dry run without --internal-topic to see every internal topic that can be deleted")
        delete = sorted(internal_topics)
    else:
        delete = inferred
    offsets = None
    if inputs:
        partitions = await expand_specs(cluster, [(t, None) for t in inputs])
        offsets = await plan_reset(cluster, app_id, strategy, partitions)
    return StreamsResetPlan(app, offsets, delete)


async def refuse_if_running(admin: Admin, app_id: str) -> None:
    """Kafka's reset tool's refusal, in its words: an app's members would commit over the reset."""
    described = (await admin.describe_groups([app_id]))[app_id]
    if isinstance(described, GroupDescription) and described.members:
        ids = ", ".join(m.member_id for m in described.members)
        raise Refused(f"Consumer group '{app_id}' is still active and has following members: [{ids}]. Make sure to "
                      "stop all running application instances before running the reset tool.",
                      "stop every instance of the app, then run this again")


@dataclass(slots=True)
class StreamsResetDone:
    offsets_saved: Path | None
    deleted: list[str]


async def apply_streams_reset(cluster: Cluster, plan: StreamsResetPlan) -> StreamsResetDone:
    """Commit the planned offsets (the previous ones saved, for `kctl groups undo-reset`), then
    delete the internal topics. Refused while the app has members."""
    admin = Admin(cluster)
    await refuse_if_running(admin, plan.app.app_id)
    saved = await apply_reset(cluster, plan.offsets) if plan.offsets is not None else None
    failed: list[str] = []
    if plan.delete:
        results = await admin.delete_topics(plan.delete)
        failed = [f"{topic}: {error}" for topic, error in results.items() if error is not None]
    if failed:
        raise Refused("the offsets were reset, but deleting internal topics failed: " + "; ".join(failed))
    return StreamsResetDone(saved, plan.delete)


def reset_command(app_id: str, plan: StreamsResetPlan) -> str:
    """The same reset with Kafka's tool, for runbooks that must use it."""
    parts = ["kafka-streams-application-reset.sh", "--bootstrap-server", "HOST:PORT", "--application-id", app_id]
    if plan.offsets is not None:
        parts += ["--input-topics", ",".join(sorted({r["topic"] for r in plan.offsets.rows})),
                  plan.offsets.strategy.option]
    if plan.delete:
        parts += ["--internal-topics", ",".join(plan.delete)]
    return " ".join(parts)
