"""End to end: a fake Zendesk Help Center → `deskmigrate run` → the sandbox: nesting, HTML, images, translations, links, redirects."""

from __future__ import annotations

import csv
import functools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.sandbox.db import Database
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_SUBDOMAIN, FAKE_TOKEN, FakeZendesk, RecordedRequest, default_account

INTERCOM_TOKEN = "e2e-help-center-intercom-token-9d2e"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HELP_CENTER_ROUTES = ("/help_center/collections", "/articles")

# Real-shaped Zendesk article bodies: entities, curly quotes, a table, a relative image, links in both URL forms.
INSTALL_BODY = (
    '<h2>Install</h2><p>Tom &amp; Jerry’s “quick” install:</p><div class="callout"><p>Run <code>acme install</code>.</p></div>'
    '<table><tr><th>OS</th><th>Command</th></tr><tr><td>macOS</td><td>brew install acme</td></tr></table>'
    '<p><img src="/hc/article_attachments/9200/diagram.png" alt="Diagram"></p>'
    '<p>See <a href="https://acme.zendesk.com/hc/en-us/articles/402-Reading-your-invoice">your invoice</a>, '
    '<a href="/hc/en-us/articles/401">the macOS notes</a> and <a href="/hc/en-us/articles/999-Retired">an old page</a>.</p>'
    # the other forms links take in Zendesk articles: no locale, an older slug with a query and an anchor, the API URL, a section
    '<p><a href="https://acme.zendesk.com/hc/articles/402">no locale</a> <a href="/hc/en-us/articles/402-Old-title?utm_source=kb&amp;utm_medium=link#totals">'
    'totals</a> <a href="https://acme.zendesk.com/api/v2/help_center/en-us/articles/402.json">API</a> '
    '<a href="/hc/en-us/sections/302-Invoices">all about invoices</a> '
    '<a href="https://support.zendesk.com/hc/en-us/articles/4408834530458">Zendesk’s own docs</a></p>'
    '<p><img src="/hc/theming_assets/01HZ/logo.png" alt="Logo"></p>'
    '<script>track()</script><iframe src="https://www.youtube.com/embed/abc"></iframe><font color="red">Careful</font>'
)


class FakeZendeskWithFiles(FakeZendesk):
    """The fake Zendesk, also serving Help Center attachment files behind its login (as restricted articles' files are)."""

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if not handler.path.startswith(("/hc/article_attachments/", "/hc/theming_assets/")):
            return super()._handle(handler)
        authorized = self._authorized(handler.headers.get("Authorization"))
        self.requests.append(RecordedRequest("GET", handler.path, {}, authorized))
        public = handler.path.startswith("/hc/theming_assets/")  # a theme's files are public
        status, body, kind = (200, PNG, "image/png") if authorized or public else (401, b"<html>Sign in</html>", "text/html")
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def help_center_account() -> dict[str, Any]:
    account = default_account()
    # Zendesk's html_url carries a slug of the title (https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/)
    for kind, key in (("articles", "title"), ("sections", "name"), ("categories", "name")):
        for item in account[kind]:
            item["html_url"] += "-" + re.sub(r"[^A-Za-z0-9]+", "-", item[key]).strip("-")
    account["sections"].append(
        {**account["sections"][1], "id": 303, "parent_section_id": 301, "name": "Sonoma quirks", "position": 1,
         "html_url": "https://acme.zendesk.com/hc/en-us/sections/303-Sonoma-quirks"}
    )
    install = account["articles"][0]
    install["body"] = INSTALL_BODY
    account["article_translations"][400].append(
        {**account["article_translations"][400][1], "id": 1402, "locale": "zh-hk", "title": "安裝 Acme", "body": "<p>安裝</p>"}
    )
    account["article_translations"][400][1]["body"] = '<h2>Installer</h2><p>Voir <a href="/hc/fr/articles/402">la facture</a>.</p>'
    # GET /help_center/{categories|sections}/{id}/translations: the own locale too, and drafts (not imported)
    account["category_translations"] = {200: [
        group_translation(200, "Category", "en-us", "Getting started", "First steps with Acme"),
        group_translation(200, "Category", "fr", "Premiers pas", "Les débuts avec Acme"),
        group_translation(200, "Category", "de", "Erste Schritte", "", draft=True),
        group_translation(200, "Category", "ja", "はじめに", ""),
    ]}
    account["section_translations"] = {300: [group_translation(300, "Section", "de", "Installation (de)", "")]}
    return account


def group_translation(source_id: int, kind: str, locale: str, title: str, body: str, draft: bool = False) -> dict[str, Any]:
    return {"id": source_id * 10 + len(locale), "source_id": source_id, "source_type": kind, "locale": locale, "title": title, "body": body,
            "draft": draft, "outdated": False, "html_url": f"https://acme.zendesk.com/hc/{locale}/{kind.lower()}s/{source_id}"}


@dataclass
class HelpCenterProject:
    root: Path
    config: Path
    fake: FakeZendeskWithFiles
    assets: Path
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def state(self) -> Path:
        return self.root / "state"

    def cli(self, *args: str) -> Any:
        env = {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, "E2E_INTERCOM_TOKEN": INTERCOM_TOKEN}
        return self.runner.invoke(app, [*args, "-c", str(self.config)], env=env, catch_exceptions=False)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        db = Database(self.root / "sandbox.db")
        try:
            with db.transaction():
                return db.all(kind)
        finally:
            db.close()

    def help_center_writes(self) -> int:
        db = Database(self.root / "sandbox.db")
        try:
            with db.transaction():
                log = db.request_log()
        finally:
            db.close()
        return sum(1 for e in log if e["write"] and (e["route"] or "").split(" ")[-1].startswith(HELP_CENTER_ROUTES))

    def last_report(self) -> dict[str, Any]:
        return json.loads(sorted((self.state / "reports").glob("*.json"))[-1].read_text())


@pytest.fixture
def asset_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The user's public web server for re-hosted files: serves `assets/` on loopback."""
    folder = tmp_path / "assets"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/kb"
    server.shutdown()
    server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/kb"))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def make_project(root: Path, fake: FakeZendeskWithFiles, assets: Path, help_center: dict[str, Any]) -> HelpCenterProject:
    config = {
        "source": {
            "type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${E2E_ZENDESK_TOKEN}",
            "base_url": fake.base_url, "incremental_requests_per_minute": 100_000, "retry_backoff_s": 0,
        },
        "target": {"type": "sandbox", "token": "${E2E_INTERCOM_TOKEN}", "path": "sandbox.db", "search_delay_s": 0},
        "mapping": "zendesk",
        "state": "state",
        "load": {"concurrency": 4, "help_center": help_center},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return HelpCenterProject(root=root, config=path, fake=fake, assets=assets)


@pytest.fixture
def project(tmp_path: Path, asset_server: tuple[Path, str]) -> Iterator[HelpCenterProject]:
    folder, base_url = asset_server
    with FakeZendeskWithFiles(help_center_account()) as fake:
        yield make_project(tmp_path, fake, folder, {"asset_dir": str(folder), "asset_base_url": base_url, "locales": ["en", "fr", "de"]})


def new_url(project: HelpCenterProject, article: dict[str, Any], locale: str = "en") -> str:
    """The article's public Intercom URL in `locale` (the stored object has none: the API builds it from the help center and title)."""
    center = project.objects("help_centers")[0]["identifier"]
    title = article["title"] if locale == "en" else article["translated_content"][locale]["title"]
    return f"https://intercom.help/{center}/{locale}/articles/{article['id']}-{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}"


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_collections_nest_three_levels_in_source_order(project: HelpCenterProject) -> None:
    result = project.cli("run")
    assert result.exit_code in (0, 3), result.output
    collections = by_name(project.objects("collections"))
    assert set(collections) == {"Getting started", "Billing", "Installation", "Installation on macOS", "Sonoma quirks", "Invoices"}
    assert collections["Getting started"]["parent_id"] is None
    assert collections["Installation"]["parent_id"] == collections["Getting started"]["id"]
    assert collections["Installation on macOS"]["parent_id"] == collections["Installation"]["id"]
    # level 4 in Zendesk: moved up to the third level, beside its parent, and reported
    assert collections["Sonoma quirks"]["parent_id"] == collections["Installation"]["id"]
    assert any("Sonoma quirks" in line and "level 4" in line for line in project.last_report()["help_center"]["collections"])
    assert [c["name"] for c in sorted((c for c in collections.values() if c["parent_id"] is None), key=lambda c: c["order"])] == [
        "Getting started", "Billing"]


def test_collection_names_arrive_in_every_enabled_language(project: HelpCenterProject) -> None:
    result = project.cli("run")
    assert result.exit_code in (0, 3), result.output
    collections = by_name(project.objects("collections"))
    assert collections["Getting started"]["translated_content"] == {
        "fr": {"type": "group_content", "name": "Premiers pas", "description": "Les débuts avec Acme"}}  # de is a draft, ja not enabled
    assert collections["Installation"]["translated_content"] == {"de": {"type": "group_content", "name": "Installation (de)"}}
    assert collections["Billing"]["translated_content"] is None
    assert any("Getting started" in line and "ja (not enabled)" in line for line in project.last_report()["help_center"]["collections"])


def test_articles_arrive_sanitised_with_images_translations_and_rewritten_links(project: HelpCenterProject) -> None:
    result = project.cli("run")
    assert result.exit_code in (0, 3), result.output
    articles = {a["title"]: a for a in project.objects("articles")}
    install, invoice, notes = articles["How to install Acme"], articles["Reading your invoice"], articles["macOS notes (draft)"]
    body = install["body"]
    assert "Tom &amp; Jerry’s “quick” install" in body
    assert "<table>" in body and "<td>brew install acme</td>" in body
    assert "<script>" not in body and "track()" not in body and "<font" not in body and "Careful" in body
    assert 'src="https://www.youtube.com/embed/abc"' in body
    # the relative image, behind the source's login: downloaded, saved in the public folder, linked at its public URL
    assert (project.assets / "400" / "diagram.png").read_bytes() == PNG
    assert "/kb/400/diagram.png" in body
    invoice_url = f"/en/articles/{invoice['id']}-"
    assert 'href="https://intercom.help/' in body and invoice_url in body
    assert f"/en/articles/{notes['id']}-" in body
    assert "/hc/en-us/articles/999-Retired" in body  # not migrated: left as it was, and reported
    # every other form of a link to a migrated article or section points at its new URL; other sites' links are left alone
    for text in ("no locale", "API", "totals"):
        assert re.search(rf'href="https://intercom\.help/[^"]+/en/articles/{invoice["id"]}-reading-your-invoice(#totals)?"[^>]*>{text}<', body), text
    assert "#totals" in body and "utm_source" not in body
    invoices = next(c for c in project.objects("collections") if c["name"] == "Invoices")
    assert f'/en/collections/{invoices["id"]}-invoices"' in body
    assert 'href="https://support.zendesk.com/hc/en-us/articles/4408834530458"' in body
    # a relative public image is made absolute on the source's host (Intercom fetches it from there)
    assert '<img src="https://acme.zendesk.com/hc/theming_assets/01HZ/logo.png" alt="Logo">' in body
    assert notes["state"] == "draft" and install["state"] == "published"
    assert set(install["translated_content"]) == {"fr"}
    # the invoice has no French version: the French link goes to its default-language page
    assert f"/en/articles/{invoice['id']}-reading-your-invoice" in install["translated_content"]["fr"]["body"]
    assert "/kb/402/sample.png" in invoice["body"]
    loss = {a["source_id"]: a for a in project.last_report()["help_center"]["articles"]}
    assert loss["400"]["removed_tags"] == {"div": 1, "font": 1, "script": 1}
    assert loss["400"]["translations_not_imported"] == ["zh-hk: Intercom has no such Help Center language"]
    assert loss["400"]["links_not_migrated"] == ["https://acme.zendesk.com/hc/en-us/articles/999-Retired (not migrated)"]
    assert {f["outcome"] for f in loss["402"]["files"]} == {"re-hosted"}
    assert "no Intercom admin" in loss["400"]["author"]
    # probed anonymously first (refused), then downloaded with the source's credentials
    file_requests = [r.authorized for r in project.fake.requests if r.path.startswith("/hc/article_attachments/9200/")]
    assert file_requests == [False, True]


def test_redirect_map_lists_old_and_new_urls(project: HelpCenterProject) -> None:
    project.cli("run")
    with (project.state / "redirects.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    articles = {a["title"]: a for a in project.objects("articles")}
    by_old = {row["old_url"]: row for row in rows}
    install = articles["How to install Acme"]
    # the URL Zendesk gave (with its slug) and the id form every slug of it resolves to
    for old in ("https://acme.zendesk.com/hc/en-us/articles/400-How-to-install-Acme", "https://acme.zendesk.com/hc/en-us/articles/400"):
        assert by_old[old]["new_url"] == new_url(project, install)
    assert by_old["https://acme.zendesk.com/hc/fr/articles/400"] == {
        "old_url": "https://acme.zendesk.com/hc/fr/articles/400", "new_url": new_url(project, install, "fr"), "kind": "article",
        "source_id": "400", "locale": "fr"}
    assert by_old["https://acme.zendesk.com/hc/en-us/sections/300-Installation"]["kind"] == "collection"
    installation = by_name(project.objects("collections"))["Installation"]
    assert by_old["https://acme.zendesk.com/hc/en-us/sections/300"]["new_url"].endswith(f"/en/collections/{installation['id']}-installation")
    assert len(rows) == 2 * (6 + 3) + 1  # both forms of 6 collections and 3 articles, and the French translation


def test_rerun_writes_nothing_and_rollback_removes_everything(project: HelpCenterProject) -> None:
    project.cli("run")
    writes = project.help_center_writes()
    project.cli("run")
    assert project.help_center_writes() == writes
    result = project.cli("rollback", "--all", "--yes")
    assert result.exit_code in (0, 3), result.output
    assert project.objects("articles") == [] and project.objects("collections") == []


def test_without_a_public_asset_url_private_images_are_listed_not_lost(tmp_path: Path) -> None:
    with FakeZendeskWithFiles(help_center_account()) as fake:
        project = make_project(tmp_path, fake, tmp_path / "unused", {"state": "draft"})
        result = project.cli("run")
        assert result.exit_code in (0, 3), result.output
    articles = {a["title"]: a for a in project.objects("articles")}
    install = articles["How to install Acme"]["body"]
    assert "[image: Diagram]" in install and "diagram.png" not in install
    assert '<img src="https://acme.zendesk.com/hc/theming_assets/01HZ/logo.png"' in install  # public: kept, made absolute
    assert {a["state"] for a in articles.values()} == {"draft"}
    files = {f["url"]: f for a in project.last_report()["help_center"]["articles"] for f in a.get("files", [])}
    listed = files["https://acme.zendesk.com/hc/article_attachments/9200/diagram.png"]
    assert listed["outcome"].startswith("behind the source's login: downloaded")
    assert Path(listed["file"]).read_bytes() == PNG


def test_plan_tells_what_the_help_center_load_will_lose_before_writing(project: HelpCenterProject) -> None:
    result = project.cli("plan")
    assert result.exit_code == 0, result.output
    assert project.objects("articles") == [] and project.help_center_writes() == 0
    assert "Help Center: " in result.output and "article(s) will lose or change content" in result.output
    preview = project.last_report()["plan"]["help_center"]
    losses = {a["source_id"]: a for a in preview["articles"]}
    assert losses["400"]["removed_tags"] == {"div": 1, "font": 1, "script": 1}  # what the load report counts too
    assert losses["400"]["images_on_source_site"] == ["https://acme.zendesk.com/hc/article_attachments/9200/diagram.png",
                                                      "https://acme.zendesk.com/hc/theming_assets/01HZ/logo.png"]
    assert losses["400"]["translations_not_imported"] == ["zh-hk: Intercom has no such Help Center language"]
    assert preview["images_on_source_site"] == 3  # the diagram, the logo and the invoice sample, checked for a login at load
    assert not any(r.path.startswith("/hc/article_attachments/") for r in project.fake.requests)  # no file was fetched


def test_links_on_the_zendesk_host_are_rewritten_when_the_help_center_has_its_own_domain(tmp_path: Path) -> None:
    account = help_center_account()
    for kind in ("articles", "sections", "categories"):
        for item in account[kind]:
            item["html_url"] = item["html_url"].replace("https://acme.zendesk.com/", "https://help.acme.example/")
    account["articles"][0]["body"] = ('<p><a href="https://acme.zendesk.com/hc/en-us/articles/402">invoice</a> '
                                      '<a href="https://acme.zendesk.com/hc/en-us/articles/998">gone</a></p>')
    with FakeZendeskWithFiles(account) as fake:
        project = make_project(tmp_path, fake, tmp_path / "unused", {})
        result = project.cli("run")
        assert result.exit_code in (0, 3), result.output
    articles = {a["title"]: a for a in project.objects("articles")}
    invoice = articles["Reading your invoice"]
    assert f'href="{new_url(project, invoice)}"' in articles["How to install Acme"]["body"]
    loss = {a["source_id"]: a for a in project.last_report()["help_center"]["articles"]}
    assert loss["400"]["links_not_migrated"] == ["https://acme.zendesk.com/hc/en-us/articles/998 (not migrated)"]
    with (project.state / "redirects.csv").open(encoding="utf-8") as handle:
        old_urls = {row["old_url"] for row in csv.DictReader(handle)}
    assert "https://help.acme.example/hc/en-us/articles/402" in old_urls


def test_an_article_footer_keeps_the_original_date_and_the_report_says_intercom_cannot_backdate(tmp_path: Path) -> None:
    (tmp_path / "dates.yaml").write_text(
        "version: 1\narticle:\n  rules:\n"
        '    - {to: footer, from: created_at, transform: {date_text: {template: "Originally published on {date}."}}}\n')
    with FakeZendeskWithFiles(help_center_account()) as fake:
        project = make_project(tmp_path, fake, tmp_path / "unused", {})
        config = yaml.safe_load(project.config.read_text())
        project.config.write_text(yaml.safe_dump({**config, "overrides": ["dates.yaml"]}, sort_keys=False))
        result = project.cli("run")
        assert result.exit_code in (0, 3), result.output
    for article in project.objects("articles"):
        assert article["body"].endswith("<p>Originally published on February 01, 2024.</p>"), article["title"]  # the fake's created_at
    dates = project.last_report()["help_center"]["dates"]
    assert dates.startswith("Intercom cannot backdate articles: 3 article(s) keep their original date in a footer line")
    assert "Intercom cannot backdate articles" in result.output


def test_without_a_footer_rule_the_report_says_the_dates_are_not_kept(project: HelpCenterProject) -> None:
    result = project.cli("run")
    assert result.exit_code in (0, 3), result.output
    assert project.last_report()["help_center"]["dates"].startswith("Intercom cannot backdate articles: the original created/updated dates are not kept")
    assert "Originally published" not in json.dumps(project.objects("articles"))


def test_the_mapping_renames_merges_and_skips_collections(tmp_path: Path) -> None:
    (tmp_path / "collections.yaml").write_text(
        "version: 1\nvalue_maps:\n"
        '  zendesk_collection_names: {values: {"Getting started": "Start here"}}\n'
        '  zendesk_collection_merge: {values: {"section:301": "section:300"}}\n'  # macOS notes move into Installation
        '  zendesk_collection_skip: {values: {"category:201": true}}\n')  # Billing stays behind, with its section and article
    with FakeZendeskWithFiles(help_center_account()) as fake:
        project = make_project(tmp_path, fake, tmp_path / "unused", {})
        config = yaml.safe_load(project.config.read_text())
        project.config.write_text(yaml.safe_dump({**config, "overrides": ["collections.yaml"]}, sort_keys=False))
        result = project.cli("run")
        assert result.exit_code in (0, 3), result.output
    collections = by_name(project.objects("collections"))
    assert set(collections) == {"Start here", "Installation", "Sonoma quirks"}  # the merged section's child follows it
    articles = {a["title"]: a for a in project.objects("articles")}
    assert set(articles) == {"How to install Acme", "macOS notes (draft)"}
    assert str(articles["macOS notes (draft)"]["parent_id"]) == collections["Installation"]["id"]
    assert collections["Sonoma quirks"]["parent_id"] == collections["Installation"]["id"]
    report = project.last_report()["help_center"]
    assert any("section:301" in line and "merged into section:300" in line for line in report["collections"])
    assert any("category:201" in line and "skipped by the mapping" in line for line in report["collections"])
    loss = {a["source_id"]: a for a in report["articles"]}
    assert loss["402"]["links_not_migrated"] == ["article left behind: its collection section:302 is skipped by the mapping"]
    # the link to the left-behind invoice article stays as it was, and is reported
    assert "https://acme.zendesk.com/hc/en-us/articles/402-Reading-your-invoice (not migrated)" in loss["400"]["links_not_migrated"]


def put_help_centers(root: Path) -> None:
    """A workspace with two help centers (brands), as the sandbox is before the run."""
    db = Database(root / "sandbox.db")
    try:
        with db.transaction():
            for center_id, identifier, name in (("79", "acme", "Acme Help"), ("555", "docs", "Developer docs")):
                db.put("help_centers", {"id": center_id, "workspace_id": "w", "identifier": identifier, "display_name": name,
                                        "website_turned_on": True, "created_at": 1, "updated_at": 1, "custom_domain": None})
    finally:
        db.close()


def test_the_configured_help_center_receives_the_collections(tmp_path: Path) -> None:
    with FakeZendeskWithFiles(help_center_account()) as fake:
        project = make_project(tmp_path, fake, tmp_path / "unused", {"help_center": "Developer docs"})
        put_help_centers(tmp_path)
        result = project.cli("run")
        assert result.exit_code in (0, 3), result.output
    assert {c["help_center_id"] for c in project.objects("collections")} == {"555"}
    assert project.last_report()["help_center"]["help_center_id"] == "555"


def test_an_unknown_help_center_stops_the_run_naming_the_ones_there_are(tmp_path: Path) -> None:
    with FakeZendeskWithFiles(help_center_account()) as fake:
        project = make_project(tmp_path, fake, tmp_path / "unused", {"help_center": "support"})
        put_help_centers(tmp_path)
        result = project.cli("run")
    assert result.exit_code == 2, result.output
    assert "no help center 'support'" in result.output and "555 (docs)" in result.output
    assert project.objects("collections") == [] and project.objects("articles") == []


def test_an_edited_article_is_the_only_help_center_write_of_the_next_run(project: HelpCenterProject) -> None:
    assert project.cli("run").exit_code in (0, 3)
    writes = project.help_center_writes()
    project.fake.touch("articles", 401, title="macOS notes", body="<p>Done now</p>")
    result = project.cli("run")
    assert result.exit_code in (0, 3), result.output
    assert project.help_center_writes() == writes + 2  # the article, then the link to it in the install guide (a new slug)
    notes = next(a for a in project.objects("articles") if a["title"] == "macOS notes")
    assert notes["body"] == "<p>Done now</p>"
    install = next(a for a in project.objects("articles") if a["title"] == "How to install Acme")
    assert f'href="{new_url(project, notes)}"' in install["body"]
    assert project.cli("run").exit_code in (0, 3)
    assert project.help_center_writes() == writes + 2


def test_images_on_a_brands_own_help_center_domain_are_fetched_with_the_login_and_no_other_host_gets_it(
        tmp_path: Path, asset_server: tuple[Path, str]) -> None:
    folder, base_url = asset_server
    account = help_center_account()
    account["brands"][0]["host_mapping"] = "help.acme.example"  # the help center on the customer's own domain
    for kind in ("articles", "sections", "categories"):
        for item in account[kind]:
            item["html_url"] = item["html_url"].replace("https://acme.zendesk.com/", "https://help.acme.example/")
    # a restricted image on the mapped domain (the relative one resolves there too) and one on somebody else's host
    account["articles"][0]["body"] = ('<p><img src="https://help.acme.example/hc/article_attachments/9200/diagram.png" alt="Diagram">'
                                      '<img src="https://cdn.other.example/hc/article_attachments/9300/chart.png" alt="Chart"></p>')
    with FakeZendeskWithFiles(account) as fake:
        project = make_project(tmp_path, fake, folder, {"asset_dir": str(folder), "asset_base_url": base_url})
        result = project.cli("run")
        assert result.exit_code in (0, 3), result.output
    install = next(a for a in project.objects("articles") if a["title"] == "How to install Acme")["body"]
    assert f'{base_url}/400/diagram.png' in install, "downloaded with the login and re-hosted"
    assert 'src="https://cdn.other.example/hc/article_attachments/9300/chart.png"' in install, "left to Intercom, untouched"
    diagram = [r.authorized for r in project.fake.requests if r.path.startswith("/hc/article_attachments/9200/")]
    assert diagram == [False, True]  # probed anonymously, then fetched with the credentials
    assert not any(r.authorized for r in project.fake.requests if r.path.startswith("/hc/article_attachments/9300/"))


def test_validate_reads_the_help_center_by_its_lists_and_catches_a_renamed_article(project: HelpCenterProject) -> None:
    assert project.cli("run").exit_code in (0, 3)
    [article, *_] = project.objects("articles")
    db = Database(project.root / "sandbox.db")
    try:
        with db.transaction():
            calls_before = len(db.request_log())
            db.put("articles", {**article, "title": "Renamed by hand"})
    finally:
        db.close()

    result = project.runner.invoke(app, ["validate", "-c", str(project.config)], catch_exceptions=False, env={
        "E2E_ZENDESK_TOKEN": FAKE_TOKEN, "E2E_INTERCOM_TOKEN": INTERCOM_TOKEN, "COLUMNS": "250"})

    assert result.exit_code == 3 and "Renamed by hand" in result.output and article["title"] in result.output
    db = Database(project.root / "sandbox.db")
    try:
        with db.transaction():
            routes = [entry["route"] for entry in db.request_log()[calls_before:]]
    finally:
        db.close()
    assert routes.count("GET /articles") == 1 and routes.count("GET /help_center/collections") == 1
    assert "GET /articles/{id}" not in routes and "GET /help_center/collections/{id}" not in routes
