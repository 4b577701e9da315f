"""The Freshdesk connector against the fake Freshdesk: windows, page cap, checkpoints, resume, deltas, faults."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from deskmigrate.connectors.freshdesk import FreshdeskConnector, FreshdeskSourceConfig
from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Agent, Article, Collection, Company, Contact, Conversation, SourceNotice
from deskmigrate.registry import connector_class
from tests.connectors.freshdesk.conftest import fast_config, make_connector
from tests.connectors.reading import DictCursorStore, ids, records, run_with_ledger
from tests.fakes.freshdesk import FAKE_API_KEY, FakeFreshdesk

LISTED_TICKETS = ["1000", "1001", "1002", "1003", "1005", "1006", "1007", "1008", "1009", "1010", "1011", "1012"]


def ticket_list_queries(fake: FakeFreshdesk) -> list[dict[str, str]]:
    return [r.query for r in fake.requests if r.path == "/api/v2/tickets"]


def test_registry_and_entities(fake: FakeFreshdesk) -> None:
    assert connector_class("freshdesk") is FreshdeskConnector
    connector = make_connector(fake.base_url)
    assert connector.config_model is FreshdeskSourceConfig
    assert connector.entities() == ["companies", "contacts", "agents", "conversations", "collections", "articles"]
    assert "articles" not in make_connector(fake.base_url, include_solutions=False).entities()


def test_config_rejects_a_bad_base_url_and_never_shows_the_key() -> None:
    with pytest.raises(ValidationError) as caught:
        FreshdeskSourceConfig(domain="acme", api_key=FAKE_API_KEY, base_url="ftp://x")
    assert FAKE_API_KEY not in str(caught.value)
    assert FAKE_API_KEY not in repr(FreshdeskSourceConfig(domain="acme", api_key=FAKE_API_KEY))


def test_every_ticket_is_read_not_only_the_last_30_days(fake: FakeFreshdesk) -> None:
    """Without updated_since Freshdesk lists only tickets created in the last 30 days: the connector always sends one."""
    items = list(make_connector(fake.base_url).read("conversations"))
    assert sorted(ids(items)) == LISTED_TICKETS  # March 2024 tickets included; spam and deleted ones are not listed
    queries = ticket_list_queries(fake)
    assert all(q["updated_since"] and q["order_by"] == "updated_at" and q["order_type"] == "asc" for q in queries)
    assert queries[0]["updated_since"] == "1970-01-01T00:00:00Z"
    assert all(q["include"] == "description,stats" for q in queries)


def test_an_account_larger_than_the_page_cap_is_read_completely_without_deep_pages() -> None:
    """12 tickets, 2 a page, and the fake refuses page 3: a plain link-header walk would stop at 4 tickets."""
    with FakeFreshdesk(page_cap=2) as fake:
        items = list(make_connector(fake.base_url).read("conversations"))
        queries = ticket_list_queries(fake)
    assert sorted(ids(items)) == LISTED_TICKETS and len(ids(items)) == len(set(ids(items)))  # each ticket once
    assert max(int(q["page"]) for q in queries) == 2  # only the three tickets sharing one second needed a page 2
    starts = [q["updated_since"] for q in queries]
    assert starts == sorted(starts) and len(set(starts)) >= 6  # windows move forward from the last updated_at seen


def test_the_page_cap_error_inside_one_second_is_a_clear_error_not_a_silent_gap() -> None:
    with FakeFreshdesk(page_cap=1) as fake, pytest.raises(SourceError, match="share one updated_at") as caught:
        list(make_connector(fake.base_url).read("conversations"))
    assert "beyond the 1th page" in str(caught.value) and FAKE_API_KEY not in str(caught.value)


def test_conversation_parts_description_first_then_conversations(fake: FakeFreshdesk) -> None:
    conversations = {c.source_id: c for c in records(list(make_connector(fake.base_url).read("conversations")))}
    printer = conversations["1000"]
    assert isinstance(printer, Conversation)
    assert (printer.status, printer.priority, printer.channel, printer.group) == ("Open", "Urgent", "Email", "Hardware")
    assert printer.requester_id == "10" and printer.assignee_id == "50" and printer.tags == ["hardware", "urgent"]
    assert [p.source_id for p in printer.parts] == ["description:1000", "9001", "9002", "9003", "9004"]
    assert [(p.author_kind, p.public) for p in printer.parts] == [("contact", True), ("agent", True), ("contact", True), ("agent", False), ("agent", False)]
    first = printer.parts[0]
    assert "<strong>on fire</strong>" in first.body_html and first.body_text == "My printer is on fire!"
    assert [(a.filename, a.inline) for a in first.attachments] == [("receipt.pdf", False), ("smoke.png", True)]
    assert printer.parts[2].attachments[0].filename == "photo.jpg"
    assert printer.custom_fields["Product line"] == "Widget Pro" and printer.custom_fields["VIP customer"] is True
    assert printer.custom_fields["first_responded_at"] == "2024-03-01T09:30:00Z"
    assert conversations["1002"].status == "Waiting on Customer"  # a custom status by its label
    outbound = conversations["1003"]
    assert outbound.channel == "Outbound Email" and outbound.parts[0].author_kind == "agent" and outbound.parts[0].author_id == "50"


def test_each_ticket_page_is_followed_by_its_checkpoint_and_a_crash_resumes_there(fake: FakeFreshdesk) -> None:
    store = DictCursorStore()
    first = run_with_ledger(make_connector(fake.base_url, store), "conversations", store, stop_after_checkpoints=3)
    saved = store.cursors[("freshdesk", "conversations")]
    assert saved.endswith("Z") and saved > "2024-03-02"
    fake.requests.clear()
    rest = run_with_ledger(make_connector(fake.base_url, store), "conversations", store)
    assert ticket_list_queries(fake)[0]["updated_since"] == saved
    assert set(ids(first)) | set(ids(rest)) == set(LISTED_TICKETS)
    assert "1000" not in ids(rest)  # finished pages are not read again

    fake.requests.clear()
    fake.touch("tickets", 1001, subject="Edited")
    delta = run_with_ledger(make_connector(fake.base_url, store), "conversations", store)
    assert "1001" in ids(delta) and "1000" not in ids(delta)
    assert next(r for r in records(delta) if r.source_id == "1001").subject == "Edited"


def test_companies_contacts_and_deleted_contacts(fake: FakeFreshdesk) -> None:
    connector = make_connector(fake.base_url)
    companies = {c.source_id: c for c in records(list(connector.read("companies")))}
    globex = companies["100"]
    assert isinstance(globex, Company) and globex.domains == ["globex.example", "globex.test"] and globex.industry == "Manufacturing"
    assert globex.custom_fields["Region"] == "Europe" and globex.custom_fields["Contract value"] == 12000
    assert globex.custom_fields["account_tier"] == "Enterprise" and globex.custom_fields["renewal_date"] == "2025-01-31T00:00:00Z"
    items = list(connector.read("contacts"))
    contacts = {c.source_id: c for c in records(items)}
    assert sorted(contacts) == ["10", "11", "12", "13"]
    dana = contacts["10"]
    assert isinstance(dana, Contact) and dana.company_ids == ["100", "101"] and dana.tags == ["vip"]
    assert dana.custom_fields["Plan tier"] == "Enterprise" and dana.custom_fields["Newsletter"] is True
    assert contacts["12"].custom_fields["other_emails"] == ["emile@zola.example"]
    assert contacts["13"].email is None and contacts["13"].phone == "+1 415 555 0100"
    notices = [n for n in items if isinstance(n, SourceNotice)]
    assert [(n.source_id, n.message) for n in notices] == [("14", "contact deleted in Freshdesk; skipped")]


def test_contacts_resume_by_page_and_deltas_start_when_the_listing_began(fake: FakeFreshdesk) -> None:
    store = DictCursorStore()
    run_with_ledger(make_connector(fake.base_url, store), "contacts", store, stop_after_checkpoints=1)
    fake.requests.clear()
    rest = run_with_ledger(make_connector(fake.base_url, store), "contacts", store)
    assert [r.query["page"] for r in fake.requests if r.path == "/api/v2/contacts" and "state" not in r.query] == ["2"]
    assert ids(rest) == ["11", "12"]  # alphabetical: Dana, Fay | Zoë, Émile
    fake.touch("contacts", 11, name="Zoë Renamed")
    delta = run_with_ledger(make_connector(fake.base_url, store), "contacts", store)
    assert ids(delta) == ["11"] and records(delta)[0].name == "Zoë Renamed"


def test_agents(fake: FakeFreshdesk) -> None:
    agents = records(list(make_connector(fake.base_url).read("agents")))
    assert [(a.source_id, a.email, a.name) for a in agents] == [("50", "ada@acme.example", "Ada Agent"), ("51", "bob@acme.example", "Bob Agent")]
    assert all(isinstance(a, Agent) for a in agents)


def test_solutions_in_every_language(fake: FakeFreshdesk) -> None:
    connector = make_connector(fake.base_url)
    collections = {c.source_id: c for c in records(list(connector.read("collections")))}
    assert {k: (c.parent_id, c.locale) for k, c in collections.items()} == {
        "category:1": (None, "en"), "folder:4": ("category:1", "en"), "folder:5": ("folder:4", "en"),
    }
    assert isinstance(collections["category:1"], Collection)
    assert [t.model_dump() for t in collections["category:1"].translations] == [  # type: ignore[union-attr]
        {"locale": "fr", "name": "Premiers pas", "description": "Les débuts"}]
    articles = {a.source_id: a for a in records(list(connector.read("articles")))}
    install = articles["400"]
    assert isinstance(install, Article) and install.collection_id == "folder:4" and install.state == "published" and install.author_id == "50"
    assert [(t.locale, t.title) for t in install.translations] == [("fr", "Comment installer Acme")]
    assert install.url == "https://acme.freshdesk.com/support/solutions/articles/400"
    assert install.attachments[0].inline is True
    assert articles["401"].state == "draft" and articles["401"].collection_id == "folder:5"
    only_english = make_connector(fake.base_url, solution_languages=[])
    assert records(list(only_english.read("articles")))[0].translations == []


def test_solutions_403_is_a_notice() -> None:
    with FakeFreshdesk(solutions_forbidden=True) as fake:
        connector = make_connector(fake.base_url)
        items = list(connector.read("collections")) + list(connector.read("articles"))
    assert [type(i) for i in items] == [SourceNotice, SourceNotice]
    assert "HTTP 403" in items[0].message


def test_429_is_waited_out_and_5xx_retried(fake: FakeFreshdesk) -> None:
    fake.fail_next("/api/v2/companies", 429, retry_after=0)
    fake.fail_next("/api/v2/contacts", 503)
    connector = make_connector(fake.base_url)
    assert len(records(list(connector.read("companies")))) == 3
    assert len(records(list(connector.read("contacts")))) == 4
    assert connector.transport.stats.rate_limited == 1 and connector.transport.stats.retries == 1
    assert [r.path for r in fake.requests].count("/api/v2/companies") == 3  # 429, then the two pages


def test_wrong_key_is_a_source_error_without_the_key(fake: FakeFreshdesk) -> None:
    connector = FreshdeskConnector(fast_config(fake.base_url, api_key="wrong-key-abcdefgh"), make_connector(fake.base_url).context)
    with pytest.raises(SourceError, match="401") as caught:
        list(connector.read("companies"))
    assert "wrong-key-abcdefgh" not in str(caught.value)


def test_since_overrides_the_saved_cursor(fake: FakeFreshdesk) -> None:
    store = DictCursorStore()
    store.cursors[("freshdesk", "companies")] = '{"since":"2030-01-01T00:00:00Z","page":0,"started":null}'
    items = list(make_connector(fake.base_url, store).read("companies", since=datetime(2024, 3, 2, tzinfo=UTC)))
    assert ids(items) == ["101", "102"]


def test_attachments_are_downloaded_while_fresh_and_never_get_the_api_key(fake: FakeFreshdesk, tmp_path: Path) -> None:
    connector = make_connector(fake.base_url, base_dir=tmp_path, options={"download_attachments": True})
    conversations = {c.source_id: c for c in records(list(connector.read("conversations")))}
    description = conversations["1000"].parts[0]
    assert [(a.filename, a.inline) for a in description.attachments] == [("receipt.pdf", False), ("smoke.png", True)]
    for attachment in description.attachments + conversations["1000"].parts[2].attachments:
        assert attachment.url.startswith("file://")
        local = Path(attachment.url.removeprefix("file://"))
        assert local.is_relative_to(tmp_path / ".deskmigrate/attachments/freshdesk") and local.stat().st_size > 0
        assert local.stat().st_mode & 0o077 == 0
    downloads = [r for r in fake.requests if r.path.startswith("/files/")]
    assert len(downloads) == 3 and not any(r.authorized for r in downloads)


def test_an_expired_attachment_link_is_reported_and_kept(fake: FakeFreshdesk, tmp_path: Path) -> None:
    fake.expire_attachments()
    items = list(make_connector(fake.base_url, base_dir=tmp_path, download_attachments=True).read("conversations"))
    notices = [n for n in items if isinstance(n, SourceNotice)]
    assert {n.source_id for n in notices} == {"1000"} and len(notices) == 3
    assert all("not downloaded" in n.message and "403" in n.message for n in notices)
    printer = next(r for r in records(items) if r.source_id == "1000")
    assert printer.parts[2].attachments[0].url.startswith("http://localhost")  # the link is kept, reported


def test_describe_plan_counts_calls_per_thousand_tickets(fake: FakeFreshdesk) -> None:
    plan = make_connector(fake.base_url, per_page=100).describe_plan()
    assert plan["estimated_calls_per_1000_tickets"]["conversations"] == 1000
    assert plan["estimated_calls_per_1000_tickets_total"] == 5 + 11 + 1000 + 1000
    assert make_connector(fake.base_url, per_page=100, description_attachments=False).describe_plan()["estimated_calls_per_1000_tickets_total"] == 1016
