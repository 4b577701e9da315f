"""Help Scout HTTP: OAuth2 client-credentials tokens renewed mid-run, Docs API basic auth, shared pacing, bounded retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import requests

from deskmigrate.connectors.helpscout.config import HelpScoutSourceConfig
from deskmigrate.core.errors import SourceError
from deskmigrate.core.http import Clock, RateLimitSnapshot, RetryPolicy, Sleep, WindowRateLimiter, redact
from deskmigrate.core.sourcekit import SourceHttpError, SourceTransport

log = logging.getLogger(__name__)


# The client-credentials token lasts 48 hours and comes without a refresh token: we ask for a new one a little
# before it expires, and at once on a 401 (https://developer.helpscout.com/mailbox-api/overview/authentication/).
TOKEN_RENEWAL_MARGIN_S = 300.0
DEFAULT_TOKEN_LIFETIME_S = 172_800
MAILBOX_WINDOW_S = 60.0
DOCS_WINDOW_S = 600.0
DOCS_DUMMY_PASSWORD = "X"  # the Docs API key is the basic-auth user; the password is ignored (https://developer.helpscout.com/docs-api/)


def docs_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitSnapshot:
    """Docs API: `X-RateLimit-Limit/Remaining` per 10 minutes, `X-RateLimit-Reset` in seconds until the window resets."""
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}

    def number(name: str) -> float | None:
        try:
            return float(lowered[name]) if name in lowered else None
        except ValueError:
            return None

    reset = number("x-ratelimit-reset")
    retry_after = number("retry-after")
    wait_s = retry_after if retry_after is not None else reset
    limit, remaining = number("x-ratelimit-limit"), number("x-ratelimit-remaining")
    return RateLimitSnapshot(
        limit=None if limit is None else int(limit),
        remaining=None if remaining is None else int(remaining),
        reset_at=None if wait_s is None else now + max(wait_s, 0.0),
    )


class MailboxApi(SourceTransport):
    """The Mailbox API 2.0 with an OAuth2 client-credentials token, fetched on first use and renewed when due or on 401."""

    vendor = "Help Scout"

    def __init__(self, config: HelpScoutSourceConfig, session: requests.Session, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        secrets = [config.app_secret.get_secret_value()]
        # X-RateLimit-Limit-Minute / -Remaining-Minute pace us; a 429 waits X-RateLimit-Retry-After seconds
        # (https://developer.helpscout.com/mailbox-api/overview/rate-limiting/).
        limiter = WindowRateLimiter.for_retry_after(window_s=MAILBOX_WINDOW_S, initial_limit=config.requests_per_minute)
        policy = RetryPolicy(max_attempts=config.max_attempts, deadline_s=config.retry_deadline_s, base_delay_s=config.retry_backoff_s)
        super().__init__(config.api_root(), session, limiter=limiter, policy=policy, timeout_s=config.timeout_s, secrets=secrets, sleep=sleep)
        self.config = config
        self._clock = clock
        self._token: str | None = None
        self._token_due_at = 0.0
        self.token_fetches = 0

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/hal+json, application/json", "Authorization": f"Bearer {self._token}"}

    def prepare_credentials(self) -> None:
        if self._token is None or self._clock() >= self._token_due_at:
            self._token = self._fetch_token()

    def renew_credentials(self) -> bool:
        self._token = None
        return True

    def _fetch_token(self) -> str:
        url = f"{self.root}/oauth2/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.app_id,
            "client_secret": self.config.app_secret.get_secret_value(),
        }
        try:
            response = self._send(lambda: self.session.post(url, data=form, timeout=self.timeout_s), "POST /oauth2/token")
        except SourceHttpError as exc:
            raise SourceHttpError(
                f"Help Scout refused the app credentials (check source.app_id and source.app_secret): {redact(str(exc), self.secrets)}", exc.status
            ) from None
        self.calls["/oauth2/token"] += 1
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_S)
        except (ValueError, KeyError, TypeError):
            raise SourceError("Help Scout answered POST /oauth2/token without an access token") from None
        self.secrets.append(token)
        self._token_due_at = self._clock() + max(lifetime - TOKEN_RENEWAL_MARGIN_S, lifetime / 2)
        self.token_fetches += 1
        log.info("Help Scout access token obtained (valid %.0f h)", lifetime / 3600)
        return token


class DocsApi(SourceTransport):
    """The Docs API v1: the Docs API key as basic-auth user, its own 10-minute budget."""

    vendor = "Help Scout Docs"

    def __init__(self, config: HelpScoutSourceConfig, session: requests.Session, *, sleep: Sleep = time.sleep) -> None:
        assert config.docs_api_key is not None
        self._key = config.docs_api_key.get_secret_value()
        limiter = WindowRateLimiter(docs_rate_limit, window_s=DOCS_WINDOW_S, initial_limit=100)
        policy = RetryPolicy(max_attempts=config.max_attempts, deadline_s=config.retry_deadline_s, base_delay_s=config.retry_backoff_s)
        super().__init__(config.docs_root(), session, limiter=limiter, policy=policy, timeout_s=config.timeout_s, secrets=[self._key], sleep=sleep)

    def request_auth(self) -> tuple[str, str] | None:
        return (self._key, DOCS_DUMMY_PASSWORD)

