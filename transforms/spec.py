"""The mapping file's schema (`MappingSpec`, version 1): targets, rules, value maps, attribute declarations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deskmigrate.core.model import RECORD_TYPES, Part, Record
from deskmigrate.core.payload import IntercomDataType

TargetName = Literal["company", "contact", "collection", "article", "conversation", "part"]
UnmappedPolicy = Literal["drop", "custom_attribute", "error"]
OnError = Literal["drop_field", "keep_raw", "reject"]
# Identity fields: a bad value there rejects the record by default (email is how Intercom and people find a contact).
IDENTITY_FIELDS = frozenset({"email"})
# Free-text fields in Intercom (contact `phone` is a plain string in the 2.15 spec): a value that does not convert is sent as written.
AS_WRITTEN_FIELDS = frozenset({"phone"})
# The contact attribute the loader keeps a phone in when Intercom refuses the number (declared whenever `phone` is written).
PHONE_ORIGINAL = "phone_original"
# Body keys Intercom takes as unix seconds: a source time still in text when a rule writes one is read like unix_time does.
TIME_KEYS: dict[str, frozenset[str]] = {
    "contact": frozenset({"signed_up_at", "last_seen_at"}),
    "company": frozenset({"remote_created_at"}),
    "conversation": frozenset({"created_at"}),
    "part": frozenset({"created_at"}),
}
DATE_ORDERS = ("dayfirst", "monthfirst")

TARGETS: tuple[str, ...] = ("company", "contact", "collection", "article", "conversation", "part")
ENTITY_TARGETS: dict[str, str] = {
    "companies": "company",
    "contacts": "contact",
    "collections": "collection",
    "articles": "article",
    "conversations": "conversation",
}
TARGET_RECORD_TYPES: dict[str, type[Record] | type[Part]] = {target: RECORD_TYPES[entity] for entity, target in ENTITY_TARGETS.items()}
TARGET_RECORD_TYPES["part"] = Part
ATTRIBUTE_MODELS: dict[str, Literal["contact", "company", "conversation"]] = {
    "contact": "contact",
    "company": "company",
    "conversation": "conversation",
}
# Top-level keys of Intercom's create bodies (API 2.15) that rules may write; others are free-form for now.
BODY_KEYS: dict[str, frozenset[str]] = {
    "contact": frozenset(
        "role external_id email phone name avatar signed_up_at last_seen_at owner_id unsubscribed_from_emails custom_attributes".split()
    ),
    "company": frozenset("company_id name plan size website industry remote_created_at monthly_spend custom_attributes".split()),
}
CUSTOM_ATTRIBUTES = "custom_attributes"
ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z0-9_-]+( [A-Za-z0-9_-]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Rule(_Strict):
    """Write one key of the Intercom body: read `from`, apply `transform` (a name or a chain), else `default`."""

    to: str
    from_: Any = Field(None, alias="from", description="a field name or dotted path, or a list of them (their values as a list)")
    transform: Any = Field(None, description="a transform name, or a chain: a list of names or {name: {args}} steps")
    args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the transform(s) that take them")
    default: Any = Field(None, description="written when the value is missing or empty (after transforms)")
    required: bool = Field(False, description="reject the record when no value (nor default) results")
    on_error: OnError | None = Field(
        None,
        description="a value the transform cannot convert: drop_field (the record lands without it, noted), keep_raw "
                    "(the original text is written instead; for custom_attributes.X into the text attribute X_raw) or reject (the record is left out); default: reject for email, "
                    "keep_raw for phone, drop_field for everything else",
    )

    def error_policy(self) -> OnError:
        if self.on_error is not None:
            return self.on_error
        if self.to in IDENTITY_FIELDS:
            return "reject"
        return "keep_raw" if self.to in AS_WRITTEN_FIELDS else "drop_field"

    def source_paths(self) -> list[str]:
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class TagsSpec(_Strict):
    """Where the payload's tags come from: canonical fields (lists or single values) plus constant tags."""

    from_: list[str] = Field(default_factory=lambda: ["tags"], alias="from")
    add: list[str] = Field(default_factory=list)

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class AttributeSpec(_Strict):
    """A custom data attribute this target writes; the loader's preflight creates it in Intercom when missing."""

    name: str = Field(pattern=ATTRIBUTE_NAME_PATTERN, max_length=190)
    type: IntercomDataType
    description: str = ""
    options: list[str] = Field(default_factory=list)
    create_if_missing: bool = True
    on_error: OnError = Field(
        "drop_field",
        description="a value that does not fit the type: dropped from the attribute (noted), kept as text in <name>_raw, "
                    "or reject (the record is left out); a rule writing the attribute with its own on_error overrides this",
    )
    dayfirst: bool | None = Field(
        None, description="date attributes: read 03/04/2021 as 3 April when the column's values do not show the order"
    )
    date_format: str | None = Field(None, description="date attributes: a strptime format for values written some other way")


class TargetSpec(_Strict):
    """Everything that turns one canonical record into one Intercom request body."""

    rules: list[Rule] = Field(default_factory=list)
    unmapped: UnmappedPolicy = Field("drop", description="what to do with custom_fields no rule reads")
    attributes: list[AttributeSpec] = Field(default_factory=list)
    tags: TagsSpec = Field(default_factory=TagsSpec)


class ValueMap(_Strict):
    """A named lookup table for `map_value`: source value → Intercom value, with an optional fallback."""

    values: dict[str, Any]
    default: Any = None
    ignore_case: bool = False

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {value_map_key(key): mapped for key, mapped in value.items()}
        return value

    def lookup(self, value: Any) -> tuple[bool, Any]:
        """(found, mapped value); a miss returns the map's default (None when it has none)."""
        key = value_map_key(value)
        if key in self.values:
            return True, self.values[key]
        if self.ignore_case:
            folded = key.casefold()
            for candidate, mapped in self.values.items():
                if candidate.casefold() == folded:
                    return True, mapped
        return False, self.default


def value_map_key(value: Any) -> str:
    """Value-map keys compare as text: YAML `2:` matches the source value "2", `true:` matches True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class ConversationOptions(_Strict):
    """How ticket history is shaped where Intercom's limits bite (500 parts per conversation, public attachment URLs)."""

    long_threads: Literal["transcript", "continuation"] = Field(
        "transcript", description="past max_parts: the oldest parts go into transcript notes, or the rest into a linked continuation"
    )
    max_parts: int = Field(500, ge=10, le=500, description="Intercom returns at most 500 parts of a conversation")
    missing_requester: Literal["create_lead", "skip"] = Field(
        "skip", description="a ticket whose requester was not migrated (deleted user): skip it (reported), or start it from a new lead"
    )
    source_attachment_hosts: list[str] = Field(
        default_factory=list, description="attachment URLs on these hosts die with the source account or need its login"
    )
    snooze_days: int = Field(7, ge=1, description="pending/on-hold tickets are snoozed this many days from the load")
    target: Literal["conversations", "tickets"] = Field(
        "conversations", description="ticket history as conversations, or as Intercom tickets of `ticket_type`"
    )
    ticket_type: str = Field(
        "Migrated ticket", min_length=1,
        description="target tickets: the ticket type by name; created with the conversation attributes when missing",
    )


class MappingSpec(_Strict):
    """A whole mapping file (after overrides are merged)."""

    version: Literal[1]
    description: str = ""
    value_maps: dict[str, ValueMap] = Field(default_factory=dict)
    company: TargetSpec | None = None
    contact: TargetSpec | None = None
    collection: TargetSpec | None = None
    article: TargetSpec | None = None
    conversation: TargetSpec | None = None
    part: TargetSpec | None = None
    conversation_options: ConversationOptions = Field(default_factory=ConversationOptions)

    def target(self, name: str) -> TargetSpec | None:
        return getattr(self, name) if name in TARGETS else None

    def loader_options(self) -> dict[str, dict[str, Any]]:
        """What the loader takes beyond the payloads, per target: how ticket history is shaped (JSON-ready)."""
        return {"conversation": self.conversation_options.model_dump(mode="json")}

    def targets(self) -> dict[str, TargetSpec]:
        return {name: spec for name in TARGETS if (spec := self.target(name)) is not None}
