"""Lossless value conversions shared by the typed transforms and the custom-attribute type check."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from deskmigrate.transforms.registry import ValueRejected, loose_time

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "f"})
INTEGER_TEXT = re.compile(r"[+-]?\d+")


def quote(value: Any, limit: int = 60) -> str:
    """A short repr of a value for a rejection detail."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_text(value: Any) -> str:
    """Text as is; numbers, booleans, dates and lists written out (for string attributes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(item) for item in value if item is not None)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    raise ValueRejected("not text", quote(value))


def as_int(value: Any) -> int:
    """Whole numbers only: 3, 3.0, "3", " 3 ", "3.0"; never rounds, never takes booleans."""
    if isinstance(value, bool):
        raise ValueRejected("not a whole number", quote(value))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueRejected("not a whole number", quote(value))
    if isinstance(value, str):
        text = value.strip()
        if INTEGER_TEXT.fullmatch(text):
            return int(text)
        number = _decimal(text)
        if number is not None and number.is_finite() and number == number.to_integral_value():
            return int(number)
    raise ValueRejected("not a whole number", quote(value))


def as_float(value: Any) -> float:
    """A finite number from a number or numeric text."""
    if isinstance(value, bool):
        raise ValueRejected("not a number", quote(value))
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (parsed := _decimal(value.strip())) is not None:
        number = float(parsed)
    else:
        raise ValueRejected("not a number", quote(value))
    if not math.isfinite(number):
        raise ValueRejected("not a finite number", quote(value))
    return number


def _decimal(text: str) -> Decimal | None:
    # Python's number parsers accept "1_000"; a CSV cell like that is not a number a user meant.
    if "_" in text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def as_bool(value: Any) -> bool:
    """Booleans, 0/1, and the words true/false, yes/no, y/n, on/off, t/f (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueRejected("not a yes/no value", quote(value))


def as_unix_seconds(value: Any, time_format: str | None = None, *, dayfirst: bool | None = None) -> int:
    """Unix seconds from a datetime (naive = UTC), a date (midnight UTC), a number (seconds, or milliseconds by
    magnitude) or text as core.timeparse.parse_loose_time reads it ("2024-03-01", "4 March 2021", "1614816000000")."""
    return int(loose_time(value, dayfirst=dayfirst, date_format=time_format).moment.timestamp())
