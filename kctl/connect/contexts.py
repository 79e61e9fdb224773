"""Where kctl points: named contexts in a TOML file, and the rules for choosing one.

The file is `$KCTL_CONFIG`, else `$XDG_CONFIG_HOME/kctl/config.toml` (`~/.config/kctl/config.toml`):

    current-context = "staging"

    [contexts.staging]
    bootstrap-servers = "kafka-1:9092,kafka-2:9092"
    client-id = "kctl"
    read-only = false
    theme = "default"

    [contexts.prod]
    bootstrap-servers = "kafka.prod:9093"
    read-only = true
    theme = "production"
    tls = { enabled = true, ca-file = "/etc/kafka/ca.pem" }
    sasl = { mechanism = "SCRAM-SHA-512", username = "ops", password-env = "KAFKA_PASSWORD" }
    schema-registry = { url = "https://registry.prod:8081", username = "ops", password-env = "SR_PASSWORD" }
    connect = [{ name = "cdc", url = "https://connect-1.prod:8083", username = "ops", password-env = "CONNECT_PW" },
               { name = "sinks", url = "http://connect-sinks.prod:8083" }]

The cluster is chosen by, in order: `-b/--bootstrap-server`, `$KCTL_BOOTSTRAP_SERVERS`,
`--context`, `$KCTL_CONTEXT`, the file's `current-context`, and finally the built-in local broker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kctl.ops.errors import BadUsage, NotFound

KEYS = ("bootstrap-servers", "client-id", "read-only", "theme", "tls", "sasl", "schema-registry", "connect")
LOCAL = "local"
#: Keys whose values are secrets: shown as *** when a context is printed.
SECRET_KEYS = frozenset({"password", "client-secret"})


@dataclass(slots=True)
class Context:
    name: str
    bootstrap_servers: str
    client_id: str = "kctl"
    read_only: bool = False
    theme: str | None = None
    tls: dict[str, Any] = field(default_factory=dict)
    sasl: dict[str, Any] = field(default_factory=dict)
    schema_registry: dict[str, Any] = field(default_factory=dict)
    connect: list[dict[str, Any]] = field(default_factory=list)  # Kafka Connect clusters: name, url, auth
    local: bool = False  # the built-in broker, started on demand

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "bootstrap-servers": self.bootstrap_servers,
                               "client-id": self.client_id, "read-only": self.read_only}
        if self.theme:
            out["theme"] = self.theme
        if self.tls:
            out["tls"] = dict(self.tls)
        if self.sasl:
            out["sasl"] = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.sasl.items()}
        if self.schema_registry:
            out["schema-registry"] = {k: ("***" if k == "password" else v) for k, v in self.schema_registry.items()}
        if self.connect:
            out["connect"] = [{k: ("***" if k == "password" else v) for k, v in c.items()} for c in self.connect]
        return out


def config_path() -> Path:
    explicit = os.environ.get("KCTL_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kctl" / "config.toml"


def load_file() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    import tomllib  # only when there is a file to read: -b alone never pays for it

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise BadUsage(f"cannot read {path}: {exc}", "fix the file or point KCTL_CONFIG elsewhere") from None


def save_file(data: dict[str, Any]) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_dump_toml(data))
    tmp.replace(path)
    return path


def _dump_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for this file's shape: top-level keys and [contexts.NAME] tables."""
    lines: list[str] = []
    for key, value in data.items():
        if key != "contexts":
            lines.append(f"{key} = {_toml_value(value)}")
    for name, ctx in data.get("contexts", {}).items():
        lines.append("")
        lines.append(f"[contexts.{_toml_key(name)}]")
        for key, value in ctx.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def contexts(data: dict[str, Any]) -> dict[str, Context]:
    out: dict[str, Context] = {}
    for name, raw in data.get("contexts", {}).items():
        if not isinstance(raw, dict) or not raw.get("bootstrap-servers"):
            raise BadUsage(f"context {name!r} in {config_path()} has no bootstrap-servers",
                           f"kctl config set-context {name} --bootstrap-server HOST:PORT")
        unknown = set(raw) - set(KEYS)
        if unknown:
            raise BadUsage(f"context {name!r} has unknown settings: {', '.join(sorted(unknown))}",
                           f"known settings: {', '.join(KEYS)}")
        out[name] = Context(name, str(raw["bootstrap-servers"]), str(raw.get("client-id", "kctl")),
                            bool(raw.get("read-only", False)), raw.get("theme"), dict(raw.get("tls", {})),
                            dict(raw.get("sasl", {})), _registry_table(name, raw.get("schema-registry")),
                            _connect_tables(name, raw.get("connect")))
    return out


def _connect_tables(name: str, raw: Any) -> list[dict[str, Any]]:
    """`connect = "URL"`, one `{ name, url, username, password | password-env }`, or a list of them."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        table = {"url": item} if isinstance(item, str) else item
        if not isinstance(table, dict) or not table.get("url"):
            raise BadUsage(f"context {name!r}: each connect cluster needs a url",
                           'connect = [{ name = "main", url = "http://connect:8083" }]')
        table = {"name": table.get("name") or ("default" if index == 0 else f"connect-{index + 1}"), **table}
        if table["name"] in {t["name"] for t in out}:
            raise BadUsage(f"context {name!r}: two connect clusters are named {table['name']!r}")
        out.append(dict(table))
    return out


def _registry_table(name: str, raw: Any) -> dict[str, Any]:
    """`schema-registry = "URL"` or `{ url, username, password | password-env }`."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        return {"url": raw}
    if not isinstance(raw, dict) or not raw.get("url"):
        raise BadUsage(f"context {name!r}: schema-registry needs a url",
                       'schema-registry = { url = "http://registry:8081" }')
    return dict(raw)


def local_context() -> Context:
    from .local import local_address

    return Context(LOCAL, local_address(), local=True)


def resolve(bootstrap: str | None, context_name: str | None) -> Context:
    """The cluster this run talks to (see the module docstring for the order)."""
    bootstrap = bootstrap or os.environ.get("KCTL_BOOTSTRAP_SERVERS") or None
    if bootstrap:
        return Context("(command line)", bootstrap)
    data = load_file()
    known = contexts(data)
    name = context_name or os.environ.get("KCTL_CONTEXT") or data.get("current-context")
    if name:
        if name == LOCAL and LOCAL not in known:
            return local_context()
        if name not in known:
            raise NotFound(f"no context named {name!r}", "list them with `kctl config get-contexts`")
        return known[name]
    return local_context()
