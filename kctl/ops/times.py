"""Times and durations as operators type them: ISO 8601, epoch milliseconds, or relative (-1h, 30m)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from kctl.protocol.clock import now_ms

from .errors import BadUsage

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def parse_duration_ms(text: str) -> int:
    """'90s', '15m', '1h', '2d', or ISO 8601 'PT1H30M' (as kafka-consumer-groups --by-duration takes)."""
    raw = text.strip()
    match = _DURATION.match(raw)
    if match:
        return int(float(match.group(1)) * _UNITS[match.group(2)])
    iso = _ISO_DURATION.match(raw)
    if iso and any(iso.groups()):
        days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        return int(((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000)
    raise BadUsage(f"cannot read {text!r} as a duration", "write it like 30s, 15m, 1h, 2d or PT1H30M")


def parse_timestamp_ms(text: str) -> int:
    """Epoch milliseconds, an ISO 8601 date-time (UTC unless it says otherwise), or -DURATION (ago)."""
    raw = text.strip()
    if raw.startswith("-") and not raw[1:].isdigit():
        return now_ms() - parse_duration_ms(raw[1:])
    if raw.isdigit():
        return int(raw)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadUsage(f"cannot read {text!r} as a time",
                       "use epoch milliseconds, 2026-05-01T12:00:00Z, or a relative time like -1h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso(ms: int) -> str | None:
    if ms < 0:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
