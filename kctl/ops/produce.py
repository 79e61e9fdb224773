"""Producing a stream of records, as `kctl produce` does: at a rate if asked, every outcome awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
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


async def produce_records(cluster: Cluster, topic: str, records: Iterable[OutgoingRecord], *,
                          partition: int | None = None, acks: str = "all", compression: str = "none",
                          rate: float | None = None, transactional_id: str | None = None) -> Produced:
    """Send each record (to `partition` unless the record names one), at most `rate` a second,
    and wait for every acknowledgement. With `transactional_id`, all of them in one transaction:
    committed once every record is acknowledged, aborted if any fails, if reading the input
    fails, or on cancellation (Ctrl-C); then `failures` says why and nothing is committed."""
    out = Produced()
    started = time.monotonic()
    async with Producer(cluster, acks=acks, compression=compression, transactional_id=transactional_id) as producer:
        if transactional_id is not None:
            producer.begin()
        try:
            futures = []
            for record in records:
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
