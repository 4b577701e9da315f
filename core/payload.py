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


class FieldNote(BaseModel):
    """A value that cost its field, not its record: which rule, why, what was done, and where the record was read.

    `reason` is value-free (it groups across records: "invalid phone number"); the value itself never appears.
    """

    model_config = ConfigDict(extra="forbid")
    field: str  # the rule's `to` (phone, custom_attributes.plan_tier) or the source field
    reason: str
    action: Literal["dropped", "kept_raw", "kept_as_written"]
    value_kind: str = ""  # "text", "number", "12-character text": the kind of value, never the value
    location: str | None = None  # "contacts.csv:17" where the source has lines


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
    # what the mapping could not convert and did instead (not part of the content hash): see FieldNote
    notes: list[FieldNote] = Field(default_factory=list)

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
