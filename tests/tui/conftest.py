"""A built-in broker with known topics, records and groups, for the console's tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kctl.connect.cluster import Settings
from kctl.tui.app import KctlTui
from tests.broker.conftest import BrokerProcess
from tests.support.apache_kafka import KafkaCluster, require_jars

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: records carry fixed times, so views are the same every run


def kctl(bootstrap: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "kctl", "-b", bootstrap, *args], input=stdin, text=True,
                          capture_output=True, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout


def seed(bootstrap: str, state_dir: Path) -> None:
    """orders (3 partitions, 30 records), payments (2, 10), audit (1, 5 JSON records with headers);
    group billing 5 behind the end on each orders partition; group ledger caught up on payments."""
    kctl(bootstrap, "topics", "create", "orders", "-p", "3", "-c", "retention.ms=86400000")
    kctl(bootstrap, "topics", "create", "payments", "-p", "2")
    kctl(bootstrap, "topics", "create", "audit", "-p", "1")
    orders = [{"key": f"customer-{i % 7}", "value": json.dumps({"order": i, "total": i * 10}), "partition": i % 3,
               "timestamp": T0 + i * 1000} for i in range(30)]
    payments = [{"key": f"p{i}", "value": f"payment {i}", "partition": i % 2, "timestamp": T0 + i * 1000}
                for i in range(10)]
    audit = [{"key": f"user-{i}", "value": json.dumps({"action": "login" if i % 2 else "logout", "seq": i}),
              "headers": {"source": "web", "trace": f"t-{i}"}, "timestamp": T0 + i * 60_000} for i in range(5)]
    for topic, rows in (("orders", orders), ("payments", payments), ("audit", audit)):
        kctl(bootstrap, "produce", topic, "--jsonl", stdin="".join(json.dumps(r) + "\n" for r in rows))
    env = {"XDG_STATE_HOME": str(state_dir)}
    kctl(bootstrap, "groups", "reset-offsets", "billing", "-t", "orders", "--to-offset", "5", "--execute", env=env)
    kctl(bootstrap, "groups", "reset-offsets", "ledger", "-t", "payments", "--to-latest", "--execute", env=env)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("console") / "data").start()
    seed(b.bootstrap, tmp_path_factory.mktemp("state"))
    yield b
    b.stop()


@pytest.fixture(scope="module")
def apache_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """A one-node Apache Kafka of the console's own, seeded like the built-in broker."""
    require_jars()
    # The seeded records carry fixed 2026-01-01 times: keep Kafka's retention (7 days, first run
    # after 30 s) from deleting them while the tests run.
    no_retention_run = {"log.initial.task.delay.ms": "3600000", "log.retention.check.interval.ms": "3600000"}
    cluster = KafkaCluster(tmp_path_factory.mktemp("console-kafka"), size=1, overrides=no_retention_run).start()
    try:
        seed(cluster.bootstrap, tmp_path_factory.mktemp("kafka-state"))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["built-in", "apache-kafka"])
def seeded(request: pytest.FixtureRequest) -> BrokerProcess | KafkaCluster:
    """The same seeded data on the built-in broker and on Apache Kafka: for the views whose
    behaviour is Kafka's (topics, groups, tail)."""
    return request.getfixturevalue("broker" if request.param == "built-in" else "apache_kafka")  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the user's config file or reset history."""
    monkeypatch.setenv("KCTL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "config.toml"


def console(bootstrap: str, **kwargs: Any) -> KctlTui:
    return KctlTui(Settings(bootstrap=bootstrap, timeout=10), cursor_blink=False, **kwargs)


def table_keys(app: KctlTui, table: str | None = None) -> list[str]:
    widget = app.screen.query_one(f"#{table}" if table else "DataTable")
    return [str(key.value) for key in widget.rows]  # type: ignore[attr-defined]


async def wait_for(pilot: Any, check: Any, what: str, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        await pilot.pause(0.05)
        try:
            if check():
                return
        except Exception:  # the screen may be mid-switch
            pass
    raise AssertionError(f"never happened: {what}")


async def wait_rows(pilot: Any, app: KctlTui, count: int, table: str | None = None) -> None:
    await wait_for(pilot, lambda: len(table_keys(app, table)) >= count, f"{count} rows in {table or 'the table'}")
