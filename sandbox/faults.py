"""Intercom's 10-second rate-limit windows and the faults a sandbox injects (5xx, dropped connections)."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from deskmigrate.sandbox.api import DropMoment
from deskmigrate.sandbox.settings import UNLIMITED_RATE_LIMIT

WINDOW_SECONDS = 10


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        """https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting — no Retry-After is sent."""
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining), "X-RateLimit-Reset": str(self.reset_at)}


class FixedWindowLimiter:
    """Counts calls per fixed window aligned on multiples of 10 s; refused calls do not use up the quota."""

    def __init__(self, limit: int | None, clock: Callable[[], float]) -> None:
        self.enforced = limit is not None
        self.limit = limit if limit is not None else UNLIMITED_RATE_LIMIT
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: int | None = None
        self._used = 0

    def check(self) -> RateDecision:
        with self._lock:
            window_start = int(math.floor(self._clock() / WINDOW_SECONDS)) * WINDOW_SECONDS
            if window_start != self._window_start:
                self._window_start, self._used = window_start, 0
            reset_at = window_start + WINDOW_SECONDS
            if self.enforced and self._used >= self.limit:
                return RateDecision(False, self.limit, 0, reset_at)
            self._used += 1
            return RateDecision(True, self.limit, max(0, self.limit - self._used), reset_at)


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    drop: DropMoment | None = None


GATEWAY_STATUSES = (500, 502, 503)


class FaultInjector:
    """Draws faults from one seeded generator, three draws per request whatever the outcome, so a seed replays exactly."""

    def __init__(self, error_rate: float, drop_rate: float, seed: int | None) -> None:
        self.error_rate = error_rate
        self.drop_rate = drop_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self, is_write: bool) -> Fault:
        with self._lock:
            error_draw, drop_draw, detail_draw = self._random.random(), self._random.random(), self._random.random()
        if error_draw < self.error_rate:
            return Fault(status=GATEWAY_STATUSES[int(detail_draw * len(GATEWAY_STATUSES))])
        if drop_draw < self.drop_rate:
            # Half of the dropped writes are committed first: the client cannot know whether the write happened.
            return Fault(drop="after" if is_write and detail_draw < 0.5 else "before")
        return Fault()
