"""Secrets out of every text that leaves the process (logs, reports, errors), and URL rebasing for proxies."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from deskmigrate.core.http.policy import EXCERPT_CHARS, REDACTED

log = logging.getLogger(__name__)


_AUTH_HEADER = re.compile(r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;}]{8,}")
# base64 credentials hold a digit, + / or = padding; the lookahead keeps prose like "basic attribute" intact
_BASIC = re.compile(r"(?i)\b(basic\s+)(?=[A-Za-z]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and its URL-encoded form), bearer/basic credentials and Authorization headers by ***."""
    variants = {variant for secret in secrets if secret for variant in (secret, quote(secret, safe=""))}
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in (_AUTH_HEADER, _BEARER, _BASIC):
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def excerpt(text: str, secrets: Iterable[str], limit: int = EXCERPT_CHARS) -> str:
    """The first `limit` characters of `text`, redacted (before cutting, so no secret is left half-shown)."""
    secrets = [s for s in secrets if s]
    longest = max((len(quote(s, safe="")) for s in secrets), default=0)
    cleaned = redact(text[: limit + longest + 64], secrets)
    return cleaned if len(cleaned) <= limit and len(text) <= limit else cleaned[:limit] + "…"


def response_excerpt(response: requests.Response, secrets: Iterable[str], limit: int = EXCERPT_CHARS) -> str:
    """A redacted excerpt of a response body, read without decoding more than needed."""
    secrets = list(secrets)
    longest = max((len(s) * 3 for s in secrets if s), default=0)
    raw = (response.content or b"")[: (limit + longest + 64) * 4]
    return excerpt(raw.decode(response.encoding or "utf-8", errors="replace"), secrets, limit)





def rebase_url(absolute_url: str, root: str, api_prefix: str) -> str:
    """Point a next-page link the server wrote with its own host at `root` (proxies, test servers), keeping path and query.

    The part of the link's path after `api_prefix` ("/api/v2") is put under root's path; a path without it is kept whole.
    """
    parts = urlsplit(absolute_url)
    root_parts = urlsplit(root)
    path = parts.path
    api_at = path.find(f"{api_prefix}/")
    if api_at >= 0:
        path = root_parts.path.rstrip("/") + path[api_at + len(api_prefix) :]
    return urlunsplit((root_parts.scheme, root_parts.netloc, path, parts.query, ""))
