"""Where a source's public Help Center URLs name its articles and collections: a connector declares them, the loader
reads links between articles with them (to point them at Intercom) and writes the redirect map."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

HelpCenterEntity = Literal["articles", "collections"]


@dataclass(frozen=True)
class UrlPattern:
    """A URL path form naming one record: `pattern` has an `id` group (and may have a `locale` group); the record's
    source id is `id_prefix` + that id ("section:" + "300" for a Zendesk section)."""

    entity: HelpCenterEntity
    pattern: re.Pattern[str]
    id_prefix: str = ""


@dataclass(frozen=True)
class TranslatedUrl:
    """How the source addresses a translation of an article: the part of its URL naming the language (`pattern`) is
    replaced by `replacement` with `{locale}` filled in ("/hc/en-us/" → "/hc/de/")."""

    pattern: re.Pattern[str]
    replacement: str


@dataclass(frozen=True)
class HelpCenterUrls:
    """A source's Help Center URL forms; none by default (links are then matched by the articles' own URLs only)."""

    patterns: tuple[UrlPattern, ...] = ()
    translated: TranslatedUrl | None = None

    def target_of(self, path: str) -> tuple[HelpCenterEntity, str, str | None] | None:
        """(entity, source id, the locale in the URL) for a path naming an article, else a collection; None if it names neither."""
        for entity in ("articles", "collections"):
            for form in self.patterns:
                found = form.pattern.search(path) if form.entity == entity else None
                if found:
                    return form.entity, form.id_prefix + found.group("id"), found.groupdict().get("locale")
        return None

    def translation_url(self, url: str, locale: str) -> str | None:
        """The URL of the article at `url` in `locale`, when the source addresses translations by URL."""
        if self.translated is None or not self.translated.pattern.search(url):
            return None
        replacement = self.translated.replacement.format(locale=locale)
        return self.translated.pattern.sub(lambda _: replacement, url, count=1)
