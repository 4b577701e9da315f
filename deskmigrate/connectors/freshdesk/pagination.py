"""Freshdesk pagination: `link`-header lists, and tickets read in `updated_since` windows ordered by updated_at."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from deskmigrate.core.dedupe import RecentIds
from deskmigrate.core.errors import SourceError
from deskmigrate.core.sourcekit import ItemsOf, JsonGetter, LinkHeaderPaginator, Page, SourceHttpError, paginate
from deskmigrate.core.timeparse import iso_utc as iso
from deskmigrate.core.timeparse import parse_iso_time

log = logging.getLogger(__name__)

EPOCH = "1970-01-01T00:00:00Z"
# `updated_since` has one-second resolution and its inclusiveness is undocumented: windows restart one second
# before the last updated_at seen, and the few tickets read twice are dropped by id.
WINDOW_OVERLAP = timedelta(seconds=1)


def json_list(path: str) -> ItemsOf:
    """Freshdesk lists are JSON arrays; anything else is an answer we cannot read."""

    def items(body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise SourceError(f"Freshdesk GET {path}: expected a JSON list, got {type(body).__name__}")
        return body

    return items


def link_pages(api: JsonGetter, path: str, per_page: int, params: dict[str, Any] | None = None, start_page: int = 1) -> Iterator[Page]:
    """A plain list: `page`/`per_page`, then the `link: <…>; rel="next"` header until it is absent or a page is empty.

    https://developers.freshdesk.com/api/#pagination
    """
    query = {**(params or {}), "per_page": per_page, "page": start_page}
    return paginate(api, path, LinkHeaderPaginator(start=start_page, stop_on_empty=True), json_list(path), params=query)


@dataclass
class ListCursor:
    """Resume point of a list that is not ordered by time (contacts, companies): the delta start and the pages done.

    `started` is the server's Date when the listing began: the next delta starts there, so anything changed
    while the list was read is read again.
    """

    since: str
    page: int = 0
    started: str | None = None

    def dump(self) -> str:
        return json.dumps({"since": self.since, "page": self.page, "started": self.started}, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None, since: str) -> ListCursor:
        if not text:
            return cls(since=since)
        try:
            data = json.loads(text)
            return cls(since=str(data["since"]), page=int(data.get("page") or 0), started=data.get("started"))
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"unreadable saved Freshdesk cursor {text!r}; delete it with a full re-run") from None


def list_since_pages(path: str, api: JsonGetter, per_page: int, cursor: ListCursor, params: dict[str, Any] | None = None) -> Iterator[Page]:
    """A list filtered by `updated_since`, resumable by page; the cursor after the last page holds the next delta start."""
    started = cursor.started
    for page in link_pages(api, path, per_page, {**(params or {}), "updated_since": cursor.since}, start_page=cursor.page + 1):
        started = started or _server_time(page.date) or cursor.since
        after = ListCursor(since=started, started=None) if page.last else ListCursor(since=cursor.since, page=page.number, started=started)
        yield replace(page, cursor=after.dump())


def _server_time(header: str | None) -> str | None:
    if not header:
        return None
    try:
        return iso(parsedate_to_datetime(header) - WINDOW_OVERLAP)
    except (TypeError, ValueError):
        return None


@dataclass
class TicketWindows:
    """Every ticket, however many: `updated_since` windows ordered by `updated_at` ascending.

    Freshdesk's ticket list returns only the last 30 days without `updated_since` and refuses pages past
    300 (https://developers.freshdesk.com/api/#list_all_tickets; airbytehq/airbyte#3858). After each page
    whose last updated_at moved on, the window restarts from it: no deep pages, and a ticket edited during
    the read moves behind the cursor instead of shifting unread tickets onto pages already read. Only while
    a page ends on the timestamp the window started from (a bulk update) is the `link` header followed, so
    the 400 past the page cap can only come when over 30,000 tickets share one second: a SourceError then.
    The cursor is the window start.
    """

    api: JsonGetter
    per_page: int = 100
    include: list[str] = field(default_factory=list)
    path: str = "tickets"
    windows_opened: int = 0

    def pages(self, since: str) -> Iterator[Page]:
        window_start = since
        recent = RecentIds()
        while True:
            self.windows_opened += 1
            restart_from = yield from self._window(window_start, recent)
            if restart_from is None:
                return
            window_start = restart_from

    def _window(self, window_start: str, recent: RecentIds) -> Iterator[Page]:
        """Yield the window's pages; return the next window's start, or None when the list is exhausted."""
        params: dict[str, Any] = {"updated_since": window_start, "order_by": "updated_at", "order_type": "asc"}
        if self.include:
            params["include"] = ",".join(self.include)
        pages = link_pages(self.api, self.path, self.per_page, params)
        last_seen: str | None = None
        number = 0
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return None
            except SourceHttpError as exc:
                if exc.status == 400 and exc.concerns_field("page"):
                    raise self._page_cap(window_start, number, exc) from None
                raise
            number = page.number
            tickets = page.items
            fresh = [t for t in tickets if recent.is_new_or_newer(t.get("id"), t.get("updated_at"))]
            if tickets:
                last_seen = max(str(t.get("updated_at") or "") for t in tickets) or last_seen
            location = f"GET {self.path} updated_since={window_start} page {number}"
            next_start = _restart_point(last_seen)
            if page.last:
                yield replace(page, items=fresh, location=location, cursor=next_start or window_start)
                return None
            if next_start is not None and next_start > window_start:
                yield replace(page, items=fresh, location=location, cursor=next_start)
                return next_start
            yield replace(page, items=fresh, location=location, cursor=window_start)

    def _page_cap(self, window_start: str, pages_read: int, exc: SourceHttpError) -> SourceError:
        """Reached only while following a tie: more tickets share one updated_at than the capped pages hold."""
        return SourceError(
            f"Freshdesk refuses page {pages_read + 1} of the tickets updated since {window_start} ({exc}), and the "
            f"{pages_read * self.per_page} tickets before it share one updated_at, so no later window can reach the rest; "
            "nothing was skipped silently: split them with a bulk update in Freshdesk or ask Freshdesk support"
        )


def _restart_point(last_updated_at: str | None) -> str | None:
    if not last_updated_at:
        return None
    moment = parse_iso_time(last_updated_at)
    assert moment is not None
    return iso(moment - WINDOW_OVERLAP)
