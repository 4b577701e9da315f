"""The Help Scout connector against the fake Help Scout: OAuth renewal, HAL paging, 429s, resume, deltas, chats, Docs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deskmigrate.connectors.helpscout.pagination import ReadPosition, mailbox_pages
from deskmigrate.connectors.helpscout.transport import docs_rate_limit
from deskmigrate.core.errors import SourceError
from deskmigrate.core.http import retry_after_rate_limit
from deskmigrate.core.model import Agent, Article, Collection, Company, Contact, Conversation, SourceNotice, SourceRejection
from deskmigrate.core.source import SourceCheckpoint
from deskmigrate.core.sourcekit import JsonResponse
from tests.connectors.helpscout.conftest import make_connector
from tests.connectors.reading import DictCursorStore
from tests.fakes.helpscout import FAKE_APP_SECRET, FakeHelpScout


def records(items: list[Any], kind: type) -> dict[str, Any]:
    return {i.source_id: i for i in items if isinstance(i, kind)}


def test_conversations_of_every_status_with_threads_oldest_first(fake: FakeHelpScout) -> None:
    fake.page_size = 3
    items = list(make_connector(fake.api_root).read("conversations"))
    conversations = records(items, Conversation)
    assert sorted(conversations) == ["1000", "1001", "1002", "1003", "1004", "1005", "1006"]
    assert {c.status for c in conversations.values()} == {"active", "pending", "closed", "spam"}
    listing = [r.query for r in fake.requests if r.path == "/v2/conversations"]
    assert all(q["status"] == "all" and q["embed"] == "threads" for q in listing)
    assert [n.source_id for n in items if isinstance(n, SourceNotice)] == ["1007"]  # deleted

    printer = conversations["1000"]
    assert printer.subject == "Printer on fire" and printer.group == "Support" and printer.assignee_id == "2"
    assert printer.requester_id == "200" and printer.tags == ["vip"] and printer.channel == "email"
    assert printer.custom_fields["Plan"] == "Pro"  # dropdown option id 170 → its label
    assert printer.custom_fields["Order number"] == "A-1"
    assert [(p.source_id, p.author_kind, p.public) for p in printer.parts] == [
        ("5000", "contact", True), ("5001", "system", False), ("5002", "agent", True), ("5003", "agent", False),
    ]
    assert printer.parts[1].body_text == "Ada assigned this conversation to Bob"
    assert printer.parts[0].attachments[0].filename == "fire.jpg"
    assert printer.parts[0].attachments[0].url == "https://secure.helpscout.net/file/700/fire.jpg"
    assert conversations["1003"].group == "Sales" and [p.public for p in conversations["1003"].parts] == [False, False]  # call log, note
    assert [p.source_id for p in conversations["1005"].parts] == ["5050", "5051"]  # the unsent draft reply is left out
    assert conversations["1006"].parts[0].public is True  # forwardchild
    assert conversations["1001"].parts[-1].body_text == "Status changed to closed"


def test_chat_threads_are_listed_in_full_only_for_chats(fake: FakeHelpScout) -> None:
    items = list(make_connector(fake.api_root).read("conversations"))
    chat = records(items, Conversation)["1002"]
    assert chat.parts[0].body_html == "Hi! I cannot find the export button anywhere in the new dashboard, where did it go?"
    assert [p.author_kind for p in chat.parts] == ["contact", "agent"]
    assert fake.paths().count("/v2/conversations/1002/threads") == 1
    assert [p for p in fake.paths() if p.endswith("/threads")] == ["/v2/conversations/1002/threads"]


def test_line_items_can_be_dropped(fake: FakeHelpScout) -> None:
    items = list(make_connector(fake.api_root, line_items="drop").read("conversations"))
    printer = records(items, Conversation)["1000"]
    assert [p.author_kind for p in printer.parts] == ["contact", "agent", "agent"]


def test_mailbox_filter_is_sent(fake: FakeHelpScout) -> None:
    items = list(make_connector(fake.api_root, mailboxes=[11]).read("conversations"))
    assert sorted(records(items, Conversation)) == ["1003"]


def test_contacts_keep_every_email_and_phone_and_link_companies_by_name(fake: FakeHelpScout) -> None:
    fake.page_size = 2
    connector = make_connector(fake.api_root)
    contacts = records(list(connector.read("contacts")), Contact)
    assert sorted(contacts) == [str(i) for i in range(200, 207)]
    dana = contacts["200"]
    assert (dana.email, dana.phone, dana.name) == ("dana@globex.example", "+33612345678", "Dana Scully")
    assert dana.custom_fields["other_emails"] == ["dana.s@home.example"]
    assert dana.custom_fields["other_phones"] == ["+33698765432"]
    assert dana.custom_fields["Plan tier"] == "Enterprise" and dana.custom_fields["social_twitter"] == "@dana"
    assert dana.custom_fields["job_title"] == "CTO" and dana.custom_fields["address"] == "1 rue de Rivoli, Paris, 75001, FR"
    assert contacts["201"].name == "Zoë Ångström" and contacts["201"].company_ids == dana.company_ids == ["org:globex corp"]
    assert contacts["203"].email is None and contacts["203"].company_ids == []

    companies = records(list(connector.read("companies")), Company)
    assert sorted(companies) == ["org:globex corp", "org:initech"]
    assert companies["org:initech"].name == "Initech"


def test_a_malformed_customer_is_a_located_rejection_and_the_read_goes_on(fake: FakeHelpScout) -> None:
    assert fake.account is not None
    fake.account["customers"][0]["createdAt"] = "yesterday"
    items = list(make_connector(fake.api_root).read("contacts"))
    [rejection] = [i for i in items if isinstance(i, SourceRejection)]
    assert rejection.source_id == "200" and rejection.location == "GET /customers page 1"
    assert len(records(items, Contact)) == 6


def test_agents_are_users(fake: FakeHelpScout) -> None:
    agents = records(list(make_connector(fake.api_root).read("agents")), Agent)
    assert {a.email for a in agents.values()} == {"ada@acme.example", "bob@acme.example"}
    assert agents["1"].name == "Ada Admin" and agents["1"].custom_fields["role"] == "owner"


def test_an_expired_token_is_renewed_mid_read_and_the_page_asked_again(fake: FakeHelpScout) -> None:
    fake.page_size = 2
    reader = make_connector(fake.api_root).read("contacts")
    first_page = [next(reader), next(reader), next(reader)]
    assert isinstance(first_page[-1], SourceCheckpoint)
    fake.expire_tokens()
    rest = list(reader)
    assert len(records(first_page + rest, Contact)) == 7
    tokens = [r for r in fake.requests if r.path == "/v2/oauth2/token"]
    assert len(tokens) == 2
    page_two = [r for r in fake.requests if r.path == "/v2/customers" and r.query.get("page") == "2"]
    assert [r.authorized for r in page_two] == [False, True]


def test_a_token_past_its_lifetime_is_renewed_before_the_call(fake: FakeHelpScout) -> None:
    fake.token_lifetime_s = 3600
    now = [0.0]
    connector = make_connector(fake.api_root, clock=lambda: now[0])
    list(connector.read("agents"))
    now[0] = 3600.0
    list(connector.read("agents"))
    assert fake.paths("POST").count("/v2/oauth2/token") == 2
    assert all(r.authorized for r in fake.requests)  # renewed before it expired: no 401


def test_wrong_app_credentials_fail_without_showing_the_secret(fake: FakeHelpScout) -> None:
    connector = make_connector(fake.api_root, app_secret="wrong-secret-value-123456")
    with pytest.raises(SourceError) as caught:
        list(connector.read("agents"))
    assert "app_secret" in str(caught.value) and "wrong-secret-value-123456" not in str(caught.value)
    assert FAKE_APP_SECRET not in str(caught.value)


def test_a_429_waits_retry_after_and_asks_for_the_same_page(fake: FakeHelpScout) -> None:
    fake.page_size = 3
    fake.fail_next("/v2/customers", 429, retry_after=1)
    items = list(make_connector(fake.api_root).read("contacts"))
    assert len(records(items, Contact)) == 7
    first = [r.query for r in fake.requests if r.path == "/v2/customers"][:2]
    assert first[0] == first[1]


def test_a_503_is_retried(fake: FakeHelpScout) -> None:
    fake.fail_next("/v2/users", 503, times=2)
    assert len(records(list(make_connector(fake.api_root).read("agents")), Agent)) == 2


def test_a_404_is_an_error_naming_the_call(fake: FakeHelpScout) -> None:
    # The customers themselves: what the migration cannot do without (an optional list's 404 is a notice instead).
    fake.fail_next("/v2/customers", 404)
    with pytest.raises(SourceError, match="GET /v2/customers → HTTP 404"):
        list(make_connector(fake.api_root).read("contacts"))


def test_a_read_cut_short_resumes_at_the_saved_page(fake: FakeHelpScout) -> None:
    fake.page_size = 2
    cursors = DictCursorStore()
    reader = make_connector(fake.api_root, cursors=cursors).read("conversations")
    seen: list[str] = []
    for item in reader:
        if isinstance(item, SourceCheckpoint):
            cursors.save("helpscout", item)
            if json.loads(item.cursor).get("page") == 3:
                break  # killed after two pages
        elif isinstance(item, Conversation):
            seen.append(item.source_id)
    assert ReadPosition.decode(cursors.get_cursor("helpscout", "conversations") or "").page == 3
    fake.requests.clear()
    resumed = list(make_connector(fake.api_root, cursors=cursors).read("conversations"))
    assert [r.query.get("page") for r in fake.requests if r.path == "/v2/conversations"][0] == "3"
    seen += list(records(resumed, Conversation))
    assert sorted(seen) == ["1000", "1001", "1002", "1003", "1004", "1005", "1006"]
    final = ReadPosition.decode(cursors.get_cursor("helpscout", "conversations") or "")
    for item in resumed:
        if isinstance(item, SourceCheckpoint):
            final = ReadPosition.decode(item.cursor)
    assert final == ReadPosition(since="2026-06-01T11:55:00Z")  # the first attempt's start, less the margin


def test_a_delta_reads_what_changed_since_the_last_high_water_mark(fake: FakeHelpScout) -> None:
    cursors = DictCursorStore()
    for item in make_connector(fake.api_root, cursors=cursors).read("contacts"):
        if isinstance(item, SourceCheckpoint):
            cursors.save("helpscout", item)
    fake.touch("customers", 202, jobTitle="Novelist")
    fake.requests.clear()
    delta = list(make_connector(fake.api_root, cursors=cursors).read("contacts"))
    assert list(records(delta, Contact)) == ["202"]
    assert records(delta, Contact)["202"].custom_fields["job_title"] == "Novelist"
    assert [r.query.get("modifiedSince") for r in fake.requests if r.path == "/v2/customers"] == ["2026-06-01T11:55:00Z"]


def test_an_empty_hal_list_still_checkpoints(fake: FakeHelpScout) -> None:
    assert fake.account is not None
    fake.account["customers"] = []
    items = list(make_connector(fake.api_root).read("contacts"))
    assert [type(i) for i in items] == [SourceCheckpoint]


def test_a_next_link_seen_twice_is_an_error_not_a_loop() -> None:
    class Looping:
        vendor = "Help Scout"

        def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> JsonResponse:
            return JsonResponse({"_embedded": {"users": [{"id": 1}]}, "_links": {"next": {"href": "https://api.helpscout.net/v2/users?page=2"}}})

    with pytest.raises(SourceError, match="twice"):
        list(mailbox_pages(Looping(), "users", "users"))


def test_docs_collections_nest_categories_and_articles_get_their_bodies(fake: FakeHelpScout) -> None:
    fake.page_size = 1
    connector = make_connector(fake.api_root, fake.docs_root)
    collections = records(list(connector.read("collections")), Collection)
    assert collections["category:5f00000000000000000000a1"].parent_id == "collection:5f00000000000000000000c1"
    assert collections["collection:5f00000000000000000000c1"].custom_fields["site"] == "Acme Help"
    articles = records(list(connector.read("articles")), Article)
    install = articles["5f00000000000000000000b1"]
    assert install.body_html.startswith("<h2>Install</h2>") and install.collection_id == "category:5f00000000000000000000a1"
    assert install.custom_fields["other_categories"] == ["category:5f00000000000000000000a2"]
    assert articles["5f00000000000000000000b2"].state == "draft"
    assert articles["5f00000000000000000000b3"].collection_id == "collection:5f00000000000000000000c2"
    assert sum(1 for p in fake.paths() if p.startswith("/v1/articles/")) == 3
    assert all(r.authorized for r in fake.requests if r.path.startswith("/v1/"))


def test_docs_delta_fetches_only_changed_articles_and_resumes_by_collection(fake: FakeHelpScout) -> None:
    cursors = DictCursorStore()
    for item in make_connector(fake.api_root, fake.docs_root, cursors).read("articles"):
        if isinstance(item, SourceCheckpoint):
            cursors.save("helpscout", item)
    assert fake.account is not None
    fake.account["docs"]["articles"][2]["updatedAt"] = "2026-07-01T00:00:00Z"
    fake.requests.clear()
    delta = list(make_connector(fake.api_root, fake.docs_root, cursors).read("articles"))
    assert list(records(delta, Article)) == ["5f00000000000000000000b3"]
    assert [p for p in fake.paths() if p.startswith("/v1/articles/")] == ["/v1/articles/5f00000000000000000000b3"]

    cursors.cursors[("helpscout", "articles")] = ReadPosition(since=None, started="2026-06-01T11:55:00Z", scope="5f00000000000000000000c2").encode()
    resumed = list(make_connector(fake.api_root, fake.docs_root, cursors).read("articles"))
    assert list(records(resumed, Article)) == ["5f00000000000000000000b3"]


def test_docs_forbidden_is_a_notice(fake: FakeHelpScout) -> None:
    fake.fail_next("/v1/sites", 403)
    items = list(make_connector(fake.api_root, fake.docs_root).read("collections"))
    assert [type(i) for i in items] == [SourceNotice] and "HTTP 403" in items[0].message


def test_without_a_docs_key_the_docs_entities_are_not_read(fake: FakeHelpScout) -> None:
    connector = make_connector(fake.api_root)
    assert connector.entities() == ["companies", "contacts", "agents", "conversations"]
    with pytest.raises(SourceError, match="cannot read 'articles'"):
        list(connector.read("articles"))


def test_describe_plan_counts_one_call_per_article(fake: FakeHelpScout) -> None:
    plan = make_connector(fake.api_root, fake.docs_root).describe_plan()
    assert plan["counts"]["conversations"] == 8 and plan["counts"]["customers"] == 7
    assert plan["estimated_calls"]["articles"] == 1 + 2 + 3  # collections list, one list page per collection, one GET per article
    assert plan["estimated_calls"]["conversations"] == 1


def test_helpscout_rate_limit_headers_set_the_budget_and_the_wait() -> None:
    mailbox = retry_after_rate_limit(
        {"X-RateLimit-Limit-Minute": "400", "X-RateLimit-Remaining-Minute": "0", "X-RateLimit-Retry-After": "7"}, 1000.0
    )
    assert (mailbox.limit, mailbox.remaining, mailbox.reset_at) == (400, 0, 1007.0)
    docs = docs_rate_limit({"X-RateLimit-Limit": "2000", "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "540"}, 1000.0)
    assert (docs.limit, docs.remaining, docs.reset_at) == (2000, 12, 1540.0)
