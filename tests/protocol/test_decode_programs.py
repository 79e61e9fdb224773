"""The C interpreter of the generated decoders' programs (`_decode.c`) against the generated
Python decoders they stand in front of: the same messages, the same types, the same offsets, and
the same errors on malformed bytes, for every message of every API in every version."""

from __future__ import annotations

import gc
import importlib.util
import shutil
import struct
import sysconfig
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kctl.protocol import _wire
from kctl.protocol.api import encode_request, encode_response
from kctl.protocol.messages.fetch import (
    AbortedTransaction,
    FetchableTopicResponse,
    FetchResponse,
    PartitionData,
)
from kctl.protocol.messages.metadata import MetadataResponse, MetadataResponseTopic
from kctl.protocol.schema.apis import APIS

from .strategies import api_module_path, message_strategy

_decode = pytest.importorskip("kctl.protocol._decode", reason="built without a C compiler")
Program = _decode.Program

CASES = [
    pytest.param(spec, version, id=f"{spec.name}-v{version}")
    for spec in APIS
    for version in spec.request.all_versions()
]


def test_the_interpreter_is_built_wherever_there_is_a_c_compiler() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip("no C compiler here")
    assert importlib.util.find_spec("kctl.protocol._decode") is not None
    assert _wire._Program is Program


def every_decoder() -> Iterator[tuple[str, Any]]:
    for spec in APIS:
        module = import_module(api_module_path(spec.name))
        for table in ("REQUEST_DECODERS", "RESPONSE_DECODERS"):
            for version, decoder in getattr(module, table).items():
                yield f"{spec.name} v{version} {table}", decoder
    data = import_module("kctl.protocol.messages.data")
    for _encoders, decoders in data.CODECS.values():
        for version, decoder in decoders.items():
            yield f"{decoder.python.__name__} v{version}", decoder


def test_every_decoder_runs_from_a_program_that_compiles() -> None:
    decoders = list(every_decoder())
    assert len(decoders) > 300
    for name, decoder in decoders:
        assert isinstance(decoder, Program), name
        decoder.compile()  # raises if the program does not match its classes


def same(a: Any, b: Any, where: str = "message") -> None:
    """Equal values of exactly the same types, all the way down (`==` alone takes True for 1)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, _wire.Message):
        for name in a.__slots__:
            same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, uuid.UUID):
        assert (a, a.is_safe, hash(a)) == (b, b.is_safe, hash(b)), where
    elif isinstance(a, float):  # bit for bit: NaN and -0.0 too
        assert struct.pack(">d", a) == struct.pack(">d", b), where
    else:
        assert a == b, where


def outcome(decoder: Callable[[Any, int], Any], data: Any, offset: int) -> Any:
    try:
        return decoder(data, offset)
    except Exception as exc:  # what the decoder raises is the point
        return type(exc), str(exc)


def decoders_for(spec: Any, version: int) -> tuple[Any, Any]:
    module = import_module(api_module_path(spec.name))
    return module.REQUEST_DECODERS[version], module.RESPONSE_DECODERS[version]


def encoded_pair(spec: Any, version: int, draw: st.DataObject) -> tuple[bytes, bytes]:
    module = api_module_path(spec.name)
    request = draw.draw(message_strategy(module, spec.request, version))
    response = draw.draw(message_strategy(module, spec.response, version))
    return encode_request(request, version), encode_response(response, version)


@pytest.mark.parametrize(("spec", "version"), CASES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_program_reads_what_the_python_decoder_reads(spec: Any, version: int, data_: st.DataObject) -> None:
    prefix = data_.draw(st.binary(max_size=3))
    for decoder, encoded in zip(decoders_for(spec, version), encoded_pair(spec, version, data_), strict=True):
        for buffer in (prefix + encoded, bytearray(prefix + encoded)):
            ours, python = decoder(buffer, len(prefix)), decoder.python(buffer, len(prefix))
            same(ours, python)
            assert ours[1] == len(buffer)


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["flip", "truncate", "insert", "set"]), st.integers(0, 10_000), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


def mutated(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for action, position, byte in mutations:
        at = position % (len(out) + 1)
        if action == "truncate":
            del out[at:]
        elif action == "insert":
            out[at:at] = bytes([byte])
        elif out:
            at %= len(out)
            out[at] = out[at] ^ (1 << (byte % 8)) if action == "flip" else (0x00, 0x7F, 0x80, 0xFF)[byte % 4]
    return bytes(out)


@pytest.mark.parametrize(("spec", "version"), CASES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_malformed_bytes_give_the_python_decoders_result_or_error(
    spec: Any, version: int, data_: st.DataObject
) -> None:
    for decoder, encoded in zip(decoders_for(spec, version), encoded_pair(spec, version, data_), strict=True):
        broken = mutated(encoded, data_.draw(MUTATIONS))
        ours, python = outcome(decoder, broken, 0), outcome(decoder.python, broken, 0)
        same(ours, python, f"{broken.hex()}")


@pytest.mark.parametrize(("spec", "version"), CASES)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_truncation_gives_the_python_decoders_error(spec: Any, version: int, data_: st.DataObject) -> None:
    """Each bounds check, at each of its edges: cut the bytes at every length."""
    for decoder, encoded in zip(decoders_for(spec, version), encoded_pair(spec, version, data_), strict=True):
        for length in range(len(encoded)):
            short = encoded[:length]
            same(outcome(decoder, short, 0), outcome(decoder.python, short, 0), f"{length} of {encoded.hex()}")


def test_a_tagged_field_running_past_the_end_is_the_python_decoders_error() -> None:
    from kctl.protocol.messages.api_versions import ApiVersionsRequest

    decoder = import_module("kctl.protocol.messages.api_versions").REQUEST_DECODERS[3]
    encoded = encode_request(ApiVersionsRequest("kctl", "1"), 3)
    assert encoded.endswith(b"\x00")  # no tagged fields
    for tags in (b"\x01\x00\x02A", b"\x01\x00\x01", b"\x01\x05\x01AB", b"\x02\x00\x00"):
        broken = encoded[:-1] + tags
        same(outcome(decoder, broken, 0), outcome(decoder.python, broken, 0), tags.hex())


def test_floats_and_uuids_come_out_bit_for_bit() -> None:
    from kctl.protocol.messages.describe_client_quotas import (
        DescribeClientQuotasEntry,
        DescribeClientQuotasResponse,
        QuotaEntity,
        QuotaValue,
    )
    from kctl.protocol.messages.metadata import MetadataResponse, MetadataResponseTopic

    values = [float("nan"), -0.0, 0.0, float("inf"), 5e-324, 1.5]
    quotas = DescribeClientQuotasResponse(
        entries=[DescribeClientQuotasEntry([QuotaEntity("user", None)], [QuotaValue("q", v) for v in values])]
    )
    for version in (0, 1):
        encoded = encode_response(quotas, version)
        decoder = import_module("kctl.protocol.messages.describe_client_quotas").RESPONSE_DECODERS[version]
        same(decoder(encoded, 0), decoder.python(encoded, 0))
    ids = [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4()]
    metadata = MetadataResponse(topics=[MetadataResponseTopic(name=str(i), topic_id=i) for i in ids])
    encoded = encode_response(metadata, 12)
    decoded, _ = import_module("kctl.protocol.messages.metadata").RESPONSE_DECODERS[12](encoded, 0)
    assert [t.topic_id for t in decoded.topics] == ids
    assert [str(t.topic_id) for t in decoded.topics] == [str(i) for i in ids]
    same(decoded.topics[2].topic_id, ids[2])


def test_odd_calls_go_to_the_python_decoder() -> None:
    decoder = decode_fetch_v11()
    encoded = encode_response(fetch_response(), 11)
    assert outcome(decoder, encoded, -len(encoded)) == outcome(decoder.python, encoded, -len(encoded))
    assert outcome(decoder, encoded, len(encoded) + 1) == outcome(decoder.python, encoded, len(encoded) + 1)
    view = memoryview(encoded)
    assert outcome(decoder, view, 0) == outcome(decoder.python, view, 0)
    with pytest.raises(TypeError):
        decoder(encoded)
    with pytest.raises(TypeError):
        decoder(encoded, "0")


def decode_fetch_v11() -> Any:
    return import_module("kctl.protocol.messages.fetch").RESPONSE_DECODERS[11]


def fetch_response() -> FetchResponse:
    return FetchResponse(
        responses=[
            FetchableTopicResponse(
                "orders",
                [
                    PartitionData(
                        p, high_watermark=10 * p, aborted_transactions=[AbortedTransaction(7, p)], records=b"r" * p
                    )
                    for p in range(5)
                ],
            )
        ]
    )


def test_defaults_are_new_objects_each_time() -> None:
    """Absent list and struct fields get their own empty list or instance, as the constructor gives."""
    decoder = import_module("kctl.protocol.messages.fetch").RESPONSE_DECODERS[4]
    encoded = encode_response(fetch_response(), 4)  # v4 carries no diverging epoch, no leader
    (first, _), (second, _) = decoder(encoded, 0), decoder(encoded, 0)
    one, two = first.responses[0].partitions[0], second.responses[0].partitions[0]
    assert one.diverging_epoch is not two.diverging_epoch
    assert one.current_leader is not two.current_leader
    assert first.responses[0].partitions[0].diverging_epoch is not first.responses[0].partitions[1].diverging_epoch
    same(one, PartitionData(0, high_watermark=0, aborted_transactions=[AbortedTransaction(7, 0)], records=b""))
    empty, _ = import_module("kctl.protocol.messages.metadata").RESPONSE_DECODERS[0](
        encode_response(MetadataResponse(topics=[MetadataResponseTopic(name="t")]), 0), 0
    )
    assert empty.topics[0].partitions == [] and empty.brokers == []
    assert empty.topics[0].partitions is not empty.brokers


def test_nothing_is_leaked_decoding_good_or_bad_bytes() -> None:
    decoder = decode_fetch_v11()
    encoded = encode_response(fetch_response(), 11)
    broken = encoded[:-3]  # read almost to the end, then handed to the Python decoder
    for data in (encoded, broken):
        outcome(decoder, data, 0)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2_000):
            outcome(decoder, data, 0)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert grown < 20_000, f"{grown} bytes kept after 2,000 decodes of {'bad' if data is broken else 'good'} bytes"
