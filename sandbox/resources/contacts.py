"""Contacts: create (409 on duplicates), update, get, delete, find by external id, list and eventually consistent search."""

from __future__ import annotations

import re
from typing import Any

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.paging import cursor_page, decode_cursor, encode_cursor, new_object_id, per_page_from
from deskmigrate.sandbox.search import check_query, matches
from deskmigrate.sandbox.validation import (
    BOOLEAN,
    INTEGER,
    OBJECT,
    STRING,
    apply_custom_attributes,
    check_fields,
    is_valid_email,
)
from deskmigrate.sandbox.views import CONTACT_COMPANY, CONTACT_TAG, contact_reference, contact_view

CONTACT_FIELDS = {
    "role": STRING,
    "external_id": STRING,
    "email": STRING,
    "phone": STRING,
    "name": STRING,
    "avatar": STRING,
    "signed_up_at": INTEGER,
    "last_seen_at": INTEGER,
    "owner_id": INTEGER,
    "unsubscribed_from_emails": BOOLEAN,
    "custom_attributes": OBJECT,
}
NULLABLE_FIELDS = frozenset(
    {"phone", "name", "avatar", "signed_up_at", "last_seen_at", "owner_id", "unsubscribed_from_emails", "custom_attributes"}
)
ROLES = ("user", "lead")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DEFAULT_PER_PAGE = 50


def user_not_found() -> ApiError:
    return not_found("User Not Found")


def load_contact(ctx: RequestContext, contact_id: str) -> dict[str, Any]:
    contact = ctx.db.get("contacts", contact_id)
    if contact is None:
        raise user_not_found()
    return contact


def conflict(existing_id: str) -> ApiError:
    # The id in the message is what clients parse to adopt the existing contact (Intercom docs 2.6, "Create a contact").
    return ApiError(409, "conflict", f"A contact matching those details already exists with id={existing_id}")


def check_no_duplicate(ctx: RequestContext, contact: dict[str, Any], own_id: str | None) -> None:
    """A contact's external_id is unique, and so is a user's email; leads may share emails."""
    external_id = contact.get("external_id")
    if external_id:
        for other in ctx.db.find("contacts", "external_id", external_id):
            if other["id"] != own_id:
                raise conflict(other["id"])
    email = contact.get("email")
    if email and contact.get("role") == "user":
        for other in ctx.db.find("contacts", "email", email):
            if other["id"] != own_id and other.get("role") == "user":
                raise conflict(other["id"])


def apply_changes(ctx: RequestContext, contact: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The contact with `body` applied, validated the way Intercom validates create and update bodies."""
    check_fields(body, CONTACT_FIELDS, NULLABLE_FIELDS)
    updated = dict(contact)
    role = body.get("role", contact.get("role", "user"))
    if role not in ROLES:
        raise bad_request("role must be either user or lead", field="role")
    if contact.get("role") == "user" and role == "lead":
        raise ApiError(400, "client_error", "Contact with user role can't be converted to a lead")
    updated["role"] = role
    if "email" in body and not is_valid_email(body["email"]):
        raise bad_request("Invalid email", field="email")
    if ctx.settings.strict_phones and body.get("phone") is not None and not E164.match(body["phone"]):
        raise bad_request("Invalid phone number", field="phone")
    owner_id = body.get("owner_id")
    if owner_id is not None and ctx.db.get("admins", str(owner_id)) is None:
        raise bad_request(f"owner_id {owner_id} is not a teammate of this workspace", field="owner_id")
    for key in CONTACT_FIELDS:
        if key in body and key not in ("role", "custom_attributes"):
            updated[key] = body[key]
    if body.get("custom_attributes") is not None:
        updated["custom_attributes"] = apply_custom_attributes(
            ctx.db, "contact", contact.get("custom_attributes") or {}, body["custom_attributes"]
        )
    return updated


def create_contact(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    if not any(body.get(key) for key in ("email", "external_id", "role")):
        raise bad_request("Contact must have an email, external_id or role", "parameter_not_found")
    now = ctx.clock()
    blank = {"id": new_object_id(now), "custom_attributes": {}, "created_at": int(now), "updated_at": int(now)}
    contact = apply_changes(ctx, blank, body)
    check_no_duplicate(ctx, contact, None)
    contact["_searchable_from"] = now + ctx.settings.search_delay_s
    ctx.db.put("contacts", contact)
    return contact_view(ctx.db, contact, ctx.app_id)


def update_contact(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    updated = apply_changes(ctx, contact, ctx.json_object())
    check_no_duplicate(ctx, updated, contact["id"])
    updated["updated_at"] = ctx.now
    ctx.db.put("contacts", updated)
    return contact_view(ctx.db, updated, ctx.app_id)


def get_contact(ctx: RequestContext) -> dict[str, Any]:
    return contact_view(ctx.db, load_contact(ctx, ctx.params["id"]), ctx.app_id)


def find_by_external_id(ctx: RequestContext) -> dict[str, Any]:
    found = ctx.db.find("contacts", "external_id", ctx.params["external_id"])
    if not found:
        raise user_not_found()
    return contact_view(ctx.db, found[0], ctx.app_id)


def delete_contact(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    ctx.db.unlink_all(CONTACT_COMPANY, left_id=contact["id"])
    ctx.db.unlink_all(CONTACT_TAG, left_id=contact["id"])
    ctx.db.delete("contacts", contact["id"])
    return {**contact_reference(contact), "deleted": True}


def list_contacts(ctx: RequestContext) -> dict[str, Any]:
    per_page = per_page_from(ctx.query.get("per_page"), DEFAULT_PER_PAGE)
    after, page = decode_cursor(ctx.query["starting_after"]) if ctx.query.get("starting_after") else (0, 1)
    rows = ctx.db.page("contacts", after, per_page + 1)
    total = ctx.db.count("contacts")
    return {
        "type": "list",
        "data": [contact_view(ctx.db, contact, ctx.app_id) for _, contact in rows[:per_page]],
        "total_count": total,
        "pages": cursor_page(rows, total, per_page, page),
    }


def search_contacts(ctx: RequestContext) -> dict[str, Any]:
    """Only contacts older than `search_delay_s` are indexed: search is eventually consistent, like Intercom's."""
    body = ctx.json_object()
    if "query" not in body:
        raise bad_request("query is required", "parameter_not_found", field="query")
    check_query(body["query"])
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise bad_request("pagination must be an object", field="pagination")
    per_page = per_page_from(pagination.get("per_page"), DEFAULT_PER_PAGE)
    offset, page = decode_cursor(pagination["starting_after"]) if pagination.get("starting_after") else (0, 1)
    now = ctx.clock()
    views = [contact_view(ctx.db, contact, ctx.app_id) for contact in ctx.db.all("contacts") if contact.get("_searchable_from", 0) <= now]
    # tag_id matches every tag of a contact, not only the 10 its view embeds
    all_tags = {view["id"]: {link["id"] for link in ctx.db.links_from(CONTACT_TAG, view["id"])} for view in views}
    hits = sort_hits([view for view in views if matches(body["query"], view, all_tags[view["id"]])], body.get("sort"))
    window = hits[offset : offset + per_page]
    pages: dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page, "total_pages": -(-len(hits) // per_page)}
    if offset + per_page < len(hits):
        pages["next"] = {"per_page": per_page, "starting_after": encode_cursor(offset + per_page, page + 1)}
    return {"type": "list", "data": window, "total_count": len(hits), "pages": pages}


def sort_hits(hits: list[dict[str, Any]], sort: Any) -> list[dict[str, Any]]:
    if not sort:
        return hits
    if not isinstance(sort, dict) or not isinstance(sort.get("field"), str):
        raise bad_request("sort needs a field", field="sort")
    order = sort.get("order", "ascending")
    if order not in ("ascending", "descending"):
        raise bad_request("sort order must be ascending or descending", field="sort")
    field = sort["field"]
    present = [hit for hit in hits if hit.get(field) is not None]
    missing = [hit for hit in hits if hit.get(field) is None]
    return sorted(present, key=lambda hit: hit[field], reverse=order == "descending") + missing


def register(router: Router) -> None:
    router.add("POST", "/contacts", create_contact)
    router.add("GET", "/contacts", list_contacts)
    router.add("POST", "/contacts/search", search_contacts, is_write=False)
    router.add("GET", "/contacts/find_by_external_id/{external_id}", find_by_external_id)
    router.add("GET", "/contacts/{id}", get_contact)
    router.add("PUT", "/contacts/{id}", update_contact)
    router.add("DELETE", "/contacts/{id}", delete_contact)
