"""Shared helpers for the Freshdesk connector tests: the fake account, a connector factory, a dict cursor store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # so `tests.fakes` imports without pytest's pythonpath setting
    sys.path.insert(0, str(REPO_ROOT))

from deskmigrate.connectors.freshdesk import FreshdeskConnector, FreshdeskSourceConfig  # noqa: E402
from deskmigrate.core.source import SourceCheckpoint, SourceContext  # noqa: E402
from tests.fakes.freshdesk import FAKE_API_KEY, FAKE_DOMAIN, FakeFreshdesk  # noqa: E402


class DictCursorStore:
    """What the ledger does for cursors, in a dict: the last checkpoint per (source, entity)."""

    def __init__(self) -> None:
        self.cursors: dict[tuple[str, str], str] = {}

    def get_cursor(self, source: str, entity: str) -> str | None:
        return self.cursors.get((source, entity))

    def save(self, source: str, item: SourceCheckpoint) -> None:
        self.cursors[(source, item.entity)] = item.cursor


def fast_config(base_url: str, **overrides: Any) -> FreshdeskSourceConfig:
    """Test settings: no list pacing, no retry back-off, small pages so every list has several."""
    values: dict[str, Any] = {
        "domain": FAKE_DOMAIN,
        "api_key": FAKE_API_KEY,
        "base_url": base_url,
        "per_page": 2,
        "tickets_list_per_minute": 100_000,
        "contacts_list_per_minute": 100_000,
        "retry_backoff_s": 0,
        "retry_deadline_s": 30,
    }
    values.update(overrides)
    return FreshdeskSourceConfig(**values)


def make_connector(base_url: str, cursors: DictCursorStore | None = None, base_dir: Path = Path("."), options: dict[str, Any] | None = None,
                   **overrides: Any) -> FreshdeskConnector:
    context = SourceContext(base_dir=base_dir, cursors=cursors, options=options or {})
    return FreshdeskConnector(fast_config(base_url, **overrides), context)


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    with FakeFreshdesk() as server:
        yield server
