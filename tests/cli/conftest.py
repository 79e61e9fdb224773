"""The CLI tests' broker and a clean environment for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.conftest import BrokerProcess


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("cli") / "data",
                      {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}).start()
    yield b
    b.stop()


def isolated_env(tmp_path: Path, bootstrap: str | None) -> dict[str, str]:
    """A clean environment: our own config and state dirs, no colour settings inherited."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("KCTL_", "XDG_", "NO_COLOR"))}
    out.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
                "XDG_DATA_HOME": str(tmp_path / "data")})
    if bootstrap:
        out["KCTL_BOOTSTRAP_SERVERS"] = bootstrap
    return out


@pytest.fixture
def env(tmp_path: Path, broker: BrokerProcess) -> dict[str, str]:
    return isolated_env(tmp_path, broker.bootstrap)
