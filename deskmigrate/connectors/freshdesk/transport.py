"""Freshdesk HTTP: basic auth with the API key, the account's per-minute budget, list sub-limits, bounded retries."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from deskmigrate.connectors.freshdesk.config import FreshdeskSourceConfig
from deskmigrate.core.errors import LoadError, SourceError
from deskmigrate.core.http import (
    Clock,
    ErrorDetails,
    MinuteWindowPacer,
    RetryPolicy,
    RetryStats,
    Sleep,
    WindowRateLimiter,
    call_with_retries,
    rebase_url,
    redact,
)

log = logging.getLogger(__name__)

# Freshdesk ignores the password when the API key is the user (https://developers.freshdesk.com/api/#authentication).
PASSWORD = "X"
API_PREFIX = "/api/v2"


@dataclass(frozen=True)
class FieldError:
    """One entry of a Freshdesk error body: `{"errors": [{"field", "message", "code"}]}`."""

    field: str | None
    code: str | None
    message: str


class FreshdeskHttpError(SourceError):
    """Freshdesk answered with an error status (after retries); `status` and `errors` let callers react."""

    def __init__(self, message: str, status: int | None, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors

    def concerns_field(self, field: str) -> bool:
        return any(error.field == field for error in self.errors)


def field_errors(response: requests.Response | None) -> tuple[FieldError, ...]:
    if response is None:
        return ()
    try:
        body = response.json()
    except ValueError:
        return ()
    entries = body.get("errors") if isinstance(body, dict) else None
    return tuple(
        FieldError(field=e.get("field"), code=e.get("code"), message=str(e.get("message") or ""))
        for e in entries or []
        if isinstance(e, dict)
    )


def freshdesk_error_details(response: requests.Response) -> ErrorDetails:
    """`{"description": "Validation failed", "errors": [{"field", "message", "code"}]}` or `{"code", "message"}`."""
    errors = field_errors(response)
    if errors:
        first = errors[0]
        message = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
        return ErrorDetails(code=first.code, message=message, request_id=response.headers.get("X-Request-Id"))
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("description")
        return ErrorDetails(code=body.get("code"), message=str(message) if message else None, request_id=response.headers.get("X-Request-Id"))
    return ErrorDetails(request_id=response.headers.get("X-Request-Id"))


@dataclass
class JsonPage:
    """One answered GET: its JSON body and the next-page URL from the `link` header (None on the last page)."""

    body: Any
    next_url: str | None
    server_date: str | None


class FreshdeskTransport:
    """GETs JSON from /api/v2 through one limiter fed by `X-Ratelimit-Remaining`; 429s wait for `Retry-After`."""

    def __init__(
        self,
        config: FreshdeskSourceConfig,
        session: requests.Session | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.config = config
        self.api_root = config.api_root()
        self._root_parts = urlsplit(self.api_root)
        self.session = session or requests.Session()
        self._secret = config.api_key.get_secret_value()
        self._sleep = sleep
        self.limiter = WindowRateLimiter.for_retry_after()
        self.policy = RetryPolicy(
            max_attempts=config.max_retries + 1,
            deadline_s=config.retry_deadline_s,
            base_delay_s=config.retry_backoff_s,
        )
        self.pacers = {
            "tickets": MinuteWindowPacer(config.tickets_list_per_minute, clock, sleep, label="Freshdesk list calls"),
            "contacts": MinuteWindowPacer(config.contacts_list_per_minute, clock, sleep, label="Freshdesk list calls"),
        }
        self.stats = RetryStats()

    @property
    def calls(self) -> int:
        return self.stats.attempts

    def url_for(self, path: str) -> str:
        return f"{self.api_root}/{path.lstrip('/')}"

    def get_page(self, path_or_url: str, params: dict[str, Any] | None = None) -> JsonPage:
        """GET one page; `path_or_url` is relative to /api/v2 or an absolute `link` URL."""
        url = rebase_url(path_or_url, self.api_root, API_PREFIX) if "://" in path_or_url else self.url_for(path_or_url)
        where = urlsplit(url).path
        pacer = self._list_pacer(where)
        answered: list[requests.Response] = []

        def send() -> requests.Response:
            if pacer is not None:
                pacer.wait_for_slot()
            response = self.session.get(url, params=params, auth=(self._secret, PASSWORD), timeout=self.config.timeout_s)
            answered[:] = [response]
            return response

        try:
            response = call_with_retries(
                send,
                policy=self.policy,
                limiter=self.limiter,
                idempotent=True,
                describe=f"GET {where}",
                details=freshdesk_error_details,
                secrets=[self._secret],
                stats=self.stats,
                sleep=self._sleep,
            )
        except LoadError as exc:
            last = answered[0] if answered else None
            raise FreshdeskHttpError(f"Freshdesk: {redact(str(exc), [self._secret])}", exc.status, field_errors(last)) from None
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"Freshdesk answered GET {where} with a body that is not JSON") from None
        next_link = response.links.get("next", {}).get("url")
        return JsonPage(body=body, next_url=str(next_link) if next_link else None, server_date=response.headers.get("Date"))

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.get_page(path, params).body

    def _list_pacer(self, path: str) -> MinuteWindowPacer | None:
        """The Tickets-list and Contacts-list sub-limits apply to GET /tickets and GET /contacts only."""
        tail = path[len(self._root_parts.path.rstrip("/")) :].strip("/")
        return self.pacers.get(tail)
