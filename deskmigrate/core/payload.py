"""What the mapping engine hands the loader: Intercom request bodies plus the links the loader resolves."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IntercomDataType = Literal["string", "integer", "float", "boolean", "date", "datetime"]


class AttributeDeclaration(BaseModel):
    """A custom data attribute the mapping writes; preflight creates it in Intercom when missing."""

    model_config = ConfigDict(extra="forbid")
    model: Literal["contact", "company", "conversation"]
    name: str
    data_type: IntercomDataType
    description: str = ""
    options: list[str] = Field(default_factory=list)
    create_if_missing: bool = True


class Payload(BaseModel):
    """One record ready to load. `body` is the Intercom request body; links are by source id."""

    model_config = ConfigDict(extra="forbid")
    entity: str
    source_id: str
    body: dict[str, Any]
    company_source_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    # conversations: one Intercom part body per source part, in order (each carries its source part id)
    parts: list[dict[str, Any]] = Field(default_factory=list)
    # source ids the loader resolves to Intercom ids: parent collection, author agent, requester contact, assignee…
    refs: dict[str, Any] = Field(default_factory=dict)

    def content_hash(self) -> str:
        """Stable over key order, so an unchanged record hashes the same on every run."""
        canonical = json.dumps(
            {"body": self.body, "companies": sorted(self.company_source_ids), "tags": sorted(t.lower() for t in self.tags),
             "parts": self.parts, "refs": self.refs},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class PayloadRejection(BaseModel):
    """A record the mapping refused before any API call (invalid email, missing required value, ...)."""

    model_config = ConfigDict(extra="forbid")
    entity: str
    source_id: str
    field: str | None = None
    reason: str
