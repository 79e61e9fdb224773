"""SASL on the broker's listener: which mechanisms it takes and whose credentials.

With `sasl.enabled.mechanisms` set, a connection may send only ApiVersions, SaslHandshake and
SaslAuthenticate until it has authenticated; anything else closes it. PLAIN users come from the
config file's `[sasl.users]` table (name = password); SCRAM users from there too and from
AlterUserScramCredentials, kept salted in the data directory (`users.py`), never as passwords.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kctl.protocol.sasl import PlainServer, ScramServer

from .config import BrokerConfig, ConfigError
from .users import ScramUsers


@dataclass(slots=True)
class SaslSettings:
    scram: ScramUsers
    mechanisms: list[str] = field(default_factory=list)
    plain: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return bool(self.mechanisms)

    @classmethod
    def from_config(cls, config: BrokerConfig, data_dir: Path) -> SaslSettings:
        raw = config["sasl.enabled.mechanisms"]
        mechanisms = [m for m in (raw or "").split(",") if m]
        users = dict(config.sasl_users)
        scram = ScramUsers(data_dir, users, mechanisms)
        if mechanisms and not users and not any(scram.credentials(m) for m in mechanisms if m != "PLAIN"):
            raise ConfigError("sasl.enabled.mechanisms is set but [sasl.users] names nobody")
        return cls(scram, mechanisms, users if "PLAIN" in mechanisms else {})

    def server_for(self, mechanism: str) -> PlainServer | ScramServer:
        if mechanism == "PLAIN":
            return PlainServer(self.plain)
        return ScramServer(mechanism, self.scram.credentials(mechanism))
