"""What the connector tests share: a cursor store standing in for the ledger, and reading the way the pipeline stages."""

from __future__ import annotations

from typing import Any

from deskmigrate.core.model import SourceNotice
from deskmigrate.core.source import Connector, SourceCheckpoint


class DictCursorStore:
    """What the ledger does for cursors, in a dict: the last checkpoint per (source, entity)."""

    def __init__(self) -> None:
        self.cursors: dict[tuple[str, str], str] = {}

    def get_cursor(self, source: str, entity: str) -> str | None:
        return self.cursors.get((source, entity))

    def save(self, source: str, item: SourceCheckpoint) -> None:
        self.cursors[(source, item.entity)] = item.cursor


def records(items: list) -> list:
    return [i for i in items if not isinstance(i, (SourceCheckpoint, SourceNotice))]


def ids(items: list) -> list[str]:
    return [r.source_id for r in records(items)]


def run_with_ledger(connector: Connector, entity: str, store: DictCursorStore, stop_after_checkpoints: int | None = None) -> list[Any]:
    """Stage like the pipeline: save each checkpoint as it comes; optionally die after N checkpoints."""
    seen, checkpoints = [], 0
    for item in connector.read(entity):
        seen.append(item)
        if isinstance(item, SourceCheckpoint):
            store.save(connector.name, item)
            checkpoints += 1
            if stop_after_checkpoints is not None and checkpoints >= stop_after_checkpoints:
                break
    return seen
