"""The Zendesk connector replaying vcrpy cassettes (record_mode="none"), recorded once against the fake Zendesk.

Re-record (after changing the fake account or the connector's calls):
    DESKMIGRATE_RECORD_CASSETTES=1 .venv/bin/pytest tests/connectors/zendesk/test_zendesk_cassettes.py -q
Authorization headers are filtered out; `test_cassettes_hold_no_credentials` checks nothing else leaked.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from deskmigrate.core.model import Article, Collection, Contact, Conversation, SourceNotice
from deskmigrate.core.source import SourceCheckpoint
from tests.connectors.cassettes import CASSETTES, RECORDING, assert_cassettes_hold_no_secret, cassette_base_url
from tests.connectors.zendesk.conftest import make_connector
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_OAUTH_TOKEN, FAKE_TOKEN, FakeZendesk

ZENDESK_CASSETTES = CASSETTES / "zendesk"


def zendesk_cassette(name: str, prepare: Callable[[FakeZendesk], None] | None = None) -> AbstractContextManager[str]:
    return cassette_base_url(ZENDESK_CASSETTES / f"{name}.yaml", FakeZendesk, prepare)


def test_multi_page_cursor_export_until_end_of_stream_with_deleted_user() -> None:
    with zendesk_cassette("contacts_multipage") as base_url:
        items = list(make_connector(base_url).read("contacts"))
    contacts = {i.source_id: i for i in items if isinstance(i, Contact)}
    assert sorted(contacts) == ["10", "11", "12", "13", "14", "15", "16"]
    assert contacts["10"].custom_fields["Plan tier"] == "Enterprise"  # dropdown tag → label
    assert contacts["11"].name == "Zoë Ångström"
    assert contacts["10"].company_ids == ["100", "101"]
    assert [n.source_id for n in items if isinstance(n, SourceNotice)] == ["17"]
    checkpoints = [i for i in items if isinstance(i, SourceCheckpoint)]
    assert len(checkpoints) == 4 and len({c.cursor for c in checkpoints}) == 4
    assert isinstance(items[-1], SourceCheckpoint)


def test_time_based_export_survives_a_429_with_retry_after() -> None:
    with zendesk_cassette("companies_429", lambda fake: fake.fail_next("incremental/organizations", 429, retry_after=1)) as base_url:
        items = list(make_connector(base_url, page_size=2).read("companies"))
    assert [i.source_id for i in items if not isinstance(i, (SourceNotice, SourceCheckpoint))] == ["100", "101", "102"]
    companies = {i.source_id: i for i in items if not isinstance(i, (SourceNotice, SourceCheckpoint))}
    assert companies["100"].custom_fields["Region"] == "Europe"
    assert [i.cursor for i in items if isinstance(i, SourceCheckpoint)] == ["1709283600", "1709287200", "1709290800"]


def test_ticket_events_strategy_survives_a_5xx() -> None:
    with zendesk_cassette("conversations_events_503", lambda fake: fake.fail_next("incremental/ticket_events", 503)) as base_url:
        items = list(make_connector(base_url, comments_strategy="events").read("conversations"))
    conversations = {i.source_id: i for i in items if isinstance(i, Conversation)}
    assert sorted(conversations) == ["1000", "1001", "1002", "1004", "1005"]
    assert any(isinstance(i, SourceNotice) and i.source_id == "1003" for i in items)  # deleted ticket
    printer = conversations["1000"]
    assert printer.custom_fields["Product"] == "Widget Pro"
    assert printer.parts[0].body_html == "<p>My printer is <strong>on fire</strong>!</p>"
    assert printer.parts[2].public is False
    assert conversations["1005"].subject == "HTML & <b>bold</b> subject"
    assert conversations["1005"].parts[0].body_html == "<p>Use &lt;b&gt; tags &amp; more</p><ul><li>one</li></ul>"


def test_per_ticket_comments_strategy() -> None:
    with zendesk_cassette("conversations_per_ticket") as base_url:
        items = list(make_connector(base_url, comments_strategy="per_ticket").read("conversations"))
    conversations = {i.source_id: i for i in items if isinstance(i, Conversation)}
    assert [p.author_kind for p in conversations["1002"].parts] == ["contact", "agent"]
    assert conversations["1002"].parts[0].body_text == "Le menu du café ne charge pas."
    assert conversations["1001"].parts[0].body_text.endswith("tack 🙏")


def test_help_center_collections_and_articles() -> None:
    with zendesk_cassette("help_center") as base_url:
        connector = make_connector(base_url)
        collections = [i for i in connector.read("collections") if isinstance(i, Collection)]
        articles = {i.source_id: i for i in connector.read("articles") if isinstance(i, Article)}
    assert {c.source_id: c.parent_id for c in collections}["section:301"] == "section:300"
    assert articles["400"].translations[0].title == "Comment installer Acme"
    assert articles["402"].attachments[0].inline is True


def test_help_center_403_is_a_notice() -> None:
    def forbid(fake: FakeZendesk) -> None:
        fake.help_center_forbidden = True

    with zendesk_cassette("help_center_403", forbid) as base_url:
        connector = make_connector(base_url)
        collections = list(connector.read("collections"))
        articles = list(connector.read("articles"))
    assert [type(i) for i in collections + articles] == [SourceNotice, SourceNotice]
    assert "Help Center not available (HTTP 403)" in collections[0].message


@pytest.mark.skipif(RECORDING, reason="checks the cassettes once they are written")
def test_cassettes_hold_no_credentials() -> None:
    basic = base64.b64encode(f"{FAKE_EMAIL}/token:{FAKE_TOKEN}".encode()).decode()
    assert_cassettes_hold_no_secret(ZENDESK_CASSETTES, 6, [FAKE_TOKEN, FAKE_OAUTH_TOKEN, f"{FAKE_EMAIL}/token", basic])
