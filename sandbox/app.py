"""The emulator without sockets: `SandboxApp.handle(method, path, query, headers, body) -> Response`."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import string
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from deskmigrate.sandbox.api import WRITE_METHODS, ApiError, RequestContext, Response, Route, Router, error_body
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.faults import FaultInjector, WorkspaceRateLimits
from deskmigrate.sandbox.resources import RESOURCE_MODULES
from deskmigrate.sandbox.settings import DEFAULT_ADMINS, SandboxSettings

logger = logging.getLogger(__name__)

API_VERSION = "2.15"
GATEWAY_PAGES = {
    502: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
    503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>",
}


@dataclass(frozen=True)
class Incoming:
    """One request as received, with its matched route (None when no route matches)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    request_id: str
    route: Route | None
    params: dict[str, str]
    is_write: bool


def build_router() -> Router:
    router = Router()
    for module in RESOURCE_MODULES:
        module.register(router)
    return router


class SandboxApp:
    """Auth, rate limit, fault injection, routing and the request log around the resource handlers."""

    def __init__(
        self, settings: SandboxSettings, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.db = Database(settings.path)
        self.router = build_router()
        self.limits = WorkspaceRateLimits(len(settings.app_tokens), settings.rate_limit, settings.workspace_rate_limit, clock)
        self.faults = FaultInjector(settings.error_rate, settings.drop_rate, settings.seed)
        self.app_id, self.admin_id = self._prepare_workspace()

    def close(self) -> None:
        self.db.close()

    def _prepare_workspace(self) -> tuple[str, str]:
        """Give a new file its app id and teammates; explicit `settings.admins` replace the stored ones."""
        with self.db.transaction() as db:
            app_id = db.meta("app_id")
            if app_id is None:
                app_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
                db.set_meta("app_id", app_id)
                db.set_meta("app_created_at", str(int(self.clock())))
            stored = db.all("admins")
            if self.settings.admins is not None or not stored:
                for admin in stored:
                    db.delete("admins", admin["id"])
                for index, admin in enumerate(self.settings.admins if self.settings.admins is not None else DEFAULT_ADMINS):
                    db.put("admins", {**admin, "id": str(admin.get("id") or 991268000 + index)})
                stored = db.all("admins")
            if not stored:
                raise ValueError("a sandbox needs at least one admin (the token's owner)")
            return app_id, stored[0]["id"]

    def handle(self, method: str, path: str, query: Mapping[str, str] | str, headers: Mapping[str, str], body: bytes) -> Response:
        method = method.upper()
        matched = self.router.match(method, path)
        route, params = matched if matched else (None, {})
        incoming = Incoming(
            method=method,
            path=path,
            query=dict(parse_qsl(query)) if isinstance(query, str) else dict(query),
            headers={key.lower(): value for key, value in headers.items()},
            body=body,
            request_id=str(uuid.uuid4()),
            route=route,
            params=params,
            is_write=route.is_write if route else method in WRITE_METHODS,
        )
        if self.settings.latency_ms:
            self.sleep(self.settings.latency_ms / 1000.0)
        app = self._app_of(incoming.headers.get("authorization", ""))
        response = self._respond(incoming, app)
        response.headers.setdefault("X-Request-Id", incoming.request_id)
        self._log(incoming, response, app)
        return response

    def _respond(self, incoming: Incoming, app: int | None) -> Response:
        """Auth, then the rate limits, then injected faults, then the handler, in the order Intercom's edge applies them."""
        request_id = incoming.request_id
        if app is None:
            foreign = self._foreign_workspace(incoming.headers.get("authorization", ""))
            if foreign is not None and incoming.method == "GET" and incoming.path == "/me":
                return Response(200, foreign_me(foreign, self.clock))
            return Response(401, error_body(request_id, "unauthorized", "Access Token Invalid"))
        decision = self.limits.check(app - 1)
        rate_headers = decision.headers()
        if not decision.allowed:
            limit = decision.app.limit if decision.refused_by == "app" else self.limits.workspace.limit
            message = f"Exceeded rate limit of {limit} in 10_seconds"
            return Response(429, error_body(request_id, "rate_limit_exceeded", message), rate_headers)
        fault = self.faults.draw(incoming.is_write)
        if fault.status == 500:
            return Response(500, error_body(request_id, "server_error", "Server Error"), rate_headers)
        if fault.status is not None:
            return Response(fault.status, text=GATEWAY_PAGES[fault.status])
        if fault.drop == "before":
            return Response(0, drop="before")
        rate_headers["Intercom-Version"] = incoming.headers.get("intercom-version", API_VERSION)
        response = self._dispatch(incoming)
        response.headers.update(rate_headers)
        response.drop = fault.drop
        return response

    def _app_of(self, authorization: str) -> int | None:
        """Which of the workspace's apps a bearer token belongs to (1-based), or None for a token it does not know."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        given = token.strip().encode()
        found = None
        for position, accepted in enumerate(self.settings.app_tokens, start=1):
            if hmac.compare_digest(given, accepted.encode()) and found is None:
                found = position
        return found

    def _foreign_workspace(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return next((workspace for accepted, workspace in (self.settings.foreign_tokens or {}).items()
                     if hmac.compare_digest(token.strip().encode(), accepted.encode())), None)

    def _dispatch(self, incoming: Incoming) -> Response:
        request_id, route = incoming.request_id, incoming.route
        if route is None:
            return Response(404, error_body(request_id, "not_found", "Resource Not Found"))
        try:
            parsed = json.loads(incoming.body) if incoming.body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return Response(400, error_body(request_id, "bad_request", "There was a problem in the JSON you submitted"))
        ctx = RequestContext(
            self.db,
            self.settings,
            incoming.method,
            incoming.path,
            incoming.params,
            incoming.query,
            incoming.headers,
            parsed,
            self.clock,
            self.admin_id,
            self.app_id,
        )
        try:
            with self.db.transaction():
                result = route.handler(ctx)
        except ApiError as error:
            return Response(error.status, error_body(request_id, error.code, error.message, error.field))
        except Exception:
            logger.exception("sandbox handler failed for %s", route.name)
            return Response(500, error_body(request_id, "server_error", "Server Error"))
        return result if isinstance(result, Response) else Response(200, result)

    def _log(self, incoming: Incoming, response: Response, app: int | None) -> None:
        with self.db.transaction() as db:
            db.log_request(
                at=self.clock(),
                method=incoming.method,
                path=incoming.path,
                route=incoming.route.name if incoming.route else None,
                status=None if response.drop == "before" else response.status,
                is_write=incoming.is_write,
                dropped=response.drop,
                request_id=incoming.request_id,
                app=app,
            )


def foreign_me(workspace_id: str, clock: Callable[[], float]) -> dict[str, object]:
    """`GET /me` for a token of another workspace's app: its admin and its workspace."""
    return {
        "type": "admin", "id": "991269001", "name": "Other Workspace Owner", "email": "owner@other.example.com", "email_verified": True,
        "app": {"type": "app", "id_code": workspace_id, "name": f"workspace {workspace_id}", "created_at": int(clock()),
                "identity_verification": False, "timezone": "Europe/Dublin", "region": "US"},
        "avatar": {"type": "avatar", "image_url": None},
    }
