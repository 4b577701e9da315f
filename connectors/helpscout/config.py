"""The `source:` section for Help Scout: Mailbox API app credentials, the Docs API key, base URLs and pacing."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

MAILBOX_API_ROOT = "https://api.helpscout.net/v2"
DOCS_API_ROOT = "https://docsapi.helpscout.net/v1"
LineItemPolicy = Literal["keep", "drop"]


class HelpScoutSourceConfig(BaseModel):
    """Validated by the connector; `type: helpscout` selects it in the config file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["helpscout"] = "helpscout"
    app_id: str = Field(min_length=1, description="the OAuth2 app's App ID (client credentials flow)")
    app_secret: SecretStr
    base_url: str | None = Field(None, description=f"Mailbox API root, default {MAILBOX_API_ROOT}")
    docs_api_key: SecretStr | None = Field(None, description="a Docs API key; without it Docs collections and articles are skipped")
    docs_base_url: str | None = Field(None, description=f"Docs API root, default {DOCS_API_ROOT}")
    mailboxes: list[int] | None = Field(None, description="read only these mailbox ids (default: every mailbox the app sees)")
    line_items: LineItemPolicy = Field(
        "keep", description="status changes, assignments and moves: keep them as system parts (notes) or drop them"
    )
    requests_per_minute: int = Field(200, ge=1, description="budget assumed until Help Scout's rate-limit headers say otherwise")
    max_attempts: int = Field(5, ge=1, le=20, description="attempts of one call after 5xx or dropped connections (429 waits excluded)")
    retry_deadline_s: float = Field(600.0, gt=0, description="longest time one call may take, 429 waits included")
    retry_backoff_s: float = Field(1.0, ge=0, description="first back-off after a 5xx; doubles each retry")
    timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _urls_have_a_scheme(self) -> HelpScoutSourceConfig:
        for name in ("base_url", "docs_base_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://")
        return self

    def api_root(self) -> str:
        return (self.base_url or MAILBOX_API_ROOT).rstrip("/")

    def docs_root(self) -> str:
        return (self.docs_base_url or DOCS_API_ROOT).rstrip("/")
