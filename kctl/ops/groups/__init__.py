"""Group lag, health and offset resets, for `kctl groups ...`, `kctl lag` and the console.

One module per concern: `rows` (lag's columns and verdicts), `lag` (computed over many groups),
`ages` (how old the next record is), `history` (rates and verdicts over time), `overview` (what
the views show), `resets` and `reset_saves` (offset resets, and what they replaced).
"""

from __future__ import annotations

from .ages import add_record_age
from .history import RATE_WINDOW, LagHistory, Look, health, single_look_health
from .lag import iter_lag, share_lag, share_partition_lag
from .overview import GroupLag, describe_group, group_lag, iter_group_lag, member_row
from .reset_saves import SavedOffsets, last_saved_reset, state_dir
from .resets import (
    NEEDS_VALUE,
    STRATEGIES,
    ResetPlan,
    ResetRow,
    Strategy,
    apply_reset,
    delete_offsets,
    expand_specs,
    group_offsets,
    parse_topic_specs,
    plan_reset,
    read_plan_file,
    refuse_if_active,
    reset_command,
    reset_scope,
    set_group_offsets,
    undo_reset,
)
from .rows import Health, LagRow, LagRows

__all__ = ["NEEDS_VALUE", "RATE_WINDOW", "STRATEGIES", "GroupLag", "Health", "LagHistory", "LagRow", "LagRows", "Look",
           "ResetPlan", "ResetRow", "SavedOffsets", "Strategy", "add_record_age", "apply_reset",
           "delete_offsets", "describe_group", "expand_specs", "group_lag", "group_offsets", "health",
           "iter_group_lag", "iter_lag", "last_saved_reset", "member_row", "parse_topic_specs", "plan_reset",
           "read_plan_file", "refuse_if_active", "reset_command", "reset_scope", "set_group_offsets",
           "share_lag", "share_partition_lag", "single_look_health", "state_dir", "undo_reset"]
