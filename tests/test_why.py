"""`kctl why` on the built-in broker: each cause made on purpose (tests/support/why_causes.py) and
the verdict it gets, with the health exit code; and the analysis alone, with no sockets, for what a
single broker cannot show (a partition without a leader, under-replicated ones)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kctl.client.group_kinds import GroupDescription, MemberDescription
from kctl.client.types import PartitionInfo, TopicPartition
from kctl.ops.groups import GroupLag, Health, LagRows
from kctl.ops.why import Evidence, Sample, diagnose
from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl
from tests.support.why_causes import MUST_SHOW, SCENARIOS

UNHEALTHY = 7


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("why") / "data", {"group.initial.rebalance.delay.ms": 0,
                                                                "group.min.session.timeout.ms": 1000}).start()
    yield b
    b.stop()


def ask_why(env: dict[str, str], group: str, window: str = "6s") -> tuple[int, dict[str, object]]:
    done = kctl(env, "why", group, "--window", window, "-o", "json", ok=False)
    assert done.returncode in (0, UNHEALTHY), done.stderr
    return done.returncode, json.loads(done.stdout)


def check_scenario(scenario: str, bootstrap: str, tmp_path: Path) -> None:
    """Make the cause on the broker at `bootstrap` and hold `kctl why`'s verdict to it."""
    make, verdict, also = SCENARIOS[scenario]
    env = isolated_env(tmp_path, bootstrap)
    with make(bootstrap, env) as group:
        code, found = ask_why(env, group)
    assert found["verdict"]["cause"] == verdict, found  # type: ignore[index]
    assert code == UNHEALTHY
    if scenario in MUST_SHOW:
        assert any(MUST_SHOW[scenario] in line for line in found["verdict"]["evidence"]), found  # type: ignore[index]
    if also is not None:
        assert also in [c["cause"] for c in found["also"]], found  # type: ignore[attr-defined]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_cause_made_on_purpose_gets_its_verdict(scenario: str, broker: BrokerProcess, tmp_path: Path) -> None:
    check_scenario(scenario, broker.bootstrap, tmp_path)


def test_a_caught_up_group_is_healthy_and_exits_0(broker: BrokerProcess, tmp_path: Path) -> None:
    env = isolated_env(tmp_path, broker.bootstrap)
    kctl(env, "topics", "create", "why-fine")
    kctl(env, "produce", "why-fine", stdin="a\nb\n")
    kctl(env, "groups", "reset-offsets", "why-fine-group", "--topic", "why-fine", "--to-latest", "--execute")
    code, found = ask_why(env, "why-fine-group", "2s")
    assert code == 0 and found["verdict"] == {"cause": "healthy", "summary": "healthy: caught up",
                                              "evidence": ["lag 0 -> 0 in 2s"]}
    table = kctl(env, "why", "why-fine-group", "--window", "1s")
    assert table.stdout.startswith("why-fine-group: healthy: caught up")
    missing = kctl(env, "why", "no-such-group", "--window", "1s", ok=False)
    assert missing.returncode == 3 and "no group" in missing.stderr


# ---- the analysis alone ---------------------------------------------------------------------------
def look(committed: list[int], log_end: list[int], members: int = 0) -> GroupLag:
    rows = LagRows("g", ["t"] * len(committed), list(range(len(committed))), committed, log_end, [0] * len(committed))
    described = GroupDescription("g", "Stable" if members else "Empty", "consumer", "range", [
        MemberDescription(f"m{i}", None, f"client-{i}", "/10.0.0.1", [TopicPartition("t", 0)], ["t"])
        for i in range(members)], 0)
    return GroupLag("g", described.state, described, rows, Health.OK)


def test_a_partition_without_a_leader_comes_first_and_under_replication_is_listed() -> None:
    samples = [Sample(0.0, look([0, 0], [10, 10])), Sample(10.0, look([0, 0], [10, 10]))]
    partitions = {TopicPartition("t", 0): PartitionInfo(0, -1, 3, [2], []),
                  TopicPartition("t", 1): PartitionInfo(1, 1, 3, [1, 2], [1])}
    found = diagnose(Evidence("g", samples, partitions))
    assert [c.name for c in found.causes] == ["no-leader", "no-consumers", "under-replicated"]
    assert found.verdict.evidence == ("t[0]: no leader, replicas [2], in sync []",)


def test_a_group_catching_up_is_healthy_with_the_time_it_needs() -> None:
    samples = [Sample(0.0, look([0], [100], 1)), Sample(10.0, look([50], [110], 1))]
    found = diagnose(Evidence("g", samples))
    assert found.healthy and found.verdict.summary == "healthy: catching up, 60 records left, about 15s at 5.0/s"


def test_a_watchers_history_keeps_the_troubled_groups_only_and_a_bounded_number_of_them() -> None:
    import dataclasses

    from kctl.ops.why import WhyHistory

    def as_group(name: str, health: Health) -> GroupLag:
        return dataclasses.replace(look([0], [10]), group=name, health=health)

    history = WhyHistory(looks=3, max_groups=2)
    for at in range(5):
        history.add(as_group("stalled", Health.STALL), float(at))
        history.add(as_group("fine", Health.OK), float(at))
    assert [s.at for s in history.of("stalled")] == [2.0, 3.0, 4.0] and history.of("fine") == []
    history.add(as_group("stopped", Health.STOP), 5.0)
    history.add(as_group("third", Health.WARN), 5.0)  # over the bound: not kept
    assert set(history.samples) == {"stalled", "stopped"}
    history.add(as_group("stalled", Health.OK), 6.0)  # back to OK: forgotten, room for another
    history.add(as_group("third", Health.WARN), 7.0)
    assert set(history.samples) == {"stopped", "third"}
