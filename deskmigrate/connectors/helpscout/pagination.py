"""Help Scout paging (HAL `_embedded` + `_links.next`, Docs `{page, pages, items}`) and the read position saved as a cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from deskmigrate.core.errors import SourceError
from deskmigrate.core.sourcekit import HalLinkPaginator, JsonGetter, Page, PageNumberPaginator, paginate


def embedded_items(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """HAL lists keep items under `_embedded.<key>`; an empty list still has `_embedded` (or may omit the key)."""
    embedded = body.get("_embedded")
    items = embedded.get(key) if isinstance(embedded, dict) else None
    return items if isinstance(items, list) else []


def mailbox_pages(api: JsonGetter, path: str, key: str, params: dict[str, Any] | None = None, start_page: int = 1) -> Iterator[Page]:
    """Mailbox API lists: `page=N`, then `_links.next.href` (it keeps our query) until there is none.

    https://developer.helpscout.com/mailbox-api/overview/pagination/
    """
    query = {**(params or {}), **({"page": start_page} if start_page > 1 else {})}
    return paginate(api, path, HalLinkPaginator(start=start_page), lambda body: embedded_items(body, key), params=query, where=f"/{path}")


def docs_pages(api: JsonGetter, path: str, key: str, params: dict[str, Any] | None = None, start_page: int = 1) -> Iterator[Page]:
    """Docs API lists: `{"<key>": {"page": 1, "pages": 3, "count": 120, "items": [...]}}`, asked for by `page=N`."""

    def envelope(body: Any) -> dict[str, Any]:
        found = body.get(key) if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}

    def items(body: Any) -> list[dict[str, Any]]:
        found = envelope(body).get("items")
        return found if isinstance(found, list) else []

    paginator = PageNumberPaginator(start=start_page, total_pages=lambda body: int(envelope(body).get("pages") or 1),
                                    answered_page=lambda body: int(envelope(body)["page"]) if envelope(body).get("page") else None)
    return paginate(api, path, paginator, items, params=params, where=f"/{path}")


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
