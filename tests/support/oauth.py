"""An OAuth token endpoint and JWKS for the tests: client credentials in, signed JWTs out.

    with TokenEndpoint(clients={"kctl": "kctl-secret"}, audience="kafka") as idp:
        idp.token_url, idp.jwks_url, idp.mint(sub="alice", lifetime_s=-60)  # an expired token

It signs with RSA keys from joserfc (no crypto of our own), serves on a thread of its own so that
synchronous tests and other processes (Apache Kafka, confluent-kafka) can reach it, and counts the
tokens it hands out.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any
from urllib.parse import unquote

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from kctl.client.connection import BrokerConnection
from kctl.client.sasl import exchange_tokens
from kctl.protocol.sasl import OAuthBearerClient
from tests.support.ports import free_port


class TokenEndpoint:
    def __init__(self, *, clients: dict[str, str], audience: str = "kafka", issuer: str = "https://idp.test",
                 lifetime_s: float = 3600.0) -> None:
        self.clients = clients
        self.audience = audience
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self.key = RSAKey.generate_key(2048, parameters={"kid": "signing-1"})
        self.port = free_port()
        self.issued: list[dict[str, Any]] = []  # the claims of each token the endpoint handed out
        self.requests: list[dict[str, str]] = []  # each token request's form
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/jwks"

    # ---- tokens --------------------------------------------------------------------------------
    def claims(self, sub: str, lifetime_s: float | None = None, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iss": self.issuer, "aud": self.audience, "iat": now,
                                  "exp": now + int(self.lifetime_s if lifetime_s is None else lifetime_s),
                                  "scope": "kafka"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, sub: str = "alice", *, lifetime_s: float | None = None, key: RSAKey | None = None,
             kid: str | None = None, **overrides: Any) -> str:
        """A token signed with the endpoint's key (or `key`), with claims overridden as given."""
        signing = key or self.key
        header = {"alg": "RS256", "kid": kid or signing.kid}
        return jwt.encode(header, self.claims(sub, lifetime_s, **overrides), signing)

    def jwks(self) -> dict[str, Any]:
        return KeySet([self.key]).as_dict(private=False)

    # ---- the server ----------------------------------------------------------------------------
    async def _serve(self) -> None:
        from aiohttp import web

        async def token(request: web.Request) -> web.Response:
            form = {k: str(v) for k, v in (await request.post()).items()}
            self.requests.append(form)
            client = self._client(request.headers.get("Authorization", ""), form)
            if client is None:
                return web.json_response({"error": "invalid_client"}, status=401)
            if form.get("grant_type") != "client_credentials":
                return web.json_response({"error": "unsupported_grant_type"}, status=400)
            claims = self.claims(client)
            if form.get("audience"):
                claims["aud"] = form["audience"]
            self.issued.append(claims)
            value = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
            return web.json_response({"access_token": value, "token_type": "Bearer",
                                      "expires_in": claims["exp"] - claims["iat"]})

        async def jwks(request: web.Request) -> web.Response:
            return web.json_response(self.jwks())

        app = web.Application()
        app.router.add_post("/oauth2/token", token)
        app.router.add_get("/jwks", jwks)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def _client(self, authorization: str, form: dict[str, str]) -> str | None:
        """The client the request proves to be: HTTP basic auth (URL-encoded halves), or the form."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        if client_id is None or self.clients.get(client_id) != secret:
            return None
        return client_id

    def start(self) -> TokenEndpoint:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="token endpoint", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the token endpoint did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> TokenEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FixedToken:
    """A client authenticator that presents one token as it is: the broker, not the client, is
    under test."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def authenticate(self, connection: BrokerConnection) -> None:
        await exchange_tokens(connection, "OAUTHBEARER", OAuthBearerClient(self.token), "a test token")

