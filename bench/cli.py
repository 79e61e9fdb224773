"""CLI start-up benchmark: `kctl --help` and `kctl topics list -o json` next to `kcat -L`.

One built-in broker with 20 topics; each command runs N times as a fresh process (the way a
shell script runs it) and the median wall time is printed. kctl's modules are byte-compiled
first, as an installed package is, so no run pays for compiling them.

Below the comparison it prints what the stack costs before kctl does anything: the interpreter,
the smallest click command (the CLI framework), and importing asyncio (the client's I/O). The
targets are ratios to the stack measured in the same run: `kctl --help` at most 1.5x
`python -c pass`, `kctl topics list -o json` at most 1.5x `python -c "import asyncio, click"`.

    python bench/cli.py            # 21 runs each, the commands taking turns
    python bench/cli.py --quick    # 7 runs each, for CI
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.broker.conftest import BrokerProcess  # noqa: E402

# What any click CLI pays per run, whatever the command does.
SMALLEST_CLICK_COMMAND = """
import click

@click.command()
@click.option("--name", default="world")
def hello(name: str) -> None:
    pass

hello()
"""


def walls(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall time of each command, in ms. The commands take turns, round after round, so
    that a busy moment of the machine falls on all of them alike rather than on one."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, args in commands.items():
            started = time.perf_counter()
            done = subprocess.run(args, capture_output=True)
            times[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode()[-500:]}")
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (CI smoke run)")
    args = parser.parse_args()
    runs = 7 if args.quick else 21
    for package in ("kctl", "broker"):  # forced: compileall judges a .pyc by the source's mtime alone
        compileall.compile_dir(ROOT / package, quiet=1, force=True)
    script = Path(sys.executable).with_name("kctl")  # the console script users run
    kctl = [str(script)] if script.exists() else [sys.executable, "-m", "kctl"]
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-cli-bench-")) / "data").start()
    try:
        for i in range(20):
            subprocess.run([*kctl, "-b", broker.bootstrap, "topics", "create", f"topic-{i}", "-p", "3"], check=True,
                           capture_output=True)
        kcat = shutil.which("kcat")
        measured = walls({
            "python": [sys.executable, "-c", "pass"],
            "click": [sys.executable, "-c", SMALLEST_CLICK_COMMAND, "--name", "x"],
            "asyncio": [sys.executable, "-c", "import asyncio"],
            "stack": [sys.executable, "-c", "import asyncio, click"],
            "help": [*kctl, "--help"],
            "list": [*kctl, "-b", broker.bootstrap, "topics", "list", "-o", "json"],
            **({"kcat": [kcat, "-b", broker.bootstrap, "-L"]} if kcat else {}),
        }, runs)
        python, click_ms, asyncio_ms, stack_ms, help_ms, list_ms = (
            measured[k] for k in ("python", "click", "asyncio", "stack", "help", "list"))
        kcat_ms = measured.get("kcat", float("nan"))
    finally:
        broker.stop()
    print(f"\nmedian wall time of {runs} runs, ms")
    print(f"{'kctl --help':42}{help_ms:8.0f}")
    print(f"{'kctl topics list -o json':42}{list_ms:8.0f}")
    print(f"{'kcat -L':42}{kcat_ms:8.0f}")
    print("\nthe stack alone, before kctl does anything, ms")
    print(f"{'python -c pass (interpreter start)':42}{python:8.0f}")
    print(f"{'a click command with one option':42}{click_ms:8.0f}  (+{click_ms - python:.0f})")
    print(f"{'python -c (import asyncio)':42}{asyncio_ms:8.0f}  (+{asyncio_ms - python:.0f})")
    print(f"{'python -c (import asyncio, click)':42}{stack_ms:8.0f}  (+{stack_ms - python:.0f})")
    help_ratio, list_ratio = help_ms / python, list_ms / stack_ms
    print(f"\ntargets: kctl --help <= 1.5x python -c pass: {help_ratio:.2f}x "
          f"{'met' if help_ratio <= 1.5 else 'MISSED'}; kctl topics list -o json <= 1.5x "
          f"python -c 'import asyncio, click': {list_ratio:.2f}x {'met' if list_ratio <= 1.5 else 'MISSED'}; "
          f"next to kcat -L: {list_ms / kcat_ms:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
