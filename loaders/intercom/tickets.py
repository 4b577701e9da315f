"""Ticket history as Intercom tickets (`conversation_options.target: tickets`): same thread planning as conversations.

Preflight of the phase: the ticket type (by name) is found or created, with one attribute per conversation attribute
the mapping declares (list attributes from declared options); ticket states are read once. Per ticket:
`POST /tickets` (backdated, exactly one contact, title/description/attributes, assignee, no notification) → one
reply or note per later comment → at most one `PUT /tickets/{id}` for state (closed: `open: false`), attributes and
assignee → tags. Resumable per part and delta-appending exactly like conversations (shared code in conversations.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.errors import AmbiguousWriteError, LoadError
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.conversations import (
    ENTITY,
    PHASE,
    ConversationLoader,
    Step,
    ThreadOptions,
)
from deskmigrate.loaders.intercom.phases import IntercomLoader

log = logging.getLogger(__name__)

TICKETS = "tickets"
TITLE = "_default_title_"
DESCRIPTION = "_default_description_"
# The conversation state the mapping gives → the ticket state category that holds it (ticket_state.category, 2.15 spec).
STATE_CATEGORIES = {"open": "in_progress", "snoozed": "waiting_on_customer", "closed": "resolved"}
NEW_TICKET_CATEGORY = "submitted"
# Intercom data attribute types (the mapping's) → ticket type attribute data types (create_ticket_type_attribute_request).
ATTRIBUTE_TYPES = {"string": "string", "integer": "integer", "float": "decimal", "boolean": "boolean", "date": "datetime",
                   "datetime": "datetime"}


@dataclass
class TicketAttribute:
    name: str
    data_type: str
    list_items: dict[str, str] = field(default_factory=dict)  # label (case-folded) → list item id


@dataclass
class TicketType:
    """The ticket type the history goes into: its id, attributes by name and a state id per category."""

    id: str
    attributes: dict[str, TicketAttribute]
    states: dict[str, str]


def _list_data(value: Any, key: str) -> list[dict[str, Any]]:
    """Intercom nests lists as {type: list, data: [...]} (the spec's examples) or under the list's own key."""
    if isinstance(value, dict):
        found = value.get("data") if isinstance(value.get("data"), list) else value.get(key)
        return found if isinstance(found, list) else []
    return value if isinstance(value, list) else []


def _attribute_of(data: dict[str, Any]) -> TicketAttribute:
    options = (data.get("input_options") or {}).get("list_options") or []
    items = {str(o.get("label", "")).casefold(): str(o["id"]) for o in options if not o.get("archived")}
    return TicketAttribute(str(data["name"]), str(data.get("data_type") or "string"), items)


def ensure_ticket_type(loader: IntercomLoader, options: ThreadOptions) -> TicketType:
    """Find the mapping's ticket type by name or create it, then add the declared conversation attributes it lacks."""
    client = loader.client
    wanted = options.ticket_type.strip()
    found = _find_type(client.list_ticket_types(), wanted)
    if found is None:
        body = {"name": wanted, "description": "Ticket history migrated by deskmigrate", "category": "Customer", "is_internal": False}
        try:
            found = client.create_ticket_type(body)
        except AmbiguousWriteError:
            found = _find_type(client.list_ticket_types(), wanted) or client.create_ticket_type(body)
        loader.ledger.log_write(loader.run_id, "preflight", "ticket_types", wanted, str(found["id"]), "create")
        log.info("created the ticket type %r (%s)", wanted, found["id"])
    attributes = {a["name"]: _attribute_of(a) for a in _list_data(found.get("ticket_type_attributes"), "ticket_type_attributes")}
    states = _states_of(found, client.list_ticket_states())
    ticket_type = TicketType(str(found["id"]), attributes, states)
    for declaration in loader.attribute_declarations:
        if declaration.model == "conversation" and declaration.name not in ticket_type.attributes:
            add_attribute(loader, ticket_type, declaration)
    return ticket_type


def _find_type(types: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((t for t in types if str(t.get("name", "")).casefold() == name.casefold() and not t.get("archived")), None)


def _states_of(ticket_type: dict[str, Any], all_states: list[dict[str, Any]]) -> dict[str, str]:
    """The first state of each category that belongs to this ticket type."""
    own = _list_data(ticket_type.get("ticket_states"), "ticket_states")
    if not own:
        own = [s for s in all_states
               if str(ticket_type["id"]) in {str(t.get("id")) for t in _list_data(s.get("ticket_types"), "ticket_types")}]
    states: dict[str, str] = {}
    for state in own:
        states.setdefault(str(state.get("category")), str(state["id"]))
    return states


def add_attribute(loader: IntercomLoader, ticket_type: TicketType, declaration: AttributeDeclaration) -> TicketAttribute:
    """One ticket type attribute for a mapping attribute: a list when it declares options, else its type's counterpart."""
    body: dict[str, Any] = {
        "name": declaration.name, "description": declaration.description or "Migrated by deskmigrate",
        "data_type": "list" if declaration.options else ATTRIBUTE_TYPES[declaration.data_type],
        "required_to_create": False, "visible_to_contacts": False,
    }
    if declaration.options:
        body["list_items"] = ",".join(declaration.options)
    try:
        created = loader.client.create_ticket_type_attribute(ticket_type.id, body)
    except AmbiguousWriteError:
        types = loader.client.list_ticket_types()
        again = next((t for t in types if str(t["id"]) == ticket_type.id), {})
        existing = [a for a in _list_data(again.get("ticket_type_attributes"), "ticket_type_attributes") if a.get("name") == declaration.name]
        created = existing[0] if existing else loader.client.create_ticket_type_attribute(ticket_type.id, body)
    loader.ledger.log_write(loader.run_id, "preflight", "ticket_type_attributes", f"{ticket_type.id}.{declaration.name}",
                            str(created.get("id")), "create")
    attribute = _attribute_of(created)
    ticket_type.attributes[attribute.name] = attribute
    return attribute


class TicketLoader(ConversationLoader):
    """The conversation loader with ticket calls: create, reply, one update for state/attributes/assignee, tags."""

    entity = TICKETS

    def __init__(self, loader: IntercomLoader, ticket_type: TicketType) -> None:
        super().__init__(loader)
        self.ticket_type = ticket_type
        self._attributes_lock = threading.Lock()

    @classmethod
    def prepared(cls, loader: IntercomLoader, options: ThreadOptions) -> TicketLoader:
        return cls(loader, ensure_ticket_type(loader, options))

    # -- create --------------------------------------------------------------------------------

    def _start_body(self, payload: Payload, step: Step, contact_id: str, conversations: dict[int, str]) -> dict[str, Any]:
        title = str(payload.body.get("title") or f"Ticket {payload.source_id}")
        attributes = {TITLE: title if step.thread == 0 else f"{title} (continued)", DESCRIPTION: self._fill(step.body, conversations),
                      **self._ticket_attributes(payload)}
        # skip_notifications: a migrated ticket must not notify its customer (create_ticket request, 2.15 spec).
        body: dict[str, Any] = {"ticket_type_id": self.ticket_type.id, "contacts": [{"id": contact_id}],
                                "ticket_attributes": attributes, "skip_notifications": True}
        if step.created_at:
            body["created_at"] = step.created_at
        assignee = self._wanted_assignee(payload)
        if assignee:
            body["assignment"] = {"admin_assignee_id": assignee}
        return body

    def _create(self, body: dict[str, Any]) -> str:
        return str(self.client.create_ticket(body)["id"])

    def _search_started(self, contact_id: str, created_at: int) -> list[dict[str, Any]]:
        query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact_id},
                                              {"field": "created_at", "operator": "=", "value": created_at},
                                              {"field": "ticket_type_id", "operator": "=", "value": self.ticket_type.id}]}
        return self.client.search_tickets(query)

    # -- replies -------------------------------------------------------------------------------

    def _reply_body(self, payload: Payload, step: Step, contact_id: str, conversations: dict[int, str]) -> dict[str, Any]:
        body = super()._reply_body(payload, step, contact_id, conversations)
        body["skip_notifications"] = True  # ticket replies take it from both sides (reply_ticket request, 2.15 spec)
        return body

    def _send_reply(self, conversation_id: str, body: dict[str, Any]) -> str | None:
        part = self.client.reply_to_ticket(conversation_id, body)
        return str(part["id"]) if part.get("id") else None

    def _remote_parts(self, conversation_id: str) -> list[dict[str, Any]]:
        return _list_data(self.client.get_ticket(conversation_id).get("ticket_parts"), "ticket_parts")

    def _tag_call(self, conversation_id: str, tag_id: str, admin_id: str) -> None:
        self.client.tag_ticket(conversation_id, tag_id, admin_id)

    def _untag_call(self, conversation_id: str, tag_id: str, admin_id: str) -> None:
        self.client.untag_ticket(conversation_id, tag_id, admin_id)

    # -- state, attributes, assignee, tags -----------------------------------------------------

    def _apply_rest(self, payload: Payload, conversations: dict[int, str], applied: dict[str, Any], user_replied: bool) -> dict[str, Any]:
        """One PUT per ticket at most (state, open, attributes, assignee), then tags; earlier parts of a continued ticket end closed."""
        admin_id = self.loader.admin_for_agent(None)
        first_load = not applied
        last = max(conversations)
        for thread, ticket_id in conversations.items():
            if thread != last and first_load:
                self.client.update_ticket(ticket_id, self._state_update("closed", admin_id))
        now_applied = dict(applied)
        attributes = {TITLE: str(payload.body.get("title") or f"Ticket {payload.source_id}"), **self._ticket_attributes(payload)}
        wanted_assignee = self._wanted_assignee(payload)
        state = str(payload.body.get("state") or "open")
        current = applied.get("state") or "new"
        update: dict[str, Any] = {}
        if state != current:
            update.update(self._state_update(state, admin_id))
        if not first_load and attributes != applied.get("ticket_attributes"):
            update["ticket_attributes"] = {k: v for k, v in attributes.items() if v != (applied.get("ticket_attributes") or {}).get(k)}
        if not first_load and wanted_assignee and wanted_assignee != applied.get("admin_assignee_id"):
            update["assignee_id"] = wanted_assignee
            update.setdefault("admin_id", _admin_number(admin_id))
        if update:
            self.client.update_ticket(conversations[last], update)
        now_applied.update({"state": state, "ticket_state": STATE_CATEGORIES.get(state, NEW_TICKET_CATEGORY),
                            "open": state != "closed", "ticket_attributes": attributes, "ticket_type_id": self.ticket_type.id})
        if wanted_assignee:
            now_applied["admin_assignee_id"] = wanted_assignee
        self._tag(payload, conversations, admin_id)
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
                self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, f"ticket_attribute:{name}"[:120],
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


__all__ = ["PHASE", "TicketLoader", "TicketType", "ensure_ticket_type"]
