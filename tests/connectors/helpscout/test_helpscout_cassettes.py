"""The Help Scout connector replaying vcrpy cassettes (record_mode="none"), recorded once against the fake Help Scout.

The fake answers in the shapes of developer.helpscout.com (HAL+JSON lists, OAuth2 token, X-RateLimit-* headers,
Docs API envelopes). Re-record (after changing the fake account or the connector's calls):
    DESKMIGRATE_RECORD_CASSETTES=1 .venv/bin/pytest tests/connectors/helpscout/test_helpscout_cassettes.py -q
Authorization headers, the app credentials in the token request and the issued access tokens are scrubbed;
`test_cassettes_hold_no_credentials` checks nothing else leaked.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deskmigrate.core.model import Agent, Article, Collection, Contact, Conversation, SourceNotice
from deskmigrate.core.source import SourceCheckpoint
from tests.connectors.cassettes import CASSETTES, RECORDING, REPLAY_BASE_URL, assert_cassettes_hold_no_secret, recorder
from tests.connectors.helpscout.conftest import make_connector
from tests.fakes.helpscout import FAKE_APP_ID, FAKE_APP_SECRET, FAKE_DOCS_KEY, TOKEN_PREFIX, FakeHelpScout

HELPSCOUT_CASSETTES = CASSETTES / "helpscout"
ISSUED_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"\d+")


def scrub_tokens(response: dict[str, Any]) -> dict[str, Any]:
    body = response["body"].get("string")
    if isinstance(body, bytes) and TOKEN_PREFIX.encode() in body:
        response["body"]["string"] = ISSUED_TOKEN.sub("REDACTED-ACCESS-TOKEN", body.decode()).encode()
    return response


@dataclass
class Replay:
    api_root: str
    docs_root: str
    fake: FakeHelpScout | None  # only while recording
    cassette: Any


@contextmanager
def helpscout_cassette(name: str, prepare: Callable[[FakeHelpScout], None] | None = None) -> Iterator[Replay]:
    helpscout_recorder = recorder(filter_post_data_parameters=["client_id", "client_secret"], before_record_response=scrub_tokens)
    path = str(HELPSCOUT_CASSETTES / f"{name}.yaml")
    if RECORDING:
        with FakeHelpScout() as fake:
            if prepare is not None:
                prepare(fake)
            with helpscout_recorder.use_cassette(path) as cassette:
                yield Replay(fake.api_root, fake.docs_root, fake, cassette)
    else:
        with helpscout_recorder.use_cassette(path, allow_playback_repeats=False) as cassette:
            yield Replay(f"{REPLAY_BASE_URL}/v2", f"{REPLAY_BASE_URL}/v1", None, cassette)
            assert cassette.all_played, f"{name}: the connector made fewer calls than were recorded"


def recorded(name: str) -> list[tuple[str, str, int]]:
    """(method, path, status) of every interaction in a cassette, in order."""
    interactions = yaml.safe_load((HELPSCOUT_CASSETTES / f"{name}.yaml").read_text(encoding="utf-8"))["interactions"]
    return [(i["request"]["method"], urlsplit(i["request"]["uri"]).path, i["response"]["status"]["code"]) for i in interactions]


def small_pages(size: int) -> Callable[[FakeHelpScout], None]:
    def prepare(fake: FakeHelpScout) -> None:
        fake.page_size = size

    return prepare


def test_token_fetch_then_expiry_renews_the_token_and_repeats_the_call() -> None:
    with helpscout_cassette("token_expiry") as replay:
        connector = make_connector(replay.api_root)
        first = [i for i in connector.read("agents") if isinstance(i, Agent)]
        if replay.fake is not None:
            replay.fake.expire_tokens()
        second = [i for i in connector.read("agents") if isinstance(i, Agent)]
    assert len(first) == len(second) == 2
    assert connector.mailbox.token_fetches == 2
    assert recorded("token_expiry") == [
        ("POST", "/v2/oauth2/token", 200), ("GET", "/v2/users", 200), ("GET", "/v2/users", 401), ("POST", "/v2/oauth2/token", 200), ("GET", "/v2/users", 200),
    ]


def test_multi_page_hal_list_of_customers() -> None:
    with helpscout_cassette("customers_multipage", small_pages(3)) as replay:
        items = list(make_connector(replay.api_root).read("contacts"))
    contacts = {i.source_id: i for i in items if isinstance(i, Contact)}
    assert sorted(contacts) == [str(i) for i in range(200, 207)]
    assert contacts["200"].custom_fields["Plan tier"] == "Enterprise"
    checkpoints = [i for i in items if isinstance(i, SourceCheckpoint)]
    assert len(checkpoints) == 3 and isinstance(items[-1], SourceCheckpoint)


def test_conversations_with_threads_of_every_type_and_a_chat_listed_in_full() -> None:
    with helpscout_cassette("conversations_threads", small_pages(3)) as replay:
        items = list(make_connector(replay.api_root).read("conversations"))
    conversations = {i.source_id: i for i in items if isinstance(i, Conversation)}
    assert len(conversations) == 7 and any(isinstance(i, SourceNotice) and i.source_id == "1007" for i in items)
    kinds = {(p.author_kind, p.public) for c in conversations.values() for p in c.parts}
    assert kinds == {("contact", True), ("agent", True), ("agent", False), ("system", False)}
    assert conversations["1002"].parts[0].body_html.endswith("where did it go?")
    assert conversations["1000"].custom_fields["Plan"] == "Pro"


def test_a_429_with_retry_after_is_waited_out() -> None:
    def rate_limited(fake: FakeHelpScout) -> None:
        fake.fail_next("/v2/customers", 429, retry_after=1)

    with helpscout_cassette("customers_429", rate_limited) as replay:
        items = list(make_connector(replay.api_root).read("contacts"))
    assert len([i for i in items if isinstance(i, Contact)]) == 7
    assert [status for _, path, status in recorded("customers_429") if path == "/v2/customers"][:2] == [429, 200]


def test_docs_sites_collections_categories_and_articles() -> None:
    with helpscout_cassette("docs", small_pages(2)) as replay:
        connector = make_connector(replay.api_root, replay.docs_root)
        collections = [i for i in connector.read("collections") if isinstance(i, Collection)]
        articles = {i.source_id: i for i in connector.read("articles") if isinstance(i, Article)}
    assert len(collections) == 5
    assert sorted(articles) == ["5f00000000000000000000b1", "5f00000000000000000000b2", "5f00000000000000000000b3"]
    assert articles["5f00000000000000000000b1"].body_html.startswith("<h2>Install</h2>")


@pytest.mark.skipif(RECORDING, reason="checks the cassettes once they are written")
def test_cassettes_hold_no_credentials() -> None:
    basic = base64.b64encode(f"{FAKE_DOCS_KEY}:X".encode()).decode()
    assert_cassettes_hold_no_secret(HELPSCOUT_CASSETTES, 5, [FAKE_APP_SECRET, FAKE_APP_ID, FAKE_DOCS_KEY, basic, TOKEN_PREFIX])
