"""Certificates for TLS tests, from trustme: a CA, the broker's certificate, client certificates
(a good one, an expired one) and a second CA nobody trusts, as PEM files Kafka's clients read
(private keys in PKCS#8, which Java's PEM key stores need)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization


@dataclass(frozen=True)
class Identity:
    cert: Path  # the certificate chain
    key: Path  # its private key, PKCS#8
    both: Path  # key and chain in one file (Kafka's PEM key store, the broker's ssl.keystore.location)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    broker: Identity
    alice: Identity  # CN=alice,OU=ops,O=kctl
    expired: Identity  # CN=mallory, expired yesterday
    crafted: Identity  # CN=admin\,O=example: one CN with a comma in it, not CN=admin,O=example
    stranger_ca: Path  # a CA that signed nothing here


def _write(folder: Path, name: str, cert: trustme.LeafCert) -> Identity:
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
    (folder / f"{name}.crt").write_bytes(chain)
    (folder / f"{name}.key").write_bytes(pkcs8)
    (folder / f"{name}.pem").write_bytes(pkcs8 + chain)
    return Identity(folder / f"{name}.crt", folder / f"{name}.key", folder / f"{name}.pem")


def make_tls_files(folder: Path) -> TlsFiles:
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="kctl tests")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    stranger = trustme.CA(organization_name="strangers")
    stranger.cert_pem.write_to_path(str(folder / "stranger-ca.pem"))
    now = dt.datetime.now(dt.UTC)
    return TlsFiles(
        folder / "ca.pem",
        _write(folder, "broker", ca.issue_cert("127.0.0.1", "localhost")),
        _write(folder, "alice", ca.issue_cert("alice", common_name="alice", organization_name="kctl",
                                              organization_unit_name="ops")),
        _write(folder, "expired", ca.issue_cert("mallory", common_name="mallory",
                                                not_before=now - dt.timedelta(days=30),
                                                not_after=now - dt.timedelta(days=1))),
        _write(folder, "crafted", ca.issue_cert("crafted", common_name="admin,O=example")),
        folder / "stranger-ca.pem",
    )
