"""A stop asked of the whole process (Ctrl-C, SIGTERM under `deskmigrate sync`): no new HTTP call starts once it is asked,
and the calls in flight finish, so what they did is recorded before the command stops.

Every API call goes through `call_with_retries`, which checks here before each attempt (and after any wait for the rate
limit): the check raises `StopRequested`, a KeyboardInterrupt, so it passes every `except Exception` on its way out and
the run is recorded as interrupted, exactly as for Ctrl-C — only never in the middle of a request.
"""

from __future__ import annotations

import threading


class StopRequested(KeyboardInterrupt):
    """Raised instead of starting a call after a stop was asked."""


_asked = threading.Event()


def ask_stop() -> None:
    """From a signal handler or any thread: let the calls in flight finish, start none."""
    _asked.set()


def clear_stop() -> None:
    """A command that honours stops starts (and ends) with none asked."""
    _asked.clear()


def stop_asked() -> bool:
    return _asked.is_set()


def raise_if_stop_asked(describe: str = "the next call") -> None:
    if _asked.is_set():
        raise StopRequested(f"stopped before {describe}: a stop was asked")


def wait_unless_stopped(seconds: float) -> bool:
    """Sleep up to `seconds`; True as soon as a stop is asked (at once if it was asked already)."""
    return _asked.wait(max(seconds, 0.0))
