"""The change journal through the CLI on the built-in broker: every change recorded with its state
before and after, `kctl history` listing it, `kctl undo ID` previewing and applying the inverse (or
saying why there is none), and a change that never completed shown as "unknown", not lost."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.test_commands import as_json, kctl, unique

REFUSED = 8


def topic_overrides(env: dict[str, str], topic: str) -> dict[str, str]:
    rows = as_json(kctl(env, "configs", "get", "topic", topic, "-o", "json"))
    assert isinstance(rows, list)
    return {r["name"]: r["value"] for r in rows}


def history(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    rows = as_json(kctl(env, "history", "-o", "json", *args))
    assert isinstance(rows, list)
    return rows


def journal_path(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "kctl" / "journal" / "changes.jsonl"


def test_config_changes_are_journaled_and_undone_one_at_a_time(env: dict[str, str]) -> None:
    topic = unique("journal")
    kctl(env, "topics", "create", topic)
    kctl(env, "configs", "set", "topic", topic, "retention.ms=1000")
    kctl(env, "topics", "alter", topic, "-c", "retention.ms=2000", "-c", "cleanup.policy=compact")
    first, second = history(env)[-2:]
    assert first["kind"] == second["kind"] == "config" and first["applied"] == second["applied"] == "yes"
    assert first["before"] == {"retention.ms": None} and first["after"] == {"retention.ms": "1000"}
    assert second["before"] == {"retention.ms": "1000", "cleanup.policy": None}
    assert "kctl topics alter" in str(second["command"]) and second["user"]

    preview = kctl(env, "undo", str(second["id"]), "-o", "json")
    steps = [row["step"] for row in json.loads(preview.stdout)]
    assert steps == [f"topic {topic}: set retention.ms=1000",
                     f"topic {topic}: delete cleanup.policy (back to the default)"]
    assert "dry run" in preview.stderr
    assert topic_overrides(env, topic) == {"retention.ms": "2000", "cleanup.policy": "compact"}  # untouched

    kctl(env, "undo", str(second["id"]), "--execute")
    assert topic_overrides(env, topic) == {"retention.ms": "1000"}
    kctl(env, "undo", str(first["id"])[:5], "--execute")  # an unambiguous prefix names it
    assert topic_overrides(env, topic) == {}
    undone = history(env)[-2:]
    assert [u["undoes"] for u in undone] == [second["id"], first["id"]]
    assert all(u["applied"] == "yes" for u in undone)


def test_added_partitions_have_no_inverse_and_undo_says_why(env: dict[str, str]) -> None:
    topic = unique("journal-parts")
    kctl(env, "topics", "create", topic, "-p", "1")
    kctl(env, "topics", "alter", topic, "-p", "3")
    change = history(env)[-1]
    assert change["kind"] == "partitions" and change["before"] == 1 and change["after"] == 3
    refused = kctl(env, "undo", str(change["id"]), "--execute", ok=False)
    assert refused.returncode == REFUSED
    assert "cannot take partitions away" in refused.stderr


def test_quota_changes_are_undone(env: dict[str, str]) -> None:
    user = unique("journal-user")
    kctl(env, "quotas", "set", "--user", user, "--producer-byte-rate", "1024")
    kctl(env, "quotas", "set", "--user", user, "--producer-byte-rate", "4096", "--consumer-byte-rate", "10")
    change = history(env)[-1]
    assert change["before"] == {"producer_byte_rate": 1024.0, "consumer_byte_rate": None}
    kctl(env, "undo", str(change["id"]), "--execute")
    rows = as_json(kctl(env, "quotas", "get", "--user", user, "-o", "json"))
    assert isinstance(rows, list)
    assert {r["key"]: r["value"] for r in rows} == {"producer_byte_rate": 1024.0}


def test_a_refused_change_is_journaled_as_failed_and_changes_nothing(env: dict[str, str]) -> None:
    topic = unique("journal-bad")
    kctl(env, "topics", "create", topic)
    bad = kctl(env, "configs", "set", "topic", topic, "retention.ms=soon", ok=False)
    assert bad.returncode != 0
    change = history(env)[-1]
    assert change["applied"] == "no" and change["kind"] == "config"
    assert topic_overrides(env, topic) == {}
    refused = kctl(env, "undo", str(change["id"]), ok=False)
    assert refused.returncode == REFUSED and "nothing was changed" in refused.stderr


def test_a_change_that_never_completed_shows_as_unknown_and_a_torn_line_is_skipped(env: dict[str, str]) -> None:
    topic = unique("journal-crash")
    kctl(env, "topics", "create", topic)
    kctl(env, "configs", "set", "topic", topic, "retention.ms=5000")
    path = journal_path(env)
    begin = json.loads(path.read_text().splitlines()[-2])
    assert begin["event"] == "begin"
    # The same change as a kctl killed after writing it and before completing it would leave it:
    # its begin line, from a process that is gone, and half of the next line.
    gone = subprocess.Popen(["true"])
    gone.wait()
    with path.open("a") as out:
        out.write(json.dumps({**begin, "id": "deadbeef", "pid": gone.pid}) + "\n")
        out.write('{"event": "begin", "id": "torn')
    rows = history(env)
    assert rows[-1]["id"] == "deadbeef" and rows[-1]["applied"] == "unknown"
    table = kctl(env, "history").stdout
    assert "deadbeef" in table and "unknown" in table


def test_history_filters_and_undo_refuses_another_cluster(env: dict[str, str]) -> None:
    topic = unique("journal-filter")
    kctl(env, "topics", "create", topic)
    kctl(env, "configs", "set", "topic", topic, "retention.ms=7000")
    change = history(env)[-1]
    assert history(env, "--since", "1h")[-1]["id"] == change["id"]
    assert history(env, "--cluster", "no-such-cluster") == []
    assert history(env, "--cluster", str(change["cluster"]))[-1]["id"] == change["id"]
    path = journal_path(env)
    path.write_text(path.read_text().replace(f'"cluster_id":"{change["cluster"]}"', '"cluster_id":"elsewhere"'))
    refused = kctl(env, "undo", str(change["id"]), "--execute", ok=False)
    assert refused.returncode == REFUSED and "was made on cluster elsewhere" in refused.stderr
    assert topic_overrides(env, topic) == {"retention.ms": "7000"}
    missing = kctl(env, "undo", "ffffffffff", ok=False)
    assert "no change" in missing.stderr and missing.returncode != 0


def committed(env: dict[str, str], group: str) -> int | None:
    described = as_json(kctl(env, "groups", "describe", group, "-o", "json"))
    assert isinstance(described, dict)
    offsets = [p["committed_offset"] for p in described["partitions"]]
    return offsets[0] if offsets else None


def test_offset_resets_are_journaled_and_undo_and_undo_reset_are_one_mechanism(env: dict[str, str]) -> None:
    topic, group = unique("journal-reset"), unique("journal-group")
    kctl(env, "topics", "create", topic, "-p", "1")
    kctl(env, "produce", topic, stdin="".join(f"r{i}\n" for i in range(5)))
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-offset", "2", "--execute")
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-latest", "--execute")
    first, second = history(env)[-2:]
    assert first["kind"] == second["kind"] == "offsets"
    assert first["before"] == [[topic, 0, None]] and first["after"] == [[topic, 0, 2]]
    assert second["before"] == [[topic, 0, 2]] and second["after"] == [[topic, 0, 5]]
    assert committed(env, group) == 5

    preview = json.loads(kctl(env, "undo", str(second["id"]), "-o", "json").stdout)
    assert [row["step"] for row in preview] == [f"group {group}: {topic}[0] back to 2"]
    kctl(env, "undo", str(second["id"]), "--execute")
    assert committed(env, group) == 2
    # That reset's save is spent: undo-reset now takes back the first one, journaled as its undo.
    kctl(env, "groups", "undo-reset", group, "--yes")
    assert committed(env, group) is None
    last = history(env)[-1]
    assert last["undoes"] == first["id"] and last["after"] == [[topic, 0, None]]
    nothing = kctl(env, "groups", "undo-reset", group, "--yes", ok=False)
    assert nothing.returncode == 3  # no executed reset left to undo


def test_deleted_records_are_journaled_and_undo_says_they_are_gone(env: dict[str, str]) -> None:
    topic = unique("journal-records")
    kctl(env, "topics", "create", topic, "-p", "1")
    kctl(env, "produce", topic, stdin="".join(f"r{i}\n" for i in range(6)))
    kctl(env, "records", "delete", topic, "--before", "4", "--yes")
    change = history(env)[-1]
    assert change["kind"] == "records-deleted" and change["applied"] == "yes"
    assert change["before"] == [[0, 0]] and change["after"] == [[0, 4]]
    refused = kctl(env, "undo", str(change["id"]), "--execute", ok=False)
    assert refused.returncode == REFUSED
    assert f"deleted records are gone: the log start of {topic} moved ([0] 0 -> 4)" in refused.stderr
