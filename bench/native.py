"""What each of kctl's C extensions is worth to a user: the figure it serves, with and without it,
in the same run.

Each extension has a Python twin that gives the same results (the tests hold them to it);
`KCTL_WITHOUT_C=<module>` runs the twin in a process. The figures:

- `kctl lag` over 500 groups x 1,000 partitions, as JSON and as a table (wall seconds, the
  fastest of five): the row writer (`_rowtext`) off;
- the built-in broker taking acks=all produce from confluent-kafka, 1 KB records (MB/s, and the
  broker's CPU seconds per GB): the checks of every produced batch (`_check_records`) off.

Two more were measured this way and removed, as no user figure moved (docs/testing.md): the
decoder of protocol messages (`_decode`) and the OffsetFetch reader (`_offset_columns`).

    python bench/native.py            # the sizes above
    python bench/native.py --quick    # smaller, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.broker import KctlBroker, create_topic, produce  # noqa: E402
from bench.lag import RECORDS_PER_PARTITION, seed, timed  # noqa: E402
from kctl.protocol.native import loaded  # noqa: E402
from tests.broker.conftest import BrokerProcess  # noqa: E402

RUNS = 5  # the fastest of five: this machine's noise only ever adds time


@contextmanager
def without(modules: str) -> Iterator[dict[str, str]]:
    """The environment of a child process that runs without `modules` (comma-separated)."""
    before = os.environ.get("KCTL_WITHOUT_C")
    if modules:
        os.environ["KCTL_WITHOUT_C"] = modules
    else:
        os.environ.pop("KCTL_WITHOUT_C", None)
    try:
        yield dict(os.environ)
    finally:
        if before is None:
            os.environ.pop("KCTL_WITHOUT_C", None)
        else:
            os.environ["KCTL_WITHOUT_C"] = before


def fastest_wall(args: list[str], modules: str) -> float:
    with without(modules):
        timed(args)  # warms the broker's and the system's caches
        return min(timed(args)[0] for _ in range(RUNS))


def lag_rows(quick: bool) -> list[tuple[str, str, float]]:
    topics, partitions, groups = (20, 10, 50) if quick else (100, 10, 500)
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-native-")) / "data",
                           {"offsets.topic.num.partitions": 10}).start()
    try:
        asyncio.run(seed(broker.bootstrap, topics, partitions, groups))
        command = [sys.executable, "-m", "kctl", "-b", broker.bootstrap, "lag", "-o", "json"]
        with without(""):
            rows = json.loads(timed(command)[2])
        assert sum(r["lag"] for r in rows) == topics * partitions * groups * RECORDS_PER_PARTITION
        figure = f"kctl lag -o json, {groups} groups x {topics * partitions} partitions (s)"
        table = [*command[:-1], "table"]
        return [(figure, off or "none", fastest_wall(command, off)) for off in ("", "_rowtext")] + [
            (figure.replace("-o json", "(table)"), off or "none", fastest_wall(table, off)) for off in ("", "_rowtext")]
    finally:
        broker.stop()


def produce_rows(quick: bool) -> list[tuple[str, str, float]]:
    count = 60_000 if quick else 400_000
    out: list[tuple[str, str, float]] = []
    for off in ("", "_check_records"):
        with without(off):
            broker = KctlBroker()
            broker.start()
        try:
            assert broker.proc is not None
            create_topic(broker.bootstrap, "native", 4)
            mb_s, _, missing, cpu_gb = produce(broker.bootstrap, "native", 1000, count, broker.proc.pid)
            assert missing == 0, f"{missing} acknowledged records missing"
            out.append(("broker, acks=all produce of 1 KB records (MB/s)", off or "none", mb_s))
            out.append(("broker CPU seconds per GB produced", off or "none", cpu_gb))
        finally:
            broker.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for CI")
    args = parser.parse_args()
    built = loaded()
    print("built here: " + ", ".join(f"{m.rsplit('.', 1)[1]} {'yes' if ok else 'NO'}" for m, ok in built.items()))
    if not all(built.values()):
        print("an extension is not built: nothing to compare (pip install -e . -v says why)")
        return 0
    started = time.monotonic()
    rows = lag_rows(args.quick) + produce_rows(args.quick)
    print(f"\n{'figure':62}{'C off':>28}{'value':>10}{'vs all C':>10}")
    base: dict[str, float] = {}
    for figure, off, value in rows:
        base.setdefault(figure, value)
        print(f"{figure:62}{off:>28}{value:>10.2f}{value / base[figure]:>9.2f}x")
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
