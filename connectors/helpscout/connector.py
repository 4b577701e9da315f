"""The Help Scout source connector: Mailbox API 2.0 and Docs API v1 → canonical records, a checkpoint after every page."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from deskmigrate.connectors.helpscout import convert, sampling
from deskmigrate.connectors.helpscout.config import HelpScoutSourceConfig
from deskmigrate.connectors.helpscout.pagination import ReadPosition, docs_pages, embedded_items, mailbox_pages
from deskmigrate.connectors.helpscout.transport import DOCS_DUMMY_PASSWORD, Clock, DocsApi, MailboxApi, Sleep
from deskmigrate.core.dedupe import RecentIds
from deskmigrate.core.files import SessionSourceFiles
from deskmigrate.core.model import DELETED_IN_SOURCE, CanonicalRecord, SourceNotice, SourceRejection
from deskmigrate.core.sampling import TicketProfile
from deskmigrate.core.source import (
    Connector,
    FieldDefinition,
    OptionalEndpointNotices,
    SourceCheckpoint,
    SourceContext,
    SourceTotal,
    StreamItem,
    convert_or_reject,
    entity_reader,
    is_optional_miss,
)
from deskmigrate.core.sourcekit import Page, SourceHttpError, each_item, optional_list, section_unavailable
from deskmigrate.core.timeparse import iso_utc

log = logging.getLogger(__name__)

MAILBOX_ENTITIES = ["companies", "contacts", "agents", "conversations"]
DOCS_ENTITIES = ["collections", "articles"]
# Help Scout's clock, not ours, stamps modifiedAt: a read's high-water mark is its start time less this margin, so a
# record changed while we read (or under clock skew) is read again next time rather than missed.
HIGH_WATER_MARGIN = timedelta(minutes=5)
DOCS_SITE_DOMAIN = "helpscoutdocs.com"  # a Docs site's own address is {subDomain}.helpscoutdocs.com (or its cname)


class HelpScoutConnector(Connector):
    """Reads a Help Scout account: customers, users, conversations with their threads, and the Docs knowledge base."""

    name: ClassVar[str] = "helpscout"
    config_model: ClassVar[type[HelpScoutSourceConfig]] = HelpScoutSourceConfig

    def __init__(
        self,
        config: HelpScoutSourceConfig,
        context: SourceContext,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.context = context
        session = context.session or requests.Session()
        self.mailbox = MailboxApi(config, session, clock=clock, sleep=sleep)
        self.docs = DocsApi(config, session, sleep=sleep) if config.docs_api_key is not None else None
        self._now = now
        self._catalog: convert.MailboxCatalog | None = None
        self.chat_conversations_completed = 0
        self._notices = OptionalEndpointNotices("Help Scout")

    def entities(self) -> list[str]:
        return MAILBOX_ENTITIES + (DOCS_ENTITIES if self.docs is not None else [])

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]:
        read = entity_reader(self, entity, "Help Scout")
        position = self._start_position(entity, since)
        log.info("reading Help Scout %s (%s)", entity, _describe_position(position))
        return self._notices.ahead_of(entity, read(position))

    # -- resume and delta ---------------------------------------------------------------------------

    def _start_position(self, entity: str, since: datetime | None) -> ReadPosition:
        """`since` wins; else a read cut short resumes where it stopped; else read what changed since the last high-water mark."""
        started = iso_utc(self._now() - HIGH_WATER_MARGIN)
        if since is not None:
            return ReadPosition(since=iso_utc(since), started=started)
        saved = self.context.cursors.get_cursor(self.name, entity) if self.context.cursors else None
        if saved:
            position = ReadPosition.decode(saved)
            return position if position.in_progress else ReadPosition(since=position.since, started=started)
        return ReadPosition(since=None, started=started)

    def _checkpoint(self, entity: str, position: ReadPosition, page: Page) -> SourceCheckpoint:
        after = position.at(page.next_number) if page.next_number is not None else position.completed()
        return SourceCheckpoint(entity=entity, cursor=after.encode())

    # -- catalog ------------------------------------------------------------------------------------

    def catalog(self) -> convert.MailboxCatalog:
        """Mailbox names and every mailbox's custom fields: 1 + one call per mailbox, once per connector."""
        if self._catalog is None:
            catalog = convert.MailboxCatalog()
            mailboxes = self._optional_list("mailboxes", "mailboxes", "mailbox names are not mapped (conversations keep mailbox ids) "
                                            "and custom fields are named as conversations give them", ("conversations",))
            for mailbox in mailboxes:
                catalog.mailboxes[str(mailbox["id"])] = str(mailbox.get("name") or mailbox["id"])
                catalog.learn_fields(self._optional_list(f"mailboxes/{mailbox['id']}/fields", "the custom fields of a mailbox",
                                                         "its dropdown values are kept as their text, fields named as conversations give them",
                                                         ("conversations",)))
            self._catalog = catalog
        return self._catalog

    def field_definitions(self) -> list[FieldDefinition]:
        return convert.field_definitions(self.catalog())

    def _optional_list(self, path: str, what: str, consequence: str, affects: tuple[str, ...]) -> list[dict[str, Any]]:
        return optional_list(lambda: each_item(mailbox_pages(self.mailbox, path, path.rsplit("/", 1)[-1])), self._notices, what=what,
                             location=f"GET /{path}", consequence=consequence, affects=affects)

    # -- Mailbox API readers ------------------------------------------------------------------------

    def _customer_pages(self, position: ReadPosition) -> Iterator[Page]:
        # Invariant: pages are ordered by createdAt, newest first (the default). A customer created or changed during
        # the read enters the list at its creation date and pushes later items back: we may meet a record twice
        # (de-duplicated), never skip one that still exists. The same holds when a cut-short read resumes at its page.
        # Ordering by modifiedAt instead would move a changed record out from under us and skip its neighbour.
        params = {"modifiedSince": position.since} if position.since else {}
        return mailbox_pages(self.mailbox, "customers", "customers", params, start_page=position.page)

    def _read_contacts(self, position: ReadPosition) -> Iterator[StreamItem]:
        recent = RecentIds()
        for page in self._customer_pages(position):
            for customer in page.items:
                if recent.first_time(customer.get("id")):
                    yield convert_or_reject("contacts", customer, page.location, convert.contact_from_customer)
            yield self._checkpoint("contacts", position, page)

    def _read_companies(self, position: ReadPosition) -> Iterator[StreamItem]:
        """Companies are the distinct organization names of customers (Help Scout customers carry no company id)."""
        seen: set[str] = set()
        for page in self._customer_pages(position):
            for customer in page.items:
                organization = customer.get("organization")
                key = convert.company_source_id(organization if isinstance(organization, str) else None)
                if key is not None and key not in seen:
                    seen.add(key)
                    yield convert_or_reject("companies", customer, page.location, lambda c: convert.company_from_organization(c["organization"]))
            yield self._checkpoint("companies", position, page)

    def _read_agents(self, position: ReadPosition) -> Iterator[StreamItem]:
        """Users, listed in full each run (a few calls); they are matched to Intercom admins by email."""
        users = self._optional_list("users", "users", "teammates are not matched to Intercom admins, and conversations a teammate "
                                    "opened without a customer have no staged requester", ("agents",))
        for user in users:
            yield convert_or_reject("agents", user, "GET /users", convert.agent_from_user)

    def _read_conversations(self, position: ReadPosition) -> Iterator[StreamItem]:
        catalog = self.catalog()
        # status=all: the default lists only active conversations. createdAt order: see _customer_pages.
        params: dict[str, Any] = {"status": "all", "embed": "threads", "sortField": "createdAt", "sortOrder": "desc"}
        if position.since:
            params["modifiedSince"] = position.since
        if self.config.mailboxes:
            params["mailbox"] = ",".join(str(m) for m in self.config.mailboxes)
        recent = RecentIds()
        keep_line_items = self.config.line_items == "keep"
        for page in mailbox_pages(self.mailbox, "conversations", "conversations", params, start_page=position.page):
            for conversation in page.items:
                if not recent.first_time(conversation.get("id")):
                    continue
                state = conversation.get("state")
                if state in ("deleted", "draft"):
                    yield SourceNotice(entity="conversations", source_id=str(conversation.get("id")), location=page.location,
                                       message=f"{state} conversation in Help Scout; skipped",
                                       skip_reason=DELETED_IN_SOURCE if state == "deleted" else "a draft in the source (never sent)")
                    continue
                threads, notice = self._threads_of(conversation, page.location)
                if notice is not None:
                    yield notice
                yield convert_or_reject("conversations", conversation, page.location, convert.conversation_from_json, threads, catalog,
                               keep_line_items=keep_line_items)
            yield self._checkpoint("conversations", position, page)

    # -- rehearsal sampling -----------------------------------------------------------------------

    def ticket_profiles(self) -> Iterator[TicketProfile]:
        """Every conversation from GET /conversations?status=all without embed=threads (pages of 25, no thread read):
        status, type, mailbox, who created it, the primary customer, and the list's own thread count as the size hint."""
        catalog = self.catalog()
        yield from sampling.ticket_profiles(self.mailbox, self.config.mailboxes, catalog)

    def read_selected(self, entity: str, source_ids: set[str]) -> Iterator[StreamItem]:
        """Conversations by id: GET /conversations/{id}?embed=threads (a chat's threads listed in full, as a full read
        does). Other entities: read and filtered (customer and user lists are metadata, not histories)."""
        if entity != "conversations":
            yield from super().read_selected(entity, source_ids)
            return
        catalog = self.catalog()
        keep_line_items = self.config.line_items == "keep"
        yield from sampling.selected_conversations(self.mailbox, source_ids, catalog, keep_line_items=keep_line_items,
                                                   threads_of=self._threads_of)

    def _threads_of(self, conversation: Mapping[str, Any], location: str) -> tuple[list[dict[str, Any]], SourceNotice | None]:
        """The embedded threads, or for a chat conversation (embedded chats are truncated) its threads listed in full."""
        embedded = embedded_items(dict(conversation), "threads")
        if not convert.has_chat_threads(conversation):
            return embedded, None
        try:
            threads = list(each_item(mailbox_pages(self.mailbox, f"conversations/{conversation['id']}/threads", "threads")))
        except SourceHttpError as exc:
            if exc.status not in (404, 410):
                raise
            return embedded, SourceNotice(entity="conversations", source_id=str(conversation["id"]), location=location,
                                          message=f"threads of this chat could not be listed (HTTP {exc.status}); the truncated chat is kept")
        self.chat_conversations_completed += 1
        return threads, None

    # -- Docs API readers ---------------------------------------------------------------------------

    def _docs(self) -> DocsApi:
        assert self.docs is not None
        return self.docs

    def source_files(self) -> SessionSourceFiles | None:
        """Docs files behind a private site: the Docs API key (basic-auth user) is sent to this account's Docs hosts only.

        Those are the Docs API host and each site's own address (`{subDomain}.helpscoutdocs.com` and its custom domain),
        never another account's helpscoutdocs.com site nor the public asset CDN.
        """
        if self.docs is None or self.config.docs_api_key is None:
            return None
        session = requests.Session()
        session.auth = (self.config.docs_api_key.get_secret_value(), DOCS_DUMMY_PASSWORD)
        hosts = {urlsplit(self.config.docs_root()).netloc} | self._docs_site_hosts()
        return SessionSourceFiles(hosts, self.config.docs_base_url, session, timeout_s=self.config.timeout_s)

    def _docs_site_hosts(self) -> set[str]:
        try:
            sites = list(each_item(docs_pages(self._docs(), "sites", "sites")))
        except SourceHttpError as exc:
            log.warning("Help Scout Docs sites not readable (HTTP %s): files on the sites' own addresses are treated as public", exc.status)
            return set()
        hosts = {f"{site['subDomain']}.{DOCS_SITE_DOMAIN}".lower() for site in sites if site.get("subDomain")}
        return hosts | {str(site["cname"]).lower() for site in sites if site.get("cname")}

    def _read_collections(self, position: ReadPosition) -> Iterator[StreamItem]:
        """Docs collections (top level) and their categories (children), listed in full each run; no cursor is saved."""
        try:
            sites = {str(s["id"]): str(s.get("title") or s.get("subDomain") or s["id"]) for s in each_item(docs_pages(self._docs(), "sites", "sites"))}
            for collection in each_item(docs_pages(self._docs(), "collections", "collections")):
                site = sites.get(str(collection.get("siteId")))
                yield convert_or_reject("collections", collection, "GET /collections", convert.collection_from_docs_collection, site)
                for category in each_item(docs_pages(self._docs(), f"collections/{collection['id']}/categories", "categories")):
                    yield convert_or_reject("collections", category, f"GET /collections/{collection['id']}/categories", convert.collection_from_category)
        except SourceHttpError as exc:
            yield from section_unavailable("Help Scout Docs", "collections", exc)

    def _read_articles(self, position: ReadPosition) -> Iterator[StreamItem]:
        """Each collection's article list (no bodies), then one GET per new or changed article: the Docs API has no modifiedSince."""
        try:
            collection_ids = [str(c["id"]) for c in each_item(docs_pages(self._docs(), "collections", "collections"))]
            if position.scope in collection_ids:
                collection_ids = collection_ids[collection_ids.index(position.scope) :]
            for index, collection_id in enumerate(collection_ids):
                start = position.page if collection_id == position.scope else 1
                for page in docs_pages(self._docs(), f"collections/{collection_id}/articles", "articles", {"status": "all"}, start_page=start):
                    for ref in page.items:
                        if position.since and str(ref.get("updatedAt") or "") < position.since:
                            continue
                        yield self._article(ref)
                    yield self._article_checkpoint(position, page, collection_ids[index + 1 :], collection_id)
        except SourceHttpError as exc:
            yield from section_unavailable("Help Scout Docs", "articles", exc)

    def _article(self, ref: Mapping[str, Any]) -> CanonicalRecord | SourceRejection:
        location = f"GET /articles/{ref['id']}"
        article = self._docs().get_json(f"articles/{ref['id']}").get("article")
        if not isinstance(article, dict):
            return SourceRejection(entity="articles", source_id=str(ref["id"]), location=location, reason="Help Scout answered without an article")
        return convert_or_reject("articles", article, location, convert.article_from_json)

    def _article_checkpoint(self, position: ReadPosition, page: Page, later: list[str], collection_id: str) -> SourceCheckpoint:
        if page.next_number is not None:
            after = position.at(page.next_number, scope=collection_id)
        elif later:
            after = position.at(1, scope=later[0])
        else:
            after = position.completed()
        return SourceCheckpoint(entity="articles", cursor=after.encode())

    # -- plan ---------------------------------------------------------------------------------------

    def source_totals(self) -> list[SourceTotal]:
        """Customers (contacts), conversations (status=all, the configured mailboxes) and users (agents) from the first
        page's `page.totalElements` (https://developer.helpscout.com/mailbox-api/overview/pagination/): one call each."""
        params: dict[str, Any] = {"status": "all"}
        if self.config.mailboxes:
            params["mailbox"] = ",".join(str(m) for m in self.config.mailboxes)
        totals = []
        for path, entity, query in (("customers", "contacts", None), ("conversations", "conversations", params), ("users", "agents", None)):
            page = self.mailbox.get_json(path, query).get("page") or {}
            if "totalElements" in page:
                endpoint = f"GET /v2/{path}" + ("?status=all" if path == "conversations" else "")
                # the total counts what the list returns, deleted conversations included: the read skips those as deleted
                totals.append(SourceTotal((entity,), int(page["totalElements"]), endpoint, counts_deleted=True))
        return totals

    def describe_plan(self) -> dict[str, Any]:
        """How each entity is read, what the account holds, and the calls a full read costs (from each list's page totals)."""
        def totals(path: str, params: dict[str, Any] | None = None) -> tuple[int, int]:
            try:
                page = self.mailbox.get_json(path, params).get("page") or {}
            except SourceHttpError as exc:
                if not is_optional_miss(exc.status) or path in ("customers", "conversations"):
                    raise
                self._notices.missed(f"the {path} list", f"GET /{path}", exc.status, "the plan counts it as 0", ())
                return 0, 0
            return int(page.get("totalElements") or 0), int(page.get("totalPages") or 0)

        conversation_params: dict[str, Any] = {"status": "all"}
        if self.config.mailboxes:
            conversation_params["mailbox"] = ",".join(str(m) for m in self.config.mailboxes)
        customers, customer_pages = totals("customers")
        conversations, conversation_pages = totals("conversations", conversation_params)
        users, user_pages = totals("users")
        mailboxes, mailbox_pages = totals("mailboxes")
        tags, _ = totals("tags")
        calls: dict[str, int] = {
            "token": 1,
            "catalog": max(mailbox_pages, 1) + mailboxes,
            "companies": max(customer_pages, 1),
            "contacts": max(customer_pages, 1),
            "agents": max(user_pages, 1),
            "conversations": max(conversation_pages, 1),
            "chat_threads": self.chat_conversations_completed,
        }
        counts = {"customers": customers, "conversations": conversations, "users": users, "mailboxes": mailboxes, "tags": tags}
        if self.docs is not None:
            collections = list(each_item(docs_pages(self._docs(), "collections", "collections")))
            articles = sum(int(c.get("articleCount") or 0) for c in collections)
            counts |= {"docs_collections": len(collections), "docs_articles": articles}
            calls["collections"] = 2 + len(collections)  # sites, collections, then categories per collection
            calls["articles"] = 1 + sum(max(1, -(-int(c.get("articleCount") or 0) // 50)) for c in collections) + articles
        total = sum(calls.values())
        return {
            "source": "helpscout",
            "api_root": self.mailbox.root,
            "docs_api_root": self.docs.root if self.docs is not None else "skipped (no docs_api_key)",
            "counts": counts,
            "entities": {
                "companies": "GET /customers (distinct organization names; modifiedSince for deltas)",
                "contacts": "GET /customers (HAL pages of 50; modifiedSince for deltas)",
                "agents": "GET /users (full list each run)",
                "conversations": "GET /conversations?status=all&embed=threads (pages of 25) + GET /conversations/{id}/threads per chat",
                "collections": "Docs GET /sites, /collections, /collections/{id}/categories" if self.docs else "skipped",
                "articles": "Docs GET /collections/{id}/articles + GET /articles/{id} per new or changed article" if self.docs else "skipped",
            },
            "line_items": self.config.line_items,
            "notices": self._notices.messages(),
            "estimated_calls": calls,
            "estimated_calls_total": total,
            "chat_threads_note": "one extra call per chat conversation; the figure counts those met by this process so far",
            "requests_per_minute_assumed": self.config.requests_per_minute,
            "estimated_minutes_at_that_rate": round(total / self.config.requests_per_minute, 1),
            "calls_made": dict(self.mailbox.calls) | ({f"docs {k}": v for k, v in self.docs.calls.items()} if self.docs else {}),
        }


def _describe_position(position: ReadPosition) -> str:
    if position.page > 1 or position.scope:
        return f"resuming at page {position.page}" + (f" of collection {position.scope}" if position.scope else "")
    return f"modified since {position.since}" if position.since else "everything"
