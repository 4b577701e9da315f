"""Vendor timestamps: ISO 8601 with Z or an offset, Unix seconds, and the UTC text written back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from deskmigrate.core.timeparse import iso_utc, parse_iso_time, parse_unix_or_iso_time


@pytest.mark.parametrize("empty", [None, ""])
def test_no_value_is_no_time(empty: object) -> None:
    assert parse_iso_time(empty) is None
    assert parse_unix_or_iso_time(empty) is None


def test_iso_text_keeps_its_offset() -> None:
    assert parse_iso_time("2024-03-01T09:00:00Z") == datetime(2024, 3, 1, 9, tzinfo=UTC)
    india = parse_iso_time("2024-03-01T14:30:00+05:30")
    assert india is not None and india.utcoffset() == timedelta(hours=5, minutes=30)
    assert india == datetime(2024, 3, 1, 9, tzinfo=UTC)


def test_unix_seconds_are_utc_only_where_asked_for() -> None:
    assert parse_unix_or_iso_time(1709283600) == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert parse_unix_or_iso_time("2024-03-01T09:00:00Z") == datetime(2024, 3, 1, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_iso_time(1709283600)


def test_iso_utc_writes_utc_to_the_second() -> None:
    assert iso_utc(datetime(2024, 3, 1, 14, 30, 59, 999, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == "2024-03-01T09:00:59Z"
    assert iso_utc(datetime(2024, 3, 1, 9)) == "2024-03-01T09:00:00Z"  # naive is taken as UTC
