"""The `source:` section for Zendesk: credentials, base URL, pacing and reading strategy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

CommentsStrategy = Literal["auto", "events", "per_ticket"]


class ZendeskSourceConfig(BaseModel):
    """Validated by the connector; `type: zendesk` selects it in the config file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["zendesk"] = "zendesk"
    subdomain: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")
    email: str | None = None
    token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    base_url: str | None = Field(None, description="default https://{subdomain}.zendesk.com; any scheme/host for proxies and test servers")
    incremental_requests_per_minute: int = Field(10, ge=1, description="10, or 30 with the High Volume API add-on")
    page_size: int = Field(1000, ge=1, le=1000)
    include_help_center: bool = True
    help_center_locales: list[str] | None = None
    comments_strategy: CommentsStrategy = "auto"
    max_retry_wait_s: int = Field(300, ge=1, description="longest total wait on 429s for one call before giving up")
    max_retries: int = Field(4, ge=0, le=10, description="retries of one call after a 5xx or a dropped connection")
    retry_backoff_s: float = Field(2.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> ZendeskSourceConfig:
        if (self.token is None) == (self.oauth_token is None):
            raise ValueError("set exactly one of token (with email) or oauth_token")
        if self.token is not None and not self.email:
            raise ValueError("email is required with an API token")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return self

    def api_root(self) -> str:
        """The URL every API path is appended to, e.g. https://acme.zendesk.com/api/v2."""
        base = self.base_url or f"https://{self.subdomain}.zendesk.com"
        return f"{base.rstrip('/')}/api/v2"
