"""The built-in broker's authorizer against Apache Kafka's StandardAuthorizer: the same requests from
a principal with no ACLs get the same error codes from both brokers; after the same ACLs, the same
operations go through; ACLs and their checks answer alike; and ACLs survive a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kctl.protocol.errors import ErrorCode
from kctl.protocol.messages.describe_cluster import DescribeClusterRequest
from tests.conftest import SCRAM_ADMIN, SCRAM_ALICE
from tests.support.apache_kafka import KafkaCluster

from .conftest import BrokerProcess

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(tmp_path / "data", {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        f"sasl.users.{SCRAM_ADMIN.name}": SCRAM_ADMIN.password, f"sasl.users.{SCRAM_ALICE.name}": SCRAM_ALICE.password,
        "authorizer.class.name": AUTHORIZER, "super.users": f"User:{SCRAM_ADMIN.name}", "num.partitions": 1,
    }).start()
    yield b
    b.stop()


def first_error(message: Any) -> str:
    """The response's error: its own code, or else the first one set inside it."""
    def walk(value: Any) -> int:
        if isinstance(value, list):
            for item in value:
                code = walk(item)
                if code:
                    return code
            return 0
        slots = getattr(value, "__slots__", ())
        code = getattr(value, "error_code", 0) if "error_code" in slots else 0
        if code:
            return int(code)
        for name in slots:
            if name != "error_code":
                code = walk(getattr(value, name))
                if code:
                    return code
        return 0

    return ErrorCode.of(walk(message)).name


def requests(topic: str, group: str) -> dict[str, Any]:
    """One request per operation a principal might be denied."""
    from kctl.protocol.enums import ConfigResourceType
    from kctl.protocol.messages import (
        add_offsets_to_txn,
        add_partitions_to_txn,
        alter_client_quotas,
        alter_user_scram_credentials,
        create_acls,
        create_partitions,
        create_topics,
        delete_groups,
        delete_records,
        delete_topics,
        describe_acls,
        describe_client_quotas,
        describe_configs,
        describe_groups,
        describe_log_dirs,
        describe_producers,
        describe_transactions,
        describe_user_scram_credentials,
        elect_leaders,
        end_txn,
        fetch,
        find_coordinator,
        incremental_alter_configs,
        init_producer_id,
        join_group,
        list_offsets,
        list_transactions,
        metadata,
        offset_commit,
        offset_fetch,
        produce,
        txn_offset_commit,
    )
    from kctl.protocol.records import Record, encode_batch

    batch = encode_batch([Record(key=b"k", value=b"v", timestamp=0)])
    return {
        "Metadata (the topic)": metadata.MetadataRequest([metadata.MetadataRequestTopic(name=topic)], False),
        "Produce": produce.ProduceRequest(acks=-1, timeout_ms=5000, topic_data=[
            produce.TopicProduceData(topic, [produce.PartitionProduceData(0, batch)])]),
        "Fetch": fetch.FetchRequest(max_wait_ms=0, min_bytes=1, max_bytes=1 << 20, session_epoch=-1, topics=[
            fetch.FetchTopic(topic, [fetch.FetchPartition(0, fetch_offset=0, partition_max_bytes=1 << 20)])]),
        "ListOffsets": list_offsets.ListOffsetsRequest(-1, 0, [list_offsets.ListOffsetsTopic(topic, [
            list_offsets.ListOffsetsPartition(0, -1, -1)])]),
        "CreateTopics": create_topics.CreateTopicsRequest([create_topics.CreatableTopic(f"{topic}-new", 1, 1)]),
        "DeleteTopics": delete_topics.DeleteTopicsRequest([delete_topics.DeleteTopicState(topic)], [topic], 5000),
        "CreatePartitions": create_partitions.CreatePartitionsRequest([
            create_partitions.CreatePartitionsTopic(topic, 2, None)], 5000, False),
        "DeleteRecords": delete_records.DeleteRecordsRequest([delete_records.DeleteRecordsTopic(topic, [
            delete_records.DeleteRecordsPartition(0, 0)])], 5000),
        "DescribeConfigs (topic)": describe_configs.DescribeConfigsRequest([
            describe_configs.DescribeConfigsResource(ConfigResourceType.TOPIC, topic, None)]),
        "DescribeConfigs (broker)": describe_configs.DescribeConfigsRequest([
            describe_configs.DescribeConfigsResource(ConfigResourceType.BROKER, "", None)]),
        "IncrementalAlterConfigs (topic)": incremental_alter_configs.IncrementalAlterConfigsRequest([
            incremental_alter_configs.AlterConfigsResource(ConfigResourceType.TOPIC, topic, [
                incremental_alter_configs.AlterableConfig("retention.ms", 0, "1000")])], False),
        "FindCoordinator": find_coordinator.FindCoordinatorRequest(group, 0, [group]),
        "JoinGroup": join_group.JoinGroupRequest(group, 10000, 10000, "", None, "consumer", [
            join_group.JoinGroupRequestProtocol("range", b"")]),
        "OffsetCommit": offset_commit.OffsetCommitRequest(group, -1, "", None, -1, [
            offset_commit.OffsetCommitRequestTopic(topic, [offset_commit.OffsetCommitRequestPartition(0, 1)])]),
        "OffsetFetch": offset_fetch.OffsetFetchRequest(group, [offset_fetch.OffsetFetchRequestTopic(topic, [0])],
                                                       [offset_fetch.OffsetFetchRequestGroup(group, None, -1, None)]),
        "DescribeGroups": describe_groups.DescribeGroupsRequest([group]),
        "DeleteGroups": delete_groups.DeleteGroupsRequest([group]),
        "DescribeLogDirs": describe_log_dirs.DescribeLogDirsRequest(None),
        "InitProducerId (idempotent)": init_producer_id.InitProducerIdRequest(None, 60000),
        "InitProducerId (transactional)": init_producer_id.InitProducerIdRequest(f"{topic}-tx", 60000),
        "FindCoordinator (transaction)": find_coordinator.FindCoordinatorRequest(
            f"{topic}-tx", 1, [f"{topic}-tx"]),
        "AddPartitionsToTxn": add_partitions_to_txn.AddPartitionsToTxnRequest(
            v3_and_below_transactional_id=f"{topic}-tx", v3_and_below_producer_id=1, v3_and_below_producer_epoch=0,
            v3_and_below_topics=[add_partitions_to_txn.AddPartitionsToTxnTopic(topic, [0])]),
        "AddOffsetsToTxn": add_offsets_to_txn.AddOffsetsToTxnRequest(f"{topic}-tx", 1, 0, group),
        "TxnOffsetCommit": txn_offset_commit.TxnOffsetCommitRequest(f"{topic}-tx", group, 1, 0, topics=[
            txn_offset_commit.TxnOffsetCommitRequestTopic(topic, [
                txn_offset_commit.TxnOffsetCommitRequestPartition(0, 1)])]),
        "EndTxn": end_txn.EndTxnRequest(f"{topic}-tx", 1, 0, True),
        "DescribeTransactions": describe_transactions.DescribeTransactionsRequest([f"{topic}-tx"]),
        "ListTransactions": list_transactions.ListTransactionsRequest(),
        "DescribeProducers": describe_producers.DescribeProducersRequest([
            describe_producers.TopicRequest(topic, [0])]),
        "ElectLeaders": elect_leaders.ElectLeadersRequest(0, [elect_leaders.ElectLeadersTopicPartitions(topic, [0])]),
        "DescribeAcls": describe_acls.DescribeAclsRequest(1, None, 1, None, None, 1, 1),
        "CreateAcls": create_acls.CreateAclsRequest([create_acls.AclCreation(2, topic, 3, "User:alice", "*", 3, 3)]),
        # (A null user list there makes Apache Kafka 4.1 fail building its error answer: users are named.)
        "DescribeUserScramCredentials": describe_user_scram_credentials.DescribeUserScramCredentialsRequest([
            describe_user_scram_credentials.UserName("alice")]),
        "AlterUserScramCredentials": alter_user_scram_credentials.AlterUserScramCredentialsRequest([
            alter_user_scram_credentials.ScramCredentialDeletion("nobody", 2)], []),
        "DescribeClientQuotas": describe_client_quotas.DescribeClientQuotasRequest([], False),
        "AlterClientQuotas": alter_client_quotas.AlterClientQuotasRequest([
            alter_client_quotas.AlterClientQuotasEntry([alter_client_quotas.AlterQuotaEntity("user", "alice")], [
                alter_client_quotas.QuotaOp("producer_byte_rate", 1000.0, False)])], False),
    }


async def _answers(bootstrap: str, user: Any, build: Callable[[], dict[str, Any]], topic: str) -> dict[str, str]:
    """Each request's first error code, and which of this test's topics (named `topic`...) Metadata
    lists: other tests on the same cluster leave their own topics and ACLs behind."""
    from kctl.client import Cluster
    from kctl.client.sasl import SaslAuthenticator

    async with Cluster(bootstrap, authenticator=SaslAuthenticator("SCRAM-SHA-512", user.name, user.password),
                       request_timeout_s=15) as cluster:
        node = next(iter(cluster.brokers))
        out = {}
        for name, request in build().items():
            out[name] = first_error(await cluster.send(node, request))
        listed = await cluster.send(node, requests("x", "y")["Metadata (the topic)"].__class__(None, False))
        shown = sorted(t.name for t in listed.topics if t.name.startswith(topic))
        out["Metadata (every topic) shows"] = ",".join(shown)
        # Anyone may describe the cluster (AuthHelper); the operations allowed on it are told only
        # to a principal that may describe it.
        described = await cluster.send(node, DescribeClusterRequest(include_cluster_authorized_operations=True))
        out["DescribeCluster"] = f"{first_error(described)} {described.cluster_authorized_operations}"
        return out


def _prepare(bootstrap: str, topic: str, group: str, tmp_path: Path, *, acls: list[list[str]] = ()) -> None:
    from tests.cli.conftest import isolated_env
    from tests.cli.test_commands import kctl

    env = {**isolated_env(tmp_path / bootstrap.replace(":", "-"), None), "PW": SCRAM_ADMIN.password}
    kctl(env, "config", "set-context", "admin", "-b", bootstrap, "--sasl-mechanism", "SCRAM-SHA-512",
         "--sasl-username", SCRAM_ADMIN.name, "--sasl-password-env", "PW", "--use")
    if not acls:
        kctl(env, "topics", "create", topic)
        kctl(env, "produce", topic, stdin="one\n")
    for args in acls:
        kctl(env, "acls", *args)


def test_denied_operations_get_the_same_error_codes_as_on_apache_kafka(acl_broker: BrokerProcess,
                                                                      kafka_acl: KafkaCluster, tmp_path: Path,
                                                                      record_property: Any) -> None:
    topic, group = "guarded", "guarded-group"
    brokers = {"ours": acl_broker.bootstrap, "kafka": kafka_acl.bootstrap}
    for bootstrap in brokers.values():
        _prepare(bootstrap, topic, group, tmp_path)
    denied = {name: asyncio.run(_answers(b, SCRAM_ALICE, lambda: requests(topic, group), topic))
              for name, b in brokers.items()}
    record_property("denied", json.dumps(denied))
    assert denied["ours"] == denied["kafka"]
    assert denied["kafka"]["Produce"] == "TOPIC_AUTHORIZATION_FAILED"
    assert denied["kafka"]["JoinGroup"] == "GROUP_AUTHORIZATION_FAILED"
    assert denied["kafka"]["DescribeLogDirs"] == "CLUSTER_AUTHORIZATION_FAILED"

    grants = [["allow", "User:alice", "read", f"topic:{topic}"], ["allow", "User:alice", "read", f"group:{group}"],
              ["allow", "User:alice", "write", f"transactional-id:{topic}-tx"]]
    for bootstrap in brokers.values():
        _prepare(bootstrap, topic, group, tmp_path, acls=grants)
    def allowed_now(bootstrap: str) -> dict[str, str]:
        wanted = ("Metadata (the topic)", "Fetch", "ListOffsets", "Produce", "OffsetCommit", "OffsetFetch",
                  "FindCoordinator", "DescribeConfigs (topic)", "InitProducerId (transactional)",
                  "FindCoordinator (transaction)", "DescribeTransactions", "DescribeProducers")
        # Apache Kafka creates __consumer_offsets on a group's first use: its coordinator answers
        # COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR for a moment after that, not an authorization error.
        for _ in range(40):
            found = asyncio.run(_answers(bootstrap, SCRAM_ALICE, lambda: {
                k: v for k, v in requests(topic, group).items() if k in wanted}, topic))
            if not {"COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS"} & set(
                    found.values()):
                return found
        return found

    reading = {name: allowed_now(b) for name, b in brokers.items()}
    record_property("after read grants", json.dumps(reading))
    assert reading["ours"] == reading["kafka"]
    assert reading["kafka"]["Fetch"] == "NONE" and reading["kafka"]["Produce"] == "TOPIC_AUTHORIZATION_FAILED"
    assert reading["kafka"]["InitProducerId (transactional)"] == "NONE"


def test_acls_survive_a_restart_and_kctl_manages_them(acl_broker: BrokerProcess, tmp_path: Path) -> None:
    from tests.cli.conftest import isolated_env
    from tests.cli.test_commands import kctl

    env = {**isolated_env(tmp_path, None), "PW": SCRAM_ADMIN.password}
    kctl(env, "config", "set-context", "admin", "-b", acl_broker.bootstrap, "--sasl-mechanism", "SCRAM-SHA-512",
         "--sasl-username", SCRAM_ADMIN.name, "--sasl-password-env", "PW", "--use")
    kctl(env, "acls", "allow", "User:alice", "write", "topic:audit-*")
    kctl(env, "acls", "deny", "User:alice", "write", "topic:audit-secret")
    bad = kctl(env, "acls", "create", "--allow-principal", "alice", "--operation", "Read", "--topic", "x", ok=False)
    assert bad.returncode == 2 and "TYPE:NAME" in bad.stderr
    acl_broker.kill()
    acl_broker.start()
    rows = json.loads(kctl(env, "acls", "list", "-o", "json").stdout)
    assert {(r["permission"], r["resource"], r["pattern"]) for r in rows} == {
        ("ALLOW", "audit-", "PREFIXED"), ("DENY", "audit-secret", "LITERAL")}
    checked = kctl(env, "acls", "check", "--principal", "User:alice", "--operation", "Write", "--topic",
                   "audit-secret", "-o", "json", ok=False)
    assert checked.returncode == 8 and json.loads(checked.stdout)["reason"].startswith("a DENY ACL matches")
    assert json.loads(kctl(env, "acls", "check", "--principal", "User:alice", "--operation", "Describe", "--topic",
                           "audit-log", "-o", "json").stdout)["allowed"]
    deleted = json.loads(kctl(env, "acls", "delete", "--topic", "audit-", "--resource-pattern-type", "prefixed",
                              "--yes", "-o", "json").stdout)
    assert [(d["permission"], d["resource"]) for d in deleted] == [("ALLOW", "audit-")]


def test_kafkas_acl_command_manages_acls_on_the_built_in_broker(acl_broker: BrokerProcess, tmp_path: Path) -> None:
    from tests.cli.conftest import isolated_env
    from tests.cli.test_commands import kctl
    from tests.support.apache_kafka import require_jars, run_tool

    require_jars()
    properties = tmp_path / "admin.properties"
    properties.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
                          "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                          f'username="{SCRAM_ADMIN.name}" password="{SCRAM_ADMIN.password}";\n')
    common = ["--bootstrap-server", acl_broker.bootstrap, "--command-config", str(properties)]
    run_tool("acls", *common, "--add", "--allow-principal", "User:bob", "--operation", "Read", "--operation",
             "Describe", "--topic", "tool-topic", "--group", "tool-group")
    listed = run_tool("acls", *common, "--list", "--topic", "tool-topic").stdout
    assert "principal=User:bob" in listed and "operation=READ" in listed and "operation=DESCRIBE" in listed
    env = {**isolated_env(tmp_path, None), "PW": SCRAM_ADMIN.password}
    kctl(env, "config", "set-context", "admin", "-b", acl_broker.bootstrap, "--sasl-mechanism", "SCRAM-SHA-512",
         "--sasl-username", SCRAM_ADMIN.name, "--sasl-password-env", "PW", "--use")
    rows = json.loads(kctl(env, "acls", "list", "--principal", "User:bob", "-o", "json").stdout)
    assert {(r["resource_type"], r["resource"], r["operation"]) for r in rows} == {
        ("TOPIC", "tool-topic", "READ"), ("TOPIC", "tool-topic", "DESCRIBE"),
        ("GROUP", "tool-group", "READ"), ("GROUP", "tool-group", "DESCRIBE")}
    run_tool("acls", *common, "--remove", "--force", "--allow-principal", "User:bob", "--operation", "Read",
             "--topic", "tool-topic")
    rows = json.loads(kctl(env, "acls", "list", "--topic", "tool-topic", "-o", "json").stdout)
    assert [(r["operation"]) for r in rows] == ["DESCRIBE"]
