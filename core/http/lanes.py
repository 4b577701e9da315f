"""Several access tokens of one workspace: each token a lane with its own limiter, all of them under one workspace cap.

Intercom limits each private app to 10,000 calls a minute and the workspace to 25,000 across its apps
(https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting). A lane's limiter learns its own app's
budget from the `X-RateLimit-*` headers its own calls get back; the cap keeps the sum under the workspace's limit, which
no header announces. A call goes to whichever lane has budget now, the one with the largest share of its window left first.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from deskmigrate.core.errors import RateLimitedError
from deskmigrate.core.http.ratelimit import RateLimitSnapshot, WindowRateLimiter

# Intercom spreads a per-minute limit evenly over 10-second windows (its docs: "1000/min = 167 per 10 s"); the cap
# holds the workspace to a sixth of its minute in any 10 seconds, which never exceeds the minute whichever way it counts.
CAP_WINDOW_S = 10.0


class WorkspaceCap:
    """At most `calls_per_window` calls in any `window_s` seconds as the server counts them, whatever the latency.

    Invariant: a call counts from when it is sent until `window_s` after its answer. The server counted it somewhere in
    between, so whichever window it fell in, every other call that window holds was still counted here when the last of
    them was sent: no server window gets more than `calls_per_window`. (Counting from the send alone lets a call sent
    late in one window arrive in the next and overfill it.)
    """

    def __init__(self, calls_per_window: int, window_s: float = CAP_WINDOW_S, clock: Callable[[], float] = time.time) -> None:
        if calls_per_window < 1:
            raise ValueError("a workspace cap allows at least one call per window")
        self.calls_per_window = calls_per_window
        self.window_s = window_s
        self._clock = clock
        self._answered: deque[float] = deque()
        self._in_flight = 0

    @classmethod
    def per_minute(cls, calls_per_minute: int, clock: Callable[[], float] = time.time) -> WorkspaceCap:
        """A workspace limit given per minute, held in 10-second windows of a sixth of it each."""
        return cls(max(1, calls_per_minute * int(CAP_WINDOW_S) // 60), CAP_WINDOW_S, clock)

    def next_slot(self, now: float) -> float | None:
        """None when a call may go now, else when to look again (an answer arriving notifies sooner). The caller holds the lock."""
        while self._answered and now - self._answered[0] >= self.window_s:
            self._answered.popleft()
        if self._in_flight + len(self._answered) < self.calls_per_window:
            return None
        return self._answered[0] + self.window_s if self._answered else now + self.window_s

    def take(self) -> None:
        self._in_flight += 1

    def release(self, now: float) -> None:
        """A call taken got its answer (or none will come): it counts for one more window from now."""
        self._in_flight = max(self._in_flight - 1, 0)
        self._answered.append(now)


@dataclass
class Lane:
    """One token: its position in the config (1-based, how logs and reports name it: never by its value) and its limiter."""

    position: int
    credential: str
    limiter: WindowRateLimiter

    def __repr__(self) -> str:
        return f"Lane(token {self.position})"


@dataclass(frozen=True)
class LaneStats:
    """What one token did: calls let through, 429s it got, as the run report shows them."""

    position: int
    calls: int
    rate_limited: int


class LanePool:
    """Hands each call a lane with budget, waiting (all lanes at once) when none has any or the workspace cap is reached.

    Invariant: the lock is taken before any lane's limiter lock and never while a limiter's is held, so lanes answering
    (`observe`) and threads choosing (`acquire`) cannot deadlock.
    """

    def __init__(self, lanes: Sequence[Lane], cap: WorkspaceCap | None = None, clock: Callable[[], float] = time.time) -> None:
        if not lanes:
            raise ValueError("a lane pool needs at least one token")
        self.lanes = list(lanes)
        self.cap = cap
        self._clock = clock
        self._condition = threading.Condition()
        self._turn = 0

    def ticket(self) -> LaneTicket:
        """The gate for one logical call (its retries included): each attempt may go through another lane."""
        return LaneTicket(self)

    def stats(self) -> list[LaneStats]:
        return [LaneStats(lane.position, *_calls_and_429s(lane.limiter)) for lane in self.lanes]

    def acquire(self, timeout_s: float | None = None) -> tuple[Lane, float]:
        """Block until some lane may send one call; return it and the seconds waited. RateLimitedError past `timeout_s`."""
        started = self._clock()
        give_up_at = None if timeout_s is None else started + timeout_s
        with self._condition:
            while True:
                now = self._clock()
                lane, wake_at = self._choose(now)
                if lane is not None:
                    return lane, self._clock() - started
                if give_up_at is not None and now >= give_up_at:
                    raise RateLimitedError(
                        f"rate-limit budget spent on all {len(self.lanes)} token(s); the next chance is in {max(wake_at - now, 0):.1f}s, "
                        "beyond the deadline"
                    )
                until = wake_at if give_up_at is None else min(wake_at, give_up_at)
                self._condition.wait(timeout=max(until - now, 0.001))

    def _choose(self, now: float) -> tuple[Lane | None, float]:
        """The lane a call goes through now (the cap permitting), or None and when to look again. Holds the lock."""
        if self.cap is not None:
            cap_free_at = self.cap.next_slot(now)
            if cap_free_at is not None:
                return None, cap_free_at
        count = len(self.lanes)
        start = self._turn % count
        rotated = self.lanes[start:] + self.lanes[:start]  # equal shares: take turns (sorted() keeps this order among equals)
        # the fullest window first: tokens of apps with different limits fill in proportion, a token still unheard from is tried
        ranked = sorted(rotated, key=lambda lane: lane.limiter.share_left(), reverse=True)
        wake_at = float("inf")
        for lane in ranked:
            lane_free_at = lane.limiter.try_acquire()
            if lane_free_at is None:
                self._turn = start + 1
                if self.cap is not None:
                    self.cap.take()
                return lane, now
            wake_at = min(wake_at, lane_free_at)
        return None, wake_at

    def finished(self) -> None:
        """One call acquired through the pool is over (answered, or failed without an answer)."""
        with self._condition:
            if self.cap is not None:
                self.cap.release(self._clock())
            self._condition.notify_all()


class LaneTicket:
    """One logical call's gate, with the interface `call_with_retries` waits on: acquire, then observe or cancel."""

    def __init__(self, pool: LanePool) -> None:
        self._pool = pool
        self.lane: Lane | None = None

    def acquire(self, timeout_s: float | None = None) -> float:
        self.lane, waited = self._pool.acquire(timeout_s)
        return waited

    def observe(self, headers: Mapping[str, str], status: int) -> RateLimitSnapshot:
        assert self.lane is not None, "observe() before acquire()"
        snapshot = self.lane.limiter.observe(headers, status)
        self._pool.finished()
        return snapshot

    def cancel(self) -> None:
        assert self.lane is not None, "cancel() before acquire()"
        self.lane.limiter.cancel()
        self._pool.finished()


def _calls_and_429s(limiter: WindowRateLimiter) -> tuple[int, int]:
    stats = limiter.stats()
    return stats.calls, stats.rate_limited
