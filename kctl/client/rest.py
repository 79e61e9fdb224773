"""JSON over HTTP, for the REST services kctl talks to beside Kafka: the Schema Registry and Kafka
Connect. One aiohttp session per client, opened on first use; basic auth; one timeout per call.

`RestClient.request` answers with the status and the decoded body, whatever the status; each
service's client turns its own error bodies into its own exceptions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

if TYPE_CHECKING:
    import aiohttp


class RestAnswer(NamedTuple):
    status: int
    body: Any  # decoded JSON, the text when it is not JSON, None when empty


def url_path(*parts: str | int) -> str:
    """A path from segments, each quoted whole ('/' in a name stays inside its segment)."""
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


_SENDS = frozenset({"POST", "PUT", "PATCH"})


def _query_value(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


class RestClient:
    """The HTTP half of a service client. `unreachable(url, reason)` makes the exception raised
    when nothing answers (a refused connection, a timeout)."""

    content_type = "application/json"

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def unreachable(self, reason: str) -> Exception:
        return ConnectionError(f"cannot reach {self.url}: {reason}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            headers = {"Accept": self.content_type, "User-Agent": "kctl"}
            if self.username is not None:
                import base64

                token = f"{self.username}:{self.password or ''}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout), headers=headers)
        return self._session

    async def request(self, method: str, path: str, body: Any = None, **query: Any) -> RestAnswer:
        """One call. Query values of None are left out; a list repeats its key."""
        import aiohttp

        params: list[tuple[str, str]] = []
        for key, value in query.items():
            for item in value if isinstance(value, list | tuple) else [value]:
                if item is not None:
                    params.append((key, _query_value(item)))
        try:
            async with self._open().request(
                method, self.url + path, json=body, params=params,
                # A bodyless PUT or POST says its type too: Connect's Jersey answers 415 without it.
                headers={"Content-Type": self.content_type} if body is not None or method in _SENDS else None,
            ) as answer:
                raw = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self.unreachable(str(exc) or type(exc).__name__) from None
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        return RestAnswer(status, decoded)
