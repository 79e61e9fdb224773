"""Producing a stream of records, as `kctl produce` does: at a rate if asked, every outcome awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field

from kctl.client.cluster import Cluster
from kctl.client.producer import Producer

from .records import OutgoingRecord


@dataclass(slots=True)
class Produced:
    sent: int = 0
    failures: list[BaseException] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return self.sent - len(self.failures)


async def ensure_topic(cluster: Cluster, topic: str, *, create: bool) -> bool:
    """Whether the topic had to be made. kctl never lets a broker auto-create a topic for a
    misspelled name: a missing topic is an error unless `create`, and then kctl creates it with
    the broker's defaults (and waits until its metadata shows it)."""
    from kctl.client import Admin, NewTopic
    from kctl.client.errors import KafkaError
    from kctl.protocol.errors import ErrorCode

    from .errors import NotFound

    try:
        await cluster.topic(topic)
        return False
    except KafkaError as exc:
        if exc.code is not ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            raise
    if not create:
        raise NotFound(f"topic {topic!r} does not exist",
                       f"create it with `kctl topics create {topic}`, or pass --create to make it with the "
                       "broker's defaults")
    error = (await Admin(cluster).create_topics([NewTopic(topic, -1, -1, {})])).get(topic)
    if error is not None and error.code is not ErrorCode.TOPIC_ALREADY_EXISTS:
        raise error
    deadline = time.monotonic() + 30
    while True:  # a cluster's brokers learn of a new topic a moment after its controller
        try:
            await cluster.topic(topic)
            return True
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _each(records: Iterable[OutgoingRecord] | AsyncIterable[OutgoingRecord]) -> AsyncIterator[OutgoingRecord]:
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record


async def produce_records(cluster: Cluster, topic: str,
                          records: Iterable[OutgoingRecord] | AsyncIterable[OutgoingRecord], *,
                          partition: int | None = None, acks: str = "all", compression: str = "none",
                          rate: float | None = None, transactional_id: str | None = None) -> Produced:
    """Send each record (to `partition` unless the record names one), at most `rate` a second,
    and wait for every acknowledgement. With `transactional_id`, all of them in one transaction:
    committed once every record is acknowledged, aborted if any fails, if reading the input
    fails, or on cancellation (Ctrl-C); then `failures` says why and nothing is committed."""
    out = Produced()
    started = time.monotonic()
    async with Producer(cluster, acks=acks, compression=compression, transactional_id=transactional_id,
                        allow_auto_create=False) as producer:
        if transactional_id is not None:
            producer.begin()
        try:
            futures = []
            async for record in _each(records):
                target = record.partition if record.partition is not None else partition
                futures.append(await producer.send(topic, record.value, record.key, partition=target,
                                                   timestamp_ms=record.timestamp_ms, headers=record.headers))
                out.sent += 1
                if rate:
                    ahead = out.sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            results = await asyncio.gather(*futures, return_exceptions=True)
            out.failures = [r for r in results if isinstance(r, BaseException)]
        except BaseException:
            if producer.in_transaction:
                await asyncio.shield(producer.abort())
            raise
        if producer.in_transaction:
            if out.failures:
                await producer.abort()
            else:
                await producer.commit()
    return out
