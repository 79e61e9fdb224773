"""AWS MSK IAM tokens from AWS's own signer (aws-msk-iam-sasl-signer-python). There is no MSK here:
the token is held to the signer's documented format (a base64url SigV4-presigned
`kafka-cluster:Connect` URL), its signature is recomputed from AWS's published SigV4 example keys,
and it goes over the wire as any OAUTHBEARER token does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from kctl.client.oauth import MskIamToken, OAuthBearerAuthenticator, TokenError
from kctl.protocol.sasl import OAuthBearerClient, parse_oauthbearer_message

pytest.importorskip("aws_msk_iam_sasl_signer")

#: AWS's example credentials from the SigV4 documentation.
ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key: HMAC chain over date, region, service and "aws4_request"."""
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def test_the_sigv4_key_derivation_matches_aws_s_published_vector() -> None:
    """AWS's documented example: 20150830, us-east-1, iam."""
    assert signing_key(SECRET_KEY, "20150830", "us-east-1", "iam").hex() == \
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


async def test_the_token_is_a_presigned_kafka_cluster_connect_url_signed_with_sigv4(aws_env: None) -> None:
    before = time.time()
    token = await MskIamToken("eu-west-1").fetch()
    assert "=" not in token.value and "+" not in token.value and "/" not in token.value  # base64url, unpadded
    url = base64.urlsafe_b64decode(token.value + "=" * (-len(token.value) % 4)).decode()
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "kafka.eu-west-1.amazonaws.com", "/")
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    assert params["Action"] == "kafka-cluster:Connect"
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-SignedHeaders"] == "host"
    assert params["X-Amz-Expires"] == "900"
    assert params["User-Agent"].startswith("aws-msk-iam-sasl-signer-python/")
    stamp = params["X-Amz-Date"]
    date = stamp[:8]
    assert params["X-Amz-Credential"] == f"{ACCESS_KEY}/{date}/eu-west-1/kafka-cluster/aws4_request"
    # The token lives as long as the signature: X-Amz-Date plus X-Amz-Expires.
    signed_at = time.mktime(time.strptime(stamp, "%Y%m%dT%H%M%SZ")) - time.timezone
    assert token.expires_at == signed_at + 900 and before - 2 <= signed_at <= time.time() + 1

    # Recompute the signature: the canonical request of a presigned GET (every parameter but the
    # signature and the User-Agent the signer adds after signing, and the hash of the empty body),
    # then the string to sign.
    signed = sorted((k, v) for k, v in query if k not in ("X-Amz-Signature", "User-Agent"))
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in signed)
    empty_body = hashlib.sha256(b"").hexdigest()
    canonical = "\n".join(["GET", "/", canonical_query, f"host:{parts.netloc}", "", "host", empty_body])
    scope = f"{date}/eu-west-1/kafka-cluster/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(signing_key(SECRET_KEY, date, "eu-west-1", "kafka-cluster"), to_sign.encode(),
                        hashlib.sha256).hexdigest()
    assert params["X-Amz-Signature"] == expected


async def test_the_token_goes_over_the_wire_as_any_oauthbearer_token(aws_env: None) -> None:
    authenticator = OAuthBearerAuthenticator(MskIamToken("us-east-1"))
    token = await authenticator.tokens.get()
    message = OAuthBearerClient(token.value, authenticator.extensions).first()
    assert message == b"n,,\x01auth=Bearer " + token.value.encode() + b"\x01\x01"
    assert parse_oauthbearer_message(message) == (token.value, {})
    assert authenticator.tokens.source.description == "AWS MSK IAM in us-east-1 (the default credential chain)"


async def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with pytest.raises(TokenError, match="AWS MSK IAM"):
        await MskIamToken("us-east-1").fetch()
    with pytest.raises(TokenError, match="AWS MSK IAM"):
        await MskIamToken("us-east-1", profile="no-such-profile").fetch()
