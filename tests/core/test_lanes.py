"""Several tokens of one workspace: which token a call goes through, a 429 slowing one token only, the workspace cap."""

from __future__ import annotations

import pytest

from deskmigrate.core.errors import RateLimitedError
from deskmigrate.core.http import Lane, LanePool, WindowRateLimiter, WorkspaceCap, intercom_rate_limit
from tests.conftest import ManualClock


def pool_of(count: int, clock: ManualClock, cap: WorkspaceCap | None = None) -> LanePool:
    lanes = [Lane(position, f"token-{position}", WindowRateLimiter(intercom_rate_limit, clock=clock, jitter_s=0.0))
             for position in range(1, count + 1)]
    return LanePool(lanes, cap, clock=clock)


def answer(pool: LanePool, clock: ManualClock, remaining: int, status: int = 200) -> int:
    """Send one call through the pool, answered with `remaining` calls left in a window resetting in 10 s; its lane."""
    ticket = pool.ticket()
    ticket.acquire(timeout_s=0)
    assert ticket.lane is not None
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(clock()) + 10)}
    ticket.observe(headers, status)
    return ticket.lane.position


def test_calls_take_turns_over_tokens_with_the_same_budget() -> None:
    clock = ManualClock()
    pool = pool_of(3, clock)

    positions = [answer(pool, clock, 50) for _ in range(6)]

    assert sorted(positions) == [1, 1, 2, 2, 3, 3]


def test_a_call_goes_to_the_token_with_the_most_budget_left() -> None:
    clock = ManualClock()
    pool = pool_of(2, clock)
    answer(pool, clock, 90)  # token 1
    answer(pool, clock, 3)  # token 2: nearly spent

    assert [answer(pool, clock, 80) for _ in range(3)] == [1, 1, 1]


def test_a_429_on_one_token_slows_that_token_only() -> None:
    clock = ManualClock()
    pool = pool_of(3, clock)
    assert answer(pool, clock, 0, status=429) == 1  # token 1 is told to wait for its window

    later = [answer(pool, clock, 50) for _ in range(8)]  # timeout 0: none of these may wait

    assert set(later) == {2, 3}
    assert [stat.rate_limited for stat in pool.stats()] == [1, 0, 0]
    clock.advance(11)
    assert 1 in {answer(pool, clock, 50) for _ in range(3)}  # its window reset: token 1 is back


def test_the_workspace_cap_bounds_the_sum_of_the_tokens() -> None:
    clock = ManualClock()
    pool = pool_of(3, clock, WorkspaceCap(4, 10.0, clock))

    for _ in range(4):
        answer(pool, clock, 90)
    with pytest.raises(RateLimitedError, match="all 3 token"):
        pool.ticket().acquire(timeout_s=0)
    clock.advance(10)
    answer(pool, clock, 90)
    assert sum(stat.calls for stat in pool.stats()) == 5


def test_a_call_counts_against_the_cap_until_a_window_after_its_answer() -> None:
    clock = ManualClock()
    pool = pool_of(2, clock, WorkspaceCap(1, 10.0, clock))
    slow = pool.ticket()
    slow.acquire(timeout_s=0)

    clock.advance(20)  # still unanswered: the server may count it in any window yet
    with pytest.raises(RateLimitedError):
        pool.ticket().acquire(timeout_s=0)
    slow.observe({}, 200)
    clock.advance(9.9)
    with pytest.raises(RateLimitedError):
        pool.ticket().acquire(timeout_s=0)
    clock.advance(0.2)
    pool.ticket().acquire(timeout_s=0)


def test_a_workspace_limit_per_minute_is_held_in_ten_second_windows() -> None:
    assert WorkspaceCap.per_minute(25_000).calls_per_window == 4166
    assert WorkspaceCap.per_minute(5).calls_per_window == 1


def test_a_lane_never_shows_its_token() -> None:
    lane = Lane(2, "secret-token-value-123456", WindowRateLimiter())
    assert "secret-token-value" not in repr(lane)
    assert repr(lane) == "Lane(token 2)"
