"""Tickets: ticket types with their attributes, ticket states, backdated tickets with replies and notes, state, tags, search, delete.

Shapes follow the 2.15 OpenAPI (`create_ticket_type_request`, `create_ticket_type_attribute_request`,
`create_ticket_request`, `update_ticket_request`, `admin_reply_ticket_request`, `contact_reply_ticket_request`,
`ticket`, `ticket_part`, `ticket_state`). Ticket replies take `attachment_urls` only: the spec has no
`attachment_files` on them.
"""

from __future__ import annotations

import uuid
from typing import Any

from deskmigrate.sandbox.api import RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources import threads
from deskmigrate.sandbox.validation import ARRAY, BOOLEAN, INTEGER, NUMBER, OBJECT, STRING, check_fields, matches_type
from deskmigrate.sandbox.views import public

TICKET_PART = "ticket_part"
TICKET_TAG = "ticket_tag"
FIRST_TICKET_ID = 600
FIRST_PART_ID = 700000
FIRST_STATE_ID = 8000
TICKETS = threads.Thread("ticket", TICKET_PART, TICKET_TAG, FIRST_PART_ID)
DEFAULT_ATTRIBUTES = ("_default_title_", "_default_description_")
# Every workspace starts with one state per category (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/ticket-states).
DEFAULT_STATES = (("submitted", "Submitted", "Submitted"), ("in_progress", "In progress", "In progress"),
                  ("waiting_on_customer", "Waiting on customer", "Waiting on you"), ("resolved", "Resolved", "Resolved"))
CATEGORIES = ("Customer", "Back-office", "Tracker")
ATTRIBUTE_TYPES = ("string", "list", "integer", "decimal", "boolean", "datetime", "files")

TYPE_FIELDS = {"name": STRING, "description": STRING, "category": STRING, "icon": STRING, "is_internal": BOOLEAN}
ATTRIBUTE_FIELDS = {
    "name": STRING, "description": STRING, "data_type": STRING, "required_to_create": BOOLEAN,
    "required_to_create_for_contacts": BOOLEAN, "visible_on_create": BOOLEAN, "visible_to_contacts": BOOLEAN,
    "multiline": BOOLEAN, "list_items": STRING, "allow_multiple_values": BOOLEAN,
}
CREATE_FIELDS = {
    "ticket_type_id": STRING, "contacts": ARRAY, "conversation_to_link_id": STRING, "company_id": STRING, "created_at": INTEGER,
    "ticket_attributes": OBJECT, "assignment": OBJECT, "skip_notifications": BOOLEAN,
}
UPDATE_FIELDS = {
    "ticket_attributes": OBJECT, "ticket_state_id": STRING, "company_id": STRING, "open": BOOLEAN, "is_shared": BOOLEAN,
    "snoozed_until": INTEGER, "admin_id": INTEGER, "assignee_id": STRING, "skip_notifications": BOOLEAN,
}
ADMIN_REPLY_FIELDS = {
    "message_type": STRING, "type": STRING, "admin_id": STRING, "body": STRING, "created_at": INTEGER, "attachment_urls": ARRAY,
    "reply_options": ARRAY, "cross_post": BOOLEAN, "skip_notifications": BOOLEAN,
}
USER_REPLY_FIELDS = {
    "message_type": STRING, "type": STRING, "intercom_user_id": STRING, "user_id": STRING, "email": STRING, "body": STRING,
    "created_at": INTEGER, "attachment_urls": ARRAY, "reply_options": ARRAY, "skip_notifications": BOOLEAN,
}
# JSON type of a value per ticket attribute data type (datetime: unix seconds).
VALUE_TYPES = {"string": STRING, "integer": INTEGER, "decimal": NUMBER, "boolean": BOOLEAN, "datetime": INTEGER}
SEARCH_FIELDS = {"id", "created_at", "ticket_type_id", "contact_ids", "state", "open", "tag_ids"}


# -- ticket states and types ------------------------------------------------------------------------


def ensure_states(db: Database, now: int) -> list[dict[str, Any]]:
    states = db.all("ticket_states")
    if states:
        return states
    for category, internal, external in DEFAULT_STATES:
        db.put("ticket_states", {"id": str(db.next_value("ticket_state_id", FIRST_STATE_ID)), "category": category,
                                 "internal_label": internal, "external_label": external, "created_at": now})
    return db.all("ticket_states")


def state_view(db: Database, state: dict[str, Any]) -> dict[str, Any]:
    types = [{"type": "ticket_type", "id": t["id"], "name": t["name"], "category": t["category"]} for t in db.all("ticket_types")]
    return {"type": "ticket_state", **public(state), "ticket_types": {"type": "list", "data": types}}


def list_states(ctx: RequestContext) -> dict[str, Any]:
    return {"type": "list", "data": [state_view(ctx.db, s) for s in ensure_states(ctx.db, ctx.now)]}


def attribute_view(attribute: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ticket_type_attribute", **public(attribute)}


def type_view(db: Database, ticket_type: dict[str, Any]) -> dict[str, Any]:
    view = {"type": "ticket_type", **public(ticket_type)}
    view["ticket_type_attributes"] = {"type": "list", "data": [attribute_view(a) for a in ticket_type["_attributes"]]}
    view["ticket_states"] = {"type": "list", "data": [{"type": "ticket_state", **public(s)} for s in ensure_states(db, ticket_type["created_at"])]}
    return view


def load_type(ctx: RequestContext, type_id: Any) -> dict[str, Any]:
    ticket_type = ctx.db.get("ticket_types", str(type_id)) if isinstance(type_id, (str, int)) else None
    if ticket_type is None:
        raise not_found("Ticket type not found", "ticket_type_not_found")
    return ticket_type


def new_attribute(ctx: RequestContext, type_id: str, body: dict[str, Any], order: int, *, default: bool) -> dict[str, Any]:
    options: dict[str, Any] | None = {"multiline": bool(body.get("multiline"))} if body["data_type"] == "string" else None
    if body["data_type"] == "list":
        labels = [item.strip() for item in str(body.get("list_items") or "").split(",") if item.strip()]
        if not labels:
            raise bad_request("list_items is required for list attributes", field="list_items")
        options = {"list_options": [{"id": str(uuid.uuid4()), "label": label, "archived": False} for label in labels]}
    return {
        "id": str(ctx.db.next_value("ticket_type_attribute_id", 160)), "workspace_id": ctx.app_id, "name": body["name"],
        "description": body.get("description", ""), "data_type": body["data_type"], "input_options": options, "order": order,
        "required_to_create": bool(body.get("required_to_create")), "required_to_create_for_contacts": bool(body.get("required_to_create_for_contacts")),
        "visible_on_create": body.get("visible_on_create", True), "visible_to_contacts": body.get("visible_to_contacts", True),
        "default": default, "ticket_type_id": int(type_id), "archived": False, "created_at": ctx.now, "updated_at": ctx.now,
    }


def create_type(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    check_fields(body, TYPE_FIELDS)
    if not body.get("name"):
        raise bad_request("name is required", "parameter_not_found", field="name")
    category = body.get("category", "Customer")
    if category not in CATEGORIES:
        raise bad_request(f"category must be one of {', '.join(CATEGORIES)}", field="category")
    type_id = str(ctx.db.next_value("ticket_type_id", 60))
    ticket_type: dict[str, Any] = {
        "id": type_id, "name": body["name"], "description": body.get("description", ""), "icon": body.get("icon", "🎟️"),
        "workspace_id": ctx.app_id, "archived": False, "created_at": ctx.now, "updated_at": ctx.now,
        "is_internal": bool(body.get("is_internal")), "category": category,
    }
    ticket_type["_attributes"] = [
        new_attribute(ctx, type_id, {"name": name, "data_type": "string", "multiline": name == "_default_description_"}, order, default=True)
        for order, name in enumerate(DEFAULT_ATTRIBUTES)
    ]
    ctx.db.put("ticket_types", ticket_type)
    return type_view(ctx.db, ticket_type)


def list_types(ctx: RequestContext) -> dict[str, Any]:
    return {"type": "list", "data": [type_view(ctx.db, t) for t in ctx.db.all("ticket_types")]}


def get_type(ctx: RequestContext) -> dict[str, Any]:
    return type_view(ctx.db, load_type(ctx, ctx.params["id"]))


def update_type(ctx: RequestContext) -> dict[str, Any]:
    ticket_type = load_type(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, {**TYPE_FIELDS, "archived": BOOLEAN})
    if "category" in body and body["category"] not in CATEGORIES:
        raise bad_request(f"category must be one of {', '.join(CATEGORIES)}", field="category")
    ticket_type.update(body)
    ticket_type["updated_at"] = ctx.now
    ctx.db.put("ticket_types", ticket_type)
    return type_view(ctx.db, ticket_type)


def create_attribute(ctx: RequestContext) -> dict[str, Any]:
    ticket_type = load_type(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, ATTRIBUTE_FIELDS)
    for required in ("name", "description", "data_type"):
        if required not in body:
            raise bad_request(f"{required} is required", "parameter_not_found", field=required)
    if body["data_type"] not in ATTRIBUTE_TYPES:
        raise bad_request(f"data_type must be one of {', '.join(ATTRIBUTE_TYPES)}", field="data_type")
    if any(a["name"].lower() == body["name"].lower() for a in ticket_type["_attributes"]):
        raise bad_request(f"An attribute named '{body['name']}' already exists on this ticket type", field="name")
    attribute = new_attribute(ctx, ticket_type["id"], body, len(ticket_type["_attributes"]), default=False)
    ticket_type["_attributes"].append(attribute)
    ticket_type["updated_at"] = ctx.now
    ctx.db.put("ticket_types", ticket_type)
    return attribute_view(attribute)


# -- tickets ----------------------------------------------------------------------------------------


def load_ticket(ctx: RequestContext, ticket_id: str) -> dict[str, Any]:
    ticket = ctx.db.get("tickets", ticket_id)
    if ticket is None:
        raise not_found("Ticket not found", "ticket_not_found")
    return ticket


def checked_attributes(ticket_type: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Known attributes only; a list attribute takes the id of one of its list items, not its label."""
    by_name = {a["name"]: a for a in ticket_type["_attributes"]}
    for name, value in values.items():
        attribute = by_name.get(name)
        if attribute is None:
            raise bad_request(f"Ticket attribute '{name}' does not exist on this ticket type", field=name)
        if value is None:
            continue
        data_type = attribute["data_type"]
        if data_type == "list":
            ids = {o["id"] for o in (attribute.get("input_options") or {}).get("list_options", [])}
            if value not in ids:
                raise bad_request(f"'{value}' is not a list item id of attribute '{name}'", field=name)
        elif not matches_type(value, VALUE_TYPES.get(data_type, STRING)):
            raise bad_request(f"Ticket attribute '{name}' must be a {data_type}", field=name)
    return values


def ticket_contact(ctx: RequestContext, contacts: Any) -> dict[str, Any]:
    if not isinstance(contacts, list) or len(contacts) != 1 or not isinstance(contacts[0], dict):
        raise bad_request("contacts must list exactly one contact", field="contacts")
    given = contacts[0]
    if not (given.get("id") or given.get("external_id") or given.get("email")):
        raise bad_request("a contact needs id, external_id or email", "parameter_not_found", field="contacts")
    return threads.named_contact(ctx, given.get("id"), given.get("external_id"), given.get("email"))


def state_of(ctx: RequestContext, state_id: str) -> dict[str, Any]:
    for state in ensure_states(ctx.db, ctx.now):
        if state["id"] == state_id:
            return state
    raise bad_request("Ticket state id is not valid or is not associated with the ticket type", "ticket_state_id_invalid")


def create_ticket(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    check_fields(body, CREATE_FIELDS)
    if "ticket_type_id" not in body:
        raise bad_request("ticket_type_id is required", "parameter_not_found", field="ticket_type_id")
    ticket_type = load_type(ctx, body["ticket_type_id"])
    contact = ticket_contact(ctx, body.get("contacts"))
    attributes = checked_attributes(ticket_type, dict(body.get("ticket_attributes") or {}))
    assignment = body.get("assignment") or {}
    if assignment.get("admin_assignee_id"):
        threads.load_admin(ctx, assignment["admin_assignee_id"])
    submitted = next(s for s in ensure_states(ctx.db, ctx.now) if s["category"] == "submitted")
    created_at = threads.checked_created_at(ctx, body)
    ticket: dict[str, Any] = {
        "id": str(ctx.db.next_value("ticket_db_id", FIRST_TICKET_ID)), "ticket_id": str(ctx.db.next_value("ticket_number", 1)),
        "category": ticket_type["category"], "ticket_attributes": attributes, "ticket_state_id": submitted["id"],
        "ticket_type_id": ticket_type["id"], "contact_ids": [contact["id"]], "admin_assignee_id": assignment.get("admin_assignee_id"),
        "team_assignee_id": assignment.get("team_assignee_id"), "created_at": created_at, "updated_at": ctx.now, "open": True,
        "snoozed_until": None, "is_shared": ticket_type["category"] == "Customer",
        "_notifications_sent": 0 if body.get("skip_notifications") is True else 1,
        "_searchable_from": ctx.clock() + ctx.settings.search_delay_s,
    }
    ctx.db.put("tickets", ticket)
    return ticket_view(ctx.db, ticket, ctx.now)


def add_part(ctx: RequestContext, ticket: dict[str, Any], part_type: str, author: dict[str, Any], *, body: str | None,
             created_at: int, attachments: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return threads.add_part(ctx, TICKETS, ticket, part_type, author, body=body, created_at=created_at, attachments=attachments, **extra)


def reply(ctx: RequestContext) -> dict[str, Any]:
    ticket = load_ticket(ctx, ctx.params["id"])
    body = ctx.json_object()
    if body.get("type") == "admin":
        admin, message_type, attachments = threads.checked_admin_reply(ctx, body, ADMIN_REPLY_FIELDS)
        if message_type in ("comment", "note") and not body.get("body"):
            raise bad_request("body is required for comment and note", "parameter_not_found", field="body")
        part = add_part(ctx, ticket, message_type, threads.admin_author(admin), body=body.get("body"),
                        created_at=threads.checked_created_at(ctx, body), attachments=attachments)
        threads.count_notification(ticket, message_type, body)
    elif body.get("type") == "user":
        threads.check_user_comment(body, USER_REPLY_FIELDS)
        if ticket["category"] == "Back-office":
            raise bad_request("User replies are not allowed on Backoffice tickets", "parameter_mismatch")
        contact = threads.reply_contact(ctx, body)
        if not body.get("body"):
            raise bad_request("body is required", "parameter_not_found", field="body")
        part = add_part(ctx, ticket, "comment", threads.contact_author(ctx, contact), body=body["body"],
                        created_at=threads.checked_created_at(ctx, body), attachments=threads.checked_attachments(body))
    else:
        raise bad_request("type must be admin or user", field="type")
    ctx.db.put("tickets", ticket)
    return public(part)


def update_ticket(ctx: RequestContext) -> dict[str, Any]:
    """State, open/closed, attributes and assignee; a state change and a close each add a part stamped now."""
    ticket = load_ticket(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, UPDATE_FIELDS)
    admin = threads.load_admin(ctx, str(body["admin_id"])) if "admin_id" in body else None
    author = threads.admin_author(admin) if admin else {"type": "bot", "id": ctx.admin_id, "name": "Operator", "email": None}
    ticket_type = load_type(ctx, ticket["ticket_type_id"])
    if "ticket_attributes" in body:
        ticket["ticket_attributes"].update(checked_attributes(ticket_type, body["ticket_attributes"]))
    if "ticket_state_id" in body and body["ticket_state_id"] != ticket["ticket_state_id"]:
        previous, state = state_of(ctx, ticket["ticket_state_id"]), state_of(ctx, body["ticket_state_id"])
        ticket["ticket_state_id"] = state["id"]
        add_part(ctx, ticket, "ticket_state_updated_by_admin", author, body=None, created_at=ctx.now,
                 previous_ticket_state=previous["category"], ticket_state=state["category"])
    if "assignee_id" in body:
        assignee = body["assignee_id"]
        if assignee != "0":
            threads.load_admin(ctx, assignee)
        ticket["admin_assignee_id"] = None if assignee == "0" else assignee
        add_part(ctx, ticket, "assignment", author, body=None, created_at=ctx.now, assigned_to={"type": "admin", "id": assignee})
    if "snoozed_until" in body:
        ticket["snoozed_until"] = body["snoozed_until"]
    if "is_shared" in body:
        ticket["is_shared"] = body["is_shared"]
    if "open" in body and body["open"] != ticket["open"]:
        ticket["open"] = body["open"]
        add_part(ctx, ticket, "close" if not body["open"] else "open", author, body=None, created_at=ctx.now)
        if not body["open"]:
            ticket["snoozed_until"] = None  # "Closing a ticket will also unsnooze it."
    ticket["updated_at"] = ctx.now
    ctx.db.put("tickets", ticket)
    return ticket_view(ctx.db, ticket, ctx.now)


def get_ticket(ctx: RequestContext) -> dict[str, Any]:
    return ticket_view(ctx.db, load_ticket(ctx, ctx.params["id"]), ctx.now)


def delete_ticket(ctx: RequestContext) -> dict[str, Any]:
    return threads.delete_thread(ctx, TICKETS, load_ticket(ctx, ctx.params["id"]))


def tag_ticket(ctx: RequestContext) -> dict[str, Any]:
    return threads.tag_thread(ctx, TICKETS, load_ticket(ctx, ctx.params["id"]))


def untag_ticket(ctx: RequestContext) -> dict[str, Any]:
    ticket = load_ticket(ctx, ctx.params["id"])
    body = ctx.json_object()
    check_fields(body, {"admin_id": STRING})
    return threads.untag_thread(ctx, TICKETS, ticket, body)


def search_tickets(ctx: RequestContext) -> dict[str, Any]:
    return threads.search_threads(ctx, TICKETS, SEARCH_FIELDS, lambda ticket: ticket_view(ctx.db, ticket, ctx.now, include_parts=False))


def ticket_view(db: Database, ticket: dict[str, Any], now: int, *, include_parts: bool = True) -> dict[str, Any]:
    """The `ticket` object; its parts are the 500 most recent, like a conversation's."""
    view = public(ticket)
    contact_ids = view.pop("contact_ids")
    type_id, state_id = view.pop("ticket_type_id"), view.pop("ticket_state_id")
    ticket_type = db.get("ticket_types", type_id)
    state = next((s for s in ensure_states(db, now) if s["id"] == state_id), None)
    view["type"] = "ticket"
    view["ticket_type"] = {"type": "ticket_type", "id": type_id, "name": ticket_type["name"] if ticket_type else None,
                           "category": ticket["category"]}
    view["ticket_state"] = {"type": "ticket_state", **public(state)} if state else None
    view["contacts"] = {"type": "contact.list", "contacts": [{"type": "contact", "id": cid} for cid in contact_ids]}
    view["tags"] = threads.applied_tags(db, TICKETS, ticket)
    if include_parts:
        view["ticket_parts"] = threads.recent_parts(db, TICKETS, ticket)
    return view


def tickets_notifications_sent(db: Database) -> int:
    """Customer notifications the workspace would have sent for tickets (creates and admin replies without skip_notifications)."""
    return threads.notifications_in(db, TICKETS)


def stored_ticket_parts(db: Database, ticket_id: str) -> list[dict[str, Any]]:
    return threads.stored_parts_of(db, TICKETS, ticket_id)


def register(router: Router) -> None:
    router.add("GET", "/ticket_states", list_states)
    router.add("GET", "/ticket_types", list_types)
    router.add("POST", "/ticket_types", create_type)
    router.add("GET", "/ticket_types/{id}", get_type)
    router.add("PUT", "/ticket_types/{id}", update_type)
    router.add("POST", "/ticket_types/{id}/attributes", create_attribute)
    router.add("POST", "/tickets", create_ticket)
    router.add("POST", "/tickets/search", search_tickets, is_write=False)
    router.add("GET", "/tickets/{id}", get_ticket)
    router.add("PUT", "/tickets/{id}", update_ticket)
    router.add("DELETE", "/tickets/{id}", delete_ticket)
    router.add("POST", "/tickets/{id}/reply", reply)
    router.add("POST", "/tickets/{id}/tags", tag_ticket)
    router.add("DELETE", "/tickets/{id}/tags/{tag_id}", untag_ticket)
