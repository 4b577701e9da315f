"""Stored documents → the JSON objects Intercom returns (shapes per the 2.15 OpenAPI `contact`, `company`, `tag`, ...)."""

from __future__ import annotations

from typing import Any

from deskmigrate.sandbox.db import Database

# Relations between stored objects (links table `rel` values).
CONTACT_COMPANY = "contact_company"
CONTACT_TAG = "contact_tag"
COMPANY_TAG = "company_tag"

# Intercom embeds at most this many items in a contact's `tags`/`companies`/`notes` lists; `has_more` says there are more.
EMBEDDED_LIST_LIMIT = 10

CONTACT_NULL_FIELDS = (
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "android_last_seen_at",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "ios_last_seen_at",
)

# Keys the API derives or nests; everything else of an API-shaped object is stored as given.
DERIVED_KEYS = {
    "contacts": {"type", "workspace_id", "email_domain", "tags", "notes", "companies", "location", "social_profiles", *CONTACT_NULL_FIELDS},
    "companies": {"type", "app_id", "user_count", "session_count", "tags", "segments"},
    "tags": {"type", "applied_at", "applied_by"},
    "data_attributes": {"type"},
    "admins": {"type"},
}


def public(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document without the sandbox's private bookkeeping keys (those starting with `_`)."""
    return {key: value for key, value in document.items() if not key.startswith("_")}


def embedded_list(items: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {
        "type": "list",
        "data": items[:EMBEDDED_LIST_LIMIT],
        "url": url,
        "total_count": len(items),
        "has_more": len(items) > EMBEDDED_LIST_LIMIT,
    }


def contact_view(db: Database, contact: dict[str, Any], app_id: str) -> dict[str, Any]:
    contact_id = contact["id"]
    email = contact.get("email")
    tags = [{"type": "tag", "id": link["id"], "url": f"/tags/{link['id']}"} for link in db.links_from(CONTACT_TAG, contact_id)]
    companies = [
        {"type": "company", "id": link["id"], "url": f"/companies/{link['id']}"} for link in db.links_from(CONTACT_COMPANY, contact_id)
    ]
    avatar = contact.get("avatar")
    view: dict[str, Any] = {
        "type": "contact",
        "id": contact_id,
        "workspace_id": app_id,
        "external_id": contact.get("external_id"),
        "role": contact.get("role", "user"),
        "email": email,
        "email_domain": email.rsplit("@", 1)[-1].lower() if email else None,
        "phone": contact.get("phone"),
        "name": contact.get("name"),
        "avatar": {"type": "avatar", "image_url": avatar} if avatar else None,
        "owner_id": contact.get("owner_id"),
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": bool(contact.get("unsubscribed_from_emails", False)),
        "created_at": contact["created_at"],
        "updated_at": contact["updated_at"],
        "signed_up_at": contact.get("signed_up_at"),
        "last_seen_at": contact.get("last_seen_at"),
    }
    view.update({key: None for key in CONTACT_NULL_FIELDS})
    view["location"] = {"type": "location", "country": None, "region": None, "city": None}
    view["custom_attributes"] = dict(contact.get("custom_attributes") or {})
    view["tags"] = embedded_list(tags, f"/contacts/{contact_id}/tags")
    view["notes"] = embedded_list([], f"/contacts/{contact_id}/notes")
    view["companies"] = embedded_list(companies, f"/contacts/{contact_id}/companies")
    return view


def company_view(db: Database, company: dict[str, Any], app_id: str) -> dict[str, Any]:
    company_id = company["id"]
    tags = [tag_view(tag) for tag in (db.get("tags", link["id"]) for link in db.links_from(COMPANY_TAG, company_id)) if tag]
    plan = company.get("plan")
    view: dict[str, Any] = {
        "type": "company",
        "company_id": company["company_id"],
        "id": company_id,
        "app_id": app_id,
        "name": company.get("name"),
        "remote_created_at": company.get("remote_created_at"),
        "created_at": company["created_at"],
        "updated_at": company["updated_at"],
        "monthly_spend": company.get("monthly_spend", 0),
        "session_count": 0,
        "user_count": db.count_links_to(CONTACT_COMPANY, company_id),
        "tags": {"type": "tag.list", "tags": tags},
        "segments": {"type": "segment.list", "segments": []},
        "plan": {"type": "plan", "id": plan_id(plan), "name": plan} if plan else {},
        "custom_attributes": dict(company.get("custom_attributes") or {}),
    }
    for optional in ("size", "website", "industry", "last_request_at"):
        if company.get(optional) is not None:
            view[optional] = company[optional]
    return view


def plan_id(plan_name: str) -> str:
    """A stable numeric id per plan name (Intercom creates a plan object per distinct name)."""
    return str(sum((index + 1) * ord(ch) for index, ch in enumerate(plan_name.lower())) + 100000)


def tag_view(tag: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tag", "id": tag["id"], "name": tag["name"]}


def applied_tag_view(tag: dict[str, Any], applied_at: int | None, applied_by: str | None) -> dict[str, Any]:
    view = tag_view(tag)
    view["applied_at"] = applied_at
    view["applied_by"] = {"type": "admin", "id": applied_by} if applied_by else None
    return view


def data_attribute_view(attribute: dict[str, Any]) -> dict[str, Any]:
    return {"type": "data_attribute", **public(attribute)}


def admin_view(admin: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "admin",
        "id": admin["id"],
        "email": admin.get("email"),
        "name": admin.get("name"),
        "job_title": admin.get("job_title"),
        "away_mode_enabled": bool(admin.get("away_mode_enabled", False)),
        "away_mode_reassign": bool(admin.get("away_mode_reassign", False)),
        "has_inbox_seat": bool(admin.get("has_inbox_seat", True)),
        "team_ids": list(admin.get("team_ids", [])),
    }


def contact_reference(contact: dict[str, Any]) -> dict[str, Any]:
    return {"type": "contact", "id": contact["id"], "external_id": contact.get("external_id")}


def view_of(db: Database, kind: str, document: dict[str, Any], app_id: str) -> dict[str, Any]:
    """The API shape of any stored document, as a GET of it would return."""
    if kind == "contacts":
        return contact_view(db, document, app_id)
    if kind == "companies":
        return company_view(db, document, app_id)
    if kind == "tags":
        return tag_view(document)
    if kind == "data_attributes":
        return data_attribute_view(document)
    if kind == "admins":
        return admin_view(document)
    raise KeyError(f"unknown object kind {kind!r}")


def document_from_view(kind: str, view: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """Turn an API-shaped object back into what is stored, keeping private bookkeeping of the stored version."""
    document = {key: value for key, value in (existing or {}).items() if key.startswith("_")}
    document.update({key: value for key, value in view.items() if key not in DERIVED_KEYS.get(kind, set())})
    if kind == "contacts" and isinstance(document.get("avatar"), dict):
        document["avatar"] = document["avatar"].get("image_url")
    if kind == "companies" and isinstance(document.get("plan"), dict):
        document["plan"] = document["plan"].get("name")
    return document
