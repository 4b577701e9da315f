"""The help center phases against the sandbox: help center choice, merge/skip, authors, draft-first, updates, rollback, link forms."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.freshdesk import FreshdeskConnector
from deskmigrate.connectors.zendesk import ZendeskConnector
from deskmigrate.core.config import HelpCenterConfig, LoadConfig
from deskmigrate.core.errors import ConfigError
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Agent, Article, Collection, CollectionTranslation, Record, Translation
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.help_center import LinkIndex, intercom_locale, path_key, redirect_rows
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.loaders.intercom.registry import PHASES
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.sandbox import SandboxServer
from deskmigrate.sandbox.db import Database
from deskmigrate.transforms import Mapper, load_mapping
from tests.conftest import TOKEN, Api

HELP_CENTER_PHASES = ("collections", "articles", "article_links")
# The URL forms of the sources these records come from, as their connectors hand them to the loader.
ZENDESK_URLS = ZendeskConnector.help_center_urls
SOURCE_URLS = HelpCenterUrls(ZENDESK_URLS.patterns + FreshdeskConnector.help_center_urls.patterns, ZENDESK_URLS.translated)


def zd_collection(source_id: str, name: str, parent: str | None = None, position: int = 1) -> Collection:
    return Collection(source="zendesk", source_id=source_id, name=name, parent_id=parent, position=position,
                      custom_fields={"html_url": f"https://acme.zendesk.com/hc/en-us/{source_id.replace(':', 's/', 1)}"})


def zd_article(source_id: str, title: str, section: str, body: str = "<p>Hello</p>", **extra: Any) -> Article:
    return Article(source="zendesk", source_id=source_id, title=title, body_html=body, collection_id=section, author_id="7",
                   **{"url": f"https://acme.zendesk.com/hc/en-us/articles/{source_id}", **extra})


RECORDS: list[Record] = [
    zd_collection("category:1", "Guides"),
    zd_collection("category:2", "Old stuff", position=2),
    zd_collection("section:10", "Setup", "category:1"),
    zd_collection("section:11", "Setup (legacy)", "category:1", position=2),
    zd_collection("section:20", "Archive", "category:2"),
    zd_article("100", "Install", "section:10", translations=[Translation(locale="de", title="Installieren", body_html="<p>Hallo</p>")]),
    zd_article("101", "Legacy install", "section:11", body='<p>See <a href="/hc/en-us/articles/100-install">Install</a></p>'),
    zd_article("102", "Archived", "section:20"),
    Agent(source="zendesk", source_id="7", email="agent@sandbox.example.com", name="Support Agent"),
]


@pytest.fixture
def client(start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> Iterator[IntercomClient]:
    server, _ = start_sandbox()
    with IntercomClient(server.base_url, TOKEN) as opened:
        yield opened


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


def mapping(tmp_path: Path, overrides: str = "") -> Mapper:
    files = []
    if overrides:
        (tmp_path / "override.yaml").write_text("version: 1\n" + overrides)
        files.append(tmp_path / "override.yaml")
    return Mapper(load_mapping("zendesk", None, files))


def migrate(client: IntercomClient, ledger: Ledger, mapper: Mapper, records: list[Record], **help_center: Any) -> tuple[str, IntercomLoader, dict[str, PhaseResult]]:
    run_id = ledger.start_run("test")
    ledger.stage(run_id, records)
    loader = IntercomLoader(client, ledger, run_id, LoadConfig(concurrency=2, help_center=HelpCenterConfig(**help_center)))
    loader.help_center_urls = SOURCE_URLS
    preflight(loader, [])
    results = {}
    for phase in (p for p in PHASES if p.name in HELP_CENTER_PHASES):
        staged = ledger.iter_staged(phase.entity) if phase.entity else []
        payloads = [p for p in (mapper.map(r) for r in staged) if isinstance(p, Payload)]
        results[phase.name] = phase.load(loader, payloads)
    return run_id, loader, results


def sandbox_objects(server_path: Path, kind: str) -> list[dict[str, Any]]:
    db = Database(server_path)
    try:
        with db.transaction():
            return db.all(kind)
    finally:
        db.close()


def test_merge_and_skip_from_the_mapping(client: IntercomClient, ledger: Ledger, tmp_path: Path, sandbox_path: Path) -> None:
    mapper = mapping(tmp_path, 'value_maps:\n  zendesk_collection_merge: {values: {"section:11": "section:10"}}\n'
                               '  zendesk_collection_skip: {values: {"category:2": true}}\n'
                               '  zendesk_collection_names: {values: {"Guides": "User guides"}}\n')
    _, loader, results = migrate(client, ledger, mapper, RECORDS)
    names = {c["name"]: c for c in sandbox_objects(sandbox_path, "collections")}
    assert set(names) == {"User guides", "Setup"}
    articles = {a["title"]: a for a in sandbox_objects(sandbox_path, "articles")}
    assert set(articles) == {"Install", "Legacy install"}  # "Archived" stays behind with its skipped category
    assert articles["Legacy install"]["parent_id"] == articles["Install"]["parent_id"] == names["Setup"]["id"]
    assert results["collections"].extra == {"merged": 1, "skipped": 2} and results["articles"].extra == {"skipped": 1}
    lines = loader.details["help_center"].as_dict()["collections"]
    assert any("merged into section:10" in line for line in lines) and any("section:20" in line and "skipped" in line for line in lines)


def test_authors_by_email_draft_first_and_enabled_locales(client: IntercomClient, ledger: Ledger, tmp_path: Path, sandbox_path: Path) -> None:
    _, loader, _ = migrate(client, ledger, mapping(tmp_path), RECORDS, state="draft", locales=["en", "fr"])
    articles = {a["title"]: a for a in sandbox_objects(sandbox_path, "articles")}
    assert {a["author_id"] for a in articles.values()} == {991267002}  # the Zendesk agent's email is an Intercom admin's
    assert {a["state"] for a in articles.values()} == {"draft"}
    assert articles["Install"]["translated_content"] == {}
    report = loader.details["help_center"].as_dict()
    assert report["articles"][0]["translations_not_imported"] == ["de: the Help Center does not have de enabled"]
    assert "author" not in report["articles"][0]


def test_chosen_help_center_and_an_unknown_one(client: IntercomClient, ledger: Ledger, tmp_path: Path, sandbox_path: Path) -> None:
    client.list_help_centers()  # the sandbox's first help center exists from now on
    db = Database(sandbox_path)
    with db.transaction():
        db.put("help_centers", {"id": "555", "workspace_id": "w", "identifier": "docs", "display_name": "Developer docs",
                                "website_turned_on": True, "created_at": 1, "updated_at": 1, "custom_domain": None})
    db.close()
    migrate(client, ledger, mapping(tmp_path), RECORDS[:3], help_center="Developer docs")
    assert {c["help_center_id"] for c in sandbox_objects(sandbox_path, "collections")} == {"555"}
    with pytest.raises(ConfigError, match="no help center 'support'"):
        migrate(client, ledger, mapping(tmp_path), RECORDS[:3], help_center="support")


def test_rerun_updates_only_the_changed_article_and_rollback_restores_it(client: IntercomClient, ledger: Ledger, tmp_path: Path,
                                                                           sandbox_path: Path) -> None:
    mapper = mapping(tmp_path)
    migrate(client, ledger, mapper, RECORDS)
    changed = [r.model_copy(update={"title": "Install Acme"}) if r.source_id == "100" and isinstance(r, Article) else r for r in RECORDS]
    run_id, _, results = migrate(client, ledger, mapper, changed)
    assert (results["collections"].unchanged, results["articles"].updated, results["articles"].unchanged) == (5, 1, 2)
    articles = {a["title"]: a for a in sandbox_objects(sandbox_path, "articles")}
    assert f'/en/articles/{articles["Install Acme"]["id"]}-install-acme"' in articles["Legacy install"]["body"]  # the new slug followed
    report = Rollback(client, ledger).run([run_id])
    assert report.restored == {"articles": 2}  # the renamed article and the link to it
    articles = {a["title"]: a for a in sandbox_objects(sandbox_path, "articles")}
    assert f'/en/articles/{articles["Install"]["id"]}-install"' in articles["Legacy install"]["body"]


def test_links_are_rewritten_once_their_target_exists(client: IntercomClient, ledger: Ledger, tmp_path: Path, sandbox_path: Path) -> None:
    # the linking article comes first, so its link can only be rewritten by the second pass
    records = [RECORDS[0], RECORDS[2], zd_article("200", "Linker", "section:10", body='<p><a href="https://acme.zendesk.com/hc/en-us/articles/201-target#step-2">go</a></p>'),
               zd_article("201", "Target", "section:10")]
    migrate(client, ledger, mapping(tmp_path), records)
    articles = {a["title"]: a for a in sandbox_objects(sandbox_path, "articles")}
    target_id = articles["Target"]["id"]
    assert f'/en/articles/{target_id}-target#step-2"' in articles["Linker"]["body"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en-us", "en"), ("pt-br", "pt-BR"), ("zh_TW", "zh-TW"), ("fr-CA", "fr"), ("zh-hk", None), ("nb", "nb"), (None, None)],
)
def test_source_locales_become_intercom_locales(locale: str | None, expected: str | None) -> None:
    assert intercom_locale(locale) == expected


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("https://acme.zendesk.com/hc/en-us/articles/400-How-to-install", ("articles", "400", "en-us")),
        ("https://help.acme.com/hc/articles/400", ("articles", "400", None)),
        ("https://acme.zendesk.com/api/v2/help_center/en-us/articles/400.json", ("articles", "400", None)),
        ("https://acme.zendesk.com/hc/fr/sections/300-Installation", ("collections", "section:300", "fr")),
        ("https://acme.freshdesk.com/support/solutions/articles/5000123-reset-password", ("articles", "5000123", None)),
        ("https://acme.freshdesk.com/a/solutions/articles/5000123", ("articles", "5000123", None)),
        ("https://docs.acme.com/article/12-new-slug", ("articles", "5f1c0ffee", None)),
        ("https://docs.acme.com/article/13-unknown", None),
    ],
)
def test_article_links_in_every_source_form(link: str, target: tuple[str, str, str | None] | None) -> None:
    index = LinkIndex(hosts=set(), by_path={path_key("https://docs.acme.com/article/12-old-slug"): ("articles", "5f1c0ffee")},
                      new_urls={}, staged=set(), urls=SOURCE_URLS)
    assert index.target_of(link) == target


def test_an_article_written_in_another_language_keeps_the_default_language_as_main_content(
        client: IntercomClient, ledger: Ledger, tmp_path: Path, sandbox_path: Path) -> None:
    german = {"locale": "de", "url": "https://acme.zendesk.com/hc/de/articles/{}"}
    records: list[Record] = [
        RECORDS[0], RECORDS[2], RECORDS[-1],
        zd_article("600", "Einrichten", "section:10", body="<p>Hallo</p>", locale=german["locale"], url=german["url"].format(600),
                   translations=[Translation(locale="en-us", title="Setting up", body_html="<p>Hello</p>", state="draft")]),
        zd_article("601", "Nur Deutsch", "section:10", body="<p>Nur hier</p>", locale=german["locale"], url=german["url"].format(601)),
        zd_article("602", "Solo español", "section:10", body="<p>Hola</p>", locale="es", url="https://acme.zendesk.com/hc/es/articles/602"),
    ]
    _, loader, results = migrate(client, ledger, mapping(tmp_path), records, locales=["en", "de"])
    assert results["articles"].created == 3
    articles = {a["id"]: a for a in sandbox_objects(sandbox_path, "articles")}
    translated = articles[ledger.intercom_id("articles", "600")]
    # the English version is the main (default-language) content; the German original is the de translation
    assert (translated["title"], translated["body"], translated["state"]) == ("Setting up", "<p>Hello</p>", "draft")
    assert {k: translated["translated_content"]["de"][k] for k in ("title", "body", "state")} == {
        "title": "Einrichten", "body": "<p>Hallo</p>", "state": "published"}
    # no English version: published in German; the English slot holds an unpublished copy to translate
    german_only = articles[ledger.intercom_id("articles", "601")]
    assert (german_only["title"], german_only["state"]) == ("Nur Deutsch", "draft")
    assert german_only["translated_content"]["de"]["state"] == "published"
    spanish = articles[ledger.intercom_id("articles", "602")]
    assert spanish["state"] == "draft" and spanish["translated_content"] == {}
    notes = {a["source_id"]: a for a in loader.details["help_center"].as_dict()["articles"]}
    assert "600" not in notes
    assert notes["601"]["language"].startswith("written in de with no en version")
    assert notes["602"]["translations_not_imported"] == ["es: the Help Center does not have es enabled"]
    rows = {(r["old_url"], r["locale"]): r["new_url"] for r in redirect_rows(ledger, ZENDESK_URLS)}
    assert rows[("https://acme.zendesk.com/hc/de/articles/600", "de")].endswith(f"/de/articles/{translated['id']}-einrichten")
    assert rows[("https://acme.zendesk.com/hc/en-us/articles/600", "en")].endswith(f"/en/articles/{translated['id']}-setting-up")


def test_a_collection_named_in_another_language_takes_its_default_language_name(
        client: IntercomClient, ledger: Ledger, tmp_path: Path, sandbox_path: Path) -> None:
    records: list[Record] = [
        Collection(source="freshdesk", source_id="category:1", name="Anleitungen", description="Alles", locale="de",
                   translations=[CollectionTranslation(locale="en", name="Guides", description="Everything"),
                                 CollectionTranslation(locale="pt-br", name="Guias")]),
        Collection(source="freshdesk", source_id="category:2", name="Nur Deutsch", locale="de"),
    ]
    _, loader, _ = migrate(client, ledger, Mapper(load_mapping("freshdesk", None, [])), records, locales=["en", "de", "pt-BR"])
    collections = {c["id"]: c for c in sandbox_objects(sandbox_path, "collections")}
    guides = collections[ledger.intercom_id("collections", "category:1")]
    assert (guides["name"], guides["description"]) == ("Guides", "Everything")
    assert guides["translated_content"] == {"de": {"type": "group_content", "name": "Anleitungen", "description": "Alles"},
                                            "pt-BR": {"type": "group_content", "name": "Guias"}}
    assert collections[ledger.intercom_id("collections", "category:2")]["name"] == "Nur Deutsch"
    lines = loader.details["help_center"].as_dict()["collections"]
    assert lines == ["category:2 'Nur Deutsch' is named in de with no en name: its de name is used"]
