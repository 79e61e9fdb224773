"""Group members as child processes (see group_member.py), watched through their JSON output."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("group_member.py")


class MemberProcess:
    def __init__(self, client: str, bootstrap: str, group: str, topic: str, *, client_id: str,
                 instance_id: str | None = None, session_ms: int = 3000, assignor: str = "range") -> None:
        args = [sys.executable, str(SCRIPT), client, bootstrap, group, topic, "--client-id", client_id,
                "--session-ms", str(session_ms), "--assignor", assignor]
        if instance_id:
            args += ["--instance-id", instance_id]
        self.name = f"{client}:{client_id}"
        self.lock = threading.Lock()
        self.assignments: list[list[int]] = []  # every assignment it reported, in order
        self.records: list[tuple[int, int]] = []
        self.committed = 0
        self.closed = False
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event: dict[str, Any] = json.loads(line)
            with self.lock:
                if "assigned" in event:
                    self.assignments.append(event["assigned"])
                elif "record" in event:
                    partition, offset = event["record"]
                    self.records.append((partition, offset))
                elif "committed" in event:
                    self.committed += event["committed"]
                elif "closed" in event:
                    self.closed = True

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    @property
    def assigned(self) -> list[int]:
        with self.lock:
            return list(self.assignments[-1]) if self.assignments else []

    def terminate(self) -> None:
        """A clean close: the member leaves the group."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        deadline = time.monotonic() + 5
        while not self.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.closed, f"{self.name} did not close cleanly:\n{''.join(self.stderr[-20:])}"

    def kill(self) -> None:
        """kill -9: no LeaveGroup; the coordinator only notices when the session times out."""
        self.proc.kill()
        self.proc.wait()

    def __repr__(self) -> str:
        return f"<{self.name} {self.assigned}>"


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, show: Callable[[], object] = lambda: ""
) -> float:
    """Poll until `condition` holds; returns how long it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: {show()}")


def spread(members: Iterable[MemberProcess], partitions: int, each: int) -> bool:
    """Every member holds `each` partitions and together they hold all of them exactly once."""
    held = [m.assigned for m in members]
    flat = sorted(p for ps in held for p in ps)
    return flat == list(range(partitions)) and all(len(ps) == each for ps in held)


def stop_all(members: Iterable[MemberProcess]) -> None:
    for m in members:
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.wait()
