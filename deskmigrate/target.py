"""The Intercom target of a command: its client (a sandbox target started in-process for the command), and for `run`
and `load` the target opened and its token checked while the source is read and planned (so this module imports only
what opening it needs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deskmigrate.core.errors import MigrationError
from deskmigrate.core.http import RetryPolicy, WindowRateLimiter, WorkspaceCap
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.project import Project

if TYPE_CHECKING:  # the sandbox is imported when a command starts one, not with every command
    from deskmigrate.sandbox import SandboxServer


class TargetClient(IntercomClient):
    """The Intercom client of a command. Reads done ahead (`read_ahead`: the token's `GET /me`, then the preflight's
    `GET /admins`) leave their answers for the first `me()` and `admins()` after them, so that reading early costs no
    extra call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ahead: dict[str, dict[str, Any]] = {}

    def read_ahead(self) -> None:
        """Check the token (its error is raised); then read the admins, whose error is left for the preflight to meet."""
        self._ahead["me"] = super().me()
        try:
            self._ahead["admins"] = super().admins()
        except MigrationError:  # the preflight's own `admins()` asks again and meets it where it did
            pass

    def me(self) -> dict[str, Any]:
        answer = self._ahead.pop("me", None)
        return answer if answer is not None else super().me()

    def admins(self) -> dict[str, Any]:
        answer = self._ahead.pop("admins", None)
        return answer if answer is not None else super().admins()


@dataclass
class Target:
    client: TargetClient
    limiter: WindowRateLimiter
    sandbox: SandboxServer | None
    base_url: str


@contextmanager
def open_target(project: Project, policy: RetryPolicy | None = None, timeout_s: float | None = None) -> Iterator[Target]:
    """The Intercom client for the configured target; a sandbox target is started in-process for the command.

    `policy` and `timeout_s` override the configured retries and timeout, for commands that only peek (check, plan) and
    should not wait long.
    """
    target = project.loaded.config.target
    tokens = target.access_tokens()
    sandbox: SandboxServer | None = None
    base_url = target.api_base_url()
    if target.type == "sandbox" and not target.base_url:
        from deskmigrate.sandbox import SandboxServer, SandboxSettings

        path = project.loaded.resolve(target.path) if target.path else project.state_dir / "sandbox.db"
        sandbox = SandboxServer(SandboxSettings(
            path=path, token=tokens[0], extra_tokens=tokens[1:], rate_limit=target.rate_limit,
            workspace_rate_limit=target.workspace_rate_limit if target.rate_limit else None, latency_ms=target.latency_ms,
            error_rate=target.error_rate, drop_rate=target.drop_rate, search_delay_s=target.search_delay_s,
            seed=target.fault_seed, conversation_attributes=dict(target.conversation_attributes),
        ))
        base_url = sandbox.start()
    assert base_url is not None
    load = project.loaded.config.load
    policy = policy or RetryPolicy(max_attempts=load.max_attempts, deadline_s=load.retry_deadline_s)
    client = TargetClient(
        base_url, tokens, target.version, timeout_s=timeout_s or target.timeout_s,
        workspace_cap=WorkspaceCap.per_minute(cap) if (cap := target.workspace_cap()) else None, policy=policy,
        pool_size=max(16, load.concurrency * 2),
    )
    try:
        yield Target(client=client, limiter=client.limiter, sandbox=sandbox, base_url=base_url)
    finally:
        client.close()
        if sandbox is not None:
            sandbox.stop()


class TargetOpening:
    """The target opened, its token checked and its admins read, in a thread of its own while the command reads and
    plans the source: the load then starts on an open connection (a started sandbox), its first calls already answered.

    Nothing is written here, and whatever goes wrong waits for `target()`: a run that stops before loading (too many
    rejections, a source error) ends as it would have without it, and one that loads meets the error where it did.
    """

    def __init__(self, project: Project) -> None:
        self._project = project
        self._opened = ExitStack()
        self._lock = threading.Lock()
        self._closed = False
        self._done = False
        self._target: Target | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, name="target-opening", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            target = self._opened.enter_context(open_target(self._project))
            target.client.read_ahead()
            self._target = target
        except BaseException as error:  # handed to the command by target(), in its thread
            self._error = error
        finally:
            with self._lock:
                self._done = True
                abandoned = self._closed  # the command ended without loading: nobody waits for this target
            if abandoned:
                self._opened.close()

    def target(self) -> Target:
        """The open target (waiting for it); the error opening it or checking its token, if that failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._target is not None
        return self._target

    def close(self) -> None:
        """Close the target now if it is open, else when its opening ends (never waiting for a slow or dead target)."""
        with self._lock:
            self._closed = True
            done = self._done
        if done:
            self._opened.close()


@contextmanager
def opening_target(project: Project) -> Iterator[TargetOpening]:
    """A TargetOpening closed when the block ends."""
    opening = TargetOpening(project)
    try:
        yield opening
    finally:
        opening.close()
