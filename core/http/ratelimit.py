"""Rate limits: reading a server's rate-limit headers, and one limiter per API that every worker waits on."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from deskmigrate.core.errors import (
    RateLimitedError,
)
from deskmigrate.core.http.policy import INTERCOM_WINDOW_S

log = logging.getLogger(__name__)


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





class CallGate(Protocol):
    """What `call_with_retries` waits on before each attempt: a WindowRateLimiter, or a LanePool's ticket."""

    def acquire(self, timeout_s: float | None = None) -> float: ...
    def observe(self, headers: Mapping[str, str], status: int) -> RateLimitSnapshot: ...
    def cancel(self) -> None: ...


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

    def try_acquire(self) -> float | None:
        """Take one call's budget if the window has it now (None), else return when to look again; never blocks.

        For a caller that waits on several limiters at once (LanePool); `acquire()` is this in a loop.
        """
        with self._condition:
            now = self._clock()
            chance = self._next_chance(now)
            if chance is None:
                self._in_flight += 1
                self._calls += 1
                return None
            return chance[0]

    def share_left(self) -> float:
        """The share of its window's budget still free beyond the calls in flight: 1.0 for a fresh window or a server
        that publishes no budget, 0.0 when spent."""
        with self._condition:
            now = self._clock()
            if now < self._blocked_until:
                return 0.0
            if self._reset_at is not None and now >= self._reset_at + self._reset_margin_s:
                self._roll_over()
            allowance = self._allowance()
            if allowance is None:
                return 1.0
            limit = self._limit if self._limit else self._initial_limit
            return max(allowance - self._in_flight, 0) / max(limit, 1)

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
