"""Request headers v0-v2 and response headers v0-v1."""

from __future__ import annotations

from struct import Struct
from struct import error as StructError
from typing import NamedTuple

from . import _wire as w
from .api import API_BY_KEY
from .errors import DecodeError

_REQUEST_PREFIX = Struct(">hhih")  # key, version, correlation id, client id length
_CORRELATION = Struct(">i")


class RequestHeader(NamedTuple):
    # A NamedTuple: one is built per request, and that is several times cheaper than a dataclass.
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None = None


def encode_request_header(header: RequestHeader, header_version: int) -> bytes:
    buf = bytearray(_REQUEST_PREFIX.pack(header.api_key, header.api_version, header.correlation_id, 0)[:8])
    if header_version >= 1:
        # The client id stays a classic (int16-length) string even in header v2, so that any
        # server can read the header of an ApiVersions request of any version.
        w.write_nullable_string(buf, header.client_id)
    if header_version >= 2:
        buf += b"\x00"  # no tagged fields
    return bytes(buf)


def decode_request_header(data: bytes | bytearray, offset: int = 0) -> tuple[RequestHeader, int]:
    """Read a request header; its version follows from the API key and version it names.

    Headers of API keys or versions we do not speak are read as far as the client id (v1), which
    is all a server needs to answer them with an error.
    """
    try:
        api_key, api_version, correlation_id, length = _REQUEST_PREFIX.unpack_from(data, offset)
    except StructError:
        raise DecodeError("truncated request header") from None
    o = offset + 10
    if length < 0:
        client_id = None
    else:
        client_id = data[o : o + length].decode("utf-8", "replace")
        o += length
        if o > len(data):
            raise DecodeError("truncated request header")
    spec = API_BY_KEY.get(api_key)
    if (
        spec is not None
        and spec.flexible_from is not None
        and spec.flexible_from <= api_version <= spec.max_version
    ):
        o = w.skip_tags(data, o)
    return RequestHeader(api_key, api_version, correlation_id, client_id), o


def encode_response_header(correlation_id: int, header_version: int) -> bytes:
    if header_version >= 1:
        return _CORRELATION.pack(correlation_id) + b"\x00"
    return _CORRELATION.pack(correlation_id)


def decode_response_header(data: bytes | bytearray, header_version: int, offset: int = 0) -> tuple[int, int]:
    """Return the correlation id and the offset where the body starts."""
    try:
        (correlation_id,) = _CORRELATION.unpack_from(data, offset)
    except StructError:
        raise DecodeError("truncated response header") from None
    o = offset + 4
    if header_version >= 1:
        o = w.skip_tags(data, o)
    return correlation_id, o
