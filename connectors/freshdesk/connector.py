"""The Freshdesk source connector: API v2 lists → canonical records, with a checkpoint after every page."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from deskmigrate.connectors.freshdesk import convert, fields
from deskmigrate.connectors.freshdesk.attachments import AttachmentFetcher
from deskmigrate.connectors.freshdesk.config import FreshdeskSourceConfig
from deskmigrate.connectors.freshdesk.pagination import EPOCH, ListCursor, TicketWindows, iso, link_pages, list_since_pages
from deskmigrate.connectors.freshdesk.transport import PASSWORD, Clock, FreshdeskTransport, Sleep
from deskmigrate.core.dedupe import RecentIds
from deskmigrate.core.files import FolderFiles, SessionSourceFiles
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.model import DELETED_IN_SOURCE, Conversation, SourceNotice, as_utc, text_id
from deskmigrate.core.sampling import TicketProfile
from deskmigrate.core.source import (
    Connector,
    FieldDefinition,
    OptionalEndpointNotices,
    SourceContext,
    StreamItem,
    convert_or_reject,
    entity_reader,
    is_optional_miss,
)
from deskmigrate.core.sourcekit import SourceHttpError, each_item, optional_list, section_unavailable

log = logging.getLogger(__name__)

SUPPORT_ENTITIES = ["companies", "contacts", "agents", "conversations"]
SOLUTION_ENTITIES = ["collections", "articles"]
# Catalog: ticket, contact and company fields, groups, agents (one page each for most accounts).
CATALOG_CALLS = 5


class FreshdeskConnector(Connector):
    """Reads a Freshdesk account through API v2, resumable from the last saved page cursor."""

    name: ClassVar[str] = "freshdesk"
    config_model: ClassVar[type[FreshdeskSourceConfig]] = FreshdeskSourceConfig
    help_center_urls: ClassVar[HelpCenterUrls] = convert.HELP_CENTER_URLS

    def __init__(self, config: FreshdeskSourceConfig, context: SourceContext, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.config = config
        self.context = context
        self.transport = FreshdeskTransport(config, context.session, clock=clock, sleep=sleep)
        self._sleep = sleep
        self._catalog: fields.FieldCatalog | None = None
        self._languages: tuple[str | None, list[str]] | None = None
        self._folders: list[tuple[dict[str, Any], Any]] | None = None
        self._fetcher: AttachmentFetcher | None = None
        self._notices = OptionalEndpointNotices("Freshdesk")
        self._agent_list: list[dict[str, Any]] | None = None

    def entities(self) -> list[str]:
        return SUPPORT_ENTITIES + (SOLUTION_ENTITIES if self.config.include_solutions else [])

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]:
        read = entity_reader(self, entity, "Freshdesk")
        cursor, start = self._resume_point(entity, since)
        log.info("reading Freshdesk %s from %s", entity, "saved cursor" if cursor else f"updated_since={start}")
        return self._notices.ahead_of(entity, read(cursor, start))

    def source_files(self) -> FolderFiles:
        """Solution images and attachments behind the login (the API key goes to the account's own host only, never to
        S3), and the attachments `download_attachments` saved while their signed links were fresh, read from disk."""
        session = requests.Session()
        session.auth = (self.config.api_key.get_secret_value(), PASSWORD)
        hosts = {f"{self.config.domain}.freshdesk.com"} | ({urlsplit(self.config.base_url).netloc} if self.config.base_url else set())
        remote = SessionSourceFiles(hosts, self.config.base_url, session, timeout_s=self.config.timeout_s)
        return FolderFiles(self._attachments_folder(), remote)

    def describe_plan(self) -> dict[str, Any]:
        """How each entity is read and the calls it costs; Freshdesk has no count endpoint, so per 1,000 tickets."""
        per_page = self.config.per_page
        tickets = 1000
        list_credits = 1 + 2 * len(self.config.ticket_includes)
        calls = {
            "catalog": CATALOG_CALLS,
            "ticket_pages": math.ceil(tickets / (per_page - 1)),  # each window restart re-reads about one ticket
            "conversations": tickets,
            "description_attachments": tickets if self.config.description_attachments else 0,
        }
        return {
            "source": "freshdesk",
            "api_root": self.transport.root,
            "entities": {
                "companies": "GET /companies?updated_since (link header; checkpoint page and delta start)",
                "contacts": "GET /contacts?updated_since (+ state=deleted, reported); checkpoint page and delta start",
                "agents": "GET /agents (full list each run)",
                "conversations": f"GET /tickets?updated_since&order_by=updated_at&order_type=asc&include={','.join(self.config.ticket_includes)}"
                " in windows restarted from the last updated_at; GET /tickets/{id}/conversations per ticket",
                "collections": "GET /solutions/categories, /categories/{id}/folders, /folders/{id}/subfolders, per language" if self.config.include_solutions else "skipped",
                "articles": "GET /solutions/folders/{id}/articles per folder and language" if self.config.include_solutions else "skipped",
            },
            "estimated_calls_per_1000_tickets": calls,
            "estimated_calls_per_1000_tickets_total": sum(calls.values()),
            "credits_per_ticket_list_page": list_credits,
            "tickets_list_per_minute": self.config.tickets_list_per_minute,
        }

    # -- resume -----------------------------------------------------------------------------------

    def _resume_point(self, entity: str, since: datetime | None) -> tuple[str | None, str]:
        """`since` wins over a saved cursor; with neither, read everything (updated_since 1970: never the 30-day default)."""
        if since is not None:
            return None, iso(as_utc(since))  # type: ignore[arg-type]
        cursor = self.context.cursors.get_cursor(self.name, entity) if self.context.cursors else None
        return cursor or None, EPOCH

    # -- catalog ----------------------------------------------------------------------------------

    def catalog(self) -> fields.FieldCatalog:
        """Field definitions, status/priority/source labels, groups and agent ids: read once per connector."""
        if self._catalog is None:
            catalog = fields.FieldCatalog()
            optional = self._optional_list
            catalog.learn_ticket_fields(optional("ticket_fields", "ticket fields", "statuses, priorities and sources keep Freshdesk's default "
                                                 "names, products are kept as ids, custom ticket fields by their cf_ names", ("conversations",)))
            catalog.learn_fields(catalog.contact_fields, optional("contact_fields", "contact fields", "custom contact fields are named by their keys",
                                                                  ("contacts",)))
            catalog.learn_fields(catalog.company_fields, optional("company_fields", "company fields", "custom company fields are named by their keys",
                                                                  ("companies",)))
            catalog.groups.update({int(g["id"]): str(g.get("name")) for g in optional("groups", "groups", "groups are kept as ids", ("conversations",))})
            catalog.agent_ids.update(str(a["id"]) for a in self._agents())
            self._catalog = catalog
        return self._catalog

    def field_definitions(self) -> list[FieldDefinition]:
        return fields.field_definitions(self.catalog())

    def _list(self, path: str) -> Iterator[dict[str, Any]]:
        return each_item(link_pages(self.transport, path, self.config.per_page))

    def _optional_list(self, path: str, what: str, consequence: str, affects: tuple[str, ...]) -> list[dict[str, Any]]:
        return optional_list(lambda: self._list(path), self._notices, what=what, location=f"GET {path}", consequence=consequence, affects=affects)

    def _agents(self) -> list[dict[str, Any]]:
        """GET /agents once per connector (the catalog's agent ids and the agents entity); it needs an admin's key on some plans."""
        if self._agent_list is None:
            self._agent_list = self._optional_list(
                "agents", "agents",
                "teammates are not matched to Intercom admins, replies are told apart by `incoming` only, and tickets a teammate "
                "requested have no staged requester", ("agents", "conversations"))
        return self._agent_list

    # -- rehearsal sampling -----------------------------------------------------------------------

    def ticket_profiles(self) -> Iterator[TicketProfile]:
        """Every ticket from the ticket list in updated_since windows with only the requester embedded (include=requester:
        one more credit a page, no description): status, priority, type, product, source, requester and whether an
        agent asked or an outbound email opened it. No conversation is read; the list gives no message count."""
        catalog = self.catalog()
        windows = TicketWindows(self.transport, self.config.per_page, ["requester"])
        for page in windows.pages(since=EPOCH):
            for ticket in page.items:
                requester = ticket.get("requester") or {}
                requester_id = text_id(ticket.get("requester_id"))
                source = convert.code_name(catalog.sources, ticket.get("source"))
                opened_by = ("teammate" if requester_id in catalog.agent_ids
                             else "support team" if source and "outbound" in source.lower() else None)
                product = ticket.get("product_id")
                yield TicketProfile(
                    source_id=str(ticket["id"]), subject=ticket.get("subject"), status=convert.code_name(catalog.statuses, ticket.get("status")),
                    priority=convert.code_name(catalog.priorities, ticket.get("priority")), kind=ticket.get("type"), form=ticket.get("type"),
                    brand=catalog.products.get(int(product), str(product)) if product is not None else None, channel=source,
                    requester_id=requester_id, requester_email=requester.get("email"), opened_by=opened_by,
                )

    def read_selected(self, entity: str, source_ids: set[str]) -> Iterator[StreamItem]:
        """Tickets by id: GET /tickets/{id} (description and its files), then its conversations, as a full read does.
        Other entities: read and filtered (their lists are metadata, not histories)."""
        if entity != "conversations":
            yield from super().read_selected(entity, source_ids)
            return
        catalog = self.catalog()
        for source_id in sorted(i for i in source_ids if i.isdigit()):
            try:
                ticket = self.transport.get_json(f"tickets/{source_id}")
            except SourceHttpError as exc:
                if exc.status != 404:
                    raise
                continue  # deleted since it was listed
            yield from self._conversation(ticket, f"GET tickets/{source_id}", catalog)

    # -- readers ----------------------------------------------------------------------------------

    def _read_companies(self, cursor: str | None, start: str) -> Iterator[StreamItem]:
        catalog = self.catalog()
        recent = RecentIds()
        for page in list_since_pages("companies", self.transport, self.config.per_page, ListCursor.load(cursor, start)):
            for company in page.items:
                if recent.is_new_or_newer(company.get("id"), company.get("updated_at")):
                    yield convert_or_reject("companies", company, page.location, convert.company_from_json, catalog)
            yield from page.checkpoint("companies")

    def _read_contacts(self, cursor: str | None, start: str) -> Iterator[StreamItem]:
        """Unblocked, undeleted contacts (the list's default); then the deleted ones, reported and skipped."""
        catalog = self.catalog()
        listed = ListCursor.load(cursor, start)
        recent = RecentIds()
        for page in list_since_pages("contacts", self.transport, self.config.per_page, listed):
            for contact in page.items:
                if convert.is_deleted_contact(contact):
                    yield _deleted_contact_notice(contact, page.location)
                elif recent.is_new_or_newer(contact.get("id"), contact.get("updated_at")):
                    yield convert_or_reject("contacts", contact, page.location, convert.contact_from_json, catalog)
            yield from page.checkpoint("contacts")
        deleted = link_pages(self.transport, "contacts", self.config.per_page, {"state": "deleted", "updated_since": listed.since})
        for page in deleted:
            for contact in page.items:
                yield _deleted_contact_notice(contact, f"GET contacts?state=deleted page {page.number}")

    def _read_agents(self, cursor: str | None, start: str) -> Iterator[StreamItem]:
        for agent in self._agents():
            yield convert_or_reject("agents", agent, "GET agents", convert.agent_from_json)

    def _read_conversations(self, cursor: str | None, start: str) -> Iterator[StreamItem]:
        catalog = self.catalog()
        windows = TicketWindows(self.transport, self.config.per_page, list(self.config.ticket_includes))
        for page in windows.pages(since=cursor or start):
            for ticket in page.items:
                yield from self._conversation(ticket, page.location, catalog)
            yield from page.checkpoint("conversations")
        log.info("read Freshdesk tickets in %d updated_since windows", windows.windows_opened)

    def _conversation(self, ticket: dict[str, Any], location: str, catalog: fields.FieldCatalog) -> Iterator[StreamItem]:
        entries: list[dict[str, Any]] = []
        for page in link_pages(self.transport, f"tickets/{ticket['id']}/conversations", self.config.per_page):
            entries.extend(page.items)
        files = self.transport.get_json(f"tickets/{ticket['id']}").get("attachments") if self.config.description_attachments else None
        record = convert_or_reject("conversations", ticket, location, convert.conversation_from_ticket, entries, catalog, files)
        if isinstance(record, Conversation) and self._downloads_wanted():
            record, problems = self._localize_attachments(record)
            for problem in problems:
                yield SourceNotice(entity="conversations", source_id=record.source_id, location=location, message=problem)
        yield record

    def _downloads_wanted(self) -> bool:
        return bool(self.context.options.get("download_attachments", self.config.download_attachments))

    def _localize_attachments(self, conversation: Conversation) -> tuple[Conversation, list[str]]:
        fetcher = self._attachment_fetcher()
        parts, problems = [], []
        for part in conversation.parts:
            if part.attachments:
                files, failed = fetcher.localize(f"{conversation.source_id}/{part.source_id}", part.attachments)
                part = part.model_copy(update={"attachments": files})
                problems.extend(failed)
            parts.append(part)
        return conversation.model_copy(update={"parts": parts}), problems

    def _attachments_folder(self) -> Path:
        folder = self.config.attachments_dir
        return folder if folder.is_absolute() else self.context.base_dir / folder

    def _attachment_fetcher(self) -> AttachmentFetcher:
        if self._fetcher is None:
            self._fetcher = AttachmentFetcher(
                self._attachments_folder(),
                self.transport.session,
                urlsplit(self.transport.root).netloc,
                (self.config.api_key.get_secret_value(), PASSWORD),
                self.config.timeout_s,
                self.transport.policy,
                self._sleep,
            )
        return self._fetcher

    # -- solutions --------------------------------------------------------------------------------

    def languages(self) -> tuple[str | None, list[str]]:
        """The primary language and the other languages to read (GET /settings/helpdesk, filtered by the config)."""
        if self._languages is None:
            try:
                settings = self.transport.get_json("settings/helpdesk")
            except SourceHttpError as exc:
                if not is_optional_miss(exc.status):
                    raise
                self._notices.missed("helpdesk settings", "GET settings/helpdesk", exc.status,
                                     "solutions are read in the primary language only, without its name", ("collections", "articles"))
                settings = {}
            primary = settings.get("primary_language")
            others = [str(lang) for lang in settings.get("supported_languages") or [] if lang != primary]
            if self.config.solution_languages is not None:
                wanted = {lang.lower() for lang in self.config.solution_languages}
                others = [lang for lang in others if lang.lower() in wanted]
            self._languages = (primary, others)
        return self._languages

    def _read_collections(self, cursor: str | None, start: str) -> Iterator[StreamItem]:
        """Categories, their folders and subfolders, every run (few calls); no cursor is saved."""
        try:
            primary, others = self.languages()
            for position, category in enumerate(self._list("solutions/categories")):
                translated = self._translated(f"solutions/categories/{category['id']}", others)
                yield convert_or_reject("collections", category, "GET solutions/categories", convert.collection_from_category, primary, translated, position)
                yield from self._read_folders(category["id"], primary, others)
        except SourceHttpError as exc:
            yield from section_unavailable("Freshdesk solutions", "collections", exc)

    def _read_folders(self, category_id: Any, primary: str | None, others: list[str]) -> Iterator[StreamItem]:
        for folder, position in self._folder_tree(category_id):
            translated = self._translated(f"solutions/folders/{folder['id']}", others)
            yield convert_or_reject("collections", folder, f"GET solutions/categories/{category_id}/folders", convert.collection_from_folder, category_id, primary, translated, position)

    def _folder_tree(self, category_id: Any) -> Iterator[tuple[dict[str, Any], int]]:
        """Folders of a category, then each folder's subfolders (flexible hierarchy), each folder once."""
        seen: set[str] = set()
        pending = [(f, i) for i, f in enumerate(self._list(f"solutions/categories/{category_id}/folders"))]
        while pending:
            folder, position = pending.pop(0)
            if str(folder["id"]) in seen:
                continue
            seen.add(str(folder["id"]))
            yield folder, position
            if folder.get("sub_folders_count"):
                pending.extend((f, i) for i, f in enumerate(self._list(f"solutions/folders/{folder['id']}/subfolders")))

    def _translated(self, path: str, languages: list[str]) -> dict[str, dict[str, Any]]:
        """GET {path}/{language} for each language; a missing translation (404) is simply absent."""
        found: dict[str, dict[str, Any]] = {}
        for language in languages:
            try:
                body = self.transport.get_json(f"{path}/{language}")
            except SourceHttpError as exc:
                if exc.status == 404:
                    continue
                raise
            if isinstance(body, dict):
                found[language] = body
        return found

    def _read_articles(self, cursor: str | None, start: str) -> Iterator[StreamItem]:
        """Every article of every folder, with its translations listed per folder and language."""
        try:
            primary, others = self.languages()
            for category in self._list("solutions/categories"):
                for folder, _ in self._folder_tree(category["id"]):
                    yield from self._folder_articles(folder, primary, others)
        except SourceHttpError as exc:
            yield from section_unavailable("Freshdesk solutions", "articles", exc)

    def _folder_articles(self, folder: Mapping[str, Any], primary: str | None, others: list[str]) -> Iterator[StreamItem]:
        if folder.get("articles_count") == 0:
            return
        path = f"solutions/folders/{folder['id']}/articles"
        translations: dict[str, dict[str, dict[str, Any]]] = {}
        for language in others:
            try:
                for item in each_item(link_pages(self.transport, f"{path}/{language}", self.config.per_page)):
                    translations.setdefault(str(item["id"]), {})[language] = item
            except SourceHttpError as exc:
                if exc.status != 404:
                    raise
        portal = f"https://{self.config.domain}.freshdesk.com"
        for article in each_item(link_pages(self.transport, path, self.config.per_page)):
            yield convert_or_reject("articles", article, f"GET {path}", convert.article_from_json, primary, translations.get(str(article["id"])), portal)


def _deleted_contact_notice(contact: Mapping[str, Any], location: str) -> SourceNotice:
    return SourceNotice(entity="contacts", source_id=str(contact.get("id")), location=location, message="contact deleted in Freshdesk; skipped",
                        skip_reason=DELETED_IN_SOURCE)
