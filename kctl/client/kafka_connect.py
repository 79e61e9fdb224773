"""A Kafka Connect client: the worker REST API (connectors, their tasks, plugins, offsets, topics).

Any worker of a Connect cluster answers for the whole cluster (it forwards writes to the leader).
Errors come back as Connect's `{"error_code": 409, "message": ...}` and are raised as
`ConnectError`; a worker that does not answer at all raises `ConnectUnreachable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConnectError, ConnectUnreachable
from .rest import RestClient, url_path


@dataclass(frozen=True, slots=True)
class ConnectSettings:
    """One Connect cluster, by the name kctl knows it by and the URL of any of its workers."""

    name: str
    url: str
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0


class ConnectClient(RestClient):
    def __init__(self, settings: ConnectSettings) -> None:
        super().__init__(settings.url, settings.username, settings.password, settings.timeout)
        self.settings = settings

    async def __aenter__(self) -> ConnectClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def unreachable(self, reason: str) -> Exception:
        return ConnectUnreachable(f"cannot reach Kafka Connect {self.settings.name!r} at {self.url}: {reason}")

    async def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        status, decoded = await self.request(method, path, body, **query)
        if status >= 400:
            message = (str(decoded.get("message") or "") if isinstance(decoded, dict)
                       else str(decoded or "")[:300]) or f"HTTP {status}"
            raise ConnectError(status, message, f"{method} {path}")
        return decoded

    # ---- the cluster -----------------------------------------------------------------------------
    async def info(self) -> dict[str, Any]:
        """The worker's version, commit and the Kafka cluster id it works for."""
        return dict(await self.call("GET", "/"))

    async def plugins(self, *, connectors_only: bool = True) -> list[dict[str, Any]]:
        return list(await self.call("GET", "/connector-plugins", connectorsOnly=connectors_only))

    async def validate(self, plugin: str, config: Mapping[str, str]) -> dict[str, Any]:
        """Connect's verdict on a config, field by field (`error_count`, `configs[].value.errors`)."""
        short = plugin.rsplit(".", 1)[-1]
        return dict(await self.call("PUT", url_path("connector-plugins", short, "config", "validate"), dict(config)))

    # ---- connectors --------------------------------------------------------------------------------
    async def connectors(self) -> dict[str, dict[str, Any]]:
        """Every connector with its info (config, tasks, type) and status, in one call."""
        return dict(await self.call("GET", "/connectors", expand=["info", "status"]))

    async def connector(self, name: str) -> dict[str, Any]:
        return dict(await self.call("GET", url_path("connectors", name)))

    async def config(self, name: str) -> dict[str, str]:
        return dict(await self.call("GET", url_path("connectors", name, "config")))

    async def status(self, name: str) -> dict[str, Any]:
        return dict(await self.call("GET", url_path("connectors", name, "status")))

    async def tasks(self, name: str) -> list[dict[str, Any]]:
        return list(await self.call("GET", url_path("connectors", name, "tasks")))

    async def create(self, name: str, config: Mapping[str, str]) -> dict[str, Any]:
        return dict(await self.call("POST", "/connectors", {"name": name, "config": dict(config)}))

    async def put_config(self, name: str, config: Mapping[str, str]) -> dict[str, Any]:
        """Create the connector or replace its whole config."""
        return dict(await self.call("PUT", url_path("connectors", name, "config"), dict(config)))

    async def delete(self, name: str) -> None:
        await self.call("DELETE", url_path("connectors", name))

    async def pause(self, name: str) -> None:
        await self.call("PUT", url_path("connectors", name, "pause"))

    async def resume(self, name: str) -> None:
        await self.call("PUT", url_path("connectors", name, "resume"))

    async def stop(self, name: str) -> None:
        """STOPPED (KIP-875): tasks shut down and their configs dropped; offsets may then be changed."""
        await self.call("PUT", url_path("connectors", name, "stop"))

    async def restart(self, name: str, *, include_tasks: bool = False, only_failed: bool = False) -> Any:
        """Restart the connector (and, with include_tasks, its tasks; only_failed: only FAILED ones)."""
        return await self.call("POST", url_path("connectors", name, "restart"),
                               includeTasks=include_tasks, onlyFailed=only_failed)

    async def restart_task(self, name: str, task: int) -> None:
        await self.call("POST", url_path("connectors", name, "tasks", task, "restart"))

    # ---- offsets (KIP-875) and topics (KIP-558) -------------------------------------------------------
    async def offsets(self, name: str) -> list[dict[str, Any]]:
        """[{"partition": {...}, "offset": {...}}, ...] as the connector stores them."""
        return list((await self.call("GET", url_path("connectors", name, "offsets")))["offsets"])

    async def alter_offsets(self, name: str, offsets: list[dict[str, Any]]) -> str:
        answer = await self.call("PATCH", url_path("connectors", name, "offsets"), {"offsets": offsets})
        return str((answer or {}).get("message", ""))

    async def reset_offsets(self, name: str) -> str:
        answer = await self.call("DELETE", url_path("connectors", name, "offsets"))
        return str((answer or {}).get("message", ""))

    async def topics(self, name: str) -> list[str]:
        answer = await self.call("GET", url_path("connectors", name, "topics"))
        return list((answer or {}).get(name, {}).get("topics", []))

    async def reset_topics(self, name: str) -> None:
        await self.call("PUT", url_path("connectors", name, "topics", "reset"))
