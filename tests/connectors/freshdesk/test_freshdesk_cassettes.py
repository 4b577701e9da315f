"""The Freshdesk connector replaying vcrpy cassettes (record_mode="none"), recorded once against the fake Freshdesk.

Re-record (after changing the fake account or the connector's calls):
    DESKMIGRATE_RECORD_CASSETTES=1 .venv/bin/pytest tests/connectors/freshdesk/test_freshdesk_cassettes.py -q
Authorization headers are filtered out; `test_cassettes_hold_no_credentials` checks nothing else leaked.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Article, Collection, Company, Conversation
from deskmigrate.core.source import SourceCheckpoint
from tests.connectors.cassettes import CASSETTES, RECORDING, assert_cassettes_hold_no_secret, cassette_base_url
from tests.connectors.freshdesk.conftest import make_connector
from tests.fakes.freshdesk import FAKE_API_KEY, FakeFreshdesk

FRESHDESK_CASSETTES = CASSETTES / "freshdesk"


def freshdesk_cassette(name: str, prepare: Callable[[FakeFreshdesk], None] | None = None, page_cap: int = 300) -> AbstractContextManager[str]:
    return cassette_base_url(FRESHDESK_CASSETTES / f"{name}.yaml", lambda: FakeFreshdesk(page_cap=page_cap), prepare)


def test_tickets_in_updated_since_windows_with_link_headers_and_every_custom_field_type() -> None:
    with freshdesk_cassette("tickets_windows") as base_url:
        connector = make_connector(base_url)
        default_list = connector.transport.get_json("tickets")  # what Freshdesk answers without updated_since
        items = list(connector.read("conversations"))
    assert [t["id"] for t in default_list] == [1012]  # only the last 30 days
    conversations = {i.source_id: i for i in items if isinstance(i, Conversation)}
    assert len(conversations) == 12 and "1000" in conversations
    printer = conversations["1000"]
    assert printer.custom_fields["Country"] == "France" and printer.custom_fields["Units"] == 3
    assert printer.parts[0].attachments[1].inline is True  # the inline image of the description's HTML
    assert conversations["1005"].parts[0].body_html == "<p>Use &lt;b&gt; tags &amp; more</p><ul><li>one</li></ul>"
    assert isinstance(items[-1], SourceCheckpoint)


def test_the_page_cap_400_is_a_located_error() -> None:
    with freshdesk_cassette("tickets_page_cap", page_cap=1) as base_url, pytest.raises(SourceError, match="refuses page 2"):
        list(make_connector(base_url).read("conversations"))


def test_companies_survive_a_429_with_retry_after() -> None:
    with freshdesk_cassette("companies_429", lambda fake: fake.fail_next("/api/v2/companies", 429, retry_after=1)) as base_url:
        connector = make_connector(base_url)
        items = list(connector.read("companies"))
    assert [i.source_id for i in items if isinstance(i, Company)] == ["100", "101", "102"]
    assert connector.transport.stats.rate_limited == 1


def test_solutions_with_translations() -> None:
    with freshdesk_cassette("solutions") as base_url:
        connector = make_connector(base_url)
        collections = [i for i in connector.read("collections") if isinstance(i, Collection)]
        articles = [i for i in connector.read("articles") if isinstance(i, Article)]
    assert [c.source_id for c in collections] == ["category:1", "folder:4", "folder:5"]
    assert articles[0].translations[0].title == "Comment installer Acme"


@pytest.mark.skipif(RECORDING, reason="checks the cassettes once they are written")
def test_cassettes_hold_no_credentials() -> None:
    basic = base64.b64encode(f"{FAKE_API_KEY}:X".encode()).decode()
    assert_cassettes_hold_no_secret(FRESHDESK_CASSETTES, 4, [FAKE_API_KEY, basic])
