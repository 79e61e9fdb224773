"""The Kafka 4 commands on the built-in broker, which has no KRaft quorum, no finalized features
and classic groups only: each says so clearly and changes nothing (on Apache Kafka they are held
against Kafka's own tools: tests/apache_kafka/test_groups_on_apache_kafka.py)."""

from __future__ import annotations

from tests.cli.test_commands import as_json, kctl, unique


def test_quorum_and_features_say_what_the_built_in_broker_lacks(env: dict[str, str]) -> None:
    quorum = kctl(env, "cluster", "quorum", ok=False)
    assert quorum.returncode == 1 and "no KRaft metadata quorum" in quorum.stderr
    assert as_json(kctl(env, "features", "list", "-o", "json")) == []
    upgrade = kctl(env, "features", "upgrade", "-f", "share.version=1", "--execute", ok=False)
    assert upgrade.returncode == 1 and "does not support UpdateFeatures" in upgrade.stderr
    bad = kctl(env, "features", "upgrade", "-f", "share.version=one", ok=False)
    assert bad.returncode == 2 and "not a number" in bad.stderr
    # The controller is the broker's own node when there is no quorum to ask.
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


def test_configs_kinds_the_broker_does_not_keep_are_refused_and_nothing_changes(env: dict[str, str]) -> None:
    for args in (("set", "group", "g1", "consumer.session.timeout.ms=50000"),
                 ("set", "client-metrics", "s1", "interval.ms=1000"), ("get", "broker-logger", "0"),
                 ("set", "cluster", "log.cleaner.threads=2")):
        refused = kctl(env, "configs", *args, ok=False)
        assert refused.returncode != 0 and "INVALID_REQUEST" in refused.stderr, args
    usage = kctl(env, "configs", "get", "group", ok=False)
    assert usage.returncode == 2 and "needs the group's name" in usage.stderr
    wrong = kctl(env, "configs", "get", "planet", "x", ok=False)
    assert wrong.returncode == 2 and "unknown resource type" in wrong.stderr
    defaults = {c["name"] for c in as_json(kctl(env, "configs", "get", "cluster", "-o", "json"))}  # type: ignore[attr-defined]
    assert "log.dirs" in defaults
