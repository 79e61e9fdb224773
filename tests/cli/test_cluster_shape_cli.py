"""The Kafka 4 commands on the built-in broker: its one-node quorum, its fixed feature levels, and
the configs of client-metrics subscriptions and groups, kept across a restart (on Apache Kafka they
are held against Kafka's own tools: tests/apache_kafka/test_groups_on_apache_kafka.py)."""

from __future__ import annotations

from pathlib import Path

from tests.broker.conftest import BrokerProcess
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import as_json, kctl, unique


def test_the_quorum_and_the_feature_levels(env: dict[str, str]) -> None:
    quorum = as_json(kctl(env, "cluster", "quorum", "-o", "json"))
    assert (quorum["leader_id"], quorum["voters"], quorum["replicas"][0]["role"]) == (0, [0], "Leader")  # type: ignore[index]
    features = {f["feature"]: f for f in as_json(kctl(env, "features", "list", "-o", "json"))}  # type: ignore[attr-defined]
    assert (features["group.version"]["finalized"], features["group.version"]["supported_max"]) == (1, 1)
    assert features["transaction.version"]["finalized"] == features["share.version"]["finalized"] == 1
    # The levels are fixed: asking for the one in force is fine, anything else is refused.
    kctl(env, "features", "upgrade", "-f", "group.version=1", "--execute")
    kctl(env, "features", "upgrade", "-f", "share.version=1", "--execute")
    streams = kctl(env, "features", "upgrade", "-f", "streams.version=1", "--execute", ok=False)
    assert streams.returncode == 1 and "does not support the feature streams.version" in streams.stderr
    down = kctl(env, "features", "downgrade", "-f", "group.version=0", "--execute", ok=False)
    assert down.returncode == 1 and "group.version stays at 1" in down.stderr
    bad = kctl(env, "features", "upgrade", "-f", "share.version=one", ok=False)
    assert bad.returncode == 2 and "not a number" in bad.stderr
    info = as_json(kctl(env, "cluster", "info", "-o", "json"))
    assert info["controller"] == 0  # type: ignore[index]


def test_groups_list_gives_types_and_refuses_an_unknown_one(env: dict[str, str]) -> None:
    topic, group = unique("typed"), unique("classic")
    kctl(env, "topics", "create", topic, "-p", "1")
    kctl(env, "groups", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    listed = {g["group"]: g for g in as_json(kctl(env, "groups", "list", "-o", "json"))}  # type: ignore[attr-defined]
    assert (listed[group]["type"], listed[group]["protocol_type"], listed[group]["state"]) == ("classic", "", "Empty")
    assert group in [g["group"] for g in as_json(kctl(env, "groups", "list", "--type", "classic", "-o",  # type: ignore[attr-defined]
                                                      "json"))]
    assert as_json(kctl(env, "groups", "list", "--type", "share,streams", "-o", "json")) == []
    unknown = kctl(env, "groups", "list", "--type", "sharing", ok=False)
    assert unknown.returncode == 2 and "unknown group type(s) sharing" in unknown.stderr
    described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    assert described["type"] == "classic" and described["group_epoch"] is None  # type: ignore[index]


def test_group_and_client_metrics_configs_survive_a_restart(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data").start()
    env = isolated_env(tmp_path, broker.bootstrap)
    kctl(env, "configs", "set", "group", "g1", "consumer.session.timeout.ms=20000",
         "share.auto.offset.reset=earliest")
    kctl(env, "configs", "set", "client-metrics", "producers", "interval.ms=1000",
         "metrics=org.apache.kafka.producer.", "match=client_software_name=apache-kafka-java")
    for wrong, why in ((("group", "g1", "share.auto.offset.reset=sometimes"), "earliest, latest or by_duration"),
                       (("group", "g1", "consumer.heartbeat.interval.ms=30000"), "must be less than"),
                       (("client-metrics", "s2", "match=bad"), "KEY=REGEX"),
                       (("client-metrics", "s2", "colour=blue"), "unknown client-metrics config")):
        refused = kctl(env, "configs", "set", *wrong, ok=False)
        assert refused.returncode != 0 and why in refused.stderr, wrong
    broker.stop()
    broker.start()
    try:
        group = {c["name"]: c for c in as_json(kctl(env, "configs", "get", "group", "g1", "-o", "json"))}  # type: ignore[attr-defined]
        assert group["consumer.session.timeout.ms"]["value"] == "20000"
        assert group["share.auto.offset.reset"]["value"] == "earliest"
        assert "consumer.heartbeat.interval.ms" not in group  # refused above: still the default
        listed = as_json(kctl(env, "configs", "list", "client-metrics", "-o", "json"))
        assert [r["name"] for r in listed] == ["producers"]  # type: ignore[union-attr,index]
        kctl(env, "configs", "delete", "client-metrics", "producers", "interval.ms", "metrics", "match")
        assert as_json(kctl(env, "configs", "list", "client-metrics", "-o", "json")) == []
    finally:
        broker.stop()


def test_configs_kinds_the_broker_does_not_keep_are_refused_and_nothing_changes(env: dict[str, str]) -> None:
    for args in (("get", "broker-logger", "0"), ("set", "cluster", "log.cleaner.threads=2")):
        refused = kctl(env, "configs", *args, ok=False)
        assert refused.returncode != 0 and "INVALID_REQUEST" in refused.stderr, args
    usage = kctl(env, "configs", "get", "group", ok=False)
    assert usage.returncode == 2 and "needs the group's name" in usage.stderr
    wrong = kctl(env, "configs", "get", "planet", "x", ok=False)
    assert wrong.returncode == 2 and "unknown resource type" in wrong.stderr
    defaults = {c["name"] for c in as_json(kctl(env, "configs", "get", "cluster", "-o", "json"))}  # type: ignore[attr-defined]
    assert "log.dirs" in defaults
