"""What conversations and tickets share: reply authors and attachments, ordered parts, tags, delete and search."""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from deskmigrate.sandbox.api import RequestContext, bad_request, not_found
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.contact_links import load_tag
from deskmigrate.sandbox.resources.contacts import user_not_found
from deskmigrate.sandbox.validation import STRING, check_fields
from deskmigrate.sandbox.views import applied_tag_view, public

# "The maximum number of conversation parts that can be returned via the API is 500 ... the 500 most recent"
# (2.15 spec, Retrieve a conversation); a ticket's parts follow the same rule.
MAX_PARTS_RETURNED = 500
# attachment_urls and attachment_files: "You can include up to 10" (2.15 spec, maxItems: 10).
MAX_ATTACHMENTS_PER_PART = 10
SEARCH_PAGE_SIZE = 150


@dataclass(frozen=True)
class Thread:
    """Where one kind of thread (`conversation` or `ticket`) keeps its records, parts and tags."""

    kind: str
    part_link: str
    tag_link: str
    first_part_id: int

    @property
    def collection(self) -> str:
        return f"{self.kind}s"

    @property
    def parts(self) -> str:
        return f"{self.kind}_parts"


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


def reply_contact(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """A contact reply names its author by `intercom_user_id`, `user_id` (external id) or `email`."""
    if not (body.get("intercom_user_id") or body.get("user_id") or body.get("email")):
        raise bad_request("intercom_user_id, user_id or email is required", "parameter_not_found")
    return named_contact(ctx, body.get("intercom_user_id"), body.get("user_id"), body.get("email"))


def named_contact(ctx: RequestContext, contact_id: Any, external_id: Any, email: Any) -> dict[str, Any]:
    """The contact named by the first of its Intercom id, external id or email that is given; one of them must be."""
    if contact_id:
        contact = ctx.db.get("contacts", str(contact_id))
    elif external_id:
        found = ctx.db.find("contacts", "external_id", external_id)
        contact = found[0] if found else None
    else:
        found = ctx.db.find("contacts", "email", email)
        contact = found[0] if found else None
    if contact is None:
        raise user_not_found()
    return contact


def checked_admin_reply(ctx: RequestContext, body: dict[str, Any], fields: dict[str, str]) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """The author, message type and attachments of an admin reply."""
    check_fields(body, fields)
    admin = load_admin(ctx, body.get("admin_id"))
    message_type = body.get("message_type")
    if message_type not in ("comment", "note", "quick_reply"):
        raise bad_request("message_type must be comment, note or quick_reply", field="message_type")
    return admin, message_type, checked_attachments(body)


def count_notification(record: dict[str, Any], message_type: str, body: dict[str, Any]) -> None:
    """A public admin reply emails or messages the customer unless skip_notifications (2.15+) is set."""
    if message_type != "note" and body.get("skip_notifications") is not True:
        record["_notifications_sent"] = record.get("_notifications_sent", 0) + 1


def check_user_comment(body: dict[str, Any], fields: dict[str, str]) -> None:
    check_fields(body, fields)
    if body.get("message_type") != "comment":
        raise bad_request("message_type must be comment", field="message_type")


def add_part(ctx: RequestContext, thread: Thread, record: dict[str, Any], part_type: str, author: dict[str, Any], *, body: str | None,
             created_at: int, attachments: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    part = {
        "type": f"{thread.kind}_part", "id": str(ctx.db.next_value(f"{thread.kind}_part_id", thread.first_part_id)), "part_type": part_type,
        "body": body, "created_at": created_at, "updated_at": ctx.now, "author": author, "attachments": attachments or [],
        "external_id": None, "redacted": False, **extra,
    }
    ctx.db.put(thread.parts, part)
    ctx.db.link(thread.part_link, record["id"], part["id"], ctx.now)
    record["updated_at"] = ctx.now
    return part


def delete_thread(ctx: RequestContext, thread: Thread, record: dict[str, Any]) -> dict[str, Any]:
    for link in ctx.db.links_from(thread.part_link, record["id"]):
        ctx.db.delete(thread.parts, link["id"])
    ctx.db.unlink_all(thread.part_link, left_id=record["id"])
    ctx.db.unlink_all(thread.tag_link, left_id=record["id"])
    ctx.db.delete(thread.collection, record["id"])
    return {"id": record["id"], "object": thread.kind, "deleted": True}


def tag_thread(ctx: RequestContext, thread: Thread, record: dict[str, Any]) -> dict[str, Any]:
    body = ctx.json_object()
    check_fields(body, {"id": STRING, "admin_id": STRING})
    admin = load_admin(ctx, body.get("admin_id"))
    tag = load_tag(ctx, body.get("id"))
    ctx.db.link(thread.tag_link, record["id"], tag["id"], ctx.now, admin["id"])
    return applied_tag_view(tag, ctx.now, admin["id"])


def untag_thread(ctx: RequestContext, thread: Thread, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    load_admin(ctx, body.get("admin_id"))
    tag = load_tag(ctx, ctx.params["tag_id"])
    ctx.db.unlink(thread.tag_link, record["id"], tag["id"])
    return applied_tag_view(tag, None, None)


def search_filters(query: Any, fields: set[str]) -> list[dict[str, Any]]:
    if not isinstance(query, dict):
        raise bad_request("query is required", "parameter_not_found", field="query")
    filters = query.get("value") if query.get("operator") == "AND" else [query]
    if not isinstance(filters, list):
        raise bad_request("AND needs a list of filters", field="query")
    for item in filters:
        if not isinstance(item, dict) or item.get("field") not in fields or item.get("operator") != "=":
            raise bad_request(f"the sandbox searches by '=' on {', '.join(sorted(fields))}", field="query")
    return filters


def filter_matches(record: dict[str, Any], item: dict[str, Any], tag_ids: set[str] | None = None) -> bool:
    field, value = item["field"], item.get("value")
    if field == "tag_ids":
        return str(value) in (tag_ids or set())
    if field == "contact_ids":
        return str(value) in record["contact_ids"]
    if field == "source.author.id":
        return record["source"]["author"]["id"] == str(value)
    return str(record.get(field)) == str(value)


def search_threads(ctx: RequestContext, thread: Thread, fields: set[str], view: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """An AND of `=` filters; only records older than `search_delay_s` are indexed (eventual consistency)."""
    filters = search_filters(ctx.json_object().get("query"), fields)
    now = ctx.clock()
    hits = [view(record) for record in ctx.db.all(thread.collection)
            if record.get("_searchable_from", 0) <= now
            and all(filter_matches(record, f, {link["id"] for link in ctx.db.links_from(thread.tag_link, record["id"])}) for f in filters)]
    return {"type": f"{thread.kind}.list", thread.collection: hits[:SEARCH_PAGE_SIZE], "total_count": len(hits),
            "pages": {"type": "pages", "page": 1, "per_page": SEARCH_PAGE_SIZE, "total_pages": 1}}


def applied_tags(db: Database, thread: Thread, record: dict[str, Any]) -> dict[str, Any]:
    tags = [applied_tag_view(tag, link["applied_at"], link["applied_by"])
            for link in db.links_from(thread.tag_link, record["id"]) if (tag := db.get("tags", link["id"]))]
    return {"type": "tag.list", "tags": tags}


def recent_parts(db: Database, thread: Thread, record: dict[str, Any]) -> dict[str, Any]:
    """The 500 most recent parts of a thread, and how many it has."""
    links = db.links_from(thread.part_link, record["id"])
    parts = [db.get(thread.parts, link["id"]) for link in links[-MAX_PARTS_RETURNED:]]
    return {"type": f"{thread.kind}_part.list", thread.parts: [public(p) for p in parts if p], "total_count": len(links)}


def notifications_in(db: Database, thread: Thread) -> int:
    return sum(int(record.get("_notifications_sent", 0)) for record in db.all(thread.collection))


def stored_parts_of(db: Database, thread: Thread, record_id: str) -> list[dict[str, Any]]:
    return [part for link in db.links_from(thread.part_link, record_id) if (part := db.get(thread.parts, link["id"]))]
