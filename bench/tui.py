"""Console scale benchmark: 1,000 topics, 10,000 partitions and 200 groups on the built-in broker.

Prints, for the topics and groups views, how long a refresh takes (fetch from the cluster plus
filling the table), and how long each keystroke in the `/` filter takes to show its result.
Targets: a refresh within 1 s; typing stays responsive (well under 100 ms a key).

    python bench/tui.py            # 1,000 topics x 10 partitions, 200 groups, 5 refreshes each
    python bench/tui.py --quick    # 200 topics x 10 partitions, 40 groups, 3 refreshes (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.broker.conftest import BrokerProcess  # noqa: E402


async def populate(bootstrap: str, topics: int, partitions: int, groups: int) -> None:
    from kctl.client import Admin, Cluster, NewTopic, TopicPartition
    from kctl.client.producer import Producer

    cluster = Cluster(bootstrap, request_timeout_s=120)
    await cluster.start()
    try:
        admin = Admin(cluster)
        names = [f"service-{i // 50:02d}.events-{i:04d}" for i in range(topics)]
        for at in range(0, topics, 100):
            errors = await admin.create_topics([NewTopic(n, partitions, 1) for n in names[at:at + 100]])
            failed = [e for e in errors.values() if e is not None]
            if failed:
                raise failed[0]
        await cluster.refresh_metadata(None)
        async with Producer(cluster, linger_ms=5) as producer:
            sent = [producer.send(n, value=b"x" * 100, key=b"k%d" % p, partition=p)
                    for n in names for p in range(partitions)]
            await asyncio.gather(*sent)
        for g in range(groups):
            own = names[(g * 5) % topics:(g * 5) % topics + 5]
            await admin.alter_group_offsets(f"consumer-group-{g:03d}",
                                            {TopicPartition(n, p): 0 for n in own for p in range(partitions)})
    finally:
        await cluster.close()


async def refresh_times(app: Any, pilot: Any, rounds: int) -> list[float]:
    """Wall time of `load()` until its rows are in the table."""
    times = []
    for _ in range(rounds):
        screen = app.screen
        before = screen.data
        started = time.perf_counter()
        screen.load()
        while screen.data is before:
            await asyncio.sleep(0.002)
        await pilot.pause()  # the table is filled in the watcher; let it run
        times.append(time.perf_counter() - started)
    return times


async def keystroke_times(app: Any, pilot: Any, text: str) -> tuple[list[float], list[float]]:
    """Each key typed into the filter: the time the screen is busy with it (filtering and
    refilling the table, which blocks input), and the time until it is drawn, as Pilot sees it."""
    await pilot.press("slash")
    screen = app.screen
    busy, shown = [], []
    fill = screen._fill

    def timed_fill() -> None:
        started = time.perf_counter()
        fill()
        busy.append(time.perf_counter() - started)

    screen._fill = timed_fill
    for ch in text:
        started = time.perf_counter()
        await pilot.press(ch)
        await pilot.pause()
        shown.append(time.perf_counter() - started)
    screen._fill = fill
    await pilot.press("escape")
    return busy, shown


async def drive(bootstrap: str, rounds: int) -> dict[str, list[float]]:
    from kctl.connect.cluster import Settings
    from kctl.tui.app import KctlTui

    results: dict[str, list[float]] = {}
    for view, filter_text in (("topics", "service-07.*0375"), ("groups", "group-1[0-4]")):
        app = KctlTui(Settings(bootstrap=bootstrap, timeout=60), start=view, refresh_s=3600, cursor_blink=False)
        async with app.run_test(size=(160, 50)) as pilot:
            while not getattr(app.screen, "loaded", False):
                await asyncio.sleep(0.02)
            await pilot.pause()
            rows = len(next(iter(app.screen.data.values())))
            results[f"{view} refresh ({rows} rows), s"] = await refresh_times(app, pilot, rounds)
            busy, shown = await keystroke_times(app, pilot, filter_text)
            results[f"{view} filter, one key: busy, ms"] = [t * 1000 for t in busy]
            results[f"{view} filter, one key: drawn, ms"] = [t * 1000 for t in shown]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller cluster (CI smoke run)")
    args = parser.parse_args()
    topics, partitions, groups, rounds = (200, 10, 40, 3) if args.quick else (1000, 10, 200, 5)
    os.environ.setdefault("KCTL_CONFIG", str(Path(tempfile.mkdtemp()) / "none.toml"))
    broker = BrokerProcess(Path(tempfile.mkdtemp(prefix="kctl-tui-bench-")) / "data").start()
    try:
        started = time.perf_counter()
        asyncio.run(populate(broker.bootstrap, topics, partitions, groups))
        print(f"{topics:,} topics, {topics * partitions:,} partitions, {groups} groups created in "
              f"{time.perf_counter() - started:.1f} s")
        results = asyncio.run(drive(broker.bootstrap, rounds))
    finally:
        broker.stop()
    print(f"\n{'':44}{'median':>10}{'max':>10}")
    for name, values in results.items():
        print(f"{name:44}{statistics.median(values):10.3f}{max(values):10.3f}")
    refresh_ok = all(max(v) <= 1.0 for k, v in results.items() if "refresh" in k)
    typing_ok = all(max(v) <= 100 for k, v in results.items() if "busy" in k)
    print(f"\nrefresh within 1 s: {'yes' if refresh_ok else 'NO'}; "
          f"each key of the filter handled within 100 ms: {'yes' if typing_ok else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
