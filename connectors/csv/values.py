"""Pure conversions of CSV cell text into canonical values; each raises ValueError with a reason that never repeats the value."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from deskmigrate.core.model import source_time

NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
DOMAIN_SEPARATORS = re.compile(r"[\s,;]+")
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
ROLES = ("user", "lead")
# 03/04/2021, 3.4.21, 03-04-2021 09:30: read with the file's `dayfirst`; other forms go to the mapping as written.
NUMERIC_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def value_kind(text: str) -> str:
    """What a value looks like, for notes that must not repeat customer data: "a number", "7-character text"."""
    value = text.strip()
    if NUMBER.fullmatch(value):
        return "a number"
    return f"{len(value)}-character text"


def parse_count(text: str) -> int:
    """A whole number of zero or more, such as a company's employee count."""
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise ValueError("not a whole number of zero or more")
    return int(value)


def parse_role(text: str) -> str:
    """`user` or `lead`, in any case."""
    value = text.strip().lower()
    if value not in ROLES:
        raise ValueError("not a contact role (user or lead)")
    return value


def parse_flag(text: str) -> bool:
    """true/false, yes/no, y/n, 1/0, t/f in any case."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError("not true or false (yes/no, 1/0)")


def parse_with_format(text: str, date_format: str) -> datetime:
    """`text` read with a strptime format; without a zone in the format it is UTC."""
    return as_aware_utc(datetime.strptime(text.strip(), date_format))


def parse_numeric_date(text: str, dayfirst: bool) -> datetime | None:
    """03/04/2021 (optionally with a time) in the given order; None when the text is not of that form."""
    match = NUMERIC_DATE.fullmatch(text.strip())
    if match is None:
        return None
    first, second, year, hour, minute, second_of_minute = match.groups()
    day, month = (first, second) if dayfirst else (second, first)
    full_year = int(year) if len(year) == 4 else 2000 + int(year) if int(year) < 70 else 1900 + int(year)
    moment = datetime(full_year, int(month), int(day), int(hour or 0), int(minute or 0), int(second_of_minute or 0))
    return as_aware_utc(moment)


def read_date(text: str, date_format: str | None, dayfirst: bool | None) -> tuple[datetime | str, str | None]:
    """A date cell read as its file says: a datetime, or the text as written and why the file's own rule did not fit.

    Without `date_format` or `dayfirst` the text is passed on as written (no problem): the model reads ISO 8601 and
    the mapping the other forms, with what the column's other values show.
    """
    value = text.strip()
    if date_format is not None:
        try:
            return parse_with_format(value, date_format), None
        except ValueError:
            # ISO 8601 is unambiguous whatever the file's format: the model reads it, nothing to note.
            return value, None if isinstance(source_time(value), datetime) else f"does not match date_format {date_format!r}"
    if dayfirst is not None:
        try:
            parsed = parse_numeric_date(value, dayfirst)
        except ValueError:
            return value, f"is not a valid {'day' if dayfirst else 'month'}-first date"
        if parsed is not None:
            return parsed, None
    return value, None


def as_aware_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_text(text: str) -> str:
    return text.strip()


def parse_domains(text: str) -> list[str]:
    """Domains separated by commas, semicolons or spaces, lower-cased, without duplicates."""
    return unique_names(DOMAIN_SEPARATORS.split(text.lower()))


def split_names(text: str, delimiter: str, *, case_sensitive: bool = True) -> list[str]:
    """Split a delimited cell into trimmed, non-empty names without duplicates."""
    return unique_names(text.split(delimiter), case_sensitive=case_sensitive)


def unique_names(names: list[str], *, case_sensitive: bool = True) -> list[str]:
    """Trim, drop empty, drop repeats (compared case-insensitively when asked), keep the first spelling and the order."""
    seen: set[str] = set()
    result = []
    for name in names:
        name = name.strip()
        key = name if case_sensitive else name.casefold()
        if name and key not in seen:
            seen.add(key)
            result.append(name)
    return result


def name_key(name: str) -> str:
    """How company names are compared: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(name.split()).casefold()


FIELD_PARSERS: dict[str, Callable[[str], Any]] = {
    "name": parse_text,
    "website": parse_text,
    "plan": parse_text,
    "industry": parse_text,
    "email": parse_text,
    "phone": parse_text,
    "country": parse_text,
    "locale": parse_text,
    "time_zone": parse_text,
    "size": parse_count,
    "domains": parse_domains,
    "role": parse_role,
    "active": parse_flag,
    # Dates as written: the model reads ISO 8601, the mapping the rest (see read_date for a file's own formats).
    "created_at": parse_text,
    "updated_at": parse_text,
    "signed_up_at": parse_text,
    "last_seen_at": parse_text,
}
