"""Client certificate principals as Kafka builds them: the subject in RFC 2253 form with its
escaping (X500Principal.getName()), then `ssl.principal.mapping.rules` (SslPrincipalMapper). Java
and Kafka's own classes are the oracle; then a crafted certificate against a broker with ACLs."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from broker.config import ConfigError
from broker.tls import NoMatchingRule, PrincipalMapper, principal_of, subject_of
from tests.support.apache_kafka import require_jars

ORACLE = Path(__file__).resolve().parents[1] / "support" / "java" / "PrincipalOracle.java"

SUBJECTS: dict[str, list[tuple[x509.ObjectIdentifier, str]]] = {
    "comma in CN": [(NameOID.COMMON_NAME, "admin,O=example")],
    "plain": [(NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "Sun Microsystems"),
              (NameOID.ORGANIZATIONAL_UNIT_NAME, "JavaSoft"), (NameOID.COMMON_NAME, "Duke")],
    "service user": [(NameOID.ORGANIZATION_NAME, "Org"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "ServiceUsers"),
                     (NameOID.COMMON_NAME, "Duke")],
    "full": [(NameOID.COUNTRY_NAME, "US"), (NameOID.STATE_OR_PROVINCE_NAME, "MD"),
             (NameOID.LOCALITY_NAME, "Fulton"), (NameOID.ORGANIZATION_NAME, "mycp"),
             (NameOID.ORGANIZATIONAL_UNIT_NAME, "SME"), (NameOID.COMMON_NAME, "Duke")],
    "specials": [(NameOID.COMMON_NAME, 'a+b "q" <x> ;y\\z')],
    "leading hash and spaces": [(NameOID.COMMON_NAME, "#lead "), (NameOID.ORGANIZATION_NAME, " o")],
    "unicode": [(NameOID.COMMON_NAME, "Jürgen Übermann")],
    "email": [(NameOID.ORGANIZATION_NAME, "kctl"), (NameOID.EMAIL_ADDRESS, "ops@example.com"),
              (NameOID.COMMON_NAME, "ops")],
    "domain parts": [(NameOID.DOMAIN_COMPONENT, "com"), (NameOID.DOMAIN_COMPONENT, "example"),
                     (NameOID.USER_ID, "u42"), (NameOID.COMMON_NAME, "svc")],
}

RULES = [
    "DEFAULT",
    "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
    "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,DEFAULT",
    "RULE:^CN=([a-z]+).*$/$1/",  # no DEFAULT: some subjects have no name
    "RULE:^CN=(.*)$/user\\/$1/L , DEFAULT",
]


def certificate(path: Path, parts: list[tuple[x509.ObjectIdentifier, str]]) -> bytes:
    """A self-signed certificate with this subject (parts from least to most specific)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.public_bytes(serialization.Encoding.DER)


def test_subjects_and_mapped_names_are_kafkas(tmp_path: Path) -> None:
    lib = require_jars()
    paths, ders = [], []
    for i, parts in enumerate(SUBJECTS.values()):
        paths.append(tmp_path / f"{i}.pem")
        ders.append(certificate(paths[-1], parts))
    for rules in RULES:
        done = subprocess.run(["java", "-cp", f"{lib}/*", str(ORACLE), rules, *map(str, paths)],
                              capture_output=True, text=True, timeout=120, check=True)
        kafka = [line.split("\t") for line in done.stdout.splitlines()]
        mapper = PrincipalMapper.parse(rules)
        for (subject, name), der, label in zip(kafka, ders, SUBJECTS, strict=True):
            assert subject_of(der) == subject, label
            try:
                ours = principal_of(der, mapper)
            except NoMatchingRule:
                ours = "User:NO MATCH"
            assert ours == f"User:{name}", (label, rules)


def test_a_comma_in_a_common_name_is_escaped_not_a_second_part(tmp_path: Path) -> None:
    der = certificate(tmp_path / "c.pem", SUBJECTS["comma in CN"])
    assert principal_of(der) == "User:CN=admin\\,O\\=example"  # as Java's X500Principal writes it


@pytest.mark.parametrize("rules", ["RULE:x", "RULE:(/y/", "NONSENSE", "RULE:a/b/Q"])
def test_rules_that_do_not_read_are_refused_at_start(rules: str) -> None:
    with pytest.raises(ConfigError, match=r"ssl\.principal\.mapping\.rules"):
        PrincipalMapper.parse(rules)


def test_a_crafted_certificate_is_not_a_super_user(tmp_path: Path) -> None:
    ck = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient, NewTopic

    from .test_tls import TlsBroker

    broker = TlsBroker(tmp_path)
    broker.config.update({"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                          "super.users": "User:CN=admin,O=example;User:CN=alice,OU=ops,O=kctl"})
    broker.start()
    try:
        admin = AdminClient(broker.librdkafka(identity="crafted"))
        with pytest.raises(ck.KafkaException) as denied:
            admin.create_topics([NewTopic("takeover", 1, 1)])["takeover"].result(20)
        assert denied.value.args[0].code() == ck.KafkaError.TOPIC_AUTHORIZATION_FAILED
        # The real super user's certificate may (so the refusal above is the principal's doing).
        trusted = AdminClient(broker.librdkafka(identity="alice"))  # must outlive the future
        trusted.create_topics([NewTopic("ok", 1, 1)])["ok"].result(20)
    finally:
        broker.stop()
