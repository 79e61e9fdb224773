"""`kctl why GROUP`: why a consumer group lags, as one verdict with the figures that show it.

`gather` looks at the group several times over a window (lag columns, members and their
assignments), then once at what the looks point to: the partitions' leaders and in-sync
replicas, the producers holding transactions open where the group is pinned, quotas on the
members' client ids, the record at a flat committed offset and how often the group committed that
offset again (from `__consumer_offsets`), and the keys on the hottest partition.

`diagnose` is pure: evidence in, causes out, worst first. The first is the verdict.

`WhyHistory` keeps the looks a watcher takes anyway (`kctl exporter`, `kctl lag --watch`) for the
groups that are not OK, so that `explain` can judge one at once from looks it already has, for an
alert or the exporter's `/why/GROUP`, with no window to wait out.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kctl.client import Admin
from kctl.client.cluster import Cluster
from kctl.client.errors import KafkaError
from kctl.client.transactions import ProducerInfo
from kctl.client.types import LATEST, ConsumerRecord, PartitionInfo, TopicPartition
from kctl.protocol.errors import ErrorCode

from .errors import NotFound
from .groups import GroupLag, Health, iter_group_lag

#: Causes, worst first: when several hold, the verdict is the first.
#: A quota explains flat commits better than a hung consumer does: throttled comes before stuck.
CAUSES = ("unmeasured", "no-leader", "no-consumers", "open-transaction", "poison-record", "throttled",
          "stuck-partitions", "rebalance-churn", "skew", "slow-consumers", "under-replicated", "healthy")
REBALANCING = {"PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling"}
KEY_SAMPLE = 500  # records read from the hottest partition for its keys


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.time()
    look: GroupLag


@dataclass(slots=True)
class Evidence:
    group: str
    samples: list[Sample]
    partitions: dict[TopicPartition, PartitionInfo] = field(default_factory=dict)
    producers: dict[TopicPartition, list[ProducerInfo]] = field(default_factory=dict)
    quotas: dict[str, dict[str, float]] = field(default_factory=dict)  # client id -> quotas
    #: client id -> the most throttle_time_ms a fetch under that client id was told (quotas are
    #: kept per client id, so it is what the member's own fetches hear).
    throttled_ms: dict[str, int] = field(default_factory=dict)
    records_at: dict[TopicPartition, ConsumerRecord | None] = field(default_factory=dict)
    commits: dict[TopicPartition, list[int]] = field(default_factory=dict)  # offsets committed in the window
    keys: dict[TopicPartition, Counter[bytes | None]] = field(default_factory=dict)
    #: Why the group's lag could not be looked at (a partition without a leader answers no offsets).
    unmeasured: str | None = None


@dataclass(frozen=True, slots=True)
class Cause:
    name: str
    summary: str
    evidence: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        return {"cause": self.name, "summary": self.summary, "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    group: str
    health: Health
    window_s: float
    causes: tuple[Cause, ...]

    @property
    def verdict(self) -> Cause:
        return self.causes[0]

    @property
    def healthy(self) -> bool:
        return self.verdict.name == "healthy"

    def data(self) -> dict[str, Any]:
        return {"group": self.group, "health": str(self.health), "window_s": round(self.window_s, 1),
                "verdict": self.verdict.row(), "also": [c.row() for c in self.causes[1:]]}


# ---- the analysis ---------------------------------------------------------------------------------
def _per_partition(look: GroupLag) -> dict[TopicPartition, tuple[int, int, int, int]]:
    """committed, log end, last stable, lag by partition."""
    r = look.rows
    return {TopicPartition(t, p): (c, e, s, n) for t, p, c, e, s, n in
            zip(r.topics, r.partitions, r.committed, r.log_end, r.last_stable, r.lag, strict=True)}


def _owners(look: GroupLag) -> dict[TopicPartition, str]:
    out: dict[TopicPartition, str] = {}
    if look.description is not None:
        for m in look.description.members:
            for tp in m.assignment:
                out[tp] = f"{m.client_id} ({m.member_id[:20]}, {m.client_host})"
    return out


def _rate(text_count: float) -> str:
    return f"{text_count:,.1f}/s"


def _tp(tp: TopicPartition) -> str:
    return f"{tp.topic}[{tp.partition}]"


def _leaderless(e: Evidence) -> list[TopicPartition]:
    return [tp for tp, info in sorted(e.partitions.items()) if info.leader < 0]


def _no_leader(e: Evidence, partitions: list[TopicPartition]) -> Cause:
    return Cause("no-leader", f"{len(partitions)} of the group's partitions have no leader: nothing can be read "
                 "there", tuple(f"{_tp(tp)}: no leader, replicas {e.partitions[tp].replicas}, in sync "
                                f"{e.partitions[tp].isr}" for tp in partitions))


def diagnose(e: Evidence) -> Diagnosis:
    if not e.samples:  # the lag could not be measured: what the metadata says is all there is
        headless = _leaderless(e)
        cause = _no_leader(e, headless) if headless else Cause("unmeasured", f"lag not measured: {e.unmeasured}")
        if e.unmeasured is not None:
            cause = Cause(cause.name, cause.summary, (*cause.evidence, f"lag not measured: {e.unmeasured}"))
        return Diagnosis(e.group, Health.STALL, 0.0, (cause,))
    first, last = e.samples[0], e.samples[-1]
    window = max(last.at - first.at, 1e-9)
    before, after = _per_partition(first.look), _per_partition(last.look)
    common = [tp for tp in after if tp in before]
    lag_now = sum(v[3] for v in after.values())
    lag_then = sum(before[tp][3] for tp in common)
    produced = sum(after[tp][1] - before[tp][1] for tp in common)
    consumed = sum(max(after[tp][0] - before[tp][0], 0) for tp in common)
    members = last.look.members
    owners = _owners(last.look)
    causes: list[Cause] = []

    headless = [tp for tp in _leaderless(e) if tp in after]
    if headless:
        causes.append(_no_leader(e, headless))
    if members == 0 and lag_now > 0:
        causes.append(Cause("no-consumers", f"no consumers: the group is {last.look.state} with {lag_now:,} "
                            "records to read", (f"members: 0 at every look over {window:.0f}s",
                                                f"lag {lag_then:,} -> {lag_now:,}")))
    pinned = [tp for tp in common if after[tp][2] < after[tp][1] and after[tp][0] >= after[tp][2]
              and after[tp][2] == before[tp][2]]
    if pinned:
        lines = []
        for tp in pinned:
            holders = [p for p in e.producers.get(tp, []) if p.txn_start_offset >= 0]
            held = ", ".join(f"producer {p.producer_id} (epoch {p.producer_epoch}) since offset {p.txn_start_offset}, "
                             f"last written {max(last.at - p.last_timestamp / 1000, 0):.0f}s ago" for p in holders)
            lines.append(f"{_tp(tp)}: last stable offset {after[tp][2]} behind log end {after[tp][1]}, "
                         f"the group is at {after[tp][0]}; open: {held or 'a transaction (DescribeProducers: none)'}")
        causes.append(Cause("open-transaction", f"an open transaction pins the last stable offset on {len(pinned)} "
                            "partition(s): read_committed consumers can go no further", tuple(lines)))
    flat = [tp for tp in common if after[tp][3] > 0 and after[tp][0] == before[tp][0] and tp not in pinned]
    if members and flat:
        poisoned = [tp for tp in flat if len([o for o in e.commits.get(tp, []) if o == after[tp][0]]) >= 2]
        if poisoned:
            lines = []
            for tp in poisoned:
                record = e.records_at.get(tp)
                what = ("gone (deleted or compacted)" if record is None else
                        f"{len(record.value or b'')} bytes, key {record.key!r:.40}, timestamp {record.timestamp}")
                lines.append(f"{_tp(tp)}: offset {after[tp][0]} committed {e.commits[tp].count(after[tp][0])} "
                             f"times in {window:.0f}s and never passed; held by {owners.get(tp, 'nobody')}; "
                             f"the record there: {what}")
            causes.append(Cause("poison-record", f"a poison record: the group keeps committing the same offset on "
                                f"{len(poisoned)} partition(s) without getting past it", tuple(lines)))
        stuck = [tp for tp in flat if tp not in poisoned and tp in owners]
        if stuck:
            causes.append(Cause("stuck-partitions", f"{len(stuck)} partition(s) stuck: committed offsets flat for "
                                f"{window:.0f}s while the records wait", tuple(
                                    f"{_tp(tp)}: committed {after[tp][0]} since at least {window:.0f}s ago, log end "
                                    f"{before[tp][1]} -> {after[tp][1]}, held by {owners[tp]}" for tp in stuck)))
    seen_members = [frozenset(m.member_id for m in s.look.description.members) if s.look.description else frozenset()
                    for s in e.samples]
    changes = sum(1 for a, b in itertools.pairwise(seen_members) if a != b)
    rebalancing = sum(1 for s in e.samples if s.look.state in REBALANCING)
    joined = len(set().union(*seen_members) - seen_members[0]) if seen_members else 0
    left = len(seen_members[0] - seen_members[-1]) if seen_members else 0
    if changes >= 2 or (rebalancing and rebalancing * 2 >= len(e.samples)):
        causes.append(Cause("rebalance-churn", f"rebalance churn: the members changed {changes} time(s) in "
                            f"{window:.0f}s", (f"{joined} member(s) joined, {left} left",
                                               f"rebalancing at {rebalancing} of {len(e.samples)} looks")))
    consume_rate, produce_rate = consumed / window, produced / window
    quota_lines = [f"client id {cid}: " + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(q.items()))
                   for cid, q in sorted(e.quotas.items()) if q]
    heard = {cid: ms for cid, ms in sorted(e.throttled_ms.items()) if ms > 0}
    throttle_lines = [f"a fetch as client id {cid} was told to wait {ms:,} ms (throttle_time_ms)"
                      for cid, ms in heard.items()]
    if (quota_lines or heard) and lag_now > 0 and lag_now >= lag_then:
        causes.append(Cause("throttled", "throttled by quotas: the brokers hold back the members' fetches and the "
                            "lag does not shrink" if heard else "throttled by quotas: the members' client ids have "
                            "quotas and the lag does not shrink",
                            (*throttle_lines, *quota_lines, f"consumed {_rate(consume_rate)} records, "
                                                            f"produced {_rate(produce_rate)}")))
    if lag_now > 0 and len(after) >= 2:
        hottest = max(after, key=lambda tp: after[tp][3])
        share = after[hottest][3] / lag_now
        by_member: Counter[str] = Counter()
        for tp, values in after.items():
            if tp in owners:
                by_member[owners[tp]] += values[3]
        lines = []
        skewed = share >= 0.5 and share >= 2 / len(after)  # at least twice a fair share
        if skewed:
            lines.append(f"{_tp(hottest)} holds {share:.0%} of the lag ({after[hottest][3]:,} of {lag_now:,})")
        if len(by_member) >= 2:
            member, member_lag = by_member.most_common(1)[0]
            if member_lag / lag_now >= 0.6:
                lines.append(f"member {member} holds {member_lag / lag_now:.0%} of the lag")
        keys = e.keys.get(hottest)
        if lines and keys and any(k is not None for k in keys):  # null keys: the partitioner's choice
            top_key, count = keys.most_common(1)[0]
            lines.append(f"key {top_key!r:.40} is {count / sum(keys.values()):.0%} of the last {sum(keys.values())} "
                         f"records on {_tp(hottest)}")
        if lines:
            causes.append(Cause("skew", "skew: the lag sits on few partitions" if skewed
                                else "skew: one member holds most of the lag", tuple(lines)))
    if lag_now > lag_then and produce_rate > consume_rate > 0:
        causes.append(Cause("slow-consumers", f"consumers slower than producers: {_rate(consume_rate)} consumed "
                            f"against {_rate(produce_rate)} produced", (
                                f"lag {lag_then:,} -> {lag_now:,} in {window:.0f}s "
                                f"(+{(lag_now - lag_then) / window:,.1f}/s): at these rates it never catches up",)))
    under = [tp for tp in after if (info := e.partitions.get(tp)) is not None and info.leader >= 0
             and len(info.isr) < len(info.replicas)]
    if under:
        causes.append(Cause("under-replicated", f"{len(under)} of the group's partitions are under-replicated",
                            tuple(f"{_tp(tp)}: in sync {e.partitions[tp].isr} of {e.partitions[tp].replicas}"
                                  for tp in under)))
    if not causes or all(c.name == "under-replicated" for c in causes):
        if lag_now == 0:
            summary = "healthy: caught up"
        elif consume_rate > produce_rate:
            summary = (f"healthy: catching up, {lag_now:,} records left, about "
                       f"{lag_now / (consume_rate - produce_rate):,.0f}s at {_rate(consume_rate)}")
        else:
            summary = f"healthy: {lag_now:,} records behind and steady"
        causes.insert(0, Cause("healthy", summary, (f"lag {lag_then:,} -> {lag_now:,} in {window:.0f}s",)))
    causes.sort(key=lambda c: CAUSES.index(c.name))
    return Diagnosis(e.group, last.look.health, window, tuple(causes))


# ---- looking ----------------------------------------------------------------------------------------
async def look_at(cluster: Cluster, group: str) -> GroupLag:
    async for batch in iter_group_lag(cluster, [group], ages=False):
        for g in batch:
            if g.problem is not None:
                raise g.problem
            return g
    raise NotFound(f"no group {group!r}", "`kctl groups list` shows them")


async def gather(cluster: Cluster, group: str, *, window_s: float, looks: int = 6,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> Evidence:
    """`looks` looks at the group over `window_s`, then the rest of the evidence they point to."""
    admin = Admin(cluster)
    try:
        samples = [Sample(clock(), await look_at(cluster, group))]
    except KafkaError as exc:
        if exc.code not in (ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER):
            raise
        return await _without_lag(admin, group, str(exc))
    for _ in range(max(looks - 1, 1)):
        await sleep(window_s / max(looks - 1, 1))
        samples.append(Sample(clock(), await look_at(cluster, group)))
    final = samples[-1].look
    if not final.rows.topics and (final.description is None or final.state == "Dead"):
        raise NotFound(f"no group {group!r}", "`kctl groups list` shows them")
    return await evidence_from(cluster, group, samples)


async def evidence_from(cluster: Cluster, group: str, samples: list[Sample]) -> Evidence:
    """The evidence the looks point to: replicas, open transactions, quotas, the record at a flat
    committed offset and its commits, and the keys on the hottest partition."""
    admin = Admin(cluster)
    evidence = Evidence(group, samples)
    last = _per_partition(samples[-1].look)
    first = _per_partition(samples[0].look)
    topics = sorted({tp.topic for tp in last})
    evidence.partitions = await _partitions(admin, topics)
    pinned = [tp for tp, v in last.items() if v[2] < v[1]]
    if pinned:
        from kctl.client.transactions import TransactionAdmin

        evidence.producers = dict(await TransactionAdmin(cluster).describe_producers(pinned))
    if samples[-1].look.description is not None:
        for client_id in sorted({m.client_id for m in samples[-1].look.description.members}):
            found = await admin.describe_client_quotas([("client-id", client_id)])
            evidence.quotas[client_id] = {k: v for _, values in found for k, v in values.items()}
        if sum(v[3] for v in last.values()):
            evidence.throttled_ms = await _throttles(cluster, samples[-1].look, last)
    flat = [tp for tp, v in last.items() if v[3] > 0 and tp in first and first[tp][0] == v[0]]
    if flat:
        evidence.records_at = await _records_at(cluster, {tp: last[tp][0] for tp in flat})
        evidence.commits = await _commits_since(cluster, group, flat, int(samples[0].at * 1000))
    if last and sum(v[3] for v in last.values()):
        hottest = max(last, key=lambda tp: last[tp][3])
        evidence.keys[hottest] = await _keys(cluster, hottest, last[hottest][1])
    return evidence


@dataclass(slots=True)
class WhyHistory:
    """The last `looks` looks at each group that is not OK (newest last), for up to `max_groups`
    groups at once: a watcher over 500 groups of 1,000 partitions keeps only the troubled ones.
    A group back to OK is forgotten."""

    looks: int = 6
    max_groups: int = 20
    samples: dict[str, deque[Sample]] = field(default_factory=dict)

    def add(self, look: GroupLag, at: float) -> None:
        if look.health == Health.OK or look.problem is not None:
            self.samples.pop(look.group, None)
            return
        kept = self.samples.get(look.group)
        if kept is None:
            if len(self.samples) >= self.max_groups:
                return
            kept = self.samples[look.group] = deque(maxlen=self.looks)
        kept.append(Sample(at, look))

    def of(self, group: str) -> list[Sample]:
        return list(self.samples.get(group, ()))


async def explain(cluster: Cluster, history: WhyHistory, group: str) -> dict[str, Any] | None:
    """The diagnosis (as `Diagnosis.data()`, what alerts and /why/GROUP carry) from the looks
    `history` holds for the group; None with fewer than two."""
    samples = history.of(group)
    if len(samples) < 2:
        return None
    return diagnose(await evidence_from(cluster, group, samples)).data()


THROTTLE_PROBES = 3  # fetches per client id, the most throttle heard counting
MAX_PROBED_CLIENTS = 5


async def _throttles(cluster: Cluster, look: GroupLag, last: dict[TopicPartition, tuple[int, int, int, int]]
                     ) -> dict[str, int]:
    """For each member's client id (up to MAX_PROBED_CLIENTS): the most throttle_time_ms that a
    small fetch of one of its partitions, sent under that client id, is told."""
    out: dict[str, int] = {}
    assert look.description is not None
    for member in look.description.members:
        if member.client_id in out or len(out) >= MAX_PROBED_CLIENTS:
            continue
        lagging = [tp for tp in member.assignment if tp in last and last[tp][3] > 0]
        if lagging:
            heard = await _throttle_as(cluster, member.client_id, lagging[0], max(last[lagging[0]][0], 0))
            if heard is not None:
                out[member.client_id] = heard
    return out


async def _throttle_as(cluster: Cluster, client_id: str, tp: TopicPartition, offset: int) -> int | None:
    """The most throttle_time_ms of THROTTLE_PROBES one-byte fetches under `client_id` (None where
    they cannot be sent)."""
    from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic

    servers = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in cluster.bootstrap]
    config = cluster.config
    as_member = Cluster(servers, client_id=client_id, request_timeout_s=config.request_timeout_s,
                        connect_timeout_s=config.connect_timeout_s, ssl_context=config.ssl_context,
                        authenticator=config.authenticator, version_caps=config.version_caps)
    heard = 0
    try:
        await as_member.refresh_metadata([tp.topic])
        leader = as_member.topics[tp.topic].partitions[tp.partition].leader
        for probe in range(THROTTLE_PROBES):
            if heard:  # the broker now holds this connection for that long (KIP-219): enough
                break
            if probe:
                await asyncio.sleep(0.2)
            response = await as_member.send(leader, FetchRequest(
                max_wait_ms=0, min_bytes=0, max_bytes=1, topics=[FetchTopic(tp.topic, [FetchPartition(
                    partition=tp.partition, fetch_offset=offset, partition_max_bytes=1)])]))
            heard = max(heard, response.throttle_time_ms)
    except (KafkaError, OSError, KeyError):
        return None
    finally:
        await as_member.close()
    return heard


async def _partitions(admin: Admin, topics: list[str]) -> dict[TopicPartition, PartitionInfo]:
    out: dict[TopicPartition, PartitionInfo] = {}
    if topics:
        for name, info in (await admin.describe_topics(topics)).items():
            if not isinstance(info, BaseException):
                for p, part in info.partitions.items():
                    out[TopicPartition(name, p)] = part
    return out


async def _without_lag(admin: Admin, group: str, why: str) -> Evidence:
    """When some partition answers no offsets: the group's partitions and their leaders."""
    committed = (await admin.list_group_offsets([group]))[group]
    topics = sorted({tp.topic for tp in committed})
    known = await _partitions(admin, topics)
    return Evidence(group, [], {tp: info for tp, info in known.items() if tp in committed}, unmeasured=why)


async def _read(cluster: Cluster, starts: dict[TopicPartition, int], ends: dict[TopicPartition, int],
                **options: Any) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The records from each start up to its end (exclusive), read once."""
    from kctl.client.consumer import Consumer

    out: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in starts}
    wanted = {tp for tp in starts if starts[tp] < ends[tp]}
    if not wanted:
        return out
    async with Consumer(cluster, enable_auto_commit=False, **options) as consumer:
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, starts[tp])
        deadline = time.monotonic() + 10
        while wanted and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(*wanted, timeout_ms=500)).items():
                out[tp].extend(r for r in records if r.offset < ends[tp])
                if records and records[-1].offset >= ends[tp] - 1:
                    wanted.discard(tp)
    return out


async def _records_at(cluster: Cluster, offsets: dict[TopicPartition, int]) -> dict[TopicPartition,
                                                                                    ConsumerRecord | None]:
    read = await _read(cluster, offsets, {tp: o + 1 for tp, o in offsets.items()})
    return {tp: next((r for r in read[tp] if r.offset == o), None) for tp, o in offsets.items()}


async def _keys(cluster: Cluster, tp: TopicPartition, end: int) -> Counter[bytes | None]:
    read = await _read(cluster, {tp: max(end - KEY_SAMPLE, 0)}, {tp: end})
    return Counter(r.key for r in read[tp])


async def _commits_since(cluster: Cluster, group: str, partitions: Sequence[TopicPartition],
                         since_ms: int) -> dict[TopicPartition, list[int]]:
    """The offsets the group committed on these partitions since `since_ms`, in order, from its
    `__consumer_offsets` partition (empty where that topic cannot be read)."""
    from kctl.protocol.data import OffsetCommitKey, decode_offsets_key, decode_offsets_value, partition_for

    out: dict[TopicPartition, list[int]] = {tp: [] for tp in partitions}
    admin = Admin(cluster)
    try:
        topics = await admin.describe_topics(["__consumer_offsets"])
        info = topics["__consumer_offsets"]
        if isinstance(info, BaseException):
            return out
        tp = TopicPartition("__consumer_offsets", partition_for(group, len(info.partitions)))
        start = (await admin.list_offsets({tp: since_ms}))[tp].offset
        end = (await admin.list_offsets({tp: LATEST}))[tp].offset
        if start < 0:
            return out
        records = (await _read(cluster, {tp: start}, {tp: end}))[tp]
    except Exception:
        return out
    for record in records:
        if record.key is None:
            continue
        try:
            key = decode_offsets_key(record.key)
            if not isinstance(key, OffsetCommitKey) or key.group != group:
                continue
            value = decode_offsets_value(key, record.value)
        except Exception:
            continue
        where = TopicPartition(key.topic, key.partition)
        if where in out and value is not None:
            out[where].append(value.offset)
    return out
