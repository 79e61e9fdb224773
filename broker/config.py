"""Broker and topic settings, under Kafka's own names.

Each topic setting has a broker-wide synonym (`retention.ms` <- `log.retention.ms`) the way Kafka
does, so a TOML file written for Kafka's `server.properties` names means the same thing here and
DescribeConfigs can say where every value came from.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kctl.protocol.enums import ConfigSource, ConfigType

LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


class ConfigError(ValueError):
    """A setting with an unknown name or an invalid value."""




@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: type  # int, float, bool or str
    default: Any
    doc: str
    minimum: float | None = None
    choices: tuple[str, ...] | None = None
    list_choices: tuple[str, ...] | None = None  # comma-separated list drawn from these
    nullable: bool = False
    read_only: bool = False
    config_type: int = ConfigType.STRING
    sensitive: bool = False  # a secret: DescribeConfigs never shows its value
    maximum: float | None = None
    check: Callable[[Any], str | None] | None = None  # says what is wrong with a parsed value
    internal: bool = False  # accepted, never listed (Kafka's internal.* topic configs)

    def parse(self, raw: Any) -> Any:
        """Turn a TOML value or a protocol string into a typed value, or raise ConfigError, in
        the words of Kafka's ConfigDef."""
        if raw is None:
            if self.nullable:
                return None
            raise ConfigError(f"{self.name} must have a value")
        if self.kind is bool and not isinstance(raw, bool) and str(raw).strip().lower() not in ("true", "false"):
            raise self._invalid(raw, "Expected value to be either true or false")
        try:
            if self.kind is bool:
                value: Any = raw if isinstance(raw, bool) else str(raw).strip().lower() == "true"
            elif self.kind is int:
                if isinstance(raw, bool | float):
                    raise ValueError
                value = int(str(raw).strip())
                low, high = (-(2**31), INT_MAX) if self.config_type == ConfigType.INT else (-(2**63), LONG_MAX)
                if not low <= value <= high:
                    raise ValueError
            elif self.kind is float:
                value = float(str(raw).strip())
            else:
                value = str(raw).strip()
        except ValueError:
            raise self._invalid(raw, f"Not a number of type {_TYPE_NAMES.get(self.config_type, 'LONG')}") from None
        if self.minimum is not None and value < self.minimum:
            raise self._invalid(raw, f"Value must be at least {_number(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise self._invalid(raw, f"Value must be no more than {_number(self.maximum)}")
        if self.choices is not None and value not in self.choices:
            raise self._invalid(raw, f"String must be one of: {', '.join(self.choices)}")
        if self.list_choices is not None:
            items = [v.strip() for v in value.split(",") if v.strip()]
            bad = [v for v in items if v not in self.list_choices]
            if bad or not items:
                raise self._invalid(raw, f"must list some of {', '.join(self.list_choices)}")
            value = ",".join(items)
        if self.check is not None:
            problem = self.check(value)
            if problem is not None:
                raise self._invalid(raw, problem)
        return value

    def _invalid(self, raw: Any, reason: str) -> ConfigError:
        return ConfigError(f"Invalid value {raw} for configuration {self.name}: {reason}")

    def render(self, value: Any) -> str | None:
        if value is None:
            return None
        if self.kind is bool:
            return "true" if value else "false"
        return str(value)


_TYPE_NAMES: dict[int, str] = {ConfigType.INT: "INT", ConfigType.LONG: "LONG", ConfigType.DOUBLE: "DOUBLE"}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _level(low: int, high: int) -> Callable[[Any], str | None]:
    """Gzip's level: 1 to 9, or -1 for zlib's default."""
    return lambda v: None if v == -1 or low <= v <= high else f"Value must be between {low} and {high} or equal to -1"


def _throttled_replicas(value: Any) -> str | None:
    """`*`, or partition:broker pairs: what Kafka's ThrottledReplicaListValidator takes."""
    items = [v.strip() for v in str(value).split(",") if v.strip()]
    if items == ["*"] or all(re.fullmatch(r"\d+:\d+", item) for item in items):
        return None
    return ("must be the literal '*' or a list of replicas in the following format: "
            "[partitionId]:[brokerId],[partitionId]:[brokerId],...")


def _no_tiered_storage(value: Any) -> str | None:
    return "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log " \
        "storage." if value else None


def _s(name: str, kind: type, default: Any, doc: str, **kw: Any) -> Setting:
    types = {bool: ConfigType.BOOLEAN, int: ConfigType.LONG, float: ConfigType.DOUBLE, str: ConfigType.STRING}
    config_type = types[kind]
    if kw.get("list_choices"):
        config_type = ConfigType.LIST
    return Setting(name, kind, default, doc, config_type=kw.pop("config_type", config_type), **kw)


_COMPRESSION = ("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")
_TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")

#: A topic setting that has no effect on one node, and why; its documentation says so.
_NO_EFFECT = " (accepted as Kafka does; no effect on a one-node broker{})"

#: Every topic-level setting of Apache Kafka 4.x, and the broker setting that supplies its
#: default (None where Kafka has none). Held to Kafka's own list by the Apache Kafka tests.
TOPIC_SETTINGS: dict[str, tuple[Setting, str | None]] = {
    s.name: (s, synonym)
    for s, synonym in [
        (_s("cleanup.policy", str, "delete", "delete old segments, compact to the last value per key, or both",
            list_choices=("delete", "compact")), "log.cleanup.policy"),
        (_s("compression.type", str, "producer", "codec batches are stored with; producer keeps them as sent",
            choices=_COMPRESSION), "compression.type"),
        (_s("compression.gzip.level", int, -1, "gzip level when the broker compresses (compression.type=gzip); "
            "-1 is zlib's default", config_type=ConfigType.INT, check=_level(1, 9)), "compression.gzip.level"),
        (_s("compression.lz4.level", int, 9, "lz4 level when the broker compresses (compression.type=lz4)",
            minimum=1, maximum=17, config_type=ConfigType.INT), "compression.lz4.level"),
        (_s("compression.zstd.level", int, 3, "zstd level when the broker compresses (compression.type=zstd)",
            minimum=-131072, maximum=22, config_type=ConfigType.INT), "compression.zstd.level"),
        (_s("delete.retention.ms", int, 86_400_000, "how long tombstones survive compaction",
            minimum=0), "log.cleaner.delete.retention.ms"),
        (_s("errors.deadletterqueue.group.enable", bool, False, "let share groups write undeliverable records "
            "to a dead-letter topic" + _NO_EFFECT.format(": share groups are not served yet"),
            config_type=ConfigType.BOOLEAN), None),
        (_s("file.delete.delay.ms", int, 60_000, "how long a deleted segment's files stay" + _NO_EFFECT.format(
            ": they are renamed .deleted at once and removed at the next retention check"), minimum=0),
         "log.segment.delete.delay.ms"),
        (_s("flush.messages", int, LONG_MAX, "fsync after this many messages; 1 makes every ack wait for fsync",
            minimum=1), "log.flush.interval.messages"),
        (_s("flush.ms", int, LONG_MAX, "fsync when the oldest unflushed data is this old",
            minimum=0), "log.flush.interval.ms"),
        (_s("follower.replication.throttled.replicas", str, "", "replicas whose follower fetches are throttled"
            + _NO_EFFECT.format(": there are no followers"), check=_throttled_replicas,
            config_type=ConfigType.LIST), None),
        (_s("index.interval.bytes", int, 4096, "bytes between sparse index entries",
            minimum=0, config_type=ConfigType.INT), "log.index.interval.bytes"),
        (_s("leader.replication.throttled.replicas", str, "", "replicas whose leader side is throttled"
            + _NO_EFFECT.format(": there are no followers"), check=_throttled_replicas,
            config_type=ConfigType.LIST), None),
        (_s("local.retention.bytes", int, -2, "local retention under tiered storage; -2 follows retention.bytes"
            + _NO_EFFECT.format(": there is no tiered storage"), minimum=-2), "log.local.retention.bytes"),
        (_s("local.retention.ms", int, -2, "local retention under tiered storage; -2 follows retention.ms"
            + _NO_EFFECT.format(": there is no tiered storage"), minimum=-2), "log.local.retention.ms"),
        (_s("max.compaction.lag.ms", int, LONG_MAX, "a record is compacted at most this long after it was written, "
            "however clean the log", minimum=1), "log.cleaner.max.compaction.lag.ms"),
        (_s("max.message.bytes", int, 1_048_588, "largest record batch accepted",
            minimum=0, config_type=ConfigType.INT), "message.max.bytes"),
        (_s("max.decompressed.message.bytes", int, 2_147_483_639, "most bytes a compressed batch may inflate to "
            "(the broker's own bound, 64 MiB, applies below it)", minimum=1, config_type=ConfigType.INT),
         "max.decompressed.message.bytes"),
        (_s("message.timestamp.after.max.ms", int, 3_600_000, "refuse CreateTime records this far ahead of the "
            "broker's clock", minimum=0), "log.message.timestamp.after.max.ms"),
        (_s("message.timestamp.before.max.ms", int, LONG_MAX, "refuse CreateTime records this far behind the "
            "broker's clock", minimum=0), "log.message.timestamp.before.max.ms"),
        (_s("message.timestamp.type", str, "CreateTime", "keep the producer's timestamps or stamp append time",
            choices=_TIMESTAMP_TYPES), "log.message.timestamp.type"),
        (_s("min.cleanable.dirty.ratio", float, 0.5, "clean a compacted log once this share of it is dirty",
            minimum=0, maximum=1), "log.cleaner.min.cleanable.ratio"),
        (_s("min.compaction.lag.ms", int, 0, "records younger than this are never compacted",
            minimum=0), "log.cleaner.min.compaction.lag.ms"),
        (_s("min.insync.replicas", int, 1, "acks=all needs this many in-sync replicas; one node has one",
            minimum=1, config_type=ConfigType.INT), "min.insync.replicas"),
        (_s("preallocate", bool, False, "preallocate segment files" + _NO_EFFECT.format(
            ": segments grow as written"), config_type=ConfigType.BOOLEAN), "log.preallocate"),
        (_s("remote.copy.lag.bytes", int, -1, "bytes a partition may lag behind in copying to remote storage"
            + _NO_EFFECT.format(": there is no tiered storage"), minimum=-1), "log.remote.copy.lag.bytes"),
        (_s("remote.copy.lag.ms", int, 0, "how long a partition may lag behind in copying to remote storage"
            + _NO_EFFECT.format(": there is no tiered storage"), minimum=-1), "log.remote.copy.lag.ms"),
        (_s("remote.log.copy.disable", bool, False, "stop copying to remote storage"
            + _NO_EFFECT.format(": there is no tiered storage")), None),
        (_s("remote.log.delete.on.disable", bool, False, "delete remote data when tiered storage is turned off"
            + _NO_EFFECT.format(": there is no tiered storage")), None),
        (_s("remote.storage.enable", bool, False, "tiered storage; refused (true) as by a Kafka broker without it",
            check=_no_tiered_storage), None),
        (_s("retention.bytes", int, -1, "delete old segments beyond this size per partition; -1 no limit"),
         "log.retention.bytes"),
        (_s("retention.ms", int, 604_800_000, "delete segments whose newest record is older; -1 forever",
            minimum=-1), "log.retention.ms"),
        (_s("segment.bytes", int, 1_073_741_824, "roll to a new segment at this size (at least 1 MiB, as Kafka "
            "4 has it)", minimum=1_048_576, config_type=ConfigType.INT), "log.segment.bytes"),
        (_s("internal.segment.bytes", int, None, "Kafka's internal override of segment.bytes below 1 MiB, for "
            "tests; never listed", minimum=14, config_type=ConfigType.INT, nullable=True, internal=True), None),
        (_s("segment.index.bytes", int, 10_485_760, "most bytes of a segment's offset index"
            + _NO_EFFECT.format(": the indexes are sparse and grow as needed"), minimum=4,
            config_type=ConfigType.INT), "log.index.size.max.bytes"),
        (_s("segment.jitter.ms", int, 0, "roll each segment up to this much before segment.ms, at random, so "
            "that partitions do not all roll at once", minimum=0), "log.roll.jitter.ms"),
        (_s("segment.ms", int, 604_800_000, "roll to a new segment after this long", minimum=1), "log.roll.ms"),
        (_s("unclean.leader.election.enable", bool, False, "let an out-of-sync replica lead"
            + _NO_EFFECT.format(": its one replica is always in sync")), "unclean.leader.election.enable"),
    ]
}

#: Broker-wide settings that are not topic synonyms.
_BROKER_ONLY = [
    _s("node.id", int, 0, "this broker's id", minimum=0, read_only=True, config_type=ConfigType.INT),
    _s("listeners", str, "PLAINTEXT://127.0.0.1:9092", "NAME://HOST:PORT of each listener, comma-separated",
       read_only=True),
    _s("advertised.listeners", str, None, "NAME://HOST:PORT clients are told, per listener (default: its own)",
       nullable=True, read_only=True),
    _s("listener.security.protocol.map", str, None, "NAME:PROTOCOL per listener name that is not a protocol "
       "(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)", nullable=True, read_only=True),
    _s("ssl.keystore.location", str, None, "PEM file with the broker's certificate chain and private key",
       nullable=True, read_only=True),
    _s("ssl.keystore.type", str, "PEM", "only PEM", read_only=True, choices=("PEM",)),
    _s("ssl.key.password", str, None, "password of an encrypted private key", nullable=True, read_only=True,
       sensitive=True),
    _s("ssl.truststore.location", str, None, "PEM file with the CAs client certificates must chain to",
       nullable=True, read_only=True),
    _s("ssl.principal.mapping.rules", str, "DEFAULT", "how a client certificate's subject (RFC 2253) becomes "
       "a principal name: DEFAULT (the whole subject) or RULE:pattern/replacement/[LU], first match wins",
       read_only=True),
    _s("ssl.client.auth", str, "none", "ask TLS clients for a certificate: none, requested or required",
       read_only=True, choices=("none", "requested", "required")),
    _s("authorizer.class.name", str, None, "turns ACLs on (use Kafka's org.apache.kafka.metadata.authorizer."
       "StandardAuthorizer); unset: everyone may do everything", nullable=True, read_only=True),
    _s("super.users", str, None, "principals ACLs do not apply to, separated by ;", nullable=True, read_only=True),
    _s("allow.everyone.if.no.acl.found", bool, False, "with no ACL at all on a resource, allow everyone",
       read_only=True),
    _s("ssl.handshake.timeout.ms", int, 10_000, "close a TLS connection whose handshake takes longer (kctl's)",
       minimum=1, read_only=True, config_type=ConfigType.INT),
    _s("log.dirs", str, None, "data directory", nullable=True, read_only=True),
    _s("num.partitions", int, 1, "partitions for auto-created topics", minimum=1, config_type=ConfigType.INT),
    _s("default.replication.factor", int, 1, "replication factor of auto-created topics; one node",
       minimum=1, config_type=ConfigType.INT, read_only=True),
    _s("auto.create.topics.enable", bool, True, "create unknown topics on metadata requests"),
    _s("delete.topic.enable", bool, True, "allow DeleteTopics"),
    _s("log.retention.check.interval.ms", int, 300_000, "how often retention runs", minimum=1),
    _s("log.cleaner.backoff.ms", int, 15_000, "pause between compaction passes", minimum=0),
    _s("log.flush.offset.checkpoint.interval.ms", int, 60_000, "how often the recovery point is saved",
       minimum=1, config_type=ConfigType.INT),
    _s("log.flush.scheduler.interval.ms", int, 1000, "how often flush.ms is checked", minimum=1),
    _s("socket.request.max.bytes", int, 104_857_600, "largest request frame (512 KB until a SASL client has "
       "authenticated, as sasl.server.max.receive.size)", minimum=1, config_type=ConfigType.INT),
    _s("metrics.authentication", str, "auto", "what /metrics asks of a scraper: basic (HTTP basic auth with the "
       "broker's users), none, or auto (basic when SASL users are configured)", read_only=True,
       choices=("auto", "basic", "none")),
    _s("max.connections", int, INT_MAX, "most client connections at once; more are closed as they come",
       minimum=0, config_type=ConfigType.INT),
    _s("max.connections.per.ip", int, INT_MAX, "most client connections from one address", minimum=0,
       config_type=ConfigType.INT),
    _s("max.connections.per.ip.overrides", str, None, "HOST:COUNT,... limits for particular addresses",
       nullable=True),
    _s("connections.max.idle.ms", int, 600_000, "close a connection that has moved no bytes for this long",
       minimum=1),
    _s("connections.max.reauth.ms", int, 0, "a SASL session lasts this long (no longer than an OAUTHBEARER "
       "token) and the client logs in again on the connection (KIP-368); 0: sessions do not end", minimum=0,
       read_only=True),
    _s("connection.failed.authentication.delay.ms", int, 100, "how long after a failed SASL login its "
       "connection is closed", minimum=0, config_type=ConfigType.INT),
    _s("sasl.enabled.mechanisms", str, None, "SASL mechanisms clients must authenticate with (users in "
       "[sasl.users]; OAUTHBEARER tokens checked against sasl.oauthbearer.jwks.endpoint.url); unset: no "
       "authentication", nullable=True, read_only=True,
       list_choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")),
    _s("sasl.oauthbearer.jwks.endpoint.url", str, None, "where the keys that sign OAUTHBEARER tokens are "
       "published (a JWKS, over http(s) or a file: URL)", nullable=True, read_only=True),
    _s("sasl.oauthbearer.jwks.endpoint.refresh.ms", int, 3_600_000, "how often the JWKS is fetched again (and "
       "at once, at most every 10 s, for a token signed with a key it does not hold)", minimum=1, read_only=True),
    _s("sasl.oauthbearer.expected.audience", str, None, "audiences a token's aud claim must name one of "
       "(comma-separated); unset: not checked", nullable=True, read_only=True),
    _s("sasl.oauthbearer.expected.issuer", str, None, "the iss claim a token must carry; unset: not checked",
       nullable=True, read_only=True),
    _s("sasl.oauthbearer.sub.claim.name", str, "sub", "the claim that names the principal", read_only=True),
    _s("sasl.oauthbearer.clock.skew.seconds", int, 30, "leeway for clocks when checking exp, nbf and iat",
       minimum=0, config_type=ConfigType.INT, read_only=True),
    _s("producer.id.expiration.ms", int, 86_400_000, "forget idle idempotent producers after this long",
       minimum=1, config_type=ConfigType.INT),
    _s("offsets.topic.num.partitions", int, 50, "partitions of __consumer_offsets", minimum=1,
       config_type=ConfigType.INT, read_only=True),
    _s("offsets.topic.segment.bytes", int, 104_857_600, "segment size of __consumer_offsets", minimum=14,
       config_type=ConfigType.INT, read_only=True),
    _s("offsets.retention.minutes", int, 10_080, "committed offsets of an empty group expire after this long",
       minimum=1, config_type=ConfigType.INT),
    _s("offsets.retention.check.interval.ms", int, 600_000, "how often expired offsets are removed", minimum=1),
    _s("offset.metadata.max.bytes", int, 4096, "largest metadata string of a committed offset", minimum=0,
       config_type=ConfigType.INT),
    _s("group.initial.rebalance.delay.ms", int, 3000, "how long a new group waits for more members first",
       minimum=0, config_type=ConfigType.INT),
    _s("group.min.session.timeout.ms", int, 6000, "shortest session timeout a member may ask for", minimum=0,
       config_type=ConfigType.INT),
    _s("group.max.session.timeout.ms", int, 1_800_000, "longest session timeout a member may ask for",
       minimum=0, config_type=ConfigType.INT),
    _s("group.max.size", int, INT_MAX, "most members one group may have", minimum=1, config_type=ConfigType.INT),
    _s("group.consumer.session.timeout.ms", int, 45_000, "consumer-protocol members not heard from for this long "
       "are removed", minimum=1, config_type=ConfigType.INT),
    _s("group.consumer.heartbeat.interval.ms", int, 5_000, "how often consumer-protocol members heartbeat",
       minimum=1, config_type=ConfigType.INT),
    _s("group.consumer.assignors", str, "uniform,range", "server-side assignors of consumer-protocol groups, "
       "the first the default", list_choices=("uniform", "range")),
    _s("group.share.session.timeout.ms", int, 45_000, "share-group members not heard from for this long are "
       "removed", minimum=1, config_type=ConfigType.INT),
    _s("group.share.heartbeat.interval.ms", int, 5_000, "how often share-group members heartbeat", minimum=1,
       config_type=ConfigType.INT),
    _s("group.share.max.size", int, 200, "most members one share group may have", minimum=1,
       config_type=ConfigType.INT),
    _s("group.share.record.lock.duration.ms", int, 30_000, "how long a share consumer holds a record before it "
       "goes back to be delivered again (a group's share.record.lock.duration.ms overrides it)", minimum=1000,
       maximum=3_600_000, config_type=ConfigType.INT),
    _s("group.share.delivery.count.limit", int, 5, "deliveries of a record before a share group gives up on it "
       "and archives it", minimum=2, maximum=10, config_type=ConfigType.INT),
    _s("group.share.partition.max.record.locks", int, 2000, "most records of one share partition in flight at "
       "once", minimum=100, maximum=10_000, config_type=ConfigType.INT),
    _s("group.consumer.max.size", int, INT_MAX, "most members one consumer-protocol group may have", minimum=1,
       config_type=ConfigType.INT),
    _s("transaction.max.timeout.ms", int, 900_000, "longest transaction.timeout.ms a producer may ask for",
       minimum=1, config_type=ConfigType.INT),
    _s("transaction.state.log.num.partitions", int, 50, "partitions of __transaction_state", minimum=1,
       config_type=ConfigType.INT, read_only=True),
    _s("transaction.state.log.segment.bytes", int, 104_857_600, "segment size of __transaction_state",
       minimum=14, config_type=ConfigType.INT, read_only=True),
    _s("transactional.id.expiration.ms", int, 604_800_000, "forget a transactional id unused for this long",
       minimum=1, config_type=ConfigType.INT),
    _s("transaction.abort.timed.out.transaction.cleanup.interval.ms", int, 10_000,
       "how often transactions past their timeout are aborted", minimum=1, config_type=ConfigType.INT),
    _s("transaction.remove.expired.transaction.cleanup.interval.ms", int, 3_600_000,
       "how often expired transactional ids are removed", minimum=1, config_type=ConfigType.INT),
]

BROKER_SETTINGS: dict[str, Setting] = {s.name: s for s in _BROKER_ONLY}
for _topic_setting, _synonym in TOPIC_SETTINGS.values():
    if _synonym is not None:
        BROKER_SETTINGS[_synonym] = dataclasses.replace(_topic_setting, name=_synonym)
#: Older spellings Kafka still reads; they convert into the canonical setting.
_ALIASES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "broker.id": ("node.id", lambda v: v),
    "log.dir": ("log.dirs", lambda v: v),
    "log.retention.hours": ("log.retention.ms", lambda v: int(v) * 3_600_000),
    "log.retention.minutes": ("log.retention.ms", lambda v: int(v) * 60_000),
    "log.roll.hours": ("log.roll.ms", lambda v: int(v) * 3_600_000),
}


SASL_USERS = "sasl.users."


class BrokerConfig:
    """Effective broker settings: defaults overlaid with the values the operator set."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.explicit: dict[str, Any] = {}
        self.sasl_users: dict[str, str] = {}  # from [sasl.users]; kept out of DescribeConfigs
        for name, raw in (values or {}).items():
            self.set(name, raw)

    def set(self, name: str, raw: Any) -> None:
        if name.startswith(SASL_USERS):
            user = name.removeprefix(SASL_USERS)
            if not isinstance(raw, str) or not raw:
                raise ConfigError(f"[sasl.users] {user}: the password must be a non-empty string")
            self.sasl_users[user] = raw
            return
        if name in _ALIASES:
            target, convert = _ALIASES[name]
            try:
                raw = convert(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"{name}: {raw!r} is not a valid number") from None
            name = target
        setting = BROKER_SETTINGS.get(name)
        if setting is None:
            raise ConfigError(f"unknown broker setting {name!r}")
        self.explicit[name] = setting.parse(raw)

    def __getitem__(self, name: str) -> Any:
        if name in self.explicit:
            return self.explicit[name]
        return BROKER_SETTINGS[name].default

    @classmethod
    def from_toml(cls, path: Path) -> BrokerConfig:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        return cls(_flatten(data))

    def topic_default(self, topic_setting: str) -> tuple[Any, ConfigSource]:
        """A topic setting's broker-level value and its DescribeConfigs source."""
        setting, synonym = TOPIC_SETTINGS[topic_setting]
        if synonym is not None and synonym in self.explicit:
            return self.explicit[synonym], ConfigSource.STATIC_BROKER
        return setting.default, ConfigSource.DEFAULT


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Let TOML tables spell dotted names: `[log.retention] ms = 1` is `log.retention.ms = 1`."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def parse_topic_configs(raw: Mapping[str, str | None]) -> dict[str, Any]:
    """Validate topic overrides given as protocol strings; raise ConfigError on the first bad one."""
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        entry = TOPIC_SETTINGS.get(name)
        if entry is None:
            raise ConfigError(f"unknown topic config {name!r}")
        parsed[name] = entry[0].parse(value)
    return parsed


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """The effective settings of one topic, read by the log on every decision."""

    cleanup_policy: frozenset[str]
    compression_type: str
    compression_level: int | None  # of compression_type, when the broker compresses
    delete_retention_ms: int
    flush_messages: int
    flush_ms: int
    index_interval_bytes: int
    max_message_bytes: int
    max_decompressed_bytes: int
    log_append_time: bool
    min_compaction_lag_ms: int
    max_compaction_lag_ms: int
    min_cleanable_ratio: float
    retention_bytes: int
    retention_ms: int
    segment_bytes: int
    segment_ms: int
    segment_jitter_ms: int
    timestamp_before_max_ms: int
    timestamp_after_max_ms: int

    @classmethod
    def resolve(cls, broker: BrokerConfig, overrides: Mapping[str, Any]) -> TopicConfig:
        def get(name: str) -> Any:
            return overrides[name] if name in overrides else broker.topic_default(name)[0]

        codec = get("compression.type")
        level = get(f"compression.{codec}.level") if codec in ("gzip", "lz4", "zstd") else None
        return cls(
            cleanup_policy=frozenset(get("cleanup.policy").split(",")),
            compression_type=codec,
            compression_level=None if level == -1 else level,
            delete_retention_ms=get("delete.retention.ms"),
            flush_messages=get("flush.messages"),
            flush_ms=get("flush.ms"),
            index_interval_bytes=get("index.interval.bytes"),
            max_message_bytes=get("max.message.bytes"),
            max_decompressed_bytes=get("max.decompressed.message.bytes"),
            log_append_time=get("message.timestamp.type") == "LogAppendTime",
            min_compaction_lag_ms=get("min.compaction.lag.ms"),
            max_compaction_lag_ms=get("max.compaction.lag.ms"),
            min_cleanable_ratio=get("min.cleanable.dirty.ratio"),
            retention_bytes=get("retention.bytes"),
            retention_ms=get("retention.ms"),
            segment_bytes=overrides.get("internal.segment.bytes") or get("segment.bytes"),
            segment_ms=get("segment.ms"),
            segment_jitter_ms=get("segment.jitter.ms"),
            timestamp_before_max_ms=get("message.timestamp.before.max.ms"),
            timestamp_after_max_ms=get("message.timestamp.after.max.ms"),
        )


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/kctl/broker, falling back to ~/.local/share/kctl/broker."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kctl" / "broker"


def parse_host_port(value: str, what: str) -> tuple[str, int]:
    """'host:port', '[::1]:port' or 'PLAINTEXT://host:port' into (host, port)."""
    text = value.split("://", 1)[-1].split(",")[0].strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{what} must be HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)
