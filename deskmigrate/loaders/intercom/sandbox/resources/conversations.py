"""Conversations: create from a contact (backdated), replies and notes in order, state parts, update, tags, search, delete.

Shapes follow the 2.15 OpenAPI (`create_conversation_request`, `admin_reply_conversation_request`,
`contact_reply_*_request`, `close/open/snooze/assign_conversation_request`, `conversation`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from typing import Any
from urllib.parse import quote, urlsplit

from deskmigrate.loaders.intercom.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.loaders.intercom.sandbox.db import Database
from deskmigrate.loaders.intercom.sandbox.resources.contact_links import load_tag
from deskmigrate.loaders.intercom.sandbox.resources.contacts import user_not_found
from deskmigrate.loaders.intercom.sandbox.resources.data_attributes import check_conversation_attributes
from deskmigrate.loaders.intercom.sandbox.validation import ARRAY, BOOLEAN, INTEGER, OBJECT, STRING, check_fields
from deskmigrate.loaders.intercom.sandbox.views import applied_tag_view, public

CONVERSATION_PART = "conversation_part"
CONVERSATION_TAG = "conversation_tag"
# "The maximum number of conversation parts that can be returned via the API is 500 ... the 500 most recent"
# (2.15 spec, Retrieve a conversation).
MAX_PARTS_RETURNED = 500
# attachment_urls and attachment_files: "You can include up to 10" (2.15 spec, maxItems: 10).
MAX_ATTACHMENTS_PER_PART = 10
FIRST_CONVERSATION_ID = 1000
FIRST_PART_ID = 100000

CREATE_FIELDS = {"from": OBJECT, "body": STRING, "subject": STRING, "attachment_urls": ARRAY, "created_at": INTEGER}
ADMIN_REPLY_FIELDS = {
    "message_type": STRING, "type": STRING, "admin_id": STRING, "body": STRING, "created_at": INTEGER,
    "attachment_urls": ARRAY, "attachment_files": ARRAY, "skip_notifications": BOOLEAN, "reply_options": ARRAY,
}
# contact_reply_{intercom_user_id,email,user_id}_request (2.15) take attachment_files too; the ticket ones do not.
USER_REPLY_FIELDS = {
    "message_type": STRING, "type": STRING, "intercom_user_id": STRING, "user_id": STRING, "email": STRING, "body": STRING,
    "created_at": INTEGER, "attachment_urls": ARRAY, "attachment_files": ARRAY, "skip_notifications": BOOLEAN, "reply_options": ARRAY,
}
MANAGE_FIELDS = {
    "message_type": STRING, "type": STRING, "admin_id": STRING, "body": STRING, "snoozed_until": INTEGER, "assignee_id": STRING,
}
UPDATE_FIELDS = {"read": BOOLEAN, "title": STRING, "custom_attributes": OBJECT, "company_id": STRING}
SEARCH_FIELDS = {"id", "created_at", "updated_at", "state", "contact_ids", "source.author.id"}


def conversation_not_found() -> ApiError:
    return not_found("Resource Not Found")


def load_conversation(ctx: RequestContext, conversation_id: str) -> dict[str, Any]:
    conversation = ctx.db.get("conversations", conversation_id)
    if conversation is None:
        raise conversation_not_found()
    return conversation


def load_admin(ctx: RequestContext, admin_id: Any) -> dict[str, Any]:
    admin = ctx.db.get("admins", str(admin_id)) if isinstance(admin_id, (str, int)) and not isinstance(admin_id, bool) else None
    if admin is None:
        raise not_found("Admin not found", "admin_not_found")
    return admin


def checked_attachments(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`attachment_urls` (public http(s) URLs) and `attachment_files` (base64), at most 10 of each on one part."""
    urls = body.get("attachment_urls") or []
    files = body.get("attachment_files") or []
    for key, items in (("attachment_urls", urls), ("attachment_files", files)):
        if len(items) > MAX_ATTACHMENTS_PER_PART:
            raise bad_request(f"{key} can include up to {MAX_ATTACHMENTS_PER_PART} items", field=key)
    attachments = []
    for url in urls:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise bad_request("attachment_urls must be absolute http(s) URLs", field="attachment_urls")
        name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or "attachment"
        attachments.append({"type": "upload", "name": name, "url": url, "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream", "filesize": 0})
    for item in files:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("content_type", "data", "name")):
            raise bad_request("attachment_files need content_type, data and name", field="attachment_files")
        try:
            content = base64.b64decode(item["data"], validate=True)
        except binascii.Error:
            raise bad_request("attachment_files data must be base64", field="attachment_files") from None
        # The upload's URL names its content digest, so a test can tell exactly which bytes arrived.
        digest = hashlib.sha256(content).hexdigest()
        attachments.append({"type": "upload", "name": item["name"], "url": f"https://sandbox.invalid/uploads/{digest}/{quote(item['name'])}",
                            "content_type": item["content_type"], "filesize": len(content)})
    return attachments


def checked_created_at(ctx: RequestContext, body: dict[str, Any]) -> int:
    """A backdated `created_at` is honoured as given (2.11+); a future one is refused."""
    created_at = body.get("created_at")
    if created_at is None:
        return ctx.now
    if created_at > ctx.now + 60:
        raise bad_request("created_at cannot be in the future", field="created_at")
    return int(created_at)


def contact_author(ctx: RequestContext, contact: dict[str, Any]) -> dict[str, Any]:
    return {"type": contact.get("role", "user"), "id": contact["id"], "name": contact.get("name"), "email": contact.get("email") or ""}


def admin_author(admin: dict[str, Any]) -> dict[str, Any]:
    return {"type": "admin", "id": admin["id"], "name": admin.get("name"), "email": admin.get("email")}


def add_part(ctx: RequestContext, conversation: dict[str, Any], part_type: str, author: dict[str, Any], *, body: str | None,
             created_at: int, attachments: list[dict[str, Any]] | None = None, assigned_to: dict[str, Any] | None = None) -> dict[str, Any]:
    part = {
        "type": "conversation_part", "id": str(ctx.db.next_value("conversation_part_id", FIRST_PART_ID)), "part_type": part_type,
        "body": body, "created_at": created_at, "updated_at": ctx.now, "notified_at": created_at, "assigned_to": assigned_to,
        "author": author, "attachments": attachments or [], "external_id": None, "redacted": False,
        "_conversation_id": conversation["id"],
    }
    ctx.db.put("conversation_parts", part)
    ctx.db.link(CONVERSATION_PART, conversation["id"], part["id"], ctx.now)
    conversation["updated_at"] = ctx.now
    return part


def create_conversation(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    check_fields(body, CREATE_FIELDS)
    sender = body.get("from")
    if not isinstance(sender, dict) or sender.get("type") not in ("user", "lead", "contact") or not isinstance(sender.get("id"), str):
        raise bad_request("from must name a contact: {type: user|lead|contact, id}", "parameter_not_found", field="from")
    if not body.get("body"):
        raise bad_request("body is required", "parameter_not_found", field="body")
    contact = ctx.db.get("contacts", sender["id"])
    if contact is None:
        raise user_not_found()
    attachments = checked_attachments(body)
    created_at = checked_created_at(ctx, body)
    conversation_id = str(ctx.db.next_value("conversation_id", FIRST_CONVERSATION_ID))
    message_id = str(ctx.db.next_value("message_id", 400000000))
    conversation: dict[str, Any] = {
        "id": conversation_id, "created_at": created_at, "updated_at": ctx.now, "waiting_since": None, "snoozed_until": None,
        "open": True, "state": "open", "read": False, "priority": "not_priority", "admin_assignee_id": None, "team_assignee_id": None,
        "title": None, "contact_ids": [contact["id"]], "custom_attributes": {},
        "source": {
            "type": "conversation", "id": message_id, "delivered_as": "customer_initiated", "subject": body.get("subject", ""),
            "body": body["body"], "author": contact_author(ctx, contact), "attachments": attachments, "url": None, "redacted": False,
        },
        "_notifications_sent": 0, "_searchable_from": ctx.clock() + ctx.settings.search_delay_s,
    }
    ctx.db.put("conversations", conversation)
    return {"type": "user_message", "id": message_id, "created_at": created_at, "body": body["body"], "message_type": "inapp",
            "conversation_id": conversation_id}


def reply(ctx: RequestContext) -> dict[str, Any]:
    conversation = load_conversation(ctx, ctx.params["id"])
    body = ctx.json_object()
    kind = body.get("type")
    if kind == "admin":
        check_fields(body, ADMIN_REPLY_FIELDS)
        admin = load_admin(ctx, body.get("admin_id"))
        message_type = body.get("message_type")
        if message_type not in ("comment", "note", "quick_reply"):
            raise bad_request("message_type must be comment, note or quick_reply", field="message_type")
        attachments = checked_attachments(body)
        if message_type in ("comment", "note") and not body.get("body") and not attachments:
            raise bad_request("body is required for comment and note", "parameter_not_found", field="body")
        part_type = "note" if message_type == "note" else "comment"
        add_part(ctx, conversation, part_type, admin_author(admin), body=body.get("body"), created_at=checked_created_at(ctx, body),
                 attachments=attachments)
        if message_type != "note" and body.get("skip_notifications") is not True:
            # A public admin reply emails or messages the customer unless skip_notifications (2.15+) is set.
            conversation["_notifications_sent"] = conversation.get("_notifications_sent", 0) + 1
    elif kind == "user":
        check_fields(body, USER_REPLY_FIELDS)
        if body.get("message_type") != "comment":
            raise bad_request("message_type must be comment", field="message_type")
        contact = reply_contact(ctx, body)
        attachments = checked_attachments(body)
        if not body.get("body") and not attachments:
            raise bad_request("body is required", "parameter_not_found", field="body")
        add_part(ctx, conversation, "comment", contact_author(ctx, contact), body=body["body"], created_at=checked_created_at(ctx, body),
                 attachments=attachments)
        if contact["id"] not in conversation["contact_ids"]:
            conversation["contact_ids"].append(contact["id"])
        if conversation["state"] != "open":  # a customer reply reopens the conversation
            conversation.update({"state": "open", "open": True, "snoozed_until": None})
    else:
        raise bad_request("type must be admin or user", field="type")
    ctx.db.put("conversations", conversation)
    return conversation_view(ctx.db, conversation)


def reply_contact(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """A contact reply names its author by `intercom_user_id`, `user_id` (external id) or `email`."""
    if body.get("intercom_user_id"):
        contact = ctx.db.get("contacts", body["intercom_user_id"])
    elif body.get("user_id"):
        found = ctx.db.find("contacts", "external_id", body["user_id"])
        contact = found[0] if found else None
    elif body.get("email"):
        found = ctx.db.find("contacts", "email", body["email"])
        contact = found[0] if found else None
    else:
        raise bad_request("intercom_user_id, user_id or email is required", "parameter_not_found")
    if contact is None:
        raise user_not_found()
    return contact


def manage(ctx: RequestContext) -> dict[str, Any]:
    """Close, open, snooze or assign; these parts take no `created_at`: they happen now."""
    conversation = load_conversation(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, MANAGE_FIELDS)
    admin = load_admin(ctx, body.get("admin_id"))
    message_type = body.get("message_type")
    if message_type == "close":
        if body.get("type") != "admin":
            raise bad_request("type must be admin", field="type")
        conversation.update({"state": "closed", "open": False, "snoozed_until": None})
        add_part(ctx, conversation, "close", admin_author(admin), body=body.get("body"), created_at=ctx.now)
    elif message_type == "open":
        conversation.update({"state": "open", "open": True, "snoozed_until": None})
        add_part(ctx, conversation, "open", admin_author(admin), body=None, created_at=ctx.now)
    elif message_type == "snoozed":
        until = body.get("snoozed_until")
        if until is None or until <= ctx.now:
            raise bad_request("snoozed_until must be a time in the future", field="snoozed_until")
        conversation.update({"state": "snoozed", "open": True, "snoozed_until": until})
        add_part(ctx, conversation, "snoozed", admin_author(admin), body=None, created_at=ctx.now)
    elif message_type == "assignment":
        assign(ctx, conversation, admin, body)
    else:
        raise bad_request("message_type must be close, open, snoozed or assignment", field="message_type")
    ctx.db.put("conversations", conversation)
    return conversation_view(ctx.db, conversation)


def assign(ctx: RequestContext, conversation: dict[str, Any], admin: dict[str, Any], body: dict[str, Any]) -> None:
    assignee_id, kind = body.get("assignee_id"), body.get("type")
    if kind not in ("admin", "team") or assignee_id is None:
        raise bad_request("assignment needs type admin|team and assignee_id", "parameter_not_found")
    if kind == "admin":
        if assignee_id != "0":
            load_admin(ctx, assignee_id)
        conversation["admin_assignee_id"] = None if assignee_id == "0" else assignee_id
    else:
        if assignee_id != "0" and ctx.db.get("teams", assignee_id) is None:
            raise not_found("Assignee not found", "assignee_not_found")
        conversation["team_assignee_id"] = None if assignee_id == "0" else assignee_id
    add_part(ctx, conversation, "assignment", admin_author(admin), body=body.get("body"), created_at=ctx.now,
             assigned_to={"type": kind, "id": assignee_id})


def update_conversation(ctx: RequestContext) -> dict[str, Any]:
    conversation = load_conversation(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, UPDATE_FIELDS)
    for name, value in check_conversation_attributes(ctx, body.get("custom_attributes") or {}).items():
        if value is None:
            conversation["custom_attributes"].pop(name, None)
        else:
            conversation["custom_attributes"][name] = value
    for key in ("read", "title"):
        if key in body:
            conversation[key] = body[key]
    conversation["updated_at"] = ctx.now
    ctx.db.put("conversations", conversation)
    return conversation_view(ctx.db, conversation)


def get_conversation(ctx: RequestContext) -> dict[str, Any]:
    return conversation_view(ctx.db, load_conversation(ctx, ctx.params["id"]))


def delete_conversation(ctx: RequestContext) -> dict[str, Any]:
    conversation = load_conversation(ctx, ctx.params["id"])
    for link in ctx.db.links_from(CONVERSATION_PART, conversation["id"]):
        ctx.db.delete("conversation_parts", link["id"])
    ctx.db.unlink_all(CONVERSATION_PART, left_id=conversation["id"])
    ctx.db.unlink_all(CONVERSATION_TAG, left_id=conversation["id"])
    ctx.db.delete("conversations", conversation["id"])
    return {"id": conversation["id"], "object": "conversation", "deleted": True}


def tag_conversation(ctx: RequestContext) -> dict[str, Any]:
    conversation = load_conversation(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, {"id": STRING, "admin_id": STRING})
    admin = load_admin(ctx, body.get("admin_id"))
    tag = load_tag(ctx, body.get("id"))
    ctx.db.link(CONVERSATION_TAG, conversation["id"], tag["id"], ctx.now, admin["id"])
    return applied_tag_view(tag, ctx.now, admin["id"])


def untag_conversation(ctx: RequestContext) -> dict[str, Any]:
    conversation = load_conversation(ctx, ctx.params["id"])
    body = ctx.json_object()
    load_admin(ctx, body.get("admin_id"))
    tag = load_tag(ctx, ctx.params["tag_id"])
    ctx.db.unlink(CONVERSATION_TAG, conversation["id"], tag["id"])
    return applied_tag_view(tag, None, None)


def search_conversations(ctx: RequestContext) -> dict[str, Any]:
    """An AND of `=` filters on a few fields; only conversations older than `search_delay_s` are indexed (eventual consistency)."""
    body = ctx.json_object()
    filters = search_filters(body.get("query"))
    now = ctx.clock()
    hits = [
        conversation_view(ctx.db, conversation, include_parts=False)
        for conversation in ctx.db.all("conversations")
        if conversation.get("_searchable_from", 0) <= now and all(filter_matches(conversation, f) for f in filters)
    ]
    return {"type": "conversation.list", "conversations": hits[:150], "total_count": len(hits),
            "pages": {"type": "pages", "page": 1, "per_page": 150, "total_pages": 1}}


def search_filters(query: Any, fields: set[str] = SEARCH_FIELDS) -> list[dict[str, Any]]:
    if not isinstance(query, dict):
        raise bad_request("query is required", "parameter_not_found", field="query")
    filters = query.get("value") if query.get("operator") == "AND" else [query]
    if not isinstance(filters, list):
        raise bad_request("AND needs a list of filters", field="query")
    for item in filters:
        if not isinstance(item, dict) or item.get("field") not in fields or item.get("operator") != "=":
            raise bad_request(f"the sandbox searches by '=' on {', '.join(sorted(fields))}", field="query")
    return filters


def filter_matches(conversation: dict[str, Any], item: dict[str, Any]) -> bool:
    field, value = item["field"], item.get("value")
    if field == "contact_ids":
        return str(value) in conversation["contact_ids"]
    if field == "source.author.id":
        return conversation["source"]["author"]["id"] == str(value)
    return str(conversation.get(field)) == str(value)


def conversation_view(db: Database, conversation: dict[str, Any], *, include_parts: bool = True) -> dict[str, Any]:
    """The `conversation` object; parts are the 500 most recent, like Intercom's."""
    view = public(conversation)
    contact_ids = view.pop("contact_ids")
    view["type"] = "conversation"
    view["contacts"] = {"type": "contact.list", "contacts": [{"type": "contact", "id": cid} for cid in contact_ids]}
    tags = []
    for link in db.links_from(CONVERSATION_TAG, conversation["id"]):
        tag = db.get("tags", link["id"])
        if tag:
            tags.append(applied_tag_view(tag, link["applied_at"], link["applied_by"]))
    view["tags"] = {"type": "tag.list", "tags": tags}
    view["teammates"] = {"type": "admin.list", "admins": []}
    if include_parts:
        links = db.links_from(CONVERSATION_PART, conversation["id"])
        parts = [db.get("conversation_parts", link["id"]) for link in links[-MAX_PARTS_RETURNED:]]
        view["conversation_parts"] = {
            "type": "conversation_part.list", "conversation_parts": [public(p) for p in parts if p], "total_count": len(links),
        }
    return view


def notifications_sent(db: Database) -> int:
    """How many customer notifications the workspace would have sent (admin replies without skip_notifications)."""
    return sum(int(conversation.get("_notifications_sent", 0)) for conversation in db.all("conversations"))


def stored_parts(db: Database, conversation_id: str) -> list[dict[str, Any]]:
    """Every part of a conversation in order, beyond the 500 the API returns (for tests and debugging)."""
    return [part for link in db.links_from(CONVERSATION_PART, conversation_id) if (part := db.get("conversation_parts", link["id"]))]


def register(router: Router) -> None:
    router.add("POST", "/conversations", create_conversation)
    router.add("POST", "/conversations/search", search_conversations, is_write=False)
    router.add("GET", "/conversations/{id}", get_conversation)
    router.add("PUT", "/conversations/{id}", update_conversation)
    router.add("DELETE", "/conversations/{id}", delete_conversation)
    router.add("POST", "/conversations/{id}/reply", reply)
    router.add("POST", "/conversations/{id}/parts", manage)
    router.add("POST", "/conversations/{id}/tags", tag_conversation)
    router.add("DELETE", "/conversations/{id}/tags/{tag_id}", untag_conversation)
