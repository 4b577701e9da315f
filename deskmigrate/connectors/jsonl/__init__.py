"""The JSON Lines source: every canonical entity from files in the canonical model's shape, for help desks without a
connector of their own (export to it; `deskmigrate schema` prints the shape)."""

from deskmigrate.connectors.jsonl.config import JsonlSourceConfig
from deskmigrate.connectors.jsonl.connector import JsonlConnector

__all__ = ["JsonlConnector", "JsonlSourceConfig"]
