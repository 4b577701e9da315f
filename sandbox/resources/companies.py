"""Companies: `POST /companies` upserts by `company_id`; get, find by company_id or name, list, scroll, update, delete."""

from __future__ import annotations

import json
import uuid
from typing import Any

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request
from deskmigrate.sandbox.paging import new_object_id
from deskmigrate.sandbox.resources.contact_links import company_not_found, load_company
from deskmigrate.sandbox.validation import INTEGER, NUMBER, OBJECT, STRING, apply_custom_attributes, check_fields
from deskmigrate.sandbox.views import COMPANY_TAG, CONTACT_COMPANY, company_view, contact_view

COMPANY_FIELDS = {
    "company_id": STRING,
    "name": STRING,
    "plan": STRING,
    "size": INTEGER,
    "website": STRING,
    "industry": STRING,
    "remote_created_at": INTEGER,
    "monthly_spend": NUMBER,
    "custom_attributes": OBJECT,
}
NULLABLE_FIELDS = frozenset({"name", "plan", "size", "website", "industry", "remote_created_at", "monthly_spend", "custom_attributes"})
MAX_MONTHLY_SPEND = 2**31 - 1
DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 60
# The scroll's page size is not in the 2.15 spec; 50 is the conservative choice (older docs speak of 100 a page).
SCROLL_PAGE = 50
SCROLL_IDLE_S = 60
SCROLL_META = "companies_scroll"


def apply_changes(ctx: RequestContext, company: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    check_fields(body, COMPANY_FIELDS, NULLABLE_FIELDS)
    updated = dict(company)
    for key in COMPANY_FIELDS:
        if key in body and key not in ("company_id", "custom_attributes", "monthly_spend"):
            updated[key] = body[key]
    if body.get("monthly_spend") is not None:
        # Intercom truncates floats and caps the value: https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/createorupdatecompany
        spend = int(body["monthly_spend"])
        if not 0 <= spend <= MAX_MONTHLY_SPEND:
            raise bad_request(f"monthly_spend must be between 0 and {MAX_MONTHLY_SPEND}", field="monthly_spend")
        updated["monthly_spend"] = spend
    if body.get("custom_attributes") is not None:
        updated["custom_attributes"] = apply_custom_attributes(
            ctx.db, "company", company.get("custom_attributes") or {}, body["custom_attributes"]
        )
    updated["updated_at"] = ctx.now
    return updated


def create_or_update_company(ctx: RequestContext) -> dict[str, Any]:
    """Create, or update the company with the same `company_id` (Intercom's upsert)."""
    body = ctx.json_object()
    company_id = body.get("company_id")
    if not isinstance(company_id, str) or not company_id:
        check_fields(body, COMPANY_FIELDS, NULLABLE_FIELDS)
        raise bad_request("company_id not specified", "parameter_not_found", field="company_id")
    existing = ctx.db.find("companies", "company_id", company_id)
    if existing:
        company = existing[0]
    else:
        company = {"id": new_object_id(ctx.clock()), "company_id": company_id, "created_at": ctx.now, "custom_attributes": {}}
    company = apply_changes(ctx, company, body)
    company.setdefault("remote_created_at", ctx.now)
    ctx.db.put("companies", company)
    return company_view(ctx.db, company, ctx.app_id)


def update_company(ctx: RequestContext) -> dict[str, Any]:
    company = load_company(ctx, ctx.params["id"])
    body = ctx.json_object()
    if "company_id" in body and body["company_id"] != company["company_id"]:
        raise bad_request("company_id can't be updated", field="company_id")
    company = apply_changes(ctx, company, body)
    ctx.db.put("companies", company)
    return company_view(ctx.db, company, ctx.app_id)


def get_company(ctx: RequestContext) -> dict[str, Any]:
    return company_view(ctx.db, load_company(ctx, ctx.params["id"]), ctx.app_id)


def delete_company(ctx: RequestContext) -> dict[str, Any]:
    company = load_company(ctx, ctx.params["id"])
    ctx.db.unlink_all(CONTACT_COMPANY, right_id=company["id"])
    ctx.db.unlink_all(COMPANY_TAG, left_id=company["id"])
    ctx.db.delete("companies", company["id"])
    return {"id": company["id"], "object": "company", "deleted": True}


def list_or_find_companies(ctx: RequestContext) -> dict[str, Any]:
    """With `company_id` or `name` the matching company itself (404 when none); otherwise a page-numbered list, of the
    companies carrying `tag_id` when given."""
    for key in ("company_id", "name"):
        if ctx.query.get(key):
            found = ctx.db.find("companies", key, ctx.query[key])
            if not found:
                raise company_not_found()
            return company_view(ctx.db, found[0], ctx.app_id)
    try:
        page = max(1, int(ctx.query.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(ctx.query.get("per_page", DEFAULT_PER_PAGE))))
    except ValueError:
        raise bad_request("page and per_page must be integers") from None
    companies = ctx.db.all("companies")
    tag_id = ctx.query.get("tag_id")
    if tag_id:
        tagged = set(ctx.db.links_to(COMPANY_TAG, str(tag_id)))
        companies = [company for company in companies if company["id"] in tagged]
    total_pages = -(-len(companies) // per_page)
    window = companies[(page - 1) * per_page : page * per_page]
    filters = f"tag_id={tag_id}&" if tag_id else ""
    next_url = f"{ctx.base_url()}/companies?{filters}page={page + 1}&per_page={per_page}" if page < total_pages else None
    return {
        "type": "list",
        "data": [company_view(ctx.db, company, ctx.app_id) for company in window],
        "pages": {"type": "pages", "next": next_url, "page": page, "per_page": per_page, "total_pages": total_pages},
        "total_count": len(companies),
    }


def scroll_companies(ctx: RequestContext) -> dict[str, Any]:
    """`GET /companies/scroll`: one open scroll per app, expiring after a minute unused or once a page comes back empty;
    `scroll_param` names the next page (https://developers.intercom.com/docs/references/2.15/rest-api/api.intercom.io/companies/scrolloverallcompanies)."""
    stored = ctx.db.meta(SCROLL_META)
    scroll = json.loads(stored) if stored else None
    if scroll is not None and ctx.clock() - scroll["used_at"] > SCROLL_IDLE_S:
        scroll = None
    param = ctx.query.get("scroll_param")
    if param:
        if scroll is None or scroll["param"] != param:
            raise bad_request("scroll_param is invalid or has expired", field="scroll_param")
    elif scroll is not None:
        raise ApiError(400, "scroll_exists", "Only one scroll can be open at a time: finish it or wait a minute")
    else:
        scroll = {"param": str(uuid.uuid4()), "after": 0}
    rows = ctx.db.page("companies", scroll["after"], SCROLL_PAGE)
    if rows:
        ctx.db.set_meta(SCROLL_META, json.dumps({"param": scroll["param"], "after": rows[-1][0], "used_at": ctx.clock()}))
    else:
        ctx.db.set_meta(SCROLL_META, "")
    return {
        "type": "list",
        "data": [company_view(ctx.db, company, ctx.app_id) for _, company in rows],
        "pages": None,
        "total_count": None,
        "scroll_param": scroll["param"],
    }


def list_company_contacts(ctx: RequestContext) -> dict[str, Any]:
    company = load_company(ctx, ctx.params["id"])
    contacts = [ctx.db.get("contacts", contact_id) for contact_id in ctx.db.links_to(CONTACT_COMPANY, company["id"])]
    data = [contact_view(ctx.db, contact, ctx.app_id) for contact in contacts if contact]
    return {
        "type": "list",
        "data": data,
        "total_count": len(data),
        "pages": {"type": "pages", "page": 1, "per_page": max(50, len(data)), "total_pages": 1},
    }


def register(router: Router) -> None:
    router.add("POST", "/companies", create_or_update_company)
    router.add("GET", "/companies", list_or_find_companies)
    router.add("GET", "/companies/scroll", scroll_companies)
    router.add("GET", "/companies/{id}", get_company)
    router.add("PUT", "/companies/{id}", update_company)
    router.add("DELETE", "/companies/{id}", delete_company)
    router.add("GET", "/companies/{id}/contacts", list_company_contacts)
