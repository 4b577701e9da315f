"""Conversations: create from a contact (backdated), replies and notes in order, state parts, update, tags, search, delete.

Shapes follow the 2.15 OpenAPI (`create_conversation_request`, `admin_reply_conversation_request`,
`contact_reply_*_request`, `close/open/snooze/assign_conversation_request`, `conversation`).
"""

from __future__ import annotations

from typing import Any

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources import threads
from deskmigrate.sandbox.resources.contacts import user_not_found
from deskmigrate.sandbox.resources.data_attributes import check_conversation_attributes
from deskmigrate.sandbox.validation import ARRAY, BOOLEAN, INTEGER, OBJECT, STRING, check_fields
from deskmigrate.sandbox.views import public

CONVERSATION_PART = "conversation_part"
CONVERSATION_TAG = "conversation_tag"
FIRST_CONVERSATION_ID = 1000
FIRST_PART_ID = 100000
CONVERSATIONS = threads.Thread("conversation", CONVERSATION_PART, CONVERSATION_TAG, FIRST_PART_ID)

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
SEARCH_FIELDS = {"id", "created_at", "updated_at", "state", "contact_ids", "source.author.id", "tag_ids"}


def conversation_not_found() -> ApiError:
    return not_found("Resource Not Found")


def load_conversation(ctx: RequestContext, conversation_id: str) -> dict[str, Any]:
    conversation = ctx.db.get("conversations", conversation_id)
    if conversation is None:
        raise conversation_not_found()
    return conversation


def add_part(ctx: RequestContext, conversation: dict[str, Any], part_type: str, author: dict[str, Any], *, body: str | None,
             created_at: int, attachments: list[dict[str, Any]] | None = None, assigned_to: dict[str, Any] | None = None) -> dict[str, Any]:
    return threads.add_part(ctx, CONVERSATIONS, conversation, part_type, author, body=body, created_at=created_at, attachments=attachments,
                           notified_at=created_at, assigned_to=assigned_to, _conversation_id=conversation["id"])


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
    attachments = threads.checked_attachments(body)
    created_at = threads.checked_created_at(ctx, body)
    conversation_id = str(ctx.db.next_value("conversation_id", FIRST_CONVERSATION_ID))
    message_id = str(ctx.db.next_value("message_id", 400000000))
    conversation: dict[str, Any] = {
        "id": conversation_id, "created_at": created_at, "updated_at": ctx.now, "waiting_since": None, "snoozed_until": None,
        "open": True, "state": "open", "read": False, "priority": "not_priority", "admin_assignee_id": None, "team_assignee_id": None,
        "title": None, "contact_ids": [contact["id"]], "custom_attributes": {},
        "source": {
            "type": "conversation", "id": message_id, "delivered_as": "customer_initiated", "subject": body.get("subject", ""),
            "body": body["body"], "author": threads.contact_author(ctx, contact), "attachments": attachments, "url": None, "redacted": False,
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
        admin, message_type, attachments = threads.checked_admin_reply(ctx, body, ADMIN_REPLY_FIELDS)
        if message_type in ("comment", "note") and not body.get("body") and not attachments:
            raise bad_request("body is required for comment and note", "parameter_not_found", field="body")
        part_type = "note" if message_type == "note" else "comment"
        add_part(ctx, conversation, part_type, threads.admin_author(admin), body=body.get("body"), created_at=threads.checked_created_at(ctx, body),
                 attachments=attachments)
        threads.count_notification(conversation, message_type, body)
    elif kind == "user":
        threads.check_user_comment(body, USER_REPLY_FIELDS)
        contact = threads.reply_contact(ctx, body)
        attachments = threads.checked_attachments(body)
        if not body.get("body") and not attachments:
            raise bad_request("body is required", "parameter_not_found", field="body")
        add_part(ctx, conversation, "comment", threads.contact_author(ctx, contact), body=body["body"], created_at=threads.checked_created_at(ctx, body),
                 attachments=attachments)
        if contact["id"] not in conversation["contact_ids"]:
            conversation["contact_ids"].append(contact["id"])
        if conversation["state"] != "open":  # a customer reply reopens the conversation
            conversation.update({"state": "open", "open": True, "snoozed_until": None})
    else:
        raise bad_request("type must be admin or user", field="type")
    ctx.db.put("conversations", conversation)
    return conversation_view(ctx.db, conversation)


def manage(ctx: RequestContext) -> dict[str, Any]:
    """Close, open, snooze or assign; these parts take no `created_at`: they happen now."""
    conversation = load_conversation(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, MANAGE_FIELDS)
    admin = threads.load_admin(ctx, body.get("admin_id"))
    message_type = body.get("message_type")
    if message_type == "close":
        if body.get("type") != "admin":
            raise bad_request("type must be admin", field="type")
        conversation.update({"state": "closed", "open": False, "snoozed_until": None})
        add_part(ctx, conversation, "close", threads.admin_author(admin), body=body.get("body"), created_at=ctx.now)
    elif message_type == "open":
        conversation.update({"state": "open", "open": True, "snoozed_until": None})
        add_part(ctx, conversation, "open", threads.admin_author(admin), body=None, created_at=ctx.now)
    elif message_type == "snoozed":
        until = body.get("snoozed_until")
        if until is None or until <= ctx.now:
            raise bad_request("snoozed_until must be a time in the future", field="snoozed_until")
        conversation.update({"state": "snoozed", "open": True, "snoozed_until": until})
        add_part(ctx, conversation, "snoozed", threads.admin_author(admin), body=None, created_at=ctx.now)
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
            threads.load_admin(ctx, assignee_id)
        conversation["admin_assignee_id"] = None if assignee_id == "0" else assignee_id
    else:
        if assignee_id != "0" and ctx.db.get("teams", assignee_id) is None:
            raise not_found("Assignee not found", "assignee_not_found")
        conversation["team_assignee_id"] = None if assignee_id == "0" else assignee_id
    add_part(ctx, conversation, "assignment", threads.admin_author(admin), body=body.get("body"), created_at=ctx.now,
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
    return threads.delete_thread(ctx, CONVERSATIONS, load_conversation(ctx, ctx.params["id"]))


def tag_conversation(ctx: RequestContext) -> dict[str, Any]:
    return threads.tag_thread(ctx, CONVERSATIONS, load_conversation(ctx, ctx.params["id"]))


def untag_conversation(ctx: RequestContext) -> dict[str, Any]:
    conversation = load_conversation(ctx, ctx.params["id"])
    return threads.untag_thread(ctx, CONVERSATIONS, conversation, ctx.json_object())


def search_conversations(ctx: RequestContext) -> dict[str, Any]:
    return threads.search_threads(ctx, CONVERSATIONS, SEARCH_FIELDS, lambda conversation: conversation_view(ctx.db, conversation, include_parts=False))


def conversation_view(db: Database, conversation: dict[str, Any], *, include_parts: bool = True) -> dict[str, Any]:
    """The `conversation` object; parts are the 500 most recent, like Intercom's."""
    view = public(conversation)
    contact_ids = view.pop("contact_ids")
    view["type"] = "conversation"
    view["contacts"] = {"type": "contact.list", "contacts": [{"type": "contact", "id": cid} for cid in contact_ids]}
    view["tags"] = threads.applied_tags(db, CONVERSATIONS, conversation)
    view["teammates"] = {"type": "admin.list", "admins": []}
    if include_parts:
        view["conversation_parts"] = threads.recent_parts(db, CONVERSATIONS, conversation)
    return view


def notifications_sent(db: Database) -> int:
    """How many customer notifications the workspace would have sent (admin replies without skip_notifications)."""
    return threads.notifications_in(db, CONVERSATIONS)


def stored_parts(db: Database, conversation_id: str) -> list[dict[str, Any]]:
    """Every part of a conversation in order, beyond the 500 the API returns (for tests and debugging)."""
    return threads.stored_parts_of(db, CONVERSATIONS, conversation_id)


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
