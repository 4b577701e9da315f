"""Help Center creates whose answer was lost: found again before any re-send, so nothing is duplicated and nothing is lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.core.config import HelpCenterConfig, LoadConfig
from deskmigrate.core.errors import AmbiguousWriteError
from deskmigrate.core.http import RetryPolicy
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Record
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.loaders.intercom.registry import PHASES
from deskmigrate.sandbox import SandboxServer
from deskmigrate.sandbox.db import Database
from deskmigrate.transforms import Mapper, load_mapping
from tests.conftest import TOKEN, Api
from tests.loaders.test_help_center import RECORDS, zd_article

HELP_CENTER_PHASES = ("collections", "articles", "article_links")
FAST_RETRIES = RetryPolicy(max_attempts=10, base_delay_s=0.0, max_delay_s=0.0)


class Crash(Exception):
    """The process dies between Intercom's commit and our ledger write (not a LoadError: it stops the run)."""


class LosingClient(IntercomClient):
    """Loses the answer to chosen creates once: after Intercom committed them, before, or by crashing after the commit."""

    def __init__(self, *args: Any, after: set[str] = frozenset(), before: set[str] = frozenset(), crash: set[str] = frozenset(),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = {**{name: "after" for name in after}, **{name: "before" for name in before}, **{name: "crash" for name in crash}}
        self.posts: Counter[str] = Counter()

    def _lose(self, name: str, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        how = self.plan.pop(name, None)
        if how == "before":
            raise AmbiguousWriteError(f"POST {name} may have been received: connection reset")
        self.posts[name] += 1
        answer = send()
        if how == "after":
            raise AmbiguousWriteError(f"POST {name} may have been received: read timed out")
        if how == "crash":
            raise Crash(name)
        return answer

    def create_collection(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._lose(body["name"], lambda: super(LosingClient, self).create_collection(body))

    def create_article(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._lose(body["title"], lambda: super(LosingClient, self).create_article(body))


def migrate(client: IntercomClient, ledger: Ledger, records: list[Record], concurrency: int = 2) -> dict[str, PhaseResult]:
    run_id = ledger.start_run("test")
    ledger.stage(run_id, records)
    mapper = Mapper(load_mapping("zendesk", None, []))
    loader = IntercomLoader(client, ledger, run_id, LoadConfig(concurrency=concurrency, help_center=HelpCenterConfig()))
    preflight(loader, [])
    results = {}
    for phase in (p for p in PHASES if p.name in HELP_CENTER_PHASES):
        staged = ledger.iter_staged(phase.entity) if phase.entity else []
        payloads = [p for p in (mapper.map(r) for r in staged) if isinstance(p, Payload)]
        results[phase.name] = phase.load(loader, payloads)
    return results


def stored(sandbox_path: Path, kind: str) -> list[dict[str, Any]]:
    db = Database(sandbox_path)
    try:
        with db.transaction():
            return db.all(kind)
    finally:
        db.close()


def request_log(sandbox_path: Path) -> list[dict[str, Any]]:
    db = Database(sandbox_path)
    try:
        with db.transaction():
            return db.request_log()
    finally:
        db.close()


def assert_each_record_once(ledger: Ledger, sandbox_path: Path, collections: int, articles: int) -> None:
    in_intercom = {"collections": stored(sandbox_path, "collections"), "articles": stored(sandbox_path, "articles")}
    names = Counter(c["name"] for c in in_intercom["collections"])
    titles = Counter(a["title"] for a in in_intercom["articles"])
    assert (len(in_intercom["collections"]), len(in_intercom["articles"])) == (collections, articles)
    assert set(names.values()) == {1} and set(titles.values()) == {1}, (names, titles)
    for entity, objects in in_intercom.items():
        mapped = {row.intercom_id for row in ledger.iter_id_rows(entity) if row.state == "done"}
        assert mapped == {str(o["id"]) for o in objects}
    assert ledger.failures() == []


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    opened = Ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


def test_lost_answers_after_and_before_the_commit_are_reconciled_without_a_duplicate(
        start_sandbox: Callable[..., tuple[SandboxServer, Api]], ledger: Ledger, sandbox_path: Path) -> None:
    server, _ = start_sandbox()
    with LosingClient(server.base_url, TOKEN, after={"Guides", "Setup", "Install"}, before={"Archive", "Archived"}) as client:
        results = migrate(client, ledger, RECORDS)
        assert client.plan == {}  # every planned loss happened
        # committed once and adopted from the list; lost before Intercom saw it: listed, not found, sent again
        assert client.posts["Guides"] == client.posts["Setup"] == client.posts["Install"] == 1
        assert client.posts["Archive"] == client.posts["Archived"] == 1
    assert (results["collections"].created, results["articles"].created, results["articles"].failed) == (5, 3, 0)
    assert_each_record_once(ledger, sandbox_path, collections=5, articles=3)
    setup = next(c for c in stored(sandbox_path, "collections") if c["name"] == "Setup")
    guides = next(c for c in stored(sandbox_path, "collections") if c["name"] == "Guides")
    assert setup["parent_id"] == guides["id"]


def test_a_crash_after_the_commit_is_adopted_by_the_next_run(start_sandbox: Callable[..., tuple[SandboxServer, Api]], ledger: Ledger,
                                                             sandbox_path: Path) -> None:
    server, _ = start_sandbox()
    with LosingClient(server.base_url, TOKEN, crash={"Legacy install"}) as client, pytest.raises(Crash):
        migrate(client, ledger, RECORDS, concurrency=1)
    assert [a["title"] for a in stored(sandbox_path, "articles")].count("Legacy install") == 1
    assert ledger.id_row("articles", "101").state == "pending"  # type: ignore[union-attr]
    with LosingClient(server.base_url, TOKEN) as client:
        results = migrate(client, ledger, RECORDS)
        assert client.posts["Legacy install"] == 0  # found in Intercom, not sent again
    assert results["articles"].failed == 0 and results["articles"].created >= 1  # the adopted one counts as created by us
    assert_each_record_once(ledger, sandbox_path, collections=5, articles=3)


def test_same_titles_in_one_collection_are_not_confused(start_sandbox: Callable[..., tuple[SandboxServer, Api]], ledger: Ledger,
                                                        sandbox_path: Path) -> None:
    server, _ = start_sandbox()
    twins = [*RECORDS[:3], zd_article("300", "FAQ", "section:10", body="<p>one</p>"), zd_article("301", "FAQ", "section:10", body="<p>two</p>")]
    with LosingClient(server.base_url, TOKEN) as client:
        migrate(client, ledger, twins[:4], concurrency=1)
    with LosingClient(server.base_url, TOKEN, after={"FAQ"}) as client:
        migrate(client, ledger, twins, concurrency=1)
    faqs = [a for a in stored(sandbox_path, "articles") if a["title"] == "FAQ"]
    assert sorted(a["body"] for a in faqs) == ["<p>one</p>", "<p>two</p>"]
    assert {ledger.intercom_id("articles", "300"), ledger.intercom_id("articles", "301")} == {a["id"] for a in faqs}


def test_dropped_connections_from_the_sandbox_leave_one_copy_of_everything(
        start_sandbox: Callable[..., tuple[SandboxServer, Api]], ledger: Ledger, sandbox_path: Path) -> None:
    records = [*RECORDS, *(zd_article(str(500 + i), f"Article {i}", "section:10") for i in range(12))]
    server, _ = start_sandbox(drop_rate=0.3, seed=11)
    with IntercomClient(server.base_url, TOKEN, policy=FAST_RETRIES) as client:
        for _ in range(4):  # a record whose creates all lost their answer fails and is retried by the next run
            migrate(client, ledger, records, concurrency=1)
            if not ledger.failures():
                break
    lost_after_commit = [e for e in request_log(sandbox_path)
                         if e["route"] in ("POST /articles", "POST /help_center/collections") and e["dropped"] == "after"]
    assert lost_after_commit, "the seed should drop some creates after they were committed"
    assert_each_record_once(ledger, sandbox_path, collections=5, articles=15)
