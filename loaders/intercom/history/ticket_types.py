"""The ticket type ticket history goes into (`conversation_options.target: tickets`): found by name or created, with one
attribute per conversation attribute the mapping declares (list attributes from declared options); its states read once.
Intercom cannot delete a ticket type: a rollback archives one deskmigrate created (`TICKET_TYPE_UNDO`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.errors import AmbiguousWriteError
from deskmigrate.core.ledger import WriteRow
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import IntercomLoader
from deskmigrate.loaders.intercom.undo import SettingKind

log = logging.getLogger(__name__)

PREFLIGHT = "preflight"
TICKET_TYPES = "ticket_types"
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


def list_data(value: Any, key: str) -> list[dict[str, Any]]:
    """Intercom nests lists as {type: list, data: [...]} (the spec's examples) or under the list's own key."""
    if isinstance(value, dict):
        found = value.get("data") if isinstance(value.get("data"), list) else value.get(key)
        return found if isinstance(found, list) else []
    return value if isinstance(value, list) else []


def _attribute_of(data: dict[str, Any]) -> TicketAttribute:
    options = (data.get("input_options") or {}).get("list_options") or []
    items = {str(o.get("label", "")).casefold(): str(o["id"]) for o in options if not o.get("archived")}
    return TicketAttribute(str(data["name"]), str(data.get("data_type") or "string"), items)


def ensure_ticket_type(loader: IntercomLoader, name: str, declarations: list[AttributeDeclaration]) -> TicketType:
    """Find the mapping's ticket type by name or create it, then add the declared conversation attributes it lacks."""
    client = loader.client
    wanted = name.strip()
    found = _find_type(client.list_ticket_types(), wanted)
    if found is None:
        body = {"name": wanted, "description": "Ticket history migrated by deskmigrate", "category": "Customer", "is_internal": False}
        try:
            found = client.create_ticket_type(body)
        except AmbiguousWriteError:
            found = _find_type(client.list_ticket_types(), wanted) or client.create_ticket_type(body)
        loader.ledger.log_write(loader.run_id, PREFLIGHT, TICKET_TYPES, wanted, str(found["id"]), "create")
        log.info("created the ticket type %r (%s)", wanted, found["id"])
    attributes = {a["name"]: _attribute_of(a) for a in list_data(found.get("ticket_type_attributes"), "ticket_type_attributes")}
    states = _states_of(found, client.list_ticket_states())
    ticket_type = TicketType(str(found["id"]), attributes, states)
    for declaration in declarations:
        if declaration.model == "conversation" and declaration.name not in ticket_type.attributes:
            add_attribute(loader, ticket_type, declaration)
    return ticket_type


def _find_type(types: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((t for t in types if str(t.get("name", "")).casefold() == name.casefold() and not t.get("archived")), None)


def _states_of(ticket_type: dict[str, Any], all_states: list[dict[str, Any]]) -> dict[str, str]:
    """The first state of each category that belongs to this ticket type."""
    own = list_data(ticket_type.get("ticket_states"), "ticket_states")
    if not own:
        own = [s for s in all_states
               if str(ticket_type["id"]) in {str(t.get("id")) for t in list_data(s.get("ticket_types"), "ticket_types")}]
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
        existing = [a for a in list_data(again.get("ticket_type_attributes"), "ticket_type_attributes") if a.get("name") == declaration.name]
        created = existing[0] if existing else loader.client.create_ticket_type_attribute(ticket_type.id, body)
    loader.ledger.log_write(loader.run_id, PREFLIGHT, "ticket_type_attributes", f"{ticket_type.id}.{declaration.name}",
                            str(created.get("id")), "create")
    attribute = _attribute_of(created)
    ticket_type.attributes[attribute.name] = attribute
    return attribute


def _archive(client: IntercomClient, ticket_type_id: str) -> Any:
    # Intercom cannot delete a ticket type either (2.15): it is archived, and its attributes with it.
    return client.archive_ticket_type(ticket_type_id)


def _label(write: WriteRow) -> str:
    return f"ticket type {write.source_id}"


TICKET_TYPE_UNDO = SettingKind(TICKET_TYPES, "archive_ticket_type", _archive, _label)
