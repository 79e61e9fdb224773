"""Java client libraries for apps run against the brokers: the test bed's own release (its jars
from `apache_kafka.py`) and the newest Kafka client and Kafka Streams served (`java_clients/pom.xml`,
copied once into `$XDG_CACHE_HOME/kctl/kafka-java-clients-<version>/lib`). Tests skip without java
or the jars, unless `KCTL_REQUIRE_APACHE_KAFKA=1` (CI)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from . import apache_kafka, maven
from .apache_kafka import REQUIRE_ENV

POM = Path(__file__).with_name("java_clients") / "pom.xml"
FETCH = "python -m tests.support.java_clients fetch"


def newest_version() -> str:
    match = re.search(r"<clients.version>([^<]+)</clients.version>", POM.read_text())
    assert match, f"{POM} names no clients.version"
    return match.group(1)


def cache_dir() -> Path:
    return maven.cache_root() / f"kafka-java-clients-{newest_version()}"


def versions() -> list[str]:
    """The client versions the Java interop tests run: the test bed's, then the newest."""
    return [apache_kafka.kafka_version(), newest_version()]


def require_lib(version: str) -> Path:
    """The jars of that client version, else a skip (a failure where CI requires them)."""
    if version == apache_kafka.kafka_version():
        return apache_kafka.require_jars()
    try:
        return maven.ready(POM, cache_dir(), f"Kafka's Java client {version}", FETCH)
    except maven.Unavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but Kafka's Java client {version} cannot run: {exc}", pytrace=False)
        pytest.skip(f"Kafka's Java client {version} not available: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    def fetch() -> str:
        lib = maven.fetch(POM, cache_dir(), f"Kafka's Java client {newest_version()}")
        return f"Kafka's Java client and Streams {newest_version()}: {len(list(lib.glob('*.jar')))} jars in {lib}"

    return maven.fetch_command(argv, FETCH, fetch)


if __name__ == "__main__":
    raise SystemExit(main())
