"""Ticket history as Intercom tickets (`conversation_options.target: tickets`): the same thread planning as conversations.

Per ticket: `POST /tickets` (backdated, exactly one contact, title/description/attributes, assignee, no notification) →
one reply or note per later comment → at most one `PUT /tickets/{id}` for state (closed: `open: false`), attributes and
assignee → tags. The ticket type is the phase's preflight part (ticket_types.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from deskmigrate.core.errors import LoadError
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.history.common import ENTITY, TICKETS, wanted_assignee
from deskmigrate.loaders.intercom.history.steps import Step
from deskmigrate.loaders.intercom.history.ticket_types import TicketAttribute, TicketType, add_attribute, list_data
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult

TITLE = "_default_title_"
DESCRIPTION = "_default_description_"
# The conversation state the mapping gives → the ticket state category that holds it (ticket_state.category, 2.15 spec).
STATE_CATEGORIES = {"open": "in_progress", "snoozed": "waiting_on_customer", "closed": "resolved"}
NEW_TICKET_CATEGORY = "submitted"


class TicketCalls:
    """The ticket calls a `HistoryLoader` is composed with: create, reply, one update for state/attributes/assignee, tags."""

    entity = TICKETS

    def __init__(self, loader: IntercomLoader, ticket_type: TicketType) -> None:
        self.loader = loader
        self.client = loader.client
        self.ticket_type = ticket_type
        self._attributes_lock = threading.Lock()

    def attributes_as_tags(self, payload: Payload) -> dict[str, Any]:
        return {}  # a ticket type takes every attribute: missing ones are added to it

    def start_body(self, payload: Payload, step: Step, contact_id: str, text: str) -> dict[str, Any]:
        title = str(payload.body.get("title") or f"Ticket {payload.source_id}")
        attributes = {TITLE: title if step.thread == 0 else f"{title} (continued)", DESCRIPTION: text, **self._ticket_attributes(payload)}
        # skip_notifications: a migrated ticket must not notify its customer (create_ticket request, 2.15 spec).
        body: dict[str, Any] = {"ticket_type_id": self.ticket_type.id, "contacts": [{"id": contact_id}],
                                "ticket_attributes": attributes, "skip_notifications": True}
        if step.created_at:
            body["created_at"] = step.created_at
        assignee = wanted_assignee(self.loader, payload)
        if assignee:
            body["assignment"] = {"admin_assignee_id": assignee}
        return body

    def create(self, body: dict[str, Any]) -> str:
        return str(self.client.create_ticket(body)["id"])

    def search_started(self, contact_id: str, created_at: int) -> list[dict[str, Any]]:
        query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact_id},
                                              {"field": "created_at", "operator": "=", "value": created_at},
                                              {"field": "ticket_type_id", "operator": "=", "value": self.ticket_type.id}]}
        return self.client.search_tickets(query)

    def reply_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "skip_notifications": True}  # ticket replies take it from both sides (reply_ticket request, 2.15 spec)

    def send_reply(self, thread_id: str, body: dict[str, Any]) -> str | None:
        part = self.client.reply_to_ticket(thread_id, body)
        return str(part["id"]) if part.get("id") else None

    def remote_parts(self, thread_id: str) -> list[dict[str, Any]]:
        return list_data(self.client.get_ticket(thread_id).get("ticket_parts"), "ticket_parts")

    def tag(self, thread_id: str, tag_id: str, admin_id: str) -> None:
        self.client.tag_ticket(thread_id, tag_id, admin_id)

    def untag(self, thread_id: str, tag_id: str, admin_id: str) -> None:
        self.client.untag_ticket(thread_id, tag_id, admin_id)

    def settle(self, payload: Payload, threads: dict[int, str], applied: dict[str, Any], user_replied: bool,
               tag_all: Callable[[str | None], None], result: PhaseResult) -> dict[str, Any]:
        """One PUT per ticket at most (state, open, attributes, assignee), then tags; earlier parts of a continued ticket end closed."""
        admin_id = self.loader.admin_for_agent(None)
        first_load = not applied
        last = max(threads)
        for thread, ticket_id in threads.items():
            if thread != last and first_load:
                self.client.update_ticket(ticket_id, self._state_update("closed", admin_id))
        now_applied = dict(applied)
        attributes = {TITLE: str(payload.body.get("title") or f"Ticket {payload.source_id}"), **self._ticket_attributes(payload)}
        assignee = wanted_assignee(self.loader, payload)
        state = str(payload.body.get("state") or "open")
        current = applied.get("state") or "new"
        update: dict[str, Any] = {}
        if state != current:
            update.update(self._state_update(state, admin_id))
        if not first_load and attributes != applied.get("ticket_attributes"):
            update["ticket_attributes"] = {k: v for k, v in attributes.items() if v != (applied.get("ticket_attributes") or {}).get(k)}
        if not first_load and assignee and assignee != applied.get("admin_assignee_id"):
            update["assignee_id"] = assignee
            update.setdefault("admin_id", _admin_number(admin_id))
        if update:
            self.client.update_ticket(threads[last], update)
        now_applied.update({"state": state, "ticket_state": STATE_CATEGORIES.get(state, NEW_TICKET_CATEGORY),
                            "open": state != "closed", "ticket_attributes": attributes, "ticket_type_id": self.ticket_type.id})
        if assignee:
            now_applied["admin_assignee_id"] = assignee
        tag_all(admin_id)
        return now_applied

    def _state_update(self, state: str, admin_id: str | None) -> dict[str, Any]:
        category = STATE_CATEGORIES.get(state, NEW_TICKET_CATEGORY)
        state_id = self.ticket_type.states.get(category)
        if state_id is None:
            raise LoadError(f"the ticket type {self.ticket_type.id} has no ticket state of category {category!r}")
        update: dict[str, Any] = {"ticket_state_id": state_id, "open": state != "closed", "skip_notifications": True}
        if admin_id is not None:
            update["admin_id"] = _admin_number(admin_id)
        return update

    def _ticket_attributes(self, payload: Payload) -> dict[str, Any]:
        """The payload's conversation attributes as ticket attributes: list values by item id, others in the attribute's type."""
        values: dict[str, Any] = {}
        for name, value in (payload.body.get("custom_attributes") or {}).items():
            if value is None:
                continue
            attribute = self._attribute(name)
            converted = _ticket_value(attribute, value)
            if converted is None:
                self.loader.ledger.record_notice(self.loader.run_id, ENTITY, payload.source_id, f"ticket_attribute:{name}"[:120],
                                                 f"{value!r} does not fit the ticket attribute {name!r} ({attribute.data_type}); not set")
                continue
            values[name] = converted
        return values

    def _attribute(self, name: str) -> TicketAttribute:
        """A ticket attribute by name; one the mapping did not declare (an unmapped field kept as attribute) is added as text."""
        with self._attributes_lock:
            found = self.ticket_type.attributes.get(name)
            if found is None:
                declaration = AttributeDeclaration(model="conversation", name=name, data_type="string")
                found = add_attribute(self.loader, self.ticket_type, declaration)
            return found


def _ticket_value(attribute: TicketAttribute, value: Any) -> Any:
    """The value as the attribute's type takes it; None when it cannot be (a label the list lacks, text in a number)."""
    if attribute.data_type == "list":
        return attribute.list_items.get(str(value).casefold())
    converters: dict[str, Any] = {"integer": int, "datetime": int, "decimal": float, "boolean": bool}
    try:
        return converters.get(attribute.data_type, str)(value)
    except (TypeError, ValueError):
        return None


def _admin_number(admin_id: str | None) -> int | str | None:
    """`admin_id` of update_ticket_request is an integer in the 2.15 spec (everywhere else admin ids are strings)."""
    return int(admin_id) if admin_id is not None and admin_id.isdigit() else admin_id
