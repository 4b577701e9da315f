"""The canonical model every connector produces and every transform consumes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

Entity = Literal["companies", "contacts", "agents", "collections", "articles", "conversations"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


# A source time: an aware UTC datetime, or the text exactly as the source wrote it when it is not ISO 8601
# ("03/04/2021", "4 March 2021"); such text is converted where the mapping runs, which knows the rule's
# date_format / dayfirst and what the column's other values show.
SourceTime = datetime | str


class Record(_Closed):
    """Fields every canonical record carries. `location` says where it was read ("contacts.csv:17") when the source has lines."""

    source: str = Field(min_length=1, description="the source that read it: its name in the registry of sources (zendesk, csv, …)")
    source_id: str = Field(description="the record's id in the source, as text; other records refer to it by this id")
    created_at: SourceTime | None = Field(None, description="ISO 8601 (without an offset: UTC); other text is kept for the mapping to read")
    updated_at: SourceTime | None = Field(None, description="ISO 8601 (without an offset: UTC); deltas read what changed after the last run")
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="source fields with no canonical home, by the source's key or title")
    location: str | None = Field(None, description="where the record was read (\"contacts.csv:17\"); set by the source's reader")

    @field_validator("source_id", mode="before")
    @classmethod
    def _id_is_text(cls, value: Any) -> str:
        # Source ids are strings everywhere: Zendesk ids exceed 2**53 and must never pass through float.
        if isinstance(value, float):
            raise ValueError("source ids must not be floats")
        return str(value)

    @field_validator("created_at", "updated_at", mode="after")
    @classmethod
    def _utc(cls, value: SourceTime | None) -> SourceTime | None:
        return source_time(value)


def source_time(value: SourceTime | None) -> SourceTime | None:
    """A datetime in UTC; ISO 8601 text read as one (naive = UTC); other text kept stripped for the mapping; blank is None."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text))
        except ValueError:
            return text
    return as_utc(value)


def as_utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def text_id(value: Any) -> str | None:
    """A vendor id as canonical text; None stays None."""
    return None if value is None else str(value)


class Company(Record):
    """A customer organisation."""

    entity: Literal["companies"] = "companies"
    name: str | None = None
    website: str | None = None
    plan: str | None = None
    size: int | None = Field(None, description="number of employees")
    industry: str | None = None
    domains: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class Contact(Record):
    """A customer: the person who asks (a conversation's requester)."""

    entity: Literal["contacts"] = "contacts"
    role: Literal["user", "lead"] = "user"
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    company_ids: list[str] = Field(default_factory=list, description="source ids of the contact's companies")
    tags: list[str] = Field(default_factory=list)
    signed_up_at: SourceTime | None = None
    last_seen_at: SourceTime | None = None
    active: bool = True
    # Where the person is, as the source knows it: for reading phone numbers written without +country.
    country: str | None = Field(None, description="ISO 3166 alpha-2 or a country name, as the source gives it")
    locale: str | None = Field(None, description="e.g. en-US, de, pt-BR")
    time_zone: str | None = Field(None, description="an IANA name (America/New_York) or the vendor's own (Eastern Time (US & Canada))")

    @field_validator("signed_up_at", "last_seen_at", mode="after")
    @classmethod
    def _utc_times(cls, value: SourceTime | None) -> SourceTime | None:
        return source_time(value)


class Agent(Record):
    """A source agent; matched to an Intercom admin by email, never created."""

    entity: Literal["agents"] = "agents"
    email: str | None = None
    name: str | None = None
    active: bool = True


class CollectionTranslation(_Closed):
    """A collection's name and description in another language."""

    locale: str
    name: str
    description: str | None = None


class Collection(Record):
    """A Help Center category or section: collections nest by parent_id."""

    entity: Literal["collections"] = "collections"
    name: str
    description: str | None = None
    parent_id: str | None = Field(None, description="source id of the parent collection; none for a top-level one")
    position: int | None = Field(None, description="order among its siblings")
    locale: str | None = None
    translations: list[CollectionTranslation] = Field(default_factory=list)


class Attachment(_Closed):
    """A file attached to a message or an article."""

    filename: str
    content_type: str | None = None
    size: int | None = Field(None, description="bytes")
    url: str = Field(description="where the file is: an http(s) URL, or a path the source can open")
    inline: bool = Field(False, description="an image shown in the body rather than a file attached to it")


class Translation(_Closed):
    """An article in another language."""

    locale: str
    title: str
    body_html: str = ""
    state: Literal["published", "draft"] = "published"


class Article(Record):
    """A Help Center article."""

    entity: Literal["articles"] = "articles"
    title: str
    body_html: str = ""
    collection_id: str | None = Field(None, description="source id of its collection")
    author_id: str | None = Field(None, description="source id of the agent who wrote it")
    state: Literal["published", "draft"] = "published"
    locale: str | None = None
    translations: list[Translation] = Field(default_factory=list)
    url: str | None = Field(None, description="its old public URL: links to it are rewritten, and the redirect map lists it")
    attachments: list[Attachment] = Field(default_factory=list)


class Part(_Closed):
    """One message of a conversation: a customer's message, an agent's reply or note, or a system event."""

    source_id: str = Field(description="the message's id in the source, unique within its conversation")
    author_kind: Literal["contact", "agent", "system"]
    author_id: str | None = Field(None, description="source id of the contact or agent who wrote it")
    body_html: str = ""
    body_text: str = Field("", description="the message as plain text, when the source has no HTML")
    public: bool = Field(True, description="seen by the customer (a reply) or not (an internal note)")
    created_at: datetime | None = None
    attachments: list[Attachment] = Field(default_factory=list)

    @field_validator("source_id", mode="before")
    @classmethod
    def _id_is_text(cls, value: Any) -> str:
        if isinstance(value, float):
            raise ValueError("source ids must not be floats")
        return str(value)

    @field_validator("created_at", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


class Conversation(Record):
    """A ticket or conversation with its whole history."""

    entity: Literal["conversations"] = "conversations"
    subject: str | None = None
    requester_id: str | None = Field(None, description="source id of the contact who asked")
    assignee_id: str | None = Field(None, description="source id of the agent it is assigned to")
    group: str | None = Field(None, description="the team, group or mailbox it was in")
    status: str | None = Field(None, description="the source's status; the mapping turns it into an Intercom state")
    priority: str | None = None
    channel: str | None = Field(None, description="how it came in: email, chat, phone, web, …")
    tags: list[str] = Field(default_factory=list)
    parts: list[Part] = Field(default_factory=list, description="its messages, oldest first; the first one starts it")


CanonicalRecord = Union[Company, Contact, Agent, Collection, Article, Conversation]

RECORD_TYPES: dict[str, type[Record]] = {
    "companies": Company,
    "contacts": Contact,
    "agents": Agent,
    "collections": Collection,
    "articles": Article,
    "conversations": Conversation,
}


class SourceRejection(_Closed):
    """A source row or object that could not become a canonical record; reported, never dropped silently."""

    entity: str
    source_id: str | None = None
    location: str  # "contacts.csv:17", "GET /api/v2/users/cursor.json page 3", ...
    field: str | None = None
    reason: str


# The skip reason of a record its source deleted (a privacy deletion, a removed ticket): left out, counted.
DELETED_IN_SOURCE = "deleted in the source"


class SourceNotice(_Closed):
    """Something the user should know about the source that is not a failure (a deleted user skipped, a duplicate id)."""

    entity: str
    source_id: str | None = None
    location: str | None = None
    message: str
    # Set when the record is left out on purpose (deleted in the source): the value-free reason it is counted under.
    skip_reason: str | None = None


SourceItem = Union[CanonicalRecord, SourceRejection, SourceNotice]


def record_from_json(entity: str, data: dict[str, Any]) -> Record:
    """Rebuild a staged record from its JSON form."""
    return RECORD_TYPES[entity].model_validate(data)


def record_from_json_text(entity: str, text: str | bytes) -> Record:
    """Rebuild a staged record from its JSON text (parsed and validated in one step, without Python dicts in between)."""
    return RECORD_TYPES[entity].model_validate_json(text)


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(entity: str | None = None) -> dict[str, Any]:
    """The canonical model as JSON Schema: the record of one entity, or (None) any record, told apart by its `entity`."""
    if entity is not None:
        schema = RECORD_TYPES[entity].model_json_schema()
    else:
        schema = {"title": "CanonicalRecord", **TypeAdapter(Annotated[CanonicalRecord, Field(discriminator="entity")]).json_schema()}
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}
