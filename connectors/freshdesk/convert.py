"""Pure converters: Freshdesk API v2 JSON (as the API returns it) → canonical records. No HTTP here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from deskmigrate.connectors.freshdesk.fields import FieldCatalog, labelled_fields
from deskmigrate.core.helpcenter_urls import HelpCenterUrls, UrlPattern
from deskmigrate.core.model import (
    Agent,
    Article,
    Attachment,
    Collection,
    CollectionTranslation,
    Company,
    Contact,
    Conversation,
    Part,
    Translation,
    text_id,
)
from deskmigrate.core.timeparse import parse_iso_time as parse_time  # in UTC ("…Z") or with an offset ("…+05:30")

SOURCE = "freshdesk"
# Where the portal's article URLs (and the agent view's) name an article: /support/solutions/articles/5000123-reset.
HELP_CENTER_URLS = HelpCenterUrls(patterns=(UrlPattern("articles", re.compile(r"/(?:support/|a/)?solutions/articles/(?P<id>\d+)")),))
# Categories and folders both become collections; their ids are separate sequences, so we prefix them.
CATEGORY_PREFIX = "category:"
FOLDER_PREFIX = "folder:"
DESCRIPTION_PART_PREFIX = "description:"
OUTBOUND_EMAIL_SOURCE = 10
FORWARDED_EMAIL_SOURCE = 8  # conversation source: a forward goes to a third party, never to the requester
ARTICLE_PUBLISHED = 2


def _keep(custom: dict[str, Any], source: Mapping[str, Any], keys: Iterable[str]) -> None:
    for key in keys:
        value = source.get(key)
        if value not in (None, "", []):
            custom[key] = value


def company_from_json(company: Mapping[str, Any], catalog: FieldCatalog) -> Company:
    custom = labelled_fields(company.get("custom_fields"), catalog.company_fields)
    _keep(custom, company, ("description", "note", "health_score", "account_tier", "renewal_date"))
    return Company(
        source=SOURCE,
        source_id=str(company["id"]),
        name=company.get("name"),
        industry=company.get("industry") or None,
        domains=[str(d) for d in company.get("domains") or []],
        created_at=parse_time(company.get("created_at")),
        updated_at=parse_time(company.get("updated_at")),
        custom_fields=custom,
    )


def contact_company_ids(contact: Mapping[str, Any]) -> list[str]:
    """company_id first, then other_companies (ids, or `{company_id, view_all_tickets}` objects), without repeats."""
    found: list[str] = []
    candidates: list[Any] = [contact.get("company_id")]
    for other in contact.get("other_companies") or []:
        candidates.append(other.get("company_id") if isinstance(other, Mapping) else other)
    for candidate in candidates:
        if candidate is not None and str(candidate) not in found:
            found.append(str(candidate))
    return found


def is_deleted_contact(contact: Mapping[str, Any]) -> bool:
    return bool(contact.get("deleted"))


def contact_from_json(contact: Mapping[str, Any], catalog: FieldCatalog) -> Contact:
    custom = labelled_fields(contact.get("custom_fields"), catalog.contact_fields)
    _keep(custom, contact, ("mobile", "other_emails", "job_title", "language", "time_zone", "unique_external_id", "twitter_id", "address", "description"))
    # Freshdesk's `active` says whether the contact verified their email; deleted and blocked ones are not listed.
    custom["verified"] = bool(contact.get("active"))
    return Contact(
        source=SOURCE,
        source_id=str(contact["id"]),
        role="user",
        email=contact.get("email") or None,
        name=contact.get("name") or None,
        phone=contact.get("phone") or contact.get("mobile") or None,
        company_ids=contact_company_ids(contact),
        tags=[str(t) for t in contact.get("tags") or []],
        signed_up_at=parse_time(contact.get("created_at")),
        active=not (contact.get("deleted") or contact.get("blocked")),
        created_at=parse_time(contact.get("created_at")),
        updated_at=parse_time(contact.get("updated_at")),
        custom_fields=custom,
        locale=contact.get("language") or None,
        time_zone=contact.get("time_zone") or None,  # Freshdesk's (Rails) names: "Eastern Time (US & Canada)", "Paris"
    )


def agent_from_json(agent: Mapping[str, Any]) -> Agent:
    """The agent id is the user id found in responder_id and conversation user_id; name and email live in `contact`."""
    person = agent.get("contact") or {}
    custom: dict[str, Any] = {}
    _keep(custom, agent, ("type", "occasional", "ticket_scope"))
    _keep(custom, person, ("job_title", "language", "time_zone"))
    return Agent(
        source=SOURCE,
        source_id=str(agent["id"]),
        email=person.get("email") or None,
        name=person.get("name") or None,
        active=bool(person.get("active", True)),
        created_at=parse_time(agent.get("created_at")),
        updated_at=parse_time(agent.get("updated_at")),
        custom_fields=custom,
    )


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src and src.startswith(("http://", "https://")) and src not in self.sources:
                self.sources.append(src)


def inline_images(html: str | None) -> list[Attachment]:
    """Images embedded in a body: Freshdesk serves them from signed attachment URLs that expire like file attachments."""
    if not html or "<img" not in html.lower():
        return []
    parser = _ImageSources()
    parser.feed(html)
    return [Attachment(filename=_filename_from_url(src), url=src, inline=True) for src in parser.sources]


def _filename_from_url(url: str) -> str:
    tail = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return tail or "inline-image"


def attachment_from_json(data: Mapping[str, Any]) -> Attachment:
    return Attachment(
        filename=str(data.get("name") or data.get("id")),
        content_type=data.get("content_type"),
        size=data.get("size"),
        url=str(data.get("attachment_url") or ""),
        inline=False,
    )


def _attachments(body_html: str | None, files: Iterable[Mapping[str, Any]] | None) -> list[Attachment]:
    return [attachment_from_json(a) for a in files or []] + inline_images(body_html)


def author_kind(user_id: Any, incoming: bool, catalog: FieldCatalog) -> Literal["contact", "agent", "system"]:
    """Agents by id; otherwise `incoming` (sent by the customer) decides; no user at all is the system."""
    if user_id is None:
        return "system"
    if str(user_id) in catalog.agent_ids:
        return "agent"
    return "contact" if incoming else "agent"


def part_from_conversation(entry: Mapping[str, Any], catalog: FieldCatalog) -> Part:
    """A reply, note or forward of GET /tickets/{id}/conversations."""
    private = bool(entry.get("private")) or entry.get("source") == FORWARDED_EMAIL_SOURCE
    return Part(
        source_id=str(entry["id"]),
        author_kind=author_kind(entry.get("user_id"), bool(entry.get("incoming")), catalog),
        author_id=text_id(entry.get("user_id")),
        body_html=entry.get("body") or "",
        body_text=entry.get("body_text") or "",
        public=not private,
        created_at=parse_time(entry.get("created_at")),
        attachments=_attachments(entry.get("body"), entry.get("attachments")),
    )


def description_part(ticket: Mapping[str, Any], catalog: FieldCatalog, attachments: Iterable[Mapping[str, Any]] | None = None) -> Part:
    """The ticket's first message: its description, written by the requester (by the agent on an outbound email)."""
    outbound = ticket.get("source") == OUTBOUND_EMAIL_SOURCE
    author = ticket.get("responder_id") if outbound and ticket.get("responder_id") is not None else ticket.get("requester_id")
    return Part(
        source_id=f"{DESCRIPTION_PART_PREFIX}{ticket['id']}",
        author_kind="agent" if outbound else author_kind(author, True, catalog),
        author_id=text_id(author),
        body_html=ticket.get("description") or "",
        body_text=ticket.get("description_text") or "",
        public=True,
        created_at=parse_time(ticket.get("created_at")),
        attachments=_attachments(ticket.get("description"), attachments if attachments is not None else ticket.get("attachments")),
    )


def _code_name(names: Mapping[int, str], code: Any) -> str | None:
    if code is None:
        return None
    return names.get(int(code), str(code)) if isinstance(code, int) or str(code).isdigit() else str(code)


def ticket_custom_fields(ticket: Mapping[str, Any], catalog: FieldCatalog) -> dict[str, Any]:
    custom = labelled_fields(ticket.get("custom_fields"), catalog.ticket_fields)
    _keep(custom, ticket, ("type", "due_by", "fr_due_by"))
    if ticket.get("company_id") is not None:
        custom["company_id"] = str(ticket["company_id"])
    if ticket.get("product_id") is not None:
        custom["product"] = catalog.products.get(ticket["product_id"], str(ticket["product_id"]))
    _keep(custom, ticket.get("stats") or {}, ("first_responded_at", "resolved_at", "closed_at"))
    return custom


def conversation_from_ticket(
    ticket: Mapping[str, Any],
    conversations: Iterable[Mapping[str, Any]],
    catalog: FieldCatalog,
    description_attachments: Iterable[Mapping[str, Any]] | None = None,
) -> Conversation:
    """The description is the first part; replies, notes and forwards follow in time order."""
    ordered = sorted(conversations, key=lambda c: (str(c.get("created_at") or ""), int(c.get("id") or 0)))
    group_id = ticket.get("group_id")
    return Conversation(
        source=SOURCE,
        source_id=str(ticket["id"]),
        subject=ticket.get("subject") or None,
        requester_id=text_id(ticket.get("requester_id")),
        assignee_id=text_id(ticket.get("responder_id")),
        group=catalog.groups.get(group_id, str(group_id)) if group_id is not None else None,
        status=_code_name(catalog.statuses, ticket.get("status")),
        priority=_code_name(catalog.priorities, ticket.get("priority")),
        channel=_code_name(catalog.sources, ticket.get("source")),
        tags=[str(t) for t in ticket.get("tags") or []],
        created_at=parse_time(ticket.get("created_at")),
        updated_at=parse_time(ticket.get("updated_at")),
        custom_fields=ticket_custom_fields(ticket, catalog),
        parts=[description_part(ticket, catalog, description_attachments)] + [part_from_conversation(c, catalog) for c in ordered],
    )


def _translations_of(translations: Mapping[str, Mapping[str, Any]] | None) -> list[CollectionTranslation]:
    return [
        CollectionTranslation(locale=language, name=str(item.get("name") or ""), description=item.get("description") or None)
        for language, item in sorted((translations or {}).items())
        if item.get("name")
    ]


def collection_from_category(category: Mapping[str, Any], locale: str | None, translations: Mapping[str, Mapping[str, Any]] | None = None, position: int | None = None) -> Collection:
    """`translations` maps language → the category as GET /solutions/categories/{language} returns it."""
    return Collection(
        source=SOURCE,
        source_id=f"{CATEGORY_PREFIX}{category['id']}",
        name=str(category.get("name") or ""),
        description=category.get("description") or None,
        position=category.get("position", position),
        locale=locale,
        translations=_translations_of(translations),
        created_at=parse_time(category.get("created_at")),
        updated_at=parse_time(category.get("updated_at")),
    )


def collection_from_folder(
    folder: Mapping[str, Any],
    category_id: Any,
    locale: str | None,
    translations: Mapping[str, Mapping[str, Any]] | None = None,
    position: int | None = None,
) -> Collection:
    """A folder's parent is its parent folder (flexible hierarchy) if any, else its category."""
    parent_folder = folder.get("parent_folder_id")
    parent = f"{FOLDER_PREFIX}{parent_folder}" if parent_folder else (f"{CATEGORY_PREFIX}{category_id}" if category_id is not None else None)
    custom: dict[str, Any] = {}
    _keep(custom, folder, ("visibility", "company_ids"))
    return Collection(
        source=SOURCE,
        source_id=f"{FOLDER_PREFIX}{folder['id']}",
        name=str(folder.get("name") or ""),
        description=folder.get("description") or None,
        parent_id=parent,
        position=folder.get("position", position),
        locale=locale,
        translations=_translations_of(translations),
        created_at=parse_time(folder.get("created_at")),
        updated_at=parse_time(folder.get("updated_at")),
        custom_fields=custom,
    )


def _state(article: Mapping[str, Any]) -> Literal["published", "draft"]:
    return "published" if article.get("status") == ARTICLE_PUBLISHED else "draft"


def translation_from_json(language: str, article: Mapping[str, Any]) -> Translation:
    return Translation(locale=language, title=str(article.get("title") or ""), body_html=article.get("description") or "", state=_state(article))


def article_from_json(
    article: Mapping[str, Any],
    locale: str | None,
    translations: Mapping[str, Mapping[str, Any]] | None = None,
    portal_url: str | None = None,
) -> Article:
    """`translations` maps language → the article as GET /solutions/folders/{id}/articles/{language} returns it."""
    custom: dict[str, Any] = {}
    _keep(custom, article, ("tags", "hits", "thumbs_up", "thumbs_down"))
    keywords = (article.get("seo_data") or {}).get("meta_keywords")
    if keywords:
        custom["meta_keywords"] = keywords
    files = [attachment_from_json(a) for a in article.get("attachments") or []]
    return Article(
        source=SOURCE,
        source_id=str(article["id"]),
        title=str(article.get("title") or ""),
        body_html=article.get("description") or "",
        collection_id=f"{FOLDER_PREFIX}{article['folder_id']}" if article.get("folder_id") is not None else None,
        author_id=text_id(article.get("agent_id")),
        state=_state(article),
        locale=locale,
        translations=[translation_from_json(language, item) for language, item in sorted((translations or {}).items())],
        url=f"{portal_url}/support/solutions/articles/{article['id']}" if portal_url else None,
        attachments=files + inline_images(article.get("description")),
        created_at=parse_time(article.get("created_at")),
        updated_at=parse_time(article.get("updated_at")),
        custom_fields=custom,
    )


def code_name(names: Mapping[int, str], code: Any) -> str | None:
    """The label of a status, priority, source or product code (the code itself as text when it has none)."""
    return _code_name(names, code)
