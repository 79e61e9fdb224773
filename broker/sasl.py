"""SASL on the broker's listener: which mechanisms it takes and whose credentials.

With `sasl.enabled.mechanisms` set, a connection may send only ApiVersions, SaslHandshake and
SaslAuthenticate until it has authenticated; anything else closes it. Users come from the
config file's `[sasl.users]` table (name = password); for SCRAM the broker keeps only salted
keys derived at start, never the password itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kctl.protocol.sasl import PlainServer, ScramCredential, ScramServer

from .config import BrokerConfig, ConfigError


@dataclass(slots=True)
class SaslSettings:
    mechanisms: list[str] = field(default_factory=list)
    plain: dict[str, str] = field(default_factory=dict)
    scram: dict[str, dict[str, ScramCredential]] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return bool(self.mechanisms)

    @classmethod
    def from_config(cls, config: BrokerConfig) -> SaslSettings:
        raw = config["sasl.enabled.mechanisms"]
        mechanisms = [m for m in (raw or "").split(",") if m]
        users = dict(config.sasl_users)
        if mechanisms and not users:
            raise ConfigError("sasl.enabled.mechanisms is set but [sasl.users] names nobody")
        settings = cls(mechanisms)
        if "PLAIN" in mechanisms:
            settings.plain = users
        for mechanism in mechanisms:
            if mechanism.startswith("SCRAM-"):
                settings.scram[mechanism] = {u: ScramCredential.derive(mechanism, p) for u, p in users.items()}
        return settings

    def server_for(self, mechanism: str) -> PlainServer | ScramServer:
        if mechanism == "PLAIN":
            return PlainServer(self.plain)
        return ScramServer(mechanism, self.scram[mechanism])
