"""npm packages as interop oracles: installed once from `npm/package.json` into the user's cache.

Tests skip without node and npm, unless `KCTL_REQUIRE_APACHE_KAFKA=1` (CI), where they must run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from . import maven
from .apache_kafka import REQUIRE_ENV

HERE = Path(__file__).with_name("npm")
PACKAGE = HERE / "package.json"
FETCH = "python -m tests.support.node_oracle fetch"


def install_dir() -> Path:
    digest = hashlib.sha256(PACKAGE.read_bytes()).hexdigest()[:12]
    return maven.cache_root() / f"npm-{digest}"


def install() -> Path:
    target = install_dir()
    if (target / "complete").exists():
        return target
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise maven.Unavailable(f"{tool} is not on PATH")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(PACKAGE, target / "package.json")
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=target, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise maven.Unavailable(f"npm install failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    (target / "complete").write_text("")
    return target


def require_modules() -> Path:
    target = install_dir()
    if shutil.which("node") is not None and (target / "complete").exists():
        return target / "node_modules"
    reason = "node is not on PATH" if shutil.which("node") is None else f"run `{FETCH}` (needs npm)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but the npm oracles cannot run: {reason}", pytrace=False)
    pytest.skip(f"npm oracles not available: {reason}")


def run(script: str, *args: str, timeout: float = 60) -> str:
    """Run one of `npm/*.js` with the installed modules; its stdout."""
    modules = require_modules()
    done = subprocess.run(["node", str(HERE / script), *args], env={**os.environ, "NODE_PATH": str(modules)},
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def main(argv: Sequence[str] | None = None) -> int:
    return maven.fetch_command(argv, FETCH, lambda: f"npm oracles in {install()}")


if __name__ == "__main__":
    raise SystemExit(main())
