"""OAUTHBEARER on the broker: JWTs checked against the keys of a JWKS, as Kafka's
OAuthBearerValidatorCallbackHandler checks them.

A token is taken when:
- its signature verifies with a key of the JWKS (chosen by `kid`), in an asymmetric algorithm;
- it has not expired (`exp` is required), and `nbf` and `iat` are not in the future, each with
  sasl.oauthbearer.clock.skew.seconds of leeway;
- its `iss` is sasl.oauthbearer.expected.issuer and its `aud` names one of
  sasl.oauthbearer.expected.audience, where those are set;
- it names a principal in sasl.oauthbearer.sub.claim.name (`sub` by default): `User:<that>`.

The JWKS is fetched at start and every sasl.oauthbearer.jwks.endpoint.refresh.ms, and again (at
most every 10 s) when a token is signed with a key it does not hold, so that a rotated key is
taken after one refusal. The checks themselves are sans-IO: `validate` takes the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from kctl.protocol.sasl import Grant, SaslError

from .config import BrokerConfig, ConfigError

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

log = logging.getLogger("broker.oauth")

#: Signature algorithms a token may use: asymmetric ones only, so a JWKS's public key can never be
#: used as an HMAC secret, and never `none`.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
#: The soonest the JWKS is fetched again for a key it does not hold.
UNKNOWN_KEY_REFETCH_S = 10.0


class JwksValidator:
    def __init__(self, url: str, *, audiences: list[str], issuer: str | None, sub_claim: str = "sub",
                 skew_s: float = 30.0, refresh_s: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.audiences = audiences
        self.issuer = issuer
        self.sub_claim = sub_claim
        self.skew_s = skew_s
        self.refresh_s = refresh_s
        self.clock = clock
        self.keys: KeySet | None = None
        self.fetched_at: float | None = None
        self._wanted = asyncio.Event()
        self._asked_at = -UNKNOWN_KEY_REFETCH_S
        self._loop: asyncio.AbstractEventLoop | None = None  # keep_fresh's: HTTP checks run on other threads

    @classmethod
    def from_config(cls, config: BrokerConfig) -> JwksValidator:
        url = config["sasl.oauthbearer.jwks.endpoint.url"]
        if not url:
            raise ConfigError("OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url: where the keys that sign "
                              "the tokens are published")
        if urlparse(url).scheme not in ("http", "https", "file"):
            raise ConfigError(f"sasl.oauthbearer.jwks.endpoint.url {url!r}: use an http, https or file URL")
        audiences = [a.strip() for a in (config["sasl.oauthbearer.expected.audience"] or "").split(",") if a.strip()]
        return cls(url, audiences=audiences, issuer=config["sasl.oauthbearer.expected.issuer"] or None,
                   sub_claim=config["sasl.oauthbearer.sub.claim.name"],
                   skew_s=float(config["sasl.oauthbearer.clock.skew.seconds"]),
                   refresh_s=config["sasl.oauthbearer.jwks.endpoint.refresh.ms"] / 1000)

    # ---- the keys --------------------------------------------------------------------------------
    def load(self, document: bytes | str) -> None:
        """Take a JWKS document (JSON); a bad one raises ValueError and keeps the keys held."""
        import orjson
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        try:
            parsed = orjson.loads(document)
            keys = KeySet.import_key_set(parsed)
        except (orjson.JSONDecodeError, JoseError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a JWKS: {exc}") from None
        if not keys.keys:
            raise ValueError("the JWKS holds no keys")
        self.keys = keys
        self.fetched_at = self.clock()

    async def fetch(self) -> None:
        """Fetch the JWKS once; OSError or ValueError when it cannot be had."""
        parsed = urlparse(self.url)
        if parsed.scheme == "file":
            path = unquote(parsed.path)
            document = await asyncio.get_running_loop().run_in_executor(None, _read_bytes, path)
        else:
            import aiohttp

            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
                        session.get(self.url, headers={"Accept": "application/json"}) as answer:
                    if answer.status != 200:
                        raise OSError(f"HTTP {answer.status}")
                    document = await answer.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise OSError(str(exc) or type(exc).__name__) from None
        self.load(document)

    async def keep_fresh(self) -> None:
        """Fetch every refresh_s, and when a token asks for a key not held (the broker's start
        made the first fetch)."""
        self._loop = asyncio.get_running_loop()
        wait = self.refresh_s if self.keys is not None else 0.0
        while True:
            self._wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), wait)
            try:
                await self.fetch()
                log.info("JWKS from %s: %d key(s)", self.url, len(self.keys.keys) if self.keys else 0)
                wait = self.refresh_s
            except (OSError, ValueError) as exc:
                log.error("cannot fetch the JWKS from %s: %s; OAUTHBEARER logins fail until it can",
                          self.url, exc)
                wait = min(self.refresh_s, UNKNOWN_KEY_REFETCH_S)

    def _ask_for_keys(self) -> None:
        now = self.clock()
        if now - self._asked_at >= UNKNOWN_KEY_REFETCH_S and self._loop is not None:
            self._asked_at = now
            self._loop.call_soon_threadsafe(self._wanted.set)

    # ---- the checks ------------------------------------------------------------------------------
    def validate(self, token: str, extensions: dict[str, str]) -> Grant:
        """The principal a token names and when it expires; SaslError saying why it is refused."""
        from joserfc import jwt
        from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError

        if self.keys is None:
            self._ask_for_keys()
            raise SaslError(f"the broker holds no keys yet (JWKS from {self.url})")
        try:
            decoded = jwt.decode(token, self.keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            self._ask_for_keys()
            raise SaslError("the token is signed with a key id the JWKS does not hold") from None
        except BadSignatureError:
            raise SaslError("the token's signature does not verify") from None
        except JoseError as exc:
            raise SaslError(f"the token is not a usable JWT ({exc.error})") from None
        except ValueError:
            raise SaslError("the token is not a JWT") from None
        claims = decoded.claims
        principal = self.check_claims(claims, self.clock())
        return Grant(principal, int(claims["exp"] * 1000))

    def check_claims(self, claims: dict[str, Any], now: float) -> str:
        skew = self.skew_s
        expires = claims.get("exp")
        if not isinstance(expires, int | float):
            raise SaslError("the token has no exp claim")
        if expires + skew <= now:
            raise SaslError(f"the token expired {now - expires:.0f}s ago")
        for claim, what in (("nbf", "is not valid"), ("iat", "was issued")):
            value = claims.get(claim)
            if value is not None and (not isinstance(value, int | float) or value - skew > now):
                raise SaslError(f"the token {what} until {value} ({claim} is in the future)")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise SaslError(f"the token's issuer {claims.get('iss')!r} is not {self.issuer!r}")
        if self.audiences:
            audience = claims.get("aud")
            named = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
            if not any(a in self.audiences for a in named):
                raise SaslError(f"the token's audience {audience!r} is not one of {', '.join(self.audiences)}")
        principal = claims.get(self.sub_claim)
        if not isinstance(principal, str) or not principal.strip():
            raise SaslError(f"the token names no principal (claim {self.sub_claim!r})")
        return principal


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
