"""The Zendesk connector against the fake Zendesk: paging, checkpoints, resume, deltas, faults and strategies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError

from deskmigrate.connectors.zendesk import ZendeskConnector, ZendeskSourceConfig
from deskmigrate.connectors.zendesk.pagination import cursor_export
from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Agent, Contact, Conversation, SourceNotice
from deskmigrate.core.source import SourceCheckpoint, SourceContext
from deskmigrate.core.sourcekit import JsonResponse
from tests.connectors.reading import DictCursorStore, ids, records, run_with_ledger
from tests.connectors.zendesk.conftest import fast_config, make_connector
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_OAUTH_TOKEN, FAKE_TOKEN, FakeZendesk


def entity_ids(items: list, kind: type) -> list[str]:
    return [r.source_id for r in records(items) if isinstance(r, kind)]


def test_entities_and_registry_contract(fake: FakeZendesk) -> None:
    connector = make_connector(fake.base_url)
    assert connector.name == "zendesk" and connector.config_model is ZendeskSourceConfig
    assert connector.entities() == ["companies", "contacts", "conversations", "collections", "articles"]  # agents come with contacts
    assert "collections" not in make_connector(fake.base_url, include_help_center=False).entities()


def test_every_page_is_followed_by_its_checkpoint(fake: FakeZendesk) -> None:
    items = list(make_connector(fake.base_url).read("contacts"))
    assert entity_ids(items, Contact) == ["10", "11", "12", "13", "14", "15", "16"]
    assert isinstance(items[-1], SourceCheckpoint)
    assert {i.entity for i in items if isinstance(i, SourceCheckpoint)} == {"contacts"}  # one cursor for the users stream
    assert sum(isinstance(i, SourceCheckpoint) for i in items) == 4  # 11 users, 3 a page
    assert [n.source_id for n in items if isinstance(n, SourceNotice)] == ["17"]  # the deleted user, skipped
    cursor_calls = [r for r in fake.requests if r.path.endswith("incremental/users/cursor.json")]
    assert cursor_calls[0].query["start_time"] == "0" and all("cursor" in r.query for r in cursor_calls[1:])


def test_contacts_get_every_organization_when_the_account_allows_several(fake: FakeZendesk) -> None:
    contacts = {c.source_id: c for c in records(list(make_connector(fake.base_url).read("contacts")))}
    assert contacts["10"].company_ids == ["100", "101"]
    fake.account["settings"]["user"]["multiple_organizations"] = False  # type: ignore[index]
    single = {c.source_id: c for c in records(list(make_connector(fake.base_url).read("contacts")))}
    assert single["10"].company_ids == ["100"]


def test_one_pass_over_the_users_stream_yields_contacts_and_agents(fake: FakeZendesk) -> None:
    items = list(make_connector(fake.base_url).read("contacts"))
    agents = [r for r in records(items) if isinstance(r, Agent)]
    assert [(a.source_id, a.entity, a.email, a.active) for a in agents] == [
        ("1", "agents", "ada@acme.example", True), ("2", "agents", "bob@acme.example", True), ("3", "agents", "cleo@acme.example", False)
    ]
    assert all(r.entity == "contacts" for r in records(items) if isinstance(r, Contact))
    assert len([r for r in fake.requests if r.path.endswith("incremental/users/cursor.json")]) == 4  # 11 users, 3 a page: once


def test_agents_are_not_an_entity_of_their_own(fake: FakeZendesk) -> None:
    with pytest.raises(SourceError, match="cannot read 'agents'"):
        list(make_connector(fake.base_url).read("agents"))


def test_time_based_companies_are_deduplicated_across_page_boundaries(fake: FakeZendesk) -> None:
    items = list(make_connector(fake.base_url, page_size=2).read("companies"))
    assert ids(items) == ["100", "101", "102"]
    assert [n.source_id for n in items if isinstance(n, SourceNotice)] == ["103"]
    assert all(i.cursor.isdigit() for i in items if isinstance(i, SourceCheckpoint))


@pytest.mark.parametrize("strategy", ["events", "per_ticket"])
def test_both_comment_strategies_give_the_same_conversations(fake: FakeZendesk, strategy: str) -> None:
    items = list(make_connector(fake.base_url, comments_strategy=strategy).read("conversations"))
    conversations = {c.source_id: c for c in records(items) if isinstance(c, Conversation)}
    assert sorted(conversations) == ["1000", "1001", "1002", "1004", "1005"]
    notices = {n.source_id: n.message for n in items if isinstance(n, SourceNotice)}
    assert "deleted" in notices["1003"] and "requester 17" in notices["1004"]
    printer = conversations["1000"]
    assert [p.source_id for p in printer.parts] == ["5000", "5001", "5002", "5003"]
    assert [p.author_kind for p in printer.parts] == ["contact", "agent", "agent", "contact"]
    assert printer.parts[2].public is False
    refund = conversations["1001"]
    assert [p.author_kind for p in refund.parts] == ["contact", "agent", "system"]
    assert refund.custom_fields["solved_at"] == "2024-03-07T09:00:00Z"
    assert "🙏" in refund.parts[0].body_text
    endpoint = "ticket_events.json" if strategy == "events" else "/comments.json"
    assert any(endpoint in path for path in fake.paths())


def test_auto_strategy_uses_ticket_events_for_a_full_read_and_per_ticket_for_a_delta(fake: FakeZendesk) -> None:
    store = DictCursorStore()
    run_with_ledger(make_connector(fake.base_url, store), "conversations", store)
    assert any("incremental/ticket_events.json" in p for p in fake.paths())
    fake.requests.clear()
    run_with_ledger(make_connector(fake.base_url, store), "conversations", store)
    assert not any("ticket_events" in p for p in fake.paths())


def test_killed_extraction_resumes_from_the_last_saved_cursor(fake: FakeZendesk) -> None:
    store = DictCursorStore()
    first = run_with_ledger(make_connector(fake.base_url, store), "contacts", store, stop_after_checkpoints=2)
    assert entity_ids(first, Agent) == ["1", "2", "3"] and entity_ids(first, Contact) == ["10", "11", "12"]
    resumed = run_with_ledger(make_connector(fake.base_url, store), "contacts", store)
    assert ids(resumed) == ["13", "14", "15", "16"]  # from the third users page: no agent or contact read twice


def test_second_read_yields_only_changed_records(fake: FakeZendesk) -> None:
    store = DictCursorStore()
    run_with_ledger(make_connector(fake.base_url, store), "contacts", store)
    run_with_ledger(make_connector(fake.base_url, store), "conversations", store)
    fake.touch("users", 12, name="Émile Zola Jr")
    fake.touch("users", 2, name="Bob Agent Jr")
    fake.touch("tickets", 1002, status="solved")
    users = records(run_with_ledger(make_connector(fake.base_url, store), "contacts", store))
    assert sorted((u.entity, u.source_id, u.name) for u in users) == [("agents", "2", "Bob Agent Jr"), ("contacts", "12", "Émile Zola Jr")]
    conversations = records(run_with_ledger(make_connector(fake.base_url, store), "conversations", store))
    assert [(c.source_id, c.status, len(c.parts)) for c in conversations] == [("1002", "solved", 2)]


def test_since_overrides_the_saved_cursor(fake: FakeZendesk) -> None:
    store = DictCursorStore()
    run_with_ledger(make_connector(fake.base_url, store), "contacts", store)
    since = datetime(2024, 3, 2, 12, tzinfo=UTC)
    assert ids(list(make_connector(fake.base_url, store).read("contacts", since=since))) == ["13", "14", "15", "16"]


def test_429_is_waited_out_with_retry_after(fake: FakeZendesk) -> None:
    fake.fail_next("incremental/organizations", 429, retry_after=1)
    assert ids(list(make_connector(fake.base_url).read("companies"))) == ["100", "101", "102"]
    org_calls = [r for r in fake.requests if "incremental/organizations" in r.path]
    assert org_calls[0].query == org_calls[1].query  # the same page asked again


def test_429_wait_is_bounded(fake: FakeZendesk) -> None:
    fake.fail_next("incremental/organizations", 429, times=50, retry_after=30)
    with pytest.raises(SourceError, match="429"):
        list(make_connector(fake.base_url, max_retry_wait_s=1).read("companies"))


def test_5xx_is_retried_then_given_up(fake: FakeZendesk) -> None:
    fake.fail_next("incremental/users/cursor", 503, times=2)
    assert len(ids(list(make_connector(fake.base_url).read("contacts")))) == 10
    fake.fail_next("incremental/users/cursor", 500, times=10)
    with pytest.raises(SourceError, match="500"):
        list(make_connector(fake.base_url, max_retries=2).read("contacts"))


def test_help_center_forbidden_is_a_notice_not_a_failure(fake: FakeZendesk) -> None:
    fake.help_center_forbidden = True
    connector = make_connector(fake.base_url)
    for entity in ("collections", "articles"):
        items = list(connector.read(entity))
        assert len(items) == 1 and isinstance(items[0], SourceNotice) and "Help Center not available" in items[0].message
    assert ids(list(connector.read("companies"))) == ["100", "101", "102"]


def test_help_center_collections_and_articles(fake: FakeZendesk) -> None:
    connector = make_connector(fake.base_url, page_size=2)
    collections = records(list(connector.read("collections")))
    assert [(c.source_id, c.parent_id) for c in collections] == [
        ("category:200", None), ("category:201", None), ("section:300", "category:200"), ("section:301", "section:300"), ("section:302", "category:201")
    ]
    articles = {a.source_id: a for a in records(list(connector.read("articles")))}
    assert [t.locale for t in articles["400"].translations] == ["fr"]
    assert articles["401"].state == "draft"
    assert [a.filename for a in articles["402"].attachments] == ["sample.png", "invoice-guide.pdf"]


def test_oauth_token_authenticates(fake: FakeZendesk) -> None:
    config = ZendeskSourceConfig(subdomain="acme", oauth_token=FAKE_OAUTH_TOKEN, base_url=fake.base_url, incremental_requests_per_minute=1000)
    connector = ZendeskConnector(config, SourceContext(base_dir=Path(".")))
    assert len(ids(list(connector.read("contacts")))) == 10
    assert all(r.authorized for r in fake.requests)


def test_injected_session_is_used_and_bad_credentials_fail_without_leaking_them(fake: FakeZendesk) -> None:
    session = requests.Session()
    sent: list[str] = []
    session.hooks["response"].append(lambda response, **_: sent.append(response.url))
    connector = ZendeskConnector(fast_config(fake.base_url), SourceContext(base_dir=Path("."), session=session))
    list(connector.read("contacts"))
    assert sent and all(url.startswith(fake.base_url) for url in sent)
    wrong = make_connector(fake.base_url, token="wrong-token-value-123")
    with pytest.raises(SourceError) as raised:
        list(wrong.read("contacts"))
    assert "401" in str(raised.value) and "wrong-token-value-123" not in str(raised.value) and FAKE_EMAIL not in str(raised.value)


def test_describe_plan_names_strategy_and_call_estimate(fake: FakeZendesk) -> None:
    plan = make_connector(fake.base_url).describe_plan()
    assert plan["counts"] == {"organizations": 3, "users": 10, "tickets": 5}  # the count endpoints leave out what was deleted
    assert plan["comments_strategy"] == "events"
    assert "ticket_events" in plan["comments_endpoint"]
    assert plan["estimated_calls_total"] == sum(plan["estimated_calls"].values())
    forced = make_connector(fake.base_url, comments_strategy="per_ticket").describe_plan()
    assert forced["comments_strategy"] == "per_ticket" and forced["estimated_calls"]["comments"] == 5


def test_describe_plan_counts_one_pass_over_the_users_stream(fake: FakeZendesk) -> None:
    plan = make_connector(fake.base_url, page_size=3).describe_plan()
    assert plan["estimated_calls"]["users"] == 4  # 11 users, 3 a page, read once for contacts and agents
    assert "agents" not in plan["entities"] and "agents" in plan["entities"]["contacts"]


def test_repeated_cursor_is_an_error_not_a_loop() -> None:
    class StuckServer:
        vendor = "Zendesk"

        def get(self, path_or_url: str, params: dict | None = None) -> JsonResponse:
            return JsonResponse({"users": [{"id": 1}], "after_cursor": "same", "end_of_stream": False})

    export = cursor_export(StuckServer(), "incremental/users/cursor.json", "users", 10, cursor=None, start_time=0)
    with pytest.raises(SourceError, match="twice"):
        list(export)


def test_incremental_calls_are_paced(fake: FakeZendesk) -> None:
    waits: list[float] = []
    config = fast_config(fake.base_url, incremental_requests_per_minute=2)
    connector = ZendeskConnector(config, SourceContext(base_dir=Path(".")), clock=lambda: 0.0, sleep=waits.append)
    list(connector.read("contacts"))  # 4 incremental users pages at 2 a minute
    assert len(waits) == 2


@pytest.mark.parametrize(
    "values",
    [
        {"subdomain": "acme"},
        {"subdomain": "acme", "email": FAKE_EMAIL, "token": FAKE_TOKEN, "oauth_token": FAKE_OAUTH_TOKEN},
        {"subdomain": "acme", "token": FAKE_TOKEN},
        {"subdomain": "acme", "oauth_token": FAKE_OAUTH_TOKEN, "surprise": 1},
        {"subdomain": "acme", "oauth_token": FAKE_OAUTH_TOKEN, "base_url": "ftp://x"},
    ],
)
def test_config_rejects_bad_credentials_and_unknown_keys(values: dict) -> None:
    with pytest.raises(ValidationError):
        ZendeskSourceConfig(**values)


def test_config_default_base_url_and_secret_hidden() -> None:
    config = ZendeskSourceConfig(subdomain="acme", email=FAKE_EMAIL, token=FAKE_TOKEN)
    assert config.api_root() == "https://acme.zendesk.com/api/v2"
    assert FAKE_TOKEN not in repr(config)


def test_contacts_keep_unicode(fake: FakeZendesk) -> None:
    contacts = {c.source_id: c for c in records(list(make_connector(fake.base_url).read("contacts"))) if isinstance(c, Contact)}
    assert contacts["11"].name == "Zoë Ångström" and contacts["13"].name == "山田 太郎"


def test_files_on_every_brands_help_center_domain_are_fetched_with_the_login_and_nowhere_else(fake: FakeZendesk) -> None:
    fake.account["brands"].append({**fake.account["brands"][0], "id": 2, "name": "Acme Outdoor", "subdomain": "acmeoutdoor",  # type: ignore[index]
                                   "brand_url": "https://acmeoutdoor.zendesk.com", "host_mapping": "Help.Acme.com", "default": False})
    fake.account["brands"].append({**fake.account["brands"][0], "id": 3, "subdomain": "oldbrand", "brand_url": "https://oldbrand.zendesk.com",  # type: ignore[index]
                                   "host_mapping": "old.acme.com", "is_deleted": True})
    connector = make_connector(fake.base_url)
    files = connector.source_files()
    assert files.owns("https://help.acme.com/hc/article_attachments/9200/diagram.png")
    assert files.owns("https://acmeoutdoor.zendesk.com/hc/article_attachments/9201/map.png")
    assert files.owns("https://acme.zendesk.com/attachments/token/x/?name=fire.png")
    for elsewhere in ("https://old.acme.com/hc/x.png", "https://help.acme.com.evil.example/x.png", "https://cdn.example.com/x.png"):
        assert not files.owns(elsewhere), elsewhere
    connector.source_files()
    assert sum(1 for r in fake.requests if r.path == "/api/v2/brands.json") == 1, "brands are read once"


def test_unreadable_brands_leave_the_accounts_own_host_only(fake: FakeZendesk) -> None:
    del fake.account["brands"]  # type: ignore[union-attr]  (the fake answers 404, as for an agent without access)
    files = make_connector(fake.base_url).source_files()
    assert files.owns("https://acme.zendesk.com/attachments/token/x/?name=fire.png")
    assert not files.owns("https://help.acme.com/hc/article_attachments/9200/diagram.png")
