"""Tags: the five forms of `POST /tags` (create, rename, bulk tag contacts, bulk tag/untag companies), list, get, delete."""

from __future__ import annotations

from typing import Any

from deskmigrate.sandbox.api import ApiError, RequestContext, Response, Router, bad_request, not_found
from deskmigrate.sandbox.resources.contact_links import company_not_found, load_tag
from deskmigrate.sandbox.views import COMPANY_TAG, CONTACT_TAG, tag_view

TAG_KEYS = {"name", "id", "users", "companies"}
FIRST_TAG_ID = 1000


def invalid_tag_parameters() -> ApiError:
    return bad_request("invalid tag parameters")


def find_or_create_tag(ctx: RequestContext, name: str) -> dict[str, Any]:
    """Tag names are case-insensitive: an existing tag of that name is reused."""
    found = ctx.db.find("tags", "name", name)
    if found:
        return found[0]
    tag = {"id": str(ctx.db.next_value("tag_id", FIRST_TAG_ID)), "name": name, "created_at": ctx.now}
    ctx.db.put("tags", tag)
    return tag


def rename_tag(ctx: RequestContext, tag_id: Any, name: str) -> dict[str, Any]:
    tag = load_tag(ctx, tag_id)
    clash = [other for other in ctx.db.find("tags", "name", name) if other["id"] != tag["id"]]
    if clash:
        raise bad_request(f"A tag named '{clash[0]['name']}' already exists", field="name")
    tag["name"] = name
    ctx.db.put("tags", tag)
    return tag


def apply_tagging(ctx: RequestContext, link: str, tag: dict[str, Any], targets: list[tuple[str, bool]]) -> None:
    """Tags each (id, untag) target, or untags it where `untag` is set."""
    for target_id, untag in targets:
        if untag:
            ctx.db.unlink(link, target_id, tag["id"])
        else:
            ctx.db.link(link, target_id, tag["id"], ctx.now, ctx.admin_id)


def tag_contacts(ctx: RequestContext, tag: dict[str, Any], users: list[Any]) -> None:
    """Every user must be an existing contact, by Intercom id only (2.x); one unknown id fails the whole call."""
    contact_ids = []
    for user in users:
        if not isinstance(user, dict) or set(user) - {"id", "untag"} or not isinstance(user.get("id"), str):
            raise invalid_tag_parameters()
        if ctx.db.get("contacts", user["id"]) is None:
            raise not_found("User Not Found")
        contact_ids.append((user["id"], bool(user.get("untag"))))
    apply_tagging(ctx, CONTACT_TAG, tag, contact_ids)


def tag_companies(ctx: RequestContext, tag: dict[str, Any], companies: list[Any]) -> None:
    """Companies by Intercom `id` or by your `company_id`; `untag: true` removes the tag instead."""
    resolved = []
    for entry in companies:
        if not isinstance(entry, dict) or set(entry) - {"id", "company_id", "untag"}:
            raise invalid_tag_parameters()
        if entry.get("id") is not None:
            company = ctx.db.get("companies", str(entry["id"]))
        elif entry.get("company_id") is not None:
            found = ctx.db.find("companies", "company_id", str(entry["company_id"]))
            company = found[0] if found else None
        else:
            raise invalid_tag_parameters()
        if company is None:
            raise company_not_found()
        resolved.append((company["id"], bool(entry.get("untag"))))
    apply_tagging(ctx, COMPANY_TAG, tag, resolved)


def create_or_apply_tag(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    name = body.get("name")
    if set(body) - TAG_KEYS or not isinstance(name, str) or not name.strip():
        raise invalid_tag_parameters()
    users, companies = body.get("users"), body.get("companies")
    # Company and user arrays cannot be mixed in one request (Intercom 1.x docs; still enforced).
    if users is not None and companies is not None:
        raise invalid_tag_parameters()
    if "id" in body:
        if users is not None or companies is not None:
            raise invalid_tag_parameters()
        return tag_view(rename_tag(ctx, body["id"], name))
    if users is not None and not isinstance(users, list) or companies is not None and not isinstance(companies, list):
        raise invalid_tag_parameters()
    tag = find_or_create_tag(ctx, name)
    if users is not None:
        tag_contacts(ctx, tag, users)
    if companies is not None:
        tag_companies(ctx, tag, companies)
    return tag_view(tag)


def list_tags(ctx: RequestContext) -> dict[str, Any]:
    return {"type": "list", "data": [tag_view(tag) for tag in ctx.db.all("tags")]}


def get_tag(ctx: RequestContext) -> dict[str, Any]:
    return tag_view(load_tag(ctx, ctx.params["id"]))


def delete_tag(ctx: RequestContext) -> Response:
    """Deleting a tag removes it from every contact and company; Intercom answers 200 with an empty body."""
    tag = load_tag(ctx, ctx.params["id"])
    ctx.db.unlink_all(CONTACT_TAG, right_id=tag["id"])
    ctx.db.unlink_all(COMPANY_TAG, right_id=tag["id"])
    ctx.db.delete("tags", tag["id"])
    return Response(200)


def register(router: Router) -> None:
    router.add("POST", "/tags", create_or_apply_tag)
    router.add("GET", "/tags", list_tags)
    router.add("GET", "/tags/{id}", get_tag)
    router.add("DELETE", "/tags/{id}", delete_tag)
