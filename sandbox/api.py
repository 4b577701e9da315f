"""The socket-free core of the emulator: requests, responses, Intercom-shaped errors and the route table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.settings import SandboxSettings

DropMoment = Literal["before", "after"]


@dataclass
class Response:
    """What the server sends: JSON `body`, or `text` for gateway pages, or nothing at all when `drop` is set."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    drop: DropMoment | None = None


class ApiError(Exception):
    """An Intercom error answer; rendered as an `error.list` body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(request_id: str, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The Intercom error object: https://developers.intercom.com/docs/references/rest-api/errors/error-objects"""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"type": "error.list", "request_id": request_id, "errors": [error]}


def not_found(message: str = "Resource Not Found", code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)


def bad_request(message: str, code: str = "parameter_invalid", field: str | None = None) -> ApiError:
    return ApiError(400, code, message, field)


@dataclass
class RequestContext:
    """Everything a handler sees. Handlers run inside one database transaction; `now` is unix seconds."""

    db: Database
    settings: SandboxSettings
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    clock: Callable[[], float]
    admin_id: str
    app_id: str

    @property
    def now(self) -> int:
        return int(self.clock())

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body counts as `{}`."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "bad_request", "The request body must be a JSON object")
        return self.body

    def base_url(self) -> str:
        return f"http://{self.headers.get('host', '127.0.0.1')}"


Handler = Callable[[RequestContext], "Response | dict[str, Any]"]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    is_write: bool
    pattern: re.Pattern[str]
    specificity: tuple[int, ...]

    @property
    def name(self) -> str:
        """The templated route as the request log names it, e.g. `PUT /contacts/{id}`."""
        return f"{self.method} {self.template}"


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Router:
    """Routes by method and templated path; a literal segment wins over a `{param}` in the same place (`/contacts/search`)."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, is_write: bool | None = None) -> None:
        """Register a handler; a POST is a write unless `is_write=False` (searches)."""
        segments = template.strip("/").split("/")
        regex = "/" + "/".join(f"(?P<{s[1:-1]}>[^/]+)" if s.startswith("{") else re.escape(s) for s in segments)
        specificity = tuple(1 if s.startswith("{") else 0 for s in segments)
        write = method in WRITE_METHODS if is_write is None else is_write
        self._routes.append(Route(method, template, handler, write, re.compile(regex + "/?$"), specificity))
        self._routes.sort(key=lambda route: route.specificity)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, {key: unquote(value) for key, value in found.groupdict().items()}
        return None
