"""Compaction and retention off the event loop: the loop keeps serving while segments are cleaned,
and a cleaning that races a retention deletion gives up without harm."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from broker.app import Broker
from broker.config import BrokerConfig
from broker.listeners import parse_listeners
from kctl.protocol.records import Record, decode_batches, encode_batch

from .test_storage import NOW, open_log


async def _longest_pause(work: asyncio.Future[int], tick_s: float = 0.005) -> float:
    """The longest the event loop went without running a 5 ms ticker while `work` ran."""
    longest = 0.0
    last = time.monotonic()
    while not work.done():
        await asyncio.sleep(tick_s)
        now = time.monotonic()
        longest = max(longest, now - last - tick_s)
        last = now
    return longest


def test_the_event_loop_keeps_serving_while_segments_are_cleaned(tmp_path: Path) -> None:
    broker = Broker(BrokerConfig(), tmp_path, parse_listeners(BrokerConfig({"listeners": "PLAINTEXT://127.0.0.1:0"})))
    broker.logs.open()
    broker.logs.create_topic("state", 1, {"cleanup.policy": "compact", "segment.bytes": 1 << 20,
                                          "min.compaction.lag.ms": 0})
    plog = broker.logs.partition("state", 0)
    assert plog is not None
    for i in range(200):  # 200 batches of 500 records over 100 keys: ~10 MB, all but 100 stale
        plog.append(encode_batch([Record(key=b"k%03d" % (j % 100), value=b"v" * 80, timestamp=NOW + i)
                                  for j in range(500)]), NOW)
    plog.roll()

    async def main() -> tuple[int, float, float]:
        started = time.monotonic()
        work = asyncio.ensure_future(broker.compact_logs())
        longest = await _longest_pause(work)
        return await work, longest, time.monotonic() - started

    try:
        removed, longest, took = asyncio.run(main())
        kept = {r.key: r.value for b in decode_batches(plog.read(0, 1 << 30)) for r in b.records}
    finally:
        broker.logs.close()
    assert len(kept) == 100
    assert removed == 200 * 500 - 100
    # The cleaning took a while, and the loop kept turning through it: cleaning on the loop itself
    # stops it for all of the cleaning. (Under a busy machine, the process may wait for a core a
    # while: the bound leaves room for that.)
    print(f"cleaning took {took:.2f}s; the loop's longest pause {longest * 1000:.0f} ms")
    assert took > 0.3, f"the cleaning took only {took:.2f}s: too little to tell"
    assert longest < took / 2, f"the event loop stopped for {longest:.2f}s of a {took:.2f}s cleaning"


def test_a_cleaning_that_loses_its_segment_to_retention_gives_up(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "p", **{"cleanup.policy": "compact,delete", "internal.segment.bytes": 250,
                                       "retention.ms": 1000})
    for i in range(12):
        plog.append(encode_batch([Record(key=b"k%d" % (i % 2), value=b"v%d" % i, timestamp=NOW + i)]), NOW)
    job = plog.compaction_job(NOW + 100)
    assert job is not None
    assert plog.apply_retention(NOW + 5000) > 0  # retention drops the oldest segments meanwhile
    job.run()
    assert job.finish() == 0
    assert not list((tmp_path / "p").glob("*.cleaned"))
    # The deleted segments' files wait, renamed, for a worker thread; a restart removes any left.
    assert plog.deleted_files and all(p.name.endswith(".deleted") for p in plog.deleted_files)
    plog.close()
    reopened = open_log(tmp_path / "p", **{"cleanup.policy": "compact,delete"})
    assert not list((tmp_path / "p").glob("*.deleted"))
    assert reopened.log_start_offset == reopened.segments[0].base_offset
    reopened.close()
