"""Links between articles: every URL form the sources use for an article or collection → its new Intercom URL
(`LinkIndex`), and phase `article_links`, the second pass that points links at articles migrated after the one linking."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from deskmigrate.core.errors import LoadError
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.core.model import Article
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.help_center.locales import intercom_locale
from deskmigrate.loaders.intercom.help_center.objects import INTERCOM_KEY, with_urls, without_urls
from deskmigrate.loaders.intercom.help_center.redirects import path_key, write_redirect_map
from deskmigrate.loaders.intercom.help_center.report import ArticleNotes, report_of
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.phase import Phase

NAME = "article_links"
ARTICLES, COLLECTIONS = "articles", "collections"
HREF = re.compile(r"(<a\b[^>]*?\bhref=\")([^\"]*)(\")", re.IGNORECASE)


@dataclass
class LinkIndex:
    """Old article and collection URLs (every form the sources use) → their new Intercom URLs."""

    hosts: set[str]
    by_path: dict[str, tuple[str, str]]
    new_urls: dict[tuple[str, str], dict[str, Any]]
    staged: set[tuple[str, str]]
    # The source's own hosts beyond its articles' URLs: a host-mapped Help Center's articles still link to {subdomain}.zendesk.com.
    owns: Callable[[str], bool] = field(default=lambda url: False)
    # The second pass: every article that will exist does, so a staged target without a new URL was skipped or failed.
    final: bool = False
    # The source's URL forms naming an article or a collection (its connector's); otherwise links match by the records' own URLs.
    urls: HelpCenterUrls = HelpCenterUrls()

    @classmethod
    def from_ledger(cls, loader: IntercomLoader) -> LinkIndex:
        files = loader.source_files
        index = cls(set(), {}, {}, set(), files.owns if files is not None else (lambda url: False), urls=loader.help_center_urls)
        for entity in (COLLECTIONS, ARTICLES):
            for record in loader.ledger.iter_staged(entity):
                index.staged.add((entity, record.source_id))
                url = getattr(record, "url", None) or record.custom_fields.get("html_url")
                if url:
                    index.hosts.add(urlsplit(url).netloc.lower())
                    index.by_path[path_key(url)] = (entity, record.source_id)
            rows = list(loader.ledger.iter_id_rows(entity))
            for row in sorted(rows, key=lambda r: r.origin == "merged"):
                index.remember(entity, row)
        return index

    def remember(self, entity: str, row: IdMapRow) -> None:
        if row.state != "done":
            return
        if row.origin == "merged":
            target = next((k for k, v in self.new_urls.items() if v.get("id") == row.intercom_id and k[0] == entity), None)
            if target:
                self.new_urls[(entity, row.source_id)] = self.new_urls[target]
            return
        urls = (row.body or {}).get(INTERCOM_KEY) or {}
        if urls.get("url"):
            self.new_urls[(entity, row.source_id)] = {"id": row.intercom_id, **urls}
            # A link rewritten by an earlier run holds the Intercom URL of then; a new title gives a new slug, so it is followed too.
            for url in (urls["url"], *(urls.get("urls") or {}).values()):
                self.hosts.add(urlsplit(url).netloc.lower())
                self.by_path[path_key(url)] = (entity, row.source_id)

    def target_of(self, url: str) -> tuple[str, str, str | None] | None:
        """(entity, source id, locale in the link) for a link to a source article or collection."""
        found = self.urls.target_of(urlsplit(url).path)
        if found is not None:
            return found
        known = self.by_path.get(path_key(url))
        return (*known, None) if known else None

    def rewrite(self, markup: str, base_url: str | None, locale: str | None, notes: ArticleNotes | None) -> str:
        """Links to migrated articles point at their Intercom URLs; relative links become absolute; others are reported."""

        def replace(match: re.Match[str]) -> str:
            href = html.unescape(match.group(2))
            if href.startswith(("#", "mailto:", "tel:")):
                return match.group(0)
            absolute = urljoin(base_url or "", href)
            parts = urlsplit(absolute)
            on_source = parts.netloc.lower() in self.hosts or self.owns(absolute)
            if not on_source and not (base_url is None and href.startswith("/")):
                return match.group(1) + html.escape(absolute) + match.group(3)
            target = self.target_of(absolute)
            new = self._new_url(target, locale) if target else None
            if new is None:
                if target is not None and notes is not None and (self.final or target[:2] not in self.staged):
                    line = f"{absolute} (not migrated)"
                    if line not in notes.links_not_migrated:
                        notes.links_not_migrated.append(line)
                return match.group(1) + html.escape(absolute) + match.group(3)
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            return match.group(1) + html.escape(new + fragment) + match.group(3)

        return HREF.sub(replace, markup)

    def _new_url(self, target: tuple[str, str, str | None], locale: str | None) -> str | None:
        entity, source_id, link_locale = target
        urls = self.new_urls.get((entity, source_id))
        if not urls:
            return None
        wanted = intercom_locale(link_locale) or locale
        return str((urls.get("urls") or {}).get(wanted) or urls["url"])


def rewrite_article_links(loader: IntercomLoader, payloads: Iterable[Payload] = ()) -> PhaseResult:
    """The second pass: once every article exists, point links between them at their Intercom URLs."""
    result = PhaseResult(NAME)
    if not _articles_written(loader.ledger):
        return result
    loader.ledger.start_phase(loader.run_id, NAME, None)
    index = replace(LinkIndex.from_ledger(loader), final=True)
    report = report_of(loader)
    for row in list(loader.ledger.iter_id_rows(ARTICLES)):
        if row.state != "done" or row.origin != "created" or not row.intercom_id:
            continue
        record = loader.ledger.staged_record(ARTICLES, row.source_id)
        base = record.url if isinstance(record, Article) else None
        title = record.title if isinstance(record, Article) else row.source_id
        try:
            _rewrite_one(loader, row, base, index, report.notes(row.source_id, title), result)
        except LoadError as error:
            loader.fail(NAME, ARTICLES, row.source_id, error)
            result.add("failed")
    loader.ledger.finish_phase(loader.run_id, NAME)
    return result


def _rewrite_one(loader: IntercomLoader, row: IdMapRow, base: str | None, index: LinkIndex, notes: ArticleNotes, result: PhaseResult) -> None:
    stored = without_urls(row.body)
    notes.links_not_migrated = [line for line in notes.links_not_migrated if not line.endswith("(not migrated)")]
    new_body = index.rewrite(str(stored.get("body") or ""), base, None, notes)
    translated = {locale: {**content, "body": index.rewrite(str(content.get("body") or ""), base, locale, notes)}
                  for locale, content in (stored.get("translated_content") or {}).items()}
    if new_body == stored.get("body") and translated == (stored.get("translated_content") or {}):
        return
    change: dict[str, Any] = {"body": new_body}
    if translated:
        change["translated_content"] = translated
    saved = loader.client.update_article(str(row.intercom_id), change)
    before = {key: stored.get(key) for key in change}
    loader.ledger.record_write(loader.run_id, NAME, ARTICLES, row.source_id, intercom_id=str(row.intercom_id),
                               action="update", origin="created", payload_hash=row.payload_hash or "",
                               body=with_urls({**stored, **change}, saved), before=before)
    result.add("links_rewritten")


def _articles_written(ledger: Ledger) -> bool:
    return ledger.count_id_rows(ARTICLES) > 0


ARTICLE_LINKS = Phase(
    NAME, None, None, rewrite_article_links,
    requires=(ARTICLES,),
    runs_when=_articles_written,
    finish=write_redirect_map,
)
