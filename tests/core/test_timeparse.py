"""Vendor timestamps: ISO 8601 with Z or an offset, Unix seconds, and the UTC text written back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from deskmigrate.core.timeparse import UnreadableTime, iso_utc, parse_iso_time, parse_loose_time, parse_unix_or_iso_time


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


MARCH_4_2021 = datetime(2021, 3, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2021-03-04", "2021-03-04T00:00:00Z", "2021-03-04T01:00:00+01:00", "20210304", "1614816000", "1614816000000",
        "Thu, 04 Mar 2021 00:00:00 +0000", "4 March 2021", "March 4, 2021", "Mar 4 2021", "Thursday, 4 March 2021",
    ],
)
def test_loose_time_reads_what_exports_and_people_write_without_settings(text: str) -> None:
    read = parse_loose_time(text)
    assert read.moment == MARCH_4_2021 and not read.ambiguous


def test_epoch_numbers_are_seconds_or_milliseconds_by_magnitude() -> None:
    assert parse_loose_time(1614816000).moment == MARCH_4_2021
    assert parse_loose_time(1614816000000).moment == MARCH_4_2021


def test_a_numeric_date_shows_its_order_or_is_ambiguous() -> None:
    plain = parse_loose_time("03/04/2021")
    assert (plain.moment, plain.ambiguous, plain.shows) == (MARCH_4_2021, True, None)  # month-first by default
    assert parse_loose_time("03/04/2021", dayfirst=True).moment == datetime(2021, 4, 3, tzinfo=UTC)
    day_first = parse_loose_time("13/04/2021")
    assert (day_first.moment, day_first.ambiguous, day_first.shows) == (datetime(2021, 4, 13, tzinfo=UTC), False, "dayfirst")
    assert parse_loose_time("04-13-2021").shows == "monthfirst"
    assert parse_loose_time("04.03.2021 14:30", dayfirst=True).moment == datetime(2021, 3, 4, 14, 30, tzinfo=UTC)
    assert not parse_loose_time("03/03/2021").ambiguous  # either way the same day


def test_a_strptime_format_reads_anything_else() -> None:
    assert parse_loose_time("04|03|21", date_format="%d|%m|%y").moment == MARCH_4_2021
    with pytest.raises(UnreadableTime):
        parse_loose_time("2021-03-04", date_format="%d|%m|%y")


@pytest.mark.parametrize("text", ["soon", "12", "2021", "March 2021", "31/02/2021", "03/04/2021 later", "Mar 4", "", 1.5])
def test_what_dateutil_would_guess_is_refused(text: object) -> None:
    with pytest.raises(UnreadableTime):
        parse_loose_time(text)  # type: ignore[arg-type]
