"""Zendesk's pagination styles as small objects yielding pages; a cursor seen twice is an error, never a loop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from deskmigrate.core.dedupe import SeenCursors


class JsonGetter(Protocol):
    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass
class Page:
    """One response: its items, its sideloads, and the cursor that resumes after it (None when not resumable)."""

    items: list[dict[str, Any]]
    body: dict[str, Any]
    cursor: str | None
    location: str
    end_of_stream: bool = False

    def sideload(self, key: str) -> list[dict[str, Any]]:
        value = self.body.get(key)
        return value if isinstance(value, list) else []


@dataclass
class IncrementalCursorExport:
    """Cursor-based incremental export (tickets, users): start_time or cursor in, after_cursor out, until end_of_stream.

    https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api#cursor-based-incremental-exports
    """

    path: str
    items_key: str
    per_page: int
    getter: JsonGetter
    include: list[str] = field(default_factory=list)

    def pages(self, *, cursor: str | None, start_time: int) -> Iterator[Page]:
        seen = SeenCursors(self.path, "Zendesk")
        params: dict[str, Any] = {"per_page": self.per_page}
        if self.include:
            params["include"] = ",".join(self.include)
        if cursor:
            params["cursor"] = cursor
            seen.check(cursor)
        else:
            params["start_time"] = start_time
        number = 1
        while True:
            body = self.getter.get_json(self.path, params)
            after = body.get("after_cursor")
            end = bool(body.get("end_of_stream"))
            yield Page(body.get(self.items_key) or [], body, after or cursor, f"GET {self.path} page {number}", end)
            if end or not after:
                return
            seen.check(after)
            params = {"per_page": self.per_page, "cursor": after}
            if self.include:
                params["include"] = ",".join(self.include)
            cursor = after
            number += 1


@dataclass
class IncrementalTimeExport:
    """Time-based incremental export (organizations, ticket events, Help Center articles): end_time is the cursor.

    Items at a page boundary can come twice; callers de-duplicate by id.
    """

    path: str
    items_key: str
    per_page: int
    getter: JsonGetter
    include: list[str] = field(default_factory=list)

    def pages(self, *, start_time: int) -> Iterator[Page]:
        seen = SeenCursors(self.path, "Zendesk")
        url: str = self.path
        params: dict[str, Any] | None = {"start_time": start_time, "per_page": self.per_page}
        if self.include:
            params["include"] = ",".join(self.include)
        number = 1
        while True:
            body = self.getter.get_json(url, params)
            items = body.get(self.items_key) or []
            end_time = body.get("end_time")
            next_page = body.get("next_page")
            end = bool(body.get("end_of_stream")) or not next_page or not items
            cursor = str(end_time) if end_time is not None else None
            yield Page(items, body, cursor, f"GET {self.path} page {number}", end)
            if end:
                return
            seen.check(str(next_page))
            url, params = str(next_page), None
            number += 1


@dataclass
class ListPages:
    """Plain lists: cursor pagination (`page[size]`, `meta.has_more`, `links.next`) or the older `next_page` URL."""

    path: str
    items_key: str
    getter: JsonGetter
    params: dict[str, Any] = field(default_factory=dict)
    page_size: int | None = 100

    def pages(self) -> Iterator[Page]:
        seen = SeenCursors(self.path, "Zendesk")
        params: dict[str, Any] | None = dict(self.params)
        if self.page_size:
            params["page[size]"] = self.page_size
        url = self.path
        number = 1
        while True:
            body = self.getter.get_json(url, params)
            next_url = _next_list_url(body)
            yield Page(body.get(self.items_key) or [], body, None, f"GET {self.path} page {number}", next_url is None)
            if next_url is None:
                return
            seen.check(next_url)
            url, params = next_url, None
            number += 1

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page.items


def _next_list_url(body: dict[str, Any]) -> str | None:
    meta = body.get("meta")
    if isinstance(meta, dict) and "has_more" in meta:
        links = body.get("links") or {}
        return links.get("next") if meta.get("has_more") else None
    next_page = body.get("next_page")
    return str(next_page) if next_page else None
