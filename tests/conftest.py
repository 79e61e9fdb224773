"""Session fixtures shared by every test package: Apache Kafka clusters from the test bed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.apache_kafka import OLDER, KafkaCluster, ScramUser, require_jars
from tests.support.processes import kill_leftovers

SCRAM_ADMIN = ScramUser("admin", "admin-secret")
SCRAM_ALICE = ScramUser("alice", "alice-secret")


@pytest.fixture(scope="session", autouse=True)
def _no_broker_outlives_the_tests() -> Iterator[None]:
    """Set up before, so torn down after, every other session fixture: a broker a fixture still
    stops itself is not killed under it."""
    yield
    kill_leftovers()


def _cluster(factory: pytest.TempPathFactory, name: str, **kwargs: object) -> Iterator[KafkaCluster]:
    require_jars(kwargs.get("version"))  # type: ignore[arg-type]
    cluster = KafkaCluster(factory.mktemp(name), **kwargs).start()  # type: ignore[arg-type]
    try:
        yield cluster
    finally:
        cluster.stop()


#: Consumer-protocol groups (KIP-848) notice a killed member and settle in seconds, not Kafka's
#: default 45 s session and 5 s heartbeat; the built-in broker is run with the same settings.
FAST_CONSUMER_GROUPS = {
    "group.consumer.min.session.timeout.ms": "6000",
    "group.consumer.session.timeout.ms": "6000",
    "group.consumer.min.heartbeat.interval.ms": "500",
    "group.consumer.heartbeat.interval.ms": "1000",
}


@pytest.fixture(scope="session")
def kafka_one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka, one node (broker and controller combined), PLAINTEXT."""
    yield from _cluster(tmp_path_factory, "kafka-one", size=1, overrides=FAST_CONSUMER_GROUPS)


@pytest.fixture(scope="session")
def kafka_older(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka 3.9.1 (the last release with ZooKeeper, run in KRaft mode), one node, with
    the consumer group protocol (KIP-848, early access in 3.9) turned on."""
    yield from _cluster(tmp_path_factory, "kafka-older", size=1, version=OLDER,
                        overrides={"group.coordinator.rebalance.protocols": "classic,consumer"})


@pytest.fixture(scope="session")
def kafka_three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka, three nodes, internal topics replicated three times."""
    yield from _cluster(tmp_path_factory, "kafka-three", size=3)


@pytest.fixture(scope="session")
def kafka_sasl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka, one node, SASL_PLAINTEXT with SCRAM-SHA-256/512 users admin and alice."""
    yield from _cluster(tmp_path_factory, "kafka-sasl", size=1, scram_users=[SCRAM_ADMIN, SCRAM_ALICE])


@pytest.fixture(scope="session")
def kafka_acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka, one node, SASL_PLAINTEXT with SCRAM users admin (a super user) and alice,
    and Kafka's StandardAuthorizer enforcing ACLs."""
    authorizer = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                  "super.users": "User:admin;User:ANONYMOUS"}  # ANONYMOUS: the controller listener
    yield from _cluster(tmp_path_factory, "kafka-acl", size=1, scram_users=[SCRAM_ADMIN, SCRAM_ALICE],
                        overrides=authorizer)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test that used Apache Kafka gets each node's log tail in its report."""
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, KafkaCluster):
                report.sections.append((f"Apache Kafka log ({name}, kept in {value.workdir})", value.logs()))
    return report


#: Modules that run Kafka Connect workers and Streams apps for minutes: they go to the other
#: worker, with a one-node Kafka of their own there, so the two workers finish together.
APPS_ON_THEIR_OWN_KAFKA = frozenset({"tests/apache_kafka/test_connect_on_both_brokers.py",
                                     "tests/apache_kafka/test_streams_reset.py"})

#: The session fixtures that run Apache Kafka: every test that uses one runs on the same worker
#: when the tests run in parallel, so each cluster starts once.
APACHE_KAFKA_FIXTURES = frozenset({"kafka_one", "kafka_older", "kafka_three", "kafka_sasl", "kafka_acl"})


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's `loadgroup`: the Apache Kafka tests together, every other module
    as a whole (its module fixtures, such as a running broker, start once)."""
    for item in items:
        # Named as a fixture, or as a parameter a fixture passes to request.getfixturevalue.
        params = getattr(getattr(item, "callspec", None), "params", {}).values()
        named = set(getattr(item, "fixturenames", ())) | {p for p in params if isinstance(p, str)}
        uses_kafka = APACHE_KAFKA_FIXTURES & named
        module = item.nodeid.split("::")[0]
        if module in APPS_ON_THEIR_OWN_KAFKA:
            group = "apache-kafka-apps"
        elif uses_kafka or "apache_kafka" in item.nodeid.split("/"):
            group = "apache-kafka"
        else:
            group = module
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "apache_kafka: needs the Apache Kafka test bed (jars, java)")

