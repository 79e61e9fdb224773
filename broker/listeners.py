"""Listeners: each with its name, address, the address clients are told, and a security protocol.

As Kafka: `listeners = "NAME://HOST:PORT,..."`, `advertised.listeners` by the same names, and
`listener.security.protocol.map = "NAME:PROTOCOL,..."` (names that are protocols map to
themselves). PLAINTEXT and SSL take no SASL; SASL_PLAINTEXT and SASL_SSL require it; SSL and
SASL_SSL speak TLS with the broker's `ssl.*` settings.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from .config import BrokerConfig, ConfigError, parse_host_port

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
CLIENT_AUTH = ("none", "requested", "required")


@dataclass(slots=True)
class Listener:
    name: str
    protocol: str
    host: str
    port: int  # 0 until bound, when asked for any free port
    advertised_host: str
    advertised_port: int
    ssl_context: ssl.SSLContext | None = None

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def bound(self, port: int) -> None:
        """The port the socket got (for port 0), advertised too where the advertised one was 0."""
        if self.advertised_port in (0, self.port):
            self.advertised_port = port
        self.port = port


def _entries(value: str, what: str) -> list[tuple[str, str]]:
    """`NAME://HOST:PORT,...` as (NAME, HOST:PORT) pairs."""
    out = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        name, sep, address = item.partition("://")
        if not sep or not name:
            raise ConfigError(f"{what}: {item!r} is not NAME://HOST:PORT")
        out.append((name.upper(), address))
    return out


def protocol_map(config: BrokerConfig) -> dict[str, str]:
    mapping = {p: p for p in PROTOCOLS}
    for item in (v.strip() for v in (config["listener.security.protocol.map"] or "").split(",") if v.strip()):
        name, sep, protocol = item.partition(":")
        if not sep or protocol.upper() not in PROTOCOLS:
            raise ConfigError(f"listener.security.protocol.map: {item!r} is not NAME:PROTOCOL "
                              f"(one of {', '.join(PROTOCOLS)})")
        mapping[name.upper()] = protocol.upper()
    return mapping


def parse_listeners(config: BrokerConfig, data_dir: Path | None = None) -> list[Listener]:
    """The broker's listeners, with an SSL context for those that speak TLS; ConfigError names
    what is wrong."""
    mapping = protocol_map(config)
    listeners: list[Listener] = []
    for name, address in _entries(config["listeners"], "listeners"):
        if name not in mapping:
            raise ConfigError(f"listener {name} has no security protocol: add {name}:PROTOCOL to "
                              "listener.security.protocol.map")
        if any(existing.name == name for existing in listeners):
            raise ConfigError(f"listener {name} is named twice in listeners")
        host, port = parse_host_port(address, f"listener {name}")
        advertised = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        listeners.append(Listener(name, mapping[name], host, port, advertised, port))
    if not listeners:
        raise ConfigError("listeners names no listener")
    advertised_value = config["advertised.listeners"]
    for name, address in _entries(advertised_value or "", "advertised.listeners"):
        found = next((listener for listener in listeners if listener.name == name), None)
        if found is None:
            raise ConfigError(f"advertised.listeners names {name}, which listeners does not")
        found.advertised_host, found.advertised_port = parse_host_port(address, f"advertised listener {name}")
    tls = [listener for listener in listeners if listener.tls]
    if tls:
        context = ssl_context(config)
        for listener in tls:
            listener.ssl_context = context
    if config["sasl.enabled.mechanisms"] and not any(listener.sasl for listener in listeners):
        raise ConfigError("sasl.enabled.mechanisms is set but no listener takes SASL: name one SASL_PLAINTEXT "
                          "or SASL_SSL, e.g. listeners = \"SASL_PLAINTEXT://127.0.0.1:9092\"")
    return listeners


def ssl_context(config: BrokerConfig) -> ssl.SSLContext:
    """The server side of TLS from PEM files: `ssl.keystore.location` (the certificate chain and
    its private key), `ssl.key.password` if the key is encrypted, `ssl.truststore.location` (the
    CAs client certificates must chain to) and `ssl.client.auth`."""
    keystore = config["ssl.keystore.location"]
    if not keystore:
        raise ConfigError("an SSL or SASL_SSL listener needs ssl.keystore.location (a PEM file with the "
                          "certificate chain and its private key)")
    if (config["ssl.keystore.type"] or "PEM").upper() != "PEM":
        raise ConfigError("ssl.keystore.type: only PEM files are supported (convert a JKS or PKCS12 store "
                          "with keytool and openssl)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(keystore, password=config["ssl.key.password"])
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ssl.keystore.location {keystore}: {exc}") from None
    auth = (config["ssl.client.auth"] or "none").lower()
    if auth not in CLIENT_AUTH:
        raise ConfigError(f"ssl.client.auth must be one of {', '.join(CLIENT_AUTH)}, got {auth!r}")
    truststore = config["ssl.truststore.location"]
    if auth != "none":
        if not truststore:
            raise ConfigError("ssl.client.auth needs ssl.truststore.location: the CAs client certificates chain to")
        try:
            context.load_verify_locations(truststore)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"ssl.truststore.location {truststore}: {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED if auth == "required" else ssl.CERT_OPTIONAL
    return context
