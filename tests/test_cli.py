"""The console script as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kctl import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kctl", *args], capture_output=True, text=True, timeout=60)


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kctl {__version__}"


def test_protocol_lists_every_api_with_its_range() -> None:
    result = run("protocol")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["18", "ApiVersions", "v0-4"] for line in lines)
    assert any(line.split()[:3] == ["3", "Metadata", "v0-12"] for line in lines)
    assert len(lines) >= 32


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "no-such-command" in result.stderr


def test_kctl_broker_start_serves_and_stops_cleanly(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kctl", "broker", "start", "--data-dir", str(tmp_path / "d"),
         "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "broker did not start"
            time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "listening on 127.0.0.1" in err and "broker stopped" in err
    assert (tmp_path / "d" / ".kafka_cleanshutdown").exists()


def test_kctl_broker_start_rejects_a_bad_listen_address() -> None:
    result = subprocess.run([sys.executable, "-m", "kctl", "broker", "start", "--listen", "nowhere"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "HOST:PORT" in result.stderr
