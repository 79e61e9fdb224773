"""The console and every kind of group Kafka 4 has, live on Apache Kafka 4.4: the groups view
gives each group's type, Enter opens the detail screen of that type (a consumer group's member
epochs and target assignments, a share group's start offsets and backlog, a streams group's
topology and tasks), and the cluster view shows the KRaft quorum."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kctl.tui.views import ClusterScreen, ConsumerGroupScreen, GroupScreen, ShareGroupScreen, StreamsGroupScreen
from tests.apache_kafka.test_groups_on_apache_kafka import Member
from tests.support.apache_kafka import KafkaCluster

from .conftest import console, kctl, wait_for, wait_rows


@pytest.fixture(scope="module")
def every_type(apache_kafka: KafkaCluster) -> Iterator[dict[str, str]]:
    """A member of each kind of group on the console's Kafka, reading `orders`: type -> group."""
    groups = {"consumer": "kip848", "share": "workers", "streams": "copier"}
    kctl(apache_kafka.bootstrap, "topics", "create", "orders-out", "-p", "3")
    kctl(apache_kafka.bootstrap, "configs", "set", "group", "workers", "share.auto.offset.reset=earliest")
    members = [Member(apache_kafka, kind, group, "orders") for kind, group in groups.items()]
    try:
        for member in members:
            member.wait(lambda m=member: any(line.startswith(("READ", "STATE RUNNING")) for line in m.lines),
                        "the member to start reading")
        yield groups
    finally:
        for member in members:
            member.close()


SCREENS: dict[str, type[GroupScreen]] = {"consumer": ConsumerGroupScreen, "share": ShareGroupScreen,
                                         "streams": StreamsGroupScreen}


@pytest.mark.parametrize("kind", ["consumer", "share", "streams"])
async def test_each_group_type_opens_its_own_detail_screen(apache_kafka: KafkaCluster, every_type: dict[str, str],
                                                          kind: str) -> None:
    group = every_type[kind]
    app = console(apache_kafka.bootstrap, start="groups")
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_rows(pilot, app, 2)
        for _ in range(60):  # a look every refresh (r): until the group is settled
            if any(r["group"] == group and r["state"] == "Stable" for r in app.screen.data["groups"]):  # type: ignore[attr-defined]
                break
            await pilot.press("r")
            await pilot.pause(1)
        types = {r["group"]: r["type"] for r in app.screen.data["groups"]}  # type: ignore[attr-defined]
        assert types["billing"] == "classic" and types[group] == kind
        await pilot.press("slash", *group, "enter", "enter")  # filter down to it, then open it
        await wait_for(pilot, lambda: type(app.screen) is SCREENS[kind], f"the {kind} group's screen")
        screen = app.screen
        assert isinstance(screen, GroupScreen)
        await wait_rows(pilot, app, 1, "members")
        [member] = screen.data["members"]
        assert member["epoch"] > 0
        if kind == "consumer":
            assert member["assignment"] == "orders[0], orders[1], orders[2]"
            assert member["target_assignment"] == member["assignment"] and member["subscription"] == "orders"
        elif kind == "share":
            assert member["assignment"] == "orders[0], orders[1], orders[2]"
            await wait_rows(pilot, app, 3, "lag")
            assert {r["partition"] for r in screen.data["lag"]} == {0, 1, 2}
        else:
            assert member["active_tasks"] == "0:0,1,2" and member["process_id"]
            await wait_rows(pilot, app, 1, "topology")
            assert screen.data["topology"] == [{"subtopology": "0", "source_topics": "orders",
                                                "repartition_sink_topics": "", "state_changelog_topics": ""}]


async def test_the_cluster_view_shows_the_quorum(apache_kafka: KafkaCluster) -> None:
    app = console(apache_kafka.bootstrap, start="cluster")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ClusterScreen) and app.screen.loaded, "overview")
        await wait_rows(pilot, app, 1, "quorum")
        [voter] = app.screen.data["quorum"]  # type: ignore[attr-defined]
        assert (voter["node"], voter["role"]) == (1, "Leader")
        assert app.screen.totals["controller"] == 1  # type: ignore[attr-defined]
