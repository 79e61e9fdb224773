"""A parked fetch is woken by the append that satisfies it, in every interleaving: no sockets,
no timing luck. Each test parks a fetch with a long max_wait_ms and requires it to answer at
once after the append; a lost wake-up would hold it for the whole wait."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from broker import durability
from broker.authorizer import Authorizer
from broker.config import BrokerConfig
from broker.context import Peer
from broker.durability import Flusher
from broker.handlers.data import fetch
from broker.quotas import ClientQuotas
from broker.storage.manager import LogManager
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchResponse, FetchTopic
from kctl.protocol.records import Record, encode_batch

LONG_WAIT_MS = 30_000  # what a lost wake-up would cost
PROMPT_S = 1.0  # what a woken fetch may take (the event loop only; no sleeping involved)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Any]:
    logs = LogManager(tmp_path / "data", BrokerConfig())
    logs.open()
    logs.create_topic("t", 2)
    yield SimpleNamespace(logs=logs, stopping=False, authorizer=Authorizer(BrokerConfig(), tmp_path),
                          quotas=ClientQuotas(tmp_path))
    logs.close()


def request(*partitions: int, offset: int = 0, min_bytes: int = 1) -> FetchRequest:
    return FetchRequest(max_wait_ms=LONG_WAIT_MS, min_bytes=min_bytes, max_bytes=1 << 20, session_epoch=-1,
                        topics=[FetchTopic("t", [FetchPartition(p, fetch_offset=offset, partition_max_bytes=1 << 20)
                                                 for p in partitions])])


def park(broker: Any, req: FetchRequest) -> Awaitable[FetchResponse]:
    result = fetch(broker, RequestHeader(1, 12, 1, "test"), req, Peer("127.0.0.1"))
    assert isinstance(result, Awaitable), "nothing to read yet: the fetch must wait"
    return result


def append(broker: Any, partition: int, value: bytes = b"x") -> None:
    broker.logs.partition("t", partition).append(encode_batch([Record(value=value)]))


def records_in(response: FetchResponse) -> dict[int, int]:
    return {p.partition_index: len(p.records or b"") for t in response.responses for p in t.partitions}


async def test_append_between_the_read_and_the_first_await_wakes_it(broker: Any) -> None:
    waiting = asyncio.ensure_future(park(broker, request(0)))  # not started: parked only as a promise
    append(broker, 0)  # lands before the waiting coroutine ever runs
    response = await asyncio.wait_for(waiting, PROMPT_S)
    assert records_in(response)[0] > 0


async def test_append_after_the_fetch_parked_wakes_it(broker: Any) -> None:
    waiting = asyncio.ensure_future(park(broker, request(0)))
    for _ in range(3):
        await asyncio.sleep(0)  # parked and awaiting
    assert not waiting.done()
    append(broker, 0)
    assert records_in(await asyncio.wait_for(waiting, PROMPT_S))[0] > 0


async def test_append_to_another_partition_of_the_same_fetch_wakes_it(broker: Any) -> None:
    for before_first_await in (True, False):
        req = request(0, 1)
        for part in req.topics[0].partitions:
            part.fetch_offset = broker.logs.partition("t", part.partition).log_end_offset
        waiting = asyncio.ensure_future(park(broker, req))
        if not before_first_await:
            await asyncio.sleep(0)
        append(broker, 1)
        assert records_in(await asyncio.wait_for(waiting, PROMPT_S))[1] > 0


async def test_append_after_a_segment_roll_wakes_it(broker: Any) -> None:
    plog = broker.logs.partition("t", 0)
    append(broker, 0)
    waiting = asyncio.ensure_future(park(broker, request(0, offset=plog.log_end_offset)))
    plog.roll()  # the next append goes to a new segment
    await asyncio.sleep(0)
    append(broker, 0)
    assert records_in(await asyncio.wait_for(waiting, PROMPT_S))[0] > 0
    assert len(plog.segments) >= 2


async def test_append_while_a_flush_is_in_progress_wakes_it(broker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plog = broker.logs.partition("t", 0)
    append(broker, 0, b"before the flush")
    started, release = threading.Event(), threading.Event()
    real_fsync = durability._fsync_all

    def slow_fsync(fds: list[int]) -> None:
        started.set()
        release.wait(10)
        real_fsync(fds)

    monkeypatch.setattr(durability, "_fsync_all", slow_fsync)
    flushing = asyncio.ensure_future(Flusher().flush_now([plog]))
    await asyncio.to_thread(started.wait, 5)  # the fsync is now running on its thread
    waiting = asyncio.ensure_future(park(broker, request(0, offset=plog.log_end_offset)))
    append(broker, 0, b"during the flush")
    try:
        assert records_in(await asyncio.wait_for(waiting, PROMPT_S))[0] > 0
        assert not flushing.done(), "the flush was still in progress when the fetch answered"
    finally:
        release.set()
        await flushing


async def test_min_bytes_not_yet_met_keeps_waiting_then_answers_when_it_is(broker: Any) -> None:
    waiting = asyncio.ensure_future(park(broker, request(0, min_bytes=300)))
    append(broker, 0, b"a" * 10)  # too little: woken, reads, parks again without losing its place
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    append(broker, 0, b"b" * 400)
    assert records_in(await asyncio.wait_for(waiting, PROMPT_S))[0] >= 300


async def test_the_deadline_still_answers_with_what_there_is(broker: Any) -> None:
    req = request(0, min_bytes=10_000)
    req.max_wait_ms = 50
    waiting = asyncio.ensure_future(park(broker, req))
    await asyncio.sleep(0)
    append(broker, 0, b"small")
    response = await asyncio.wait_for(waiting, PROMPT_S)
    assert records_in(response)[0] > 0
    assert not broker.logs.partition("t", 0).listeners, "a finished fetch leaves no listener behind"
