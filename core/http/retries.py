"""Bounded retries with jitter, only when safe: the one loop every API call goes through."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import requests

from deskmigrate.core.errors import (
    AmbiguousWriteError,
    LoadError,
    RateLimitedError,
    RetriableError,
)
from deskmigrate.core.http.failures import ErrorDetailsParser, classify_failure, generic_error_details
from deskmigrate.core.http.policy import Clock
from deskmigrate.core.http.ratelimit import CallGate
from deskmigrate.core.http.stopping import raise_if_stop_asked, stop_asked

log = logging.getLogger(__name__)


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


# The API timeline's resolution: Intercom's rate limits count calls per 10-second window.
TIMELINE_BUCKET_S = 10.0


class RetryStats:
    """Thread-safe counters of what call_with_retries did, shareable across calls."""

    def __init__(self, bucket_s: float = TIMELINE_BUCKET_S, clock: Clock = time.monotonic) -> None:
        self._lock = threading.Lock()
        self.attempts = 0
        self.retries = 0
        self.rate_limited = 0
        self.waited_s = 0.0
        self._clock = clock
        self._started = clock()
        self._bucket_s = bucket_s
        self._buckets: dict[int, list[int]] = {}  # bucket → [calls, rate_limited, retries]

    def add(self, *, attempts: int = 0, retries: int = 0, rate_limited: int = 0, waited_s: float = 0.0) -> None:
        with self._lock:
            self.attempts += attempts
            self.retries += retries
            self.rate_limited += rate_limited
            self.waited_s += waited_s
            if attempts or retries or rate_limited:
                counts = self._buckets.setdefault(int((self._clock() - self._started) // self._bucket_s), [0, 0, 0])
                counts[0] += attempts
                counts[1] += rate_limited
                counts[2] += retries

    def timeline(self) -> list[dict[str, float | int]]:
        """Calls sent, 429s and retries per time bucket (10-second windows, as Intercom counts), from the first call."""
        with self._lock:
            buckets = dict(self._buckets)
        if not buckets:
            return []
        return [{"at_s": index * self._bucket_s, "calls": buckets.get(index, [0, 0, 0])[0],
                 "rate_limited": buckets.get(index, [0, 0, 0])[1], "retries": buckets.get(index, [0, 0, 0])[2]}
                for index in range(min(buckets), max(buckets) + 1)]


def call_with_retries(
    send: Callable[[], requests.Response],
    *,
    policy: RetryPolicy,
    limiter: CallGate,
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
        raise_if_stop_asked(describe)
        stats.add(waited_s=limiter.acquire(timeout_s=max(deadline - clock(), 0.0)))
        if stop_asked():  # asked while waiting for the window: the slot taken goes back
            limiter.cancel()
            raise_if_stop_asked(describe)
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
