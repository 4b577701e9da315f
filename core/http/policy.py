"""The clock and sleep a caller waits with (tests pass fakes), and the constants the HTTP policy shares."""

from __future__ import annotations

from collections.abc import Callable

# The monotonic clock and the sleep a client waits with; tests pass fakes of both.
Clock = Callable[[], float]
Sleep = Callable[[float], None]
EXCERPT_CHARS = 300
INTERCOM_WINDOW_S = 10.0
REDACTED = "***"
