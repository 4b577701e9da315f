"""What `plan` can tell of the Help Center load before anything is written: per article, what it will lose or change."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any
from urllib.parse import urljoin, urlsplit

from deskmigrate.core.config import HelpCenterConfig, LoadConfig
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Article
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.help_center.contents import article_contents
from deskmigrate.loaders.intercom.help_center.files import IMG_TAG, SRC_ATTRIBUTE, count_tags
from deskmigrate.loaders.intercom.help_center.locales import enabled_locales
from deskmigrate.loaders.intercom.help_center.report import DETAILS_KEY


def preview_article(ledger: Ledger, payload: Payload, settings: LoadConfig) -> dict[str, Any] | None:
    """The plan's line for one article: what loading it will lose or change; None when nothing."""
    record = ledger.staged_record(payload.entity, payload.source_id)
    if not isinstance(record, Article):
        return None
    loss = article_loss_preview(record, payload.body, settings.help_center)
    return {"source_id": payload.source_id, "title": record.title, **loss} if loss else None


def help_center_preview(ledger: Ledger, settings: LoadConfig, article_losses: dict[str, dict[str, Any]], rejected: set[str]) -> dict[str, Any]:
    """The plan's report section: totals and the per-article list of what the Help Center load will lose."""
    if not article_losses:
        return {}
    removed: dict[str, int] = {}
    for loss in article_losses.values():
        for tag, n in loss.get("removed_tags", {}).items():
            removed[tag] = removed.get(tag, 0) + n
    return {DETAILS_KEY: {
        "articles_with_losses": len(article_losses), "removed_tags_total": dict(sorted(removed.items())),
        "images_on_source_site": sum(len(loss.get("images_on_source_site", [])) for loss in article_losses.values()),
        "images_on_source_site_note": "whether these need the source's login is checked at load (one anonymous request each); "
                                      "those that do are re-hosted through load.help_center.asset_dir/asset_base_url or listed",
        "articles": [article_losses[key] for key in sorted(article_losses)],
    }}


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
