"""The built-in broker as a background service: started on demand, with status and stop.

It listens on `$KCTL_LOCAL_LISTEN` (default 127.0.0.1:9092), serves its Schema Registry on
`$KCTL_LOCAL_SCHEMA_REGISTRY` (default 127.0.0.1:8081, or off), and keeps its data in the broker's
default data directory (`$XDG_DATA_HOME/kctl/broker`, or `$KCTL_LOCAL_DATA`). A `kctl.pid` file
there names the process kctl started.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kctl.ops.errors import Unreachable

PID_FILE = "kctl.pid"
LOG_FILE = "broker.log"


def local_address() -> str:
    return os.environ.get("KCTL_LOCAL_LISTEN", "127.0.0.1:9092")


def data_dir() -> Path:
    explicit = os.environ.get("KCTL_LOCAL_DATA")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kctl" / "broker"


#: Written by the broker while it serves its Schema Registry (broker.registry.http.ADDRESS_FILE).
REGISTRY_FILE = "schema-registry.url"


def registry_address() -> str | None:
    """The URL of the registry the built-in broker serves, while it runs."""
    try:
        return (data_dir() / REGISTRY_FILE).read_text().strip() or None
    except OSError:
        return None


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def listening(address: str, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection(_host_port(address), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(slots=True)
class Status:
    running: bool
    address: str
    pid: int | None
    data_dir: str
    started_by_kctl: bool
    schema_registry: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"running": self.running, "address": self.address, "pid": self.pid, "data_dir": self.data_dir,
                "started_by_kctl": self.started_by_kctl, "schema_registry": self.schema_registry}


def _pid() -> int | None:
    try:
        pid = int((data_dir() / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def status() -> Status:
    address = local_address()
    pid = _pid()
    running = listening(address)
    return Status(running, address, pid, str(data_dir()), pid is not None, registry_address() if running else None)


def start_background(wait_s: float = 15.0, announce: Callable[[str], None] | None = None,
                     extra_args: Sequence[str] = ()) -> Status:
    """Start the broker detached from this terminal, unless something already listens there;
    `announce` is told, in a line for people, when this call started it."""
    address = local_address()
    if listening(address):
        return status()
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    registry = os.environ.get("KCTL_LOCAL_SCHEMA_REGISTRY")
    if registry and "--schema-registry" not in extra_args:
        extra_args = [*extra_args, "--schema-registry", registry]
    with open(directory.parent / LOG_FILE, "ab") as log:
        import subprocess  # only to start the broker: not every command pays for it

        proc = subprocess.Popen(
            [sys.executable, "-m", "broker", "--data-dir", str(directory), "--listen", address, *extra_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    (directory / PID_FILE).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unreachable(f"the built-in broker exited at start (code {proc.returncode})",
                              f"see {directory.parent / LOG_FILE}")
        if listening(address, 0.1):
            if announce is not None:
                announce(f"kctl: started the built-in broker on {address} (pid {proc.pid}; "
                         "`kctl broker stop` stops it)")
            return status()
        time.sleep(0.05)
    raise Unreachable(f"the built-in broker did not start listening on {address} within {wait_s:g}s",
                      f"see {directory.parent / LOG_FILE}")


def stop(wait_s: float = 20.0) -> Status:
    pid = _pid()
    if pid is None:
        if listening(local_address()):
            raise Unreachable(f"something listens on {local_address()} but kctl did not start it",
                              "stop it where it was started (Ctrl-C in its terminal)")
        return status()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise Unreachable(f"the broker (pid {pid}) did not stop within {wait_s:g}s", f"kill {pid}")
    (data_dir() / PID_FILE).unlink(missing_ok=True)
    return status()
