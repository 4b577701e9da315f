"""The Freshdesk field catalog: custom field definitions and the labels of status, priority, source and product codes,
read once up front so records map by meaning; and the custom fields as Intercom will type them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.source import FieldDefinition

CUSTOM_PREFIX = "cf_"

# Codes per https://developers.freshdesk.com/api/#tickets and the freshconsult source constants; the account's
# own labels (custom statuses, renamed sources) come from GET /ticket_fields and win over these.
STATUS_NAMES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
PRIORITY_NAMES = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
SOURCE_NAMES = {
    1: "Email", 2: "Portal", 3: "Phone", 4: "Forum", 5: "Twitter", 6: "Facebook", 7: "Chat", 8: "MobiHelp",
    9: "Feedback Widget", 10: "Outbound Email", 11: "Ecommerce", 12: "Bot", 13: "WhatsApp", 15: "Web Chat",
}


@dataclass(frozen=True)
class CustomField:
    """A custom field definition: the key its value is stored under, its label and type."""

    name: str
    label: str
    type: str
    options: tuple[str, ...] = ()


@dataclass
class FieldCatalog:
    """Definitions read once up front, so codes and custom values map by meaning, not by number or key."""

    ticket_fields: dict[str, CustomField] = field(default_factory=dict)
    contact_fields: dict[str, CustomField] = field(default_factory=dict)
    company_fields: dict[str, CustomField] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=lambda: dict(STATUS_NAMES))
    priorities: dict[int, str] = field(default_factory=lambda: dict(PRIORITY_NAMES))
    sources: dict[int, str] = field(default_factory=lambda: dict(SOURCE_NAMES))
    products: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    agent_ids: set[str] = field(default_factory=set)

    def learn_ticket_fields(self, definitions: Iterable[Mapping[str, Any]]) -> None:
        """Custom fields (nested levels included) and the labels of status, priority, source and product codes."""
        for definition in definitions:
            kind = str(definition.get("type") or "")
            choices = definition.get("choices")
            if kind == "default_status" and isinstance(choices, Mapping):
                # {"2": ["Open", "Being Processed"], ...}: the agent-facing label comes first.
                self.statuses.update({int(code): _first_label(labels) for code, labels in choices.items() if str(code).isdigit()})
            elif kind in ("default_priority", "default_source", "default_product") and isinstance(choices, Mapping):
                named = {int(code): str(label) for label, code in choices.items() if isinstance(code, int)}
                {"default_priority": self.priorities, "default_source": self.sources, "default_product": self.products}[kind].update(named)
            if definition.get("default") or kind.startswith("default_"):
                continue
            _index(self.ticket_fields, custom_field_from_json(definition))
            for level in definition.get("nested_ticket_fields") or []:
                _index(self.ticket_fields, CustomField(name=str(level.get("name")), label=str(level.get("label") or level.get("name")), type="nested_level"))

    def learn_fields(self, target: dict[str, CustomField], definitions: Iterable[Mapping[str, Any]]) -> None:
        """Contact or company field definitions; default fields have canonical homes and are skipped."""
        for definition in definitions:
            if definition.get("default") or str(definition.get("type") or "").startswith("default_"):
                continue
            _index(target, custom_field_from_json(definition))


def _first_label(labels: Any) -> str:
    return str(labels[0]) if isinstance(labels, list) and labels else str(labels)


def _index(target: dict[str, CustomField], definition: CustomField) -> None:
    """Values are keyed `cf_<name>` on tickets and by name elsewhere; definitions answer to both spellings."""
    target[definition.name] = definition
    bare = definition.name.removeprefix(CUSTOM_PREFIX)
    target.setdefault(bare, definition)
    target.setdefault(CUSTOM_PREFIX + bare, definition)


def custom_field_from_json(data: Mapping[str, Any]) -> CustomField:
    name = str(data.get("name") or data.get("id"))
    choices = data.get("choices")
    options = tuple(str(choice) for choice in choices if isinstance(choice, (str, int, float))) if isinstance(choices, list) else ()
    return CustomField(name=name, label=str(data.get("label") or name), type=str(data.get("type") or "custom_text"), options=options)


# Freshdesk field types → the Intercom data type their values fit (text, paragraph, dropdown, phone, URL: string).
DATA_TYPES = {"custom_checkbox": "boolean", "custom_date": "date", "custom_number": "integer", "custom_decimal": "float"}


def field_definitions(catalog: FieldCatalog) -> list[FieldDefinition]:
    """The catalog's custom fields under the names records carry them by (their labels), typed for Intercom; each
    once, though the catalog answers to both of a ticket field's spellings."""
    found: list[FieldDefinition] = []
    for entity, definitions in (("companies", catalog.company_fields), ("contacts", catalog.contact_fields), ("conversations", catalog.ticket_fields)):
        for definition in {id(d): d for d in definitions.values()}.values():
            found.append(FieldDefinition(entity, definition.label, DATA_TYPES.get(definition.type, "string"), definition.type, definition.options))
    return found


def labelled_fields(values: Mapping[str, Any] | None, definitions: Mapping[str, CustomField]) -> dict[str, Any]:
    """custom_fields come keyed by field name; re-key them by label (name when two labels clash), nulls dropped.

    Dropdown values are the choice texts already; checkboxes are booleans, numbers numbers, dates ISO strings.
    """
    result: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if value is None or value == "":
            continue
        definition = definitions.get(key)
        label = definition.label if definition else key.removeprefix(CUSTOM_PREFIX)
        result[key if label in result else label] = value
    return result
