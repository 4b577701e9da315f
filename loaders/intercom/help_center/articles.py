"""Phase `articles`: each source article → one Help Center article with its translations, in the Help Center's
default language first; images re-hosted or reported, links to other articles pointed at Intercom (those not yet
migrated follow in the `article_links` pass), and per article what could not come along (the content-loss report)."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from deskmigrate.core.errors import LoadError
from deskmigrate.core.ledger import IdMapRow
from deskmigrate.core.model import Article
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.help_center.contents import Content, article_contents
from deskmigrate.loaders.intercom.help_center.files import attachment_list, count_removed, with_files
from deskmigrate.loaders.intercom.help_center.links import LinkIndex
from deskmigrate.loaders.intercom.help_center.locales import enabled_locales
from deskmigrate.loaders.intercom.help_center.objects import HelpCenterObject, object_kind, sendable, undo_kind, verifier
from deskmigrate.loaders.intercom.help_center.preview import help_center_preview, preview_article
from deskmigrate.loaders.intercom.help_center.report import ArticleNotes, report_of, settings_of
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, body_hash
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.undo import Undo
from deskmigrate.loaders.intercom.write import write_object

NAME = ENTITY = "articles"
COLLECTIONS = "collections"

KIND = HelpCenterObject(
    ENTITY, "/articles", "title", create=lambda client: client.create_article, update=lambda client: client.update_article,
    read=lambda client, intercom_id: client.get_article(intercom_id), delete=lambda client, intercom_id: client.delete_article(intercom_id),
)


def load_articles(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    result = PhaseResult(NAME)
    links = LinkIndex.from_ledger(loader)
    loader.run_phase(NAME, payloads, lambda payload: _load_article(loader, payload, links, result), result)
    return result


def _load_article(loader: IntercomLoader, payload: Payload, links: LinkIndex, result: PhaseResult) -> None:
    record = loader.ledger.staged_record(ENTITY, payload.source_id)
    if not isinstance(record, Article):
        raise LoadError(f"article {payload.source_id} is not staged")
    parent = _article_parent(loader, record)
    if parent == "":
        result.add("skipped")
        return
    author, matched = _author(loader, record)
    main, others, language_note = article_contents(record, payload.body, settings_of(loader))
    fixed = {"author_id": author, "state": main.state, "parent_id": int(parent) if parent else None}

    def unchanged(row: IdMapRow, digest: str, build: Callable[[], dict[str, Any]]) -> bool:
        return row.payload_hash == digest and _same_fixed(row.body, fixed)

    def build() -> dict[str, Any]:
        """The body to send (only when something is sent: it fetches images, and notes what could not come along)."""
        notes = report_of(loader).notes(record.source_id, record.title)
        if not matched:
            notes.author = f"source author {record.author_id or '(none)'} has no Intercom admin with that email: written by admin {author}"
        notes.language = language_note
        return _article_body(loader, record, payload, main, others, fixed, notes, links)

    kind = object_kind(loader, KIND, unchanged=unchanged, updatable=lambda row: True)
    result.add(write_object(loader, kind, record.source_id, body_hash(payload.body), build))


def _article_parent(loader: IntercomLoader, record: Article) -> str | None:
    """The parent collection's Intercom id; None for a standalone article; "" when its collection was skipped."""
    if not record.collection_id:
        return None
    row = loader.ledger.id_row(COLLECTIONS, record.collection_id)
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


def _article_body(loader: IntercomLoader, record: Article, payload: Payload, main: Content, others: list[Content], fixed: dict[str, Any],
                  notes: ArticleNotes, links: LinkIndex) -> dict[str, Any]:
    source = sendable(payload.body)
    main_html = main.body
    footer = payload.body.get("footer")
    if footer:
        main_html += f"<p>{html.escape(str(footer))}</p>"
        report_of(loader).footer_dates += 1
    count_removed(notes, main.original_html, main_html)
    main_html = with_files(loader, record, main_html, notes) + attachment_list(loader, record, notes)
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
        count_removed(notes, content.original_html, content.body)
        body = links.rewrite(with_files(loader, record, content.body, notes), record.url, locale, notes)
        translated[locale] = {"type": "article_content", "title": content.title, "body": body, "author_id": fixed["author_id"],
                              "state": content.state}
    return translated


ARTICLES = Phase(
    NAME, ENTITY, "article", load_articles,
    requires=(COLLECTIONS,),
    undo=Undo(records=(undo_kind(KIND, NAME),)),
    verify=(verifier(KIND),),
    preview=preview_article,
    plan_report=help_center_preview,
)
