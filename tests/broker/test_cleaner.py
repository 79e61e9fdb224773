"""Compaction and retention off the event loop: the loop keeps serving while segments are cleaned,
and a cleaning that races a retention deletion gives up without harm."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.app import Broker
from broker.config import BrokerConfig
from broker.listeners import parse_listeners
from broker.storage.cleaner import CompactionJob
from kctl.protocol.records import Record, decode_batches, encode_batch

from .test_storage import NOW, open_log


class _Ticker:
    """Counts the event loop's turns while a cleaning job runs on its worker thread."""

    def __init__(self) -> None:
        self.cleaning_threads: set[int] = set()
        self.cleaning = threading.Event()
        self.turns_while_cleaning = 0

    def watch(self, run: Callable[[CompactionJob], None]) -> Callable[[CompactionJob], None]:
        def watched(job: CompactionJob) -> None:
            self.cleaning_threads.add(threading.get_ident())
            self.cleaning.set()
            try:
                run(job)
            finally:
                self.cleaning.clear()
        return watched

    async def tick_until(self, work: asyncio.Future[int]) -> None:
        while not work.done():
            await asyncio.sleep(0.005)
            if self.cleaning.is_set():
                self.turns_while_cleaning += 1


def test_the_event_loop_keeps_serving_while_segments_are_cleaned(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
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
    ticker = _Ticker()
    monkeypatch.setattr(CompactionJob, "run", ticker.watch(CompactionJob.run))

    async def main() -> tuple[int, int]:
        work = asyncio.ensure_future(broker.compact_logs())
        await ticker.tick_until(work)
        return await work, threading.get_ident()

    try:
        removed, loop_thread = asyncio.run(main())
        kept = {r.key: r.value for b in decode_batches(plog.read(0, 1 << 30)) for r in b.records}
    finally:
        broker.logs.close()
    assert len(kept) == 100
    assert removed == 200 * 500 - 100
    # The cleaning ran on a thread of its own, and the loop kept turning while it did. Cleaning on
    # the loop itself would leave no turn at all in that time. (How long each turn waited depends on
    # how busy the machine is, so it is not asserted here.)
    assert ticker.cleaning_threads and loop_thread not in ticker.cleaning_threads
    print(f"the loop turned {ticker.turns_while_cleaning} times during the cleaning")
    assert ticker.turns_while_cleaning >= 5


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
