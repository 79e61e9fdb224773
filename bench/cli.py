"""CLI start-up benchmark: `kctl --help` and `kctl topics list -o json` next to `kcat -L`.

One built-in broker with 20 topics; each command runs N times as a fresh process (the way a
shell script runs it) and the median wall time is printed. kctl's modules are byte-compiled
first, as an installed package is, so no run pays for compiling them.

Below the comparison it prints what the stack costs before kctl does anything: the interpreter,
the smallest typer command (the CLI framework), and importing asyncio (the client's I/O). The
targets are ratios to the stack measured in the same run: `kctl --help` at most 1.5x
`python -c pass`, `kctl topics list -o json` at most 1.5x `python -c "import asyncio, typer"`.

    python bench/cli.py            # 15 runs each
    python bench/cli.py --quick    # 5 runs each, for CI
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

# What any typer CLI pays per run, whatever the command does.
SMALLEST_TYPER_COMMAND = """
import typer

def hello(name: str = "world") -> None:
    pass

typer.run(hello)
"""


def wall(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode()[-500:]}")
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (CI smoke run)")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    for package in ("kctl", "broker"):  # forced: compileall judges a .pyc by the source's mtime alone
        compileall.compile_dir(ROOT / package, quiet=1, force=True)
    script = Path(sys.executable).with_name("kctl")  # the console script users run
    kctl = [str(script)] if script.exists() else [sys.executable, "-m", "kctl"]
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-cli-bench-")) / "data").start()
    try:
        for i in range(20):
            subprocess.run([*kctl, "-b", broker.bootstrap, "topics", "create", f"topic-{i}", "-p", "3"], check=True,
                           capture_output=True)
        python = wall([sys.executable, "-c", "pass"], runs)
        typer_ms = wall([sys.executable, "-c", SMALLEST_TYPER_COMMAND, "--name", "x"], runs)
        asyncio_ms = wall([sys.executable, "-c", "import asyncio"], runs)
        stack_ms = wall([sys.executable, "-c", "import asyncio, typer"], runs)
        help_ms = wall([*kctl, "--help"], runs)
        list_ms = wall([*kctl, "-b", broker.bootstrap, "topics", "list", "-o", "json"], runs)
        kcat = shutil.which("kcat")
        kcat_ms = wall([kcat, "-b", broker.bootstrap, "-L"], runs) if kcat else float("nan")
    finally:
        broker.stop()
    print(f"\nmedian wall time of {runs} runs, ms")
    print(f"{'kctl --help':42}{help_ms:8.0f}")
    print(f"{'kctl topics list -o json':42}{list_ms:8.0f}")
    print(f"{'kcat -L':42}{kcat_ms:8.0f}")
    print("\nthe stack alone, before kctl does anything, ms")
    print(f"{'python -c pass (interpreter start)':42}{python:8.0f}")
    print(f"{'a typer command with one option':42}{typer_ms:8.0f}  (+{typer_ms - python:.0f})")
    print(f"{'python -c (import asyncio)':42}{asyncio_ms:8.0f}  (+{asyncio_ms - python:.0f})")
    print(f"{'python -c (import asyncio, typer)':42}{stack_ms:8.0f}  (+{stack_ms - python:.0f})")
    help_ratio, list_ratio = help_ms / python, list_ms / stack_ms
    print(f"\ntargets: kctl --help <= 1.5x python -c pass: {help_ratio:.2f}x "
          f"{'met' if help_ratio <= 1.5 else 'MISSED'}; kctl topics list -o json <= 1.5x "
          f"python -c 'import asyncio, typer': {list_ratio:.2f}x {'met' if list_ratio <= 1.5 else 'MISSED'}; "
          f"next to kcat -L: {list_ms / kcat_ms:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
