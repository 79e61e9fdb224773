"""Every broker process the tests started, so that none outlives the run: the root conftest kills
any still running (a test that failed before stopping its broker) after every other fixture."""

from __future__ import annotations

import subprocess

STARTED: list[subprocess.Popen[bytes]] = []


def kill_leftovers() -> None:
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
