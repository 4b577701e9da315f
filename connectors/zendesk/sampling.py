"""The Zendesk connector's rehearsal hooks: every live ticket profiled from the incremental export with its sideloads (no
comment read), and tickets, people and organizations read by id through show_many, 100 ids a call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from deskmigrate.connectors.zendesk import convert
from deskmigrate.connectors.zendesk.pagination import cursor_export
from deskmigrate.connectors.zendesk.roles import RoleBook
from deskmigrate.connectors.zendesk.transport import ZendeskTransport
from deskmigrate.core.dedupe import RecentIds
from deskmigrate.core.model import DELETED_IN_SOURCE, SourceNotice
from deskmigrate.core.sampling import TicketProfile
from deskmigrate.core.source import StreamItem, convert_or_reject
from deskmigrate.core.sourcekit import SourceHttpError

SHOW_MANY_LIMIT = 100
# One ticket's comments, its authors' roles learnt into the book (the connector's per-ticket read).
TicketComments = Callable[[Any, RoleBook], list[dict[str, Any]]]


def ticket_profiles(transport: ZendeskTransport, page_size: int, catalog: convert.FieldCatalog,
                    brands: dict[Any, str]) -> Iterator[TicketProfile]:
    """Every live ticket from the incremental tickets export with its users and metric sets sideloaded: 1 call per
    page_size tickets; no cursor saved."""
    export = cursor_export(transport, "incremental/tickets/cursor.json", "tickets", page_size, cursor=None,
                           start_time=0, include=["users", "metric_sets"])
    recent = RecentIds()
    for page in export:
        users = {str(u.get("id")): u for u in page.sideload("users")}
        metrics = {m.get("ticket_id"): m for m in page.sideload("metric_sets")}
        for ticket in page.items:
            if ticket.get("status") == "deleted" or not recent.is_new_or_newer(ticket.get("id"), ticket.get("updated_at")):
                continue
            yield profile_of_ticket(ticket, users, metrics.get(ticket.get("id")), catalog, brands)


def selected_companies(transport: ZendeskTransport, ids: list[str], catalog: convert.FieldCatalog) -> Iterator[StreamItem]:
    for batch in batches(ids):
        body = transport.get_json("organizations/show_many.json", {"ids": ",".join(batch)})
        for org in body.get("organizations") or []:
            if not org.get("deleted_at"):
                yield convert_or_reject("companies", org, "GET organizations/show_many", convert.company_from_organization, catalog)


def selected_tickets(transport: ZendeskTransport, ids: list[str], catalog: convert.FieldCatalog,
                     ticket_comments: TicketComments) -> Iterator[StreamItem]:
    roles = RoleBook()
    for batch in batches(ids):
        body = transport.get_json("tickets/show_many.json", {"ids": ",".join(batch), "include": "users,metric_sets"})
        roles.learn(body.get("users") or [])
        metrics = {m.get("ticket_id"): m for m in body.get("metric_sets") or []}
        tickets = list(body.get("tickets") or [])
        returned = {str(t.get("id")) for t in tickets}
        # An id show_many leaves out (archived, say) is asked for alone; one gone since it was listed is passed over.
        for missing in (i for i in batch if i not in returned):
            try:
                single = transport.get_json(f"tickets/{missing}.json", {"include": "users"})
            except SourceHttpError as exc:
                if exc.status != 404:
                    raise
                continue
            roles.learn(single.get("users") or [])
            tickets.append(single["ticket"])
        for ticket in tickets:
            if ticket.get("status") == "deleted":
                continue
            comments = ticket_comments(ticket["id"], roles)
            yield convert_or_reject("conversations", ticket, "GET tickets/show_many", convert.conversation_from_ticket, comments, catalog,
                                    roles.roles, metrics.get(ticket["id"]))


def selected_users(transport: ZendeskTransport, ids: list[str], catalog: convert.FieldCatalog,
                   memberships: dict[str, list[str]] | None) -> Iterator[StreamItem]:
    for batch in batches(ids):
        for user in transport.get_json("users/show_many.json", {"ids": ",".join(batch)}).get("users") or []:
            entity = "agents" if convert.is_agent(user) else "contacts"
            if convert.is_deleted_user(user):
                yield SourceNotice(entity=entity, source_id=str(user.get("id")), location="GET users/show_many",
                                   message="user deleted in Zendesk; skipped", skip_reason=DELETED_IN_SOURCE)
            elif entity == "agents":
                yield convert_or_reject(entity, user, "GET users/show_many", convert.agent_from_user, catalog)
            else:
                companies = memberships.get(str(user.get("id"))) if memberships is not None else None
                yield convert_or_reject(entity, user, "GET users/show_many", convert.contact_from_user, catalog, companies)


def profile_of_ticket(ticket: dict[str, Any], users: dict[str, dict[str, Any]], metric_set: dict[str, Any] | None,
                      catalog: convert.FieldCatalog, brands: dict[Any, str]) -> TicketProfile:
    """A ticket's rehearsal profile from the export's own fields and its sideloads (no comment read)."""
    requester = users.get(str(ticket.get("requester_id"))) or {}
    submitter = users.get(str(ticket.get("submitter_id"))) or {}
    state = "deleted" if requester and convert.is_deleted_user(requester) else ("suspended" if requester.get("suspended") else None)
    opened_by = None
    if requester and convert.is_agent(requester):
        opened_by = "teammate"
    elif submitter and convert.is_agent(submitter) and ticket.get("submitter_id") != ticket.get("requester_id"):
        opened_by = "support team"
    form_id = ticket.get("ticket_form_id")
    replies = (metric_set or {}).get("replies")
    return TicketProfile(
        source_id=str(ticket["id"]), subject=ticket.get("subject"), status=ticket.get("status"), priority=ticket.get("priority"),
        form=catalog.ticket_forms.get(form_id, str(form_id)) if form_id is not None else None, kind=ticket.get("type"),
        brand=brands.get(ticket.get("brand_id"), str(ticket["brand_id"])) if ticket.get("brand_id") is not None else None,
        language=requester.get("locale"), channel=(ticket.get("via") or {}).get("channel"),
        requester_id=str(ticket["requester_id"]) if ticket.get("requester_id") is not None else None,
        requester_email=requester.get("email"), requester_state=state, opened_by=opened_by,
        size_hint=int(replies) + 1 if isinstance(replies, int) else None,
    )


def batches(ids: list[str], size: int = SHOW_MANY_LIMIT) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
