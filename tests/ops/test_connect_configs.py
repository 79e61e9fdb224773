"""Connector configs and offsets as kctl reads them from files, before any worker sees them."""

from __future__ import annotations

import pytest

from kctl.ops.connectors import config_diff, failing, field_errors, parse_config, parse_offsets
from kctl.ops.errors import BadUsage


def test_a_config_is_read_from_json_connects_own_form_or_properties() -> None:
    wanted = {"connector.class": "FileStreamSink", "tasks.max": "2", "topics": "a,b", "errors.log.enable": "true"}
    assert parse_config('{"connector.class": "FileStreamSink", "tasks.max": 2, "topics": ["a", "b"], '
                        '"errors.log.enable": true}', "f") == wanted
    assert parse_config('{"name": "x", "config": {"connector.class": "FileStreamSink", "tasks.max": "2", '
                        '"topics": "a,b", "errors.log.enable": "true"}}', "f") == wanted
    text = "# a comment\nconnector.class=FileStreamSink\n\ntasks.max = 2\ntopics=a,b\nerrors.log.enable: true\n"
    assert parse_config(text, "f") == wanted


@pytest.mark.parametrize(("text", "says"), [
    ("", "is empty"),
    ("{not json", "not valid JSON"),
    ("connector.class=x\njust words\n", "line 2: expected key=value"),
])
def test_a_bad_config_file_is_refused_saying_where(text: str, says: str) -> None:
    with pytest.raises(BadUsage, match=says):
        parse_config(text, "conf")


def test_offsets_need_a_partition_object_and_an_offset_each() -> None:
    good = '{"offsets": [{"partition": {"filename": "/in"}, "offset": {"position": 10}}]}'
    assert parse_offsets(good, "f")[0]["offset"] == {"position": 10}
    assert parse_offsets('[{"partition": {"filename": "/in"}, "offset": null}]', "f")[0]["offset"] is None
    for bad, says in (('{"offsets": []}', "names no offsets"), ('[{"offset": {"position": 1}}]', "partition object"),
                      ('[{"partition": {"f": 1}}]', "an offset"), ("[", "not valid JSON")):
        with pytest.raises(BadUsage, match=says):
            parse_offsets(bad, "f")


def test_the_change_an_update_makes_is_shown_key_by_key() -> None:
    changes = config_diff({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "20", "d": "4"})
    assert [(c.key, c.before, c.after) for c in changes] == [("b", "2", "20"), ("c", "3", None), ("d", None, "4")]


def test_validation_errors_and_failures_are_named() -> None:
    verdict = {"error_count": 1, "configs": [
        {"value": {"name": "topic", "value": None, "errors": ["Missing required configuration \"topic\""]}},
        {"value": {"name": "file", "value": "/in", "errors": []}}]}
    missing = ['Missing required configuration "topic"']
    assert [(e.name, e.errors) for e in field_errors(verdict)] == [("topic", missing)]
    rows = [{"name": "ok", "state": "RUNNING", "failed_tasks": []},
            {"name": "bad", "state": "FAILED", "failed_tasks": [0, 2]}]
    assert failing(rows) == ["bad: connector FAILED", "bad: task(s) 0, 2 FAILED"]
