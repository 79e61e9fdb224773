"""SCRAM users on the built-in broker: `kctl users` creates, lists, changes and deletes them through
DescribeUserScramCredentials and AlterUserScramCredentials; librdkafka logs in with what was set;
the store keeps no password and survives kill -9; Kafka's own configs tool manages users here, and
`kctl users` does the same on Apache Kafka with SCRAM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BrokerProcess

ADMIN, ADMIN_PASSWORD = "admin", "admin-secret"


@pytest.fixture
def scram_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data", {"listeners": "SASL_PLAINTEXT://127.0.0.1:0",
                                          "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
                                          f"sasl.users.{ADMIN}": ADMIN_PASSWORD}).start()
    yield b
    b.stop()


def kctl_env(tmp_path: Path, bootstrap: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    config = tmp_path / f"kctl-{user}.toml"
    config.write_text(f'current-context = "secure"\n[contexts.secure]\nbootstrap-servers = "{bootstrap}"\n'
                      f'sasl = {{ mechanism = "SCRAM-SHA-512", username = "{user}", password-env = "ADMIN_PW" }}\n')
    return {**{k: v for k, v in os.environ.items() if not k.startswith("KCTL_")}, "KCTL_CONFIG": str(config),
            "ADMIN_PW": password}


def kctl(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "kctl", "--timeout", "10", *args], env=env, capture_output=True,
                          text=True, timeout=60)
    if ok:
        assert done.returncode == 0, f"kctl {' '.join(args)}: {done.stderr}"
    return done


def logs_in(bootstrap: str, user: str, password: str, mechanism: str = "SCRAM-SHA-512") -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password})
    try:
        admin.list_topics(timeout=5)
        return True
    except KafkaException:
        return False


def test_kctl_users_on_the_built_in_broker(scram_broker: BrokerProcess, tmp_path: Path) -> None:
    env = kctl_env(tmp_path, scram_broker.bootstrap)
    listed = json.loads(kctl(env, "users", "list", "-o", "json").stdout)
    assert listed == [{"user": ADMIN, "mechanism": "SCRAM-SHA-256", "iterations": 4096},
                      {"user": ADMIN, "mechanism": "SCRAM-SHA-512", "iterations": 4096}]
    kctl({**env, "BOB_PW": "first pass"}, "users", "create", "bob", "--password-env", "BOB_PW")
    assert logs_in(scram_broker.bootstrap, "bob", "first pass")
    assert not logs_in(scram_broker.bootstrap, "bob", "first pass", "SCRAM-SHA-256")  # only 512 was made
    again = kctl({**env, "BOB_PW": "x"}, "users", "create", "bob", "--password-env", "BOB_PW", ok=False)
    assert again.returncode == 8 and "already has a SCRAM-SHA-512 credential" in again.stderr
    kctl({**env, "BOB_PW": "second pass"}, "users", "passwd", "bob", "--password-env", "BOB_PW",
         "--iterations", "4096")
    assert not logs_in(scram_broker.bootstrap, "bob", "first pass")
    assert logs_in(scram_broker.bootstrap, "bob", "second pass")
    assert {"user": "bob", "mechanism": "SCRAM-SHA-512", "iterations": 4096} in json.loads(
        kctl(env, "users", "list", "bob", "-o", "json").stdout)
    # The password never reaches the disk: the store holds salts and SCRAM's derived keys.
    stored = (scram_broker.data_dir / "scram-credentials.json").read_text()
    assert "second pass" not in stored and "stored_key" in stored and "bob" in stored
    # Bad input: refused with a reason, nothing changed.
    low = kctl({**env, "BOB_PW": "p"}, "users", "passwd", "bob", "--password-env", "BOB_PW", "--iterations", "10",
               ok=False)
    assert low.returncode == 2 and "4096 to 16384" in low.stderr
    no_tty = kctl(env, "users", "create", "carol", ok=False)
    assert no_tty.returncode == 2 and "--password-env" in no_tty.stderr
    unset = kctl(env, "users", "create", "carol", "--password-env", "NOT_SET_ANYWHERE", ok=False)
    assert unset.returncode == 2 and "$NOT_SET_ANYWHERE is not set" in unset.stderr
    assert logs_in(scram_broker.bootstrap, "bob", "second pass")

    scram_broker.kill()  # changes were on disk before they were acknowledged
    scram_broker.start()
    assert logs_in(scram_broker.bootstrap, "bob", "second pass")
    refused = kctl(env, "users", "delete", "bob", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert json.loads(kctl(env, "users", "delete", "bob", "--yes", "-o", "json").stdout)["deleted"] == [
        "SCRAM-SHA-512"]
    assert not logs_in(scram_broker.bootstrap, "bob", "second pass")
    missing = kctl(env, "users", "list", "bob", ok=False)
    assert missing.returncode == 3 and "no SCRAM user 'bob'" in missing.stderr
    # A config-file user deleted through the API stays deleted after a restart.
    kctl(env, "users", "delete", ADMIN, "--mechanism", "SCRAM-SHA-256", "--yes")
    scram_broker.stop()
    scram_broker.start()
    assert not logs_in(scram_broker.bootstrap, ADMIN, ADMIN_PASSWORD, "SCRAM-SHA-256")
    assert logs_in(scram_broker.bootstrap, ADMIN, ADMIN_PASSWORD, "SCRAM-SHA-512")


def test_kafkas_configs_tool_manages_users_on_the_built_in_broker(scram_broker: BrokerProcess,
                                                                   tmp_path: Path) -> None:
    from tests.support.apache_kafka import require_jars, run_tool

    require_jars()
    properties = tmp_path / "admin.properties"
    properties.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n"
                          "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                          f'username="{ADMIN}" password="{ADMIN_PASSWORD}";\n')
    common = ["--bootstrap-server", scram_broker.bootstrap, "--command-config", str(properties)]
    run_tool("configs", *common, "--alter", "--entity-type", "users", "--entity-name", "carol",
             "--add-config", "SCRAM-SHA-256=[iterations=8192,password=carol-secret]")
    assert logs_in(scram_broker.bootstrap, "carol", "carol-secret", "SCRAM-SHA-256")
    described = run_tool("configs", *common, "--describe", "--entity-type", "users", "--entity-name", "carol").stdout
    assert "SCRAM-SHA-256=iterations=8192" in described
    listed = json.loads(kctl(kctl_env(tmp_path, scram_broker.bootstrap), "users", "list", "carol", "-o", "json").stdout)
    assert listed == [{"user": "carol", "mechanism": "SCRAM-SHA-256", "iterations": 8192}]
    run_tool("configs", *common, "--alter", "--entity-type", "users", "--entity-name", "carol",
             "--delete-config", "SCRAM-SHA-256")
    assert not logs_in(scram_broker.bootstrap, "carol", "carol-secret", "SCRAM-SHA-256")


def test_bad_credential_changes_get_kafkas_error_codes(scram_broker: BrokerProcess, kafka_sasl: object) -> None:
    """The same bad AlterUserScramCredentials requests to Apache Kafka and to the built-in broker."""
    import asyncio

    from kctl.client import Cluster
    from kctl.client.sasl import SaslAuthenticator
    from kctl.protocol.errors import ErrorCode
    from kctl.protocol.messages.alter_user_scram_credentials import (
        AlterUserScramCredentialsRequest,
        ScramCredentialDeletion,
        ScramCredentialUpsertion,
    )
    from tests.conftest import SCRAM_ADMIN

    def upsert(user: str, mechanism: int = 2, iterations: int = 8192) -> ScramCredentialUpsertion:
        return ScramCredentialUpsertion(user, mechanism, iterations, b"salt" * 8, b"x" * 64)

    cases = {
        "the same user twice": AlterUserScramCredentialsRequest([], [upsert("u1", 1), upsert("u1", 2)]),
        "a deletion of a credential that does not exist": AlterUserScramCredentialsRequest(
            [ScramCredentialDeletion("nobody", 2)], []),
        "too few iterations": AlterUserScramCredentialsRequest([], [upsert("u2", iterations=100)]),
        "too many iterations": AlterUserScramCredentialsRequest([], [upsert("u3", iterations=100_000)]),
        "an unknown mechanism": AlterUserScramCredentialsRequest([], [upsert("u4", mechanism=0)]),
        "a good one": AlterUserScramCredentialsRequest([], [upsert("u5")]),
    }

    async def codes(bootstrap: str, user: str, password: str) -> dict[str, list[str]]:
        authenticator = SaslAuthenticator("SCRAM-SHA-256", user, password)
        async with Cluster(bootstrap, authenticator=authenticator) as cluster:
            node = next(iter(cluster.brokers))
            return {name: [ErrorCode.of(r.error_code).name for r in (await cluster.send(node, request)).results]
                    for name, request in cases.items()}

    theirs = asyncio.run(codes(kafka_sasl.bootstrap, SCRAM_ADMIN.name, SCRAM_ADMIN.password))  # type: ignore[attr-defined]
    ours = asyncio.run(codes(scram_broker.bootstrap, ADMIN, ADMIN_PASSWORD))
    assert ours == theirs
    assert theirs["the same user twice"] == ["DUPLICATE_RESOURCE"] and theirs["a good one"] == ["NONE"]
