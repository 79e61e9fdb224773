"""SASL on the broker's listener: which mechanisms it takes and whose credentials.

With `sasl.enabled.mechanisms` set, a connection may send only ApiVersions, SaslHandshake and
SaslAuthenticate until it has authenticated; anything else closes it. PLAIN users come from the
config file's `[sasl.users]` table (name = password); SCRAM users from there too and from
AlterUserScramCredentials, kept salted in the data directory (`users.py`), never as passwords.
OAUTHBEARER takes JWTs signed by a key of the configured JWKS (`oauth.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

from kctl.protocol.sasl import (
    PASSWORD_MECHANISMS,
    OAuthBearerServer,
    PlainServer,
    SaslError,
    ScramCredential,
    ScramServer,
)

from .config import BrokerConfig, ConfigError
from .oauth import JwksValidator
from .users import ScramUsers


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an HTTP `Authorization: Basic ...` header, if it is one."""
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(authorization[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@dataclass(slots=True)
class SaslSettings:
    scram: ScramUsers
    mechanisms: list[str] = field(default_factory=list)
    plain: dict[str, str] = field(default_factory=dict)
    oauth: JwksValidator | None = None
    _checked: dict[tuple[str, str, bytes], ScramCredential] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return bool(self.mechanisms)

    @classmethod
    def from_config(cls, config: BrokerConfig, data_dir: Path) -> SaslSettings:
        raw = config["sasl.enabled.mechanisms"]
        mechanisms = [m for m in (raw or "").split(",") if m]
        users = dict(config.sasl_users)
        scram = ScramUsers(data_dir, users, mechanisms)
        password_mechanisms = [m for m in mechanisms if m in PASSWORD_MECHANISMS]
        if password_mechanisms and not users and not any(
                scram.credentials(m) for m in password_mechanisms if m != "PLAIN"):
            raise ConfigError(f"sasl.enabled.mechanisms has {', '.join(password_mechanisms)} but [sasl.users] "
                              "names nobody")
        oauth = JwksValidator.from_config(config) if "OAUTHBEARER" in mechanisms else None
        return cls(scram, mechanisms, users if "PLAIN" in mechanisms else {}, oauth)

    def plain_users(self) -> dict[str, str]:
        """The [sasl.users] passwords PLAIN accepts: not those of users deleted through the API."""
        return {user: password for user, password in self.plain.items() if not self.scram.deleted(user)}

    def server_for(self, mechanism: str) -> PlainServer | ScramServer | OAuthBearerServer:
        if mechanism == "PLAIN":
            return PlainServer(self.plain_users())
        if mechanism == "OAUTHBEARER":
            assert self.oauth is not None
            return OAuthBearerServer(self.oauth.validate)
        return ScramServer(mechanism, self.scram.credentials(mechanism))

    def check_http_auth(self, authorization: str | None) -> str | None:
        """The user an HTTP `Authorization` header proves to be, or None: basic auth with a
        password user's password, or a bearer token the OAUTHBEARER checks take."""
        if authorization and authorization[:7].lower() == "bearer " and self.oauth is not None:
            try:
                return self.oauth.validate(authorization[7:].strip(), {}).principal
            except SaslError:
                return None
        credentials = basic_credentials(authorization)
        if credentials is None or not self.check_password(*credentials):
            return None
        return credentials[0]

    def check_password(self, user: str, password: str) -> bool:
        """Whether `password` is the user's, by any of the broker's mechanisms (for HTTP basic auth
        on the registry and metrics). SCRAM passwords are checked by deriving their keys again;
        the answer is remembered per credential, so that PBKDF2 runs once, not per request."""
        known = self.plain_users().get(user) if "PLAIN" in self.mechanisms else None
        if known is not None and hmac.compare_digest(known.encode(), password.encode()):
            return True
        for mechanism in self.mechanisms:
            if mechanism not in PASSWORD_MECHANISMS or mechanism == "PLAIN":
                continue
            credential = self.scram.credentials(mechanism).get(user)
            if credential is None:
                continue
            key = (mechanism, user, hashlib.sha256(password.encode()).digest())
            if self._checked.get(key) is credential:
                return True
            derived = ScramCredential.derive(mechanism, password, salt=credential.salt,
                                             iterations=credential.iterations)
            if hmac.compare_digest(derived.stored_key, credential.stored_key):
                self._checked[key] = credential
                return True
        return False
