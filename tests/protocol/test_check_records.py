"""The produce path's record check: the C version held to the Python definition on well-formed,
mutated and cut record sections, and the definition held to what the record decoder reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kctl.protocol import _wire as w
from kctl.protocol import records
from kctl.protocol.errors import CorruptRecordError, InvalidRecordError, ProtocolError
from kctl.protocol.records import HEADER_SIZE, Record, check_records_python, decode_batch, encode_batch

C = records._check_records

record = st.builds(
    Record,
    key=st.one_of(st.none(), st.binary(max_size=40)),
    value=st.one_of(st.none(), st.binary(max_size=300)),
    headers=st.lists(st.tuples(st.text(max_size=8), st.one_of(st.none(), st.binary(max_size=8))), max_size=3),
    timestamp=st.integers(0, 2**41),
)


def section(recs: list[Record]) -> bytes:
    """The uncompressed records section of a batch of `recs`."""
    return encode_batch(recs)[HEADER_SIZE:]


def outcome(check: object, data: bytes, count: int, keys: bool) -> tuple[str, object]:
    try:
        return "ok", check(data, count, keys)  # type: ignore[operator]
    except CorruptRecordError as exc:
        return "corrupt", str(exc)
    except InvalidRecordError as exc:
        return "invalid", str(exc)


def c_check(data: bytes, count: int, keys: bool) -> tuple[int, int]:
    first, second = C.check_records(data, count, keys)
    if isinstance(second, str):
        raise (CorruptRecordError if first == 1 else InvalidRecordError)(second)
    return first, second


needs_c = pytest.mark.skipif(C is None, reason="kctl.protocol._check_records was not built (no C compiler)")


@given(st.lists(record, min_size=1, max_size=20), st.booleans())
@settings(max_examples=300, deadline=None)
def test_well_formed_records_pass_and_give_the_timestamp_deltas(recs: list[Record], keys: bool) -> None:
    data = section(recs)
    deltas = [r.timestamp - recs[0].timestamp for r in recs]  # type: ignore[operator]
    expected = (min(deltas), max(deltas))
    kind, value = outcome(check_records_python, data, len(recs), keys)
    if keys and any(r.key is None for r in recs):
        assert kind == "invalid"
    else:
        assert (kind, value) == ("ok", expected)
    if C is not None:
        assert outcome(c_check, data, len(recs), keys) == (kind, value)


@needs_c
@given(st.lists(record, min_size=1, max_size=8), st.data())
@settings(max_examples=1500, deadline=None)
def test_c_and_python_agree_on_mutated_cut_and_miscounted_bytes(recs: list[Record], data: st.DataObject) -> None:
    raw = bytearray(section(recs))
    for _ in range(data.draw(st.integers(0, 4))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    mangled = bytes(raw[:cut]) + data.draw(st.binary(max_size=6))
    count = len(recs) + data.draw(st.integers(-1, 1))
    keys = data.draw(st.booleans())
    python = outcome(check_records_python, mangled, count, keys)
    assert outcome(c_check, mangled, count, keys) == python


@given(st.binary(max_size=200), st.integers(0, 5))
@settings(max_examples=500, deadline=None)
def test_what_the_check_passes_the_decoder_reads(garbage: bytes, count: int) -> None:
    """Nothing the check lets into the log is unreadable later."""
    try:
        check_records_python(garbage, count, False)
    except ProtocolError:
        return
    header = records.BatchHeader(0, 0, 0, 2, 0, 0, max(count - 1, 0), 0, 0, -1, -1, -1, count)
    assert len(records.decode_record_fields(garbage, header)) == count


@pytest.mark.parametrize(("mangle", "kind", "words"), [
    (lambda recs: (section(recs), 3), "corrupt", "fewer records"),
    (lambda recs: (section(recs) + b"\x00", 2), "corrupt", "left over"),
    (lambda recs: (section(recs)[:-1], 2), "corrupt", "runs past the end"),
    (lambda recs: (section([Record(b"k", b"v", offset=0), Record(b"k", b"v", offset=5)]), 2), "invalid", "sequence"),
    (lambda recs: (w.zigzag_varint(-7) + section(recs)[1:], 2), "corrupt", "length -7"),
])
def test_each_kind_of_bad_section_is_named(mangle: object, kind: str, words: str) -> None:
    recs = [Record(b"a", b"1", timestamp=1), Record(b"b", b"2", timestamp=2)]
    data, count = mangle(recs)  # type: ignore[operator]
    got = outcome(check_records_python, data, count, False)
    assert got[0] == kind and words in str(got[1])
    if C is not None:
        assert outcome(c_check, data, count, False) == got
    decoded = decode_batch(encode_batch(recs))
    assert [r.value for r in decoded.records] == [b"1", b"2"]
