"""Apache Kafka in the loop: the test bed's releases, KRaft clusters on free ports, Kafka's own tools.

Two releases are held: the reference (`pom.xml` beside this file, 4.4.0) and the oldest line many
production clusters still run (`OLDER`, 3.9.1, the last with ZooKeeper, run here in KRaft mode).
Each release's jars (broker, tools, Java client, Kafka Streams) are copied once with
`mvn dependency:copy-dependencies` into `$XDG_CACHE_HOME/kctl/apache-kafka-<version>/lib`
(outside the repo). Tests that need them call `require_jars(version)`: it skips with the reason when
java, mvn or the jars are missing, unless `KCTL_REQUIRE_APACHE_KAFKA=1` (set by `.ci/run`), which
turns that skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from . import maven
from .maven import Unavailable
from .ports import free_port

POM = Path(__file__).with_name("pom.xml")
REQUIRE_ENV = "KCTL_REQUIRE_APACHE_KAFKA"

# Main classes of Kafka's tools. Where a class moved between 4.x releases, every known name is
# listed and the first one found in the jars is used.
TOOLS: dict[str, tuple[str, ...]] = {
    "storage": ("kafka.tools.StorageTool",),
    "broker": ("kafka.Kafka",),
    "connect-distributed": ("org.apache.kafka.connect.cli.ConnectDistributed",),
    "streams-application-reset": ("org.apache.kafka.tools.StreamsResetter",),
    "topics": ("org.apache.kafka.tools.TopicCommand",),
    "consumer-groups": ("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",),
    "console-producer": ("org.apache.kafka.tools.ConsoleProducer", "kafka.tools.ConsoleProducer"),
    "console-consumer": ("org.apache.kafka.tools.consumer.ConsoleConsumer",),
    "get-offsets": ("org.apache.kafka.tools.GetOffsetShell",),
    "producer-perf": ("org.apache.kafka.tools.ProducerPerformance",),
    "consumer-perf": ("org.apache.kafka.tools.ConsumerPerformance",),
    "end-to-end-latency": ("org.apache.kafka.tools.EndToEndLatency",),
    "verifiable-producer": ("org.apache.kafka.tools.VerifiableProducer",),
    "verifiable-consumer": ("org.apache.kafka.tools.VerifiableConsumer",),
    "configs": ("org.apache.kafka.tools.ConfigCommand", "kafka.admin.ConfigCommand"),
    "reassign": ("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",),
    "leader-election": ("org.apache.kafka.tools.LeaderElectionCommand",),
    "acls": ("org.apache.kafka.tools.AclCommand", "kafka.admin.AclCommand"),
    "dump-log": ("org.apache.kafka.tools.DumpLogSegments", "kafka.tools.DumpLogSegments"),
    "transactions": ("org.apache.kafka.tools.TransactionsCommand",),
    "metadata-quorum": ("org.apache.kafka.tools.MetadataQuorumCommand",),
    "features": ("org.apache.kafka.tools.FeatureCommand",),
    "share-groups": ("org.apache.kafka.tools.consumer.group.ShareGroupCommand",),
    "streams-groups": ("org.apache.kafka.tools.streams.StreamsGroupCommand",),
    "groups": ("org.apache.kafka.tools.GroupsCommand",),
    "client-metrics": ("org.apache.kafka.tools.ClientMetricsCommand",),
}
#: Servers rather than tools: they start for peak speed, not a quick exit, and log at info.
SERVERS = {"broker", "connect-distributed"}
# Tools only newer releases ship.
NEWER_TOOLS = {"share-groups", "streams-groups", "groups"}


def kafka_version() -> str:
    """The reference release: the broker and tools most tests run."""
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, f"{POM} names no kafka.version"
    return match.group(1)


OLDER = "3.9.1"


def releases() -> list[str]:
    """Every release the test bed holds, the reference first."""
    return [kafka_version(), OLDER]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def cache_dir(version: str | None = None) -> Path:
    return maven.cache_root() / f"apache-kafka-{version or kafka_version()}"


def lib_dir(version: str | None = None) -> Path:
    return cache_dir(version) / "lib"


def _pom(version: str) -> Path:
    """The reference pom, or a copy naming another release (kept beside that release's jars)."""
    if version == kafka_version():
        return POM
    derived = cache_dir(version) / "pom.xml"
    text = re.sub(r"<kafka.version>[^<]+</kafka.version>", f"<kafka.version>{version}</kafka.version>",
                  POM.read_text())
    if not derived.exists() or derived.read_text() != text:
        derived.parent.mkdir(parents=True, exist_ok=True)
        derived.write_text(text)
    return derived


def fetch_jars(version: str | None = None, *, quiet: bool = True) -> Path:
    """Copy a release's runtime classpath into the cache, once; returns the lib folder."""
    version = version or kafka_version()
    return maven.fetch(_pom(version), cache_dir(version), f"Apache Kafka {version}", quiet=quiet)


def jars_ready(version: str | None = None) -> Path:
    """The lib folder if java and the jars are here; raises Unavailable otherwise (never downloads)."""
    version = version or kafka_version()
    how = "python -m tests.support.apache_kafka fetch"
    return maven.ready(_pom(version), cache_dir(version), f"Apache Kafka {version}", how)


def require_jars(version: str | None = None) -> Path:
    """For tests: the lib folder, else a skip (or a failure where CI requires Apache Kafka)."""
    try:
        return jars_ready(version)
    except Unavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but Apache Kafka cannot run: {exc}", pytrace=False)
        pytest.skip(f"Apache Kafka not available: {exc}")


@cache
def main_class(tool: str, version: str | None = None) -> str:
    """The tool's main class in a release (probing the jars where it has moved)."""
    version = version or kafka_version()
    candidates = TOOLS[tool]
    wanted = {name.replace(".", "/") + ".class": name for name in candidates}
    found: dict[str, str] = {}
    for jar in sorted(lib_dir(version).glob("*.jar")):
        if not jar.name.startswith(("kafka", "connect")):
            continue
        with zipfile.ZipFile(jar) as archive:
            for entry in wanted.keys() & set(archive.namelist()):
                found[wanted[entry]] = jar.name
    for name in candidates:
        if name in found:
            return name
    raise Unavailable(f"no main class for {tool} in Apache Kafka {version}: tried {', '.join(candidates)}")


def has_tool(tool: str, version: str | None = None) -> bool:
    try:
        main_class(tool, version)
    except Unavailable:
        return False
    return True


def java_command(tool: str, *args: str, heap: str = "256m", jvm: Sequence[str] = (),
                 version: str | None = None) -> list[str]:
    """The command line that runs one of Kafka's tools (or the broker) from a release's cached jars."""
    short_lived = tool not in SERVERS
    opts = [f"-Xmx{heap}", "-Djava.awt.headless=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=" + ("warn" if short_lived else "info"),
            "-Dorg.slf4j.simpleLogger.showDateTime=true"]
    if short_lived:  # tools run for seconds: start fast rather than peak
        opts += ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    return ["java", *opts, *jvm, "-cp", str(lib_dir(version) / "*"), main_class(tool, version), *args]


def run_tool(tool: str, *args: str, input: str | None = None, timeout: float = 120, check: bool = True,
             heap: str = "256m", jvm: Sequence[str] = (),
             version: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of Kafka's tools to completion; with check, a non-zero exit fails with its output."""
    command = java_command(tool, *args, heap=heap, jvm=jvm, version=version)
    result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}")
    return result



@dataclass
class ScramUser:
    name: str
    password: str


@dataclass
class KerberosBroker:
    """GSSAPI on the client listener: the realm's krb5.conf, and the brokers' service keytab."""

    krb5_conf: Path
    keytab: Path
    principal: str  # kafka/127.0.0.1@REALM
    service_name: str = "kafka"


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    home: Path
    proc: subprocess.Popen[bytes] | None = None
    internal_port: int = 0  # a PLAINTEXT listener between the brokers, when clients use OAUTHBEARER or GSSAPI

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class KafkaCluster:
    """A KRaft cluster of Apache Kafka nodes (each broker and controller combined) on free ports.

    With `scram_users`, the client listener is SASL_PLAINTEXT with SCRAM-SHA-256 and -512 and the
    first user is the one the brokers use between themselves. With `oauth` (sasl.oauthbearer.*
    settings, the JWKS URL among them), it is SASL_PLAINTEXT with OAUTHBEARER checked by Kafka's
    own OAuthBearerValidatorCallbackHandler; with `kerberos`, SASL_PLAINTEXT with GSSAPI. Either
    way the brokers talk over a PLAINTEXT listener of their own.
    """

    workdir: Path
    size: int = 1
    scram_users: list[ScramUser] = field(default_factory=list)
    oauth: dict[str, str] = field(default_factory=dict)
    kerberos: KerberosBroker | None = None
    heap: str = "512m"
    overrides: dict[str, str] = field(default_factory=dict)
    version: str = field(default_factory=kafka_version)
    nodes: list[KafkaNode] = field(default_factory=list)
    cluster_id: str = ""

    @property
    def sasl(self) -> bool:
        return bool(self.scram_users)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def security_protocol(self) -> str:
        return "SASL_PLAINTEXT" if self.sasl or self.internal_listener else "PLAINTEXT"

    @property
    def internal_listener(self) -> bool:
        """Whether the brokers talk over a PLAINTEXT listener of their own (clients log in with
        credentials the tests hand out, not the brokers)."""
        return bool(self.oauth) or self.kerberos is not None

    @property
    def jvm(self) -> list[str]:
        """Kafka 4 fetches OAuth URLs only when a system property allows them; Java's Kerberos
        reads the realm from the krb5.conf a property names."""
        if self.oauth:
            jwks = self.oauth["sasl.oauthbearer.jwks.endpoint.url"]
            return [f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={jwks}"]
        if self.kerberos is not None:
            return [f"-Djava.security.krb5.conf={self.kerberos.krb5_conf}"]
        return []

    def client_properties(self, user: ScramUser | None = None, mechanism: str = "SCRAM-SHA-256") -> Path:
        """A `--command-config` file for Kafka's tools (empty on a plaintext cluster)."""
        lines = [f"security.protocol={self.security_protocol}"]
        if self.sasl:
            user = user or self.scram_users[0]
            lines += [f"sasl.mechanism={mechanism}",
                      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                      f'username="{user.name}" password="{user.password}";']
        path = self.workdir / f"client-{user.name if user else 'plain'}-{mechanism}.properties"
        path.write_text("\n".join(lines) + "\n")
        return path

    def tool(self, tool: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run one of this cluster's release's tools with `--bootstrap-server` pointed at it."""
        return run_tool(tool, "--bootstrap-server", self.bootstrap, *args, version=self.version, **kwargs)

    def at_least(self, version: str) -> bool:
        return version_tuple(self.version) >= version_tuple(version)

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> KafkaCluster:
        jars_ready(self.version)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cluster_id = self.cluster_id or _random_cluster_id()
        self.nodes = [KafkaNode(i + 1, free_port(), free_port(), self.workdir / f"node-{i + 1}",
                                internal_port=free_port() if self.internal_listener else 0)
                      for i in range(self.size)]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            properties = node.home / "server.properties"
            properties.write_text(self._properties(node, voters))
            self._format(node, properties)
        for node in self.nodes:
            with open(node.log_path, "ab") as log:
                node.proc = subprocess.Popen(
                    java_command("broker", str(node.home / "server.properties"), heap=self.heap,
                                 jvm=self.jvm, version=self.version),
                    stdout=log, stderr=log, start_new_session=True)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _properties(self, node: KafkaNode, voters: str) -> str:
        replication = str(min(3, self.size))
        client_listener = self.security_protocol
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"{client_listener}://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"{client_listener}://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": client_listener,
            "listener.security.protocol.map": f"{client_listener}:{client_listener},CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.home / "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": replication,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": replication,
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
        }
        if self.sasl:
            admin = self.scram_users[0]
            jaas = ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="{admin.name}" password="{admin.password}";')
            props.update({
                "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256",
                "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": jaas,
                "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": jaas,
            })
        if self.internal_listener:
            props.update({
                "listeners": f"{props['listeners']},INTERNAL://127.0.0.1:{node.internal_port}",
                "advertised.listeners": f"{props['advertised.listeners']},INTERNAL://127.0.0.1:{node.internal_port}",
                "inter.broker.listener.name": "INTERNAL",
                "listener.security.protocol.map": f"{props['listener.security.protocol.map']},INTERNAL:PLAINTEXT",
            })
        if self.kerberos is not None:
            kerberos = self.kerberos
            props.update({
                "sasl.enabled.mechanisms": "GSSAPI",
                "sasl.kerberos.service.name": kerberos.service_name,
                "listener.name.sasl_plaintext.gssapi.sasl.jaas.config":
                    "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true "
                    f'keyTab="{kerberos.keytab}" principal="{kerberos.principal}";',
            })
        if self.oauth:
            props.update({
                "sasl.enabled.mechanisms": "OAUTHBEARER",
                "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config":
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;",
                "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class":
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
                **self.oauth,
            })
        props.update(self.overrides)
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _format(self, node: KafkaNode, properties: Path) -> None:
        args = ["format", f"--cluster-id={self.cluster_id}", "-c", str(properties), "--ignore-formatted"]
        for user in self.scram_users:
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                args += ["--add-scram", f"{mechanism}=[name={user.name},password={user.password}]"]
        result = run_tool("storage", *args, check=False, timeout=120, version=self.version)
        if result.returncode != 0:
            raise RuntimeError(f"formatting node {node.node_id} failed:\n{result.stdout}\n{result.stderr}")

    def wait_ready(self, timeout: float) -> None:
        """Until Metadata lists every broker (a node that exits fails at once, with its log)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            for node in self.nodes:
                assert node.proc is not None
                if node.proc.poll() is not None:
                    raise RuntimeError(f"Kafka node {node.node_id} exited with {node.proc.returncode}:\n"
                                       f"{node.log()[-6000:]}")
            try:
                if asyncio.run(self._broker_count()) == self.size:
                    return
            except Exception as exc:  # not listening yet, or still electing a controller
                last = exc
            time.sleep(0.5)
        raise RuntimeError(f"Kafka cluster did not list {self.size} brokers within {timeout:.0f} s ({last}):\n"
                           + "\n".join(f"--- node {n.node_id}\n{n.log()[-3000:]}" for n in self.nodes))

    async def _broker_count(self) -> int:
        from kctl.client.cluster import Cluster

        authenticator = None
        if self.sasl:
            from kctl.client.sasl import SaslAuthenticator

            user = self.scram_users[0]
            authenticator = SaslAuthenticator("SCRAM-SHA-256", user.name, user.password)
        bootstrap = self.bootstrap
        if self.internal_listener:  # the brokers' own: the tests' credentials are theirs to hand out
            bootstrap = ",".join(f"127.0.0.1:{n.internal_port}" for n in self.nodes)
        cluster = Cluster(bootstrap, request_timeout_s=5, connect_timeout_s=2, authenticator=authenticator)
        try:
            await cluster.start()
            return len(cluster.brokers)
        finally:
            await cluster.close()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the nodes one at a time, each a controlled shutdown while the quorum still stands.

        The last node of a multi-node cluster has no quorum left to acknowledge its controlled
        shutdown and would wait forever: it gets a few seconds, then SIGKILL.
        """
        running = [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]
        for i, node in enumerate(reversed(running)):
            assert node.proc is not None
            node.proc.send_signal(signal.SIGTERM)
            quorum_gone = self.size > 1 and i == len(running) - 1
            try:
                node.proc.wait(5 if quorum_gone else timeout)
            except subprocess.TimeoutExpired:
                os.killpg(node.proc.pid, signal.SIGKILL)
                node.proc.wait()

    def stop_node(self, node_id: int, timeout: float = 60) -> None:
        """SIGTERM one node (a controlled shutdown: its leaderships move first) and wait for it."""
        node = next(n for n in self.nodes if n.node_id == node_id)
        assert node.proc is not None
        node.proc.send_signal(signal.SIGTERM)
        try:
            node.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait()

    def start_node(self, node_id: int, timeout: float = 120) -> None:
        """Start a stopped node again and wait until Metadata lists every broker."""
        node = next(n for n in self.nodes if n.node_id == node_id)
        with open(node.log_path, "ab") as log:
            node.proc = subprocess.Popen(
                java_command("broker", str(node.home / "server.properties"), heap=self.heap, jvm=self.jvm,
                                 version=self.version),
                stdout=log, stderr=log, start_new_session=True)
        self.wait_ready(timeout)

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"--- Kafka node {n.node_id} ({n.log_path})\n{n.log()[-tail:]}" for n in self.nodes)


def _random_cluster_id() -> str:
    """A random Kafka Uuid as text; like Kafka's Uuid.randomUuid, never one starting with "-",
    which the storage tool's argument parser would take for an option."""
    import base64

    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tests.support.apache_kafka fetch`: download every release's jars (what `.ci/run` does)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["fetch"]:
        print("usage: python -m tests.support.apache_kafka fetch", file=sys.stderr)
        return 2
    try:
        for version in releases():
            lib = fetch_jars(version)
            for tool in TOOLS:
                if tool not in NEWER_TOOLS:
                    main_class(tool, version)
            print(f"Apache Kafka {version}: {len(list(lib.glob('*.jar')))} jars in {lib}")
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
