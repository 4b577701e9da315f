"""Help Center articles with translated content, in collections or at the help center's root.

What the emulator enforces, as Intercom does: `author_id` is an integer naming a teammate, `<img src>` is an
absolute http(s) URL that can be fetched (https://developers.intercom.com/docs/guides/help-center/supported-html/:
"if the upload fails, the whole request fails"), translated content only in the locales Intercom supports.
Images on loopback hosts are fetched without credentials, as Intercom's image upload would; images elsewhere are
only checked for an absolute URL (the sandbox stays offline).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import requests

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.resources.help_center import INTERCOM_LOCALES, ensure_help_centers, help_center_url, page_of, slug
from deskmigrate.sandbox.validation import INTEGER, OBJECT, STRING

FIRST_ARTICLE_ID = 40
IMAGE_FETCH_TIMEOUT_S = 3.0
LOOPBACK_NAMES = frozenset({"localhost"})
IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)

ARTICLE_FIELDS = {
    "title": STRING, "description": STRING, "body": STRING, "author_id": INTEGER, "state": STRING,
    "parent_id": "id", "parent_type": STRING, "translated_content": OBJECT,
}
ARTICLE_CONTENT_FIELDS = {"type", "title", "description", "body", "author_id", "state"}


def load_article(ctx: RequestContext, article_id: Any) -> dict[str, Any]:
    article = ctx.db.get("articles", str(article_id))
    if article is None:
        raise not_found()
    return article


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_images(html: str, field: str) -> None:
    for match in IMG_SRC.finditer(html):
        src = match.group(1).strip("\"'").replace("&amp;", "&")
        parts = urlsplit(src)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_request(f"Image source must be an absolute, public URL: {src[:200]}", field=field)
        if is_loopback(parts.hostname or ""):
            _fetch_like_intercom(src, field)


def _fetch_like_intercom(src: str, field: str) -> None:
    try:
        response = requests.get(src, timeout=IMAGE_FETCH_TIMEOUT_S, allow_redirects=True)
    except requests.RequestException:
        raise bad_request(f"Image could not be uploaded: {src[:200]}", field=field) from None
    with response:
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("image/"):
            raise bad_request(f"Image could not be uploaded ({response.status_code}): {src[:200]}", field=field)


def check_author(ctx: RequestContext, author_id: Any, field: str) -> None:
    if not isinstance(author_id, int) or isinstance(author_id, bool):
        raise bad_request(f"{field} must be an integer", field=field)
    if ctx.db.get("admins", str(author_id)) is None:
        raise bad_request(f"{field} must be a teammate of this workspace", field=field)


def check_state(state: Any, field: str) -> None:
    if state not in ("published", "draft"):
        raise bad_request(f"{field} must be published or draft", field=field)


def check_article_content(ctx: RequestContext, translated: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(translated, dict):
        raise bad_request("translated_content must be an object", field="translated_content")
    contents: dict[str, dict[str, Any]] = {}
    for locale, content in translated.items():
        if locale == "type":
            continue
        where = f"translated_content.{locale}"
        if locale not in INTERCOM_LOCALES:
            raise bad_request(f"'{locale}' is not a supported locale", field="translated_content")
        if not isinstance(content, dict) or set(content) - ARTICLE_CONTENT_FIELDS:
            raise bad_request(f"{where} must be an article_content object", field=where)
        if content.get("author_id") is not None:
            check_author(ctx, content["author_id"], f"{where}.author_id")
        if content.get("state") is not None:
            check_state(content["state"], f"{where}.state")
        check_images(str(content.get("body") or ""), f"{where}.body")
        contents[locale] = {key: content.get(key) for key in ARTICLE_CONTENT_FIELDS - {"type"}}
    return contents


def check_parent(ctx: RequestContext, body: dict[str, Any]) -> str | None:
    parent_id = body.get("parent_id")
    if parent_id is None:
        return None
    if isinstance(parent_id, bool) or not re.fullmatch(r"\d+", str(parent_id)):
        raise bad_request("parent_id must be an id", field="parent_id")
    if body.get("parent_type", "collection") not in ("collection", "section"):
        raise bad_request("parent_type must be collection or section", field="parent_type")
    if ctx.db.get("collections", str(parent_id)) is None:
        raise bad_request("Parent not found", field="parent_id")
    return str(parent_id)


def check_article_body(ctx: RequestContext, body: dict[str, Any], *, creating: bool) -> None:
    for key, value in body.items():
        if key not in ARTICLE_FIELDS:
            raise ApiError(400, "bad_request", f"bad '{key}' parameter")
        expected = ARTICLE_FIELDS[key]
        if value is None or expected in (STRING, OBJECT) and not isinstance(value, str if expected == STRING else dict):
            if value is None and key in ("description", "parent_id", "parent_type", "translated_content"):
                continue
            raise bad_request(f"{key} must be a {expected}", field=key)
    if creating and not str(body.get("title") or "").strip():
        raise bad_request("title is a required parameter", "parameter_not_found", field="title")
    if creating and "author_id" not in body:
        raise bad_request("author_id must be in the main body or default locale translated_content object", "parameter_not_found")
    if "author_id" in body:
        check_author(ctx, body["author_id"], "author_id")
    if "state" in body:
        check_state(body["state"], "state")
    check_images(str(body.get("body") or ""), "body")


def article_view(ctx: RequestContext, article: dict[str, Any]) -> dict[str, Any]:
    parent = ctx.db.get("collections", article["parent_id"]) if article.get("parent_id") else None
    center = parent["help_center_id"] if parent else ensure_help_centers(ctx)[0]["id"]
    base = help_center_url(ctx, center)
    translated: dict[str, Any] = {"type": "article_translated_content"}
    for locale, content in (article.get("translated_content") or {}).items():
        translated[locale] = {
            "type": "article_content", **content, "created_at": article["created_at"], "updated_at": article["updated_at"],
            "url": f"{base}/{locale}/articles/{article['id']}-{slug(str(content.get('title') or article['title']))}",
        }
    return {
        "id": article["id"], "type": "article", "workspace_id": ctx.app_id, "title": article["title"],
        "description": article.get("description") or "", "body": article.get("body") or "", "author_id": article["author_id"],
        "state": article["state"], "parent_id": int(article["parent_id"]) if article.get("parent_id") else None,
        "parent_type": article.get("parent_type") if article.get("parent_id") else None,
        "parent_ids": [int(article["parent_id"])] if article.get("parent_id") else [],
        "default_locale": "en", "translated_content": translated,
        "url": f"{base}/en/articles/{article['id']}-{slug(article['title'])}",
        "tags": {"type": "tag.list", "tags": []},
        "statistics": {"type": "article_statistics", "views": 0, "conversations": 0, "reactions": 0},
        "created_at": article["created_at"], "updated_at": article["updated_at"],
    }


def create_article(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    check_article_body(ctx, body, creating=True)
    parent_id = check_parent(ctx, body)
    article = {
        "id": str(ctx.db.next_value("article_id", FIRST_ARTICLE_ID)), "title": body["title"], "description": body.get("description") or "",
        "body": body.get("body") or "", "author_id": body["author_id"], "state": body.get("state") or "draft",
        "parent_id": parent_id, "parent_type": body.get("parent_type") or "collection" if parent_id else None,
        "translated_content": check_article_content(ctx, body["translated_content"]) if body.get("translated_content") else {},
        "created_at": ctx.now, "updated_at": ctx.now,
    }
    ctx.db.put("articles", article)
    return article_view(ctx, article)


def update_article(ctx: RequestContext) -> dict[str, Any]:
    article = load_article(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_article_body(ctx, body, creating=False)
    for key in ("title", "description", "body", "author_id", "state"):
        if key in body and body[key] is not None:
            article[key] = body[key]
    if "parent_id" in body:
        article["parent_id"] = check_parent(ctx, body)
        article["parent_type"] = body.get("parent_type") or "collection" if article["parent_id"] else None
    if body.get("translated_content") is not None:
        article["translated_content"] = {**(article.get("translated_content") or {}), **check_article_content(ctx, body["translated_content"])}
    article["updated_at"] = ctx.now
    ctx.db.put("articles", article)
    return article_view(ctx, article)


def get_article(ctx: RequestContext) -> dict[str, Any]:
    return article_view(ctx, load_article(ctx, ctx.params["id"]))


def delete_article(ctx: RequestContext) -> dict[str, Any]:
    article = load_article(ctx, ctx.params["id"])
    ctx.db.delete("articles", article["id"])
    return {"id": article["id"], "object": "article", "deleted": True}


def list_articles(ctx: RequestContext) -> dict[str, Any]:
    items = sorted(ctx.db.all("articles"), key=lambda a: -int(a["updated_at"]))
    return page_of(ctx, [article_view(ctx, a) for a in items])


def register(router: Router) -> None:
    router.add("POST", "/articles", create_article)
    router.add("GET", "/articles", list_articles)
    router.add("GET", "/articles/{id}", get_article)
    router.add("PUT", "/articles/{id}", update_article)
    router.add("DELETE", "/articles/{id}", delete_article)
