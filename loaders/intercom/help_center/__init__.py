"""The Help Center phases: collections (nested, at most three levels) → articles (HTML, images, translations) → links
between articles rewritten (`article_links`, which also writes the redirect map)."""

from __future__ import annotations

from deskmigrate.loaders.intercom.help_center.articles import ARTICLES
from deskmigrate.loaders.intercom.help_center.collections import COLLECTIONS
from deskmigrate.loaders.intercom.help_center.links import ARTICLE_LINKS, LinkIndex
from deskmigrate.loaders.intercom.help_center.locales import intercom_locale
from deskmigrate.loaders.intercom.help_center.preview import article_loss_preview
from deskmigrate.loaders.intercom.help_center.redirects import path_key, redirect_rows

__all__ = ["ARTICLES", "ARTICLE_LINKS", "COLLECTIONS", "LinkIndex", "article_loss_preview", "intercom_locale", "path_key", "redirect_rows"]
