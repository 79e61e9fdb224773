"""Undo takes the newest save: names must sort in the order saved, whatever the clock does."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kctl.ops import saves
from kctl.ops.saves import live_saves, new_save


def test_saves_sort_in_the_order_made_when_the_clock_stands_still_or_steps_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([1_764_600_005_999, 1_764_600_005_999, 1_764_600_003_000, 1_764_600_006_000])
    monkeypatch.setattr(saves, "now_ms", lambda: next(clock))
    made = [new_save(tmp_path, str(n)) for n in range(4)]
    assert [p.name for p in made] == ["20251201T144005-999.json", "20251201T144006-000.json",
                                      "20251201T144006-001.json", "20251201T144006-002.json"]
    assert [p.read_text() for p in live_saves(tmp_path)] == ["0", "1", "2", "3"]


def test_an_undone_save_still_orders_the_next_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saves, "now_ms", lambda: 1_764_600_000_000)
    first = new_save(tmp_path, "first")
    first.rename(first.with_suffix(".undone"))
    second = new_save(tmp_path, "second")
    assert second.name > first.name
    assert live_saves(tmp_path) == [second]


def test_names_written_by_older_kctl_in_local_time_still_come_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An older kctl named saves in local time: east of UTC, such a name reads as later than now.
    (tmp_path / "20251201T164000-500.json").write_text("old")
    (tmp_path / "notes.txt").write_text("not a save")
    monkeypatch.setattr(saves, "now_ms", lambda: 1_764_600_000_000)  # 14:40:00 UTC
    assert new_save(tmp_path, "new").name == "20251201T164000-501.json"
    assert [p.read_text() for p in live_saves(tmp_path)] == ["old", "new"]


def test_concurrent_saves_never_replace_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saves, "now_ms", lambda: 1_764_600_000_000)
    start = threading.Barrier(8)

    def save(n: int) -> None:
        start.wait()
        new_save(tmp_path, str(n))

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.read_text() for p in live_saves(tmp_path)) == [str(n) for n in range(8)]
