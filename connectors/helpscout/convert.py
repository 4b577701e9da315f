"""Pure converters: Help Scout JSON (Mailbox API 2.0, Docs API v1, as they answer) → canonical records. No HTTP here."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deskmigrate.core.model import Agent, Article, Attachment, Collection, Company, Contact, Conversation, Part, text_id
from deskmigrate.core.source import FieldDefinition
from deskmigrate.core.timeparse import parse_iso_time as parse_time  # ISO 8601 UTC: "2015-06-05T20:18:33Z"

SOURCE = "helpscout"
# A Docs collection and a category both become Intercom collections; their ids are separate, so they are prefixed.
COLLECTION_PREFIX = "collection:"
CATEGORY_PREFIX = "category:"
# Companies have no id in Help Scout: a customer's `organization` is free text. The company's source id is the
# name, case-folded with runs of whitespace collapsed, so "Acme  Inc" and "acme inc" are one company.
ORGANIZATION_PREFIX = "org:"
DROPDOWN = "dropdown"
AuthorKind = Literal["contact", "agent", "system"]

# Thread type → (author kind when the thread names none, shown to the customer?).
# https://developer.helpscout.com/mailbox-api/endpoints/conversations/threads/list/ ; `message` is the 1.0 name of `reply`.
# A phone thread is an agent's log of a call and a forwardparent records a forward out of Help Scout: neither reached
# the customer in the conversation, so both become notes. A lineitem is an audit line (status, assignment, move).
THREAD_KINDS: dict[str, tuple[AuthorKind, bool]] = {
    "customer": ("contact", True),
    "reply": ("agent", True),
    "message": ("agent", True),
    "note": ("agent", False),
    "chat": ("contact", True),
    "beaconchat": ("contact", True),
    "phone": ("agent", False),
    "forwardparent": ("agent", False),
    "forwardchild": ("agent", True),
    "lineitem": ("system", False),
}
CHAT_THREAD_TYPES = frozenset({"chat", "beaconchat"})
LINE_ITEM = "lineitem"
UNSENT_THREAD_STATES = frozenset({"draft", "underreview"})


@dataclass(frozen=True)
class CustomField:
    """A mailbox custom field: its name, type and, for dropdowns, option id → label."""

    name: str
    type: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass
class MailboxCatalog:
    """Mailbox names and custom field definitions, read once, so conversations carry names and labels, not ids."""

    mailboxes: dict[str, str] = field(default_factory=dict)
    fields: dict[str, CustomField] = field(default_factory=dict)

    def learn_fields(self, definitions: Iterable[Mapping[str, Any]]) -> None:
        for definition in definitions:
            options = {str(o.get("id")): str(o.get("label")) for o in definition.get("options") or []}
            self.fields[str(definition.get("id"))] = CustomField(
                name=str(definition.get("name") or definition.get("id")), type=str(definition.get("type") or "").lower(), options=options
            )


# Help Scout field types (lower-cased) → the Intercom data type their values fit (single/multi line, dropdown: string).
DATA_TYPES = {"number": "float", "date": "date"}


def field_definitions(catalog: MailboxCatalog) -> list[FieldDefinition]:
    """Every mailbox's custom fields under the names conversations carry them by, typed for Intercom; a name several
    mailboxes define is one field (its options merged)."""
    by_name: dict[str, FieldDefinition] = {}
    for definition in catalog.fields.values():
        known = by_name.get(definition.name)
        options = tuple(dict.fromkeys([*(known.options if known else ()), *definition.options.values()]))
        data_type = DATA_TYPES.get(definition.type, "string")
        if known is not None and known.data_type != data_type:
            data_type = "string"  # two mailboxes disagree: text holds both
        by_name[definition.name] = FieldDefinition("conversations", definition.name, data_type, definition.type, options)
    return list(by_name.values())


def full_name(first: Any, last: Any) -> str | None:
    name = " ".join(str(part).strip() for part in (first, last) if part and str(part).strip())
    return name or None


def organization_key(name: str) -> str:
    return " ".join(name.casefold().split())


def company_source_id(organization: str | None) -> str | None:
    """The source id of the company a customer's free-text organization names (None when blank)."""
    if not organization or not organization.strip():
        return None
    return ORGANIZATION_PREFIX + organization_key(organization)


def company_from_organization(organization: str) -> Company:
    source_id = company_source_id(organization)
    if source_id is None:
        raise ValueError("an organization name is required")
    return Company(source=SOURCE, source_id=source_id, name=" ".join(organization.split()))


def _embedded(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    embedded = data.get("_embedded")
    items = embedded.get(key) if isinstance(embedded, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _values(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(entry["value"]).strip() for entry in entries if entry.get("value") not in (None, "")]


def _address_object(data: Mapping[str, Any]) -> dict[str, Any] | None:
    embedded = data.get("_embedded")
    address = embedded.get("address") if isinstance(embedded, dict) else None
    return address if isinstance(address, dict) else None


def _address(data: Mapping[str, Any]) -> str | None:
    address = _address_object(data)
    if address is None:
        return None
    parts = [*(address.get("lines") or []), address.get("city"), address.get("state"), address.get("postalCode"), address.get("country")]
    text = ", ".join(str(p).strip() for p in parts if p and str(p).strip())
    return text or None


def contact_from_customer(customer: Mapping[str, Any]) -> Contact:
    """A customer: the first email is the contact's email and the others are kept, likewise phones; properties by name."""
    emails = _values(_embedded(customer, "emails"))
    phones = _values(_embedded(customer, "phones"))
    custom: dict[str, Any] = {}
    for key, value in (("job_title", customer.get("jobTitle")), ("location", customer.get("location")),
                       ("background", customer.get("background")), ("address", _address(customer))):
        if value not in (None, ""):
            custom[key] = value
    if emails[1:]:
        custom["other_emails"] = emails[1:]
    if phones[1:]:
        custom["other_phones"] = phones[1:]
    websites = _values(_embedded(customer, "websites"))
    if websites:
        custom["websites"] = websites
    for profile in _embedded(customer, "social_profiles"):
        if profile.get("value"):
            custom[f"social_{str(profile.get('type') or 'other').lower()}"] = str(profile["value"])
    for prop in _embedded(customer, "properties"):
        value = prop.get("text") if prop.get("text") not in (None, "") else prop.get("value")
        if value not in (None, ""):
            custom[str(prop.get("name") or prop.get("slug"))] = value
    company = company_source_id(customer.get("organization"))
    return Contact(
        source=SOURCE,
        source_id=str(customer["id"]),
        role="user",
        email=emails[0] if emails else None,
        name=full_name(customer.get("firstName"), customer.get("lastName")),
        phone=phones[0] if phones else None,
        company_ids=[company] if company else [],
        signed_up_at=parse_time(customer.get("createdAt")),
        created_at=parse_time(customer.get("createdAt")),
        updated_at=parse_time(customer.get("updatedAt") or customer.get("modifiedAt")),
        custom_fields=custom,
        country=customer_country(customer),
    )


def customer_country(customer: Mapping[str, Any]) -> str | None:
    """The address's country (ISO 3166 alpha-2, "US"); Help Scout customers carry no locale or time zone."""
    address = _address_object(customer)
    country = str(address.get("country") or "").strip() if address else ""
    return country or None


def agent_from_user(user: Mapping[str, Any]) -> Agent:
    custom = {key: user[source] for key, source in (("role", "role"), ("timezone", "timezone"), ("job_title", "jobTitle")) if user.get(source)}
    return Agent(
        source=SOURCE,
        source_id=str(user["id"]),
        email=user.get("email") or None,
        name=full_name(user.get("firstName"), user.get("lastName")),
        created_at=parse_time(user.get("createdAt")),
        updated_at=parse_time(user.get("updatedAt")),
        custom_fields=custom,
    )


def author_kind(thread: Mapping[str, Any]) -> AuthorKind:
    """Who wrote a thread: `createdBy.type` says customer or user; lineitems are system events whoever caused them."""
    thread_type = str(thread.get("type") or "")
    if thread_type == LINE_ITEM:
        return "system"
    created_by = thread.get("createdBy") if isinstance(thread.get("createdBy"), dict) else {}
    by = created_by.get("type")
    if by == "customer":
        return "contact"
    if by in ("user", "system_user"):
        return "agent"
    return THREAD_KINDS.get(thread_type, ("system", False))[0]


def attachment_from_json(data: Mapping[str, Any]) -> Attachment | None:
    links = data.get("_links") if isinstance(data.get("_links"), dict) else {}
    url = next((links[name]["href"] for name in ("web", "data") if isinstance(links.get(name), dict) and links[name].get("href")), None)
    if url is None:
        return None
    return Attachment(filename=str(data.get("filename") or data.get("id")), content_type=data.get("mimeType"), size=data.get("size"), url=str(url))


def line_item_text(thread: Mapping[str, Any]) -> str:
    """What a lineitem records, in Help Scout's own words (`action.text`), else rebuilt from its status or assignee."""
    action = thread.get("action") if isinstance(thread.get("action"), dict) else {}
    if action.get("text"):
        return str(action["text"])
    assigned = thread.get("assignedTo") if isinstance(thread.get("assignedTo"), dict) else None
    if assigned:
        return f"Assigned to {full_name(assigned.get('first'), assigned.get('last')) or assigned.get('email') or assigned.get('id')}"
    if thread.get("status") and thread.get("status") != "nochange":
        return f"Status changed to {thread['status']}"
    return "Conversation updated"


def part_from_thread(thread: Mapping[str, Any]) -> Part:
    thread_type = str(thread.get("type") or "")
    _, public = THREAD_KINDS.get(thread_type, ("agent", False))
    kind = author_kind(thread)
    created_by = thread.get("createdBy") if isinstance(thread.get("createdBy"), dict) else {}
    if thread_type == LINE_ITEM:
        text = line_item_text(thread)
        body_html, body_text = f"<p>{html.escape(text)}</p>", text
    else:
        body_html, body_text = str(thread.get("body") or ""), ""
    attachments = [a for a in (attachment_from_json(x) for x in _embedded(thread, "attachments")) if a is not None]
    return Part(
        source_id=str(thread["id"]),
        author_kind=kind,
        author_id=text_id(created_by.get("id")),
        body_html=body_html,
        body_text=body_text,
        public=public and thread.get("state") != "hidden",
        created_at=parse_time(thread.get("createdAt")),
        attachments=attachments,
    )


def has_chat_threads(conversation: Mapping[str, Any]) -> bool:
    """Embedded chat threads are truncated by design; such conversations need their threads listed in full."""
    return conversation.get("type") == "chat" or any(t.get("type") in CHAT_THREAD_TYPES for t in _embedded(conversation, "threads"))


def conversation_custom_fields(conversation: Mapping[str, Any], catalog: MailboxCatalog) -> dict[str, Any]:
    """Custom field values by field name; dropdown option ids become their labels (the value's `text` if unknown)."""
    custom: dict[str, Any] = {}
    for entry in conversation.get("customFields") or []:
        value = entry.get("value")
        if value in (None, ""):
            continue
        definition = catalog.fields.get(str(entry.get("id")))
        name = definition.name if definition else str(entry.get("name") or f"field_{entry.get('id')}")
        if definition and definition.type == DROPDOWN:
            custom[name] = definition.options.get(str(value), entry.get("text") or value)
        else:
            custom[name] = value
    return custom


def conversation_from_json(
    conversation: Mapping[str, Any], threads: Iterable[Mapping[str, Any]], catalog: MailboxCatalog, *, keep_line_items: bool = True
) -> Conversation:
    """`threads` are the conversation's threads (embedded or listed in full); drafts are left out, oldest first."""
    custom = conversation_custom_fields(conversation, catalog)
    for key, source in (("number", "number"), ("closed_at", "closedAt")):
        if conversation.get(source) not in (None, ""):
            custom[key] = conversation[source]
    source = conversation.get("source") if isinstance(conversation.get("source"), dict) else {}
    if source.get("type"):
        custom["source_type"] = source["type"]
    assignee = conversation.get("assignee") if isinstance(conversation.get("assignee"), dict) else None
    if assignee and assignee.get("type") == "team":
        custom["team"] = full_name(assignee.get("first"), assignee.get("last")) or str(assignee.get("id"))
    wanted = [
        t for t in threads
        if t.get("state") not in UNSENT_THREAD_STATES and (keep_line_items or t.get("type") != LINE_ITEM)
    ]
    ordered = sorted(wanted, key=lambda t: (str(t.get("createdAt") or ""), int(t.get("id") or 0)))
    customer = conversation.get("primaryCustomer") if isinstance(conversation.get("primaryCustomer"), dict) else {}
    created_by = conversation.get("createdBy") if isinstance(conversation.get("createdBy"), dict) else {}
    # Every conversation names a customer; one a teammate opened without any (an internal note) has the user as requester,
    # whose id the loader finds among the staged agents.
    requester = customer.get("id") or (created_by.get("id") if created_by.get("type") in ("customer", "user") else None)
    mailbox_id = text_id(conversation.get("mailboxId"))
    tags = [str(t.get("tag") or t.get("name")) for t in conversation.get("tags") or [] if t.get("tag") or t.get("name")]
    return Conversation(
        source=SOURCE,
        source_id=str(conversation["id"]),
        subject=conversation.get("subject") or None,
        requester_id=text_id(requester),
        assignee_id=text_id(assignee.get("id")) if assignee and assignee.get("type", "user") == "user" else None,
        group=catalog.mailboxes.get(mailbox_id, mailbox_id) if mailbox_id else None,
        status=conversation.get("status"),
        channel=conversation.get("type"),
        tags=tags,
        created_at=parse_time(conversation.get("createdAt")),
        updated_at=parse_time(conversation.get("userUpdatedAt")),
        custom_fields=custom,
        parts=[part_from_thread(t) for t in ordered],
    )


def collection_from_docs_collection(collection: Mapping[str, Any], site_name: str | None = None) -> Collection:
    custom = {key: collection[source] for key, source in (("visibility", "visibility"), ("public_url", "publicUrl"), ("slug", "slug")) if collection.get(source)}
    if site_name:
        custom["site"] = site_name
    return Collection(
        source=SOURCE,
        source_id=f"{COLLECTION_PREFIX}{collection['id']}",
        name=str(collection.get("name") or ""),
        description=collection.get("description") or None,
        position=collection.get("order"),
        created_at=parse_time(collection.get("createdAt")),
        updated_at=parse_time(collection.get("updatedAt")),
        custom_fields=custom,
    )


def collection_from_category(category: Mapping[str, Any]) -> Collection:
    """A category sits in its collection: a child collection in Intercom."""
    custom = {key: category[source] for key, source in (("visibility", "visibility"), ("public_url", "publicUrl"), ("slug", "slug")) if category.get(source)}
    return Collection(
        source=SOURCE,
        source_id=f"{CATEGORY_PREFIX}{category['id']}",
        name=str(category.get("name") or ""),
        description=category.get("description") or None,
        parent_id=f"{COLLECTION_PREFIX}{category['collectionId']}" if category.get("collectionId") else None,
        position=category.get("order"),
        created_at=parse_time(category.get("createdAt")),
        updated_at=parse_time(category.get("updatedAt")),
        custom_fields=custom,
    )


def article_from_json(article: Mapping[str, Any]) -> Article:
    """An article (GET /v1/articles/{id}). Intercom articles have one parent: the first category, else the collection."""
    categories = [str(c) for c in article.get("categories") or []]
    if categories:
        parent = f"{CATEGORY_PREFIX}{categories[0]}"
    else:
        parent = f"{COLLECTION_PREFIX}{article['collectionId']}" if article.get("collectionId") else None
    custom: dict[str, Any] = {}
    for key, source in (("number", "number"), ("slug", "slug"), ("keywords", "keywords"), ("has_draft", "hasDraft"), ("last_published_at", "lastPublishedAt")):
        if article.get(source) not in (None, "", []):
            custom[key] = article[source]
    if categories[1:]:
        custom["other_categories"] = [f"{CATEGORY_PREFIX}{c}" for c in categories[1:]]
    return Article(
        source=SOURCE,
        source_id=str(article["id"]),
        title=str(article.get("name") or ""),
        body_html=str(article.get("text") or ""),
        collection_id=parent,
        author_id=text_id(article.get("createdBy")),
        state="published" if article.get("status") == "published" else "draft",
        url=article.get("publicUrl") or None,
        created_at=parse_time(article.get("createdAt")),
        updated_at=parse_time(article.get("updatedAt")),
        custom_fields=custom,
    )
