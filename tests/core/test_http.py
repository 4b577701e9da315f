"""The shared HTTP policy: window limiter, failure classification, bounded retries and redaction, over real loopback HTTP."""

from __future__ import annotations

import email.utils
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import requests

from deskmigrate.core.errors import (
    AmbiguousWriteError,
    AuthError,
    ConflictError,
    LoadError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from deskmigrate.core.http import (
    MinuteWindowPacer,
    RetryPolicy,
    RetryStats,
    WindowRateLimiter,
    call_with_retries,
    classify_exception,
    classify_status,
    excerpt,
    intercom_rate_limit,
    rebase_url,
    redact,
    retry_after_rate_limit,
)
from tests.fakes.loopback import DROP, Reply, ScriptedServers


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str, str], object]], str]]:
    """Start a loopback server answering with `respond(method, path)`; yields a starter returning its base URL."""
    with ScriptedServers() as servers:
        yield lambda respond: servers(lambda request: respond(request.method, request.target))


def run_in_threads(work: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Script:
    """Answers calls in order from a list of replies, repeating the last one; counts what it saw."""

    def __init__(self, *replies: object) -> None:
        self.replies = list(replies)
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> object:
        with self.lock:
            index = min(self.calls, len(self.replies) - 1)
            self.calls += 1
            return self.replies[index]


class WindowedApi:
    """An Intercom-like budget: `limit` calls per `window_s` window aligned on the epoch, 429 beyond it."""

    def __init__(self, limit: int, window_s: float = 1.0, storm: int = 0) -> None:
        self.limit = limit
        self.window_s = window_s
        self.storm = storm  # answer 429 to the first `storm` calls, whatever the budget
        self.served_by_window: Counter[int] = Counter()
        self.too_many = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> object:
        with self.lock:
            now = time.time()
            window = math.floor(now / self.window_s)
            reset = str(math.ceil((window + 1) * self.window_s))
            used = self.served_by_window[window]
            if self.storm > 0 or used >= self.limit:
                self.storm = max(self.storm - 1, 0)
                self.too_many += 1
                headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 1)}
                return Reply(429, headers, b'{"type":"error.list","errors":[{"code":"rate_limit_exceeded"}]}')
            self.served_by_window[window] += 1
            remaining = self.limit - used - 1
            return Reply(200, {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": reset})


FAST = RetryPolicy(max_attempts=4, deadline_s=30, base_delay_s=0.01, max_delay_s=0.02)


def run(
    base_url: str, method: str = "GET", *, idempotent: bool | None = None, policy: RetryPolicy = FAST, **kwargs: object
) -> requests.Response:
    session = requests.Session()
    limiter = kwargs.pop("limiter", None) or WindowRateLimiter(intercom_rate_limit)
    return call_with_retries(
        lambda: session.request(method, f"{base_url}/things", json={"a": 1}, timeout=5),
        policy=policy,
        limiter=limiter,  # type: ignore[arg-type]
        idempotent=method != "POST" if idempotent is None else idempotent,
        describe=f"{method} /things",
        **kwargs,  # type: ignore[arg-type]
    )


# --- the limiter over real HTTP -----------------------------------------------------------------


def get_things(session: requests.Session, base_url: str, policy: RetryPolicy, limiter: WindowRateLimiter, stats: RetryStats) -> requests.Response:
    return call_with_retries(
        lambda: session.get(f"{base_url}/things", timeout=5), policy=policy, limiter=limiter, idempotent=True, describe="GET /things", stats=stats
    )


def test_eight_threads_fill_each_window_without_a_single_429(serve) -> None:
    api = WindowedApi(limit=25, window_s=1.0)
    base_url = serve(api)
    limiter = WindowRateLimiter(intercom_rate_limit, initial_limit=5, window_s=1.0, reset_margin_s=0.05, jitter_s=0.05)
    stats = RetryStats()
    session = requests.Session()
    calls_per_thread = 10
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(calls_per_thread):
                get_things(session, base_url, FAST, limiter, stats)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    run_in_threads(worker, 8)

    total = 8 * calls_per_thread
    assert failures == []
    assert api.too_many == 0
    assert sum(api.served_by_window.values()) == total
    assert max(api.served_by_window.values()) <= api.limit
    # saturated: the 80 calls need ceil(80/25) = 4 windows; allow one spare for a window boundary hit mid-burst
    assert len(api.served_by_window) <= math.ceil(total / api.limit) + 1
    assert limiter.stats().calls == total
    assert limiter.stats().rate_limited == 0


def test_a_429_storm_makes_every_thread_wait_then_all_calls_succeed(serve) -> None:
    api = WindowedApi(limit=1000, storm=3)
    base_url = serve(api)
    limiter = WindowRateLimiter(intercom_rate_limit, initial_limit=8, window_s=1.0, reset_margin_s=0.05, jitter_s=0.05)
    stats = RetryStats()
    one_attempt = RetryPolicy(max_attempts=1, deadline_s=30)  # 429s must not use attempts up
    session = requests.Session()
    results: list[int] = []

    def worker() -> None:
        for _ in range(4):
            response = get_things(session, base_url, one_attempt, limiter, stats)
            results.append(response.status_code)

    run_in_threads(worker, 8)

    assert results == [200] * 32
    assert api.too_many == 3
    assert limiter.stats().rate_limited == 3
    assert stats.rate_limited == 3
    assert stats.attempts == 32 + 3


# --- the limiter's bookkeeping, without waiting -------------------------------------------------


def intercom_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(reset_at))}


def test_calls_in_flight_count_against_the_last_call_left() -> None:
    limiter = WindowRateLimiter(intercom_rate_limit)
    limiter.acquire(timeout_s=0)
    limiter.observe(intercom_headers(100, 1, time.time() + 60), 200)

    limiter.acquire(timeout_s=0)  # the one call left
    with pytest.raises(RateLimitedError):
        limiter.acquire(timeout_s=0)  # a second thread may not fire too


def test_before_any_answer_only_the_initial_limit_may_be_in_flight() -> None:
    limiter = WindowRateLimiter(intercom_rate_limit, initial_limit=3)
    for _ in range(3):
        limiter.acquire(timeout_s=0)
    with pytest.raises(RateLimitedError):
        limiter.acquire(timeout_s=0)


def test_late_answers_reporting_more_budget_do_not_raise_it() -> None:
    limiter = WindowRateLimiter(intercom_rate_limit, initial_limit=2)
    reset_at = time.time() + 60
    limiter.acquire(timeout_s=0)
    limiter.acquire(timeout_s=0)
    limiter.observe(intercom_headers(100, 0, reset_at), 200)
    limiter.observe(intercom_headers(100, 5, reset_at), 200)  # processed earlier, answered later
    with pytest.raises(RateLimitedError):
        limiter.acquire(timeout_s=0)


def test_a_429_blocks_every_caller_until_the_reset() -> None:
    limiter = WindowRateLimiter(intercom_rate_limit)
    limiter.acquire(timeout_s=0)
    limiter.observe(intercom_headers(100, 50, time.time() + 60), 429)
    with pytest.raises(RateLimitedError):
        limiter.acquire(timeout_s=0)
    assert limiter.stats().rate_limited == 1


def test_a_server_without_rate_limit_headers_is_not_throttled_after_it_answers() -> None:
    limiter = WindowRateLimiter(intercom_rate_limit, initial_limit=1)
    limiter.acquire(timeout_s=0)
    limiter.observe({}, 200)
    for _ in range(50):
        limiter.acquire(timeout_s=0)
    assert limiter.stats().calls == 51


def test_retry_after_adapter_reads_zendesk_freshdesk_and_help_scout_headers() -> None:
    now = 1_700_000_000.0
    zendesk = retry_after_rate_limit({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}, now)
    assert (zendesk.limit, zendesk.remaining, zendesk.reset_at) == (700, 699, None)
    freshdesk_429 = retry_after_rate_limit({"X-Ratelimit-Total": "200", "X-Ratelimit-Remaining": "0", "Retry-After": "37"}, now)
    assert (freshdesk_429.limit, freshdesk_429.remaining, freshdesk_429.reset_at) == (200, 0, now + 37)
    help_scout = retry_after_rate_limit(
        {"X-RateLimit-Limit-Minute": "400", "X-RateLimit-Remaining-Minute": "12", "X-RateLimit-Retry-After": "5"}, now
    )
    assert (help_scout.limit, help_scout.remaining, help_scout.reset_at) == (400, 12, now + 5)
    as_date = retry_after_rate_limit({"Retry-After": email.utils.formatdate(now + 30, usegmt=True)}, now)
    assert as_date.reset_at == pytest.approx(now + 30)


def test_intercom_adapter_reads_the_absolute_reset() -> None:
    snapshot = intercom_rate_limit({"x-ratelimit-limit": "167", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "1700000010"}, 0)
    assert (snapshot.limit, snapshot.remaining, snapshot.reset_at) == (167, 3, 1_700_000_010)


# --- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "idempotent", "expected"),
    [
        (200, False, None),
        (204, True, None),
        (429, False, RateLimitedError),
        (409, False, ConflictError),
        (401, True, AuthError),
        (403, False, AuthError),
        (400, True, RejectedError),
        (404, True, RejectedError),
        (422, False, RejectedError),
        (503, False, RetriableError),
        (502, True, RetriableError),
        (502, False, AmbiguousWriteError),
        (500, True, RetriableError),
        (500, False, AmbiguousWriteError),
        (504, False, AmbiguousWriteError),
    ],
)
def test_classify_status(status: int, idempotent: bool, expected: type[LoadError] | None) -> None:
    assert classify_status(status, idempotent=idempotent) is expected


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_refused_connection_never_reached_the_server_so_even_a_create_may_be_retried() -> None:
    with pytest.raises(requests.ConnectionError) as caught:
        requests.post(closed_port_url(), timeout=2)
    assert classify_exception(caught.value, idempotent=False) is RetriableError


def test_a_read_timeout_makes_a_create_ambiguous() -> None:
    timeout = requests.ReadTimeout("read timed out")
    assert classify_exception(timeout, idempotent=False) is AmbiguousWriteError
    assert classify_exception(timeout, idempotent=True) is RetriableError


# --- retries over real HTTP ---------------------------------------------------------------------


def test_an_idempotent_call_is_retried_after_5xx(serve) -> None:
    script = Script(Reply(500), Reply(502), Reply(200))
    stats = RetryStats()
    response = run(serve(script), "GET", stats=stats)
    assert response.status_code == 200
    assert script.calls == 3
    assert stats.retries == 2


def test_a_create_that_got_a_503_was_not_processed_and_is_retried(serve) -> None:
    script = Script(Reply(503), Reply(201))
    assert run(serve(script), "POST").status_code == 201
    assert script.calls == 2


def test_a_create_that_got_a_500_is_ambiguous_and_not_resent(serve) -> None:
    script = Script(Reply(500), Reply(201))
    with pytest.raises(AmbiguousWriteError) as caught:
        run(serve(script), "POST")
    assert script.calls == 1
    assert caught.value.status == 500


def test_a_dropped_create_is_ambiguous_and_not_resent(serve) -> None:
    script = Script(DROP, Reply(201))
    with pytest.raises(AmbiguousWriteError):
        run(serve(script), "POST")
    assert script.calls == 1


def test_a_dropped_read_is_retried(serve) -> None:
    script = Script(DROP, Reply(200))
    assert run(serve(script), "GET").status_code == 200
    assert script.calls == 2


def test_retries_stop_at_max_attempts(serve) -> None:
    script = Script(Reply(502))
    with pytest.raises(RetriableError, match="3 attempts") as caught:
        run(serve(script), "GET", policy=RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.001))
    assert script.calls == 3
    assert caught.value.status == 502


def test_retries_stop_at_the_deadline(serve) -> None:
    script = Script(Reply(503))
    fake_now = [0.0]
    policy = RetryPolicy(max_attempts=100, deadline_s=5, base_delay_s=1, max_delay_s=1, jitter=0)
    with pytest.raises(RetriableError, match="deadline"):
        run(
            serve(script),
            "GET",
            policy=policy,
            clock=lambda: fake_now[0],
            sleep=lambda seconds: fake_now.__setitem__(0, fake_now[0] + seconds),
        )
    assert script.calls == 6  # at t = 0, 1, 2, 3, 4, 5; a sixth retry would end past the 5 s deadline


def test_permanent_errors_are_not_retried(serve) -> None:
    for status, error in [(400, RejectedError), (401, AuthError), (409, ConflictError)]:
        script = Script(Reply(status, body=b'{"code": "nope"}'), Reply(200))
        with pytest.raises(error):
            run(serve(script), "GET")
        assert script.calls == 1


def test_an_unreachable_server_is_retried_then_reported() -> None:
    stats = RetryStats()
    with pytest.raises(RetriableError, match="4 attempts"):
        run(closed_port_url(), "POST", stats=stats)
    assert stats.attempts == 4


def test_a_rate_limit_reset_beyond_the_deadline_fails_fast(serve) -> None:
    far_reset = str(int(time.time()) + 3600)
    script = Script(Reply(429, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": far_reset}))
    with pytest.raises(RateLimitedError):
        run(serve(script), "GET", policy=RetryPolicy(deadline_s=2))
    assert script.calls == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5, jitter=0)
    assert [policy.backoff_s(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittered = RetryPolicy(base_delay_s=4, max_delay_s=4, jitter=0.5)
    assert all(2 <= jittered.backoff_s(1) <= 4 for _ in range(50))


# --- redaction ---------------------------------------------------------------------------------


def test_redact_removes_secrets_and_credentials() -> None:
    secret = "s3cr3t-t0ken-value"
    text = (
        f'{{"echo": "{secret}", "url": "https://x/?k=s3cr3t%2Dt0ken%2Dvalue"}}\n'
        "Authorization: Bearer abcdefghijkl\nproxy auth Basic dXNlcjpwYXNzd29yZA== done"
    )
    cleaned = redact(text, [secret])
    assert secret not in cleaned
    assert "abcdefghijkl" not in cleaned
    assert "dXNlcjpwYXNzd29yZA" not in cleaned
    assert cleaned.count("***") >= 3
    assert redact("a basic attribute", []) == "a basic attribute"


def test_excerpt_is_short_and_never_shows_half_a_secret() -> None:
    secret = "x" * 40
    text = "a" * 290 + secret + "tail" * 100
    short = excerpt(text, [secret])
    assert len(short) <= 301
    assert "xxxx" not in short


def test_vendor_factories_read_their_own_headers() -> None:
    intercom = WindowRateLimiter.for_intercom(initial_limit=1)
    intercom.acquire(timeout_s=0)
    intercom.observe({"Retry-After": "30"}, 200)  # not an Intercom header: no budget learnt, so not throttled
    intercom.acquire(timeout_s=0)

    zendesk = WindowRateLimiter.for_retry_after(initial_limit=5)
    zendesk.acquire(timeout_s=0)
    zendesk.observe({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "0"}, 200)
    with pytest.raises(RateLimitedError):
        zendesk.acquire(timeout_s=0)


class FakeTime:
    """A clock that only moves when slept on (or moved by the test)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_minute_pacer_keeps_to_the_per_minute_budget() -> None:
    time_ = FakeTime()
    pacer = MinuteWindowPacer(2, clock=lambda: time_.now, sleep=time_.sleep)
    for _ in range(3):
        pacer.wait_for_slot()
    assert time_.waits == [60.0]


def test_minute_pacer_counts_the_window_from_the_oldest_call() -> None:
    time_ = FakeTime()
    pacer = MinuteWindowPacer(2, clock=lambda: time_.now, sleep=time_.sleep)
    for _ in range(3):
        pacer.wait_for_slot()
        time_.now += 1
    assert time_.waits == [58.0]
    assert pacer.waited_s == 58.0


@pytest.mark.parametrize(
    ("link", "root", "expected"),
    [
        ("https://acme.zendesk.com/api/v2/users.json?page=2", "http://127.0.0.1:8080/api/v2", "http://127.0.0.1:8080/api/v2/users.json?page=2"),
        ("https://acme.freshdesk.com/api/v2/tickets?page=3", "https://proxy.example/fd/api/v2/", "https://proxy.example/fd/api/v2/tickets?page=3"),
        ("https://cdn.example/files/a.png", "http://127.0.0.1:8080/api/v2", "http://127.0.0.1:8080/files/a.png"),
    ],
)
def test_next_page_links_are_pointed_at_the_configured_root(link: str, root: str, expected: str) -> None:
    assert rebase_url(link, root, "/api/v2") == expected
