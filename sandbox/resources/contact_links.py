"""A contact's companies and tags: `/contacts/{id}/companies[/{company_id}]` and `/contacts/{id}/tags[/{tag_id}]`."""

from __future__ import annotations

from typing import Any

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.resources.contacts import load_contact
from deskmigrate.sandbox.views import CONTACT_COMPANY, CONTACT_TAG, applied_tag_view, company_view

MAX_COMPANIES_PER_CONTACT = 1000


def company_not_found() -> ApiError:
    return not_found("Company Not Found", "company_not_found")


def load_company(ctx: RequestContext, company_id: Any) -> dict[str, Any]:
    company = ctx.db.get("companies", str(company_id)) if isinstance(company_id, (str, int)) and not isinstance(company_id, bool) else None
    if company is None:
        raise company_not_found()
    return company


def load_tag(ctx: RequestContext, tag_id: Any) -> dict[str, Any]:
    tag = ctx.db.get("tags", str(tag_id)) if isinstance(tag_id, (str, int)) and not isinstance(tag_id, bool) else None
    if tag is None:
        raise not_found("Resource Not Found")
    return tag


def attach_company(ctx: RequestContext) -> dict[str, Any]:
    """Attach by the Intercom company `id` (not `company_id`); attaching twice changes nothing."""
    contact = load_contact(ctx, ctx.params["id"])
    body = ctx.json_object()
    if body.get("id") in (None, ""):
        raise bad_request("company not specified", "parameter_not_found")
    company = load_company(ctx, body["id"])
    already = ctx.db.link_details(CONTACT_COMPANY, contact["id"], company["id"]) is not None
    if not already and ctx.db.count_links_from(CONTACT_COMPANY, contact["id"]) >= MAX_COMPANIES_PER_CONTACT:
        raise bad_request(
            f"Contact has reached the maximum of {MAX_COMPANIES_PER_CONTACT} company associations", "contact_company_limit_exceeded"
        )
    if not already:
        ctx.db.link(CONTACT_COMPANY, contact["id"], company["id"], ctx.now, ctx.admin_id)
        company["updated_at"] = ctx.now
        ctx.db.put("companies", company)
    return company_view(ctx.db, company, ctx.app_id)


def detach_company(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    company = load_company(ctx, ctx.params["company_id"])
    if ctx.db.unlink(CONTACT_COMPANY, contact["id"], company["id"]):
        company["updated_at"] = ctx.now
        ctx.db.put("companies", company)
    return company_view(ctx.db, company, ctx.app_id)


def list_contact_companies(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    companies = [ctx.db.get("companies", link["id"]) for link in ctx.db.links_from(CONTACT_COMPANY, contact["id"])]
    data = [company_view(ctx.db, company, ctx.app_id) for company in companies if company]
    return {
        "type": "list",
        "data": data,
        "pages": {"type": "pages", "next": None, "page": 1, "per_page": max(50, len(data)), "total_pages": 1},
        "total_count": len(data),
    }


def tag_contact(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    body = ctx.json_object()
    if body.get("id") in (None, ""):
        raise bad_request("tag not specified", "parameter_not_found")
    tag = load_tag(ctx, body["id"])
    ctx.db.link(CONTACT_TAG, contact["id"], tag["id"], ctx.now, ctx.admin_id)
    details = ctx.db.link_details(CONTACT_TAG, contact["id"], tag["id"]) or {}
    return applied_tag_view(tag, details.get("applied_at"), details.get("applied_by"))


def untag_contact(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    tag = load_tag(ctx, ctx.params["tag_id"])
    details = ctx.db.link_details(CONTACT_TAG, contact["id"], tag["id"]) or {}
    ctx.db.unlink(CONTACT_TAG, contact["id"], tag["id"])
    return applied_tag_view(tag, details.get("applied_at"), details.get("applied_by"))


def list_contact_tags(ctx: RequestContext) -> dict[str, Any]:
    contact = load_contact(ctx, ctx.params["id"])
    data = []
    for link in ctx.db.links_from(CONTACT_TAG, contact["id"]):
        tag = ctx.db.get("tags", link["id"])
        if tag:
            data.append(applied_tag_view(tag, link["applied_at"], link["applied_by"]))
    return {"type": "list", "data": data}


def register(router: Router) -> None:
    router.add("POST", "/contacts/{id}/companies", attach_company)
    router.add("GET", "/contacts/{id}/companies", list_contact_companies)
    router.add("DELETE", "/contacts/{id}/companies/{company_id}", detach_company)
    router.add("POST", "/contacts/{id}/tags", tag_contact)
    router.add("GET", "/contacts/{id}/tags", list_contact_tags)
    router.add("DELETE", "/contacts/{id}/tags/{tag_id}", untag_contact)
