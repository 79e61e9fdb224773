"""A pinned pom's runtime classpath, copied once into the user's cache with Maven (outside the repo)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path


class Unavailable(Exception):
    """The jars cannot be had here; the message says why."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kctl"


def fetch(pom: Path, cache: Path, what: str, *, quiet: bool = True) -> Path:
    """Copy the pom's runtime classpath into `cache`/lib unless that was done for this very pom."""
    lib = cache / "lib"
    stamp = cache / "complete"
    if stamp.exists() and stamp.read_text() == pom.read_text():
        return lib
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not on PATH ({what} runs from its jars)")
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    args = ["mvn", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}"]
    if quiet:
        args.insert(1, "-q")
    result = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise Unavailable(f"mvn could not fetch {what}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    stamp.write_text(pom.read_text())
    return lib


def ready(pom: Path, cache: Path, what: str, how: str) -> Path:
    """The lib folder if java and the jars are here; raises Unavailable otherwise (never downloads)."""
    if shutil.which("java") is None:
        raise Unavailable("java is not on PATH")
    stamp = cache / "complete"
    if not stamp.exists() or stamp.read_text() != pom.read_text():
        raise Unavailable(f"{what} jars are not in {cache / 'lib'}: run `{how}` (needs mvn)")
    return cache / "lib"


def fetch_command(argv: Sequence[str] | None, usage: str, fetch: Callable[[], str]) -> int:
    """`python -m tests.support.X fetch`: run `fetch` (it returns what it fetched, in words)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["fetch"]:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    try:
        print(fetch())
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
