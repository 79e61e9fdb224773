"""Offset resets: planned first (per partition: current, new, how many records are skipped or read
again), then applied; applying saves the previous offsets so `undo_reset` can put them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from kctl.client.admin import Admin
from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.group_kinds import (
    CLASSIC,
    SHARE,
    GroupDescription,
    alter_share_group_offsets,
    delete_share_group_offsets,
    share_group_offsets,
)
from kctl.client.types import EARLIEST, LATEST, OffsetAndMetadata, TopicPartition
from kctl.ops.times import parse_duration_ms, parse_timestamp_ms
from kctl.protocol.clock import now_ms

from ..errors import BadUsage, NotFound, Refused
from ..saves import live_saves

if TYPE_CHECKING:
    pass
from .reset_saves import SavedOffsets, _save_previous, last_saved_reset, state_dir

#: Every strategy of kafka-consumer-groups.sh, plus to-group, by its CLI option.
STRATEGIES = ("to-earliest", "to-latest", "to-current", "to-offset", "shift-by", "to-datetime", "by-duration",
              "from-file", "to-group")


NEEDS_VALUE = frozenset({"to-offset", "shift-by", "to-datetime", "by-duration", "from-file", "to-group"})


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str  # one of STRATEGIES
    value: str | None = None

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise BadUsage(f"unknown reset strategy {self.name!r}", f"one of {', '.join(STRATEGIES)}")
        if (self.name in NEEDS_VALUE) != (self.value is not None):
            raise BadUsage(f"--{self.name} {'needs a value' if self.name in NEEDS_VALUE else 'takes no value'}")
        if self.name in ("to-offset", "shift-by"):
            try:
                int(self.value or "")
            except ValueError:
                raise BadUsage(f"--{self.name} needs a whole number, not {self.value!r}") from None

    @property
    def option(self) -> str:
        return f"--{self.name}" + (f" {_quote(self.value)}" if self.value is not None else "")

    @classmethod
    def chosen(cls, given: Mapping[str, object]) -> Strategy:
        """The one strategy among the options given: name -> value, True for an option that takes
        none, and None or False for one not given."""
        picked = [(name, value) for name, value in given.items() if value is not None and value is not False]
        if len(picked) != 1:
            got = f" (got {', '.join('--' + name for name, _ in picked)})" if picked else ""
            raise BadUsage("give exactly one reset strategy" + got, ", ".join(f"--{s}" for s in STRATEGIES))
        name, value = picked[0]
        return cls(name, None if value is True else str(value))


class ResetRow(TypedDict):
    """A reset plan's line for one partition."""

    topic: str
    partition: int
    current_offset: int | None  # None: nothing committed
    new_offset: int
    log_start_offset: int
    log_end_offset: int
    skipped: int  # records the group will not read
    reread: int  # records the group will read again


@dataclass(slots=True)
class ResetPlan:
    group: str
    strategy: Strategy
    rows: list[ResetRow]
    offsets: dict[TopicPartition, int]
    committed: dict[TopicPartition, OffsetAndMetadata]
    group_type: str = CLASSIC

    @property
    def skipped(self) -> int:
        return sum(r["skipped"] for r in self.rows)

    @property
    def reread(self) -> int:
        return sum(r["reread"] for r in self.rows)


def read_plan_file(path: str) -> dict[tuple[str, int], int]:
    """Kafka's reset CSV: TOPIC,PARTITION,OFFSET per line (as --export writes it)."""
    import csv
    import io

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadUsage(f"cannot read {path}: {exc.strerror}") from None
    out: dict[tuple[str, int], int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise BadUsage(f"{path}:{number}: expected TOPIC,PARTITION,OFFSET")
        try:
            out[(row[0].strip(), int(row[1]))] = int(row[2])
        except ValueError:
            raise BadUsage(f"{path}:{number}: partition and offset must be numbers") from None
    return out


def parse_topic_specs(specs: list[str] | None) -> list[tuple[str, list[int] | None]]:
    """`TOPIC` or `TOPIC:0,1,2` each: a whole topic, or some of its partitions."""
    out: list[tuple[str, list[int] | None]] = []
    for spec in specs or []:
        topic, sep, parts = spec.partition(":")
        if not topic:
            raise BadUsage(f"bad topic {spec!r}", "write TOPIC or TOPIC:0,1,2")
        if not sep:
            out.append((topic, None))
            continue
        try:
            out.append((topic, sorted({int(p) for p in parts.split(",") if p.strip()})))
        except ValueError:
            raise BadUsage(f"bad partitions in {spec!r}", "write TOPIC:0,1,2") from None
    return out


async def expand_specs(cluster: Cluster, specs: list[tuple[str, list[int] | None]]) -> list[TopicPartition]:
    out = []
    for topic, partitions in specs:
        info = await cluster.topic(topic)
        for p in partitions if partitions is not None else sorted(info.partitions):
            if p not in info.partitions:
                raise NotFound(f"{topic} has no partition {p}", f"it has {len(info.partitions)}")
            out.append(TopicPartition(topic, p))
    return out


async def reset_scope(cluster: Cluster, topics: list[str] | None, *, all_topics: bool,
                      strategy: Strategy) -> list[TopicPartition] | None:
    """The partitions a reset names (`--topic T[:P,P]`), or None for every partition the group
    has offsets for (`--all-topics`) or the file names (`--from-file`)."""
    if topics:
        return await expand_specs(cluster, parse_topic_specs(topics))
    if all_topics or strategy.name == "from-file":
        return None
    raise BadUsage("say which partitions: --topic T[:P,P] or --all-topics")


async def plan_reset(cluster: Cluster, group: str, strategy: Strategy,
                     partitions: list[TopicPartition] | None = None) -> ResetPlan:
    """New offsets for `partitions` (None: the file's partitions with from-file, otherwise every
    partition the group has offsets for), clamped to what the logs hold, as Kafka does."""
    admin = Admin(cluster)
    described = (await admin.describe_groups([group]))[group]
    kind = described.type if isinstance(described, GroupDescription) else CLASSIC
    committed = await group_offsets(admin, group, kind)
    file_plan = read_plan_file(strategy.value or "") if strategy.name == "from-file" else {}
    if partitions is None:
        partitions = [TopicPartition(t, p) for t, p in sorted(file_plan)] if file_plan else sorted(committed)
    if not partitions:
        raise NotFound(f"group {group!r} has no committed offsets to reset", "name the topics to reset")
    earliest = await admin.list_offsets(dict.fromkeys(partitions, EARLIEST))
    latest = await admin.list_offsets(dict.fromkeys(partitions, LATEST))
    targets: dict[TopicPartition, int] = {}
    if strategy.name in ("to-datetime", "by-duration"):
        when = (parse_timestamp_ms(strategy.value or "") if strategy.name == "to-datetime"
                else now_ms() - parse_duration_ms(strategy.value or ""))
        found = await admin.list_offsets(dict.fromkeys(partitions, when))
        targets = {tp: o.offset if o.offset >= 0 else latest[tp].offset for tp, o in found.items()}
    elif strategy.name == "to-group":
        other = await group_offsets(admin, strategy.value or "")
        targets = {tp: other[tp].offset for tp in partitions if tp in other}
    rows: list[ResetRow] = []
    plan: dict[TopicPartition, int] = {}
    for tp in partitions:
        current = committed[tp].offset if tp in committed else None
        start, end = earliest[tp].offset, latest[tp].offset
        base = current if current is not None else end
        match strategy.name:
            case "to-earliest":
                new = start
            case "to-latest":
                new = end
            case "to-current":
                new = base
            case "to-offset":
                new = int(strategy.value or 0)
            case "shift-by":
                new = base + int(strategy.value or 0)
            case "from-file":
                new = file_plan.get((tp.topic, tp.partition), base)
            case _:
                if tp not in targets:
                    continue  # --to-group: the other group has nothing here
                new = targets[tp]
        new = min(max(new, start), end)
        plan[tp] = new
        delta = new - base
        rows.append({"topic": tp.topic, "partition": tp.partition, "current_offset": current,
                     "new_offset": new, "log_start_offset": start, "log_end_offset": end,
                     "skipped": max(delta, 0), "reread": max(-delta, 0)})
    return ResetPlan(group, strategy, rows, plan, committed, kind)


async def group_offsets(admin: Admin, group: str, kind: str | None = None) -> dict[TopicPartition, OffsetAndMetadata]:
    """A group's committed offsets; for a share group, where each share partition starts (the
    partitions it has started on)."""
    if kind is None:
        found = (await admin.describe_groups([group]))[group]
        kind = found.type if isinstance(found, GroupDescription) else CLASSIC
    if kind != SHARE:
        return (await admin.list_group_offsets([group]))[group]
    answer = (await share_group_offsets(admin, [group]))[group]
    if isinstance(answer, KafkaError):
        raise answer
    return {tp: OffsetAndMetadata(o.start_offset) for tp, o in answer.items() if o.start_offset >= 0}


async def set_group_offsets(admin: Admin, group: str, kind: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Commit offsets from outside the group (a share group: where its partitions start)."""
    if kind == SHARE:
        results = await alter_share_group_offsets(admin, group, offsets)
    else:
        results = await admin.alter_group_offsets(group, offsets)
    failed = [e for e in results.values() if e is not None]
    if failed:
        raise failed[0]


async def delete_offsets(admin: Admin, group: str, partitions: Sequence[TopicPartition], *,
                         whole_topics: bool) -> int:
    """Forget a group's offsets on these partitions; returns how many. A share group keeps
    its state per topic, so only whole topics can be forgotten."""
    found = (await admin.describe_groups([group]))[group]
    if isinstance(found, GroupDescription) and found.type == SHARE:
        if not whole_topics:
            raise BadUsage(f"group {group!r} is a share group: its offsets are deleted for whole topics only",
                           "name topics without partitions")
        topics = sorted({tp.topic for tp in partitions})
        failed = [e for e in (await delete_share_group_offsets(admin, group, topics)).values() if e is not None]
    else:
        failed = [e for e in (await admin.delete_group_offsets(group, partitions)).values() if e is not None]
    if failed:
        raise failed[0]
    return len(partitions)


async def refuse_if_active(admin: Admin, group: str) -> str:
    """Offsets must not move under running consumers: they would overwrite them at their next
    commit. Refused as Kafka's tools refuse it; returns the group's type."""
    described = (await admin.describe_groups([group]))[group]
    if isinstance(described, KafkaError):
        return CLASSIC
    if described.members:  # in the words of Kafka's tools
        if described.type == SHARE:
            raise Refused(f"Share group '{group}' is not empty ({len(described.members)} active member(s))",
                          "stop its consumers, then run this again")
        raise Refused(f"Assignments can only be reset if the group '{group}' is inactive, but the current state is "
                      f"{described.state} ({len(described.members)} active member(s))",
                      "stop its consumers, then run this again")
    return described.type


async def apply_reset(cluster: Cluster, plan: ResetPlan) -> Path:
    """Commit the planned offsets (refused while the group has members); returns where the
    previous offsets were saved for `undo_reset`."""
    admin = Admin(cluster)
    await refuse_if_active(admin, plan.group)
    saved = _save_previous(plan.group, plan.committed, list(plan.offsets))
    await set_group_offsets(admin, plan.group, plan.group_type, plan.offsets)
    return saved


async def undo_reset(cluster: Cluster, group: str) -> SavedOffsets:
    """Put back the offsets from before the group's last executed reset; returns what was saved."""
    saves = live_saves(state_dir() / group)
    saved = last_saved_reset(group)
    await restore_offsets(Admin(cluster), group, saved.offsets)  # on failure the save stays live
    saves[-1].rename(saves[-1].with_suffix(".undone"))
    return saved


async def restore_offsets(admin: Admin, group: str, offsets: Sequence[tuple[str, int, int | None]]) -> None:
    """Put a group's offsets back as they were (None: it had none there), refused while it has
    members: what undoing a reset does."""
    kind = await refuse_if_active(admin, group)
    restore = {TopicPartition(t, p): o for t, p, o in offsets if o is not None}
    forget = [TopicPartition(t, p) for t, p, o in offsets if o is None]
    if restore:
        await set_group_offsets(admin, group, kind, restore)
    if forget and kind != SHARE:  # a share partition never started has nothing to forget
        failed = {tp: e for tp, e in (await admin.delete_group_offsets(group, forget)).items() if e is not None}
        if failed:  # undoing again finishes the job
            tp, error = next(iter(failed.items()))
            raise KafkaError(f"the offsets are back, but {tp.topic}[{tp.partition}] had none before the reset and "
                             f"its offset could not be deleted: {error}", error.code)


def mark_reset_undone(group: str, offsets: Sequence[tuple[str, int, int | None]]) -> None:
    """After `kctl undo` restored these offsets: the group's last saved reset, when it saved them,
    is undone too (so `groups undo-reset` does not put them back twice)."""
    saves = live_saves(state_dir() / group)
    if saves and [tuple(o) for o in last_saved_reset(group).offsets] == [tuple(o) for o in offsets]:
        saves[-1].rename(saves[-1].with_suffix(".undone"))


def reset_offsets_before_after(plan: ResetPlan) -> tuple[list[tuple[str, int, int | None]], list[tuple[str, int, int]]]:
    """A reset's offsets before and after, per partition, as the change journal keeps them."""
    before = [(tp.topic, tp.partition, plan.committed[tp].offset if tp in plan.committed else None)
              for tp in plan.offsets]
    after = [(tp.topic, tp.partition, offset) for tp, offset in plan.offsets.items()]
    return before, after


def reset_command(group: str, strategy: Strategy, partitions: list[TopicPartition] | None, *,
                  execute: bool) -> str:
    """The `kctl` command line that does the same, shown by the console next to every reset."""
    if partitions is None:
        scope = "--all-topics"
    else:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        scope = " ".join(f"--topic {_quote(t)}" + ("" if len(ps) == 0 else f":{','.join(map(str, sorted(ps)))}")
                         for t, ps in by_topic.items())
    return (f"kctl groups reset-offsets {_quote(group)} {scope} {strategy.option}"
            + (" --execute" if execute else ""))


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
