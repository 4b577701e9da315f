"""What a source tells about each ticket so that a rehearsal can choose the hardest ones without reading every history.

A connector profiles its tickets from list endpoints (status, priority, form, brand, requester, a size hint), and the
rehearsal reads the whole history of a few candidates only; a file source, whose histories are at hand, profiles
each ticket from its full record (`profile_of`) and so knows its content too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from deskmigrate.core.model import Contact, Conversation

# Intercom keeps at most 500 parts in one conversation; a longer history is continued in another.
INTERCOM_PART_LIMIT = 500

_TABLE = re.compile(r"<table\b", re.IGNORECASE)
_CODE = re.compile(r"<(?:pre|code)\b", re.IGNORECASE)
_MEDIA = re.compile(r"<(?:iframe|video|audio|embed|object)\b", re.IGNORECASE)
_IMAGE = re.compile(r"<img\b", re.IGNORECASE)


@dataclass(frozen=True)
class ContentFacts:
    """What a ticket's whole history holds that makes it hard to migrate."""

    parts: int = 0
    attachments: int = 0  # files attached, not shown in a body
    inline_images: int = 0  # images shown in a body (inline attachments or <img> tags)
    tables: bool = False
    code: bool = False
    media: bool = False  # embedded video, audio or frames
    private_notes: int = 0
    first_author: str | None = None  # contact, agent or system: who wrote the first message


def content_facts(conversation: Conversation) -> ContentFacts:
    """The facts of one full history."""
    attachments = inline = notes = 0
    tables = code = media = False
    for part in conversation.parts:
        html = part.body_html or ""
        inline_files = sum(1 for a in part.attachments if a.inline)
        attachments += len(part.attachments) - inline_files
        inline += max(inline_files, len(_IMAGE.findall(html)))
        tables = tables or bool(_TABLE.search(html))
        code = code or bool(_CODE.search(html))
        media = media or bool(_MEDIA.search(html))
        notes += 0 if part.public else 1
    first = conversation.parts[0].author_kind if conversation.parts else None
    return ContentFacts(len(conversation.parts), attachments, inline, tables, code, media, notes, first)


@dataclass
class TicketProfile:
    """One ticket as a list endpoint shows it: enough to place it in the strata a rehearsal must cover.

    `None` means the source does not say. `content` is set when the profile was made from the whole history.
    """

    source_id: str
    subject: str | None = None
    status: str | None = None
    priority: str | None = None
    form: str | None = None  # ticket form, or the ticket type where the source has no forms
    kind: str | None = None  # the ticket's type (question, incident, …)
    brand: str | None = None  # brand, product or mailbox
    language: str | None = None  # the ticket's or its requester's language
    channel: str | None = None
    requester_id: str | None = None
    requester_email: str | None = None  # to find requesters that will be merged (one email, several people)
    requester_state: str | None = None  # "deleted" or "suspended"
    opened_by: str | None = None  # "support team" (an agent opened it for a customer) or "teammate" (an agent asked)
    size_hint: int | None = None  # messages or replies, as the list counts them
    content: ContentFacts | None = None
    extra: dict[str, str] = field(default_factory=dict)


def profile_of(conversation: Conversation, requester: Contact | None, *, requester_known: bool) -> TicketProfile:
    """The profile of a ticket read whole (file sources): `requester` as staged, `requester_known` False when the source has none."""
    facts = content_facts(conversation)
    fields = {str(k).lower(): v for k, v in conversation.custom_fields.items()}
    form = fields.get("ticket_form") or fields.get("form") or fields.get("type")
    language = fields.get("language") or fields.get("locale") or (requester.locale if requester is not None else None)
    brand = fields.get("brand") or fields.get("mailbox") or fields.get("product") or conversation.group
    state = None
    if conversation.requester_id and not requester_known:
        state = "deleted"
    elif requester is not None and not requester.active:
        state = "suspended"
    return TicketProfile(
        source_id=conversation.source_id, subject=conversation.subject, status=conversation.status, priority=conversation.priority,
        form=_text(form), brand=_text(brand), language=_text(language), channel=conversation.channel,
        requester_id=conversation.requester_id, requester_email=requester.email if requester is not None else None,
        requester_state=state, opened_by="support team" if facts.first_author == "agent" else None,
        size_hint=facts.parts, content=facts,
    )


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
