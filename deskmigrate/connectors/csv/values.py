"""Pure conversions of CSV cell text into canonical values; each raises ValueError with a reason a user can act on."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

UNIX_SECONDS = re.compile(r"-?\d+(\.\d+)?")
DOMAIN_SEPARATORS = re.compile(r"[\s,;]+")
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
ROLES = ("user", "lead")


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with or without a zone (naive means UTC), YYYY-MM-DD, or unix seconds → aware UTC datetime."""
    value = text.strip()
    if len(value) == 8 and value.isdigit():
        raise ValueError(f"{value!r} is ambiguous (YYYYMMDD or unix seconds?): write {value[:4]}-{value[4:6]}-{value[6:]}")
    if UNIX_SECONDS.fullmatch(value):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} is out of range for unix seconds") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date: use ISO 8601 (2024-03-01T09:30:00Z), YYYY-MM-DD or unix seconds") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_count(text: str) -> int:
    """A whole number of zero or more, such as a company's employee count."""
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def parse_role(text: str) -> str:
    """`user` or `lead`, in any case."""
    value = text.strip().lower()
    if value not in ROLES:
        raise ValueError(f"{text.strip()!r} is not a contact role: use user or lead")
    return value


def parse_flag(text: str) -> bool:
    """true/false, yes/no, y/n, 1/0, t/f in any case."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(f"{text.strip()!r} is not true or false")


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
    "size": parse_count,
    "domains": parse_domains,
    "role": parse_role,
    "active": parse_flag,
    "created_at": parse_datetime,
    "updated_at": parse_datetime,
    "signed_up_at": parse_datetime,
    "last_seen_at": parse_datetime,
}
