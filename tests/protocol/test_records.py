"""Record batches: layout, CRC, compression, and agreement with kafka-python's implementation."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kctl.protocol.compression import Compression, compress, decompress
from kctl.protocol.errors import CorruptRecordError, DecodeError
from kctl.protocol.records import (
    HEADER_SIZE,
    ControlType,
    Record,
    TimestampType,
    check_crc,
    decode_batch,
    decode_batches,
    encode_batch,
    iter_batch_headers,
    read_batch_header,
    set_base_offset,
)

kafka_records = pytest.importorskip("kafka.record.default_records")
kafka_memory = pytest.importorskip("kafka.record.memory_records")


def test_golden_single_record_batch() -> None:
    batch = encode_batch([Record(key=b"k", value=b"v", timestamp=1000)], base_offset=5)
    # Header fields, in Kafka's order; the CRC is Kafka's CRC-32C of bytes 21.. of this batch.
    # length 8, attributes, timestamp delta 0, offset delta 0, key, value, no headers
    records = b"\x10\x00\x00\x00\x02k\x02v\x00"
    expected_tail = struct.pack(">hiqqqhii", 0, 0, 1000, 1000, -1, -1, -1, 1) + records
    assert batch[:8] == struct.pack(">q", 5)
    assert batch[8:12] == struct.pack(">i", len(batch) - 12)
    assert batch[12:17] == b"\xff\xff\xff\xff\x02"
    assert batch[21:] == expected_tail
    assert batch[17:21] == bytes.fromhex(
        "716a6189"
    )  # CRC-32C, checked with kafka-python's pure-Python crc32c


@pytest.mark.parametrize("codec", list(Compression))
def test_kafka_python_reads_our_batches(codec: Compression) -> None:
    records = [
        Record(b"k%d" % i, b"v" * i, [("h", b"x"), ("n", None)], 1_700_000_000_000 + i) for i in range(20)
    ]
    data = encode_batch(records, compression=codec, producer_id=7, producer_epoch=1, base_sequence=3)
    batch = kafka_memory.MemoryRecords(data).next_batch()
    assert batch.validate_crc()
    assert batch.compression_type == int(codec)
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in batch] == [
        (i, 1_700_000_000_000 + i, b"k%d" % i, b"v" * i, [("h", b"x"), ("n", None)]) for i in range(20)
    ]


@pytest.mark.parametrize("codec", list(Compression))
def test_we_read_kafka_python_batches(codec: Compression) -> None:
    builder = kafka_records.DefaultRecordBatchBuilder(
        magic=2,
        compression_type=int(codec),
        is_transactional=False,
        producer_id=5,
        producer_epoch=0,
        base_sequence=0,
        batch_size=1 << 20,
    )
    for i in range(20):
        builder.append(
            i, timestamp=1000 + i, key=None if i % 3 == 0 else b"a", value=b"b" * i, headers=[("x", b"y")]
        )
    batch = decode_batch(bytes(builder.build()))
    assert batch.header.producer_id == 5
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in batch.records] == [
        (i, 1000 + i, None if i % 3 == 0 else b"a", b"b" * i, [("x", b"y")]) for i in range(20)
    ]


record_strategy = st.builds(
    Record,
    key=st.none() | st.binary(max_size=20),
    value=st.none() | st.binary(max_size=200),
    headers=st.lists(st.tuples(st.text(max_size=5), st.none() | st.binary(max_size=5)), max_size=3),
    timestamp=st.integers(0, 2**41),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(record_strategy, min_size=1, max_size=8),
    st.sampled_from(list(Compression)),
    st.integers(0, 2**40),
)
def test_batch_round_trip(records: list[Record], codec: Compression, base_offset: int) -> None:
    data = encode_batch(records, compression=codec, base_offset=base_offset)
    batch = decode_batch(data)
    assert batch.header.records_count == len(records)
    assert batch.header.max_timestamp == max(r.timestamp or 0 for r in records)
    for i, (got, sent) in enumerate(zip(batch.records, records, strict=True)):
        assert (got.key, got.value, got.headers, got.timestamp, got.offset) == (
            sent.key,
            sent.value,
            sent.headers,
            sent.timestamp,
            base_offset + i,
        )


def test_the_small_varint_table_matches_the_encoder() -> None:
    # Lengths and deltas in every record come from this table; a wrong entry past the sizes the
    # round trips happen to use would write batches no client can read.
    from kctl.protocol import _wire
    from kctl.protocol.records import _zigzag

    assert [_zigzag(n) for n in range(20_000)] == [_wire.zigzag_varint(n) for n in range(20_000)]


def test_patching_the_base_offset_keeps_the_crc_valid() -> None:
    buf = bytearray(encode_batch([Record(value=b"x")] * 3))
    set_base_offset(buf, 0, 1234)
    header = read_batch_header(buf)
    check_crc(buf, 0, header)
    assert header.base_offset == 1234 and header.last_offset == 1236 and header.next_offset == 1237


def test_a_flipped_bit_fails_the_crc() -> None:
    buf = bytearray(encode_batch([Record(value=b"hello")]))
    buf[-2] ^= 0x01
    with pytest.raises(CorruptRecordError, match="CRC"):
        check_crc(buf, 0, read_batch_header(buf))
    with pytest.raises(CorruptRecordError):
        decode_batch(bytes(buf))


def test_header_sanity_checks() -> None:
    good = encode_batch([Record(value=b"v")])
    wrong_magic = good[:16] + b"\x01" + good[17:]
    with pytest.raises(CorruptRecordError, match="magic"):
        read_batch_header(wrong_magic)
    short_length = good[:8] + struct.pack(">i", 10) + good[12:]
    with pytest.raises(CorruptRecordError):
        read_batch_header(short_length)
    with pytest.raises(DecodeError):
        read_batch_header(good[: HEADER_SIZE - 1])
    with pytest.raises(DecodeError):
        read_batch_header(good[:-1])


def test_iterating_headers_stops_at_a_partial_tail() -> None:
    one = encode_batch([Record(value=b"a")], base_offset=0)
    two = encode_batch([Record(value=b"b"), Record(value=b"c")], base_offset=1)
    data = one + two + two[:30]
    assert [(pos, h.base_offset) for pos, h in iter_batch_headers(data)] == [(0, 0), (len(one), 1)]
    assert [r.value for b in decode_batches(data) for r in b.records] == [b"a", b"b", b"c"]
    with pytest.raises(DecodeError):
        list(iter_batch_headers(data, allow_partial_tail=False))


def test_control_batch_and_log_append_time() -> None:
    marker = encode_batch(
        [Record(key=b"\x00\x00\x00\x01", value=b"\x00\x00\x00\x00\x00\x00", timestamp=5)],
        control=True,
        transactional=True,
        producer_id=9,
        timestamp_type=TimestampType.LOG_APPEND_TIME,
    )
    batch = decode_batch(marker)
    assert batch.header.is_control and batch.header.is_transactional
    assert batch.control_type is ControlType.COMMIT
    assert batch.header.timestamp_type is TimestampType.LOG_APPEND_TIME


def test_snappy_reads_raw_and_xerial_framing() -> None:
    import cramjam

    payload = b"kafka " * 20000
    assert decompress(Compression.SNAPPY, bytes(cramjam.snappy.compress_raw(payload))) == payload
    framed = compress(Compression.SNAPPY, payload)
    assert framed.startswith(b"\x82SNAPPY\x00")
    assert decompress(Compression.SNAPPY, framed) == payload


@pytest.mark.parametrize("codec", [c for c in Compression if c is not Compression.NONE])
def test_garbage_does_not_decompress(codec: Compression) -> None:
    with pytest.raises(CorruptRecordError):
        decompress(codec, b"\x82SNAPPY\x00garbage-garbage")


def test_decompression_is_bounded() -> None:
    bomb = compress(Compression.GZIP, b"\x00" * (4 * 1024 * 1024))
    with pytest.raises(CorruptRecordError, match="beyond"):
        decompress(Compression.GZIP, bomb, limit=1024 * 1024)
