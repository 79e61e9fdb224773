"""What the sans-IO connections (`framing`) hand out: bytes in, these out.

Their own module, so that SASL (`sasl`), which produces the authentication events, and the
connections, which hand them out, need not import each other.
"""

from __future__ import annotations

import enum
from typing import Any, Final, NamedTuple

from .headers import RequestHeader


class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"


#: Returned by `next_event()` when the buffered bytes do not hold a whole frame yet.
NEED_DATA: Final = _NeedData.NEED_DATA


# ---- server side ---------------------------------------------------------------------------
class RequestReceived(NamedTuple):
    header: RequestHeader
    body: Any


class UnsupportedRequest(NamedTuple):
    """A request for an API key or version we do not speak; the body was not decoded."""

    header: RequestHeader


class Authenticated(NamedTuple):
    """The peer proved who it is (the SaslAuthenticate answer is queued)."""

    user: str | None
    mechanism: str


class AuthenticationFailed(NamedTuple):
    mechanism: str
    reason: str


ServerEvent = RequestReceived | UnsupportedRequest | Authenticated | AuthenticationFailed | _NeedData


# ---- client side ---------------------------------------------------------------------------
class ResponseReceived(NamedTuple):
    correlation_id: int
    api_key: int
    api_version: int
    body: Any


ClientEvent = ResponseReceived | _NeedData
