"""The Zendesk source connector: incremental exports → canonical records, with a checkpoint after every page.

Just over 400 lines: one reader per entity (organizations, users, tickets with their comments, Help Center categories,
sections and articles), each a few lines over the shared catalog and transport; conversions live in convert.py, the
rehearsal's hooks in sampling.py, the role book in roles.py."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from deskmigrate.connectors.zendesk import convert, sampling
from deskmigrate.connectors.zendesk.config import ZendeskSourceConfig
from deskmigrate.connectors.zendesk.pagination import cursor_export, list_pages, time_export
from deskmigrate.connectors.zendesk.roles import RoleBook
from deskmigrate.connectors.zendesk.sampling import SHOW_MANY_LIMIT
from deskmigrate.connectors.zendesk.spool import CommentSpool
from deskmigrate.connectors.zendesk.transport import Clock, Sleep, ZendeskTransport
from deskmigrate.core.dedupe import RecentIds
from deskmigrate.core.files import SessionSourceFiles
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.model import DELETED_IN_SOURCE, SourceNotice, as_utc
from deskmigrate.core.sampling import TicketProfile
from deskmigrate.core.source import (
    Connector,
    FieldDefinition,
    OptionalEndpointNotices,
    SourceContext,
    SourceTotal,
    StreamItem,
    convert_or_reject,
    entity_reader,
    is_optional_miss,
)
from deskmigrate.core.sourcekit import Page, SourceHttpError, each_item, optional_list, section_unavailable

log = logging.getLogger(__name__)

# "contacts" reads the whole users stream once and yields agents (Agent records) along with end-users: the
# incremental exports allow 10 requests a minute, so a second pass for agents would double the slowest read.
SUPPORT_ENTITIES = ["companies", "contacts", "conversations"]
HELP_CENTER_ENTITIES = ["collections", "articles"]
# No endpoint counts ticket events; a ticket typically has a handful of audits. Used only to choose a strategy.
ESTIMATED_EVENTS_PER_TICKET = 6
EVENTS_PER_PAGE = 1000
COMMENTS_PAGE_SIZE = 100  # /tickets/{id}/comments allows at most 100 per page
APPROXIMATE_COUNT_ABOVE = 100_000  # Zendesk's count endpoints answer from a daily cache above this


class ZendeskConnector(Connector):
    """Reads a Zendesk account through its incremental exports, resumable from the last saved page cursor."""

    name: ClassVar[str] = "zendesk"
    config_model: ClassVar[type[ZendeskSourceConfig]] = ZendeskSourceConfig
    help_center_urls: ClassVar[HelpCenterUrls] = convert.HELP_CENTER_URLS

    def __init__(self, config: ZendeskSourceConfig, context: SourceContext, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.config = config
        self.context = context
        self.transport = ZendeskTransport(config, context.session, clock=clock, sleep=sleep)
        self._catalog: convert.FieldCatalog | None = None
        self._memberships_read = False
        self._memberships: dict[str, list[str]] | None = None
        self._brand_hosts: set[str] | None = None
        self._notices = OptionalEndpointNotices("Zendesk")

    def entities(self) -> list[str]:
        return SUPPORT_ENTITIES + (HELP_CENTER_ENTITIES if self.config.include_help_center else [])

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]:
        read = entity_reader(self, entity, "Zendesk")
        cursor, start_time = self._resume_point(entity, since)
        log.info("reading Zendesk %s from %s", entity, "saved cursor" if cursor else f"start_time={start_time}")
        return self._notices.ahead_of(entity, read(cursor, start_time))

    def source_files(self) -> SessionSourceFiles:
        """Help Center images and attachments behind the login: fetched with these credentials from Zendesk's hosts only."""
        session = requests.Session()
        if self.config.oauth_token is not None:
            session.headers["Authorization"] = f"Bearer {self.config.oauth_token.get_secret_value()}"
        elif self.config.token is not None:
            session.auth = (f"{self.config.email}/token", self.config.token.get_secret_value())
        hosts = {f"{self.config.subdomain}.zendesk.com"} | ({urlsplit(self.config.base_url).netloc} if self.config.base_url else set())
        return SessionSourceFiles(hosts | self.brand_hosts(), self.config.base_url, session, timeout_s=self.config.timeout_s)

    def brand_hosts(self) -> set[str]:
        """Every brand's hosts: its {subdomain}.zendesk.com and the help center's own domain (`host_mapping`); read once.

        GET /api/v2/brands (https://developer.zendesk.com/api-reference/ticketing/account-configuration/brands/): only
        admins see `host_mapping`, and agents without `assign_tickets_to_any_brand` see only their brands.
        """
        if self._brand_hosts is None:
            brands = self._optional_list("brands.json", "brands", "brands", "files on a brand's own help center domain are not fetched with the login",
                                         ("articles",))
            self._brand_hosts = {host for brand in brands if not brand.get("is_deleted") for host in _hosts_of_brand(brand)}
            log.info("Zendesk files fetched with the login from: %s", ", ".join(sorted(self._brand_hosts)) or "the account's host")
        return self._brand_hosts

    def describe_plan(self) -> dict[str, Any]:
        """How each entity will be read, the comments strategy chosen and why, and the estimated number of calls."""
        counts = {name: self._count(f"{name}/count.json") for name in ("organizations", "users", "tickets")}
        known = {name: count or 0 for name, count in counts.items()}
        cursor, _ = self._resume_point("conversations", None)
        strategy, reason = self._choose_comments_strategy(delta=cursor is not None, tickets=known["tickets"])
        per_page = self.config.page_size
        calls = {
            "companies": _pages(known["organizations"], per_page),
            "users": _pages(known["users"], per_page),
            "tickets": _pages(known["tickets"], per_page),
            "comments": _events_calls(known["tickets"]) if strategy == "events" else known["tickets"],
            "catalog": 6,
        }
        incremental_calls = calls["companies"] + calls["users"] + calls["tickets"]
        if strategy == "events":
            incremental_calls += calls["comments"]
        return {
            "source": "zendesk",
            "api_root": self.transport.root,
            "counts": {name: "unknown" if count is None else count for name, count in counts.items()},
            "notices": self._notices.messages(),
            "entities": {
                "companies": "GET /incremental/organizations.json (time-based; checkpoint end_time)",
                "contacts": "GET /incremental/users/cursor.json: end-users as contacts, agents and admins as agents, in one pass (cursor; checkpoint after_cursor)",
                "conversations": "GET /incremental/tickets/cursor.json?include=users,metric_sets (cursor; checkpoint after_cursor)",
                "collections": "GET /help_center/categories.json + /help_center/sections.json (full list each run) + translations per category and section" if self.config.include_help_center else "skipped",
                "articles": "GET /help_center/incremental/articles.json + translations + attachments per article" if self.config.include_help_center else "skipped",
            },
            "comments_strategy": strategy,
            "comments_endpoint": "GET /incremental/ticket_events.json?include=comment_events" if strategy == "events" else "GET /tickets/{id}/comments.json?page[size]=100",
            "comments_strategy_reason": reason,
            "estimated_calls": calls,
            "estimated_calls_total": sum(calls.values()),
            "incremental_requests_per_minute": self.config.incremental_requests_per_minute,
            "estimated_minutes_at_incremental_limit": round(incremental_calls / self.config.incremental_requests_per_minute, 1),
        }

    # -- rehearsal sampling -----------------------------------------------------------------------

    def ticket_profiles(self) -> Iterator[TicketProfile]:
        """Every live ticket from the incremental tickets export with its users and metric sets sideloaded, no comment
        read: status, priority, form, type, brand, channel, the requester's locale and state (deleted, suspended), who
        submitted it, and the metric set's reply count as the size hint. 1 call per page_size tickets; no cursor saved."""
        catalog = self.catalog()
        brands = {brand.get("id"): str(brand.get("name")) for brand in self._optional_list(
            "brands.json", "brands", "brands", "brands are not told apart in a rehearsal sample", ("conversations",))}
        yield from sampling.ticket_profiles(self.transport, self.config.page_size, catalog, brands)

    def read_selected(self, entity: str, source_ids: set[str]) -> Iterator[StreamItem]:
        """Tickets by id (show_many, then each one's comments), people by id (users/show_many: contacts and agents),
        organizations by id (organizations/show_many), 100 ids a call; Help Center entities are read whole (few)."""
        ids = sorted(i for i in source_ids if i.isdigit())
        if entity == "conversations":
            yield from sampling.selected_tickets(self.transport, ids, self.catalog(), self._ticket_comments)
        elif entity == "contacts":
            yield from sampling.selected_users(self.transport, ids, self.catalog(), self._organization_memberships())
        elif entity == "companies":
            yield from sampling.selected_companies(self.transport, ids, self.catalog())
        else:
            yield from super().read_selected(entity, source_ids)

    # -- resume -----------------------------------------------------------------------------------

    def _resume_point(self, entity: str, since: datetime | None) -> tuple[str | None, int]:
        """`since` wins over a saved cursor; with neither, read everything (start_time 0)."""
        if since is not None:
            return None, int(as_utc(since).timestamp())  # type: ignore[union-attr]
        cursor = self.context.cursors.get_cursor(self.name, entity) if self.context.cursors else None
        return cursor or None, 0

    # -- catalog ----------------------------------------------------------------------------------

    def catalog(self) -> convert.FieldCatalog:
        """Ticket/user/organization fields, groups and ticket forms: read once per connector, a few calls."""
        if self._catalog is None:
            catalog = convert.FieldCatalog()
            optional = self._optional_list
            for item in optional("ticket_fields.json", "ticket_fields", "ticket fields",
                                 "custom ticket fields are named field_<id>, option values kept as their tags", ("conversations",)):
                catalog.ticket_fields[item["id"]] = convert.custom_field_from_json(item)
            for item in optional("user_fields.json", "user_fields", "user fields",
                                 "user fields are named by their keys, option values kept as their tags", ("contacts",)):
                catalog.user_fields[str(item.get("key"))] = convert.custom_field_from_json(item)
            for item in optional("organization_fields.json", "organization_fields", "organization fields",
                                 "organization fields are named by their keys, option values kept as their tags", ("companies",)):
                catalog.organization_fields[str(item.get("key"))] = convert.custom_field_from_json(item)
            for item in optional("groups.json", "groups", "groups", "group names are not mapped, groups kept as ids", ("conversations", "companies")):
                catalog.groups[item["id"]] = str(item.get("name"))
            # Plans without ticket forms (Team, Growth) answer 403 or 404 here.
            for item in optional("ticket_forms.json", "ticket_forms", "ticket forms", "ticket form names are not mapped, forms kept as ids",
                                 ("conversations",), page_size=None):
                catalog.ticket_forms[item["id"]] = str(item.get("display_name") or item.get("name"))
            self._catalog = catalog
        return self._catalog

    def field_definitions(self) -> list[FieldDefinition]:
        return convert.field_definitions(self.catalog())

    def _list(self, path: str, key: str, page_size: int | None = 100, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        return each_item(list_pages(self.transport, path, key, params, page_size))

    def _optional_list(self, path: str, key: str, what: str, consequence: str, affects: tuple[str, ...],
                       page_size: int | None = 100) -> list[dict[str, Any]]:
        return optional_list(lambda: self._list(path, key, page_size=page_size), self._notices, what=what, location=f"GET {path}",
                             consequence=consequence, affects=affects)

    def _count(self, path: str) -> int | None:
        """A count endpoint's value; None when it is not served (403/404): counts only inform the plan and the strategy."""
        counted = self._count_with_date(path)
        return counted[0] if counted is not None else None

    def _count_with_date(self, path: str) -> tuple[int, str | None] | None:
        """A count endpoint's value and `refreshed_at` (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#count-tickets)."""
        try:
            count = self.transport.get_json(path).get("count")
        except SourceHttpError as exc:
            if not is_optional_miss(exc.status):
                raise
            consequence = "the plan shows it as unknown" + ("; comments are read per ticket" if path.startswith("tickets") else "")
            self._notices.missed(f"the {path.split('/')[0]} count", f"GET {path}", exc.status, consequence, ("conversations",) if path.startswith("tickets") else ())
            return None
        if isinstance(count, dict):
            return int(count.get("value") or 0), count.get("refreshed_at")
        return int(count or 0), None

    def source_totals(self) -> list[SourceTotal]:
        """Organizations, users (contacts and agents) and tickets from the count endpoints, which leave out what was deleted.
        Above 100,000 Zendesk counts from a cache refreshed every 24 hours: approximate."""
        readable = set(self.entities())
        totals = []
        # one read of the users export stages end-users as contacts and the support team as agents
        for name, entities in (("organizations", ("companies",)), ("users", ("contacts", "agents")), ("tickets", ("conversations",))):
            counted = self._count_with_date(f"{name}/count.json") if entities[0] in readable else None
            if counted is not None:
                value, refreshed_at = counted
                totals.append(SourceTotal(entities, value, f"GET /api/v2/{name}/count", approximate=value > APPROXIMATE_COUNT_ABOVE,
                                          as_of=refreshed_at))
        return totals

    def _organization_memberships(self) -> dict[str, list[str]] | None:
        """user id → organization ids, only when the account lets a user belong to several organizations.

        Detected from GET /account/settings (settings.user.multiple_organizations); the index holds ids only.
        """
        if not self._memberships_read:
            self._memberships_read = True
            single = "each user is linked to their default organization only"
            try:
                settings = self.transport.get_json("account/settings.json").get("settings") or {}
            except SourceHttpError as exc:
                if not is_optional_miss(exc.status):
                    raise
                self._notices.missed("account settings", "GET account/settings.json", exc.status, single, ("contacts",))
                settings = {}
            if (settings.get("user") or {}).get("multiple_organizations"):
                index: dict[str, list[str]] = {}
                for membership in self._optional_list("organization_memberships.json", "organization_memberships", "organization memberships",
                                                      single, ("contacts",)):
                    index.setdefault(str(membership["user_id"]), []).append(str(membership["organization_id"]))
                self._memberships = index
        return self._memberships

    # -- readers ----------------------------------------------------------------------------------

    def _read_companies(self, cursor: str | None, start_time: int) -> Iterator[StreamItem]:
        catalog = self.catalog()
        export = time_export(self.transport, "incremental/organizations.json", "organizations", self.config.page_size,
                             start_time=int(cursor) if cursor else start_time)
        recent = RecentIds()
        for page in export:
            for org in page.items:
                if org.get("deleted_at"):
                    yield SourceNotice(entity="companies", source_id=str(org.get("id")), location=page.location, message="organization deleted in Zendesk; skipped", skip_reason=DELETED_IN_SOURCE)
                elif recent.is_new_or_newer(org.get("id"), org.get("updated_at")):
                    yield convert_or_reject("companies", org, page.location, convert.company_from_organization, catalog)
            yield from page.checkpoint("companies")

    def _read_contacts(self, cursor: str | None, start_time: int) -> Iterator[StreamItem]:
        """One pass over the users stream, one cursor (saved as "contacts"): end-users become contacts, agents and admins agents."""
        catalog = self.catalog()
        memberships = self._organization_memberships()
        export = cursor_export(self.transport, "incremental/users/cursor.json", "users", self.config.page_size, cursor=cursor, start_time=start_time)
        recent = RecentIds()
        for page in export:
            for user in page.items:
                entity = "agents" if convert.is_agent(user) else "contacts"
                if convert.is_deleted_user(user):
                    yield SourceNotice(entity=entity, source_id=str(user.get("id")), location=page.location, message="user deleted in Zendesk; skipped", skip_reason=DELETED_IN_SOURCE)
                elif not recent.is_new_or_newer(user.get("id"), user.get("updated_at")):
                    continue
                elif entity == "agents":
                    yield convert_or_reject(entity, user, page.location, convert.agent_from_user, catalog)
                else:
                    companies = memberships.get(str(user.get("id"))) if memberships is not None else None
                    yield convert_or_reject(entity, user, page.location, convert.contact_from_user, catalog, companies)
            yield from page.checkpoint("contacts")

    def _read_conversations(self, cursor: str | None, start_time: int) -> Iterator[StreamItem]:
        catalog = self.catalog()
        delta = cursor is not None or start_time > 0
        tickets_total = (self._count("tickets/count.json") or 0) if self.config.comments_strategy == "auto" and not delta else 0
        strategy, reason = self._choose_comments_strategy(delta=delta, tickets=tickets_total)
        log.info("Zendesk comments strategy: %s (%s)", strategy, reason)
        spool = self._spool_comment_events() if strategy == "events" else None
        export = cursor_export(self.transport, "incremental/tickets/cursor.json", "tickets", self.config.page_size, cursor=cursor,
                               start_time=start_time, include=["users", "metric_sets"])
        roles = RoleBook()
        recent = RecentIds()
        try:
            for page in export:
                yield from self._conversations_on_page(page, catalog, roles, recent, spool)
                yield from page.checkpoint("conversations")
        finally:
            if spool is not None:
                spool.close()

    def _conversations_on_page(
        self, page: Page, catalog: convert.FieldCatalog, roles: RoleBook, recent: RecentIds, spool: CommentSpool | None
    ) -> Iterator[StreamItem]:
        users = page.sideload("users")
        roles.learn(users)
        deleted_users = {str(u.get("id")) for u in users if convert.is_deleted_user(u)}
        metrics = {m.get("ticket_id"): m for m in page.sideload("metric_sets")}
        tickets = []
        for ticket in page.items:
            if ticket.get("status") == "deleted":
                yield SourceNotice(entity="conversations", source_id=str(ticket.get("id")), location=page.location, message="ticket deleted in Zendesk; skipped", skip_reason=DELETED_IN_SOURCE)
            elif recent.is_new_or_newer(ticket.get("id"), ticket.get("updated_at")):
                tickets.append(ticket)
        if spool is not None:
            self._learn_roles(roles, spool.author_ids(t["id"] for t in tickets))
        for ticket in tickets:
            if str(ticket.get("requester_id")) in deleted_users:
                yield SourceNotice(
                    entity="conversations",
                    source_id=str(ticket["id"]),
                    location=page.location,
                    message=f"requester {ticket.get('requester_id')} was deleted in Zendesk: staged neither as a contact nor as an agent",
                )
            comments = spool.comments_for(ticket["id"]) if spool is not None else self._ticket_comments(ticket["id"], roles)
            metric_set = metrics.get(ticket["id"])
            yield convert_or_reject("conversations", ticket, page.location, convert.conversation_from_ticket, comments, catalog, roles.roles, metric_set)

    def _ticket_comments(self, ticket_id: Any, roles: RoleBook) -> list[dict[str, Any]]:
        """One ticket's comments, cursor-paginated (100 a page), authors sideloaded for their roles."""
        comments: list[dict[str, Any]] = []
        for page in list_pages(self.transport, f"tickets/{ticket_id}/comments.json", "comments", {"include": "users"}, COMMENTS_PAGE_SIZE):
            roles.learn(page.sideload("users"))
            comments.extend(page.items)
        self._learn_roles(roles, {str(c.get("author_id")) for c in comments})
        return comments

    def _learn_roles(self, roles: RoleBook, user_ids: set[str]) -> None:
        unknown = roles.unknown(user_ids)
        for start in range(0, len(unknown), SHOW_MANY_LIMIT):
            batch = unknown[start : start + SHOW_MANY_LIMIT]
            roles.learn(self.transport.get_json("users/show_many.json", {"ids": ",".join(batch)}).get("users") or [])

    def _spool_comment_events(self) -> CommentSpool:
        """Every comment of the account from the ticket events export (from the beginning: histories must be whole)."""
        spool = CommentSpool()
        export = time_export(self.transport, "incremental/ticket_events.json", "ticket_events", EVENTS_PER_PAGE, start_time=0,
                             include=["comment_events"])
        try:
            for page in export:
                for event in page.items:
                    for child in event.get("child_events") or []:
                        if (child.get("event_type") or child.get("type")) == "Comment":
                            spool.add(event.get("ticket_id"), child)
        except BaseException:
            spool.close()
            raise
        log.info("spooled %d comments from the ticket events export", spool.count)
        return spool

    def _choose_comments_strategy(self, *, delta: bool, tickets: int) -> tuple[str, str]:
        if self.config.comments_strategy != "auto":
            return self.config.comments_strategy, "set in the config"
        if delta:
            return "per_ticket", "a delta or resumed read needs the whole history of each changed ticket: one comments call per ticket"
        events, per_ticket = _events_calls(tickets), tickets
        if events < per_ticket:
            return "events", f"~{events} ticket-events pages cost fewer calls than {per_ticket} per-ticket comment calls"
        return "per_ticket", f"{per_ticket} per-ticket comment calls cost no more than ~{events} ticket-events pages"

    def _read_collections(self, cursor: str | None, start_time: int) -> Iterator[StreamItem]:
        """Categories then sections with their names in other locales, listed in full each run (few calls); no cursor is saved."""
        locales = self.config.help_center_locales
        try:
            for category in self._list("help_center/categories.json", "categories"):
                translations = list(self._list(f"help_center/categories/{category['id']}/translations.json", "translations"))
                yield convert_or_reject("collections", category, "GET help_center/categories", convert.collection_from_category, translations, locales)
            for section in self._list("help_center/sections.json", "sections"):
                translations = list(self._list(f"help_center/sections/{section['id']}/translations.json", "translations"))
                yield convert_or_reject("collections", section, "GET help_center/sections", convert.collection_from_section, translations, locales)
        except SourceHttpError as exc:
            yield from section_unavailable("Help Center", "collections", exc)

    def _read_articles(self, cursor: str | None, start_time: int) -> Iterator[StreamItem]:
        export = time_export(self.transport, "help_center/incremental/articles.json", "articles", self.config.page_size,
                             start_time=int(cursor) if cursor else start_time)
        recent = RecentIds()
        locales = self.config.help_center_locales
        try:
            for page in export:
                for article in page.items:
                    if not recent.is_new_or_newer(article.get("id"), article.get("updated_at")):
                        continue
                    translations = list(self._list(f"help_center/articles/{article['id']}/translations.json", "translations"))
                    attachments = list(self._list(f"help_center/articles/{article['id']}/attachments.json", "article_attachments", page_size=None))
                    yield convert_or_reject("articles", article, page.location, convert.article_from_json, translations, attachments, locales)
                yield from page.checkpoint("articles")
        except SourceHttpError as exc:
            yield from section_unavailable("Help Center", "articles", exc)


def _hosts_of_brand(brand: dict[str, Any]) -> set[str]:
    hosts = {f"{brand['subdomain']}.zendesk.com"} if brand.get("subdomain") else set()
    if brand.get("host_mapping"):
        hosts.add(str(brand["host_mapping"]).strip().lower())
    if brand.get("brand_url"):
        hosts.add(urlsplit(str(brand["brand_url"])).netloc.lower())
    return {host for host in hosts if host}



def _pages(items: int, per_page: int) -> int:
    return max(1, math.ceil(items / per_page))


def _events_calls(tickets: int) -> int:
    return _pages(tickets * ESTIMATED_EVENTS_PER_TICKET, EVENTS_PER_PAGE)
