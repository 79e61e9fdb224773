"""The table of APIs kctl speaks, and the entry points to encode and decode their bodies."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from struct import error as StructError
from typing import Any, NamedTuple

from ._wire import Request, uvarint
from .errors import DecodeError, EncodeError, UnsupportedVersionError
from .messages import API_INDEX, ApiKey

__all__ = ["API_BY_KEY", "API_BY_REQUEST_TYPE", "API_BY_RESPONSE_TYPE", "ApiKey", "ApiSpec", "Request",
           "decode_request", "decode_response", "encode_request", "encode_response", "encoded_compact_array",
           "spec_for", "version_range"]


class ApiSpec(NamedTuple):
    key: int
    name: str
    min_version: int
    max_version: int
    flexible_from: int | None
    request_type: type
    response_type: type
    request_encoders: dict[int, Any]
    request_decoders: dict[int, Any]
    response_encoders: dict[int, Any]
    response_decoders: dict[int, Any]

    def supports(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version

    def is_flexible(self, version: int) -> bool:
        return self.flexible_from is not None and version >= self.flexible_from

    def request_header_version(self, version: int) -> int:
        return 2 if self.is_flexible(version) else 1

    def response_header_version(self, version: int) -> int:
        # KIP-511: ApiVersions responses always use header v0, so that a client can read the
        # answer to a version it guessed before it knows which versions the server speaks.
        if self.key == ApiKey.API_VERSIONS:
            return 0
        return 1 if self.is_flexible(version) else 0


def _spec(module: Any) -> ApiSpec:
    name = module.NAME
    return ApiSpec(
        key=module.API_KEY,
        name=name,
        min_version=module.MIN_VERSION,
        max_version=module.MAX_VERSION,
        flexible_from=module.FLEXIBLE_FROM,
        request_type=getattr(module, f"{name}Request"),
        response_type=getattr(module, f"{name}Response"),
        request_encoders=module.REQUEST_ENCODERS,
        request_decoders=module.REQUEST_DECODERS,
        response_encoders=module.RESPONSE_ENCODERS,
        response_decoders=module.RESPONSE_DECODERS,
    )


class _SpecsByKey(Mapping[int, ApiSpec]):
    """API key -> spec. Each API's generated module is imported the first time it is asked for,
    so a command that needs three APIs does not pay for thirty (start-up time of the CLI)."""

    def __init__(self) -> None:
        self._loaded: dict[int, ApiSpec] = {}
        self.by_request: dict[type, ApiSpec] = {}
        self.by_response: dict[type, ApiSpec] = {}

    def __getitem__(self, key: int) -> ApiSpec:
        spec = self._loaded.get(key)
        if spec is None:
            entry = API_INDEX.get(key)
            if entry is None:
                raise KeyError(key)
            spec = _spec(importlib.import_module(f"{__package__}.messages.{entry[0]}"))
            self._loaded[key] = spec
            self.by_request[spec.request_type] = spec
            self.by_response[spec.response_type] = spec
        return spec

    def __iter__(self) -> Iterator[int]:
        return iter(API_INDEX)

    def __len__(self) -> int:
        return len(API_INDEX)

    def __contains__(self, key: object) -> bool:
        return key in API_INDEX


class _SpecsByType(Mapping[type, ApiSpec]):
    """Request or response class -> spec, found through the class's own module."""

    def __init__(self, specs: _SpecsByKey, cache: dict[type, ApiSpec]) -> None:
        self._specs = specs
        self._cache = cache

    def __getitem__(self, cls: type) -> ApiSpec:
        spec = self._cache.get(cls)
        if spec is None:
            key = getattr(sys.modules.get(cls.__module__), "API_KEY", None)
            if key is None or key not in self._specs:
                raise KeyError(cls)
            self._specs[key]
            spec = self._cache.get(cls)
            if spec is None:
                raise KeyError(cls)
        return spec

    def __iter__(self) -> Iterator[type]:
        for key in API_INDEX:
            self._specs[key]
        return iter(dict(self._cache))

    def __len__(self) -> int:
        return len(API_INDEX)


API_BY_KEY = _SpecsByKey()
API_BY_REQUEST_TYPE: Mapping[type, ApiSpec] = _SpecsByType(API_BY_KEY, API_BY_KEY.by_request)
API_BY_RESPONSE_TYPE: Mapping[type, ApiSpec] = _SpecsByType(API_BY_KEY, API_BY_KEY.by_response)


def version_range(api_key: int) -> tuple[int, int] | None:
    """The versions kctl speaks of an API, without importing its module."""
    entry = API_INDEX.get(api_key)
    return None if entry is None else (entry[2], entry[3])


# What a malformed body can make the generated decoders raise before our own checks catch it.
_DECODE_FAILURES = (StructError, IndexError, ValueError, OverflowError)
_ENCODE_FAILURES = (StructError, TypeError, AttributeError, ValueError, OverflowError, UnicodeEncodeError)


def spec_for(api_key: int, version: int) -> ApiSpec:
    spec = API_BY_KEY.get(api_key)
    if spec is None or not spec.supports(version):
        raise UnsupportedVersionError(api_key, version)
    return spec


def _run_encoder(encoder: Any, message: object, what: str, buf: bytearray | None = None) -> bytes:
    out = bytearray() if buf is None else buf
    try:
        encoder(message, out)
    except EncodeError:
        raise
    except _ENCODE_FAILURES as exc:
        raise EncodeError(f"cannot encode {what}: {exc}") from exc
    return b"" if buf is not None else bytes(out)


def _run_decoder(decoder: Any, data: bytes | bytearray, offset: int, what: str) -> tuple[Any, int]:
    try:
        return decoder(data, offset)  # type: ignore[no-any-return]
    except DecodeError:
        raise
    except _DECODE_FAILURES as exc:
        raise DecodeError(f"malformed {what}: {exc}") from exc


def encode_request(message: object, version: int) -> bytes:
    """The body (no header) of a request, in the given version."""
    spec = API_BY_REQUEST_TYPE.get(type(message))
    if spec is None:
        raise EncodeError(f"{type(message).__name__} is not a request")
    if not spec.supports(version):
        raise UnsupportedVersionError(spec.key, version)
    return _run_encoder(spec.request_encoders[version], message, f"{spec.name} v{version} request")


def encode_response(message: object, version: int, into: bytearray | None = None) -> bytes:
    """The body (no header) of a response, in the given version.

    With `into`, the body is appended to that buffer instead (and b"" returned), which saves a
    copy of large record payloads when framing.
    """
    spec = API_BY_RESPONSE_TYPE.get(type(message))
    if spec is None:
        raise EncodeError(f"{type(message).__name__} is not a response")
    if not spec.supports(version):
        raise UnsupportedVersionError(spec.key, version)
    return _run_encoder(spec.response_encoders[version], message, f"{spec.name} v{version} response", into)


def decode_request(api_key: int, version: int, data: bytes | bytearray, offset: int = 0) -> tuple[Any, int]:
    spec = spec_for(api_key, version)
    return _run_decoder(spec.request_decoders[version], data, offset, f"{spec.name} v{version} request")


def decode_response(api_key: int, version: int, data: bytes | bytearray, offset: int = 0) -> tuple[Any, int]:
    spec = spec_for(api_key, version)
    return _run_decoder(spec.response_decoders[version], data, offset, f"{spec.name} v{version} response")


def encoded_compact_array(elements: list[bytes]) -> bytes:
    """A compact array (as flexible versions write it) of elements already encoded."""
    return uvarint(len(elements) + 1) + b"".join(elements)
