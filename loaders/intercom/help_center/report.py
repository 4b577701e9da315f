"""What the Help Center phases report beyond counts: per article what could not come along (the content-loss report),
the lines about collections, and where the redirect map was written."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.config import HelpCenterConfig
from deskmigrate.loaders.intercom.loader import IntercomLoader

log = logging.getLogger(__name__)
DETAILS_KEY = "help_center"


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
    redirect_map: str | None = None  # the CSV of old URL → new Intercom URL, once written
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
            **({"redirect_map": self.redirect_map} if self.redirect_map else {}),
        }


def report_of(loader: IntercomLoader) -> HelpCenterReport:
    found = loader.details.get(DETAILS_KEY)
    if not isinstance(found, HelpCenterReport):
        found = loader.details[DETAILS_KEY] = HelpCenterReport()
    return found


def settings_of(loader: IntercomLoader) -> HelpCenterConfig:
    return loader.settings.help_center
