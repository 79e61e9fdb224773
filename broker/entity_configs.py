"""Dynamic configs of entities other than topics: client-metrics subscriptions (KIP-714) and
group configs (KIP-848, KIP-932), as Kafka keeps them in its metadata.

They live in `entity-configs.json` in the data directory, written before a change is answered.
A client-metrics subscription exists while it has a config set; a group's configs apply to the
group of that id whenever it exists.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kctl.protocol.enums import ConfigResourceType, ConfigType

from .config import ConfigError, Setting
from .storage import disk

log = logging.getLogger("broker")

ENTITY_CONFIGS_FILE = "entity-configs.json"

#: What a client-metrics `match` may select clients by (KIP-714).
MATCH_KEYS = ("client_instance_id", "client_id", "client_software_name", "client_software_version",
              "client_source_address", "client_source_port")


def _check_match(value: Any) -> str | None:
    for item in (v.strip() for v in str(value).split(",") if v.strip()):
        key, sep, pattern = item.partition("=")
        if not sep or key not in MATCH_KEYS:
            return f"match entries are KEY=REGEX with KEY one of {', '.join(MATCH_KEYS)}, not {item!r}"
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"{pattern!r} in match is not a valid regular expression: {exc}"
    return None


def _check_offset_reset(value: Any) -> str | None:
    text = str(value)
    if text in ("earliest", "latest") or re.fullmatch(r"by_duration:P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?",
                                                       text):
        return None
    return "share.auto.offset.reset is earliest, latest or by_duration:<ISO-8601 duration>"


def _setting(name: str, kind: type, default: Any, doc: str, config_type: int, **kw: Any) -> Setting:
    return Setting(name, kind, default, doc, config_type=config_type, **kw)


CLIENT_METRICS_SETTINGS: dict[str, Setting] = {s.name: s for s in (
    _setting("metrics", str, "", "metric name prefixes the matched clients push (* for all)", ConfigType.LIST),
    _setting("interval.ms", int, 300_000, "how often the matched clients push their metrics", ConfigType.INT,
             minimum=100, maximum=3_600_000),
    _setting("match", str, "", "which clients: KEY=REGEX entries (client_id, client_software_name, ...)",
             ConfigType.LIST, check=_check_match),
)}

GROUP_SETTINGS: dict[str, Setting] = {s.name: s for s in (
    _setting("consumer.session.timeout.ms", int, 45_000, "consumer-protocol members not heard from for this "
             "long are removed", ConfigType.INT, minimum=1),
    _setting("consumer.heartbeat.interval.ms", int, 5_000, "how often consumer-protocol members heartbeat",
             ConfigType.INT, minimum=1),
    _setting("share.session.timeout.ms", int, 45_000, "share-group members not heard from for this long are "
             "removed", ConfigType.INT, minimum=1),
    _setting("share.heartbeat.interval.ms", int, 5_000, "how often share-group members heartbeat",
             ConfigType.INT, minimum=1),
    _setting("share.record.lock.duration.ms", int, 30_000, "how long a share consumer holds a record it was "
             "given before it goes back to be delivered again", ConfigType.INT, minimum=1000, maximum=3_600_000),
    _setting("share.auto.offset.reset", str, "latest", "where a share group starts reading a partition it has "
             "no state for", ConfigType.STRING, check=_check_offset_reset),
    _setting("share.isolation.level", str, "read_uncommitted", "whether share consumers see records of "
             "transactions not yet committed", ConfigType.STRING, choices=("read_committed", "read_uncommitted")),
)}

SETTINGS: dict[int, dict[str, Setting]] = {
    ConfigResourceType.CLIENT_METRICS: CLIENT_METRICS_SETTINGS,
    ConfigResourceType.GROUP: GROUP_SETTINGS,
}
_KIND: dict[int, str] = {ConfigResourceType.CLIENT_METRICS: "client-metrics", ConfigResourceType.GROUP: "group"}


class EntityConfigs:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ENTITY_CONFIGS_FILE
        self._configs: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in _KIND.values()}
        if self.path.exists():
            stored = json.loads(self.path.read_text())
            for kind in self._configs:
                self._configs[kind] = {name: dict(values) for name, values in stored.get(kind, {}).items()}

    def overrides(self, resource_type: int, name: str) -> dict[str, Any]:
        return dict(self._configs[_KIND[resource_type]].get(name, {}))

    def names(self, resource_type: int) -> list[str]:
        return sorted(self._configs[_KIND[resource_type]])

    def value(self, resource_type: int, name: str, key: str) -> Any:
        """The value in force: the entity's own, else the default."""
        own = self._configs[_KIND[resource_type]].get(name, {})
        return own[key] if key in own else SETTINGS[resource_type][key].default

    @staticmethod
    def parse(resource_type: int, raw: Mapping[str, str | None]) -> dict[str, Any]:
        """Typed values, or ConfigError in Kafka's words."""
        settings = SETTINGS[resource_type]
        parsed: dict[str, Any] = {}
        for key, value in raw.items():
            setting = settings.get(key)
            if setting is None:
                raise ConfigError(f"unknown {_KIND[resource_type]} config {key!r}; known: {', '.join(settings)}")
            parsed[key] = setting.parse(value)
        return parsed

    def replace(self, resource_type: int, name: str, values: dict[str, Any]) -> None:
        """Make `values` the entity's configs (none: the entity's configs are gone), saved first."""
        kind = _KIND[resource_type]
        updated = {k: dict(v) for k, v in self._configs[kind].items()}
        if values:
            updated[name] = dict(values)
        else:
            updated.pop(name, None)
        stored = {**self._configs, kind: updated}
        disk.write_atomically(self.path, json.dumps(stored, indent=1, sort_keys=True))
        self._configs = stored
        log.info("%s %s configs now %s", kind, name, values or "(none)")
