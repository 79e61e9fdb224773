"""Group health changes delivered: the debouncing with no sockets and the time passed in, each
target's body, and `kctl exporter` and `kctl lag --watch` posting to a real Alertmanager
(Debian's prometheus-alertmanager, which passes them on to a webhook of its own), to a generic
JSON hook and to a Slack-shaped one, for a group made to STOP and then caught up."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kctl.ops.alerts import Debouncer, Notice, Seen, parse_target, payload
from kctl.ops.errors import BadUsage
from kctl.ops.groups import Health
from tests.broker.conftest import BrokerProcess, free_port
from tests.cli.conftest import isolated_env
from tests.cli.test_commands import kctl, unique
from tests.test_metrics import eventually, get

OK, STALL, STOP = Health.OK, Health.STALL, Health.STOP


def seen(health: Health, group: str = "g", lag: int = 10) -> Seen:
    return Seen(group, health, lag, 0)


# ---- debouncing, no sockets -------------------------------------------------------------------------
def test_a_verdict_is_posted_once_it_has_held_and_a_flicker_is_not() -> None:
    d = Debouncer(hold_s=30)
    assert d.observe(seen(STALL), 0) is None
    assert d.observe(seen(OK), 10) is None  # a flicker: back before it held
    assert d.observe(seen(STALL), 20) is None  # held from 20 now
    assert d.observe(seen(STALL), 45) is None
    notice = d.observe(seen(STALL), 50)
    assert notice is not None and notice.health == STALL and notice.previous == OK and notice.since == 20
    assert d.observe(seen(STALL), 60) is None  # said once
    assert d.firing() == ["g"]


def test_a_worse_verdict_and_the_return_to_ok_are_each_a_notice() -> None:
    d = Debouncer(hold_s=0)
    first = d.observe(seen(STALL), 0)
    worse = d.observe(seen(STOP), 5)
    back = d.observe(seen(OK, lag=0), 9)
    assert first is not None and worse is not None and back is not None
    assert (worse.previous, worse.health, worse.firing) == (STALL, STOP, True)
    assert (back.previous, back.health, back.firing) == (STOP, OK, False)
    assert d.firing() == []
    assert d.observe(seen(OK, group="healthy"), 0) is None  # a group that was always OK says nothing


def test_each_target_gets_its_own_body() -> None:
    stop = Notice("orders", STOP, OK, 1_700_000_000.0, 1234, 0)
    back = Notice("orders", OK, STOP, 1_700_000_100.0, 0, 2)
    generic = payload("json", [stop], "prod", 1_700_000_050.0)
    assert generic["cluster"] == "prod" and generic["notices"][0] | {"since": None} == {
        "group": "orders", "health": "STOP", "previous": "OK", "firing": True, "since": None, "lag": 1234,
        "members": 0, "why": "lag, and no consumers in the group", "diagnosis": None,
        "summary": "group orders on prod is STOP (was OK): lag 1,234, 0 member(s)"}
    slack = payload("slack", [stop, back], "prod", 0)
    assert slack["text"].splitlines()[0].startswith(":red_circle: group orders on prod is STOP")
    assert "healthy again" in slack["text"].splitlines()[-1]
    firing, resolved = payload("alertmanager", [stop, back], "prod", 1_700_000_200.0)
    assert firing["labels"] == resolved["labels"] == {"alertname": "KafkaConsumerGroupUnhealthy",
                                                      "consumergroup": "orders", "kctl_cluster": "prod"}
    assert firing["annotations"]["health"] == "STOP" and "endsAt" not in firing
    assert firing["startsAt"] == "2023-11-14T22:13:20.000Z"
    assert resolved["endsAt"] == "2023-11-14T22:16:40.000Z"


def test_a_diagnosis_rides_with_its_notice_to_every_target() -> None:
    diagnosis = {"group": "orders", "health": "STALL", "window_s": 30.0, "verdict": {
        "cause": "poison-record", "summary": "a poison record: the group keeps committing the same offset",
        "evidence": ["orders[0]: offset 7 committed 9 times in 30s and never passed"]},
        "also": [{"cause": "skew", "summary": "skew: the lag sits on few partitions", "evidence": []}]}
    stall = dataclasses.replace(Notice("orders", STALL, OK, 1_700_000_000.0, 40, 1), diagnosis=diagnosis)
    generic = payload("json", [stall], "prod", 0)["notices"][0]
    assert generic["diagnosis"] == diagnosis and generic["why"] == diagnosis["verdict"]["summary"]
    text = payload("slack", [stall], "prod", 0)["text"]
    assert text.splitlines()[1:] == [">a poison record: the group keeps committing the same offset",
                                     ">orders[0]: offset 7 committed 9 times in 30s and never passed",
                                     ">also: skew: the lag sits on few partitions"]
    [alert] = payload("alertmanager", [stall], "prod", 0)
    assert alert["annotations"]["cause"] == "poison-record"
    assert alert["annotations"]["why"] == diagnosis["verdict"]["summary"]
    assert alert["annotations"]["evidence"].splitlines() == [
        "orders[0]: offset 7 committed 9 times in 30s and never passed", "also: skew: the lag sits on few partitions"]
    assert "cause" not in payload("alertmanager", [Notice("orders", STALL, OK, 0.0, 40, 1)], "prod", 0)[0][
        "annotations"]  # without a diagnosis, what the health verdict means


def test_bad_targets_are_refused_before_anything_starts() -> None:
    assert parse_target("http://hooks/x") == parse_target("json=http://hooks/x")
    assert parse_target("slack=https://hooks.slack.com/services/T/B/x").kind == "slack"
    for bad in ("pager=http://x", "alertmanager=localhost:9093", "ftp://x"):
        with pytest.raises(BadUsage):
            parse_target(bad)


# ---- delivered to real receivers ----------------------------------------------------------------------
class Hooks:
    """A webhook receiver: every JSON body posted, by path."""

    def __init__(self) -> None:
        self.posts: dict[str, list[Any]] = {}
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.posts.setdefault(self.path, []).append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    found = Hooks()
    yield found
    found.server.shutdown()


@pytest.fixture
def alertmanager(tmp_path: Path, hooks: Hooks) -> Iterator[str]:
    from tests.test_metrics import tool

    binary = tool("prometheus-alertmanager")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "route": {"receiver": "hook", "group_by": ["consumergroup"], "group_wait": "0s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": f"{hooks.url}/am", "send_resolved": True}]}]}))
    with open(tmp_path / "alertmanager.log", "w") as log:
        proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                                stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: get(f"{url}/-/ready"), 30, "Alertmanager to start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data").start()
    yield b
    b.stop()


def stopped_group(env: dict[str, str]) -> tuple[str, str]:
    """A group 5 records behind with no consumers: STOP."""
    topic, group = unique("alerts"), unique("stopped")
    kctl(env, "topics", "create", topic, "-p", "1")
    kctl(env, "produce", topic, stdin="".join(f"r{i}\n" for i in range(5)))
    kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    return topic, group


def am_alerts(url: str, group: str) -> list[dict[str, Any]]:
    found = json.loads(get(f"{url}/api/v2/alerts?active=true&silenced=false&inhibited=false"))
    return [a for a in found if a["labels"].get("consumergroup") == group]


def test_the_exporter_posts_health_changes_to_alertmanager_json_and_slack(
        tmp_path: Path, broker: BrokerProcess, hooks: Hooks, alertmanager: str) -> None:
    env = isolated_env(tmp_path, broker.bootstrap)
    topic, group = stopped_group(env)
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "kctl", "exporter", "--listen", f"127.0.0.1:{port}", "--interval", "1s",
         "--group", group, "--alert", f"alertmanager={alertmanager}", "--alert", f"{hooks.url}/json",
         "--alert", f"slack={hooks.url}/slack", "--alert-for", "2s"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        firing = eventually(lambda: am_alerts(alertmanager, group), 60, "Alertmanager to hold the alert")
        # The notice carries `kctl why`'s verdict, judged from the exporter's own looks.
        annotations = firing[0]["annotations"]
        assert annotations["health"] == "STOP" and annotations["cause"] == "no-consumers"
        assert annotations["why"] == "no consumers: the group is Empty with 5 records to read"
        assert "members: 0 at every look" in annotations["evidence"]
        assert firing[0]["labels"]["alertname"] == "KafkaConsumerGroupUnhealthy"
        passed_on = eventually(lambda: hooks.posts.get("/am"), 30, "Alertmanager to pass it on")
        assert passed_on[0]["status"] == "firing" and passed_on[0]["alerts"][0]["labels"]["consumergroup"] == group
        generic = hooks.posts["/json"]
        assert len(generic) == 1 and generic[0]["notices"][0]["health"] == "STOP"  # once, not every look
        assert generic[0]["notices"][0]["lag"] == 5
        assert generic[0]["notices"][0]["diagnosis"]["verdict"]["cause"] == "no-consumers"
        assert f"group {group}" in hooks.posts["/slack"][0]["text"]
        assert ">no consumers: the group is Empty" in hooks.posts["/slack"][0]["text"]

        # kctl why asks the exporter: the same verdict, at once, exit 7.
        asked = kctl(env, "why", group, "--exporter", f"http://127.0.0.1:{port}", "-o", "json", ok=False)
        assert asked.returncode == 7 and json.loads(asked.stdout)["verdict"]["cause"] == "no-consumers"
        unknown = kctl(env, "why", "no-such-group", "--exporter", f"http://127.0.0.1:{port}", ok=False)
        assert unknown.returncode == 3 and "no group 'no-such-group' at the exporter's last look" in unknown.stderr

        kctl(env, "groups", "reset-offsets", group, "--topic", topic, "--to-latest", "--execute")
        eventually(lambda: not am_alerts(alertmanager, group), 60, "Alertmanager to see it resolved")
        eventually(lambda: any(p["status"] == "resolved" for p in hooks.posts["/am"]), 30, "the resolved notice")
        resolved = eventually(lambda: hooks.posts["/json"][1:], 30, "the JSON hook's resolved notice")
        assert resolved[0]["notices"][0] | {"since": None, "summary": None} == {
            "group": group, "health": "OK", "previous": "STOP", "firing": False, "since": None, "lag": 0,
            "members": 0, "why": "caught up, or catching up", "diagnosis": None, "summary": None}
        healthy = kctl(env, "why", group, "--exporter", f"http://127.0.0.1:{port}")
        assert healthy.stdout.startswith(f"{group}: healthy at the exporter's last look")
    finally:
        exporter.terminate()
        exporter.wait(10)


def test_lag_watch_posts_too_and_an_unreachable_hook_gets_the_notice_later(
        tmp_path: Path, broker: BrokerProcess) -> None:
    env = isolated_env(tmp_path, broker.bootstrap)
    _, group = stopped_group(env)
    port = free_port()  # nothing listens there yet
    watch = subprocess.Popen(
        [sys.executable, "-m", "kctl", "lag", group, "--watch", "--interval", "1", "-o", "jsonl",
         "--alert", f"json=http://127.0.0.1:{port}/late", "--alert-for", "0s"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stderr is not None
        line = eventually(lambda: watch.stderr.readline(), 60, "a delivery failure")  # type: ignore[union-attr]
        assert "not delivered" in line and "trying again" in line
        late = Hooks()
        late.server.server_close()
        late.server = ThreadingHTTPServer(("127.0.0.1", port), late.server.RequestHandlerClass)
        threading.Thread(target=late.server.serve_forever, daemon=True).start()
        posts = eventually(lambda: late.posts.get("/late"), 30, "the notice delivered once the hook is up")
        assert posts[0]["notices"][0]["group"] == group and posts[0]["notices"][0]["health"] == "STOP"
        late.server.shutdown()
    finally:
        watch.terminate()
        watch.wait(10)


def test_alerts_need_a_watch(tmp_path: Path, broker: BrokerProcess) -> None:
    env = isolated_env(tmp_path, broker.bootstrap)
    refused = kctl(env, "lag", "--alert", "http://127.0.0.1:1/x", ok=False)
    assert refused.returncode == 2 and "--alert needs --watch" in refused.stderr
    bad = kctl(env, "exporter", "--alert", "pager=http://x", ok=False)
    assert bad.returncode == 2 and "unknown alert target kind" in bad.stderr
