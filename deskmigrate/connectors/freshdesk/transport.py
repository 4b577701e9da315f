"""Freshdesk HTTP: basic auth with the API key, the account's per-minute budget, list sub-limits, bounded retries."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests

from deskmigrate.connectors.freshdesk.config import FreshdeskSourceConfig
from deskmigrate.core.http import Clock, ErrorDetails, MinuteWindowPacer, RetryPolicy, Sleep, WindowRateLimiter
from deskmigrate.core.sourcekit import SourceTransport

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


class FreshdeskTransport(SourceTransport):
    """GETs JSON from /api/v2 through one limiter fed by `X-Ratelimit-Remaining`; 429s wait for `Retry-After`."""

    vendor = "Freshdesk"
    objects_only = False  # lists are JSON arrays

    def __init__(
        self,
        config: FreshdeskSourceConfig,
        session: requests.Session | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        secret = config.api_key.get_secret_value()
        policy = RetryPolicy(max_attempts=config.max_retries + 1, deadline_s=config.retry_deadline_s, base_delay_s=config.retry_backoff_s)
        super().__init__(config.api_root(), session or requests.Session(), limiter=WindowRateLimiter.for_retry_after(), policy=policy,
                         timeout_s=config.timeout_s, secrets=[secret], api_prefix=API_PREFIX, details=freshdesk_error_details, sleep=sleep)
        self.config = config
        self._credentials = (secret, PASSWORD)
        self.pacers = {
            "tickets": MinuteWindowPacer(config.tickets_list_per_minute, clock, sleep, label="Freshdesk list calls"),
            "contacts": MinuteWindowPacer(config.contacts_list_per_minute, clock, sleep, label="Freshdesk list calls"),
        }

    def request_auth(self) -> tuple[str, str] | None:
        return self._credentials

    def pacer_for(self, endpoint: str) -> MinuteWindowPacer | None:
        """The Tickets-list and Contacts-list sub-limits apply to GET /tickets and GET /contacts only."""
        return self.pacers.get(endpoint.strip("/"))

    def error_fields(self, response: requests.Response) -> tuple[str, ...]:
        return tuple(error.field for error in field_errors(response) if error.field)
