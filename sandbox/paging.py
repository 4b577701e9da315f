"""Intercom-style object ids and cursor pagination (`per_page`, `starting_after`, `pages.next`)."""

from __future__ import annotations

import base64
import binascii
import os
import time
from typing import Any

from deskmigrate.sandbox.api import bad_request

MAX_PER_PAGE = 150


def new_object_id(now: float | None = None) -> str:
    """24 hex characters like Intercom's contact and company ids: a timestamp then random bytes."""
    seconds = int(time.time() if now is None else now) & 0xFFFFFFFF
    return f"{seconds:08x}{os.urandom(8).hex()}"


def encode_cursor(position: int, page: int) -> str:
    return base64.urlsafe_b64encode(f"{position}:{page}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(position after which the next page starts, number of that page); a foreign cursor is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position, page = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
        return int(position), int(page)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("starting_after is not a valid cursor", field="starting_after") from None


def per_page_from(value: Any, default: int) -> int:
    """`per_page` from a query string or a JSON body, clamped to Intercom's maximum of 150."""
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request("per_page must be an integer", field="per_page") from None
    if isinstance(value, bool) or number < 1:
        raise bad_request("per_page must be a positive integer", field="per_page")
    return min(number, MAX_PER_PAGE)


def cursor_page(items: list[tuple[int, dict[str, Any]]], total: int, per_page: int, page: int) -> dict[str, Any]:
    """The `pages` object for one page of (position, item) rows fetched with one extra row to detect a next page."""
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": -(-total // per_page),
    }
    if len(items) > per_page:
        pages["next"] = {"per_page": per_page, "starting_after": encode_cursor(items[per_page - 1][0], page + 1)}
    return pages
