"""Help Center languages: a source locale as one of Intercom's Help Center locales, and those the Help Center has."""

from __future__ import annotations

from deskmigrate.core.config import HelpCenterConfig

# The locale keys of `article_translated_content` in the 2.15 spec (reference/api-facts.md § 1.9).
INTERCOM_LOCALES = frozenset(
    "ar bg bs ca cs da de el en es et fi fr he hr hu id it ja ko lt lv mn nb nl pl pt ro ru sl sr sv tr vi pt-BR zh-CN zh-TW".split()
)


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
