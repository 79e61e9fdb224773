"""SCRAM users: the broker's live credential store, kept salted in the data directory.

`scram-credentials.json` holds, per user and mechanism, the salt, the iteration count and the two
keys SCRAM derives from the password (never the password: from those a server can check a proof,
not recover what was typed). Users of the config file's `[sasl.users]` are derived at start for
every enabled SCRAM mechanism, unless the file has an entry for that user and mechanism: one set or
deleted through AlterUserScramCredentials (a deletion is kept as `null`) wins over the config file.
Changes take effect for the next authentication, and are on disk before the answer is sent.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kctl.protocol.errors import ErrorCode
from kctl.protocol.sasl import ScramCredential

from .storage import disk

CREDENTIALS_FILE = "scram-credentials.json"
#: AlterUserScramCredentials' mechanism numbers.
MECHANISM_CODES = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}
MECHANISM_NUMBERS = {name: code for code, name in MECHANISM_CODES.items()}
#: The iteration counts Kafka accepts (ScramMechanism's minimum, and its maximum).
MIN_ITERATIONS, MAX_ITERATIONS = 4096, 16384

log = logging.getLogger("broker.users")


@dataclass(frozen=True, slots=True)
class Upsert:
    user: str
    mechanism: int
    iterations: int
    salt: bytes
    salted_password: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    user: str
    error: ErrorCode = ErrorCode.NONE
    message: str | None = None


def _encode(credential: ScramCredential) -> dict[str, object]:
    b64 = base64.b64encode
    return {"salt": b64(credential.salt).decode(), "iterations": credential.iterations,
            "stored_key": b64(credential.stored_key).decode(), "server_key": b64(credential.server_key).decode()}


def _decode(raw: Mapping[str, object]) -> ScramCredential:
    b64 = base64.b64decode
    return ScramCredential(b64(str(raw["salt"])), int(str(raw["iterations"])), b64(str(raw["stored_key"])),
                           b64(str(raw["server_key"])))


class ScramUsers:
    def __init__(self, data_dir: Path, config_users: Mapping[str, str], mechanisms: Iterable[str]) -> None:
        self.path = data_dir / CREDENTIALS_FILE
        #: Per mechanism, user -> credential, or None where the file says the user was deleted.
        self._stored: dict[str, dict[str, ScramCredential | None]] = {m: {} for m in MECHANISM_NUMBERS}
        if self.path.exists():
            for mechanism, users in json.loads(self.path.read_text()).items():
                self._stored.setdefault(mechanism, {}).update(
                    {user: None if raw is None else _decode(raw) for user, raw in users.items()})
        self.live: dict[str, dict[str, ScramCredential]] = {m: {} for m in MECHANISM_NUMBERS}
        for mechanism in MECHANISM_NUMBERS:
            if mechanism in mechanisms:
                for user, password in config_users.items():
                    self.live[mechanism][user] = ScramCredential.derive(mechanism, password)
            for user, stored in self._stored[mechanism].items():
                if stored is None:
                    self.live[mechanism].pop(user, None)
                else:
                    self.live[mechanism][user] = stored

    def deleted(self, user: str) -> bool:
        """Whether the user's credentials were deleted through the API and none are left: such a
        user cannot log in with a [sasl.users] password either (PLAIN, or the registry)."""
        return (any(users.get(user, ...) is None for users in self._stored.values())
                and not any(user in credentials for credentials in self.live.values()))

    def credentials(self, mechanism: str) -> dict[str, ScramCredential]:
        """The users who may authenticate with `mechanism` now (the dict SCRAM exchanges read)."""
        return self.live[mechanism]

    def describe(self, users: list[str] | None) -> list[tuple[str, ErrorCode, list[tuple[int, int]]]]:
        """Per user: an error, and (mechanism number, iterations) of each credential it has."""
        known = sorted({u for creds in self.live.values() for u in creds})
        out = []
        for user in known if users is None else users:
            infos = [(MECHANISM_NUMBERS[m], creds[user].iterations) for m, creds in self.live.items() if user in creds]
            out.append((user, ErrorCode.NONE if infos else ErrorCode.RESOURCE_NOT_FOUND, infos))
        return out

    def alter(self, deletions: list[tuple[str, int]], upsertions: list[Upsert]) -> list[Outcome]:
        """Apply what is valid, as Kafka does (per user: all of that user's changes or none), save,
        and say per user what happened."""
        named = [user for user, _ in deletions] + [u.user for u in upsertions]
        failed: dict[str, Outcome] = {}
        for user in named:
            if named.count(user) > 1:  # as Kafka: even for two mechanisms, one change per user per request
                failed.setdefault(user, Outcome(user, ErrorCode.DUPLICATE_RESOURCE,
                                                "A user credential cannot be altered twice in the same request"))
        for user, mechanism in [*deletions, *((u.user, u.mechanism) for u in upsertions)]:
            if not user:
                failed.setdefault(user, Outcome(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, "the user name is empty"))
            elif mechanism not in MECHANISM_CODES:
                failed.setdefault(user, Outcome(user, ErrorCode.UNSUPPORTED_SASL_MECHANISM,
                                                f"Unknown SCRAM mechanism {mechanism}"))
        for user, mechanism in deletions:
            if mechanism in MECHANISM_CODES and user not in self.live[MECHANISM_CODES[mechanism]]:
                failed.setdefault(user, Outcome(user, ErrorCode.RESOURCE_NOT_FOUND,
                                                "Attempt to delete a user credential that does not exist"))
        for up in upsertions:
            if not MIN_ITERATIONS <= up.iterations <= MAX_ITERATIONS:
                failed.setdefault(up.user, Outcome(up.user, ErrorCode.UNACCEPTABLE_CREDENTIAL,
                                                   f"iterations must be {MIN_ITERATIONS} to {MAX_ITERATIONS}"))
            elif not up.salt or not up.salted_password:
                failed.setdefault(up.user, Outcome(up.user, ErrorCode.UNACCEPTABLE_CREDENTIAL,
                                                   "a salt and a salted password are needed"))
        # Changed on copies, written, and only then put in force: a failed write changes nothing.
        stored = {m: dict(users) for m, users in self._stored.items()}
        live = {m: dict(users) for m, users in self.live.items()}
        for user, mechanism in deletions:
            if user not in failed:
                name = MECHANISM_CODES[mechanism]
                live[name].pop(user, None)
                stored[name][user] = None
        for up in upsertions:
            if up.user not in failed:
                name = MECHANISM_CODES[up.mechanism]
                credential = ScramCredential.from_salted_password(name, up.salted_password, up.salt, up.iterations)
                live[name][up.user] = stored[name][up.user] = credential
        if len(failed) < len(set(named)):
            try:
                disk.write_atomically(self.path, json.dumps(
                    {m: {u: None if c is None else _encode(c) for u, c in users.items()}
                     for m, users in stored.items()}, indent=1, sort_keys=True))
            except OSError as exc:
                log.error("cannot save SCRAM credentials: %s", disk.describe(exc))
                for user in named:
                    failed.setdefault(user, Outcome(user, ErrorCode.KAFKA_STORAGE_ERROR,
                                                    f"the credentials could not be saved: {disk.describe(exc)}"))
            else:
                self._stored = stored
                for name, credentials in live.items():  # in place: SCRAM exchanges hold these dicts
                    self.live[name].clear()
                    self.live[name].update(credentials)
        return [failed.get(user, Outcome(user)) for user in dict.fromkeys(named)]
