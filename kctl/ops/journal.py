"""The change journal: what kctl changed on which cluster, who, when, with the state before and
after, and how to take it back.

Every change is written before it is applied and completed after it, one JSON line each, to
`$XDG_STATE_HOME/kctl/journal/changes.jsonl`. A change whose completion never came (kctl was
killed, the machine went down) reads as "unknown": it may or may not have been applied, and
history says so instead of losing it.

The kinds, with their inverse (`inverse`):
- `config`: the overrides of the keys it touched, before and after. Undone by setting the
  previous values back and deleting the keys that had none.
- `partitions`: the partition count before and after. No inverse: Kafka cannot take
  partitions away from a topic.
- `acls-created` / `acls-deleted`: the bindings. Undone by deleting or creating them.
- `quotas`: an entity's quota values before and after. Undone by setting them back.
- `offsets`: a group's committed offsets before and after a reset (topic, partition, offset;
  none where it had none). Undone by committing the old ones and deleting those it lacked, as
  `groups undo-reset` does.
- `reassignment`: each moved partition's replicas before and after. Undone by reassigning them
  back, as `reassign undo` does.
- `records-deleted`: each partition's log start offset before and the one asked for. No
  inverse: deleted records are gone.
- `schema-compatibility` / `schema-mode`: a Schema Registry subject's own level or mode (or the
  registry's), before and after; none where the subject had none of its own. Undone by setting
  the old one back, or deleting the subject's own so that the registry's applies again. The
  registry's URL stands for the cluster.
- `connector-created` / `connector-config` / `connector-deleted`: a Kafka Connect connector's
  config before and after (none where there was no connector). Undone by deleting the connector,
  putting the old config back, or creating it again with its config (its offsets were kept, so
  it carries on where it was). The Kafka cluster Connect works on stands for the cluster.

Each change is undone through the service it was made on (`Inverse.service`): the cluster's
admin, the registry or the Connect cluster.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kctl.client import Admin, TopicPartition
from kctl.protocol.acl import AclBinding, AclOperation, AclPermission, PatternType, ResourceType
from kctl.protocol.clock import now_ms

from .errors import OpsError
from .saves import state_dir_of

T = TypeVar("T")

KINDS = ("config", "partitions", "acls-created", "acls-deleted", "quotas", "offsets", "reassignment",
         "records-deleted", "schema-compatibility", "schema-mode", "connector-created", "connector-config",
         "connector-deleted")
#: Where a change is made and undone: the Kafka cluster (an Admin), a Schema Registry or Connect.
KAFKA, REGISTRY, CONNECT = "kafka", "registry", "connect"


@dataclass
class Change:
    id: str
    kind: str
    cluster_id: str | None
    context: str
    user: str
    host: str
    at_ms: int
    command: list[str]
    target: dict[str, Any]
    before: Any
    after: Any
    undoes: str | None = None
    #: pending (being applied by a live process), applied, failed, or unknown (never completed).
    outcome: str = "pending"
    error: str | None = None
    pid: int = field(default_factory=os.getpid)

    def summary(self) -> str:
        t = self.target
        if self.kind == "config":
            what = ", ".join(f"{k}={v}" if v is not None else f"{k} (default)" for k, v in self.after.items())
            return f"{t['resource']} {t['name'] or '(default)'}: {what}"
        if self.kind == "partitions":
            return f"topic {t['topic']}: {self.before} -> {self.after} partitions"
        if self.kind in ("acls-created", "acls-deleted"):
            verb = "created" if self.kind == "acls-created" else "deleted"
            return f"{len(self.after if verb == 'created' else self.before)} ACL(s) {verb}"
        if self.kind == "quotas":
            return f"quotas of {t['entity']}: {self.after}"
        if self.kind == "records-deleted":
            return f"topic {t['topic']}: records deleted before " + ", ".join(
                f"[{partition}] {offset}" for partition, offset in self.after)
        if self.kind == "reassignment":
            return f"{len(self.after)} partition(s) reassigned"
        if self.kind == "offsets":
            return f"group {t['group']}: offsets of {len(self.after)} partition(s) set"
        if self.kind in ("schema-compatibility", "schema-mode"):
            what = "compatibility" if self.kind == "schema-compatibility" else "mode"
            whose = f"subject {t['subject']}" if t["subject"] else "the registry"
            return f"{what} of {whose}: {self.before or '(the registry default)'} -> {self.after}"
        if self.kind == "connector-created":
            return f"connector {t['connector']} created ({self.after.get('connector.class', '?')})"
        if self.kind == "connector-deleted":
            return f"connector {t['connector']} deleted"
        if self.kind == "connector-config":
            changed = sorted(k for k in set(self.before) | set(self.after) if self.before.get(k) != self.after.get(k))
            return f"connector {t['connector']}: {', '.join(changed) or 'nothing'} changed"
        return self.kind

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "when_ms": self.at_ms, "cluster": self.cluster_id, "context": self.context,
                "user": self.user, "kind": self.kind, "change": self.summary(),
                "applied": {"applied": "yes", "failed": "no", "unknown": "unknown",
                            "pending": "in progress"}[self.outcome],
                "undoes": self.undoes, "command": " ".join(self.command)}


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir_of("journal") / "changes.jsonl"

    def _append(self, entry: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write per line: lines from two kctl processes never interleave
            os.fsync(fd)  # on disk before the cluster is touched
        finally:
            os.close(fd)

    @asynccontextmanager
    async def change(self, *, kind: str, cluster_id: str | None, context: str, command: list[str],
                     target: dict[str, Any], before: Any, after: Any, undoes: str | None = None
                     ) -> AsyncIterator[Change]:
        """Write the change, let the caller apply it, then complete it: applied, or failed with
        the error (which goes on up)."""
        change = Change(id=secrets.token_hex(4), kind=kind, cluster_id=cluster_id, context=context,
                        user=getpass.getuser(), host=socket.gethostname(), at_ms=now_ms(), command=command,
                        target=target, before=before, after=after, undoes=undoes)
        self._append({"event": "begin", **asdict(change)})
        try:
            yield change
        except BaseException as exc:
            self._append({"event": "end", "id": change.id, "outcome": "failed", "error": str(exc) or repr(exc)})
            raise
        self._append({"event": "end", "id": change.id, "outcome": "applied"})
        change.outcome = "applied"

    def changes(self, *, cluster: str | None = None, since_ms: int | None = None) -> list[Change]:
        """Every change, oldest first; a torn last line (a crash mid-write) is skipped."""
        found: dict[str, Change] = {}
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("event") == "begin":
                entry.pop("event")
                found[entry["id"]] = Change(**entry)
            elif entry.get("event") == "end" and entry.get("id") in found:
                found[entry["id"]].outcome = entry["outcome"]
                found[entry["id"]].error = entry.get("error")
        out = list(found.values())
        for change in out:
            if change.outcome == "pending" and not _alive(change.pid):
                change.outcome = "unknown"
        return [c for c in out if (cluster is None or c.cluster_id == cluster or c.context == cluster)
                and (since_ms is None or c.at_ms >= since_ms)]

    def find(self, wanted: str) -> Change:
        matches = [c for c in self.changes() if c.id.startswith(wanted)]
        if not matches:
            raise OpsError(f"no change {wanted!r} in the journal", "`kctl history` lists them")
        if len(matches) > 1:
            raise OpsError(f"{wanted!r} names {len(matches)} changes", "give more of the id")
        return matches[0]


async def recorded(admin: Admin, context: str, command: list[str], kind: str, target: dict[str, Any], before: Any,
                   after: Any, apply: Callable[[], Awaitable[T]], *, journal: Journal | None = None,
                   undoes: str | None = None) -> T:
    """Apply a change to the cluster `admin` talks to, journaled around it."""
    return await journaled(admin.cluster.cluster_id, context, command, kind, target, before, after, apply,
                           journal=journal, undoes=undoes)


async def journaled(cluster_id: str | None, context: str, command: list[str], kind: str, target: dict[str, Any],
                    before: Any, after: Any, apply: Callable[[], Awaitable[T]], *, journal: Journal | None = None,
                    undoes: str | None = None) -> T:
    """Apply a change to whatever `cluster_id` names (a Kafka cluster, or a registry's URL),
    journaled around it."""
    async with (journal or Journal()).change(kind=kind, cluster_id=cluster_id, context=context,
                                             command=command, target=target, before=before, after=after,
                                             undoes=undoes):
        return await apply()


async def connect_cluster_id(client: Any) -> str | None:
    """The Kafka cluster a Connect cluster works on: the id its changes are journaled under."""
    return str((await client.info()).get("kafka_cluster_id") or "") or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# ---- state before, and the inverse ------------------------------------------------------------
async def config_overrides(admin: Admin, resource_type: int, name: str, keys: Iterable[str]) -> dict[str, str | None]:
    """The current override of each key (None where the key has none and its default applies)."""
    from .topics import config_rows

    rows = {r["name"]: r for r in await config_rows(admin, resource_type, name)}
    return {key: (rows[key]["value"] if key in rows else None) for key in keys}


async def quota_values(admin: Admin, names: Mapping[str, str | None], keys: Iterable[str]) -> dict[str, float | None]:
    """An entity's current value of each quota key (None where it has none)."""
    current: dict[str, float] = {}
    for entity, values in await admin.describe_client_quotas(list(names.items()), strict=True):
        if dict(entity) == dict(names):
            current = values
    return {key: current.get(key) for key in keys}


def acl_json(binding: AclBinding) -> dict[str, Any]:
    return {"resource_type": binding.resource_type.name, "resource_name": binding.resource_name,
            "pattern_type": binding.pattern_type.name, "principal": binding.principal, "host": binding.host,
            "operation": binding.operation.name, "permission": binding.permission.name}


def acl_from_json(raw: Mapping[str, Any]) -> AclBinding:
    return AclBinding(ResourceType[raw["resource_type"]], raw["resource_name"], PatternType[raw["pattern_type"]],
                      raw["principal"], raw["host"], AclOperation[raw["operation"]],
                      AclPermission[raw["permission"]])


@dataclass
class Inverse:
    """What undoing a change would do (`plan`, shown on a dry run), and how (`apply`), or why it
    cannot be undone (`impossible`)."""

    change: Change
    plan: list[str]
    #: Given the client of `service`: an Admin, a RegistryClient or a ConnectClient.
    apply: Callable[[Any], Awaitable[None]] | None = None
    impossible: str | None = None
    kind: str = ""
    target: dict[str, Any] = field(default_factory=dict)
    before: Any = None
    after: Any = None
    service: str = KAFKA


def _values_back(before: Mapping[str, Any], what: str, unset: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """Keyed values going back to `before`: those to set, those to remove (they had none), and
    the plan's lines."""
    restore = {k: v for k, v in before.items() if v is not None}
    delete = [k for k, v in before.items() if v is None]
    plan = [f"{what}: set {k}={v}" for k, v in restore.items()] + [f"{what}: {unset.format(k)}" for k in delete]
    return restore, delete, plan


def inverse(change: Change) -> Inverse:
    t = change.target
    if change.outcome == "failed":
        return Inverse(change, [], impossible="it failed: nothing was changed to undo")
    if change.kind == "partitions":
        return Inverse(change, [], impossible=(
            f"Kafka cannot take partitions away from a topic: {t['topic']} keeps {change.after}. Records keyed "
            "to the new partitions stay there; recreating the topic is the only way back, and it deletes its "
            "records"))
    if change.kind == "records-deleted":
        moved = ", ".join(f"[{p}] {old} -> {new}" for (p, old), (_, new) in zip(change.before, change.after,
                                                                                 strict=True))
        return Inverse(change, [], impossible=(
            f"deleted records are gone: the log start of {t['topic']} moved ({moved}) and Kafka keeps nothing "
            "before it"))
    if change.kind == "config":
        restore, delete, plan = _values_back(change.before, f"{t['resource']} {t['name'] or '(default)'}",
                                             "delete {} (back to the default)")

        async def apply_config(admin: Admin) -> None:
            await admin.alter_configs(t["resource_type"], t["name"] or "", set_configs=restore, delete=delete)

        return Inverse(change, plan, apply_config, kind="config", target=t, before=change.after, after=change.before)
    if change.kind in ("acls-created", "acls-deleted"):
        created = change.kind == "acls-created"
        bindings = [acl_from_json(raw) for raw in (change.after if created else change.before)]
        plan = [f"{'delete' if created else 'create'} {b.permission.name} {b.principal} {b.operation.name} on "
                f"{b.resource_type.name.lower()} {b.resource_name} ({b.pattern_type.name.lower()}, host {b.host})"
                for b in bindings]

        async def apply_acls(admin: Admin) -> None:
            from kctl.protocol.acl import AclFilter

            if created:
                await admin.delete_acls([AclFilter(b.resource_type, b.resource_name, b.pattern_type, b.principal,
                                                   b.host, b.operation, b.permission) for b in bindings])
            else:
                await admin.create_acls(bindings)

        return Inverse(change, plan, apply_acls, kind="acls-deleted" if created else "acls-created", target=t,
                       before=change.after, after=change.before)
    if change.kind == "quotas":
        restore, delete, plan = _values_back(change.before, f"quotas of {t['entity']}", "remove {}")

        async def apply_quotas(admin: Admin) -> None:
            from .quotas import delete_quotas, set_quotas

            if restore:
                await set_quotas(admin, t["names"], restore)
            if delete:
                await delete_quotas(admin, t["names"], delete)

        return Inverse(change, plan, apply_quotas, kind="quotas", target=t, before=change.after, after=change.before)
    if change.kind == "offsets":
        group = t["group"]
        previous = [(topic, partition, offset) for topic, partition, offset in change.before]
        plan = [f"group {group}: {topic}[{partition}] back to "
                + (str(offset) if offset is not None else "no offset (deleted)")
                for topic, partition, offset in previous]

        async def apply_offsets(admin: Admin) -> None:
            from .groups.resets import mark_reset_undone, restore_offsets

            await restore_offsets(admin, group, previous)
            mark_reset_undone(group, previous)

        current = [(topic, partition, offset) for topic, partition, offset in change.after]
        return Inverse(change, plan, apply_offsets, kind="offsets", target=t, before=current, after=previous)
    if change.kind == "reassignment":
        back = {TopicPartition(topic, partition): list(replicas) for topic, partition, replicas in change.before}
        plan = [f"{tp.topic}[{tp.partition}]: replicas back to {replicas}" for tp, replicas in back.items()]

        async def apply_reassignment(admin: Admin) -> None:
            from .reassign import execute, preview

            await execute(admin, await preview(admin, back), None)

        return Inverse(change, plan, apply_reassignment, kind="reassignment", target=t, before=change.after,
                       after=change.before)
    if change.kind in ("schema-compatibility", "schema-mode"):
        return _registry_inverse(change)
    if change.kind in ("connector-created", "connector-config", "connector-deleted"):
        return _connector_inverse(change)
    return Inverse(change, [], impossible=f"kctl has no inverse for a {change.kind} change")


def _registry_inverse(change: Change) -> Inverse:
    t = change.target
    setting = "compatibility" if change.kind == "schema-compatibility" else "mode"
    subject: str | None = t["subject"]
    whose = f"subject {subject}" if subject else "the registry"
    plan = [f"{setting} of {whose}: back to {change.before}" if change.before is not None else
            f"{setting} of {whose}: remove its own ({change.after}); the registry's applies again"]

    async def apply_setting(registry: Any) -> None:
        if change.before is None:
            assert subject is not None  # the registry itself always has a level and a mode
            await registry.delete_setting(setting, subject)
        elif setting == "compatibility":
            await registry.set_compatibility(change.before, subject)
        else:
            await registry.set_mode(change.before, subject)

    return Inverse(change, plan, apply_setting, kind=change.kind, target=t, before=change.after,
                   after=change.before, service=REGISTRY)


def _connector_inverse(change: Change) -> Inverse:
    t = change.target
    name = t["connector"]
    if change.kind == "connector-created":
        plan, kind = [f"delete connector {name} (its tasks stop)"], "connector-deleted"
    elif change.kind == "connector-deleted":
        plan = [f"create connector {name} again with its config ({len(change.before)} keys)"]
        kind = "connector-created"
    else:
        changed = sorted(k for k in set(change.before) | set(change.after)
                         if change.before.get(k) != change.after.get(k))
        plan = [f"connector {name}: {k} back to {change.before.get(k, '(unset)')}"
                for k in changed]
        kind = "connector-config"

    async def apply_connector(connect: Any) -> None:
        if change.kind == "connector-created":
            await connect.delete(name)
        elif change.kind == "connector-deleted":
            await connect.create(name, change.before)
        else:
            await connect.put_config(name, change.before)

    return Inverse(change, plan, apply_connector, kind=kind, target=t, before=change.after, after=change.before,
                   service=CONNECT)
