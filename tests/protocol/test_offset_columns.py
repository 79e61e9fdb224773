"""The columnar OffsetFetch reader against the generated codec: same offsets from the same bytes,
whichever of its paths (20-byte entries at once in C or in Python, or entry by entry) a group
takes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kctl.protocol.api import ApiKey, encode_response
from kctl.protocol.errors import DecodeError
from kctl.protocol.framing import ClientConnection, frame
from kctl.protocol.headers import encode_response_header
from kctl.protocol.messages.offset_fetch import (
    OffsetFetchRequest,
    OffsetFetchRequestGroup,
    OffsetFetchResponse,
    OffsetFetchResponseGroup,
    OffsetFetchResponsePartitions,
    OffsetFetchResponseTopics,
)
from kctl.protocol.offset_columns import GroupCommitted, decode_offset_fetch_columns

VERSIONS = (8, 9)


partitions = st.builds(
    OffsetFetchResponsePartitions,
    partition_index=st.integers(0, 300),
    committed_offset=st.one_of(st.just(-1), st.integers(0, 2**62)),
    committed_leader_epoch=st.integers(-1, 100),
    metadata=st.one_of(st.none(), st.just(""), st.just(""), st.text(max_size=3)),
    error_code=st.sampled_from([0, 0, 0, 0, 3, 25]),
)
topic_names = st.one_of(st.sampled_from(["a", "b", "orders", "payments"]), st.text(min_size=1, max_size=140))
topics = st.builds(OffsetFetchResponseTopics, name=topic_names,
                   partitions=st.lists(partitions, max_size=140).map(lambda ps: list({p.partition_index: p
                                                                                     for p in ps}.values())))
groups = st.builds(OffsetFetchResponseGroup, group_id=st.text(max_size=20),
                   topics=st.lists(topics, max_size=5, unique_by=lambda t: t.name),
                   error_code=st.sampled_from([0, 0, 16]))


def expected(response: OffsetFetchResponse) -> list[GroupCommitted]:
    """What the reader must give: per group, the partitions with an offset and no error, sorted."""
    out = []
    for g in response.groups:
        rows = sorted((t.name, p.partition_index, p.committed_offset) for t in g.topics for p in t.partitions
                      if p.committed_offset >= 0 and not p.error_code)
        out.append(GroupCommitted(g.group_id, g.error_code, [t for t, _, _ in rows], [p for _, p, _ in rows],
                                  [o for _, _, o in rows]))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(groups, max_size=4), st.sampled_from(VERSIONS))
def test_the_columns_hold_what_the_generated_decoder_reads(found: list[OffsetFetchResponseGroup], version: int) -> None:
    response = OffsetFetchResponse(throttle_time_ms=7, groups=found)
    body = b"\x00\x00" + encode_response(response, version)  # at an offset, as in a frame
    assert decode_offset_fetch_columns(body, 2, version) == expected(response)


def plain(partition: int, offset: int) -> OffsetFetchResponsePartitions:
    return OffsetFetchResponsePartitions(partition, offset, 3, "", 0)


def test_each_path_is_taken_and_agrees() -> None:
    # Plain groups (every entry 20 bytes) beside one whose single entry has metadata, one with
    # 200 partitions in a topic (a two-byte array length), topics and partitions out of order,
    # and errors and -1 offsets left out.
    response = OffsetFetchResponse(groups=[
        OffsetFetchResponseGroup("plain", [OffsetFetchResponseTopics("b", [plain(2, 20), plain(0, 0), plain(1, 10)]),
                                           OffsetFetchResponseTopics("a", [plain(0, 5)])]),
        OffsetFetchResponseGroup("metadata", [OffsetFetchResponseTopics("a", [
            plain(0, 1), OffsetFetchResponsePartitions(1, 2, 3, "from a tool", 0), plain(2, 3)])]),
        OffsetFetchResponseGroup("wide", [
            OffsetFetchResponseTopics("t", [plain(p, p * 2) for p in range(199, -1, -1)])]),
        OffsetFetchResponseGroup("gaps", [OffsetFetchResponseTopics("t", [
            plain(0, -1), OffsetFetchResponsePartitions(1, 9, 3, "", 25), plain(2, 4)])]),
        OffsetFetchResponseGroup("long name", [OffsetFetchResponseTopics("x" * 200, [plain(0, 1)])]),
    ])
    for version in VERSIONS:
        found = decode_offset_fetch_columns(encode_response(response, version), 0, version)
        assert found == expected(response)
    assert found[0].topics == ["a", "b", "b", "b"] and found[0].offsets == [5, 0, 10, 20]
    assert found[1].offsets == [1, 2, 3] and found[2].partitions == list(range(200))
    assert found[3].partitions == [2] and found[4].topics == ["x" * 200]


def test_every_truncation_is_a_decode_error() -> None:
    response = OffsetFetchResponse(groups=[
        OffsetFetchResponseGroup("g", [
            OffsetFetchResponseTopics("t", [plain(0, 1), plain(1, 2)]),
            OffsetFetchResponseTopics("u", [OffsetFetchResponsePartitions(0, 1, 3, "m", 0)])]),
    ])
    body = encode_response(response, 9)
    for cut in range(len(body)):
        with pytest.raises(DecodeError):
            decode_offset_fetch_columns(body[:cut], 0, 9)


def test_a_client_connection_reads_a_response_with_the_decoder_it_was_given() -> None:
    client = ClientConnection(client_id="t")
    request = OffsetFetchRequest(groups=[OffsetFetchRequestGroup("g", topics=None)])
    correlation_id, _ = client.send_request(request, 9, decode=decode_offset_fetch_columns)
    response = OffsetFetchResponse(groups=[
        OffsetFetchResponseGroup("g", [OffsetFetchResponseTopics("t", [plain(0, 42)])])])
    client.receive_data(frame(encode_response_header(correlation_id, 1), encode_response(response, 9)))
    event = client.next_event()
    assert event.api_key == ApiKey.OFFSET_FETCH  # type: ignore[union-attr]
    assert event.body == [GroupCommitted("g", 0, ["t"], [0], [42])]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="v7"):
        decode_offset_fetch_columns(b"", 0, 7)


