"""Codec micro-benchmarks: kctl's codec next to kio's, in one run.

    python bench/codec.py            # full run
    python bench/codec.py --quick    # fewer repeats (CI smoke)

Prints microseconds per operation (best of several repeats) and the speed-up over kio.
Targets: MetadataResponse v12 encode at least 3x faster than kio, ProduceRequest v9 decode at or
under 5 us, and the 1 MiB batch header + CRC check at or under 100 us. Large responses decode
2-6x slower than kio's native reader: shown, not a target. A C decoder once brought them within
2x, and no figure a user sees moved with it (bench/native.py, docs/testing.md), so it went.
"""

from __future__ import annotations

import argparse
import io
import timeit
import uuid
from collections.abc import Callable
from typing import Any

from kctl.protocol.api import decode_request, decode_response, encode_request, encode_response
from kctl.protocol.headers import RequestHeader, decode_request_header, encode_request_header
from kctl.protocol.messages.fetch import FetchableTopicResponse, FetchResponse, PartitionData
from kctl.protocol.messages.metadata import (
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from kctl.protocol.messages.offset_fetch import (
    OffsetFetchResponse,
    OffsetFetchResponseGroup,
    OffsetFetchResponsePartitions,
    OffsetFetchResponseTopics,
)
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Record, check_crc, encode_batch, read_batch_header


def per_op_us(fn: Callable[[], Any], repeat: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def kio_read(cls: type) -> Callable[[bytes, int], Any]:
    from kio.serial import entity_reader

    return entity_reader(cls)  # type: ignore[no-any-return]


def kio_write(entity: Any) -> bytes:
    from kio.serial import entity_writer

    buf = io.BytesIO()
    entity_writer(type(entity))(buf, entity)
    return buf.getvalue()


Rows = list[tuple[str, float, float | None, str]]  # operation, kctl us, peer us, note


def produce_request(rows: Rows, repeat: int) -> None:
    """ProduceRequest v9 with one 16 KiB batch: request header v2 and body, from a frame."""
    from kio.index import load_request_schema
    from kio.schema.request_header.v2.header import RequestHeader as KioRequestHeader

    batch = encode_batch([Record(key=b"k", value=b"x" * (16 * 1024 - 80))])
    produce = ProduceRequest(
        acks=-1, timeout_ms=30000, topic_data=[TopicProduceData("orders", [PartitionProduceData(0, batch)])]
    )
    frame = encode_request_header(RequestHeader(0, 9, 1, "bench"), 2) + encode_request(produce, 9)

    def ours_produce() -> None:
        header, offset = decode_request_header(frame)
        decode_request(header.api_key, header.api_version, frame, offset)

    kio_header = kio_read(KioRequestHeader)
    kio_produce_reader = kio_read(load_request_schema(0, 9))

    def kio_produce() -> None:
        _, offset = kio_header(frame, 0)
        kio_produce_reader(frame, offset)

    rows.append(
        (
            "decode ProduceRequest v9, one 16 KiB batch",
            per_op_us(ours_produce, repeat),
            per_op_us(kio_produce, repeat),
            "target <= 5 us",
        )
    )


def metadata_response(rows: Rows, repeat: int) -> None:
    """MetadataResponse v12, 100 topics x 10 partitions: encode and decode."""
    from kio.index import load_response_schema

    metadata = MetadataResponse(
        brokers=[MetadataResponseBroker(1, "127.0.0.1", 9092)],
        cluster_id="kctl-bench",
        controller_id=1,
        topics=[
            MetadataResponseTopic(
                name=f"topic-{t:03d}",
                topic_id=uuid.UUID(int=t + 1),
                partitions=[
                    MetadataResponsePartition(
                        partition_index=p, leader_id=1, leader_epoch=0, replica_nodes=[1], isr_nodes=[1]
                    )
                    for p in range(10)
                ],
            )
            for t in range(100)
        ],
    )
    metadata_bytes = encode_response(metadata, 12)
    kio_metadata_cls = load_response_schema(3, 12)
    kio_metadata, _ = kio_read(kio_metadata_cls)(metadata_bytes, 0)
    assert kio_write(kio_metadata) == metadata_bytes
    ours_enc = per_op_us(lambda: encode_response(metadata, 12), repeat)
    kio_enc = per_op_us(lambda: kio_write(kio_metadata), repeat)
    rows.append(("encode MetadataResponse v12, 100 x 10", ours_enc, kio_enc, "target >= 3x kio"))
    kio_metadata_reader = kio_read(kio_metadata_cls)
    kio_us = per_op_us(lambda: kio_metadata_reader(metadata_bytes, 0), repeat)
    rows.append(
        (
            "decode MetadataResponse v12, 100 x 10",
            per_op_us(lambda: decode_response(3, 12, metadata_bytes), repeat),
            kio_us,
            "shown, not a target",
        )
    )


def fetch_response(rows: Rows, repeat: int) -> None:
    """FetchResponse v11, 100 partitions of one 1 KiB batch each: encode and decode."""
    from kio.index import load_response_schema

    small = encode_batch([Record(value=b"y" * 1000)])
    fetch = FetchResponse(
        responses=[
            FetchableTopicResponse(
                topic=f"topic-{t}",
                partitions=[
                    PartitionData(
                        partition_index=p,
                        high_watermark=100,
                        last_stable_offset=100,
                        log_start_offset=0,
                        records=small,
                    )
                    for p in range(10)
                ],
            )
            for t in range(10)
        ]
    )
    fetch_bytes = encode_response(fetch, 11)
    kio_fetch_reader = kio_read(load_response_schema(1, 11))
    kio_fetch, _ = kio_fetch_reader(fetch_bytes, 0)
    assert kio_write(kio_fetch) == fetch_bytes
    rows.append(
        (
            "encode FetchResponse v11, 100 partitions",
            per_op_us(lambda: encode_response(fetch, 11), repeat),
            per_op_us(lambda: kio_write(kio_fetch), repeat),
            "",
        )
    )

    kio_us = per_op_us(lambda: kio_fetch_reader(fetch_bytes, 0), repeat)
    rows.append(
        (
            "decode FetchResponse v11, 100 partitions",
            per_op_us(lambda: decode_response(1, 11, fetch_bytes), repeat),
            kio_us,
            "shown, not a target",
        )
    )


def offset_fetch_response(rows: Rows, repeat: int) -> None:
    """OffsetFetchResponse v9 for 500 groups x 1,000 partitions (what `kctl lag` reads)."""
    from kio.index import load_response_schema

    offsets = OffsetFetchResponse(groups=[
        OffsetFetchResponseGroup(f"group-{g:03d}", [
            OffsetFetchResponseTopics(f"topic-{t:03d}", [
                OffsetFetchResponsePartitions(p, 1000 + p, 0, "", 0) for p in range(10)
            ]) for t in range(100)
        ]) for g in range(500)
    ])
    offsets_bytes = encode_response(offsets, 9)
    kio_offsets_reader = kio_read(load_response_schema(9, 9))
    kio_us = per_op_us(lambda: kio_offsets_reader(offsets_bytes, 0), repeat)
    rows.append(
        (
            "decode OffsetFetchResponse v9, 500 x 1,000",
            per_op_us(lambda: decode_response(9, 9, offsets_bytes), repeat),
            kio_us,
            "shown, not a target",
        )
    )
    from kctl.protocol.offset_columns import decode_offset_fetch_columns

    rows.append(
        (
            "  the same, read into columns (kctl lag's reader)",
            per_op_us(lambda: decode_offset_fetch_columns(offsets_bytes, 0, 9), repeat),
            kio_us,
            "shown, not a target",
        )
    )


def batch_crc(rows: Rows, repeat: int) -> None:
    """Header parse and CRC-32C check of a 1 MiB batch. kio's only batch reader also decodes the
    records, so its row measures that; kafka-python's header and CRC are shown for a like peer."""
    from kio.records.readers import read_batch as kio_read_batch

    big = encode_batch([Record(value=bytes(range(256)) * 4) for _ in range(1024)])
    assert 1024 * 1024 <= len(big) < 1024 * 1024 + 16 * 1024

    def ours_crc() -> None:
        check_crc(big, 0, read_batch_header(big))

    rows.append(
        (
            "1 MiB batch: header + CRC (kio: full read_batch)",
            per_op_us(ours_crc, repeat),
            per_op_us(lambda: kio_read_batch(big, 0), repeat),
            "target <= 100 us",
        )
    )
    try:
        from kafka.record.default_records import DefaultRecordBatch

        def kafka_python_crc() -> None:
            assert DefaultRecordBatch(big).validate_crc()

        rows.append(
            (
                "1 MiB batch: header + CRC (peer: kafka-python)",
                per_op_us(ours_crc, repeat),
                per_op_us(kafka_python_crc, repeat),
                "",
            )
        )
    except ImportError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 2 if args.quick else 7
    rows: Rows = []
    print("kctl's decoders are the generated Python ones; peer: kio's native reader")
    for case in (produce_request, metadata_response, fetch_response, offset_fetch_response, batch_crc):
        case(rows, repeat)
    # "speed-up" under 1 is a slow-down: 0.5x is twice kio's time.
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'kctl us':>10}  {'peer us':>10}  {'speed-up':>8}  note")
    for name, ours, theirs, note in rows:
        ratio = f"{theirs / ours:7.1f}x" if theirs else "       -"
        peer = f"{theirs:10.1f}" if theirs is not None else f"{'-':>10}"
        print(f"{name:<{width}}  {ours:10.1f}  {peer}  {ratio}  {note}")




if __name__ == "__main__":
    main()
