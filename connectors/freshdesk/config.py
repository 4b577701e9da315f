"""The `source:` section for Freshdesk: domain, API key, base URL, plan limits and what to read."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

TicketInclude = Literal["description", "stats", "requester"]


class FreshdeskSourceConfig(BaseModel):
    """Validated by the connector; `type: freshdesk` selects it in the config file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["freshdesk"] = "freshdesk"
    domain: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$", description="acme for acme.freshdesk.com")
    api_key: SecretStr = Field(description="sent as the basic-auth user (password X)")
    base_url: str | None = Field(None, description="default https://{domain}.freshdesk.com; any scheme/host for proxies and test servers")
    per_page: int = Field(100, ge=1, le=100)
    # Tickets-list and contacts-list sub-limits per minute: Growth 20, Pro 100, Enterprise 200
    # (https://support.freshdesk.com/support/solutions/articles/225439). The account-wide limit is read from headers.
    tickets_list_per_minute: int = Field(20, ge=1)
    contacts_list_per_minute: int = Field(20, ge=1)
    ticket_includes: list[TicketInclude] = Field(
        default_factory=lambda: ["description", "stats"], description="each include costs 2 extra credits per list page"
    )
    description_attachments: bool = Field(
        True, description="one GET /tickets/{id} per ticket for the first message's attachments (the list omits them)"
    )
    download_attachments: bool = Field(False, description="download attachments while their signed URLs are fresh")
    attachments_dir: Path = Path(".deskmigrate/attachments/freshdesk")
    include_solutions: bool = True
    solution_languages: list[str] | None = Field(None, description="default: every language the account supports")
    max_retries: int = Field(5, ge=0, le=10, description="retries of one call after a 5xx or a dropped connection")
    retry_deadline_s: float = Field(600.0, gt=0, description="longest time one call may take, 429 waits included")
    retry_backoff_s: float = Field(1.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _check_base_url(self) -> FreshdeskSourceConfig:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if "description" not in self.ticket_includes:
            raise ValueError("ticket_includes must keep description: it is the first message of every conversation")
        return self

    def api_root(self) -> str:
        """The URL every API path is appended to, e.g. https://acme.freshdesk.com/api/v2."""
        return f"{self.portal_url()}/api/v2"

    def portal_url(self) -> str:
        return (self.base_url or f"https://{self.domain}.freshdesk.com").rstrip("/")
