"""`kctl log dump | verify`, offline, on segments written by the built-in broker and by Apache Kafka,
held against Kafka's own kafka-dump-log.sh (DumpLogSegments) on the same files; then damaged copies:
a flipped byte, a torn tail, a wrong index entry."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.broker.conftest import BrokerProcess
from tests.support.apache_kafka import KafkaCluster, require_jars, run_tool

TOPIC = "dumped"


def kctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kctl", *args], capture_output=True, text=True, timeout=120)


async def _write(bootstrap: str, topic: str) -> None:
    """Plain, keyed and header-carrying records, a gzip batch, a committed and an aborted transaction."""
    from kctl.client import Admin, Cluster
    from kctl.client.admin.topics import NewTopic
    from kctl.client.producer import Producer

    cluster = Cluster(bootstrap)
    await cluster.start()
    try:
        await Admin(cluster).create_topics([NewTopic(topic, 1, 1)])
        plain = Producer(cluster, linger_ms=0)
        await plain.start()
        for i in range(3):
            await (await plain.send(topic, f"v{i}".encode(), f"k{i}".encode(), headers=[("h", b"x"), ("n", None)]))
        await plain.close()
        packed = Producer(cluster, compression="gzip", linger_ms=50)
        await packed.start()
        futures = [await packed.send(topic, f"z{i}".encode()) for i in range(5)]
        await asyncio.gather(*futures)
        await packed.close()
        txn = Producer(cluster, transactional_id="dump-txn")
        await txn.start()
        for outcome in ("commit", "abort"):
            txn.begin()
            await txn.send(topic, f"t-{outcome}".encode())
            await (txn.commit() if outcome == "commit" else txn.abort())
        await txn.close()
    finally:
        await cluster.close()


def dump_log_sh(log: Path, *extra: str) -> list[dict[str, Any]]:
    """kafka-dump-log.sh --print-data-log, parsed: its batches, each with its records."""
    out = run_tool("dump-log", "--files", str(log), "--print-data-log", *extra).stdout
    batches: list[dict[str, Any]] = []
    for line in out.splitlines():
        if line.startswith("baseOffset:"):
            fields = dict(re.findall(r"(\w+): (\S+)", line))
            fields["records"] = []
            batches.append(fields)
        elif line.startswith("| offset:") and batches:
            record = dict(re.findall(r"(\w+): (\S*)", line.split(" key: ")[0]))
            key = re.search(r" key: (.*?)(?: payload: |$)", line)
            payload = re.search(r" payload: (.*)$", line)
            record["key"] = key.group(1) if key else None
            record["payload"] = payload.group(1) if payload else None
            batches[-1]["records"].append(record)
    return batches


def _same_as_kafka(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert len(ours) == len(theirs) and ours
    for mine, kafka in zip(ours, theirs, strict=True):
        assert (mine["base_offset"], mine["last_offset"], mine["count"], mine["position"], mine["crc"]) == (
            int(kafka["baseOffset"]), int(kafka["lastOffset"]), int(kafka["count"]), int(kafka["position"]),
            int(kafka["crc"]))
        assert (mine["producer_id"], mine["producer_epoch"], mine["partition_leader_epoch"]) == (
            int(kafka["producerId"]), int(kafka["producerEpoch"]), int(kafka["partitionLeaderEpoch"]))
        assert (str(mine["transactional"]).lower(), str(mine["control"]).lower(), mine["compression"]) == (
            kafka["isTransactional"], kafka["isControl"], kafka["compresscodec"])
        assert kafka["isvalid"] == "true" and mine["crc_valid"]
        assert [r["offset"] for r in mine["records"]] == [int(r["offset"]) for r in kafka["records"]]
        if not mine["control"]:
            assert [r["value"] for r in mine["records"]] == [r["payload"] for r in kafka["records"]]
        else:  # Kafka prints the marker: "endTxnMarker: COMMIT coordinatorEpoch: 0"
            assert [mine["control_type"]] == [r["endTxnMarker"] for r in kafka["records"]]


@pytest.fixture(scope="module")
def built_in_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    broker = BrokerProcess(tmp_path_factory.mktemp("dump") / "data").start()
    try:
        asyncio.run(_write(broker.bootstrap, TOPIC))
    finally:
        broker.stop()  # a clean stop writes the indexes
    return broker.data_dir / f"{TOPIC}-0"


def test_dump_shows_batches_records_headers_and_markers_as_kafka_s_tool_does(built_in_dir: Path) -> None:
    done = kctl("log", "dump", str(built_in_dir), "-o", "json")
    assert done.returncode == 0, done.stderr
    batches = json.loads(done.stdout)
    first = batches[0]
    assert first["records"][0] == {"offset": 0, "timestamp": first["records"][0]["timestamp"], "key": "k0",
                                   "value": "v0", "headers": [["h", "x"], ["n", None]]}
    assert any(b["compression"] == "gzip" and b["count"] == 5 for b in batches)
    markers = [b["control_type"] for b in batches if b["control"]]
    assert markers == ["COMMIT", "ABORT"]
    assert all(b["producer_id"] >= 0 for b in batches if b["transactional"])
    require_jars()
    _same_as_kafka(batches, dump_log_sh(built_in_dir / "00000000000000000000.log"))


def test_verify_passes_a_sound_log_and_its_indexes(built_in_dir: Path) -> None:
    done = kctl("log", "verify", str(built_in_dir), "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["problems"] == [] and report["segments"][0]["batches"] >= 6
    index = kctl("log", "dump", str(built_in_dir / "00000000000000000000.index"), "-o", "json")
    assert json.loads(index.stdout)[0] == {"entry_position": 0, "offset": 0, "position": 0}


def _copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def test_verify_reports_a_flipped_byte_with_its_batch_s_position(built_in_dir: Path, tmp_path: Path) -> None:
    broken = _copy(built_in_dir, tmp_path)
    log = broken / "00000000000000000000.log"
    batches = json.loads(kctl("log", "dump", str(broken), "-o", "json", "--batches-only").stdout)
    second = batches[1]
    data = bytearray(log.read_bytes())
    data[second["position"] + second["size"] - 2] ^= 0xFF  # inside the second batch's last record
    log.write_bytes(bytes(data))
    done = kctl("log", "verify", str(broken), "-o", "json")
    assert done.returncode == 7
    problems = json.loads(done.stdout)["problems"]
    assert problems == [{"file": log.name, "position": second["position"],
                         "problem": problems[0]["problem"]}] and "CRC mismatch" in problems[0]["problem"]
    assert f"1 problem(s) in {broken}" in done.stderr


def test_verify_reports_a_torn_tail_and_a_wrong_index_entry(built_in_dir: Path, tmp_path: Path) -> None:
    broken = _copy(built_in_dir, tmp_path)
    log, index = broken / "00000000000000000000.log", broken / "00000000000000000000.index"
    size = log.stat().st_size
    with open(log, "ab") as f:
        f.write(b"\x00" * 30)  # a write cut short by a crash
    index.write_bytes(index.read_bytes() + (3).to_bytes(4, "big") + (7).to_bytes(4, "big"))
    done = kctl("log", "verify", str(broken), "-o", "json")
    assert done.returncode == 7
    problems = {(p["file"], p["position"]): p["problem"] for p in json.loads(done.stdout)["problems"]}
    assert "torn tail: 30 byte(s)" in problems[(log.name, size)]
    entry_at = index.stat().st_size - 8
    assert "position 7, where no batch starts" in problems[(index.name, entry_at)]


# ---- Apache Kafka's files ----------------------------------------------------------------------------------
def test_dump_and_verify_read_apache_kafka_s_log_dir(kafka_one: KafkaCluster, tmp_path: Path) -> None:
    topic = "dumped-on-kafka"
    asyncio.run(_write(kafka_one.bootstrap, topic))
    kafka_one.tool("topics", "--describe", "--topic", topic)  # the writes are in
    source = kafka_one.nodes[0].home / "data" / f"{topic}-0"
    copy = _copy(source, tmp_path)  # a live log: read a copy, as an operator would
    done = kctl("log", "dump", str(copy), "-o", "json")
    assert done.returncode == 0, done.stderr
    batches = json.loads(done.stdout)
    _same_as_kafka(batches, dump_log_sh(copy / "00000000000000000000.log"))
    done = kctl("log", "verify", str(copy), "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_dump_decodes_kafka_s_consumer_offsets_records(kafka_one: KafkaCluster, tmp_path: Path) -> None:
    topic, group = "dumped-offsets", "dump-group"
    kafka_one.tool("topics", "--create", "--topic", topic, "--partitions", "1")
    kafka_one.tool("consumer-groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-offset", "0",
                   "--execute")
    found = []
    for directory in sorted((kafka_one.nodes[0].home / "data").glob("__consumer_offsets-*")):
        copy = _copy(directory, tmp_path)
        rows = json.loads(kctl("log", "dump", str(copy), "-o", "json").stdout)
        for batch in rows:
            for record in batch.get("records", []):
                key = record.get("decoded", {}).get("key", {})
                if key.get("group") == group:
                    found.append((copy, record))
    assert found, "no offset commit of the group was found"
    copy, record = found[-1]
    assert record["decoded"]["key"] == {"type": "OffsetCommitKey", "group": group, "topic": topic, "partition": 0}
    assert record["decoded"]["value"]["type"] == "OffsetCommitValue" and record["decoded"]["value"]["offset"] == 0
    theirs = run_tool("dump-log", "--files", str(copy / "00000000000000000000.log"), "--print-data-log",
                      "--offsets-decoder").stdout
    assert f'"group":"{group}","topic":"{topic}","partition":0' in theirs.replace(" ", "")


def test_dump_decodes_every_record_of_kafka_s_cluster_metadata_log(kafka_one: KafkaCluster, tmp_path: Path) -> None:
    topic = "dumped-metadata"
    kafka_one.tool("topics", "--create", "--topic", topic, "--partitions", "2")
    kafka_one.tool("configs", "--alter", "--entity-type", "topics", "--entity-name", topic, "--add-config",
                   "retention.ms=123456")
    copy = _copy(kafka_one.nodes[0].home / "data" / "__cluster_metadata-0", tmp_path)
    done = kctl("log", "dump", str(copy), "-o", "json")
    assert done.returncode == 0, done.stderr
    records = [r for b in json.loads(done.stdout) if not b["control"] for r in b["records"]]
    decoded = [r["decoded"] for r in records]
    assert decoded and not [d for d in decoded if "error" in d]  # every type and version Kafka wrote
    kinds = {d["type"] for d in decoded}
    assert {"FeatureLevelRecord", "RegisterBrokerRecord", "TopicRecord", "PartitionRecord", "ConfigRecord"} <= kinds
    topic_record = next(d for d in decoded if d["type"] == "TopicRecord" and d["name"] == topic)
    partitions = sorted(d["partition_id"] for d in decoded
                        if d["type"] == "PartitionRecord" and d["topic_id"] == topic_record["topic_id"])
    assert partitions == [0, 1]
    assert any(d["type"] == "ConfigRecord" and d["resource_name"] == topic and d["name"] == "retention.ms"
               and d["value"] == "123456" for d in decoded)
    # Kafka's own decoder on the same file names the same records, in the same order.
    log = sorted(copy.glob("*.log"))[-1]
    theirs = run_tool("dump-log", "--files", str(log), "--cluster-metadata-decoder").stdout
    their_types = re.findall(r'"type":"(\w+)"', theirs)
    ours = [r["decoded"]["type"] for b in json.loads(kctl("log", "dump", str(log), "-o", "json").stdout)
            if not b["control"] for r in b["records"]]
    assert [re.sub(r"_", "", t).lower() for t in their_types] == [o.lower() for o in ours]
