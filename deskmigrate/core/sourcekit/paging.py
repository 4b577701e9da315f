"""Paging a source API: small paginator objects that turn one answer into the request for the next page, and one loop
(`paginate`) that drives them. A cursor, link or page a server hands back twice is a SourceError, never an endless loop.

Each paginator answers three questions about a listing: what the first request is, what the request after an answer
is (None on the last page), and which cursor resumes after that answer (for paginators that can resume).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

from deskmigrate.core.dedupe import SeenCursors
from deskmigrate.core.errors import SourceError
from deskmigrate.core.source import SourceCheckpoint
from deskmigrate.core.sourcekit.transport import JsonResponse

Items = list[dict[str, Any]]
ItemsOf = Callable[[Any], Items]


class JsonGetter(Protocol):
    """What a paginator's loop GETs through: a SourceTransport, or a test double."""

    vendor: str

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> JsonResponse: ...


@dataclass(frozen=True)
class PageRequest:
    """A GET to send: a path below the API root or an absolute link, and its query (None: the link carries it)."""

    url: str
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class NextPage:
    """The request for the page after an answer, the reference that must not come back, and that page's number if known."""

    request: PageRequest
    reference: str
    number: int | None = None


@dataclass
class Page:
    """One answered page: its items and number, where it was read, the whole body (sideloads, totals), the number of the
    page after it (None on the last), the cursor that resumes after it (None when the listing cannot resume), the
    server's Date."""

    items: Items
    number: int
    location: str
    body: Any
    next_number: int | None
    cursor: str | None = None
    date: str | None = None

    @property
    def last(self) -> bool:
        return self.next_number is None

    def sideload(self, key: str) -> Items:
        value = self.body.get(key) if isinstance(self.body, dict) else None
        return value if isinstance(value, list) else []

    def checkpoint(self, entity: str) -> list[SourceCheckpoint]:
        """The checkpoint that saves this page's cursor with its records; none when the listing cannot resume."""
        return [SourceCheckpoint(entity=entity, cursor=self.cursor)] if self.cursor else []


class Paginator(ABC):
    """One listing's paging rule. A paginator object serves one listing: `first_request` starts it afresh."""

    what: ClassVar[str] = "cursor"  # how the reference is named when it comes back twice
    start: int = 1  # the number of the first page read (a listing resumed at page 4 starts at 4)

    def first_request(self, path: str, params: dict[str, Any]) -> PageRequest:
        return PageRequest(path, params)

    def references_before(self) -> Iterable[str]:
        """References met before the first answer (a saved cursor resumed from): the server must not hand them back."""
        return ()

    @abstractmethod
    def next_page(self, answer: JsonResponse, request: PageRequest, items: Items) -> NextPage | None:
        """The page after `answer` (asked for by `request`, holding `items`), or None when it was the last."""

    def cursor_after(self, answer: JsonResponse, following: NextPage | None) -> str | None:
        """The cursor to save with this page's records: reading resumes after it. None: this listing cannot resume."""
        return None


def items_under(key: str) -> ItemsOf:
    """The items of a body that lists them under `key` ({"users": [...]}); none when the key is absent."""

    def found(body: Any) -> Items:
        value = body.get(key) if isinstance(body, dict) else None
        return value if isinstance(value, list) else []

    return found


def paginate(getter: JsonGetter, path: str, paginator: Paginator, items: ItemsOf, *, params: dict[str, Any] | None = None,
             where: str | None = None) -> Iterator[Page]:
    """GET `path` and every page after it, as `paginator` says, yielding each page before asking for the next.

    `where` names the listing in locations and messages ("GET {where} page 3"); by default the path.
    """
    label = f"GET {where or path}"
    seen = SeenCursors(label, getter.vendor, paginator.what)
    for reference in paginator.references_before():
        seen.check(reference)
    request = paginator.first_request(path, dict(params or {}))
    number = paginator.start
    while True:
        answer = getter.get(request.url, request.params)
        found = items(answer.body)
        try:
            following = paginator.next_page(answer, request, found)
        except SourceError as error:
            raise SourceError(f"{label} page {number}: {error}") from None
        next_number = None if following is None else following.number or number + 1
        yield Page(found, number, f"{label} page {number}", answer.body, next_number, paginator.cursor_after(answer, following), answer.date)
        if following is None:
            return
        seen.check(following.reference)
        request, number = following.request, next_number or number + 1


def each_item(pages: Iterable[Page]) -> Iterator[dict[str, Any]]:
    """The items of every page, in order."""
    for page in pages:
        yield from page.items


# -- page numbers ------------------------------------------------------------------------------------


@dataclass
class PageNumberPaginator(Paginator):
    """`page=N` asked for page after page until the body says it was the last (`total_pages`) or a page comes back empty.

    A server that ignores the page parameter answers the same page again: when the body says which page it is
    (`answered_page`) a wrong number is an error, and a page whose items equal the previous page's is one too.
    """

    what: ClassVar[str] = "page"
    param: str = "page"
    start: int = 1
    total_pages: Callable[[Any], int | None] | None = None
    answered_page: Callable[[Any], int | None] | None = None
    _previous: str | None = field(default=None, init=False, repr=False)

    def first_request(self, path: str, params: dict[str, Any]) -> PageRequest:
        self._previous = None
        return PageRequest(path, {**params, self.param: self.start})

    def next_page(self, answer: JsonResponse, request: PageRequest, items: Items) -> NextPage | None:
        asked = int((request.params or {})[self.param])
        answered = self.answered_page(answer.body) if self.answered_page is not None else None
        if answered is not None and answered != asked:
            raise SourceError(f"asked for page {asked}, the server answered page {answered}")
        digest = hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()
        if items and digest == self._previous:
            raise SourceError(f"page {asked} holds the same items as page {asked - 1}: the server ignores `{self.param}`; stopping instead of looping")
        self._previous = digest
        total = self.total_pages(answer.body) if self.total_pages is not None else None
        if not items or (total is not None and asked >= total):
            return None
        return NextPage(PageRequest(request.url, {**(request.params or {}), self.param: asked + 1}), str(asked + 1), asked + 1)


# -- cursors -----------------------------------------------------------------------------------------


@dataclass
class CursorPaginator(Paginator):
    """A cursor the body hands out, sent back as `param` with the listing's other parameters, until `done` says so.

    Started from a saved cursor (`resume_from`) the first request sends it; otherwise it sends `first_params` (a
    start time, say), which later requests leave out. The cursor after a page is the one it handed out, else the one
    it was asked with.
    """

    param: str
    cursor_of: Callable[[Any], str | None]
    done: Callable[[Any], bool] = lambda body: False
    resume_from: str | None = None
    first_params: dict[str, Any] = field(default_factory=dict)
    _constant: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _asked_with: str | None = field(default=None, init=False, repr=False)

    def first_request(self, path: str, params: dict[str, Any]) -> PageRequest:
        self._constant = dict(params)
        self._asked_with = self.resume_from
        if self.resume_from:
            return PageRequest(path, {**params, self.param: self.resume_from})
        return PageRequest(path, {**params, **self.first_params})

    def references_before(self) -> Iterable[str]:
        return [self.resume_from] if self.resume_from else []

    def next_page(self, answer: JsonResponse, request: PageRequest, items: Items) -> NextPage | None:
        cursor = self.cursor_of(answer.body)
        if self.done(answer.body) or not cursor:
            return None
        return NextPage(PageRequest(request.url, {**self._constant, self.param: cursor}), cursor)

    def cursor_after(self, answer: JsonResponse, following: NextPage | None) -> str | None:
        handed_out = self.cursor_of(answer.body)
        cursor = handed_out or self._asked_with
        self._asked_with = cursor
        return cursor


# -- links -------------------------------------------------------------------------------------------


@dataclass
class NextLinkPaginator(Paginator):
    """Follows the URL of the next page the server gives (it carries the query) until there is none.

    With `stop_on_empty` an empty page ends the listing even if a link follows it. The next page's number is read from
    the link's `page` parameter when it has one.
    """

    what: ClassVar[str] = "next link"
    start: int = 1
    stop_on_empty: bool = False

    @abstractmethod
    def link_of(self, answer: JsonResponse) -> str | None: ...

    def next_page(self, answer: JsonResponse, request: PageRequest, items: Items) -> NextPage | None:
        link = self.link_of(answer)
        if not link or (self.stop_on_empty and not items):
            return None
        return NextPage(PageRequest(link, None), link, _page_in(link))


@dataclass
class LinkHeaderPaginator(NextLinkPaginator):
    """`Link: <…>; rel="next"` (RFC 8288), as Freshdesk and GitHub send it."""

    rel: str = "next"

    def link_of(self, answer: JsonResponse) -> str | None:
        return answer.links.get(self.rel)


@dataclass
class HalLinkPaginator(NextLinkPaginator):
    """HAL bodies: the next page is `_links.next.href` (Help Scout's Mailbox API)."""

    def link_of(self, answer: JsonResponse) -> str | None:
        links = answer.body.get("_links") if isinstance(answer.body, dict) else None
        link = links.get("next") if isinstance(links, dict) else None
        href = link.get("href") if isinstance(link, dict) else None
        return str(href) if href else None


@dataclass
class BodyLinkPaginator(NextLinkPaginator):
    """A next-page URL somewhere else in the body, found by `locate` (Zendesk lists: `links.next` or `next_page`)."""

    locate: Callable[[Any], str | None] = lambda body: None

    def link_of(self, answer: JsonResponse) -> str | None:
        return self.locate(answer.body)


def _page_in(link: str) -> int | None:
    values = parse_qs(urlsplit(link).query).get("page")
    return int(values[0]) if values and values[0].isdigit() else None


# -- Zendesk's incremental exports ---------------------------------------------------------------------


def zendesk_cursor_export(*, cursor: str | None, start_time: int) -> CursorPaginator:
    """Cursor-based incremental exports (tickets, users): `start_time` or a saved `cursor` in, `after_cursor` out, until
    `end_of_stream`; the cursor after each page resumes there.

    https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api#cursor-based-incremental-exports
    """
    return CursorPaginator(
        param="cursor",
        cursor_of=lambda body: body.get("after_cursor") or None,
        done=lambda body: bool(body.get("end_of_stream")),
        resume_from=cursor,
        first_params={"start_time": start_time},
    )


@dataclass
class ZendeskTimeExport(NextLinkPaginator):
    """Time-based incremental exports (organizations, ticket events, Help Center articles): `start_time` in, `next_page`
    followed until `end_of_stream` or an empty page; the page's `end_time` is the cursor that resumes after it.

    Items at a page boundary can come twice; callers de-duplicate by id.
    """

    what: ClassVar[str] = "cursor"
    start_time: int = 0

    def first_request(self, path: str, params: dict[str, Any]) -> PageRequest:
        return PageRequest(path, {"start_time": self.start_time, **params})

    def link_of(self, answer: JsonResponse) -> str | None:
        link = answer.body.get("next_page")
        return str(link) if link else None

    def next_page(self, answer: JsonResponse, request: PageRequest, items: Items) -> NextPage | None:
        if answer.body.get("end_of_stream") or not items:
            return None
        link = self.link_of(answer)
        return NextPage(PageRequest(link, None), link) if link else None

    def cursor_after(self, answer: JsonResponse, following: NextPage | None) -> str | None:
        end_time = answer.body.get("end_time")
        return None if end_time is None else str(end_time)
