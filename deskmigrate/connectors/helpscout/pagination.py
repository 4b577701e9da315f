"""Help Scout paging (HAL `_embedded` + `_links.next`, Docs `{page, pages, items}`) and the read position saved as a cursor."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from deskmigrate.core.dedupe import SeenCursors
from deskmigrate.core.errors import SourceError


class JsonGetter(Protocol):
    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass
class Page:
    """One response: its items, its number, and the number of the page after it (None on the last page)."""

    items: list[dict[str, Any]]
    number: int
    next_number: int | None
    location: str
    body: dict[str, Any] = field(default_factory=dict)


def embedded_items(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """HAL lists keep items under `_embedded.<key>`; an empty list still has `_embedded` (or may omit the key)."""
    embedded = body.get("_embedded")
    items = embedded.get(key) if isinstance(embedded, dict) else None
    return items if isinstance(items, list) else []


@dataclass
class PagedList(ABC):
    """A list read page by page: its path, the key its items come under, who GETs it, and the page to start at."""

    path: str
    key: str
    getter: JsonGetter
    params: dict[str, Any] = field(default_factory=dict)
    start_page: int = 1

    @abstractmethod
    def pages(self) -> Iterator[Page]: ...

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page.items


@dataclass
class HalPages(PagedList):
    """Mailbox API lists: `page=N`, follow `_links.next.href` (it keeps our query) until there is none.

    https://developer.helpscout.com/mailbox-api/overview/pagination/
    """

    def pages(self) -> Iterator[Page]:
        seen = SeenCursors(f"GET /{self.path}", "Help Scout", "the next link")
        url: str = self.path
        params: dict[str, Any] | None = dict(self.params)
        if self.start_page > 1:
            params["page"] = self.start_page
        number = self.start_page
        while True:
            body = self.getter.get_json(url, params)
            next_href = _next_href(body)
            next_number = _page_number(next_href, number + 1) if next_href else None
            yield Page(embedded_items(body, self.key), number, next_number, f"GET /{self.path} page {number}", body)
            if next_href is None:
                return
            seen.check(next_href)
            url, params, number = next_href, None, next_number or number + 1


def _next_href(body: dict[str, Any]) -> str | None:
    links = body.get("_links")
    link = links.get("next") if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    return str(href) if href else None


def _page_number(href: str, fallback: int) -> int:
    values = parse_qs(urlsplit(href).query).get("page")
    return int(values[0]) if values and values[0].isdigit() else fallback


@dataclass
class DocsPages(PagedList):
    """Docs API lists: `{"<key>": {"page": 1, "pages": 3, "count": 120, "items": [...]}}`, asked for by `page=N`."""

    def pages(self) -> Iterator[Page]:
        number = self.start_page
        while True:
            body = self.getter.get_json(self.path, {**self.params, "page": number})
            envelope = body.get(self.key) if isinstance(body.get(self.key), dict) else {}
            items = envelope.get("items") if isinstance(envelope.get("items"), list) else []
            total_pages = int(envelope.get("pages") or 1)
            answered = int(envelope.get("page") or number)
            if answered != number:
                raise SourceError(f"GET /{self.path}: asked for page {number}, Help Scout answered page {answered}")
            last = number >= total_pages or not items
            yield Page(items, number, None if last else number + 1, f"GET /{self.path} page {number}", body)
            if last:
                return
            number += 1


@dataclass(frozen=True)
class ReadPosition:
    """Where a read of one entity stands, saved as the entity's cursor after every page.

    `since` filters the read (modifiedSince; None reads everything). `started` is when the read began, less a margin
    for clock skew: once the read completes it becomes the next read's `since` (the high-water mark). While a read is
    under way `page` (and, for Docs articles, `scope`: the collection) say where it resumes.
    """

    since: str | None = None
    started: str | None = None
    page: int = 1
    scope: str | None = None

    @property
    def in_progress(self) -> bool:
        return self.started is not None

    def at(self, page: int, scope: str | None = None) -> ReadPosition:
        return replace(self, page=page, scope=scope if scope is not None else self.scope)

    def completed(self) -> ReadPosition:
        """The position after a complete read: the next read asks for what changed since this one began."""
        return ReadPosition(since=self.started)

    def encode(self) -> str:
        values: dict[str, Any] = {"since": self.since}
        if self.started is not None:
            values["started"] = self.started
        if self.page > 1:
            values["page"] = self.page
        if self.scope is not None:
            values["scope"] = self.scope
        return json.dumps(values, sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> ReadPosition:
        try:
            values = json.loads(text)
            return cls(since=values.get("since"), started=values.get("started"), page=int(values.get("page", 1)), scope=values.get("scope"))
        except (ValueError, TypeError, AttributeError):
            raise SourceError(f"the saved Help Scout cursor {text[:80]!r} is unreadable; run with --since or reset the state") from None
