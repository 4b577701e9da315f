"""Article HTML: what the mapping removed (counted per tag), images (an absolute public URL, a re-hosted copy, or a note
in the text and a report line) and block attachments (a list of links at the end)."""

from __future__ import annotations

import html
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests

from deskmigrate.core.errors import LoadError, SourceError
from deskmigrate.core.files import SourceFiles
from deskmigrate.core.model import Article, Attachment
from deskmigrate.loaders.intercom.help_center.report import ArticleNotes, settings_of
from deskmigrate.loaders.intercom.loader import IntercomLoader

IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
SRC_ATTRIBUTE = re.compile(r"\bsrc=\"([^\"]*)\"", re.IGNORECASE)
ALT_ATTRIBUTE = re.compile(r"\balt=\"([^\"]*)\"", re.IGNORECASE)


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


def count_removed(notes: ArticleNotes, original: str, sent: str) -> None:
    removed = count_tags(original) - count_tags(sent)
    for tag, count in removed.items():
        notes.removed_tags[tag] = notes.removed_tags.get(tag, 0) + count


def with_files(loader: IntercomLoader, record: Article, markup: str, notes: ArticleNotes) -> str:
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


def attachment_list(loader: IntercomLoader, record: Article, notes: ArticleNotes) -> str:
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
