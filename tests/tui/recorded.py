"""The console's backend answered from a recording: the snapshot tests run on it with no broker.

`recording.json` holds what `LiveBackend` answered for the seeded cluster (see conftest.seed),
with the clock pinned and the cluster's address and id replaced by fixed ones, as the snapshots
show them. `test_snapshots.test_the_recording_is_what_a_live_cluster_answers` checks it against a
live broker; after a change of what the views are given, refresh it:

    python -m tests.tui.recorded
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from kctl.client.group_kinds import GroupDescription, MemberDescription
from kctl.client.types import ConsumerRecord, OffsetAndMetadata, RecordOrigin, TopicPartition
from kctl.connect.cluster import Settings
from kctl.connect.contexts import Context
from kctl.ops.errors import NotFound
from kctl.ops.groups import GroupLag, LagHistory, LagRows, ResetPlan, Strategy, group_lag
from kctl.ops.tail import TailSpec
from kctl.tui.backend import QUERIES, Backend, Batches, ClusterOverview, LiveBackend

from .conftest import T0

RECORDING = Path(__file__).with_name("recording.json")
ADDRESS = ("127.0.0.1", 39_417)  # what the snapshots show as the cluster's address
CLUSTER_ID = "kctl-snapshot-cluster"
PINNED_NOW_MS = T0 + 3_600_000  # "now" for lag in seconds: an hour after the first record
RESET = ("billing", "--to-earliest", ["orders:0,2"])  # the plan the reset dialog's snapshot previews


@contextmanager
def pinned_clock() -> Iterator[None]:
    from kctl.ops.groups import ages  # the age of the next record is counted from now

    real = ages.now_ms
    ages.now_ms = lambda: PINNED_NOW_MS
    try:
        yield
    finally:
        ages.now_ms = real


# ---- recording -----------------------------------------------------------------------------------------
def _record_json(r: ConsumerRecord) -> dict[str, Any]:
    return {"topic": r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
            "timestamp_type": r.origin.timestamp_type, "leader_epoch": r.origin.leader_epoch,
            "key": None if r.key is None else r.key.hex(), "value": None if r.value is None else r.value.hex(),
            "headers": [[h, None if v is None else v.hex()] for h, v in r.headers]}


def _description(d: GroupDescription | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"group_id": d.group_id, "type": d.type, "state": d.state, "protocol_type": d.protocol_type,
            "protocol": d.protocol, "coordinator": d.coordinator,
            "members": [{"member_id": m.member_id, "instance_id": m.instance_id, "client_id": m.client_id,
                         "client_host": m.client_host, "subscription": m.subscription,
                         "assignment": [[tp.topic, tp.partition] for tp in m.assignment]} for m in d.members]}


async def record(backend: Backend) -> dict[str, Any]:
    """Everything the snapshot tests show, as the backend answers it."""
    overview = await backend.overview()
    topics = [{k: v for k, v in row.items() if k != "id"} for row in await backend.topics()]  # ids are random
    details = {t["name"]: await backend.topic(t["name"]) for t in topics}
    groups = []
    async for batch in backend.group_lag():
        for g in batch:
            rows = [{k: v for k, v in r.items() if k != "health"} for r in g.rows]
            groups.append({"group": g.group, "description": _description(g.description), "rows": rows})
    tails: dict[str, list[dict[str, Any]]] = {}
    for t in topics:
        async with backend.tail(TailSpec([t["name"]], start="beginning", poll_ms=200)) as batches:
            found = [r async for batch in batches for r in batch]
        # Partitions interleave differently from run to run: keep each partition's order only.
        tails[t["name"]] = [_record_json(r) for r in sorted(found, key=lambda r: (r.partition, r.offset))]
    group, option, scope = RESET
    plan, _ = await backend.plan_reset(group, Strategy(option.removeprefix("--")), scope)
    queries = {name: await backend.ask(name) for name in sorted(QUERIES)}  # each view's own data
    return {
        **({"queries": queries} if queries else {}),
        "reassignment": await backend.reassignment(),
        "overview": {"cluster_id": CLUSTER_ID, "controller": overview.controller,
                     "brokers": [{**b, "host": ADDRESS[0], "port": ADDRESS[1]} for b in overview.brokers],
                     "topics": [{k: v for k, v in row.items() if k != "id"} for row in overview.topics],
                     "groups": overview.groups, "consumed": overview.consumed},
        "topics": topics, "details": details, "groups": groups, "tails": tails,
        "reset": {"group": group, "option": option, "scope": scope, "rows": plan.rows,
                  "committed": [[tp.topic, tp.partition, o.offset] for tp, o in sorted(plan.committed.items())]},
    }


async def record_live(bootstrap: str) -> dict[str, Any]:
    backend = LiveBackend(Context("(command line)", bootstrap), Settings(bootstrap=bootstrap, timeout=30))
    try:
        with pinned_clock():
            return await record(backend)
    finally:
        await backend.close()


# ---- replaying -------------------------------------------------------------------------------------------
class RecordedBackend:
    """A `Backend` answering from `recording.json`; changes are refused (nothing is connected)."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = data if data is not None else json.loads(RECORDING.read_text())

    async def ask(self, name: str) -> Any:
        recorded = self.data.get("queries", {})
        if name not in recorded:
            raise KeyError(f"query {name!r} is not in the recording: refresh it with python -m tests.tui.recorded")
        return recorded[name]

    async def overview(self) -> ClusterOverview:
        return ClusterOverview(**self.data["overview"])

    async def topics(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.data["topics"]]

    async def reassignment(self) -> tuple[str, list[dict[str, Any]]] | None:
        found = self.data.get("reassignment")
        return None if found is None else (found[0], [dict(r) for r in found[1]])

    async def topic(self, name: str) -> dict[str, Any]:
        found = self.data["details"].get(name)
        if found is None:
            raise NotFound(f"no topic {name!r} in the recording")
        return json.loads(json.dumps(found))

    async def group_lag(self, groups: list[str] | None = None, *, ages: bool = True,
                        history: Callable[[str], LagHistory] | None = None, at: float | None = None
                        ) -> AsyncIterator[list[GroupLag]]:
        out = []
        for g in self.data["groups"]:
            if groups and g["group"] not in groups:
                continue
            d = g["description"]
            description = None if d is None else GroupDescription(
                d["group_id"], d["state"], d["protocol_type"], d["protocol"],
                [MemberDescription(m["member_id"], m["instance_id"], m["client_id"], m["client_host"],
                                   [TopicPartition(t, p) for t, p in m["assignment"]], m["subscription"])
                 for m in d["members"]], d["coordinator"], d["type"])
            recorded = g["rows"]
            ends = [r["log_end_offset"] for r in recorded]
            stable = [r.get("last_stable_offset", end) for r, end in zip(recorded, ends, strict=True)]
            rows = LagRows(g["group"], [r["topic"] for r in recorded], [r["partition"] for r in recorded],
                           [r["committed_offset"] for r in recorded], ends, [r["log_start_offset"] for r in recorded],
                           None if stable == ends else stable)
            if ages:
                rows.lag_seconds = [r.get("lag_seconds") for r in recorded]
            out.append(group_lag(rows, description, history, at))
        yield out

    async def transactions(self) -> dict[str, list[dict[str, Any]]]:
        found = self.data.get("transactions", {"transactions": [], "open": []})
        return {pane: [dict(row) for row in rows] for pane, rows in found.items()}

    async def connectors(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.data.get("connectors", {}).get("rows", [])]

    async def connector(self, name: str) -> dict[str, Any]:
        found = self.data.get("connectors", {}).get("details", {}).get(name)
        if found is None:
            raise NotFound(f"no connector {name!r} in the recording")
        return json.loads(json.dumps(found))

    async def change_connector(self, name: str, action: str) -> None:
        raise NotFound("a recording cannot change")

    async def create_topic(self, name: str, partitions: int, replication: int, configs: dict[str, str]) -> None:
        raise NotFound("a recording cannot change")

    async def delete_topic(self, name: str) -> None:
        raise NotFound("a recording cannot change")

    async def set_topic_config(self, topic: str, name: str, value: str | None) -> None:
        raise NotFound("a recording cannot change")

    async def plan_reset(self, group: str, strategy: Strategy, scope: list[str]
                         ) -> tuple[ResetPlan, list[TopicPartition] | None]:
        reset = self.data["reset"]
        if (group, strategy.option, scope) != (reset["group"], reset["option"], reset["scope"]):
            raise NotFound(f"no plan for {group} {strategy.option} {' '.join(scope)} in the recording")
        rows = reset["rows"]
        offsets = {TopicPartition(r["topic"], r["partition"]): r["new_offset"] for r in rows}
        committed = {TopicPartition(t, p): OffsetAndMetadata(o) for t, p, o in reset["committed"]}
        return ResetPlan(group, strategy, rows, offsets, committed), list(offsets)

    async def apply_reset(self, plan: ResetPlan) -> Path:
        raise NotFound("a recording cannot change")

    @asynccontextmanager
    async def tail(self, spec: TailSpec) -> AsyncIterator[Batches]:
        records = [ConsumerRecord(r["offset"], r["timestamp"], _bytes(r["key"]), _bytes(r["value"]),
                                  tuple((h, _bytes(v)) for h, v in r["headers"]),
                                  RecordOrigin(r["topic"], r["partition"], r["timestamp_type"], r["leader_epoch"]))
                   for topic in spec.topics for r in self.data["tails"].get(topic, [])]

        async def batches() -> Batches:
            yield records
            await asyncio.Event().wait()  # following: nothing more arrives

        yield batches()

    async def close(self) -> None:
        pass


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else bytes.fromhex(text)


def recorded(context: Context, settings: Settings) -> RecordedBackend:
    """For `KctlTui(backend=...)`."""
    return RecordedBackend()


def main() -> None:
    import os
    import tempfile

    from tests.broker.conftest import BrokerProcess

    from .conftest import seed

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")  # no reassignment of the user's shows
        broker = BrokerProcess(Path(tmp) / "data").start()
        try:
            seed(broker.bootstrap, Path(tmp) / "state")
            data = asyncio.run(record_live(broker.bootstrap))
        finally:
            broker.stop()
    RECORDING.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORDING}")


if __name__ == "__main__":
    main()
