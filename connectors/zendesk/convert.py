"""Pure converters: Zendesk JSON (as the API returns it) → canonical records. No HTTP here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deskmigrate.core.helpcenter_urls import HelpCenterUrls, TranslatedUrl, UrlPattern
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
from deskmigrate.core.source import FieldDefinition
from deskmigrate.core.timeparse import parse_unix_or_iso_time as parse_time  # incremental exports give Unix seconds

SOURCE = "zendesk"
# Categories and sections both become collections; their Zendesk ids are separate sequences, so we prefix them.
CATEGORY_PREFIX = "category:"
SECTION_PREFIX = "section:"
# Where Guide's public URLs (and the API URLs authors sometimes paste) name an article, a category or a section; a
# translation lives under its locale: /hc/en-us/articles/400 → /hc/de/articles/400.
_GUIDE = r"/hc/(?:(?P<locale>[A-Za-z]{2}(?:-[A-Za-z0-9]+)?)/)?"
HELP_CENTER_URLS = HelpCenterUrls(
    patterns=(
        UrlPattern("articles", re.compile(_GUIDE + r"articles/(?P<id>\d+)")),
        UrlPattern("articles", re.compile(r"/api/v2/help_center/(?:[A-Za-z-]+/)?articles/(?P<id>\d+)")),
        UrlPattern("collections", re.compile(_GUIDE + r"categories/(?P<id>\d+)"), CATEGORY_PREFIX),
        UrlPattern("collections", re.compile(_GUIDE + r"sections/(?P<id>\d+)"), SECTION_PREFIX),
    ),
    translated=TranslatedUrl(re.compile(r"/hc/[A-Za-z]{2}(?:-[A-Za-z0-9]+)?/"), "/hc/{locale}/"),
)
AGENT_ROLES = frozenset({"agent", "admin"})
# Field types whose stored value is an option tag to translate into the option's label.
SINGLE_OPTION_TYPES = frozenset({"tagger", "dropdown"})
MULTI_OPTION_TYPES = frozenset({"multiselect"})


@dataclass(frozen=True)
class CustomField:
    """A custom field definition: its title and, for option fields, option value → label."""

    title: str
    type: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass
class FieldCatalog:
    """Definitions read once up front so custom values map by meaning, not by id or tag."""

    ticket_fields: dict[int, CustomField] = field(default_factory=dict)
    user_fields: dict[str, CustomField] = field(default_factory=dict)
    organization_fields: dict[str, CustomField] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    ticket_forms: dict[int, str] = field(default_factory=dict)


def custom_field_from_json(data: Mapping[str, Any]) -> CustomField:
    """A ticket/user/organization field definition; options come as `custom_field_options: [{name, value}]`."""
    options = {str(option.get("value")): str(option.get("name")) for option in data.get("custom_field_options") or []}
    return CustomField(title=str(data.get("title") or data.get("key") or data.get("id")), type=str(data.get("type") or "text"), options=options)


# Zendesk field types → the Intercom data type their values fit (text-like and option fields: string).
DATA_TYPES = {"checkbox": "boolean", "date": "date", "integer": "integer", "decimal": "float"}
# ticket_fields.json lists the system fields too; tickets carry them as their own properties, not as custom fields.
SYSTEM_FIELD_TYPES = frozenset({"subject", "description", "status", "custom_status", "tickettype", "priority", "group", "assignee",
                                "brand", "ticket_form"})


def field_definitions(catalog: FieldCatalog) -> list[FieldDefinition]:
    """The catalog's custom fields under the names records carry them by (their titles), typed for Intercom."""
    return [
        FieldDefinition(entity, definition.title, DATA_TYPES.get(definition.type, "string"), definition.type, tuple(definition.options.values()))
        for entity, definitions in (("companies", catalog.organization_fields.values()), ("contacts", catalog.user_fields.values()),
                                    ("conversations", catalog.ticket_fields.values()))
        for definition in definitions if definition.type not in SYSTEM_FIELD_TYPES
    ]


def field_value(definition: CustomField | None, value: Any) -> Any:
    """Option tags become their labels (unknown tags are kept as they are); every other type keeps its raw value."""
    if definition is None:
        return value
    if definition.type in SINGLE_OPTION_TYPES and value is not None:
        return definition.options.get(str(value), value)
    if definition.type in MULTI_OPTION_TYPES and isinstance(value, list):
        return [definition.options.get(str(item), item) for item in value]
    return value


def keyed_fields_by_title(values: Mapping[str, Any] | None, definitions: Mapping[str, CustomField]) -> dict[str, Any]:
    """user_fields / organization_fields come keyed by field key; re-key them by title, options as labels, nulls dropped."""
    result: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if value is None:
            continue
        definition = definitions.get(key)
        result[definition.title if definition else key] = field_value(definition, value)
    return result


def company_from_organization(org: Mapping[str, Any], catalog: FieldCatalog) -> Company:
    custom = keyed_fields_by_title(org.get("organization_fields"), catalog.organization_fields)
    for key in ("details", "notes", "external_id"):
        if org.get(key):
            custom[key] = org[key]
    if org.get("group_id") is not None:
        custom["group_id"] = str(org["group_id"])
        if org["group_id"] in catalog.groups:
            custom["group"] = catalog.groups[org["group_id"]]
    return Company(
        source=SOURCE,
        source_id=str(org["id"]),
        name=org.get("name"),
        domains=list(org.get("domain_names") or []),
        tags=list(org.get("tags") or []),
        created_at=parse_time(org.get("created_at")),
        updated_at=parse_time(org.get("updated_at")),
        custom_fields=custom,
    )


def is_deleted_user(user: Mapping[str, Any]) -> bool:
    """`active` is false only for deleted users (https://developer.zendesk.com/api-reference/ticketing/users/users/)."""
    return user.get("active") is False


def is_agent(user: Mapping[str, Any]) -> bool:
    return user.get("role") in AGENT_ROLES


def _user_custom_fields(user: Mapping[str, Any], catalog: FieldCatalog) -> dict[str, Any]:
    custom = keyed_fields_by_title(user.get("user_fields"), catalog.user_fields)
    custom["role"] = user.get("role")
    custom["suspended"] = bool(user.get("suspended"))
    for key in ("external_id", "time_zone", "locale", "notes", "details"):
        if user.get(key):
            custom[key] = user[key]
    return custom


def contact_from_user(user: Mapping[str, Any], catalog: FieldCatalog, company_ids: Iterable[str] | None = None) -> Contact:
    """An end-user. `company_ids` overrides organization_id when the account allows several organizations per user."""
    companies = list(company_ids) if company_ids is not None else ([str(user["organization_id"])] if user.get("organization_id") else [])
    return Contact(
        source=SOURCE,
        source_id=str(user["id"]),
        role="user",
        email=user.get("email") or None,
        name=user.get("name") or None,
        phone=user.get("phone") or None,
        company_ids=companies,
        tags=list(user.get("tags") or []),
        signed_up_at=parse_time(user.get("created_at")),
        last_seen_at=parse_time(user.get("last_login_at")),
        active=bool(user.get("active", True)) and not user.get("suspended"),
        created_at=parse_time(user.get("created_at")),
        updated_at=parse_time(user.get("updated_at")),
        custom_fields=_user_custom_fields(user, catalog),
        locale=user.get("locale") or None,
        time_zone=user_time_zone(user),
    )


def user_time_zone(user: Mapping[str, Any]) -> str | None:
    """`iana_time_zone` ("America/New_York") when Zendesk gives it, else `time_zone`, a Rails name ("Eastern Time (US & Canada)")."""
    return user.get("iana_time_zone") or user.get("time_zone") or None


def agent_from_user(user: Mapping[str, Any], catalog: FieldCatalog) -> Agent:
    return Agent(
        source=SOURCE,
        source_id=str(user["id"]),
        email=user.get("email") or None,
        name=user.get("name") or None,
        active=bool(user.get("active", True)) and not user.get("suspended"),
        created_at=parse_time(user.get("created_at")),
        updated_at=parse_time(user.get("updated_at")),
        custom_fields=_user_custom_fields(user, catalog),
    )


def author_kind(role: str | None) -> Literal["contact", "agent", "system"]:
    """end-user → contact, agent/admin → agent; unknown authors (triggers, the -1 system user) → system."""
    if role == "end-user":
        return "contact"
    if role in AGENT_ROLES:
        return "agent"
    return "system"


def attachment_from_json(data: Mapping[str, Any]) -> Attachment:
    return Attachment(
        filename=str(data.get("file_name") or data.get("id")),
        content_type=data.get("content_type"),
        size=data.get("size"),
        url=str(data.get("content_url") or data.get("mapped_content_url") or ""),
        inline=bool(data.get("inline")),
    )


def part_from_comment(comment: Mapping[str, Any], author_role: str | None) -> Part:
    """A ticket comment or a `Comment` child event of the ticket events export (same fields, plain_body optional)."""
    return Part(
        source_id=str(comment["id"]),
        author_kind=author_kind(author_role),
        author_id=text_id(comment.get("author_id")),
        body_html=comment.get("html_body") or "",
        body_text=comment.get("plain_body") or comment.get("body") or "",
        public=bool(comment.get("public", True)),
        created_at=parse_time(comment.get("created_at")),
        attachments=[attachment_from_json(a) for a in comment.get("attachments") or []],
    )


def ticket_custom_fields(ticket: Mapping[str, Any], catalog: FieldCatalog) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    for entry in ticket.get("custom_fields") or []:
        value = entry.get("value")
        if value is None:
            continue
        definition = catalog.ticket_fields.get(entry.get("id"))
        custom[definition.title if definition else f"field_{entry.get('id')}"] = field_value(definition, value)
    return custom


def conversation_from_ticket(
    ticket: Mapping[str, Any],
    comments: Iterable[Mapping[str, Any]],
    catalog: FieldCatalog,
    roles: Mapping[str, str],
    metric_set: Mapping[str, Any] | None = None,
) -> Conversation:
    """`roles` maps user id → Zendesk role for comment authors; `metric_set` (sideload) supplies solved_at."""
    custom = ticket_custom_fields(ticket, catalog)
    if ticket.get("type"):
        custom["type"] = ticket["type"]
    form_id = ticket.get("ticket_form_id")
    if form_id in catalog.ticket_forms:
        custom["ticket_form"] = catalog.ticket_forms[form_id]
    elif form_id is not None:
        custom["ticket_form_id"] = str(form_id)  # forms not readable (plans without ticket forms): the id, not lost
    if ticket.get("organization_id") is not None:
        custom["organization_id"] = str(ticket["organization_id"])
    if metric_set and metric_set.get("solved_at"):
        custom["solved_at"] = metric_set["solved_at"]
    ordered = sorted(comments, key=lambda c: (str(c.get("created_at") or ""), int(c.get("id") or 0)))
    parts = [part_from_comment(c, roles.get(str(c.get("author_id")))) for c in ordered]
    via = ticket.get("via") or {}
    group_id = ticket.get("group_id")
    return Conversation(
        source=SOURCE,
        source_id=str(ticket["id"]),
        subject=ticket.get("subject") or ticket.get("raw_subject"),
        requester_id=text_id(ticket.get("requester_id")),
        assignee_id=text_id(ticket.get("assignee_id")),
        group=catalog.groups.get(group_id, str(group_id)) if group_id is not None else None,
        status=ticket.get("status"),
        priority=ticket.get("priority"),
        channel=via.get("channel"),
        tags=list(ticket.get("tags") or []),
        created_at=parse_time(ticket.get("created_at")),
        updated_at=parse_time(ticket.get("updated_at")),
        custom_fields=custom,
        parts=parts,
    )


def collection_translations(item: Mapping[str, Any], translations: Iterable[Mapping[str, Any]], locales: Iterable[str] | None = None) -> list[CollectionTranslation]:
    """A category's or section's published names in its other locales (GET …/{id}/translations lists its own locale too)."""
    wanted = {loc.lower() for loc in locales} if locales is not None else None
    return [
        CollectionTranslation(locale=str(t["locale"]), name=str(t.get("title") or ""), description=t.get("body") or None)
        for t in translations
        if t.get("locale") != item.get("locale") and not t.get("draft") and t.get("title")
        and (wanted is None or str(t.get("locale")).lower() in wanted)
    ]


def collection_from_category(category: Mapping[str, Any], translations: Iterable[Mapping[str, Any]] = (),
                             locales: Iterable[str] | None = None) -> Collection:
    return _collection(category, f"{CATEGORY_PREFIX}{category['id']}", None, translations, locales)


def collection_from_section(section: Mapping[str, Any], translations: Iterable[Mapping[str, Any]] = (),
                            locales: Iterable[str] | None = None) -> Collection:
    """Sections nest: a section's parent is its parent section if any, else its category."""
    if section.get("parent_section_id"):
        parent = f"{SECTION_PREFIX}{section['parent_section_id']}"
    else:
        parent = f"{CATEGORY_PREFIX}{section['category_id']}" if section.get("category_id") else None
    return _collection(section, f"{SECTION_PREFIX}{section['id']}", parent, translations, locales)


def _collection(data: Mapping[str, Any], source_id: str, parent_id: str | None, translations: Iterable[Mapping[str, Any]],
                locales: Iterable[str] | None) -> Collection:
    """A category or a section: both carry the same fields; only the id prefix and the parent differ."""
    return Collection(
        source=SOURCE,
        source_id=source_id,
        name=str(data.get("name") or ""),
        description=data.get("description") or None,
        parent_id=parent_id,
        position=data.get("position"),
        locale=data.get("locale"),
        translations=collection_translations(data, translations, locales),
        created_at=parse_time(data.get("created_at")),
        updated_at=parse_time(data.get("updated_at")),
        custom_fields={"html_url": data["html_url"]} if data.get("html_url") else {},
    )


def translation_from_json(data: Mapping[str, Any]) -> Translation:
    return Translation(
        locale=str(data["locale"]),
        title=str(data.get("title") or ""),
        body_html=data.get("body") or "",
        state="draft" if data.get("draft") else "published",
    )


def article_from_json(
    article: Mapping[str, Any],
    translations: Iterable[Mapping[str, Any]] = (),
    attachments: Iterable[Mapping[str, Any]] = (),
    locales: Iterable[str] | None = None,
) -> Article:
    """`translations` are the article's other locales (its own locale is the article itself); `locales` filters them."""
    wanted = {loc.lower() for loc in locales} if locales is not None else None
    own_locale = article.get("locale")
    others = [
        translation_from_json(t)
        for t in translations
        if t.get("locale") != own_locale and (wanted is None or str(t.get("locale")).lower() in wanted)
    ]
    custom: dict[str, Any] = {}
    for key in ("label_names", "promoted", "position", "source_locale", "permission_group_id", "user_segment_id"):
        if article.get(key) not in (None, [], ""):
            custom[key] = article[key]
    return Article(
        source=SOURCE,
        source_id=str(article["id"]),
        title=str(article.get("title") or ""),
        body_html=article.get("body") or "",
        collection_id=f"{SECTION_PREFIX}{article['section_id']}" if article.get("section_id") else None,
        author_id=text_id(article.get("author_id")),
        state="draft" if article.get("draft") else "published",
        locale=own_locale,
        translations=others,
        url=article.get("html_url"),
        attachments=[attachment_from_json(a) for a in attachments],
        created_at=parse_time(article.get("created_at")),
        updated_at=parse_time(article.get("updated_at")),
        custom_fields=custom,
    )
