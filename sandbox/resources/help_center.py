"""Help Center: help centers (read-only) and collections nested three levels deep, with translated names; the
locales and page-numbered lists the articles (articles.py) share.

What the emulator enforces, as Intercom does: translated content only in the locales Intercom supports, and at most
three levels of collections.
"""

from __future__ import annotations

import re
from typing import Any

from deskmigrate.sandbox.api import RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.validation import INTEGER, OBJECT, STRING, check_fields

# The locale keys of `article_translated_content` / `group_translated_content` in the 2.15 spec.
INTERCOM_LOCALES = frozenset(
    "ar bg bs ca cs da de el en es et fi fr he hr hu id it ja ko lt lv mn nb nl pl pt ro ru sl sr sv tr vi pt-BR zh-CN zh-TW".split()
)
MAX_COLLECTION_DEPTH = 3
FIRST_HELP_CENTER_ID = 79
FIRST_COLLECTION_ID = 150
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 150

COLLECTION_FIELDS = {"name": STRING, "description": STRING, "parent_id": STRING, "help_center_id": INTEGER, "translated_content": OBJECT}
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


def register(router: Router) -> None:
    router.add("GET", "/help_center/help_centers", list_help_centers)
    router.add("GET", "/help_center/help_centers/{id}", get_help_center)
    router.add("POST", "/help_center/collections", create_collection)
    router.add("GET", "/help_center/collections", list_collections)
    router.add("GET", "/help_center/collections/{id}", get_collection)
    router.add("PUT", "/help_center/collections/{id}", update_collection)
    router.add("DELETE", "/help_center/collections/{id}", delete_collection)
