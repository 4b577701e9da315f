"""HTTP policy shared by every API caller: a window rate limiter, one failure classifier, bounded retries, redaction.

One module per job; this is the front door every caller imports from."""

from __future__ import annotations

from deskmigrate.core.http.failures import (
    NOT_PROCESSED_STATUSES,
    ErrorDetails,
    ErrorDetailsParser,
    classify_exception,
    classify_failure,
    classify_status,
    generic_error_details,
)
from deskmigrate.core.http.lanes import Lane, LanePool, LaneStats, LaneTicket, WorkspaceCap
from deskmigrate.core.http.policy import (
    EXCERPT_CHARS,
    INTERCOM_WINDOW_S,
    REDACTED,
    Clock,
    Sleep,
)
from deskmigrate.core.http.ratelimit import (
    CallGate,
    LimiterStats,
    MinuteWindowPacer,
    RateLimitAdapter,
    RateLimitSnapshot,
    WindowRateLimiter,
    intercom_rate_limit,
    retry_after_rate_limit,
)
from deskmigrate.core.http.redaction import (
    excerpt,
    rebase_url,
    redact,
    response_excerpt,
)
from deskmigrate.core.http.retries import (
    RetryPolicy,
    RetryStats,
    call_with_retries,
)
from deskmigrate.core.http.stopping import (
    StopRequested,
    ask_stop,
    clear_stop,
    stop_asked,
    wait_unless_stopped,
)

__all__ = [
    "CallGate",
    "Clock",
    "EXCERPT_CHARS",
    "ErrorDetails",
    "ErrorDetailsParser",
    "INTERCOM_WINDOW_S",
    "Lane",
    "LanePool",
    "LaneStats",
    "LaneTicket",
    "LimiterStats",
    "MinuteWindowPacer",
    "NOT_PROCESSED_STATUSES",
    "REDACTED",
    "RateLimitAdapter",
    "RateLimitSnapshot",
    "RetryPolicy",
    "RetryStats",
    "Sleep",
    "StopRequested",
    "WindowRateLimiter",
    "ask_stop",
    "WorkspaceCap",
    "call_with_retries",
    "clear_stop",
    "classify_exception",
    "classify_failure",
    "classify_status",
    "excerpt",
    "generic_error_details",
    "intercom_rate_limit",
    "rebase_url",
    "redact",
    "response_excerpt",
    "retry_after_rate_limit",
    "stop_asked",
    "wait_unless_stopped",
]
