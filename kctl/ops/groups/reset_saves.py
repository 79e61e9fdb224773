"""The offsets a reset replaced, saved before it is applied, for `undo_reset`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kctl.client.types import OffsetAndMetadata, TopicPartition
from kctl.ops.times import iso
from kctl.protocol.clock import now_ms

from ..errors import NotFound
from ..saves import live_saves, new_save, state_dir_of

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class SavedOffsets:
    """A group's offsets from before an executed reset, as `undo_reset` restores them."""

    group: str
    saved_at: str
    offsets: list[tuple[str, int, int | None]]  # topic, partition, offset (None: nothing committed)


def state_dir() -> Path:
    return state_dir_of("resets")


def _save_previous(group: str, committed: Mapping[TopicPartition, OffsetAndMetadata],
                   partitions: list[TopicPartition]) -> Path:
    record = [{"topic": tp.topic, "partition": tp.partition,
               "offset": committed[tp].offset if tp in committed else None} for tp in partitions]
    return new_save(state_dir() / group,
                    json.dumps({"group": group, "saved_at": iso(now_ms()), "offsets": record}, indent=2))


def last_saved_reset(group: str) -> SavedOffsets:
    """The offsets the group's last executed reset saved (what `undo_reset` would put back)."""
    saves = live_saves(state_dir() / group)
    if not saves:
        raise NotFound(f"no executed reset of group {group!r} to undo", "resets are saved by --execute")
    raw = json.loads(saves[-1].read_text())
    return SavedOffsets(raw["group"], raw["saved_at"], [(o["topic"], o["partition"], o["offset"])
                                                        for o in raw["offsets"]])
