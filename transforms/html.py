"""HTML to plain text (keeping line breaks and link URLs) and HTML sanitising to what Intercom accepts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK_TAGS = frozenset(
    "p div section article header footer blockquote pre table tr ul ol dl dt dd h1 h2 h3 h4 h5 h6 hr figure figcaption address form fieldset".split()
)
SKIPPED_CONTENT_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
TAG_NAME = re.compile(r"<\s*([a-zA-Z][a-zA-Z0-9-]*)")
LINK_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}}

# What Intercom keeps: help-center articles
# (https://developers.intercom.com/docs/guides/help-center/supported-html/), conversation
# replies and notes ("some HTML"), and a minimal inline profile.
SANITIZE_PROFILES: dict[str, frozenset[str]] = {
    "article": frozenset(
        "p br hr h1 h2 h3 h4 h5 h6 a img ul ol li b strong i em u s code pre blockquote table thead tbody tfoot tr th td caption sub sup iframe".split()
    ),
    "conversation": frozenset("p br a img ul ol li b strong i em u code pre blockquote".split()),
    "basic": frozenset("p br a b strong i em ul ol li".split()),
}


def tag_names(html: str) -> set[str]:
    """The lower-case names of the tags opened in `html`."""
    return {name.lower() for name in TAG_NAME.findall(html)}


# Video embeds an Intercom article keeps (https://www.intercom.com/help/en/articles/4103903); other iframes are removed.
EMBED_HOSTS = frozenset({
    "www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "player.vimeo.com", "fast.wistia.net", "fast.wistia.com", "www.loom.com",
})
IFRAME = re.compile(r"<iframe\b[^>]*>.*?</iframe>", re.IGNORECASE | re.DOTALL)
IFRAME_SRC = re.compile(r"\bsrc=\"(?:https?:)?//([^/\"]+)")


def sanitize(html: str, profile: str) -> tuple[str, set[str]]:
    """Keep only the profile's tags (and safe link/image attributes); return the HTML and the tag names removed."""
    allowed = SANITIZE_PROFILES[profile]
    removed = tag_names(html) - allowed
    attributes = {tag: names for tag, names in LINK_ATTRIBUTES.items() if tag in allowed}
    attributes.update({tag: {"colspan", "rowspan"} for tag in ("td", "th") if tag in allowed})
    if "iframe" in allowed:
        attributes["iframe"] = {"src", "width", "height", "allowfullscreen", "frameborder"}
    import nh3  # imported when HTML is cleaned, not with every command (start-up time)

    cleaned = nh3.clean(html, tags=set(allowed), attributes=attributes, url_schemes={"http", "https", "mailto", "tel"})
    if "iframe" in allowed:
        cleaned, dropped_embeds = _drop_foreign_embeds(cleaned)
        if dropped_embeds:
            removed.add("iframe")
    return cleaned, removed


def _drop_foreign_embeds(html: str) -> tuple[str, int]:
    dropped = 0

    def keep_or_drop(match: re.Match[str]) -> str:
        nonlocal dropped
        host = IFRAME_SRC.search(match.group(0))
        if host and host.group(1).lower() in EMBED_HOSTS:
            return match.group(0)
        dropped += 1
        return ""

    return IFRAME.sub(keep_or_drop, html), dropped


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.links: list[tuple[str, int]] = []  # (href, chunk index where the link text starts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in SKIPPED_CONTENT_TAGS:
            self.skip_depth += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag in ("td", "th"):
            self.chunks.append("\t")
        elif tag == "img" and attributes.get("src"):
            alt = (attributes.get("alt") or "").strip()
            self.chunks.append(f"[image: {alt} {attributes['src']}]" if alt else f"[image: {attributes['src']}]")
        elif tag == "a":
            self.links.append((attributes.get("href") or "", len(self.chunks)))
        if tag in BLOCK_TAGS:
            self.chunks.append("\n\n")
        if tag == "pre":
            self.pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in SKIPPED_CONTENT_TAGS:
            self.skip_depth -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_CONTENT_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.chunks[start:]).strip()
            if href and not href.startswith(("#", "javascript:")) and href not in (text, f"mailto:{text}"):
                self.chunks.append(f" ({href})" if text else href)
        if tag in BLOCK_TAGS:
            self.chunks.append("\n\n")
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            self.chunks.append(data.replace("\n", "\x00"))
        else:
            self.chunks.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text: blocks and <br> become line breaks, list items '- ', links 'text (url)'."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "".join(extractor.chunks)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r" {2,}", " ", text)
    return text.strip().replace("\x00", "\n")
