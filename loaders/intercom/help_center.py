"""Help Center phases: collections (nested, at most three levels) → articles (HTML, images, translations) → links between articles rewritten.

The mapping shapes each collection and article body; this module adds what only the loader knows (the help
center, the parent collection's and the author's Intercom ids, re-hosted images, new article URLs) and
reports per article what could not come along (the content-loss report).
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import requests

from deskmigrate.core.config import HelpCenterConfig
from deskmigrate.core.errors import AmbiguousWriteError, ConfigError, LoadError, Problem, RejectedError, SourceError
from deskmigrate.core.files import SourceFiles
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.core.model import Article, Attachment, Collection
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.phases import RECONCILE_SKEW_S, IntercomLoader, PhaseResult, body_hash

log = logging.getLogger(__name__)

# The locale keys of `article_translated_content` in the 2.15 spec (reference/api-facts.md § 1.9).
INTERCOM_LOCALES = frozenset(
    "ar bg bs ca cs da de el en es et fi fr he hr hu id it ja ko lt lv mn nb nl pl pt ro ru sl sr sv tr vi pt-BR zh-CN zh-TW".split()
)
MAX_DEPTH = 3
MAX_CREATE_ATTEMPTS = 3  # creates whose answer was lost, each followed by a look at what Intercom holds
# Body keys the mapping writes for the loader, never sent: merge/skip a collection, a footer line for an article.
LOADER_KEYS = ("merge_into", "skip", "footer")
INTERCOM_KEY = "_intercom"  # where the id map keeps the new URLs next to the body we sent
IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
SRC_ATTRIBUTE = re.compile(r"\bsrc=\"([^\"]*)\"", re.IGNORECASE)
ALT_ATTRIBUTE = re.compile(r"\balt=\"([^\"]*)\"", re.IGNORECASE)
HREF = re.compile(r"(<a\b[^>]*?\bhref=\")([^\"]*)(\")", re.IGNORECASE)


# -- the source's files --------------------------------------------------------------------------------


# -- the content-loss report ---------------------------------------------------------------------------


@dataclass
class ArticleNotes:
    """What one article could not bring along, or brought differently."""

    source_id: str
    title: str
    removed_tags: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, str]] = field(default_factory=list)
    translations_not_imported: list[str] = field(default_factory=list)
    links_not_migrated: list[str] = field(default_factory=list)
    author: str | None = None
    language: str | None = None

    def is_empty(self) -> bool:
        return not (self.removed_tags or self.files or self.translations_not_imported or self.links_not_migrated or self.author
                    or self.language)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"source_id": self.source_id, "title": self.title}
        for key in ("removed_tags", "files", "translations_not_imported", "links_not_migrated", "author", "language"):
            if getattr(self, key):
                found[key] = getattr(self, key)
        return found


@dataclass
class HelpCenterReport:
    help_center_id: str | None = None
    collections: list[str] = field(default_factory=list)
    articles: dict[str, ArticleNotes] = field(default_factory=dict)
    footer_dates: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def notes(self, source_id: str, title: str) -> ArticleNotes:
        with self._lock:
            return self.articles.setdefault(source_id, ArticleNotes(source_id, title))

    def add_collection_line(self, line: str) -> None:
        log.warning("help center: %s", line)
        with self._lock:
            self.collections.append(line)

    def as_dict(self) -> dict[str, Any]:
        articles = [notes.as_dict() for _, notes in sorted(self.articles.items()) if not notes.is_empty()]
        removed: Counter[str] = Counter()
        for notes in self.articles.values():
            removed.update(notes.removed_tags)
        dates = (
            f"Intercom cannot backdate articles: {self.footer_dates} article(s) keep their original date in a footer line (mapping `article` rule `to: footer`)"
            if self.footer_dates
            else "Intercom cannot backdate articles: the original created/updated dates are not kept (add an `article` rule `to: footer` to keep them)"
        )
        return {
            "help_center_id": self.help_center_id, "collections": self.collections, "dates": dates,
            "removed_tags_total": dict(sorted(removed.items())), "articles_with_losses": len(articles), "articles": articles,
        }


def report_of(loader: IntercomLoader) -> HelpCenterReport:
    found = loader.details.get("help_center")
    if not isinstance(found, HelpCenterReport):
        found = loader.details["help_center"] = HelpCenterReport()
    return found


def settings_of(loader: IntercomLoader) -> HelpCenterConfig:
    return loader.settings.help_center


# -- help center and locales ---------------------------------------------------------------------------


def choose_help_center(loader: IntercomLoader) -> str:
    """The configured help center (by id, identifier or display name), else the workspace's first."""
    wanted = settings_of(loader).help_center
    centers = loader.client.list_help_centers()
    if not centers:
        raise LoadError("the workspace has no Help Center")
    if wanted is None:
        return str(centers[0]["id"])
    for center in centers:
        if wanted.lower() in {str(center.get(key) or "").lower() for key in ("id", "identifier", "display_name")}:
            return str(center["id"])
    names = ", ".join(f"{c['id']} ({c.get('identifier')})" for c in centers)
    raise ConfigError([Problem(path="load.help_center.help_center", message=f"no help center {wanted!r} in this workspace; it has {names}")])


def intercom_locale(locale: str | None) -> str | None:
    """A source locale as an Intercom Help Center locale key ("en-us" → "en", "pt-br" → "pt-BR"), or None."""
    if not locale:
        return None
    lowered = locale.strip().replace("_", "-").lower()
    for candidate in INTERCOM_LOCALES:
        if candidate.lower() == lowered:
            return candidate
    language = lowered.split("-")[0]
    return language if language in INTERCOM_LOCALES else None


def enabled_locales(settings: HelpCenterConfig) -> set[str]:
    if settings.locales is None:
        return set(INTERCOM_LOCALES)
    return {found for locale in settings.locales if (found := intercom_locale(locale))}


# -- collections ---------------------------------------------------------------------------------------


@dataclass
class CollectionNode:
    payload: Payload
    record: Collection
    order: int
    parent: str | None = None
    depth: int = 1


def load_collections(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    """Create parents before children, siblings in source order, sequentially (Intercom orders collections by creation)."""
    result = PhaseResult("collections")
    report = report_of(loader)
    nodes = _collection_nodes(loader, payloads)
    loader.ledger.start_phase(loader.run_id, "collections", len(nodes))
    help_center_id = report.help_center_id = choose_help_center(loader)
    for node in _in_creation_order(nodes, report):
        try:
            _load_collection(loader, node, nodes, help_center_id, result)
        except LoadError as error:
            loader.fail("collections", "collections", node.record.source_id, error)
            result.add("failed")
        finally:
            loader.on_progress("collections", 1)
    if result.unchanged:
        loader.ledger.count_unchanged(loader.run_id, "collections", result.unchanged)
    loader.ledger.finish_phase(loader.run_id, "collections")
    return result


def _collection_nodes(loader: IntercomLoader, payloads: Iterable[Payload]) -> dict[str, CollectionNode]:
    nodes: dict[str, CollectionNode] = {}
    for index, payload in enumerate(payloads):
        record = loader.ledger.staged_record("collections", payload.source_id)
        if isinstance(record, Collection):
            nodes[payload.source_id] = CollectionNode(payload, record, index, record.parent_id)
    return nodes


def _in_creation_order(nodes: dict[str, CollectionNode], report: HelpCenterReport) -> list[CollectionNode]:
    """Breadth first from the roots, siblings by source position; deeper than three levels moves up to the third."""
    children: dict[str | None, list[CollectionNode]] = {}
    for node in nodes.values():
        parent = node.parent if node.parent in nodes else None
        children.setdefault(parent, []).append(node)
    ordered: list[CollectionNode] = []
    level = sorted(children.get(None, []), key=_sibling_order)
    depth = 1
    while level:
        next_level: list[CollectionNode] = []
        for node in level:
            node.depth = depth
            ordered.append(node)
            next_level.extend(sorted(children.get(node.record.source_id, []), key=_sibling_order))
        level, depth = next_level, depth + 1
    for node in ordered:
        if node.depth > MAX_DEPTH:
            third = node
            while third.depth > MAX_DEPTH - 1:
                third = nodes[str(third.parent)]
            report.add_collection_line(
                f"{node.record.source_id} {node.record.name!r} was at level {node.depth}: placed at level {MAX_DEPTH} "
                f"under {third.record.name!r} (Intercom nests collections {MAX_DEPTH} deep)"
            )
            node.parent = third.record.source_id
    return ordered


def _sibling_order(node: CollectionNode) -> tuple[int, int]:
    return (node.record.position if node.record.position is not None else 1 << 30, node.order)


def _load_collection(loader: IntercomLoader, node: CollectionNode, nodes: dict[str, CollectionNode], help_center_id: str,
                     result: PhaseResult) -> None:
    payload, source_id = node.payload, node.record.source_id
    digest = body_hash(payload.body)
    if payload.body.get("skip"):
        return _record_alias(loader, source_id, "", "skip", digest, payload.body, result, f"{source_id} {node.record.name!r} skipped by the mapping")
    merge_into = payload.body.get("merge_into")
    if merge_into:
        target = loader.ledger.id_row("collections", str(merge_into))
        if target is None or target.state != "done" or not target.intercom_id:
            raise LoadError(f"merge target collection {merge_into!r} is not in Intercom (not in the source, skipped, or failed)")
        return _record_alias(loader, source_id, target.intercom_id, "merge", digest, payload.body, result,
                             f"{source_id} {node.record.name!r} merged into {merge_into}")
    parent_id = _parent_collection_id(loader, node)
    if parent_id is None and node.parent is not None and node.parent in nodes:
        return _record_alias(loader, source_id, "", "skip", digest, payload.body, result,
                             f"{source_id} {node.record.name!r} skipped with its parent {node.parent}")
    body = _sendable(payload.body) | {"help_center_id": int(help_center_id) if help_center_id.isdigit() else help_center_id}
    if parent_id:
        body["parent_id"] = parent_id
    languages = _collection_languages(loader, node.record, body)
    body = {key: value for key, value in body.items() if key not in ("name", "description")} | languages
    _write_collection(loader, source_id, body, digest, result)


def _collection_languages(loader: IntercomLoader, record: Collection, body: dict[str, Any]) -> dict[str, Any]:
    """Name and description in the default language, and `translated_content` with the other languages the Help Center has.

    A collection named in another language takes its default-language translation as name, as articles do.
    """
    settings = settings_of(loader)
    default = intercom_locale(settings.default_locale) or "en"
    enabled = enabled_locales(settings)
    own = intercom_locale(record.locale) if record.locale else default
    versions = [(t.locale, intercom_locale(t.locale), {"name": t.name, "description": t.description}) for t in record.translations]
    main: dict[str, Any] = {"name": body["name"], "description": body.get("description")}
    label = f"{record.source_id} {record.name!r}"
    if own != default:
        swap = next((version for version in versions if version[1] == default), None)
        if swap is None:
            report_of(loader).add_collection_line(f"{label} is named in {record.locale} with no {default} name: its {record.locale} name is used")
        else:
            versions = [(str(record.locale), own, main), *(version for version in versions if version is not swap)]
            main = swap[2]
    translated: dict[str, Any] = {}
    left_out: list[str] = []
    for source_locale, locale, content in versions:
        if locale is None or locale not in enabled or locale in translated or locale == default:
            left_out.append(f"{source_locale} ({'Intercom has no such language' if locale is None else 'not enabled' if locale not in enabled else 'a second name in ' + locale})")
            continue
        translated[locale] = {"type": "group_content", "name": content["name"], **({"description": content["description"]} if content["description"] else {})}
    if left_out:
        report_of(loader).add_collection_line(f"{label}: names not imported: {', '.join(left_out)}")
    found: dict[str, Any] = {"name": main["name"]}
    if main.get("description"):
        found["description"] = main["description"]
    if translated:
        found["translated_content"] = translated
    return found


def _parent_collection_id(loader: IntercomLoader, node: CollectionNode) -> str | None:
    if node.parent is None:
        return None
    row = loader.ledger.id_row("collections", node.parent)
    if row is None or row.state != "done":
        if loader.ledger.staged_record("collections", node.parent) is None:
            return None  # the parent is not in the source: a top-level collection
        raise LoadError(f"parent collection {node.parent} is not in Intercom (it failed to load)")
    return row.intercom_id or None


def _record_alias(loader: IntercomLoader, source_id: str, intercom_id: str, action: str, digest: str, body: dict[str, Any],
                  result: PhaseResult, line: str) -> None:
    """A merged collection stands for its target; a skipped one for nothing (its articles stay behind)."""
    report_of(loader).add_collection_line(line)
    row = loader.ledger.id_row("collections", source_id)
    if row is not None and row.state == "done" and row.payload_hash == digest and row.intercom_id == intercom_id:
        result.add("unchanged")
        return
    if row is not None and row.origin == "created" and row.intercom_id:
        loader.client.delete_collection(row.intercom_id)
    loader.ledger.record_write(loader.run_id, "collections", "collections", source_id, intercom_id=intercom_id, action=action,
                               origin="merged" if action == "merge" else "skipped", payload_hash=digest, body=body)
    result.add("merged" if action == "merge" else "skipped")


def _write_collection(loader: IntercomLoader, source_id: str, body: dict[str, Any], digest: str, result: PhaseResult) -> None:
    row = loader.ledger.id_row("collections", source_id)
    if row is not None and row.state == "done" and row.origin == "created" and row.intercom_id:
        previous = _without_urls(row.body)
        if row.payload_hash == digest and previous == body:
            result.add("unchanged")
            return
        update = {key: value for key, value in body.items() if key != "help_center_id"}
        update.setdefault("parent_id", None)
        try:
            saved = loader.client.update_collection(row.intercom_id, update)
        except RejectedError as error:
            if error.status != 404:
                raise
            loader.ledger.forget("collections", source_id)
            return _write_collection(loader, source_id, body, digest, result)
        loader.ledger.record_write(loader.run_id, "collections", "collections", source_id, intercom_id=row.intercom_id, action="update",
                                   origin="created", payload_hash=digest, body=_with_urls(body, saved), before=previous)
        result.add("updated")
        return
    if row is not None and row.state == "done":
        loader.ledger.forget("collections", source_id)  # merged or skipped until now: it gets its own collection
        row = None
    found, reconciled = _create_once(loader, "collections", source_id, row, loader.client.create_collection, body,
                                     lambda item: item.get("name") == body["name"] and _same_parent(item, body))
    if reconciled:
        found = loader.client.update_collection(str(found["id"]), {key: value for key, value in body.items() if key != "help_center_id"})
    loader.ledger.record_write(loader.run_id, "collections", "collections", source_id, intercom_id=str(found["id"]), action="create",
                               origin="created", payload_hash=digest, body=_with_urls(body, found))
    result.add("created")


def _create_once(loader: IntercomLoader, entity: str, source_id: str, row: IdMapRow | None,
                 create: Callable[[dict[str, Any]], dict[str, Any]], body: dict[str, Any],
                 matches: Callable[[dict[str, Any]], bool]) -> tuple[dict[str, Any], bool]:
    """Create, never twice: a create whose answer was lost (now or in an earlier run) is looked for before it is sent again.

    Returns Intercom's object and whether it was found rather than created (then it may hold an older body).
    The help center lists are read straight from the database (unlike search), so a create that landed is in them.
    """
    for _ in range(MAX_CREATE_ATTEMPTS):
        found = _reconcile(loader, entity, row, matches)
        if found is not None:
            log.info("%s %s: adopting %s, created by an earlier attempt whose answer was lost", entity, source_id, found.get("id"))
            return found, True
        loader.ledger.mark_pending(loader.run_id, entity, source_id, intent={k: v for k, v in body.items() if k != "body"})
        try:
            return create(body), False
        except AmbiguousWriteError as error:
            log.info("%s %s: the answer to the create was lost (%s); looking for it before sending it again", entity, source_id, error)
            row = loader.ledger.id_row(entity, source_id)
    raise AmbiguousWriteError(f"{entity[:-1]} {source_id}: {MAX_CREATE_ATTEMPTS} creates lost their answer and none is in Intercom")


def _reconcile(loader: IntercomLoader, entity: str, row: IdMapRow | None, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """What a pending create made: created after we marked it pending, matching the body, and not another record's."""
    if row is None or row.state != "pending" or row.pending_since is None:
        return None
    path = "/help_center/collections" if entity == "collections" else "/articles"
    since = row.pending_since - RECONCILE_SKEW_S
    claimed = {other.intercom_id for other in loader.ledger.iter_id_rows(entity) if other.intercom_id and other.source_id != row.source_id}
    candidates = [item for item in loader.client.iter_pages(path)
                  if float(item.get("created_at") or 0) >= since and str(item.get("id")) not in claimed and matches(item)]
    return min(candidates, key=lambda item: int(str(item["id"])) if str(item["id"]).isdigit() else 0, default=None)


def _same_parent(item: dict[str, Any], body: dict[str, Any]) -> bool:
    return str(item.get("parent_id") or "") == str(body.get("parent_id") or "")


def _sendable(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in LOADER_KEYS}


def _with_urls(body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    urls = {locale: content.get("url") for locale, content in (answer.get("translated_content") or {}).items()
            if isinstance(content, dict) and content.get("url")}
    return {**body, INTERCOM_KEY: {"url": answer.get("url"), "urls": urls, "locale": answer.get("default_locale")}}


def _without_urls(body: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (body or {}).items() if key != INTERCOM_KEY}


# -- articles ------------------------------------------------------------------------------------------


def load_articles(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    result = PhaseResult("articles")
    links = LinkIndex.from_ledger(loader)
    loader.run_phase("articles", payloads, lambda payload: _load_article(loader, payload, links, result), result)
    return result


def _load_article(loader: IntercomLoader, payload: Payload, links: LinkIndex, result: PhaseResult) -> None:
    record = loader.ledger.staged_record("articles", payload.source_id)
    if not isinstance(record, Article):
        raise LoadError(f"article {payload.source_id} is not staged")
    report = report_of(loader)
    parent = _article_parent(loader, record)
    if parent == "":
        result.add("skipped")
        return
    author, matched = _author(loader, record)
    settings = settings_of(loader)
    main, others, language_note = article_contents(record, payload.body, settings)
    fixed = {"author_id": author, "state": main.state, "parent_id": int(parent) if parent else None}
    digest = body_hash(payload.body)
    row = loader.ledger.id_row("articles", payload.source_id)
    if row is not None and row.state == "done" and row.payload_hash == digest and _same_fixed(row.body, fixed):
        result.add("unchanged")
        return
    notes = report.notes(record.source_id, record.title)
    if not matched:
        notes.author = f"source author {record.author_id or '(none)'} has no Intercom admin with that email: written by admin {author}"
    notes.language = language_note
    body = _article_body(loader, record, payload, main, others, fixed, notes, links)
    _write_article(loader, record.source_id, body, digest, row, result)


def _article_parent(loader: IntercomLoader, record: Article) -> str | None:
    """The parent collection's Intercom id; None for a standalone article; "" when its collection was skipped."""
    if not record.collection_id:
        return None
    row = loader.ledger.id_row("collections", record.collection_id)
    if row is None or row.state != "done":
        raise LoadError(f"collection {record.collection_id} is not in Intercom (not in the source, or it failed to load)")
    if row.origin == "skipped":
        report_of(loader).notes(record.source_id, record.title).links_not_migrated.append(
            f"article left behind: its collection {record.collection_id} is skipped by the mapping")
        return ""
    return row.intercom_id


def _author(loader: IntercomLoader, record: Article) -> tuple[int, bool]:
    admin = loader.admin_for_agent(record.author_id)
    if admin is None:
        raise LoadError("no Intercom admin to author the article: set load.fallback_admin_email")
    return int(admin), record.author_id is not None and record.author_id in loader.agent_admins


def _same_fixed(stored: dict[str, Any] | None, fixed: dict[str, Any]) -> bool:
    stored = stored or {}
    return all(stored.get(key) == value for key, value in fixed.items() if value is not None) and (
        fixed["parent_id"] is not None or "parent_id" not in stored
    )


@dataclass(frozen=True)
class Content:
    """One language version of an article: what the mapping made of it, and the source HTML it came from."""

    source_locale: str
    locale: str | None  # the Intercom Help Center locale; None when Intercom has no such language
    title: str
    body: str
    original_html: str
    state: str


def article_contents(record: Article, mapped: dict[str, Any], settings: HelpCenterConfig) -> tuple[Content, list[Content], str | None]:
    """The default-language content, the other versions, and a note when the article has no default-language version.

    Intercom's main title/body are the help center's default language; an article written in another language
    takes its default-language translation as main content and becomes a translation itself.
    """
    default = intercom_locale(settings.default_locale) or "en"
    forced = None if settings.state == "source" else settings.state
    own = Content(record.locale or settings.default_locale, intercom_locale(record.locale) if record.locale else default,
                  str(mapped.get("title") or record.title), str(mapped.get("body") or ""), record.body_html,
                  forced or str(mapped.get("state") or record.state))
    raw = {t.locale: t for t in record.translations}
    others = [Content(source_locale, intercom_locale(source_locale), str(content.get("title") or record.title), str(content.get("body") or ""),
                      raw[source_locale].body_html if source_locale in raw else "", forced or str(content.get("state") or "published"))
              for source_locale, content in (mapped.get("translated_content") or {}).items()]
    if own.locale == default:
        return own, others, None
    for index, other in enumerate(others):
        if other.locale == default:
            return other, [own, *others[:index], *others[index + 1:]], None
    note = (f"written in {own.source_locale} with no {default} version: its {default} content is a draft copy of the "
            f"{own.source_locale} text, to translate before publishing")
    return replace(own, locale=default, state="draft"), [own, *others], note


def _article_body(loader: IntercomLoader, record: Article, payload: Payload, main: Content, others: list[Content], fixed: dict[str, Any],
                  notes: ArticleNotes, links: LinkIndex) -> dict[str, Any]:
    source = _sendable(payload.body)
    main_html = main.body
    footer = payload.body.get("footer")
    if footer:
        main_html += f"<p>{html.escape(str(footer))}</p>"
        report_of(loader).footer_dates += 1
    _count_removed(notes, main.original_html, main_html)
    main_html = _with_files(loader, record, main_html, notes) + _attachment_list(loader, record, notes)
    main_html = links.rewrite(main_html, record.url, None, notes)
    body: dict[str, Any] = {"title": main.title, "body": main_html, **{k: v for k, v in fixed.items() if v is not None}}
    if source.get("description"):
        body["description"] = source["description"]
    if fixed["parent_id"] is not None:
        body["parent_type"] = "collection"
    translated = _translations(loader, record, main, others, fixed, notes, links)
    if translated:
        body["translated_content"] = translated
    return body


def _translations(loader: IntercomLoader, record: Article, main: Content, others: list[Content], fixed: dict[str, Any], notes: ArticleNotes,
                  links: LinkIndex) -> dict[str, Any]:
    enabled = enabled_locales(settings_of(loader))
    translated: dict[str, Any] = {}
    for content in others:
        locale = content.locale
        if locale is None or locale not in enabled or locale in translated or locale == main.locale:
            why = "Intercom has no such Help Center language" if locale is None else (
                f"the Help Center does not have {locale} enabled" if locale not in enabled else f"a second version in {locale}")
            notes.translations_not_imported.append(f"{content.source_locale}: {why}")
            continue
        _count_removed(notes, content.original_html, content.body)
        body = links.rewrite(_with_files(loader, record, content.body, notes), record.url, locale, notes)
        translated[locale] = {"type": "article_content", "title": content.title, "body": body, "author_id": fixed["author_id"],
                              "state": content.state}
    return translated


def _write_article(loader: IntercomLoader, source_id: str, body: dict[str, Any], digest: str, row: IdMapRow | None, result: PhaseResult) -> None:
    if row is not None and row.state == "done" and row.intercom_id:
        previous = _without_urls(row.body)
        try:
            saved = loader.client.update_article(row.intercom_id, body)
        except RejectedError as error:
            if error.status != 404:
                raise
            loader.ledger.forget("articles", source_id)
            return _write_article(loader, source_id, body, digest, None, result)
        loader.ledger.record_write(loader.run_id, "articles", "articles", source_id, intercom_id=row.intercom_id, action="update",
                                   origin="created", payload_hash=digest, body=_with_urls(body, saved), before=previous)
        result.add("updated")
        return
    found, reconciled = _create_once(loader, "articles", source_id, row, loader.client.create_article, body,
                                     lambda item: item.get("title") == body["title"] and _same_parent(item, body))
    if reconciled:
        found = loader.client.update_article(str(found["id"]), body)
    loader.ledger.record_write(loader.run_id, "articles", "articles", source_id, intercom_id=str(found["id"]), action="create",
                               origin="created", payload_hash=digest, body=_with_urls(body, found))
    result.add("created")


# -- HTML: what was removed, images and attachments ----------------------------------------------------


class _TagCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1


def count_tags(markup: str) -> Counter[str]:
    counter = _TagCounter()
    counter.feed(markup)
    counter.close()
    return counter.tags


def _count_removed(notes: ArticleNotes, original: str, sent: str) -> None:
    removed = count_tags(original) - count_tags(sent)
    for tag, count in removed.items():
        notes.removed_tags[tag] = notes.removed_tags.get(tag, 0) + count


def _with_files(loader: IntercomLoader, record: Article, markup: str, notes: ArticleNotes) -> str:
    """Every <img> gets an absolute public URL, a re-hosted copy, or becomes a note in the text (and a report line)."""

    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        src_match = SRC_ATTRIBUTE.search(tag)
        if src_match is None:
            return tag
        original = html.unescape(src_match.group(1))
        absolute = urljoin(record.url or "", original)
        if urlsplit(absolute).scheme not in ("http", "https"):
            notes.files.append({"url": original[:200], "outcome": "removed: not a web address Intercom can fetch"})
            return _placeholder(tag, original)
        public = _public_url(loader, record, absolute, notes)
        if public is None:
            return _placeholder(tag, absolute)
        return tag.replace(src_match.group(0), f'src="{html.escape(public)}"')

    return IMG_TAG.sub(replace, markup)


def _public_url(loader: IntercomLoader, record: Article, url: str, notes: ArticleNotes) -> str | None:
    """The URL Intercom can fetch for a source file: as is when public, else a re-hosted copy; None when neither."""
    files: SourceFiles | None = loader.source_files
    if files is None or not files.owns(url) or files.is_public(url):
        return url
    name = _file_name(url)
    try:
        content, _ = files.download(url)
    except (LoadError, SourceError, requests.RequestException) as error:
        notes.files.append({"url": url, "outcome": f"behind the source's login and could not be downloaded: {error}"})
        return None
    saved = _save_asset(loader, record.source_id, name, content)
    base = settings_of(loader).asset_base_url
    if base:
        public = f"{base.rstrip('/')}/{quote(record.source_id)}/{quote(name)}"
        notes.files.append({"url": url, "outcome": "re-hosted", "file": str(saved), "new_url": public})
        return public
    notes.files.append({"url": url, "outcome": "behind the source's login: downloaded, not linked (set load.help_center.asset_base_url "
                        "to re-host)", "file": str(saved)})
    return None


def _placeholder(tag: str, url: str) -> str:
    alt = ALT_ATTRIBUTE.search(tag)
    label = html.unescape(alt.group(1)) if alt and alt.group(1) else _file_name(url)
    return f"[image: {html.escape(label)}]"


def _file_name(url: str) -> str:
    parts = urlsplit(url)
    query_name = re.search(r"(?:^|&)name=([^&]+)", parts.query)
    name = unquote(query_name.group(1)) if query_name else unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"


def _save_asset(loader: IntercomLoader, article_id: str, name: str, content: bytes) -> Path:
    folder = (settings_of(loader).asset_dir or loader.asset_dir or Path("help_center_assets")) / re.sub(r"[^A-Za-z0-9._-]+", "_", article_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def _attachment_list(loader: IntercomLoader, record: Article, notes: ArticleNotes) -> str:
    """Block attachments (not in the body) become a list of links at the end; those that cannot be linked are reported."""
    items = []
    for attachment in record.attachments:
        if attachment.inline or _mentioned(record.body_html, attachment):
            continue
        url = _public_url(loader, record, urljoin(record.url or "", attachment.url), notes) if attachment.url else None
        if url:
            items.append(f'<li><a href="{html.escape(url)}">{html.escape(attachment.filename)}</a></li>')
        elif not attachment.url:
            notes.files.append({"url": attachment.filename, "outcome": "attachment without a URL"})
    return f"<p><b>Attachments</b></p><ul>{''.join(items)}</ul>" if items else ""


def _mentioned(markup: str, attachment: Attachment) -> bool:
    return bool(attachment.url) and (attachment.url in markup or html.escape(attachment.url) in markup)


# -- links between articles ----------------------------------------------------------------------------


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
        for entity in ("collections", "articles"):
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


def path_key(url: str) -> str:
    """A URL's path without its slug ("/article/123-setting-up" → "/article/123"), to match a link in any form."""
    path = urlsplit(url).path.rstrip("/")
    head, _, last = path.rpartition("/")
    number = re.match(r"\d+", last)
    return f"{head}/{number.group(0)}" if number else path


def rewrite_article_links(loader: IntercomLoader, payloads: Iterable[Payload] = ()) -> PhaseResult:
    """The second pass: once every article exists, point links between them at their Intercom URLs."""
    result = PhaseResult("article_links")
    if loader.ledger.count_id_rows("articles") == 0:
        return result
    loader.ledger.start_phase(loader.run_id, "article_links", None)
    index = replace(LinkIndex.from_ledger(loader), final=True)
    report = report_of(loader)
    for row in list(loader.ledger.iter_id_rows("articles")):
        if row.state != "done" or row.origin != "created" or not row.intercom_id:
            continue
        record = loader.ledger.staged_record("articles", row.source_id)
        base = record.url if isinstance(record, Article) else None
        title = record.title if isinstance(record, Article) else row.source_id
        try:
            _rewrite_one(loader, row, base, index, report.notes(row.source_id, title), result)
        except LoadError as error:
            loader.fail("article_links", "articles", row.source_id, error)
            result.add("failed")
    loader.ledger.finish_phase(loader.run_id, "article_links")
    return result


def _rewrite_one(loader: IntercomLoader, row: IdMapRow, base: str | None, index: LinkIndex, notes: ArticleNotes, result: PhaseResult) -> None:
    stored = _without_urls(row.body)
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
    loader.ledger.record_write(loader.run_id, "article_links", "articles", row.source_id, intercom_id=str(row.intercom_id),
                               action="update", origin="created", payload_hash=row.payload_hash or "",
                               body=_with_urls({**stored, **change}, saved), before=before)
    result.add("links_rewritten")


# -- the redirect map ----------------------------------------------------------------------------------


def redirect_rows(ledger: Ledger, forms: HelpCenterUrls = HelpCenterUrls()) -> Iterator[dict[str, str]]:
    """Old public URL → new Intercom URL for every migrated article (and its translations) and collection.

    A source URL with a slug ("/hc/en-us/articles/400-How-to-install") comes with its slug-free form too: the sources
    serve a page under any slug, so old links and bookmarks carry older slugs, and a redirect rule needs the id form.
    """
    for entity in ("collections", "articles"):
        for row in ledger.iter_id_rows(entity):
            if row.state != "done" or row.origin not in ("created", "merged"):
                continue
            record = ledger.staged_record(entity, row.source_id)
            old = getattr(record, "url", None) or (record.custom_fields.get("html_url") if record is not None else None)
            urls = (row.body or {}).get(INTERCOM_KEY) or _merged_urls(ledger, entity, row)
            if not old or not urls.get("url"):
                continue
            if isinstance(record, Article):
                by_locale = {**(urls.get("urls") or {}), str(urls.get("locale") or "en"): urls["url"]}
                own = intercom_locale(record.locale)
                for form in url_forms(old):
                    yield {"old_url": form, "new_url": by_locale.get(own or "", urls["url"]), "kind": "article", "source_id": row.source_id,
                           "locale": own if own in by_locale else ""}
                yield from _translation_redirects(record, old, by_locale, forms)
            else:
                for form in url_forms(old):
                    yield {"old_url": form, "new_url": urls["url"], "kind": entity[:-1], "source_id": row.source_id, "locale": ""}


def url_forms(url: str) -> list[str]:
    """The URL as the source gave it, then its slug-free form when it has a slug."""
    parts = urlsplit(url)
    bare = urlunsplit((parts.scheme, parts.netloc, path_key(url), "", ""))
    return [url] if bare == url.rstrip("/") else [url, bare]


def _merged_urls(ledger: Ledger, entity: str, row: IdMapRow) -> dict[str, Any]:
    for other in ledger.iter_id_rows(entity):
        if other.intercom_id == row.intercom_id and other.origin == "created":
            return (other.body or {}).get(INTERCOM_KEY) or {}
    return {}


def _translation_redirects(record: Article, old: str, urls: dict[str, str], forms: HelpCenterUrls) -> Iterator[dict[str, str]]:
    """Where the source addresses a translation by URL (Zendesk: /hc/{locale}/…); its slug (in its own language) is not in
    the record, so the id form."""
    bare = url_forms(old)[-1]
    for translation in record.translations:
        locale = intercom_locale(translation.locale)
        old_translated = forms.translation_url(bare, translation.locale) if locale in urls else None
        if old_translated is not None:
            yield {"old_url": old_translated, "new_url": urls[str(locale)], "kind": "article", "source_id": record.source_id, "locale": str(locale)}


# -- what `plan` can tell before loading ---------------------------------------------------------------


def article_loss_preview(record: Article, mapped: dict[str, Any], settings: HelpCenterConfig) -> dict[str, Any]:
    """What loading this article will lose or change, from the staged record and its mapped body alone (no HTTP call).

    Whether an image on the source's own site needs its login is only known by asking that site, at load time; here
    such images are listed as to be checked.
    """
    main, others, language = article_contents(record, mapped, settings)
    enabled = enabled_locales(settings)
    removed: Counter[str] = count_tags(main.original_html) - count_tags(main.body)
    not_imported: list[str] = []
    kept = [main]
    for content in others:
        if content.locale is None or content.locale not in enabled or content.locale == main.locale:
            not_imported.append(f"{content.source_locale}: " + ("Intercom has no such Help Center language" if content.locale is None
                                                                 else f"the Help Center does not have {content.locale} enabled"
                                                                 if content.locale not in enabled else f"a second version in {content.locale}"))
            continue
        removed.update(count_tags(content.original_html) - count_tags(content.body))
        kept.append(content)
    own_host = urlsplit(record.url or "").netloc.lower()
    removed_images, source_images = [], []
    for content in kept:
        for tag in IMG_TAG.findall(content.body):
            src = SRC_ATTRIBUTE.search(tag)
            if src is None:
                continue
            absolute = urljoin(record.url or "", html.unescape(src.group(1)))
            parts = urlsplit(absolute)
            if parts.scheme not in ("http", "https"):
                removed_images.append(html.unescape(src.group(1))[:200])
            elif own_host and parts.netloc.lower() == own_host:
                source_images.append(absolute)
    attachments = [a.url for a in record.attachments if not a.inline and a.url and urlsplit(urljoin(record.url or "", a.url)).netloc.lower() == own_host]
    found: dict[str, Any] = {}
    if removed:
        found["removed_tags"] = dict(sorted(removed.items()))
    if attachments:
        found["attachments_on_source_site"] = attachments
    if removed_images:
        found["images_removed"] = removed_images
    if source_images:
        found["images_on_source_site"] = source_images
    if not_imported:
        found["translations_not_imported"] = not_imported
    if language:
        found["language"] = language
    return found
