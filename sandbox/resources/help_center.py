"""Help Center: help centers (read-only), collections nested three levels deep, and articles with translated content.

What the emulator enforces, as Intercom does: `author_id` is an integer naming a teammate, `<img src>` is an
absolute http(s) URL that can be fetched (https://developers.intercom.com/docs/guides/help-center/supported-html/:
"if the upload fails, the whole request fails"), translated content only in the locales Intercom supports,
and at most three levels of collections. Images on loopback hosts are fetched without credentials, as
Intercom's image upload would; images elsewhere are only checked for an absolute URL (the sandbox stays offline).

Over 400 lines because collections and articles share their validation and their translated-content rules here,
as Intercom's Help Center API does.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import requests

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.validation import INTEGER, OBJECT, STRING, check_fields

# The locale keys of `article_translated_content` / `group_translated_content` in the 2.15 spec.
INTERCOM_LOCALES = frozenset(
    "ar bg bs ca cs da de el en es et fi fr he hr hu id it ja ko lt lv mn nb nl pl pt ro ru sl sr sv tr vi pt-BR zh-CN zh-TW".split()
)
MAX_COLLECTION_DEPTH = 3
FIRST_HELP_CENTER_ID = 79
FIRST_COLLECTION_ID = 150
FIRST_ARTICLE_ID = 40
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 150
IMAGE_FETCH_TIMEOUT_S = 3.0
LOOPBACK_NAMES = frozenset({"localhost"})
IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)

COLLECTION_FIELDS = {"name": STRING, "description": STRING, "parent_id": STRING, "help_center_id": INTEGER, "translated_content": OBJECT}
ARTICLE_FIELDS = {
    "title": STRING, "description": STRING, "body": STRING, "author_id": INTEGER, "state": STRING,
    "parent_id": "id", "parent_type": STRING, "translated_content": OBJECT,
}
ARTICLE_CONTENT_FIELDS = {"type", "title", "description", "body", "author_id", "state"}
GROUP_CONTENT_FIELDS = {"type", "name", "description"}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "untitled"


# -- help centers --------------------------------------------------------------------------------------


def ensure_help_centers(ctx: RequestContext) -> list[dict[str, Any]]:
    """A new workspace has one help center; tests may store more (kind `help_centers`)."""
    centers = ctx.db.all("help_centers")
    if not centers:
        center = {
            "id": str(ctx.db.next_value("help_center_id", FIRST_HELP_CENTER_ID)), "workspace_id": ctx.app_id,
            "identifier": ctx.app_id, "display_name": "Sandbox Help Center", "website_turned_on": True,
            "created_at": ctx.now, "updated_at": ctx.now, "custom_domain": None,
        }
        ctx.db.put("help_centers", center)
        centers = [center]
    return centers


def help_center_view(center: dict[str, Any]) -> dict[str, Any]:
    return {"url": f"https://intercom.help/{center['identifier']}", **center}


def help_center_url(ctx: RequestContext, help_center_id: str) -> str:
    center = ctx.db.get("help_centers", help_center_id)
    return help_center_view(center)["url"] if center else "https://intercom.help/unknown"


def list_help_centers(ctx: RequestContext) -> dict[str, Any]:
    return {"type": "list", "data": [help_center_view(center) for center in ensure_help_centers(ctx)]}


def get_help_center(ctx: RequestContext) -> dict[str, Any]:
    ensure_help_centers(ctx)
    center = ctx.db.get("help_centers", ctx.params["id"])
    if center is None:
        raise not_found()
    return help_center_view(center)


# -- collections ---------------------------------------------------------------------------------------


def load_collection(ctx: RequestContext, collection_id: Any) -> dict[str, Any]:
    collection = ctx.db.get("collections", str(collection_id))
    if collection is None:
        raise not_found()
    return collection


def collection_depth(ctx: RequestContext, collection: dict[str, Any]) -> int:
    depth = 1
    while collection.get("parent_id"):
        collection = load_collection(ctx, collection["parent_id"])
        depth += 1
    return depth


def check_group_content(translated: dict[str, Any] | None) -> None:
    for locale, content in (translated or {}).items():
        if locale == "type":
            continue
        if locale not in INTERCOM_LOCALES:
            raise bad_request(f"'{locale}' is not a supported locale", field="translated_content")
        if not isinstance(content, dict) or set(content) - GROUP_CONTENT_FIELDS:
            raise bad_request(f"translated_content.{locale} must be a group_content object", field="translated_content")


def place_collection(ctx: RequestContext, collection: dict[str, Any], parent_id: Any, help_center_id: Any) -> None:
    """Set parent and help center; a parent must exist, be in the same help center, and leave the child within three levels."""
    centers = {center["id"]: center for center in ensure_help_centers(ctx)}
    if parent_id is None:
        collection["parent_id"] = None
        if help_center_id is not None:
            if str(help_center_id) not in centers:
                raise bad_request("Help Center not found", field="help_center_id")
            collection["help_center_id"] = str(help_center_id)
        collection.setdefault("help_center_id", next(iter(centers)))
        return
    parent = ctx.db.get("collections", str(parent_id))
    if parent is None:
        raise bad_request("Parent collection not found", field="parent_id")
    if help_center_id is not None and str(help_center_id) != parent["help_center_id"]:
        raise bad_request("The parent collection belongs to another Help Center", field="parent_id")
    if parent["id"] == collection.get("id") or _is_descendant(ctx, parent, collection.get("id")):
        raise bad_request("A collection cannot be its own ancestor", field="parent_id")
    if collection_depth(ctx, parent) + _subtree_height(ctx, collection) > MAX_COLLECTION_DEPTH:
        raise bad_request(f"Collections can only be nested {MAX_COLLECTION_DEPTH} levels deep", field="parent_id")
    collection["parent_id"] = parent["id"]
    collection["help_center_id"] = parent["help_center_id"]


def _is_descendant(ctx: RequestContext, collection: dict[str, Any], ancestor_id: str | None) -> bool:
    while ancestor_id and collection.get("parent_id"):
        if collection["parent_id"] == ancestor_id:
            return True
        collection = load_collection(ctx, collection["parent_id"])
    return False


def _subtree_height(ctx: RequestContext, collection: dict[str, Any]) -> int:
    if not collection.get("id"):
        return 1
    children = [c for c in ctx.db.all("collections") if c.get("parent_id") == collection["id"]]
    return 1 + max((_subtree_height(ctx, child) for child in children), default=0)


def collection_view(ctx: RequestContext, collection: dict[str, Any]) -> dict[str, Any]:
    base = help_center_url(ctx, collection["help_center_id"])
    return {
        "id": collection["id"], "workspace_id": ctx.app_id, "name": collection["name"], "description": collection.get("description"),
        "url": f"{base}/en/collections/{collection['id']}-{slug(collection['name'])}", "order": collection["order"],
        "icon": "book-bookmark", "parent_id": collection.get("parent_id"), "help_center_id": int(collection["help_center_id"]),
        "default_locale": "en", "translated_content": collection.get("translated_content"),
        "created_at": collection["created_at"], "updated_at": collection["updated_at"],
    }


def create_collection(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    check_fields(body, COLLECTION_FIELDS, frozenset({"description", "parent_id", "help_center_id", "translated_content"}))
    if not str(body.get("name") or "").strip():
        raise bad_request("Name is a required parameter.", "parameter_not_found", field="name")
    check_group_content(body.get("translated_content"))
    collection: dict[str, Any] = {
        "name": body["name"], "description": body.get("description") or "", "translated_content": body.get("translated_content"),
        "created_at": ctx.now, "updated_at": ctx.now,
    }
    place_collection(ctx, collection, body.get("parent_id"), body.get("help_center_id"))
    siblings = [c for c in ctx.db.all("collections") if c.get("parent_id") == collection["parent_id"]
                and c["help_center_id"] == collection["help_center_id"]]
    collection["order"] = max((c["order"] for c in siblings), default=0) + 1
    collection["id"] = str(ctx.db.next_value("collection_id", FIRST_COLLECTION_ID))
    ctx.db.put("collections", collection)
    return collection_view(ctx, collection)


def update_collection(ctx: RequestContext) -> dict[str, Any]:
    collection = load_collection(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, {key: kind for key, kind in COLLECTION_FIELDS.items() if key != "help_center_id"},
                 frozenset({"description", "parent_id", "translated_content"}))
    if "name" in body and not str(body["name"]).strip():
        raise bad_request("Name can't be blank", field="name")
    check_group_content(body.get("translated_content"))
    for key in ("name", "description", "translated_content"):
        if key in body:
            collection[key] = body[key]
    if "parent_id" in body:
        place_collection(ctx, collection, body["parent_id"], None)
    collection["updated_at"] = ctx.now
    ctx.db.put("collections", collection)
    return collection_view(ctx, collection)


def delete_collection(ctx: RequestContext) -> dict[str, Any]:
    """Intercom does not document what deleting a non-empty collection does; the sandbox refuses, so rollback must go children first."""
    collection = load_collection(ctx, ctx.params["id"])
    if any(c.get("parent_id") == collection["id"] for c in ctx.db.all("collections")) or any(
        str(a.get("parent_id")) == collection["id"] for a in ctx.db.all("articles")
    ):
        raise bad_request("The collection still holds collections or articles", field="id")
    ctx.db.delete("collections", collection["id"])
    return {"id": collection["id"], "object": "collection", "deleted": True}


def get_collection(ctx: RequestContext) -> dict[str, Any]:
    return collection_view(ctx, load_collection(ctx, ctx.params["id"]))


def list_collections(ctx: RequestContext) -> dict[str, Any]:
    items = sorted(ctx.db.all("collections"), key=lambda c: -int(c["updated_at"]))
    return page_of(ctx, [collection_view(ctx, c) for c in items])


def page_of(ctx: RequestContext, views: list[dict[str, Any]]) -> dict[str, Any]:
    """Page-numbered lists (`page`, `per_page`) as the help center list endpoints answer."""
    try:
        page = max(1, int(ctx.query.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(ctx.query.get("per_page", DEFAULT_PER_PAGE))))
    except ValueError:
        raise bad_request("page and per_page must be integers") from None
    total_pages = -(-len(views) // per_page)
    return {
        "type": "list", "data": views[(page - 1) * per_page : page * per_page], "total_count": len(views),
        "pages": {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages},
    }


# -- articles ------------------------------------------------------------------------------------------


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
    router.add("GET", "/help_center/help_centers", list_help_centers)
    router.add("GET", "/help_center/help_centers/{id}", get_help_center)
    router.add("POST", "/help_center/collections", create_collection)
    router.add("GET", "/help_center/collections", list_collections)
    router.add("GET", "/help_center/collections/{id}", get_collection)
    router.add("PUT", "/help_center/collections/{id}", update_collection)
    router.add("DELETE", "/help_center/collections/{id}", delete_collection)
    router.add("POST", "/articles", create_article)
    router.add("GET", "/articles", list_articles)
    router.add("GET", "/articles/{id}", get_article)
    router.add("PUT", "/articles/{id}", update_article)
    router.add("DELETE", "/articles/{id}", delete_article)
