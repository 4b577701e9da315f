"""Vendor timestamps: ISO 8601 text ("…Z" or "…+05:30") and Unix seconds in, ISO 8601 UTC to the second out;
and `parse_loose_time` for the dates people and exports write ("03/04/2021", "4 March 2021", epoch milliseconds)."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import dateutil.parser

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


# --- Loose reading of the dates people and exports write -------------------------------------------------------

DateOrder = Literal["dayfirst", "monthfirst"]

# Digit text and numbers are epoch times decided by magnitude: below 10**11 they are seconds (10**11 s is the
# year 5138), from 10**11 on milliseconds (10**11 ms is 1973-03-03, so every real millisecond stamp is above
# it). A number below 10**8 (1973-03-03 in seconds) is no plausible timestamp ("12", "2021", 1.5) and is refused.
MILLISECONDS_FROM = 10**11
PLAUSIBLE_SECONDS_FROM = 10**8
NUMERIC_DATE = re.compile(r"(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})(?:(?:\s+|T)(?P<rest>.+))?")
YEAR_FIRST_DATE = re.compile(r"(?P<year>\d{4})(?P<sep>[/.])(?P<b>\d{1,2})(?P=sep)(?P<a>\d{1,2})(?:(?:\s+|T)(?P<rest>.+))?")
COMPACT_DATE = re.compile(r"(?P<year>(?:19|20)\d\d)(?P<month>\d\d)(?P<day>\d\d)(?:T?(?P<hms>\d{6}))?Z?")
DIGITS = re.compile(r"[+-]?\d+(?:\.\d+)?")
MONTH_WORD = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?![a-z])", re.IGNORECASE
)
FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}|\d\s*[ap]\.?m\b", re.IGNORECASE)
# Two defaults that differ in every date part: a part dateutil filled in (not in the text) shows as a difference.
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2001, 2, 2)


class UnreadableTime(ValueError):
    """Text that is no date or time this module can read; the message names the kind of problem, not the value."""


@dataclass(frozen=True)
class LooseTime:
    """A moment read from loose text. `shows` is the day/month order the value itself proves (13/04/2021 →
    dayfirst), `ambiguous` says a numeric date was read in an order it does not show (03/04/2021)."""

    moment: datetime  # aware, UTC
    ambiguous: bool = False
    shows: DateOrder | None = None
    numeric: bool = False  # written as numbers separated by / . or - in day/month order (either way round)


def parse_loose_time(
    value: str | int | float | datetime | date, *, dayfirst: bool | None = None, date_format: str | None = None
) -> LooseTime:
    """Read a date or time as exports and people write it; raises UnreadableTime.

    Read without configuration: ISO 8601 (with or without zone; naive = UTC), RFC 2822, unix seconds and
    milliseconds (see MILLISECONDS_FROM), compact 20210304 (and 20210304T101500), written-out English dates
    ("4 March 2021", "March 4, 2021", "Mar 4 2021", "Thursday, 4 March 2021"). Numeric 03/04/2021, 03-04-2021,
    03.04.2021 are read in the order the value shows (a first number over 12 is a day), else day-first when
    `dayfirst` is true, else month-first — and then the result is `ambiguous`. `date_format` (strptime) replaces
    all of this for the values of a column written some other way.
    """
    if isinstance(value, bool):
        raise UnreadableTime("a yes/no value is not a time")
    if isinstance(value, datetime):
        return LooseTime(_utc(value))
    if isinstance(value, date):
        return LooseTime(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, (int, float)):
        return LooseTime(_epoch(value))
    if not isinstance(value, str):
        raise UnreadableTime(f"a {type(value).__name__} is not a time")
    text = value.strip()
    if not text:
        raise UnreadableTime("blank text is not a time")
    if date_format is not None:
        try:
            return LooseTime(_utc(datetime.strptime(text, date_format)))
        except ValueError:
            raise UnreadableTime(f"not in the format {date_format!r}") from None
    return _read_text(text, dayfirst)


def _read_text(text: str, dayfirst: bool | None) -> LooseTime:
    if (compact := COMPACT_DATE.fullmatch(text)) is not None and (moment := _compact(compact)) is not None:
        return LooseTime(moment)
    if DIGITS.fullmatch(text):
        return LooseTime(_epoch(float(text) if "." in text else int(text)))
    if (numeric := NUMERIC_DATE.fullmatch(text)) is not None:
        return _numeric(numeric, dayfirst)
    if (year_first := YEAR_FIRST_DATE.fullmatch(text)) is not None:
        return LooseTime(_assemble(int(year_first["year"]), int(year_first["b"]), int(year_first["a"]), year_first["rest"]))
    try:
        return LooseTime(_utc(datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)))
    except ValueError:
        pass
    try:
        return LooseTime(_utc(email.utils.parsedate_to_datetime(text)))
    except (TypeError, ValueError, IndexError):
        pass
    return LooseTime(_written_out(text))


def _numeric(match: re.Match[str], dayfirst: bool | None) -> LooseTime:
    first, second, year = int(match["a"]), int(match["b"]), _full_year(match["year"])
    shows: DateOrder | None = "dayfirst" if first > 12 >= second else "monthfirst" if second > 12 >= first else None
    ambiguous = shows is None and first != second
    day_first = shows == "dayfirst" if shows is not None else bool(dayfirst)
    day, month = (first, second) if day_first else (second, first)
    return LooseTime(_assemble(year, month, day, match["rest"]), ambiguous=ambiguous, shows=shows, numeric=True)


def _assemble(year: int, month: int, day: int, rest: str | None) -> datetime:
    try:
        moment = datetime(year, month, day)
    except ValueError:
        raise UnreadableTime("no such calendar date") from None
    if rest is None:
        return moment.replace(tzinfo=UTC)
    if not TIME_OF_DAY.search(rest):
        raise UnreadableTime("text after the date is not a time of day")
    try:
        return _utc(dateutil.parser.parse(rest, default=moment))
    except (ValueError, OverflowError):
        raise UnreadableTime("text after the date is not a time of day") from None


def _written_out(text: str) -> datetime:
    # dateutil reads almost anything ("soon" fails, but "12" is the 12th of this month and "March 2021" takes
    # today's day): a written-out date must name a month and a four-digit year, and give every date part itself.
    if not (MONTH_WORD.search(text) and FOUR_DIGIT_YEAR.search(text)):
        raise UnreadableTime("not a date format this tool reads (set date_format)")
    try:
        first = dateutil.parser.parse(text, default=_DEFAULT_A)
        second = dateutil.parser.parse(text, default=_DEFAULT_B)
    except (ValueError, OverflowError):
        raise UnreadableTime("not a date format this tool reads (set date_format)") from None
    if first.date() != second.date():
        raise UnreadableTime("an incomplete date (no day, month or year)")
    return _utc(first)


def _compact(match: re.Match[str]) -> datetime | None:
    try:
        moment = datetime(int(match["year"]), int(match["month"]), int(match["day"]), tzinfo=UTC)
    except ValueError:
        return None
    if match["hms"]:
        hms = match["hms"]
        try:
            return moment.replace(hour=int(hms[:2]), minute=int(hms[2:4]), second=int(hms[4:]))
        except ValueError:
            return None
    return moment


def _epoch(number: int | float) -> datetime:
    if abs(number) < PLAUSIBLE_SECONDS_FROM:
        raise UnreadableTime("a small number is not a timestamp")
    return _from_epoch(number)


def _from_epoch(number: int | float) -> datetime:
    seconds = number / 1000 if abs(number) >= MILLISECONDS_FROM else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise UnreadableTime("a number out of the range of times") from None


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 4:
        return year
    return 1900 + year if year >= 69 else 2000 + year  # strptime's %y pivot


def _utc(moment: datetime) -> datetime:
    utc = as_utc(moment)
    assert utc is not None
    return utc
