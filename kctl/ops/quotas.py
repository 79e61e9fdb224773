"""Client quotas: what is set for users, client ids and IPs, setting and removing them; on any
cluster with DescribeClientQuotas and AlterClientQuotas (Apache Kafka and the built-in broker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kctl.client import Admin

from .errors import BadUsage, NotFound

KEYS = ("producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate",
        "connection_creation_rate")


def entity(user: str | None = None, user_default: bool = False, client_id: str | None = None,
           client_id_default: bool = False, ip: str | None = None) -> dict[str, str | None]:
    """The entity the options name: {type: name}, None for a default entity."""
    out: dict[str, str | None] = {}
    if user is not None or user_default:
        out["user"] = user
    if client_id is not None or client_id_default:
        out["client-id"] = client_id
    if ip is not None:
        out["ip"] = ip
    return out


def entity_text(names: Mapping[str, str | None]) -> str:
    return ",".join(f"{t}={'<default>' if n is None else n}" for t, n in sorted(names.items()))


async def quota_rows(admin: Admin, names: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """One row per entity and key."""
    found = await admin.describe_client_quotas(list(names.items()), strict=bool(names))
    return [{"entity": entity_text(e), **{f"{t}": n for t, n in e.items()}, "key": k, "value": v}
            for e, values in sorted(found, key=lambda ev: entity_text(ev[0])) for k, v in sorted(values.items())]


async def set_quotas(admin: Admin, names: Mapping[str, str | None], values: Mapping[str, float]) -> None:
    if not names:
        raise BadUsage("name an entity: --user, --user-default, --client-id, --client-id-default or --ip")
    if not values:
        raise BadUsage("set at least one quota, e.g. --producer-byte-rate 1048576")
    await admin.alter_client_quotas(names, values)


async def delete_quotas(admin: Admin, names: Mapping[str, str | None], keys: list[str]) -> list[str]:
    """Remove these keys (or every one the entity has); the keys removed."""
    if not names:
        raise BadUsage("name an entity: --user, --user-default, --client-id, --client-id-default or --ip")
    current = await admin.describe_client_quotas(list(names.items()), strict=True)
    have = sorted({k for _, values in current for k in values})
    chosen = keys or have
    if not chosen or any(k not in have for k in chosen):
        raise NotFound(f"{entity_text(names)} has no quota {', '.join(k for k in chosen if k not in have) or 'set'}")
    await admin.alter_client_quotas(names, remove=chosen)
    return chosen
