"""The one error tree: every failure deskmigrate raises on purpose is a MigrationError."""

from __future__ import annotations

from dataclasses import dataclass


class MigrationError(Exception):
    """Root of every error deskmigrate raises deliberately."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config or mapping file, located by YAML path and line."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.path or '<root>'}: {self.message}"


class ProblemsError(MigrationError):
    """An error that carries every problem found, so the user fixes them all in one go."""

    def __init__(self, problems: list[Problem], title: str) -> None:
        self.problems = list(problems)
        self.title = title
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{title}:\n{lines}" if lines else title)


class ConfigError(ProblemsError):
    """The config file is invalid: unknown keys, bad values, missing environment variables."""

    def __init__(self, problems: list[Problem], title: str = "invalid configuration") -> None:
        super().__init__(problems, title)


class MappingError(ProblemsError):
    """The mapping (default or override) is invalid."""

    def __init__(self, problems: list[Problem], title: str = "invalid mapping") -> None:
        super().__init__(problems, title)


class SourceError(MigrationError):
    """The source could not be read (HTTP failure, unreadable file, broken pagination)."""


class StateError(MigrationError):
    """The ledger is unusable (corrupt, wrong version, locked by another run)."""


class LedgerLostError(StateError):
    """The ledger is missing, empty or unreadable in a state folder that shows earlier runs: not a fresh start."""

    def __init__(self, message: str, *, path: str, reason: str, history: list[str], backups: list[str]) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason
        self.history = list(history)
        self.backups = list(backups)


class LoadError(MigrationError):
    """A call to Intercom failed. Subclasses say whether it may be retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        excerpt: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.excerpt = excerpt


class RetriableError(LoadError):
    """Transient: a 5xx, a timeout, a dropped connection. Safe to retry when the call is idempotent."""


class AmbiguousWriteError(RetriableError):
    """A write whose outcome is unknown (connection dropped after sending): reconcile before retrying."""


class RateLimitedError(RetriableError):
    """HTTP 429: wait for the window to reset, then retry."""

    def __init__(self, message: str, *, reset_at: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reset_at = reset_at


class RejectedError(LoadError):
    """Permanent for this record (4xx other than 409/429): record it as failed and go on."""


class ConflictError(LoadError):
    """HTTP 409: the object exists already; `existing_id` names it when Intercom says so."""

    def __init__(self, message: str, *, existing_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.existing_id = existing_id


class AuthError(LoadError):
    """401/403: the token is wrong or lacks a permission. Stops the run."""
