"""Vendor timestamps: ISO 8601 text ("…Z" or "…+05:30") and Unix seconds in, ISO 8601 UTC to the second out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deskmigrate.core.model import as_utc

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def parse_iso_time(value: Any) -> datetime | None:
    """None or "" is no time; "2024-01-05T10:00:00Z" and "2024-01-05T15:30:00+05:30" keep their offset (naive text stays naive)."""
    if value is None or value == "":
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def parse_unix_or_iso_time(value: Any) -> datetime | None:
    """As `parse_iso_time`, and a number is Unix seconds (UTC)."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    return parse_iso_time(value)


def iso_utc(moment: datetime) -> str:
    """2024-01-05T10:00:00Z: in UTC, to the second; a naive time is taken as UTC."""
    utc = as_utc(moment)
    assert utc is not None
    return utc.strftime(ISO_SECONDS)
