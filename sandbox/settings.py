"""What a sandbox emulates: where it persists, its token, and the faults and delays it injects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UNLIMITED_RATE_LIMIT = 10_000

# What a data attribute of a conversation can hold, as the config names the types (Intercom's data attribute types).
CONVERSATION_ATTRIBUTE_TYPES = ("string", "integer", "float", "boolean", "date", "datetime")

DEFAULT_ADMINS: list[dict] = [
    {"id": "991267001", "name": "Sandbox Owner", "email": "owner@sandbox.example.com"},
    {"id": "991267002", "name": "Support Agent", "email": "agent@sandbox.example.com"},
    {"id": "991267003", "name": "Migration Bot", "email": "migration-bot@sandbox.example.com"},
]


@dataclass
class SandboxSettings:
    """Settings of one sandbox workspace; faults are drawn from `seed` so a run can be replayed."""

    path: Path
    token: str
    rate_limit: int | None = None
    # More private apps of the same workspace, each its own token and its own `rate_limit` window; the workspace's limit
    # (calls a minute across every app, held in 10-second windows of a sixth of it) binds their sum. None: not emulated.
    extra_tokens: list[str] | None = None
    workspace_rate_limit: int | None = None
    # A test switch: tokens of apps in other workspaces (token → that workspace's id_code). `GET /me` names their
    # workspace; every other call is a 401, as this workspace's data is not theirs.
    foreign_tokens: dict[str, str] | None = None
    latency_ms: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    search_delay_s: float = 2.0
    seed: int | None = None
    admins: list[dict] | None = None
    # Conversation attributes the workspace has before any API call, as if made in Settings → Data → Conversation data.
    conversation_attributes: dict[str, str] | None = None
    # A test switch. Intercom's contact `phone` is a free string (2.15 spec) and the sandbox accepts any text by default;
    # with this on, a phone that is not E.164 gets the 400 a validating workspace would send, to exercise the loader's fallback.
    strict_phones: bool = False

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.token:
            raise ValueError("the sandbox needs a non-empty token")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 call per window")
        if self.workspace_rate_limit is not None and self.workspace_rate_limit < 6:
            raise ValueError("workspace_rate_limit must be at least 6 calls a minute (1 per 10-second window)")
        if any(not token for token in [*(self.extra_tokens or []), *(self.foreign_tokens or {})]):
            raise ValueError("every sandbox token must be non-empty")
        for name in ("error_rate", "drop_rate"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name, data_type in (self.conversation_attributes or {}).items():
            if not name or data_type not in CONVERSATION_ATTRIBUTE_TYPES:
                raise ValueError(f"conversation attribute {name!r}: type must be one of {', '.join(CONVERSATION_ATTRIBUTE_TYPES)}")
        if self.latency_ms < 0 or self.search_delay_s < 0:
            raise ValueError("latency_ms and search_delay_s must not be negative")

    @property
    def app_tokens(self) -> list[str]:
        """The tokens of this workspace's apps; app n (1-based, as the request log names it) is the n-th."""
        return [self.token, *(self.extra_tokens or [])]

    def __repr__(self) -> str:
        return (f"SandboxSettings(path={str(self.path)!r}, token='***', apps={len(self.app_tokens)}, rate_limit={self.rate_limit!r}, "
                f"workspace_rate_limit={self.workspace_rate_limit!r})")
