"""A real broker process per test (or per module), on a free port, with its log captured."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.ports import free_port
from tests.support.processes import STARTED

if TYPE_CHECKING:
    from .faults import DiskFaults
    from .rawclient import RawClient

ROOT = Path(__file__).resolve().parents[2]



class BrokerProcess:
    """`python -m broker` in a child process; `kill()` is a real SIGKILL."""

    def __init__(self, data_dir: Path, config: dict[str, object] | None = None, *,
                 max_open_files: int | None = None, metrics_port: int | None = None,
                 registry_port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.config = config or {}
        self.max_open_files = max_open_files  # RLIMIT_NOFILE, soft and hard, for the broker alone
        self.metrics_port = metrics_port  # serve /metrics there
        self.registry_port = registry_port  # serve the Schema Registry there (off otherwise)
        self.proc: subprocess.Popen[bytes] | None = None
        self.crash_at: str | None = None  # FUNCTION:N:before|after of broker.storage.disk, for crash tests
        self.log_path = data_dir.parent / f"{data_dir.name}.broker.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def registry_url(self) -> str:
        assert self.registry_port is not None, "started without a registry"
        return f"http://127.0.0.1:{self.registry_port}"

    def start(self, timeout: float = 20) -> BrokerProcess:
        # With crash_at, the broker dies by SIGKILL at that call of the storage seam (crashing.py).
        launcher = ["-m", "broker"] if self.crash_at is None else [str(Path(__file__).with_name("crashing.py"))]
        args = [sys.executable, *launcher, "--data-dir", str(self.data_dir), "--listen", self.bootstrap]
        if self.config:
            config_path = self.data_dir.parent / f"{self.data_dir.name}.toml"
            config_path.write_text("".join(f'"{k}" = {_toml(v)}\n' for k, v in self.config.items()))
            args += ["--config", str(config_path)]
        if self.metrics_port is not None:
            args += ["--metrics", f"127.0.0.1:{self.metrics_port}"]
        registry = "off" if self.registry_port is None else f"127.0.0.1:{self.registry_port}"
        args += ["--schema-registry", registry]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if self.crash_at is not None:
            env["KCTL_TEST_CRASH_AT"] = self.crash_at
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log, env=env,
                                         preexec_fn=self._limit_files if self.max_open_files else None)
        STARTED.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"broker did not start:\n{self.log()}")

    def _limit_files(self) -> None:
        import resource

        assert self.max_open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_open_files, self.max_open_files))

    def open_files(self) -> int:
        """Descriptors the broker process holds now."""
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("broker did not stop on SIGTERM") from None
        return self.proc.returncode

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f'"{value}"'


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path_factory.mktemp("shared") / "data", {"num.partitions": 6}).start()
    yield b
    assert b.stop() == 0, b.log()


@pytest.fixture
def client(server: BrokerProcess) -> Iterator[RawClient]:
    """A raw-wire client of the module's `server` broker."""
    from .rawclient import RawClient

    c = RawClient(server.bootstrap)
    yield c
    c.close()


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> DiskFaults:
    """Fail the storage seam's writes on demand (`tests/broker/faults.py`)."""
    from .faults import DiskFaults

    return DiskFaults(monkeypatch)
