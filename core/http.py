"""HTTP policy shared by every API caller: a window rate limiter, one failure classifier, bounded retries, redaction."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from deskmigrate.core.errors import (
    AmbiguousWriteError,
    AuthError,
    ConflictError,
    LoadError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)

log = logging.getLogger(__name__)

# The monotonic clock and the sleep a client waits with; tests pass fakes of both.
Clock = Callable[[], float]
Sleep = Callable[[float], None]
EXCERPT_CHARS = 300
INTERCOM_WINDOW_S = 10.0
REDACTED = "***"


# --- rate-limit headers -------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitSnapshot:
    """What one response says about the budget: calls per window, calls left, when the window resets (epoch s)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None

    @property
    def empty(self) -> bool:
        return self.limit is None and self.remaining is None and self.reset_at is None


RateLimitAdapter = Callable[[Mapping[str, str], float], RateLimitSnapshot]
"""Reads a snapshot from response headers; the second argument is the current epoch time."""


def _lowercase(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in headers.items()}


def _first_number(headers: dict[str, str], names: Iterable[str]) -> float | None:
    for name in names:
        raw = headers.get(name.lower())
        if raw is None:
            continue
        try:
            return float(raw.strip())
        except ValueError:
            continue
    return None


def _as_int(value: float | None) -> int | None:
    return None if value is None else int(value)


def intercom_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitSnapshot:
    """Intercom: `X-RateLimit-Limit/Remaining` per 10-second window, `X-RateLimit-Reset` as a Unix timestamp.

    https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting — 429s carry no Retry-After.
    """
    lowered = _lowercase(headers)
    return RateLimitSnapshot(
        limit=_as_int(_first_number(lowered, ["x-ratelimit-limit"])),
        remaining=_as_int(_first_number(lowered, ["x-ratelimit-remaining"])),
        reset_at=_first_number(lowered, ["x-ratelimit-reset"]),
    )


_GENERIC_LIMIT = ["x-ratelimit-limit", "x-rate-limit", "x-ratelimit-total", "x-ratelimit-limit-minute", "ratelimit-limit"]
_GENERIC_REMAINING = ["x-ratelimit-remaining", "x-rate-limit-remaining", "x-ratelimit-remaining-minute", "ratelimit-remaining"]
_GENERIC_RESET_SECONDS = ["retry-after", "x-ratelimit-retry-after", "ratelimit-reset"]


def _retry_after_seconds(headers: dict[str, str], now: float) -> float | None:
    seconds = _first_number(headers, _GENERIC_RESET_SECONDS)
    if seconds is not None:
        return max(seconds, 0.0)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:  # Retry-After may also be an HTTP-date (RFC 9110 §10.2.3)
        return max(parsedate_to_datetime(raw).timestamp() - now, 0.0)
    except (TypeError, ValueError, IndexError):
        return None


def retry_after_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitSnapshot:
    """Zendesk, Freshdesk, Help Scout: `Retry-After`/`X-RateLimit-Retry-After`/`ratelimit-reset` seconds, remaining counts."""
    lowered = _lowercase(headers)
    wait_s = _retry_after_seconds(lowered, now)
    return RateLimitSnapshot(
        limit=_as_int(_first_number(lowered, _GENERIC_LIMIT)),
        remaining=_as_int(_first_number(lowered, _GENERIC_REMAINING)),
        reset_at=None if wait_s is None else now + wait_s,
    )


# --- the limiter --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimiterStats:
    """Calls let through, 429s observed, seconds spent waiting (summed over threads)."""

    calls: int
    rate_limited: int
    waited_s: float


class WindowRateLimiter:
    """Keeps N threads inside a per-window call budget learnt from response headers.

    Invariant: calls sent but not yet answered (`in flight`) are counted against the remaining budget the
    last responses reported, so the threads together never send more calls than the window has left.
    Every `acquire()` is paired with exactly one `observe()` (a response arrived) or `cancel()` (none did).
    """

    def __init__(
        self,
        adapter: RateLimitAdapter = intercom_rate_limit,
        *,
        initial_limit: int = 10,
        window_s: float = 10.0,
        reset_margin_s: float = 0.1,
        jitter_s: float = 0.25,
        clock: Callable[[], float] = time.time,  # epoch seconds: Intercom's reset is a Unix timestamp
        rng: random.Random | None = None,
    ) -> None:
        if initial_limit < 1:
            raise ValueError("initial_limit must be at least 1")
        self._adapter = adapter
        self._initial_limit = initial_limit
        self._window_s = window_s
        self._reset_margin_s = reset_margin_s
        self._jitter_s = jitter_s
        self._same_window_tolerance_s = min(1.0, window_s / 4)
        self._min_pause_after_429_s = min(1.0, window_s / 10)
        self._clock = clock
        self._rng = rng or random.Random()
        self._condition = threading.Condition()
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._previous_reset_at: float | None = None
        self._blocked_until = 0.0
        self._in_flight = 0
        self._headers_seen = False
        self._responses_seen = False
        self._calls = 0
        self._rate_limited = 0
        self._waited_s = 0.0

    @classmethod
    def for_intercom(cls, **options: Any) -> WindowRateLimiter:
        """Intercom: 10-second windows announced by `X-RateLimit-*` headers."""
        return cls(intercom_rate_limit, **{"window_s": INTERCOM_WINDOW_S, **options})

    @classmethod
    def for_retry_after(cls, window_s: float = 60.0, **options: Any) -> WindowRateLimiter:
        """Zendesk, Freshdesk, Help Scout: per-minute budgets, `Retry-After`-style resets."""
        return cls(retry_after_rate_limit, window_s=window_s, **options)

    def stats(self) -> LimiterStats:
        with self._condition:
            return LimiterStats(calls=self._calls, rate_limited=self._rate_limited, waited_s=self._waited_s)

    def acquire(self, timeout_s: float | None = None) -> float:
        """Block until one call may be sent; return the seconds waited.

        Raises RateLimitedError when the budget cannot be had within `timeout_s`.
        """
        started = self._clock()
        give_up_at = None if timeout_s is None else started + timeout_s
        with self._condition:
            try:
                while True:
                    now = self._clock()
                    chance = self._next_chance(now)
                    if chance is None:
                        self._in_flight += 1
                        self._calls += 1
                        return self._clock() - started
                    wake_at, known_reset = chance
                    if give_up_at is not None and wake_at > give_up_at:
                        if known_reset or now >= give_up_at:
                            raise RateLimitedError(
                                f"rate-limit budget spent; the window resets in {max(wake_at - now, 0):.1f}s, beyond the deadline",
                                reset_at=self._reset_at,
                            )
                        wake_at = give_up_at
                    self._condition.wait(timeout=max(wake_at - now, 0.001))
            finally:
                self._waited_s += self._clock() - started

    def observe(self, headers: Mapping[str, str], status: int) -> RateLimitSnapshot:
        """Account for one answered call and learn the budget from its headers."""
        now = self._clock()
        snapshot = self._adapter(headers, now)
        with self._condition:
            self._in_flight = max(self._in_flight - 1, 0)
            self._responses_seen = True
            if not snapshot.empty:
                self._headers_seen = True
                self._merge(snapshot, now)
            if status == 429:
                self._rate_limited += 1
                self._remaining = 0
                resume_at = snapshot.reset_at if snapshot.reset_at is not None else now + self._window_s
                resume_at = max(resume_at, now + self._min_pause_after_429_s)  # a reset already past must not spin
                self._blocked_until = max(self._blocked_until, resume_at + self._reset_margin_s)
                if self._reset_at is None or self._reset_at < resume_at:
                    self._reset_at = resume_at
            self._condition.notify_all()
        return snapshot

    def cancel(self) -> None:
        """Account for an acquired call that got no response (connection failed, timed out)."""
        with self._condition:
            self._in_flight = max(self._in_flight - 1, 0)
            self._condition.notify_all()

    def _allowance(self) -> int | None:
        """Calls the current window still allows, or None when the server publishes no budget."""
        if self._remaining is not None:
            return self._remaining
        if self._responses_seen and not self._headers_seen:
            return None
        return self._limit if self._limit is not None else self._initial_limit

    def _next_chance(self, now: float) -> tuple[float, bool] | None:
        """None if a call may go now (caller holds the lock), else when to look again and whether that is a known reset."""
        if now < self._blocked_until:
            return self._blocked_until + self._rng.uniform(0, self._jitter_s), True
        if self._reset_at is not None and now >= self._reset_at + self._reset_margin_s:
            self._roll_over()
        allowance = self._allowance()
        if allowance is None or allowance - self._in_flight > 0:
            return None
        if self._reset_at is not None:
            return self._reset_at + self._reset_margin_s + self._rng.uniform(0, self._jitter_s), True
        if self._in_flight > 0:
            return now + self._window_s, False  # an answer in flight will notify sooner
        # spent, with no reset announced and nothing in flight: assume a full window (conservative)
        self._reset_at = now + self._window_s
        return self._reset_at + self._reset_margin_s, True

    def _roll_over(self) -> None:
        self._previous_reset_at = self._reset_at
        self._reset_at = None
        self._remaining = None

    def _merge(self, snapshot: RateLimitSnapshot, now: float) -> None:
        if snapshot.limit is not None:
            self._limit = snapshot.limit
        reset_at = snapshot.reset_at
        tolerance = self._same_window_tolerance_s
        if reset_at is not None and self._previous_reset_at is not None and reset_at <= self._previous_reset_at + tolerance:
            return  # answered in a window we already rolled past: stale
        if reset_at is None or (self._reset_at is not None and abs(reset_at - self._reset_at) <= tolerance):
            # same window (or one we cannot tell apart): answers arrive out of order, the lowest count is the truest
            if snapshot.remaining is not None:
                self._remaining = snapshot.remaining if self._remaining is None else min(self._remaining, snapshot.remaining)
            return
        if self._reset_at is not None and reset_at < self._reset_at:
            return  # from an older window
        self._reset_at = reset_at
        self._remaining = snapshot.remaining


class MinuteWindowPacer:
    """At most `calls_per_minute` calls in any 60-second window, for a vendor sub-limit its headers do not announce."""

    def __init__(self, calls_per_minute: int, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 *, label: str = "calls") -> None:
        self.calls_per_minute = calls_per_minute
        self.label = label
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        self.waited_s = 0.0

    def wait_for_slot(self) -> None:
        now = self._clock()
        while self._recent and now - self._recent[0] >= 60.0:
            self._recent.popleft()
        if len(self._recent) >= self.calls_per_minute:
            delay = 60.0 - (now - self._recent[0])
            log.info("pacing %s: waiting %.1f s", self.label, delay)
            self._sleep(delay)
            self.waited_s += delay
            self._recent.popleft()
        self._recent.append(self._clock())


# --- failures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorDetails:
    """What an error body says, parsed by a vendor-specific function."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    existing_id: str | None = None


ErrorDetailsParser = Callable[[requests.Response], ErrorDetails]

_REQUEST_ID_HEADERS = ("X-Request-Id", "Correlation-Id", "X-Zendesk-Request-Id")


def generic_error_details(response: requests.Response) -> ErrorDetails:
    """Best effort for any JSON API: `error`/`code`/`message` keys and a request-id header."""
    request_id = next((response.headers[name] for name in _REQUEST_ID_HEADERS if name in response.headers), None)
    try:
        body = response.json()
    except ValueError:
        return ErrorDetails(request_id=request_id)
    if not isinstance(body, dict):
        return ErrorDetails(request_id=request_id)
    code = body.get("code") or body.get("error")
    message = body.get("message") or body.get("description") or body.get("error_description")
    return ErrorDetails(
        code=str(code) if isinstance(code, (str, int)) else None,
        message=str(message) if isinstance(message, str) else None,
        request_id=request_id,
    )


# A 503 says the server did not handle the request (RFC 9110 §15.6.4), so even a create may be re-sent.
# A 500, 502 or 504 may come after the origin did the work (a crash after commit, an invalid or late upstream
# answer: https://www.rfc-editor.org/rfc/rfc9110#section-15.6), so for a non-idempotent call they are ambiguous.
NOT_PROCESSED_STATUSES = frozenset({408, 425, 503})


def classify_status(status: int, *, idempotent: bool) -> type[LoadError] | None:
    """The one place deciding what an HTTP status means; None for success."""
    if status < 400:
        return None
    if status == 429:
        return RateLimitedError
    if status == 409:
        return ConflictError
    if status in (401, 403):
        return AuthError
    if status in NOT_PROCESSED_STATUSES:
        return RetriableError
    if status >= 500:
        return RetriableError if idempotent else AmbiguousWriteError
    return RejectedError


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection failed before any byte of the request left (connect refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def classify_exception(exc: requests.RequestException, *, idempotent: bool) -> type[LoadError]:
    """A transport failure: retriable if the request surely never arrived or repeating it is harmless."""
    if _never_sent(exc):
        return RetriableError
    if isinstance(exc, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return RetriableError if idempotent else AmbiguousWriteError
    return LoadError


def classify_failure(
    *,
    describe: str,
    idempotent: bool,
    response: requests.Response | None = None,
    exception: requests.RequestException | None = None,
    details: ErrorDetailsParser = generic_error_details,
    secrets: Iterable[str] = (),
    reset_at: float | None = None,
) -> LoadError | None:
    """Turn a response or a transport exception into the core error it means (None for a success)."""
    secrets = list(secrets)
    if response is None:
        if exception is None:
            raise ValueError("classify_failure needs a response or an exception")
        kind = classify_exception(exception, idempotent=idempotent)
        what = "may have been received" if kind is AmbiguousWriteError else "failed"
        return kind(redact(f"{describe} {what}: {type(exception).__name__}: {exception}", secrets))
    kind = classify_status(response.status_code, idempotent=idempotent)
    if kind is None:
        return None
    found = details(response)
    text = f"{describe} → HTTP {response.status_code}"
    if found.code:
        text += f" {found.code}"
    if found.message:
        text += f": {found.message}"
    if kind is AmbiguousWriteError:
        text += " (the write may have been applied)"
    fields: dict[str, object] = {
        "status": response.status_code,
        "code": found.code,
        "request_id": found.request_id,
        "excerpt": response_excerpt(response, secrets),
    }
    if kind is ConflictError:
        fields["existing_id"] = found.existing_id
    if kind is RateLimitedError:
        fields["reset_at"] = reset_at
    return kind(redact(text, secrets), **fields)  # type: ignore[arg-type]


# --- retries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one logical call: attempts (429s excluded) and a wall-clock deadline (429 waits included)."""

    max_attempts: int = 6
    deadline_s: float = 300.0
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.5

    def backoff_s(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Exponential delay before retry `retry_number` (1-based), with the top `jitter` fraction randomised."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (retry_number - 1)))
        spread = min(max(self.jitter, 0.0), 1.0)
        return ceiling * (1 - spread) + ceiling * spread * (rng or random).random()


class RetryStats:
    """Thread-safe counters of what call_with_retries did, shareable across calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts = 0
        self.retries = 0
        self.rate_limited = 0
        self.waited_s = 0.0

    def add(self, *, attempts: int = 0, retries: int = 0, rate_limited: int = 0, waited_s: float = 0.0) -> None:
        with self._lock:
            self.attempts += attempts
            self.retries += retries
            self.rate_limited += rate_limited
            self.waited_s += waited_s


def call_with_retries(
    send: Callable[[], requests.Response],
    *,
    policy: RetryPolicy,
    limiter: WindowRateLimiter,
    idempotent: bool,
    describe: str,
    details: ErrorDetailsParser = generic_error_details,
    secrets: Iterable[str] = (),
    stats: RetryStats | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> requests.Response:
    """Send through the limiter until success or a final error; retry only what `classify_*` says is safe.

    A 429 waits for the window reset and does not use up an attempt; the deadline bounds everything.
    A non-idempotent call whose outcome is unknown raises AmbiguousWriteError at once: the caller reconciles.
    """
    # A plain loop rather than tenacity: 429 waits must not count as attempts, the wait comes from the
    # shared limiter rather than from a backoff, and the deadline must also bound the limiter's waits.
    secrets = [s for s in secrets if s]
    stats = stats or RetryStats()
    deadline = clock() + policy.deadline_s
    failed_attempts = 0
    while True:
        stats.add(waited_s=limiter.acquire(timeout_s=max(deadline - clock(), 0.0)))
        stats.add(attempts=1)
        try:
            response = send()
        except requests.RequestException as exc:
            limiter.cancel()
            error = classify_failure(describe=describe, idempotent=idempotent, exception=exc, secrets=secrets)
        except BaseException:
            limiter.cancel()
            raise
        else:
            snapshot = limiter.observe(response.headers, response.status_code)
            error = classify_failure(
                describe=describe,
                idempotent=idempotent,
                response=response,
                details=details,
                secrets=secrets,
                reset_at=snapshot.reset_at,
            )
            if error is None:
                return response
        assert error is not None
        if isinstance(error, RateLimitedError):
            stats.add(rate_limited=1)
            if clock() >= deadline:
                raise error
            log.info("%s: rate limited, waiting for the window to reset", describe)
            continue
        failed_attempts += 1
        if isinstance(error, AmbiguousWriteError) or not isinstance(error, RetriableError):
            raise error
        if failed_attempts >= policy.max_attempts:
            raise type(error)(f"{error} (gave up after {failed_attempts} attempts)", **_fields(error))
        delay = policy.backoff_s(failed_attempts)
        if clock() + delay > deadline:
            raise type(error)(f"{error} (gave up: retry deadline of {policy.deadline_s:g}s reached)", **_fields(error))
        log.warning("%s: %s; retry %d in %.1fs", describe, error, failed_attempts, delay)
        stats.add(retries=1)
        sleep(delay)


def _fields(error: LoadError) -> dict[str, object]:
    return {"status": error.status, "code": error.code, "request_id": error.request_id, "excerpt": error.excerpt}


# --- redaction ----------------------------------------------------------------------------------

_AUTH_HEADER = re.compile(r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;}]{8,}")
# base64 credentials hold a digit, + / or = padding; the lookahead keeps prose like "basic attribute" intact
_BASIC = re.compile(r"(?i)\b(basic\s+)(?=[A-Za-z]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and its URL-encoded form), bearer/basic credentials and Authorization headers by ***."""
    variants = {variant for secret in secrets if secret for variant in (secret, quote(secret, safe=""))}
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in (_AUTH_HEADER, _BEARER, _BASIC):
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def excerpt(text: str, secrets: Iterable[str], limit: int = EXCERPT_CHARS) -> str:
    """The first `limit` characters of `text`, redacted (before cutting, so no secret is left half-shown)."""
    secrets = [s for s in secrets if s]
    longest = max((len(quote(s, safe="")) for s in secrets), default=0)
    cleaned = redact(text[: limit + longest + 64], secrets)
    return cleaned if len(cleaned) <= limit and len(text) <= limit else cleaned[:limit] + "…"


def response_excerpt(response: requests.Response, secrets: Iterable[str], limit: int = EXCERPT_CHARS) -> str:
    """A redacted excerpt of a response body, read without decoding more than needed."""
    secrets = list(secrets)
    longest = max((len(s) * 3 for s in secrets if s), default=0)
    raw = (response.content or b"")[: (limit + longest + 64) * 4]
    return excerpt(raw.decode(response.encoding or "utf-8", errors="replace"), secrets, limit)


# --- links --------------------------------------------------------------------------------------


def rebase_url(absolute_url: str, root: str, api_prefix: str) -> str:
    """Point a next-page link the server wrote with its own host at `root` (proxies, test servers), keeping path and query.

    The part of the link's path after `api_prefix` ("/api/v2") is put under root's path; a path without it is kept whole.
    """
    parts = urlsplit(absolute_url)
    root_parts = urlsplit(root)
    path = parts.path
    api_at = path.find(f"{api_prefix}/")
    if api_at >= 0:
        path = root_parts.path.rstrip("/") + path[api_at + len(api_prefix) :]
    return urlunsplit((root_parts.scheme, root_parts.netloc, path, parts.query, ""))
