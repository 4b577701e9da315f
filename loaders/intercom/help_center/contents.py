"""An article's language versions: the Help Center's default language is Intercom's main title and body; an article
written in another language takes its default-language translation as main content and becomes a translation itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from deskmigrate.core.config import HelpCenterConfig
from deskmigrate.core.model import Article
from deskmigrate.loaders.intercom.help_center.locales import intercom_locale


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
