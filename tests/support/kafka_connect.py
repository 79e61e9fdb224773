"""A Kafka Connect distributed worker for tests: Apache Kafka's own Connect runtime (from the test
bed's release) with Kafka's file connectors on its plugin path, against any broker.

The file connectors come from `connect/pom.xml`, copied once into
`$XDG_CACHE_HOME/kctl/connect-file-<version>/lib` (`python -m tests.support.kafka_connect fetch`).
The newest served (4.1.1) calls a class Kafka 4.4 moved; `connect/AppInfoParser.java`, compiled
into the worker's plugin folder beside them, bridges it (see that file).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import maven
from .apache_kafka import REQUIRE_ENV, java_command, lib_dir, require_jars
from .ports import free_port

POM = Path(__file__).with_name("connect") / "pom.xml"
BRIDGE = POM.with_name("AppInfoParser.java")
FETCH = "python -m tests.support.kafka_connect fetch"


def connect_file_version() -> str:
    match = re.search(r"<connect.file.version>([^<]+)</connect.file.version>", POM.read_text())
    assert match, f"{POM} names no connect.file.version"
    return match.group(1)


def cache_dir() -> Path:
    return maven.cache_root() / f"connect-file-{connect_file_version()}"


def require_plugins() -> Path:
    """The folder holding the file connectors' jar, else a skip (a failure where CI requires it)."""
    require_jars()
    try:
        return maven.ready(POM, cache_dir(), f"connect-file {connect_file_version()}", FETCH)
    except maven.Unavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but Kafka's file connectors are not here: {exc}", pytrace=False)
        pytest.skip(f"Kafka's file connectors not available: {exc}")


def plugin_folder(workdir: Path) -> Path:
    """A plugin path for one worker: the file connectors' jar and the compiled bridge, as one plugin."""
    plugin = workdir / "plugins" / "connect-file"
    plugin.mkdir(parents=True, exist_ok=True)
    for jar in require_plugins().glob("*.jar"):
        shutil.copy(jar, plugin / jar.name)
    classes = workdir / "bridge-classes"
    clients = next(lib_dir().glob("kafka-clients-*.jar"))
    for step in (["javac", "-nowarn", "-cp", str(clients), "-d", str(classes), str(BRIDGE)],
                 ["jar", "cf", str(plugin / "app-info-bridge.jar"), "-C", str(classes), "."]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    return plugin.parent


@dataclass
class ConnectWorker:
    """One distributed worker; its group and internal topics are its own, named by `worker_id`."""

    workdir: Path
    bootstrap: str
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "connect.log"

    def logs(self, tail: int = 8000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def start(self, timeout: float = 120) -> ConnectWorker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        plugins = plugin_folder(self.workdir)
        self.port = free_port()
        tag = f"kctl-connect-{self.worker_id}"
        props = {
            "bootstrap.servers": self.bootstrap,
            "group.id": tag,
            "config.storage.topic": f"{tag}-configs",
            "offset.storage.topic": f"{tag}-offsets",
            "status.storage.topic": f"{tag}-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "3",
            "status.storage.partitions": "1",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "offset.flush.interval.ms": "500",
            "listeners": self.url,
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            "plugin.path": str(plugins),
            "scheduled.rebalance.max.delay.ms": "0",  # a task that moves starts at once, not in 5 min
        }
        properties = self.workdir / "worker.properties"
        properties.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(java_command("connect-distributed", str(properties), heap="512m"),
                                         stdout=log, stderr=log, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Until the REST API answers and lists the file connectors (the worker has joined its group)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Connect worker exited {self.proc.returncode}:\n{self.logs()}")
            try:
                plugins = self.get("/connector-plugins")
                self.get("/connectors")  # answers once the worker has read its config topic
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.5)
                continue
            if any(p["class"].endswith("FileStreamSourceConnector") for p in plugins):
                return
            raise RuntimeError(f"the worker has no file connectors on its plugin path: {plugins}")
        raise TimeoutError(f"the Connect worker was not ready in {timeout:g}s:\n{self.logs()}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    def fetch() -> str:
        lib = maven.fetch(POM, cache_dir(), f"connect-file {connect_file_version()}")
        return f"Kafka's file connectors {connect_file_version()}: {', '.join(p.name for p in lib.glob('*.jar'))}"

    return maven.fetch_command(argv, FETCH, fetch)


if __name__ == "__main__":
    raise SystemExit(main())
