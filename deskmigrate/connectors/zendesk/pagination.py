"""Zendesk's listings on the source kit: cursor- and time-based incremental exports, and plain lists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from deskmigrate.core.sourcekit import BodyLinkPaginator, JsonGetter, Page, ZendeskTimeExport, items_under, paginate, zendesk_cursor_export


def cursor_export(api: JsonGetter, path: str, key: str, per_page: int, *, cursor: str | None, start_time: int,
                  include: Iterable[str] = ()) -> Iterator[Page]:
    """A cursor-based incremental export (tickets, users) from a saved cursor, else from `start_time`."""
    return paginate(api, path, zendesk_cursor_export(cursor=cursor, start_time=start_time), items_under(key), params=_params(per_page, include))


def time_export(api: JsonGetter, path: str, key: str, per_page: int, *, start_time: int, include: Iterable[str] = ()) -> Iterator[Page]:
    """A time-based incremental export (organizations, ticket events, Help Center articles) from `start_time`."""
    return paginate(api, path, ZendeskTimeExport(start_time=start_time), items_under(key), params=_params(per_page, include))


def list_pages(api: JsonGetter, path: str, key: str, params: dict[str, Any] | None = None, page_size: int | None = 100) -> Iterator[Page]:
    """Plain lists: cursor pagination (`page[size]`, `meta.has_more`, `links.next`) or the older `next_page` URL.

    https://developer.zendesk.com/api-reference/introduction/pagination/
    """
    query = {**(params or {}), **({"page[size]": page_size} if page_size else {})}
    return paginate(api, path, BodyLinkPaginator(locate=next_list_url), items_under(key), params=query)


def next_list_url(body: Any) -> str | None:
    meta = body.get("meta")
    if isinstance(meta, dict) and "has_more" in meta:
        links = body.get("links") or {}
        return links.get("next") if meta.get("has_more") else None
    next_page = body.get("next_page")
    return str(next_page) if next_page else None


def _params(per_page: int, include: Iterable[str]) -> dict[str, Any]:
    names = list(include)
    return {"per_page": per_page, **({"include": ",".join(names)} if names else {})}
