"""The source registry: one line per connector. Adding a source is a module in connectors/, a line here and a mapping."""

from __future__ import annotations

from importlib import import_module
from typing import Any

SOURCES: dict[str, str] = {
    "csv": "deskmigrate.connectors.csv:CsvConnector",
    "zendesk": "deskmigrate.connectors.zendesk:ZendeskConnector",
    "helpscout": "deskmigrate.connectors.helpscout:HelpScoutConnector",
    "freshdesk": "deskmigrate.connectors.freshdesk:FreshdeskConnector",
    "jsonl": "deskmigrate.connectors.jsonl:JsonlConnector",
}


def connector_class(source_type: str) -> Any:
    """The connector class for a source type; imported lazily so one source's dependencies never burden another."""
    if source_type not in SOURCES:
        raise KeyError(f"unknown source type {source_type!r}; known: {', '.join(sorted(SOURCES))}")
    module_name, class_name = SOURCES[source_type].split(":")
    return getattr(import_module(module_name), class_name)
