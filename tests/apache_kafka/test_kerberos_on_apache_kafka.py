"""kctl against Apache Kafka with SASL/GSSAPI, in a throwaway MIT Kerberos realm (Debian's krb5-kdc,
started by the tests): kctl logs in with a keytab and with kinit's ticket cache, lists, produces
and tails, and a missing ticket or an unknown service principal gets a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apache_kafka import KafkaCluster, KerberosBroker, require_jars
from tests.support.kerberos import REALM, Kdc

pytest.importorskip("gssapi", reason="kctl's Kerberos needs the gssapi package (Debian: libkrb5-dev to build it)")


@pytest.fixture(scope="module")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kdc]:
    with Kdc(tmp_path_factory.mktemp("kdc")) as started:
        yield started


@pytest.fixture(scope="module")
def kafka_kerberos(kdc: Kdc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    require_jars()
    service = "kafka/127.0.0.1"
    keytab = kdc.add_principal(service)
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-kerberos"), size=1,
                           kerberos=KerberosBroker(kdc.krb5_conf, keytab, f"{service}@{REALM}")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _kctl(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kctl", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=90)


def _env(kdc: Kdc, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, **kdc.env, "KCTL_CONFIG": str(tmp_path / "config.toml"),
            "KRB5CCNAME": f"FILE:{tmp_path / 'ccache'}"}


def test_kctl_logs_in_with_a_keytab_and_lists_produces_and_tails(kafka_kerberos: KafkaCluster, kdc: Kdc,
                                                                   tmp_path: Path) -> None:
    keytab = kdc.add_principal("kctl")
    env = _env(kdc, tmp_path)
    done = _kctl(env, "config", "set-context", "corp", "-b", kafka_kerberos.bootstrap, "--sasl-mechanism", "GSSAPI",
                 "--sasl-kerberos-principal", f"kctl@{REALM}", "--sasl-kerberos-keytab", str(keytab), "--use")
    assert done.returncode == 0, done.stderr
    for args, stdin in ((["topics", "create", "krb-topic", "-p", "2"], None),
                        (["produce", "krb-topic"], "x\ny\nz\n")):
        done = _kctl(env, *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
    listed = _kctl(env, "topics", "list", "-o", "json")
    assert "krb-topic" in {t["name"] for t in json.loads(listed.stdout)}, listed.stderr
    tailed = _kctl(env, "tail", "krb-topic", "-o", "jsonl")
    assert sorted(json.loads(line)["value"] for line in tailed.stdout.splitlines()) == ["x", "y", "z"], tailed.stderr


def test_kctl_logs_in_with_kinit_s_ticket_cache_and_says_when_there_is_none(kafka_kerberos: KafkaCluster,
                                                                            kdc: Kdc, tmp_path: Path) -> None:
    keytab = kdc.add_principal("alice")
    env = _env(kdc, tmp_path)
    done = _kctl(env, "config", "set-context", "corp", "-b", kafka_kerberos.bootstrap, "--sasl-mechanism", "GSSAPI",
                 "--use")
    assert done.returncode == 0, done.stderr
    done = _kctl(env, "--timeout", "10", "topics", "list")
    assert done.returncode == 5 and "kinit" in done.stderr, done.stderr  # no ticket yet
    subprocess.run(["kinit", "-k", "-t", str(keytab), f"alice@{REALM}"], env=env, check=True, capture_output=True)
    done = _kctl(env, "topics", "list", "-o", "json")
    assert done.returncode == 0, done.stderr
    # A service name the realm does not know: the KDC's answer, in one line.
    done = _kctl(env, "config", "set-context", "corp", "--sasl-kerberos-service-name", "kafka-other")
    assert done.returncode == 0, done.stderr
    done = _kctl(env, "--timeout", "10", "topics", "list")
    assert done.returncode == 5, done.stderr
    assert "kafka-other@127.0.0.1" in done.stderr and "not found in Kerberos database" in done.stderr


async def test_the_console_shows_the_kerberos_principal(kafka_kerberos: KafkaCluster, kdc: Kdc,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from kctl.connect.cluster import Settings
    from kctl.connect.contexts import Context
    from kctl.tui.backend import LiveBackend

    keytab = kdc.add_principal("console")
    for name, value in kdc.env.items():
        monkeypatch.setenv(name, value)
    context = Context("corp", kafka_kerberos.bootstrap, sasl={
        "mechanism": "GSSAPI", "principal": f"console@{REALM}", "keytab": str(keytab)})
    backend = LiveBackend(context, Settings(timeout=20))
    try:
        overview = await backend.overview()
    finally:
        await backend.close()
    assert overview.authentication == f"GSSAPI as console@{REALM}"
