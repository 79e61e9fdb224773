"""SASL/OAUTHBEARER for the client (KIP-255, KIP-768): where a token comes from, when it is
renewed, and the exchange that carries it.

    source = ClientCredentials("https://idp.example/oauth2/token", "kctl", secret, scope="kafka")
    Cluster(..., authenticator=OAuthBearerAuthenticator(source, {"logicalCluster": "lkc-abc"}))

Where tokens come from (`TokenSource`):
- `ClientCredentials`: OIDC client credentials against a token endpoint, as Kafka's
  `OAuthBearerLoginCallbackHandler` fetches them (client id and secret in HTTP basic auth);
- `TokenFile`: a file that something else keeps fresh (an agent, a sidecar), read at each renewal;
- `TokenCommand`: a command whose standard output is the token (a vault, a cloud CLI);
- `MskIamToken`: AWS MSK IAM's signed token, from AWS's own signer and credential chain.

A token is renewed once 80% of its lifetime has passed (Kafka's sasl.login.refresh.window.factor),
so a connection opened later never presents an expired one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from kctl.protocol.errors import ErrorCode
from kctl.protocol.sasl import OAuthBearerClient, SaslError

from .errors import KafkaError
from .sasl import exchange_tokens

if TYPE_CHECKING:
    from .connection import BrokerConnection

log = logging.getLogger("kctl.client.oauth")

#: Renew once this share of a token's lifetime has passed (Kafka's default window factor).
REFRESH_FACTOR = 0.8
#: How long a token with no expiry of its own (an opaque token from a file or a command) is used.
UNKNOWN_LIFETIME_S = 300.0


class TokenError(KafkaError):
    """No token could be had: the endpoint refused, the file is missing, the command failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ErrorCode.SASL_AUTHENTICATION_FAILED, retriable=False)


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    issued_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    principal: str | None  # the token's subject, when it says

    @property
    def lifetime_s(self) -> float:
        return self.expires_at - self.issued_at


def jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking the signature (the broker checks it): when the token
    expires and whom it names. {} for a token that is not a JWT (an opaque token)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_from(value: str, now: float, *, expires_in: float | None = None, sub_claim: str = "sub") -> Token:
    """A token as kctl tracks it: it expires at its `exp` claim or after the endpoint's
    `expires_in`, whichever comes first (a JWT's `exp` is whole seconds, and brokers go by it),
    else after UNKNOWN_LIFETIME_S."""
    value = value.strip()
    if not value:
        raise TokenError("the token is empty")
    claims = jwt_claims(value)
    candidates = [now + expires_in] if expires_in is not None else []
    if isinstance(claims.get("exp"), int | float):
        candidates.append(float(claims["exp"]))
    expires_at = min(candidates) if candidates else now + UNKNOWN_LIFETIME_S
    subject = claims.get(sub_claim)
    return Token(value, now, expires_at, subject if isinstance(subject, str) else None)


class TokenSource(Protocol):
    #: Where tokens come from, for messages and the console (never the secret itself).
    description: str

    async def fetch(self) -> Token: ...


@dataclass
class ClientCredentials:
    """OIDC client credentials (RFC 6749 section 4.4) against a token endpoint."""

    endpoint: str
    client_id: str
    client_secret: str
    scope: str | None = None
    audience: str | None = None
    timeout_s: float = 30.0
    sub_claim: str = "sub"
    clock: Callable[[], float] = time.time

    @property
    def description(self) -> str:
        return f"client credentials of {self.client_id!r} from {self.endpoint}"

    async def fetch(self) -> Token:
        import aiohttp

        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        # Kafka's login handler URL-encodes both halves of the basic credentials; so do we.
        basic = base64.b64encode(f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}".encode())
        headers = {"Accept": "application/json", "Authorization": f"Basic {basic.decode()}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session, \
                    session.post(self.endpoint, data=form, headers=headers) as answer:
                body = await answer.text()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TokenError(f"token endpoint {self.endpoint}: {exc or type(exc).__name__}") from None
        if status != 200:
            raise TokenError(f"token endpoint {self.endpoint} answered HTTP {status}: {body.strip()[:300]}")
        try:
            document = json.loads(body)
            value = document["access_token"]
        except (ValueError, KeyError, TypeError):
            raise TokenError(f"token endpoint {self.endpoint} sent no access_token: {body.strip()[:300]}") from None
        expires_in = document.get("expires_in") if isinstance(document, dict) else None
        return token_from(str(value), self.clock(), sub_claim=self.sub_claim,
                          expires_in=float(expires_in) if isinstance(expires_in, int | float) else None)


@dataclass
class TokenFile:
    """A token kept fresh in a file by something else; read again at each renewal."""

    path: Path
    clock: Callable[[], float] = time.time

    @property
    def description(self) -> str:
        return f"token file {self.path}"

    async def fetch(self) -> Token:
        try:
            text = self.path.read_text()
        except OSError as exc:
            raise TokenError(f"token file {self.path}: {exc.strerror or exc}") from None
        return token_from(text, self.clock())


@dataclass
class TokenCommand:
    """A command (run by the shell) that prints a token on standard output."""

    command: str
    timeout_s: float = 30.0
    clock: Callable[[], float] = time.time

    @property
    def description(self) -> str:
        return f"token command {self.command!r}"

    async def fetch(self) -> Token:
        process = await asyncio.create_subprocess_shell(self.command, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(), self.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise TokenError(f"token command {self.command!r} printed no token within {self.timeout_s:g}s") from None
        if process.returncode != 0:
            detail = err.decode(errors="replace").strip()[-300:] or "no message"
            raise TokenError(f"token command {self.command!r} exited {process.returncode}: {detail}")
        return token_from(out.decode(errors="replace"), self.clock())


@dataclass
class MskIamToken:
    """AWS MSK IAM: a SigV4-signed `kafka-cluster:Connect` URL, made by AWS's own signer
    (aws-msk-iam-sasl-signer-python) with credentials from the standard AWS chain: the
    environment, a profile, or the instance's role; or a role assumed first."""

    region: str
    profile: str | None = None
    role_arn: str | None = None
    role_session_name: str = "kctl"
    clock: Callable[[], float] = time.time

    @property
    def description(self) -> str:
        how = f"profile {self.profile!r}" if self.profile else f"role {self.role_arn}" if self.role_arn else \
            "the default credential chain"
        return f"AWS MSK IAM in {self.region} ({how})"

    def _generate(self) -> tuple[str, int]:
        try:
            from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
        except ImportError:
            raise TokenError("AWS MSK IAM needs AWS's signer: pip install aws-msk-iam-sasl-signer-python") from None
        try:
            if self.profile:
                token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_profile(self.region, self.profile)
            elif self.role_arn:
                token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_role_arn(
                    self.region, self.role_arn, self.role_session_name)
            else:
                token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(self.region)
        except Exception as exc:  # botocore's credential errors have no common base worth naming
            raise TokenError(f"AWS MSK IAM ({self.region}): {exc}") from None
        return str(token), int(expiry_ms)

    async def fetch(self) -> Token:
        now = self.clock()
        # The signer reads credentials (files, the instance metadata service) synchronously.
        token, expiry_ms = await asyncio.get_running_loop().run_in_executor(None, self._generate)
        return Token(token, now, expiry_ms / 1000, None)


class TokenCache:
    """The current token, renewed from its source once REFRESH_FACTOR of its lifetime has passed.
    A failed renewal while the old token is still valid keeps the old one (and says so)."""

    def __init__(self, source: TokenSource, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.clock = clock
        self.token: Token | None = None
        self.fetched = 0
        self._lock = asyncio.Lock()

    @property
    def renew_at(self) -> float:
        if self.token is None:
            return -math.inf
        return self.token.issued_at + REFRESH_FACTOR * max(0.0, self.token.lifetime_s)

    async def get(self) -> Token:
        async with self._lock:
            now = self.clock()
            if self.token is not None and now < self.renew_at:
                return self.token
            try:
                fresh = await self.source.fetch()
            except TokenError:
                if self.token is not None and now < self.token.expires_at:
                    log.warning("renewing the OAuth token failed; the current one is valid for %.0fs more",
                                self.token.expires_at - now, exc_info=True)
                    return self.token
                raise
            if fresh.expires_at <= now:
                raise TokenError(f"{self.source.description} gave a token that expired "
                                 f"{now - fresh.expires_at:.0f}s ago")
            self.token = fresh
            self.fetched += 1
            return fresh


class OAuthBearerAuthenticator:
    """SASL/OAUTHBEARER with tokens from a source, and the SASL extensions some clusters want
    (Confluent Cloud's `logicalCluster` and `identityPoolId`)."""

    mechanism = "OAUTHBEARER"

    def __init__(self, source: TokenSource, extensions: Mapping[str, str] | None = None) -> None:
        self.tokens = TokenCache(source)
        self.extensions = dict(extensions or {})
        OAuthBearerClient("x", self.extensions)  # bad extensions fail here, not at connect

    @property
    def principal(self) -> str | None:
        token = self.tokens.token
        return token.principal if token is not None else None

    @property
    def expires_at(self) -> float | None:
        token = self.tokens.token
        return token.expires_at if token is not None else None

    async def authenticate(self, connection: BrokerConnection) -> int:
        token = await self.tokens.get()
        try:
            exchange = OAuthBearerClient(token.value, self.extensions)
        except SaslError as exc:
            raise TokenError(f"{self.tokens.source.description}: {exc}") from None
        who = f"{token.principal!r}" if token.principal else f"the token from {self.tokens.source.description}"
        return await exchange_tokens(connection, self.mechanism, exchange, who)
