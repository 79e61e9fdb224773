"""Metrics scraped by a real Prometheus (Debian's package): `kctl exporter` and the built-in
broker's /metrics. PromQL over Prometheus's HTTP API sees the lag the test made, and `promtool
check metrics` accepts both outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess, free_port
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique

REQUIRE_ENV = "KCTL_REQUIRE_PROMETHEUS"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {name} is not installed (apt-get install prometheus)", pytrace=False)
        pytest.skip(f"{name} not installed (apt-get install prometheus)")
    return found


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def eventually(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} ({last})")


@pytest.fixture
def broker_with_metrics(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data", metrics_port=free_port()).start()
    yield b
    b.stop()


@pytest.fixture
def exporter_for(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(bootstrap: str) -> int:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "kctl", "-b", bootstrap, "exporter", "--listen",
                                 f"127.0.0.1:{port}", "--interval", "1s"], env=isolated_env(tmp_path, None),
                                stderr=subprocess.PIPE, text=True)
        started.append(proc)
        eventually(lambda: get(f"http://127.0.0.1:{port}/metrics"), 30, "the exporter to listen")
        return port

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def test_prometheus_scrapes_the_exporter_and_the_broker(tmp_path: Path, broker_with_metrics: BrokerProcess,
                                                        exporter_for: Any) -> None:
    prometheus, promtool = tool("prometheus"), tool("promtool")
    env = isolated_env(tmp_path, broker_with_metrics.bootstrap)
    topic, group = unique("metered"), unique("billing")
    kctl(env, "topics", "create", topic, "-p", "2")
    kctl(env, "produce", topic, "-p", "0", stdin="".join(f"v{i}\n" for i in range(30)))
    kctl(env, "groups", "reset-offsets", group, "-t", f"{topic}:0", "--to-offset", "10", "--execute")
    exporter = exporter_for(broker_with_metrics.bootstrap)
    broker_port = broker_with_metrics.metrics_port
    for port in (exporter, broker_port):
        text = get(f"http://127.0.0.1:{port}/metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "kctl-exporter", "static_configs": [{"targets": [f"127.0.0.1:{exporter}"]}]},
                           {"job_name": "kctl-broker", "static_configs": [{"targets": [f"127.0.0.1:{broker_port}"]}]}],
    }))
    web = free_port()
    with open(tmp_path / "prometheus.log", "w") as log:
        server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"],
                                  stdout=log, stderr=log)
    try:
        def query(promql: str) -> list[dict[str, Any]]:
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
            return list(json.loads(get(url))["data"]["result"])

        lag = eventually(lambda: query(f'kafka_consumergroup_lag_sum{{consumergroup="{group}"}}'), 60,
                         "Prometheus to have the group's lag")
        assert float(lag[0]["value"][1]) == 20
        per_partition = query(f'kafka_consumergroup_lag{{consumergroup="{group}",topic="{topic}"}}')
        assert {r["metric"]["partition"]: float(r["value"][1]) for r in per_partition} == {"0": 20.0}
        assert float(query(f'kafka_consumergroup_health{{consumergroup="{group}"}}')[0]["value"][1]) == 3  # STOP
        assert float(query('kafka_exporter_up')[0]["value"][1]) == 1
        produced = eventually(lambda: query('kctl_broker_requests_total{api="Produce"}'), 30, "the broker's series")
        assert float(produced[0]["value"][1]) >= 1
        assert eventually(lambda: query(f'kctl_broker_log_segments{{topic="{topic}"}}'), 30, "log series")
        assert float(query('up{job="kctl-broker"}')[0]["value"][1]) == 1
    finally:
        server.terminate()
        server.wait(30)


def test_an_unreachable_cluster_shows_as_up_0_and_the_exporter_keeps_running(exporter_for: Any) -> None:
    import re
    import socket

    def failed_looks(text: str) -> float:
        found = re.search(r"^kafka_exporter_errors_total (\S+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    with socket.socket() as held:  # bound and never listening: refused, and no server can take it meanwhile
        held.bind(("127.0.0.1", 0))
        port = exporter_for(f"127.0.0.1:{held.getsockname()[1]}")
        # At least two (a count compared, not a substring: looks go on while the test reads them).
        text = eventually(lambda: (t := get(f"http://127.0.0.1:{port}/metrics")) and failed_looks(t) >= 2 and t,
                          30, "two failed looks")
    assert "kafka_exporter_up 0.0" in text


def test_the_broker_counts_errors_per_code_and_bytes_per_topic() -> None:
    import time as clock
    from types import SimpleNamespace

    from broker.metrics import BrokerMetrics
    from kctl.protocol.api import ApiKey
    from kctl.protocol.framing import FileRange
    from kctl.protocol.messages.fetch import FetchableTopicResponse, FetchResponse, PartitionData
    from kctl.protocol.messages.produce import PartitionProduceResponse, ProduceResponse, TopicProduceResponse

    quiet = SimpleNamespace(logs=SimpleNamespace(opened_partitions=list), connections=set(),
                            groups=SimpleNamespace(groups={}))
    metrics = BrokerMetrics(quiet)  # type: ignore[arg-type]
    refused = ProduceResponse(responses=[TopicProduceResponse("t", [
        PartitionProduceResponse(index=0, error_code=3), PartitionProduceResponse(index=1)])])
    metrics.answered(ApiKey.PRODUCE, 9, refused, clock.perf_counter())
    fetched = FetchResponse(responses=[FetchableTopicResponse("t", [PartitionData(0, records=FileRange(None, 0, 700)),
                                                                   PartitionData(1, records=b"x" * 300)])])
    metrics.answered(ApiKey.FETCH, 12, fetched, clock.perf_counter())
    value = metrics.registry.get_sample_value
    assert value("kctl_broker_request_errors_total", {"api": "Produce", "error": "UNKNOWN_TOPIC_OR_PARTITION"}) == 1
    assert value("kctl_broker_requests_total", {"api": "Fetch", "version": "12"}) == 1
    assert value("kctl_broker_topic_bytes_out_total", {"topic": "t"}) == 1000
    assert value("kctl_broker_request_seconds_count", {"api": "Produce"}) == 1
