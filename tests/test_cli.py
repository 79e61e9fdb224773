"""The console script as a user runs it."""

from __future__ import annotations

import subprocess
import sys

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
