"""Our message definitions against Apache Kafka's own message specifications.

The specifications live outside the project (`../shared/kafka-protocol/message`); messages newer
than that snapshot (the Kafka 4 group and share-offset APIs) are read from the same files inside
the test bed's reference release (`common/message/` in its kafka-clients jar). This test skips
when neither is present. For every message and every version we speak, each field that
exists in that version must match by name, type, nullability and tag, at every nesting level.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kctl.protocol.schema.apis import APIS, RECORD_SCHEMAS
from kctl.protocol.schema.dsl import Array, Field, Message, Struct, Versions
from kctl.protocol.schema.metadata_records import METADATA_RECORDS

SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "kafka-protocol" / "message"

pytestmark = pytest.mark.skipif(not SPEC_DIR.is_dir(), reason="Kafka message specs not present")


def load_spec(name: str, speaks: Versions | None = None) -> dict[str, Any]:
    """Kafka's spec for a message; the release's copy when the snapshot lacks it or stops short of
    the versions we speak (`speaks`)."""
    path = SPEC_DIR / f"{name}.json"
    if path.exists():
        spec = _parse(path.read_text())
        valid = Versions.parse(spec["validVersions"])
        if speaks is None or (valid is not None and speaks.high is not None and speaks.high in valid):
            return spec
    return _parse(_release_spec(name))


def _parse(text: str) -> dict[str, Any]:
    return json.loads(re.sub(r"//.*$", "", text, flags=re.M))  # type: ignore[no-any-return]


def _release_spec(name: str) -> str:
    """The spec as the reference Kafka release ships it: in its client jar, or for a KRaft
    metadata record in its metadata jar."""
    from tests.support.apache_kafka import kafka_version, require_jars

    if name in {m.name for m in METADATA_RECORDS.values()}:
        with zipfile.ZipFile(require_jars() / f"kafka-metadata-{kafka_version()}.jar") as archive:
            for entry in archive.namelist():  # named by file, which is not always the record's name
                if entry.startswith("common/metadata/") and entry.endswith(".json"):
                    text = archive.read(entry).decode()
                    if _parse(text)["name"] == name:
                        return text
        raise KeyError(f"Apache Kafka {kafka_version()} has no metadata record {name}")
    with zipfile.ZipFile(require_jars() / f"kafka-clients-{kafka_version()}.jar") as archive:
        return archive.read(f"common/message/{name}.json").decode()


def snake(name: str) -> str:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name).lower()


def in_range(text: str | None, version: int) -> bool:
    parsed = Versions.parse(text)
    return parsed is not None and version in parsed


def their_fields(fields: list[dict[str, Any]], version: int, common: dict[str, Any]) -> list[tuple[Any, ...]]:
    out = []
    for f in fields:
        if not in_range(f["versions"], version):
            continue
        kind = f["type"]
        element = kind.removeprefix("[]")
        nested: Any = None
        if element[0].isupper():
            nested = their_fields(f.get("fields") or common[element], version, common)
            kind = kind.replace(element, "struct")
        tag = f.get("tag") if in_range(f.get("taggedVersions"), version) else None
        out.append((snake(f["name"]), kind, in_range(f.get("nullableVersions"), version), tag, nested))
    return out


def our_fields(fields: tuple[Field, ...], version: int) -> list[tuple[Any, ...]]:
    out = []
    for f in fields:
        if not f.present_in(version):
            continue
        kind = f.type
        element = kind.element if isinstance(kind, Array) else kind
        nested = our_fields(element.fields, version) if isinstance(element, Struct) else None
        name = "struct" if isinstance(element, Struct) else str(element)
        text = f"[]{name}" if isinstance(kind, Array) else name
        tag = f.tag if f.tagged_in(version) else None
        out.append((f.name, text, f.nullable_in(version), tag, nested))
    return out


def check_message(ours: Message, spec: dict[str, Any]) -> None:
    valid = Versions.parse(spec["validVersions"])
    assert valid is not None
    common = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
    for version in ours.all_versions():
        assert version in valid, f"{ours.name} v{version} is not a Kafka version"
        assert ours.flexible_in(version) == in_range(spec.get("flexibleVersions"), version), (
            ours.name,
            version,
        )
        assert our_fields(ours.fields, version) == their_fields(spec["fields"], version, common), (
            f"{ours.name} v{version}"
        )


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.name)
def test_api_matches_kafka(api: Any) -> None:
    request = load_spec(api.request.name, api.versions)
    response = load_spec(api.response.name, api.versions)
    assert request["apiKey"] == api.key == response["apiKey"]
    check_message(api.request, request)
    check_message(api.response, response)


#: Record schemas whose specifications live in Kafka's coordinator modules, not in the shared
#: message specs: Kafka's own decoder reads ours instead (test_transaction_log_records.py).
CHECKED_BY_KAFKAS_DECODER = {"TransactionLogKey", "TransactionLogValue"}


@pytest.mark.parametrize("schema", [s for s in RECORD_SCHEMAS if s.name not in CHECKED_BY_KAFKAS_DECODER],
                         ids=lambda m: m.name)
def test_record_schema_matches_kafka(schema: Message) -> None:
    spec = load_spec(schema.name)
    metadata = {m.name: key for key, m in METADATA_RECORDS.items()}
    if schema.name in metadata:
        assert spec["type"] == "metadata" and spec["apiKey"] == metadata[schema.name]
    check_message(schema, spec)


def test_every_api_in_the_table_is_defined() -> None:
    # Section 1.1 of the research notes, plus DescribeLogDirs which the broker needs.
    wanted = {
        0,
        1,
        2,
        3,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        23,
        32,
        33,
        35,
        36,
        37,
        42,
        44,
        47,
        50,
        51,
        55,
        57,
        60,
        69,
        74,
        75,
        77,
        89,
        90,
        91,
        92,
    }
    assert wanted <= {api.key for api in APIS}


def test_the_check_catches_a_wrong_definition() -> None:
    import dataclasses

    from kctl.protocol.schema.apis import METADATA
    from kctl.protocol.schema.dsl import INT16

    first = METADATA.response.fields[0]  # throttle_time_ms, int32
    wrong_type = dataclasses.replace(
        METADATA.response, fields=(Field(first.name, INT16, "3+"), *METADATA.response.fields[1:])
    )
    with pytest.raises(AssertionError):
        check_message(wrong_type, load_spec("MetadataResponse"))
    wrong_range = dataclasses.replace(
        METADATA.response, fields=(Field(first.name, first.type, "4+"), *METADATA.response.fields[1:])
    )
    with pytest.raises(AssertionError):
        check_message(wrong_range, load_spec("MetadataResponse"))
