"""Teammates: `GET /me`, `GET /admins`, `GET /admins/{id}`."""

from __future__ import annotations

from typing import Any

from deskmigrate.sandbox.api import RequestContext, Router, not_found
from deskmigrate.sandbox.views import admin_view

APP_NAME = "deskmigrate sandbox"


def me(ctx: RequestContext) -> dict[str, Any]:
    admin = ctx.db.get("admins", ctx.admin_id)
    if admin is None:
        raise not_found("Admin Not Found", "admin_not_found")
    view = {
        key: value
        for key, value in admin_view(admin).items()
        if key not in ("job_title", "away_mode_enabled", "away_mode_reassign", "team_ids")
    }
    view["email_verified"] = True
    view["avatar"] = {"type": "avatar", "image_url": None}
    view["app"] = {
        "type": "app",
        "id_code": ctx.app_id,
        "name": APP_NAME,
        "created_at": int(ctx.db.meta("app_created_at") or 0),
        "identity_verification": False,
        "timezone": "Europe/Dublin",
        "region": "US",
    }
    return view


def list_admins(ctx: RequestContext) -> dict[str, Any]:
    return {"type": "admin.list", "admins": [admin_view(admin) for admin in ctx.db.all("admins")]}


def get_admin(ctx: RequestContext) -> dict[str, Any]:
    admin = ctx.db.get("admins", ctx.params["id"])
    if admin is None:
        raise not_found("Admin not found", "admin_not_found")
    return admin_view(admin)


def register(router: Router) -> None:
    router.add("GET", "/me", me)
    router.add("GET", "/admins", list_admins)
    router.add("GET", "/admins/{id}", get_admin)
