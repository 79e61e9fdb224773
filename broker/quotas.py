"""Client quotas: produce and fetch byte rates per user and client id, enforced as Kafka does.

Quotas are set with AlterClientQuotas on entities of a `user`, a `client-id`, both, or an `ip`,
each named or the default (a null name), and read back with DescribeClientQuotas. They are kept in
`client-quotas.json` in the data directory, written before the answer.

A client's quota is the first one set, in Kafka's order of precedence, among: its user and client
id, its user and the default client id, its user alone, the default user and its client id, the
default user and the default client id, the default user, its client id alone, the default client
id. Bytes produced and fetched are counted per (user, client id) over a window of `WINDOW_S`
seconds (at least ten of them, as Kafka measures); when the rate goes over the quota, the answer
carries `throttle_time_ms`, Kafka's (rate - quota) / quota x window, and the connection is not read
for that long (KIP-219).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kctl.protocol.errors import ErrorCode

from .storage import disk

QUOTAS_FILE = "client-quotas.json"
ENTITY_TYPES = ("user", "client-id", "ip")
#: The keys each kind of entity takes, as Kafka validates them.
CLIENT_KEYS = ("producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate")
IP_KEYS = ("connection_creation_rate",)
PRODUCE, FETCH = "producer_byte_rate", "consumer_byte_rate"
WINDOW_S = 11.0  # Kafka's quota.window.num (11) samples of quota.window.size.seconds (1)
#: As Kafka's Rate: a rate is measured over at least all samples but the current one, so a client's
#: first burst is spread over ten seconds rather than throttled outright.
MIN_SPAN_S = WINDOW_S - 1
#: An entity: (entity type, name or None for the default), sorted by type.
Entity = tuple[tuple[str, str | None], ...]

log = logging.getLogger("broker.quotas")


@dataclass(frozen=True, slots=True)
class QuotaChange:
    entity: Entity
    ops: list[tuple[str, float, bool]]  # (key, value, remove)


def _entity_key(entity: Entity) -> str:
    return json.dumps([list(part) for part in entity])


class _Rate:
    """Bytes over the last WINDOW_S seconds."""

    __slots__ = ("samples", "total")

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, now: float, size: int) -> float:
        self.samples.append((now, size))
        self.total += size
        while self.samples and self.samples[0][0] < now - WINDOW_S:
            self.total -= self.samples.popleft()[1]
        return self.total / max(now - self.samples[0][0], MIN_SPAN_S)

    def remove_last(self) -> None:
        self.total -= self.samples.pop()[1]


class ClientQuotas:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / QUOTAS_FILE
        self.quotas: dict[Entity, dict[str, float]] = {}
        if self.path.exists():
            for raw_entity, values in json.loads(self.path.read_text()).items():
                entity = tuple((t, n) for t, n in json.loads(raw_entity))
                self.quotas[entity] = {k: float(v) for k, v in values.items()}
        self._rates: dict[tuple[str, str, str], _Rate] = {}

    # ---- AlterClientQuotas / DescribeClientQuotas ---------------------------------------------
    @staticmethod
    def check(entity: Entity, ops: Iterable[tuple[str, float, bool]]) -> tuple[ErrorCode, str | None]:
        types = [t for t, _ in entity]
        if not types or len(set(types)) != len(types) or any(t not in ENTITY_TYPES for t in types):
            return ErrorCode.INVALID_REQUEST, f"Invalid quota entity {entity}"
        if "ip" in types and len(types) > 1:
            return ErrorCode.INVALID_REQUEST, "An ip quota entity cannot be combined with another entity type"
        allowed = IP_KEYS if "ip" in types else CLIENT_KEYS
        for key, value, remove in ops:
            if key not in allowed:
                return ErrorCode.INVALID_REQUEST, f"Invalid configuration key {key}"
            if not remove and value <= 0:
                return ErrorCode.INVALID_REQUEST, f"Invalid value {value} for configuration key {key}"
        return ErrorCode.NONE, None

    def alter(self, changes: list[QuotaChange], validate_only: bool) -> list[tuple[ErrorCode, str | None]]:
        results = [self.check(c.entity, c.ops) for c in changes]
        if validate_only:
            return results
        # Changed on a copy, written, and only then put in force: a failed write changes nothing.
        quotas = {entity: dict(values) for entity, values in self.quotas.items()}
        changed = False
        for change, (error, _) in zip(changes, results, strict=True):
            if error is not ErrorCode.NONE:
                continue
            values = quotas.setdefault(change.entity, {})
            for key, value, remove in change.ops:
                if remove:
                    values.pop(key, None)
                else:
                    values[key] = value
            if not values:
                del quotas[change.entity]
            changed = True
        if changed:
            try:
                disk.write_atomically(self.path, json.dumps({_entity_key(e): v for e, v in quotas.items()},
                                                       indent=1, sort_keys=True))
            except OSError as exc:
                log.error("cannot save client quotas: %s", disk.describe(exc))
                failure = (ErrorCode.KAFKA_STORAGE_ERROR, f"the quotas could not be saved: {disk.describe(exc)}")
                return [failure if error is ErrorCode.NONE else (error, message) for error, message in results]
            self.quotas = quotas
        return results

    def describe(self, components: list[tuple[str, int, str | None]], strict: bool) -> list[tuple[Entity,
                                                                                               dict[str, float]]]:
        """The entities matching every component: match type 0 a name, 1 the default, 2 any."""
        out = []
        for entity, values in sorted(self.quotas.items(), key=lambda kv: _entity_key(kv[0])):
            names = dict(entity)
            if strict and set(names) != {t for t, _, _ in components}:
                continue
            if all(_matches(names, t, kind, match) for t, kind, match in components):
                out.append((entity, dict(values)))
        return out

    # ---- enforcement -----------------------------------------------------------------------------
    def quota_for(self, key: str, user: str, client_id: str) -> float | None:
        for entity in (
            (("client-id", client_id), ("user", user)),
            (("client-id", None), ("user", user)),
            (("user", user),),
            (("client-id", client_id), ("user", None)),
            (("client-id", None), ("user", None)),
            (("user", None),),
            (("client-id", client_id),),
            (("client-id", None),),
        ):
            value = self.quotas.get(entity, {}).get(key)
            if value is not None:
                return value
        return None

    def window_bytes(self, key: str, user: str, client_id: str) -> int | None:
        """The most the quota allows in a window (Kafka caps a fetch at it), or None without one."""
        if not self.quotas:
            return None
        quota = self.quota_for(key, user, client_id)
        return None if quota is None else max(int(quota * MIN_SPAN_S), 1)

    def record(self, key: str, user: str, client_id: str, size: int, now: float | None = None) -> int:
        """Count `size` bytes for the client; the throttle time in ms its answer must carry. A
        fetch that would go over is answered empty instead, as Kafka does: its bytes are not counted."""
        if not self.quotas or size <= 0:
            return 0
        quota = self.quota_for(key, user, client_id)
        if quota is None:
            return 0
        sampled = self._rates.setdefault((key, user, client_id), _Rate())
        rate = sampled.add(time.monotonic() if now is None else now, size)
        if rate <= quota:
            return 0
        if key == FETCH:
            sampled.remove_last()
        return int((rate - quota) / quota * WINDOW_S * 1000)


def _matches(names: dict[str, str | None], entity_type: str, kind: int, match: str | None) -> bool:
    if entity_type not in names:
        return False
    name = names[entity_type]
    if kind == 0:
        return name == match
    if kind == 1:
        return name is None
    return True  # "specified": Apache Kafka's answer includes the default entity of the type too
