"""The source kit: each paginator's requests, stops and resume cursors, a repeated cursor as an error, and the transport."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from deskmigrate.core.errors import SourceError
from deskmigrate.core.http import RetryPolicy, WindowRateLimiter
from deskmigrate.core.sourcekit import (
    BodyLinkPaginator,
    HalLinkPaginator,
    JsonResponse,
    LinkHeaderPaginator,
    Page,
    PageNumberPaginator,
    Paginator,
    SourceHttpError,
    SourceTransport,
    ZendeskTimeExport,
    items_under,
    paginate,
    zendesk_cursor_export,
)
from tests.fakes.loopback import Reply, Request, ScriptedServers

Asked = tuple[str, dict[str, Any] | None]


class ScriptedApi:
    """Answers each GET with `answer(url, params)` and keeps what was asked."""

    vendor = "Acme"

    def __init__(self, answer: Callable[[str, dict[str, Any] | None], JsonResponse]) -> None:
        self.answer = answer
        self.asked: list[Asked] = []

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> JsonResponse:
        self.asked.append((path_or_url, None if params is None else dict(params)))
        return self.answer(path_or_url, params)


def read(api: ScriptedApi, paginator: Paginator, key: str = "items", params: dict[str, Any] | None = None) -> list[Page]:
    return list(paginate(api, "things", paginator, items_under(key), params=params))


def numbered(pages: dict[int, list[int]], total: int | None = None) -> Callable[[str, dict[str, Any] | None], JsonResponse]:
    def answer(url: str, params: dict[str, Any] | None) -> JsonResponse:
        number = int((params or {})["page"])
        body: dict[str, Any] = {"items": [{"id": i} for i in pages.get(number, [])], "page": number}
        if total is not None:
            body["pages"] = total
        return JsonResponse(body)

    return answer


# -- page numbers ------------------------------------------------------------------------------------


def test_page_numbers_stop_at_the_total_the_body_gives() -> None:
    api = ScriptedApi(numbered({1: [1, 2], 2: [3, 4], 3: [5]}, total=3))
    pages = read(api, PageNumberPaginator(total_pages=lambda body: body["pages"]), params={"status": "all"})
    assert [[item["id"] for item in page.items] for page in pages] == [[1, 2], [3, 4], [5]]
    assert [params for _, params in api.asked] == [{"status": "all", "page": 1}, {"status": "all", "page": 2}, {"status": "all", "page": 3}]
    assert [(p.number, p.next_number, p.location) for p in pages] == [(1, 2, "GET things page 1"), (2, 3, "GET things page 2"), (3, None, "GET things page 3")]


def test_page_numbers_without_a_total_stop_at_an_empty_page_and_resume_where_asked() -> None:
    api = ScriptedApi(numbered({4: [7], 5: [8]}))
    pages = read(api, PageNumberPaginator(start=4))
    assert [p.number for p in pages] == [4, 5, 6] and pages[-1].items == [] and pages[-1].last


def test_a_server_answering_another_page_is_an_error_not_a_loop() -> None:
    api = ScriptedApi(lambda url, params: JsonResponse({"items": [{"id": 1}], "page": 1}))
    with pytest.raises(SourceError, match="asked for page 2, the server answered page 1"):
        read(api, PageNumberPaginator(answered_page=lambda body: body["page"]))
    assert len(api.asked) == 2


def test_a_server_ignoring_the_page_number_is_caught_by_the_repeated_items() -> None:
    api = ScriptedApi(lambda url, params: JsonResponse({"items": [{"id": 1}, {"id": 2}]}))
    with pytest.raises(SourceError, match="page 2 holds the same items as page 1"):
        read(api, PageNumberPaginator())
    assert len(api.asked) == 2


# -- cursors -----------------------------------------------------------------------------------------


def cursor_answers(*bodies: dict[str, Any]) -> Callable[[str, dict[str, Any] | None], JsonResponse]:
    queue = list(bodies)
    return lambda url, params: JsonResponse(queue.pop(0))


def test_a_cursor_export_starts_from_a_time_then_follows_the_cursors_it_hands_out() -> None:
    api = ScriptedApi(cursor_answers(
        {"users": [{"id": 1}], "after_cursor": "c1", "end_of_stream": False},
        {"users": [{"id": 2}], "after_cursor": "c2", "end_of_stream": False},
        {"users": [], "after_cursor": None, "end_of_stream": True},
    ))
    pages = read(api, zendesk_cursor_export(cursor=None, start_time=1700), key="users", params={"per_page": 2})
    assert [params for _, params in api.asked] == [
        {"per_page": 2, "start_time": 1700}, {"per_page": 2, "cursor": "c1"}, {"per_page": 2, "cursor": "c2"}]
    # each page's checkpoint resumes after it; the last page hands out none, so the one it was asked with stays
    assert [p.cursor for p in pages] == ["c1", "c2", "c2"] and pages[-1].last


def test_a_cursor_export_resumed_from_a_saved_cursor_sends_it_and_no_start_time() -> None:
    api = ScriptedApi(cursor_answers({"users": [{"id": 3}], "after_cursor": "c9", "end_of_stream": True}))
    pages = read(api, zendesk_cursor_export(cursor="c8", start_time=0), key="users")
    assert api.asked == [("things", {"cursor": "c8"})] and [p.cursor for p in pages] == ["c9"]


@pytest.mark.parametrize("saved", [None, "c1"])
def test_a_cursor_handed_out_twice_is_an_error_not_a_loop(saved: str | None) -> None:
    api = ScriptedApi(lambda url, params: JsonResponse({"users": [{"id": 1}], "after_cursor": "c1", "end_of_stream": False}))
    with pytest.raises(SourceError, match="Acme returned cursor 'c1' twice"):
        read(api, zendesk_cursor_export(cursor=saved, start_time=0), key="users")
    assert len(api.asked) == (1 if saved else 2)


# -- links -------------------------------------------------------------------------------------------


def test_link_headers_are_followed_with_the_query_they_carry_and_their_page_numbers() -> None:
    links = {None: "https://acme.example/api/things?page=2&per_page=2", "https://acme.example/api/things?page=2&per_page=2": None}

    def answer(url: str, params: dict[str, Any] | None) -> JsonResponse:
        following = links[None if params else url]
        return JsonResponse([{"id": url}], {"next": following} if following else {}, "Tue, 02 Jun 2026 10:00:00 GMT")

    api = ScriptedApi(answer)
    pages = list(paginate(api, "things", LinkHeaderPaginator(), lambda body: body, params={"per_page": 2, "page": 1}))
    assert api.asked == [("things", {"per_page": 2, "page": 1}), ("https://acme.example/api/things?page=2&per_page=2", None)]
    assert [(p.number, p.next_number, p.date) for p in pages] == [(1, 2, "Tue, 02 Jun 2026 10:00:00 GMT"), (2, None, "Tue, 02 Jun 2026 10:00:00 GMT")]


def test_an_empty_page_ends_a_link_listing_that_says_so() -> None:
    api = ScriptedApi(lambda url, params: JsonResponse([], {"next": "https://acme.example/things?page=9"}))
    pages = list(paginate(api, "things", LinkHeaderPaginator(stop_on_empty=True), lambda body: body))
    assert len(pages) == 1 and pages[0].last


@pytest.mark.parametrize(
    ("paginator", "body", "links"),
    [
        (LinkHeaderPaginator(), [{"id": 1}], {"next": "https://acme.example/things?page=2"}),
        (HalLinkPaginator(), {"items": [{"id": 1}], "_links": {"next": {"href": "https://acme.example/things?page=2"}}}, {}),
        (BodyLinkPaginator(locate=lambda body: body["next_page"]), {"items": [{"id": 1}], "next_page": "https://acme.example/things?page=2"}, {}),
    ],
    ids=["link header", "HAL", "body link"],
)
def test_a_next_link_given_twice_is_an_error_not_a_loop(paginator: Paginator, body: Any, links: dict[str, str]) -> None:
    api = ScriptedApi(lambda url, params: JsonResponse(body, links))
    items = (lambda found: found) if isinstance(body, list) else items_under("items")
    with pytest.raises(SourceError, match="returned next link 'https://acme.example/things\\?page=2' twice"):
        list(paginate(api, "things", paginator, items))
    assert len(api.asked) == 2


def test_a_time_export_follows_next_page_until_the_end_of_the_stream_with_end_time_as_its_cursor() -> None:
    api = ScriptedApi(cursor_answers(
        {"organizations": [{"id": 1}], "next_page": "https://acme.zendesk.com/api/v2/x?start_time=10", "end_time": 10, "end_of_stream": False},
        {"organizations": [{"id": 2}], "next_page": "https://acme.zendesk.com/api/v2/x?start_time=20", "end_time": 20, "end_of_stream": True},
    ))
    pages = read(api, ZendeskTimeExport(start_time=5), key="organizations", params={"per_page": 100})
    assert api.asked == [("things", {"start_time": 5, "per_page": 100}), ("https://acme.zendesk.com/api/v2/x?start_time=10", None)]
    assert [p.cursor for p in pages] == ["10", "20"] and pages[-1].last


def test_a_time_export_stops_at_an_empty_page_even_before_the_end_of_the_stream() -> None:
    api = ScriptedApi(cursor_answers({"organizations": [], "next_page": "https://acme.zendesk.com/x?start_time=10", "end_time": 10}))
    assert [p.cursor for p in read(api, ZendeskTimeExport(), key="organizations")] == ["10"]


# -- the transport -----------------------------------------------------------------------------------


SECRET = "kit-test-secret-4d1e"


class KeyTransport(SourceTransport):
    """A vendor with a key sent as basic auth that may be renewed once, answering objects or lists."""

    vendor = "Acme"
    objects_only = False

    def __init__(self, root: str, **policy: Any) -> None:
        super().__init__(root, requests.Session(), limiter=WindowRateLimiter.for_retry_after(), secrets=[SECRET], api_prefix="/api/v2",
                         policy=RetryPolicy(**{"max_attempts": 3, "deadline_s": 30.0, "base_delay_s": 0.0, **policy}), timeout_s=5.0)
        self.renewals = 0

    def request_auth(self) -> tuple[str, str] | None:
        return (SECRET, "X")

    def renew_credentials(self) -> bool:
        self.renewals += 1
        return True

    def error_fields(self, response: requests.Response) -> tuple[str, ...]:
        return tuple(str(error["field"]) for error in response.json().get("errors", []))


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Request], object]], str]]:
    with ScriptedServers() as servers:
        yield servers


def replies(*answers: Reply) -> Callable[[Request], object]:
    queue = list(answers)
    seen: list[Request] = []

    def answer(request: Request) -> object:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    answer.seen = seen  # type: ignore[attr-defined]
    return answer


def test_the_transport_retries_a_5xx_and_reads_links_and_date(serve: Callable[[Callable[[Request], object]], str]) -> None:
    answer = replies(Reply(503), Reply(200, {"Link": '<https://acme.example/api/v2/things?page=2>; rel="next"'}, b'[{"id": 1}]'))
    transport = KeyTransport(serve(answer) + "/proxy/api/v2")
    got = transport.get("things", {"page": 1})
    assert got.body == [{"id": 1}] and parsedate_to_datetime(got.date or "").year >= 2024  # the server's Date header
    assert got.links == {"next": "https://acme.example/api/v2/things?page=2"}
    assert [r.target for r in answer.seen] == ["/proxy/api/v2/things?page=1"] * 2  # type: ignore[attr-defined]
    assert transport.calls["/things"] == 1 and transport.stats.retries == 1


def test_next_links_the_server_writes_with_its_own_host_go_to_the_configured_root(serve: Callable[[Callable[[Request], object]], str]) -> None:
    answer = replies(Reply(200, body=b"{}"))
    transport = KeyTransport(serve(answer) + "/proxy/api/v2")
    transport.get("https://acme.example/api/v2/tickets/123/comments.json?page%5Bafter%5D=xyz")
    assert answer.seen[0].target == "/proxy/api/v2/tickets/123/comments.json?page%5Bafter%5D=xyz"  # type: ignore[attr-defined]
    assert transport.endpoint(transport.url_for("tickets/123/comments.json")) == "/tickets/{id}/comments.json"


def test_a_final_error_names_the_status_and_the_fields_blamed_and_never_the_secret(serve: Callable[[Callable[[Request], object]], str]) -> None:
    body = json.dumps({"description": f"Validation failed for {SECRET}", "errors": [{"field": "page", "message": "too far"}]}).encode()
    transport = KeyTransport(serve(replies(Reply(400, body=body))))
    with pytest.raises(SourceHttpError) as caught:
        transport.get("tickets", {"page": 301})
    assert caught.value.status == 400 and caught.value.concerns_field("page") and not caught.value.concerns_field("per_page")
    assert str(caught.value).startswith("Acme answered 400 for GET /tickets → HTTP 400") and SECRET not in str(caught.value)


def test_a_5xx_that_lasts_gives_up_after_the_attempts_allowed(serve: Callable[[Callable[[Request], object]], str]) -> None:
    answer = replies(Reply(500))
    with pytest.raises(SourceHttpError, match=r"Acme answered 500 for GET /things → HTTP 500 \(gave up after 3 attempts\)") as caught:
        KeyTransport(serve(answer)).get("things")
    assert caught.value.status == 500 and len(answer.seen) == 3  # type: ignore[attr-defined]


def test_a_401_renews_the_credentials_once_then_fails(serve: Callable[[Callable[[Request], object]], str]) -> None:
    transport = KeyTransport(serve(replies(Reply(401), Reply(200, body=b'{"ok": 1}'))))
    assert transport.get("things").body == {"ok": 1} and transport.renewals == 1
    refusing = KeyTransport(serve(replies(Reply(401))))
    with pytest.raises(SourceHttpError) as caught:
        refusing.get("things")
    assert caught.value.status == 401 and refusing.renewals == 1


def test_a_429_is_waited_out_and_the_same_page_asked_again(serve: Callable[[Callable[[Request], object]], str]) -> None:
    answer = replies(Reply(429, {"Retry-After": "1"}), Reply(200, body=b'{"page": 2}'))
    started = time.monotonic()
    assert KeyTransport(serve(answer)).get("things", {"page": 2}).body == {"page": 2}
    assert time.monotonic() - started >= 1.0
    assert [r.target for r in answer.seen] == ["/things?page=2"] * 2  # type: ignore[attr-defined]


def test_a_rate_limit_beyond_the_deadline_is_a_429_error(serve: Callable[[Callable[[Request], object]], str]) -> None:
    with pytest.raises(SourceHttpError, match="answered 429") as caught:
        KeyTransport(serve(replies(Reply(429, {"Retry-After": "60"}))), deadline_s=1.0).get("things")
    assert caught.value.status == 429


def test_a_body_that_is_not_json_or_not_the_kind_expected_is_a_source_error(serve: Callable[[Callable[[Request], object]], str]) -> None:
    with pytest.raises(SourceError, match="Acme answered GET /things with a body that is not JSON"):
        KeyTransport(serve(replies(Reply(200, body=b"<html>maintenance</html>")))).get("things")
    objects_only = KeyTransport(serve(replies(Reply(200, body=b"[1, 2]"))))
    objects_only.objects_only = True
    with pytest.raises(SourceError, match="Acme answered GET /things with JSON that is not an object"):
        objects_only.get("things")
