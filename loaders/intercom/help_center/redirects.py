"""The redirect map: old public URL → new Intercom URL for every migrated article (and its translations) and collection,
as CSV for a web server's or DNS provider's redirect rules (0600), written once the Help Center phases have run."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.core.model import Article
from deskmigrate.loaders.intercom.help_center.locales import intercom_locale
from deskmigrate.loaders.intercom.help_center.objects import INTERCOM_KEY
from deskmigrate.loaders.intercom.help_center.report import report_of
from deskmigrate.loaders.intercom.loader import IntercomLoader

REDIRECTS_FILE = "redirects.csv"
COLLECTIONS, ARTICLES = "collections", "articles"
COLUMNS = ["old_url", "new_url", "kind", "source_id", "locale"]


def write_redirect_map(loader: IntercomLoader) -> None:
    """Written into the state folder when anything has a new URL; its path goes in the Help Center report."""
    rows = list(redirect_rows(loader.ledger, loader.help_center_urls))
    if not rows or loader.state_dir is None:
        return
    path = loader.state_dir / REDIRECTS_FILE
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    path.chmod(0o600)
    report_of(loader).redirect_map = str(path)


def redirect_rows(ledger: Ledger, forms: HelpCenterUrls = HelpCenterUrls()) -> Iterator[dict[str, str]]:
    """Old public URL → new Intercom URL for every migrated article (and its translations) and collection.

    A source URL with a slug ("/hc/en-us/articles/400-How-to-install") comes with its slug-free form too: the sources
    serve a page under any slug, so old links and bookmarks carry older slugs, and a redirect rule needs the id form.
    """
    for entity in (COLLECTIONS, ARTICLES):
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


def path_key(url: str) -> str:
    """A URL's path without its slug ("/article/123-setting-up" → "/article/123"), to match a link in any form."""
    path = urlsplit(url).path.rstrip("/")
    head, _, last = path.rpartition("/")
    number = re.match(r"\d+", last)
    return f"{head}/{number.group(0)}" if number else path
