"""Help Scout HTTP: OAuth2 client-credentials tokens renewed mid-run, Docs API basic auth, shared pacing, bounded retries."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from deskmigrate.connectors.helpscout.config import HelpScoutSourceConfig
from deskmigrate.core.errors import AuthError, LoadError, SourceError
from deskmigrate.core.http import (
    Clock,
    RateLimitSnapshot,
    RetryPolicy,
    RetryStats,
    Sleep,
    WindowRateLimiter,
    call_with_retries,
    redact,
)

log = logging.getLogger(__name__)


# The client-credentials token lasts 48 hours and comes without a refresh token: we ask for a new one a little
# before it expires, and at once on a 401 (https://developer.helpscout.com/mailbox-api/overview/authentication/).
TOKEN_RENEWAL_MARGIN_S = 300.0
DEFAULT_TOKEN_LIFETIME_S = 172_800
MAILBOX_WINDOW_S = 60.0
DOCS_WINDOW_S = 600.0
DOCS_DUMMY_PASSWORD = "X"  # the Docs API key is the basic-auth user; the password is ignored (https://developer.helpscout.com/docs-api/)


class HttpStatusError(SourceError):
    """Help Scout answered with an error status; `status` lets callers treat 403/404 on optional features."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


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


class JsonApi:
    """GETs JSON from one API root through a shared limiter with bounded retries; next-page links are rebased on the root."""

    name = "Help Scout"

    def __init__(
        self,
        root: str,
        session: requests.Session,
        limiter: WindowRateLimiter,
        policy: RetryPolicy,
        *,
        timeout_s: float,
        secrets: list[str],
        sleep: Sleep = time.sleep,
    ) -> None:
        self.root = root.rstrip("/")
        self.session = session
        self.limiter = limiter
        self.policy = policy
        self.timeout_s = timeout_s
        self.secrets = secrets
        self.stats = RetryStats()
        self.calls: Counter[str] = Counter()
        self._sleep = sleep
        self._root_path = urlsplit(self.root).path.rstrip("/")

    # -- URLs ---------------------------------------------------------------------------------------

    def url_for(self, path_or_url: str) -> str:
        """A path relative to the root, or an absolute link from a response pointed at our root (proxies, test servers)."""
        if "://" not in path_or_url:
            return f"{self.root}/{path_or_url.lstrip('/')}"
        parts = urlsplit(path_or_url)
        path = parts.path
        version = self._root_path[self._root_path.rfind("/") :] if self._root_path else ""
        at = path.find(f"{version}/") if version else -1
        relative = path[at + len(version) :] if at >= 0 else path
        root = urlsplit(self.root)
        return urlunsplit((root.scheme, root.netloc, self._root_path + relative, parts.query, ""))

    def endpoint(self, url: str) -> str:
        """The path below the root with numeric ids folded, for call counts and messages (no query: it may hold ids)."""
        path = urlsplit(url).path.removeprefix(self._root_path)
        return "/".join("{id}" if segment.isdigit() or _looks_like_object_id(segment) else segment for segment in path.split("/"))

    # -- calls --------------------------------------------------------------------------------------

    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET one resource or page; a 401 renews the credentials once and asks for the same page again."""
        url = self.url_for(path_or_url)
        describe = f"GET {urlsplit(url).path}"
        renewed = False
        while True:
            # Credentials are settled before the call takes its rate-limit slot: fetching a token inside it would
            # need a second slot while holding the first.
            self.prepare_credentials()
            try:
                response = self._send(lambda: self._get(url, params), describe)
            except AuthError as exc:
                if exc.status == 401 and not renewed and self.renew_credentials():
                    renewed = True
                    log.info("%s: %s answered 401; credentials renewed, asking for the same page again", self.name, describe)
                    continue
                raise HttpStatusError(f"{self.name} refused {describe}: {exc}", exc.status) from None
            self.calls[self.endpoint(url)] += 1
            try:
                body = response.json()
            except ValueError:
                raise SourceError(f"{self.name} answered {describe} with a body that is not JSON") from None
            if not isinstance(body, dict):
                raise SourceError(f"{self.name} answered {describe} with JSON that is not an object")
            return body

    def prepare_credentials(self) -> None:
        """Make sure the credentials the next call sends are valid (a no-op for static keys)."""

    def renew_credentials(self) -> bool:
        """Drop cached credentials so the next call fetches fresh ones; False when there is nothing to renew."""
        return False

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/hal+json, application/json"}

    def request_auth(self) -> tuple[str, str] | None:
        return None

    def _get(self, url: str, params: dict[str, Any] | None) -> requests.Response:
        return self.session.get(url, params=params, headers=self.request_headers(), auth=self.request_auth(), timeout=self.timeout_s)

    def _send(self, send: Callable[[], requests.Response], describe: str) -> requests.Response:
        try:
            return call_with_retries(
                send, policy=self.policy, limiter=self.limiter, idempotent=True, describe=describe,
                secrets=self.secrets, stats=self.stats, sleep=self._sleep,
            )
        except AuthError:
            raise
        except LoadError as exc:
            raise HttpStatusError(redact(f"{self.name}: {exc}", self.secrets), exc.status) from None


class MailboxApi(JsonApi):
    """The Mailbox API 2.0 with an OAuth2 client-credentials token, fetched on first use and renewed when due or on 401."""

    def __init__(self, config: HelpScoutSourceConfig, session: requests.Session, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        secrets = [config.app_secret.get_secret_value()]
        # X-RateLimit-Limit-Minute / -Remaining-Minute pace us; a 429 waits X-RateLimit-Retry-After seconds
        # (https://developer.helpscout.com/mailbox-api/overview/rate-limiting/).
        limiter = WindowRateLimiter.for_retry_after(window_s=MAILBOX_WINDOW_S, initial_limit=config.requests_per_minute)
        policy = RetryPolicy(max_attempts=config.max_attempts, deadline_s=config.retry_deadline_s, base_delay_s=config.retry_backoff_s)
        super().__init__(config.api_root(), session, limiter, policy, timeout_s=config.timeout_s, secrets=secrets, sleep=sleep)
        self.config = config
        self._clock = clock
        self._token: str | None = None
        self._token_due_at = 0.0
        self.token_fetches = 0

    def request_headers(self) -> dict[str, str]:
        return {**super().request_headers(), "Authorization": f"Bearer {self._token}"}

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
        except (AuthError, HttpStatusError) as exc:
            status = getattr(exc, "status", None)
            raise HttpStatusError(
                f"Help Scout refused the app credentials (check source.app_id and source.app_secret): {redact(str(exc), self.secrets)}", status
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


class DocsApi(JsonApi):
    """The Docs API v1: the Docs API key as basic-auth user, its own 10-minute budget."""

    name = "Help Scout Docs"

    def __init__(self, config: HelpScoutSourceConfig, session: requests.Session, *, sleep: Sleep = time.sleep) -> None:
        assert config.docs_api_key is not None
        self._key = config.docs_api_key.get_secret_value()
        limiter = WindowRateLimiter(docs_rate_limit, window_s=DOCS_WINDOW_S, initial_limit=100)
        policy = RetryPolicy(max_attempts=config.max_attempts, deadline_s=config.retry_deadline_s, base_delay_s=config.retry_backoff_s)
        super().__init__(config.docs_root(), session, limiter, policy, timeout_s=config.timeout_s, secrets=[self._key], sleep=sleep)

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def request_auth(self) -> tuple[str, str] | None:
        return (self._key, DOCS_DUMMY_PASSWORD)


def _looks_like_object_id(segment: str) -> bool:
    """Docs ids are 24-hex-digit object ids."""
    return len(segment) == 24 and all(c in "0123456789abcdef" for c in segment.lower())
