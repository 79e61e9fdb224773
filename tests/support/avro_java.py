"""Apache Avro's Java library as an oracle: its `SchemaCompatibility` verdicts for schema pairs.

The jars come from `avro/pom.xml`, copied once into `$XDG_CACHE_HOME/kctl/avro-<version>/lib`;
`avro/AvroCompatibility.java` runs from source (java's single-file launcher). Tests skip without
java or the jars, unless `KCTL_REQUIRE_APACHE_KAFKA=1` (CI), where the Java oracles must run.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from . import maven
from .apache_kafka import REQUIRE_ENV

HERE = Path(__file__).with_name("avro")
POM = HERE / "pom.xml"
PROGRAM = HERE / "AvroCompatibility.java"
FETCH = "python -m tests.support.avro_java fetch"


def avro_version() -> str:
    match = re.search(r"<avro.version>([^<]+)</avro.version>", POM.read_text())
    assert match, f"{POM} names no avro.version"
    return match.group(1)


def cache_dir() -> Path:
    return maven.cache_root() / f"avro-{avro_version()}"


def require_jars() -> Path:
    try:
        return maven.ready(POM, cache_dir(), f"Apache Avro {avro_version()}", FETCH)
    except maven.Unavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but Apache Avro's Java library cannot run: {exc}", pytrace=False)
        pytest.skip(f"Apache Avro's Java library not available: {exc}")


def compatible(pairs: Sequence[tuple[str, str]]) -> list[bool]:
    """Avro's verdict for each (reader, writer) pair of schema texts: can the reader read the writer's data?"""
    lib = require_jars()
    lines = "".join(f"{' '.join(r.split())}\n{' '.join(w.split())}\n" for r, w in pairs)
    done = subprocess.run(["java", "-cp", f"{lib}/*", str(PROGRAM)], input=lines, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    verdicts = done.stdout.split()
    assert len(verdicts) == len(pairs), done.stdout
    return [v == "COMPATIBLE" for v in verdicts]


def main(argv: Sequence[str] | None = None) -> int:
    def fetch() -> str:
        lib = maven.fetch(POM, cache_dir(), f"Apache Avro {avro_version()}")
        return f"Apache Avro {avro_version()}: {len(list(lib.glob('*.jar')))} jars in {lib}"

    return maven.fetch_command(argv, FETCH, fetch)


if __name__ == "__main__":
    raise SystemExit(main())
