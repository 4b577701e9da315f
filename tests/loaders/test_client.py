"""The Intercom client against a loopback fake: headers, errors with their details, 409s, rate limits, secrecy."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from deskmigrate.core.errors import AmbiguousWriteError, AuthError, ConflictError, LoadError, RejectedError
from deskmigrate.core.http import RetryPolicy, WindowRateLimiter, intercom_rate_limit
from deskmigrate.loaders.intercom.client import ArchivedContactConflictError, IntercomClient
from tests.fakes import loopback
from tests.fakes.loopback import DROP

TOKEN = "fake-test-token-cafebabe-1234567890"  # never a real token; shaped long enough to be worth redacting
FAST = RetryPolicy(max_attempts=3, deadline_s=30, base_delay_s=0.005, max_delay_s=0.01)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, message: str, request_id: str | None = "req-123") -> dict[str, Any]:
    return {"type": "error.list", "request_id": request_id, "errors": [{"code": code, "message": message}]}


class FakeIntercom:
    """Answers each call with `respond(seen)`; keeps every request it saw."""

    def __init__(self, respond: Callable[[Seen], object]) -> None:
        self.respond = respond
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def answer(self, request: loopback.Request) -> object:
        parts = urlsplit(request.target)
        seen = Seen(request.method, parts.path, parse_qs(parts.query), request.headers, json.loads(request.body) if request.body else None)
        with self.lock:
            self.seen.append(seen)
        reply = self.respond(seen)
        if reply is DROP:
            return DROP
        assert isinstance(reply, Reply)
        return loopback.Reply(reply.status, reply.headers, json.dumps(reply.body).encode())


@pytest.fixture
def intercom() -> Iterator[Callable[..., tuple[IntercomClient, FakeIntercom]]]:
    """Start a fake answering with `respond`; return a client pointed at it and the fake."""
    clients: list[IntercomClient] = []
    with loopback.ScriptedServers() as serve:

        def start(respond: Callable[[Seen], object], **client_options: Any) -> tuple[IntercomClient, FakeIntercom]:
            fake = FakeIntercom(respond)
            base_url = serve(fake.answer)
            client_options.setdefault("policy", FAST)
            client = IntercomClient(f"{base_url}/", TOKEN, **client_options)
            clients.append(client)
            return client, fake

        yield start
        for client in clients:
            client.close()


def answers(*replies: object) -> Callable[[Seen], object]:
    """Reply in order, repeating the last reply."""
    queue = list(replies)
    lock = threading.Lock()

    def respond(seen: Seen) -> object:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return respond


# --- requests as Intercom expects them ---------------------------------------------------------


def test_every_call_carries_auth_version_json_and_user_agent(intercom) -> None:
    client, fake = intercom(answers(Reply(200, {"type": "admin", "id": "1"})))
    assert client.me() == {"type": "admin", "id": "1"}
    headers = fake.seen[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Intercom-Version"] == "2.15"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("deskmigrate/")


def test_convenience_calls_build_the_documented_paths_and_bodies(intercom) -> None:
    client, fake = intercom(answers(Reply(200, {"type": "tag", "id": "9"})))
    client.tag_contacts("vip", ["c1", "c2"])
    client.tag_companies("vip", ["k1"])
    client.untag_companies("vip", ["k1"])
    client.attach_company("c1", "k1")
    client.detach_company("c1", "k1")
    client.untag_contact("c1", "9")
    client.list_data_attributes("company")
    calls = [(seen.method, seen.path, seen.body) for seen in fake.seen]
    assert calls == [
        ("POST", "/tags", {"name": "vip", "users": [{"id": "c1"}, {"id": "c2"}]}),
        ("POST", "/tags", {"name": "vip", "companies": [{"id": "k1"}]}),
        ("POST", "/tags", {"name": "vip", "companies": [{"id": "k1", "untag": True}]}),
        ("POST", "/contacts/c1/companies", {"id": "k1"}),
        ("DELETE", "/contacts/c1/companies/k1", None),
        ("DELETE", "/contacts/c1/tags/9", None),
        ("GET", "/data_attributes", None),
    ]
    assert fake.seen[-1].query == {"model": ["company"]}


def test_find_contact_by_external_id_quotes_the_id_and_maps_404_to_none(intercom) -> None:
    def respond(seen: Seen) -> Reply:
        if seen.path.endswith("/zd%2F42"):
            return Reply(200, {"type": "contact", "id": "abc", "external_id": "zd/42"})
        return Reply(404, error_body("not_found", "User Not Found"))

    client, _ = intercom(respond)
    assert client.find_contact_by_external_id("zd/42") == {"type": "contact", "id": "abc", "external_id": "zd/42"}
    assert client.find_contact_by_external_id("missing") is None


def test_find_company_accepts_the_object_or_the_documented_list(intercom) -> None:
    company = {"type": "company", "id": "k1", "company_id": "org-7"}
    client, _ = intercom(
        answers(Reply(200, company), Reply(200, {"type": "list", "data": [company]}), Reply(404, error_body("company_not_found", "x")))
    )
    assert client.find_company("org-7") == company
    assert client.find_company("org-7") == company
    assert client.find_company("org-8") is None


def test_iter_contacts_follows_the_cursor_and_caps_per_page(intercom) -> None:
    pages = {
        None: {"data": [{"id": "1"}, {"id": "2"}], "pages": {"next": {"starting_after": "c1"}}},
        "c1": {"data": [{"id": "3"}], "pages": {"next": {"starting_after": "c2"}}},
        "c2": {"data": [{"id": "4"}], "pages": {"next": None}},
    }
    client, fake = intercom(lambda seen: Reply(200, pages[seen.query.get("starting_after", [None])[0]]))
    assert [contact["id"] for contact in client.iter_contacts(per_page=500)] == ["1", "2", "3", "4"]
    assert {seen.query["per_page"][0] for seen in fake.seen} == {"150"}


def test_iter_contacts_stops_on_a_repeated_cursor(intercom) -> None:
    client, _ = intercom(answers(Reply(200, {"data": [{"id": "1"}], "pages": {"next": {"starting_after": "same"}}})))
    with pytest.raises(LoadError, match="twice"):
        list(client.iter_contacts())


# --- errors ------------------------------------------------------------------------------------


def test_409_names_the_existing_contact(intercom) -> None:
    body = error_body("conflict", "A contact matching those details already exists with id=5da6f18e3d7cf967e4582d05")
    client, fake = intercom(answers(Reply(409, body)))
    with pytest.raises(ConflictError) as caught:
        client.create_contact({"role": "user", "external_id": "zd-1"})
    error = caught.value
    assert not isinstance(error, ArchivedContactConflictError)
    assert (error.existing_id, error.status, error.code, error.request_id) == ("5da6f18e3d7cf967e4582d05", 409, "conflict", "req-123")
    assert len(fake.seen) == 1


def test_409_on_an_archived_contact_says_so(intercom) -> None:
    body = error_body("conflict", "An archived contact matching those details already exists with id=56547a5ec95b4fea0a001635")
    client, _ = intercom(answers(Reply(409, body)))
    with pytest.raises(ArchivedContactConflictError) as caught:
        client.create_contact({"role": "user", "email": "jane@example.com"})
    assert caught.value.existing_id == "56547a5ec95b4fea0a001635"


def test_401_is_an_auth_error_and_not_retried(intercom) -> None:
    client, fake = intercom(answers(Reply(401, error_body("unauthorized", "Access Token Invalid"))))
    with pytest.raises(AuthError) as caught:
        client.admins()
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert len(fake.seen) == 1


def test_a_rejected_record_carries_code_request_id_and_excerpt(intercom) -> None:
    body = error_body("parameter_invalid", "The owner specified is not a member of the workspace", request_id=None)
    client, _ = intercom(answers(Reply(400, body, {"X-Request-Id": "hdr-777"})))
    with pytest.raises(RejectedError) as caught:
        client.update_contact("c1", {"owner_id": 5})
    error = caught.value
    assert (error.status, error.code, error.request_id) == (400, "parameter_invalid", "hdr-777")
    assert "not a member of the workspace" in str(error)
    assert error.excerpt and "parameter_invalid" in error.excerpt


def test_a_dropped_create_contact_is_ambiguous_but_a_company_upsert_is_retried(intercom) -> None:
    client, fake = intercom(answers(DROP, Reply(200, {"type": "company", "id": "k1"})))
    with pytest.raises(AmbiguousWriteError):
        client.create_contact({"role": "user", "external_id": "zd-1"})
    assert client.upsert_company({"company_id": "org-1"}) == {"type": "company", "id": "k1"}
    assert [seen.path for seen in fake.seen] == ["/contacts", "/companies"]
    assert client.stats.retries == 0  # the upsert got the success reply first time; the create was not re-sent


def test_a_500_on_a_read_is_retried(intercom) -> None:
    client, fake = intercom(answers(Reply(500, error_body("server_error", "oops")), Reply(200, {"type": "contact", "id": "c1"})))
    assert client.get_contact("c1")["id"] == "c1"
    assert len(fake.seen) == 2
    assert client.stats.retries == 1


# --- secrecy -----------------------------------------------------------------------------------


def test_the_token_never_leaks_even_when_the_server_echoes_it(intercom, caplog) -> None:
    echo = f"Access Token Invalid: {TOKEN} (Authorization: Bearer {TOKEN})"
    replies = answers(
        Reply(503, error_body("service_unavailable", echo)),
        Reply(400, error_body("parameter_invalid", echo)),
        DROP,
        Reply(401, error_body("unauthorized", echo)),
    )
    client, _ = intercom(replies)
    caplog.set_level(logging.DEBUG)
    errors: list[LoadError] = []
    for call in (lambda: client.get_contact("c1"), lambda: client.create_contact({"role": "lead"}), client.admins):
        with pytest.raises(LoadError) as caught:
            call()
        errors.append(caught.value)
    assert [type(error) for error in errors] == [RejectedError, AmbiguousWriteError, AuthError]
    assert "Access Token Invalid" in str(errors[0])
    shown = [repr(client), str(vars(client)), caplog.text]
    for error in errors:
        shown += [str(error), repr(error), repr(error.args), str(error.excerpt), str(vars(error))]
        assert error.__cause__ is None  # a chained requests exception would carry the request headers
    for text in shown:
        assert TOKEN not in text
        assert TOKEN[:20] not in text


# --- rate limits -------------------------------------------------------------------------------


def test_a_429_storm_is_waited_out_and_counted(intercom) -> None:
    state = {"storm": 3}
    lock = threading.Lock()

    def respond(seen: Seen) -> Reply:
        with lock:
            if state["storm"]:
                state["storm"] -= 1
                headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)}
                return Reply(429, error_body("rate_limit_exceeded", "Exceeded rate limit of 100 in 10_seconds"), headers)
        return Reply(200, {"type": "contact", "id": seen.path.rsplit("/", 1)[-1]})

    limiter = WindowRateLimiter(intercom_rate_limit, initial_limit=8, window_s=1.0, reset_margin_s=0.05, jitter_s=0.05)
    client, fake = intercom(respond, limiter=limiter, policy=RetryPolicy(max_attempts=1, deadline_s=30))
    got: list[str] = []

    def worker(worker_id: int) -> None:
        for n in range(3):
            got.append(client.get_contact(f"c{worker_id}-{n}")["id"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(got) == sorted(f"c{i}-{n}" for i in range(8) for n in range(3))
    stats = client.stats
    assert stats.rate_limited == 3
    assert stats.calls == 24 + 3 == len(fake.seen)
    assert stats.calls_by_route == {"GET /contacts/{id}": 27}
    assert stats.writes == 0


def test_stats_count_calls_by_method_route_and_writes(intercom) -> None:
    client, _ = intercom(answers(Reply(200, {"type": "contact", "id": "c1"})))
    client.create_contact({"role": "lead"})
    client.update_contact("c1", {"name": "x"})
    client.get_contact("c1")
    client.request("GET", "/contacts/c2")
    stats = client.stats
    assert stats.calls_by_method == {"POST": 1, "PUT": 1, "GET": 2}
    assert stats.calls_by_route == {"POST /contacts": 1, "PUT /contacts/{id}": 1, "GET /contacts/{id}": 2}
    assert stats.writes == 2
    assert stats.calls == 4
    assert client.stats_dict() | {"waited_s": 0} == {
        "calls": 4,
        "writes": 2,
        "rate_limited": 0,
        "retries": 0,
        "waited_s": 0,
        "calls_by_method": {"POST": 1, "PUT": 1, "GET": 2},
        "calls_by_route": {"POST /contacts": 1, "PUT /contacts/{id}": 1, "GET /contacts/{id}": 2},
        "timeline": [{"at_s": 0.0, "calls": 4, "rate_limited": 0, "retries": 0}],  # per 10-second window, for the HTML report
    }
