"""Fuzzing the decoders with Hypothesis: arbitrary and mutated bytes must only ever raise our
typed ProtocolError (or decode), never another exception, a hang or a huge allocation."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kctl.protocol.errors import ProtocolError
from kctl.protocol.events import NEED_DATA
from kctl.protocol.framing import ClientConnection, ServerConnection
from kctl.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kctl.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kctl.protocol.messages.produce import PartitionProduceData, ProduceRequest, TopicProduceData
from kctl.protocol.records import Compression, Record, decode_batch, decode_batches, encode_batch

MAX_FRAME = 64 * 1024


def drain(server: ServerConnection) -> None:
    for _ in range(100):
        if server.next_event() is NEED_DATA:
            return


def seed_frames() -> list[bytes]:
    client = ClientConnection(client_id="fuzz")
    batch = encode_batch([Record(b"k", b"v", [("h", b"1")], 1)], compression=Compression.GZIP)
    requests = [
        (MetadataRequest(topics=[MetadataRequestTopic(name="t")]), 12),
        (MetadataRequest(topics=None), 1),
        (
            ProduceRequest(
                acks=-1, timeout_ms=100, topic_data=[TopicProduceData("t", [PartitionProduceData(0, batch)])]
            ),
            9,
        ),
        (
            ProduceRequest(
                acks=1, timeout_ms=100, topic_data=[TopicProduceData("t", [PartitionProduceData(0, batch)])]
            ),
            3,
        ),
        (
            FetchRequest(
                max_wait_ms=1,
                min_bytes=1,
                topics=[FetchTopic(topic="t", partitions=[FetchPartition(0, fetch_offset=0)])],
            ),
            12,
        ),
    ]
    return [client.send_request(body, version)[1] for body, version in requests]


SEEDS = seed_frames()


@st.composite
def mutated_frame(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "set"]))
        if not data:
            break
        position = draw(st.integers(4, max(4, len(data) - 1))) if len(data) > 4 else 0
        if action == "flip":
            data[position % len(data)] ^= 1 << draw(st.integers(0, 7))
        elif action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[position % len(data)] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF]))
    if draw(st.booleans()) and len(data) >= 4:
        data[0:4] = (len(data) - 4).to_bytes(4, "big")  # keep the frame self-consistent so the body is parsed
    return bytes(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_frame(), st.binary(max_size=300)))
def test_server_decoder_raises_only_protocol_errors(data: bytes) -> None:
    server = ServerConnection(max_frame_size=MAX_FRAME)
    server.receive_data(data)
    with contextlib.suppress(ProtocolError):
        drain(server)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_client_decoder_raises_only_protocol_errors(data: bytes) -> None:
    client = ClientConnection()
    for version in (0, 5, 12):
        client.send_request(MetadataRequest(topics=[]), version)
    client.receive_data(b"\x00\x00\x00\x00" + data)
    with contextlib.suppress(ProtocolError):
        while client.next_event() is not NEED_DATA:
            pass


BATCHES = [
    encode_batch([Record(b"k%d" % i, b"v" * i, [("h", b"x")], 10 + i) for i in range(5)], compression=codec)
    for codec in Compression
]


@st.composite
def mutated_batch(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(BATCHES)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(mutated_batch(), st.binary(max_size=200)))
def test_batch_decoder_raises_only_protocol_errors(data: bytes) -> None:
    for verify in (True, False):
        with contextlib.suppress(ProtocolError):
            decode_batch(data, verify_crc=verify)
        with contextlib.suppress(ProtocolError):
            decode_batches(data, verify_crc=verify)
