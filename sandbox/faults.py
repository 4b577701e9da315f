"""Intercom's 10-second rate-limit windows (per app, and per workspace across its apps) and the faults a sandbox
injects (5xx, dropped connections)."""

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
            decision = self.peek(self._clock())
            if decision.allowed:
                decision = self.take(decision)
            return decision

    def peek(self, now: float) -> RateDecision:
        """Whether one more call fits the window at `now`, without counting it (the caller holds whatever lock it shares)."""
        window_start = int(math.floor(now / WINDOW_SECONDS)) * WINDOW_SECONDS
        if window_start != self._window_start:
            self._window_start, self._used = window_start, 0
        reset_at = window_start + WINDOW_SECONDS
        if self.enforced and self._used >= self.limit:
            return RateDecision(False, self.limit, 0, reset_at)
        return RateDecision(True, self.limit, max(0, self.limit - self._used), reset_at)

    def take(self, decision: RateDecision) -> RateDecision:
        """Count the call `peek` allowed; the decision with the remaining count after it."""
        self._used += 1
        return RateDecision(True, decision.limit, max(0, self.limit - self._used), decision.reset_at)


@dataclass(frozen=True)
class AppDecision:
    """One call's verdict: the app's window (its headers), and whether the app's or the workspace's limit refused it."""

    app: RateDecision
    refused_by: str | None  # None, "app" or "workspace"

    @property
    def allowed(self) -> bool:
        return self.refused_by is None

    def headers(self) -> dict[str, str]:
        # Intercom documents no header for the workspace's budget; a call it refuses is told its app has none left.
        decision = self.app if self.refused_by != "workspace" else RateDecision(False, self.app.limit, 0, self.app.reset_at)
        return decision.headers()


class WorkspaceRateLimits:
    """Each app (token) its own 10-second window, and the workspace's window over all of them.

    https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting: 10,000 calls a minute per app and
    25,000 per workspace, spread over 10-second windows; the workspace's is held here in windows of a sixth of its minute.
    A call is counted in both windows or in neither.
    """

    def __init__(self, apps: int, per_app: int | None, workspace_per_minute: int | None, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.apps = [FixedWindowLimiter(per_app, clock) for _ in range(apps)]
        per_window = None if workspace_per_minute is None else max(1, workspace_per_minute * WINDOW_SECONDS // 60)
        self.workspace = FixedWindowLimiter(per_window, clock)

    def check(self, app: int) -> AppDecision:
        """The verdict for one call of app `app` (0-based)."""
        with self._lock:
            now = self._clock()
            app_window = self.apps[app].peek(now)
            if not app_window.allowed:
                return AppDecision(app_window, "app")
            workspace_window = self.workspace.peek(now)
            if not workspace_window.allowed:
                return AppDecision(app_window, "workspace")
            self.workspace.take(workspace_window)
            return AppDecision(self.apps[app].take(app_window), None)


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
