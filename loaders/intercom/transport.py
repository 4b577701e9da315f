"""The HTTP side of the Intercom client: one pooled session, a rate limiter per token under one workspace cap, retries by
the core policy, every call counted, Intercom's error bodies read into the core error tree (a 409 names the existing contact)."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, Self

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from deskmigrate.core.errors import AuthError, ConflictError, LoadError, RejectedError
from deskmigrate.core.http import (
    ErrorDetails,
    Lane,
    LanePool,
    RetryPolicy,
    RetryStats,
    WindowRateLimiter,
    WorkspaceCap,
    call_with_retries,
    response_excerpt,
)

log = logging.getLogger(__name__)

DEFAULT_VERSION = "2.15"
# Conversation data attributes can be created by API from 2.16 (`POST /conversations/attributes`), which also moves
# their listing there (`GET /data_attributes?model=conversation` answers 422); before that they are made in the UI.
CONVERSATION_ATTRIBUTES_API_VERSION = (2, 16)
MAX_CONTACTS_PER_PAGE = 150
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENT_METHODS = READ_METHODS | {"PUT", "DELETE"}

# 409 on POST /contacts names the duplicate: "A contact matching those details already exists with id=<id>",
# or "An archived contact matching those details already exists with id=<id>" (https://github.com/intercom/Intercom-OpenAPI/pull/543).
_EXISTING_ID = re.compile(r"already exists with id=([A-Za-z0-9_-]+)")
_ARCHIVED_DUPLICATE = re.compile(r"\barchived contact matching\b", re.IGNORECASE)


class ArchivedContactConflictError(ConflictError):
    """409: the matching contact is archived; unarchive `existing_id` before updating it."""


def _user_agent() -> str:
    try:
        return f"deskmigrate/{package_version('deskmigrate')}"
    except PackageNotFoundError:
        return "deskmigrate/unknown"


def version_tuple(version: str) -> tuple[int, ...]:
    """`"2.16"` → `(2, 16)`; a version that is not numbers (`Unstable`) sorts after every numbered one."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (99,)


def _route_template(path: str) -> str:
    """A path with its id-like segments (any with a digit) replaced by {id}, for stats by route."""
    return "/".join("{id}" if any(ch.isdigit() for ch in part) else part for part in path.split("?")[0].split("/"))


def intercom_error_details(response: requests.Response) -> ErrorDetails:
    """Intercom's `error.list`: first `errors[].code`/`message`, `request_id` (body, else X-Request-Id), 409's existing id."""
    header_request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
    except ValueError:
        return ErrorDetails(request_id=header_request_id)
    if not isinstance(body, dict):
        return ErrorDetails(request_id=header_request_id)
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    message = first.get("message")
    request_id = body.get("request_id")
    found = _EXISTING_ID.search(message) if isinstance(message, str) else None
    return ErrorDetails(
        code=code if isinstance(code, str) else None,
        message=message if isinstance(message, str) else None,
        request_id=request_id if isinstance(request_id, str) and request_id else header_request_id,
        existing_id=found.group(1) if found else None,
    )


def names_field(error: LoadError, name: str) -> bool:
    """Whether an Intercom error is about one request field: `errors[].field` when the body says, else its message."""
    try:
        body = json.loads(error.excerpt or "")
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and any(isinstance(e, dict) and e.get("field") == name for e in errors):
        return True
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", str(error), re.IGNORECASE) is not None


@dataclass(frozen=True)
class ClientStats:
    """What a client has done so far: HTTP calls sent (retries included), writes, 429s, retries, limiter waits."""

    calls_by_method: dict[str, int] = field(default_factory=dict)
    calls_by_route: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    rate_limited: int = 0
    retries: int = 0
    waited_s: float = 0.0
    timeline: list[dict[str, float | int]] = field(default_factory=list)
    # per token, by its position in `target.tokens` (never its value): calls let through and 429s; empty with one token
    by_token: list[dict[str, int]] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(self.calls_by_method.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run report."""
        return {
            "calls": self.calls,
            "writes": self.writes,
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "waited_s": round(self.waited_s, 3),
            "calls_by_method": dict(self.calls_by_method),
            "calls_by_route": dict(self.calls_by_route),
            "timeline": list(self.timeline),
            **({"tokens": list(self.by_token)} if self.by_token else {}),
        }


class IntercomHttp:
    """The HTTP side of the Intercom client: one pooled session, auth and version headers, retries and the limiters,
    calls counted by method and route, Intercom's errors as the core error tree.

    `token` is one access token or several, one per private app of the same workspace: each gets its own limiter (its
    app's `X-RateLimit-*` headers), `workspace_cap` bounds their sum, and each call goes through whichever has budget.
    One call (with its retries) is answered before `request` returns, so calls one thread makes in order arrive in order
    whichever tokens carry them.
    """

    def __init__(
        self,
        base_url: str,
        token: str | Sequence[str],
        version: str = DEFAULT_VERSION,
        *,
        timeout_s: float = 30.0,
        limiter: WindowRateLimiter | None = None,
        workspace_cap: WorkspaceCap | None = None,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        pool_size: int = 16,
    ) -> None:
        tokens = [token] if isinstance(token, str) else list(token)
        if not tokens or not all(tokens):
            raise AuthError("no Intercom access token given" if not tokens else f"Intercom access token {tokens.index('') + 1} is empty")
        if limiter is not None and len(tokens) > 1:
            raise ValueError("one limiter serves one token; several tokens get one each")
        self._base_url = base_url.rstrip("/")
        self._tokens = [SecretStr(value) for value in tokens]
        self._version = version
        self._timeout_s = timeout_s
        self._pool = LanePool(
            [Lane(position, value, limiter if limiter is not None else WindowRateLimiter.for_intercom())
             for position, value in enumerate(tokens, start=1)],
            workspace_cap,
        )
        self._limiter = self._pool.lanes[0].limiter
        self._policy = policy or RetryPolicy()
        self._session = session or self._new_session(pool_size)
        self._owns_session = session is None
        self._headers = {
            "Intercom-Version": version,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _user_agent(),
        }
        self._retry_stats = RetryStats()
        self._lock = threading.Lock()
        self._calls_by_method: Counter[str] = Counter()
        self._calls_by_route: Counter[str] = Counter()

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        # retries belong to call_with_retries, which knows which calls are safe to repeat
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, version={self._version!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def limiter(self) -> WindowRateLimiter:
        """The first token's limiter."""
        return self._limiter

    @property
    def token_count(self) -> int:
        return len(self._tokens)

    def for_token(self, position: int) -> Self:
        """A client that sends through the token at `position` (1-based) only, with a limiter of its own: for `check`,
        which asks each token who it belongs to."""
        return type(self)(
            self._base_url, self._tokens[position - 1].get_secret_value(), self._version, timeout_s=self._timeout_s,
            policy=self._policy, session=self._session,
        )

    @property
    def secrets(self) -> list[str]:
        """Every token's value, for redaction."""
        return [token.get_secret_value() for token in self._tokens]

    @property
    def stats(self) -> ClientStats:
        with self._lock:
            by_method = dict(self._calls_by_method)
            by_route = dict(self._calls_by_route)
        return ClientStats(
            calls_by_method=by_method,
            calls_by_route=by_route,
            writes=sum(count for method, count in by_method.items() if method not in READ_METHODS),
            rate_limited=self._retry_stats.rate_limited,
            retries=self._retry_stats.retries,
            waited_s=self._retry_stats.waited_s,
            timeline=self._retry_stats.timeline(),
            by_token=[{"token": lane.position, "calls": lane.calls, "rate_limited": lane.rate_limited} for lane in self._pool.stats()]
            if len(self._tokens) > 1 else [],
        )

    def stats_dict(self) -> dict[str, Any]:
        return self.stats.as_dict()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Send one call (retried per the policy) and return its JSON object; failures raise core LoadErrors."""
        method = method.upper()
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = f"{self._base_url}{path}"
        route_key = f"{method} {route or _route_template(path)}"
        secrets = self.secrets
        gate = self._pool.ticket()

        def send() -> requests.Response:
            assert gate.lane is not None
            with self._lock:
                self._calls_by_method[method] += 1
                self._calls_by_route[route_key] += 1
            headers = {**self._headers, "Authorization": f"Bearer {gate.lane.credential}"}
            return self._session.request(method, url, json=json, params=params, headers=headers, timeout=self._timeout_s)

        try:
            response = call_with_retries(
                send,
                policy=self._policy,
                limiter=gate,
                idempotent=safe_to_repeat,
                describe=f"{method} {path}",
                details=intercom_error_details,
                secrets=secrets,
                stats=self._retry_stats,
            )
        except AuthError as exc:
            if len(self._tokens) == 1 or gate.lane is None:
                raise
            raise AuthError(f"token {gate.lane.position} of target.tokens: {exc}", status=exc.status, code=exc.code,
                            request_id=exc.request_id, excerpt=exc.excerpt) from None
        except ConflictError as exc:
            if _ARCHIVED_DUPLICATE.search(str(exc)):
                raise ArchivedContactConflictError(
                    str(exc),
                    existing_id=exc.existing_id,
                    status=exc.status,
                    code=exc.code,
                    request_id=exc.request_id,
                    excerpt=exc.excerpt,
                ) from None
            raise
        return self._json_object(response, f"{method} {path}", secrets)

    @staticmethod
    def _json_object(response: requests.Response, describe: str, secrets: list[str]) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise LoadError(
                f"{describe} → HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
                excerpt=response_excerpt(response, secrets),
            ) from None
        return body if isinstance(body, dict) else {"type": "list", "data": body}

    def get_or_none(self, path: str, *, route: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        try:
            return self.request("GET", path, params=params, route=route)
        except RejectedError as exc:
            if exc.status == 404:
                return None
            raise
