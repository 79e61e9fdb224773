"""SCRAM users: list their credentials, create one, change a password, delete one; on any cluster
that has DescribeUserScramCredentials and AlterUserScramCredentials (Apache Kafka and the built-in
broker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kctl.client import Admin
from kctl.client.errors import KafkaError

from .errors import BadUsage, NotFound, Refused

MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_MECHANISM = "SCRAM-SHA-512"
DEFAULT_ITERATIONS = 8192  # within Kafka's accepted 4,096 to 16,384


def check_mechanisms(mechanisms: Sequence[str]) -> list[str]:
    chosen = [m.upper() for m in mechanisms] or [DEFAULT_MECHANISM]
    unknown = [m for m in chosen if m not in MECHANISMS]
    if unknown:
        raise BadUsage(f"unknown SCRAM mechanism {unknown[0]!r}", f"use {' or '.join(MECHANISMS)}")
    return chosen


async def user_rows(admin: Admin, users: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per user and mechanism: the user, the mechanism and its iterations."""
    found = await admin.describe_user_scram_credentials(list(users) or None)
    rows: list[dict[str, Any]] = []
    for user, credentials in sorted(found.items()):
        if isinstance(credentials, KafkaError):
            raise NotFound(f"no SCRAM user {user!r}", "list them with `kctl users list`")
        rows.extend({"user": user, "mechanism": m, "iterations": i} for m, i in sorted(credentials.items()))
    return rows


async def _has(admin: Admin, user: str) -> dict[str, int]:
    found = (await admin.describe_user_scram_credentials([user])).get(user)
    return {} if found is None or isinstance(found, KafkaError) else found


def _raise_first(results: dict[str, KafkaError | None]) -> None:
    for error in results.values():
        if error is not None:
            raise error


async def set_password(admin: Admin, user: str, password: str, mechanisms: Sequence[str], iterations: int, *,
                       new_user: bool) -> list[dict[str, Any]]:
    """Create `user` (refused if it has a credential for one of the mechanisms) or change its
    password (refused if it has none); returns its rows afterwards."""
    if not password:
        raise BadUsage("the password is empty")
    if not 4096 <= iterations <= 16384:
        raise BadUsage(f"{iterations} iterations: Kafka accepts 4096 to 16384")
    chosen = check_mechanisms(mechanisms)
    existing = await _has(admin, user)
    if new_user and any(m in existing for m in chosen):
        raise Refused(f"user {user!r} already has a {' and '.join(m for m in chosen if m in existing)} credential",
                      f"change its password with `kctl users passwd {user}`")
    if not new_user and not existing:
        raise NotFound(f"no SCRAM user {user!r}", f"create it with `kctl users create {user}`")
    if not new_user and not mechanisms:
        chosen = sorted(existing)  # a new password for every mechanism the user has
    _raise_first(await admin.alter_user_scram_credentials(upsert=[(user, m, password, iterations) for m in chosen]))
    return await user_rows(admin, [user])


async def delete_user(admin: Admin, user: str, mechanisms: Sequence[str] = ()) -> list[str]:
    """Delete the user's credentials (for these mechanisms, or all it has); the mechanisms deleted."""
    existing = await _has(admin, user)
    if not existing:
        raise NotFound(f"no SCRAM user {user!r}", "list them with `kctl users list`")
    chosen = check_mechanisms(mechanisms) if mechanisms else sorted(existing)
    missing = [m for m in chosen if m not in existing]
    if missing:
        raise NotFound(f"user {user!r} has no {missing[0]} credential")
    _raise_first(await admin.alter_user_scram_credentials(delete=[(user, m) for m in chosen]))
    return chosen
