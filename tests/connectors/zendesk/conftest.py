"""Shared helpers for the Zendesk connector tests: the fake account, a connector factory, a dict cursor store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # so `tests.fakes` imports without pytest's pythonpath setting
    sys.path.insert(0, str(REPO_ROOT))

from deskmigrate.connectors.zendesk import ZendeskConnector, ZendeskSourceConfig  # noqa: E402
from deskmigrate.core.source import SourceCheckpoint, SourceContext  # noqa: E402
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_TOKEN, FakeZendesk  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


class DictCursorStore:
    """What the ledger does for cursors, in a dict: the last checkpoint per (source, entity)."""

    def __init__(self) -> None:
        self.cursors: dict[tuple[str, str], str] = {}

    def get_cursor(self, source: str, entity: str) -> str | None:
        return self.cursors.get((source, entity))

    def save(self, source: str, item: SourceCheckpoint) -> None:
        self.cursors[(source, item.entity)] = item.cursor


def fast_config(base_url: str, **overrides: Any) -> ZendeskSourceConfig:
    """Test settings: no pacing waits, no retry back-off, small pages so every export has several."""
    values: dict[str, Any] = {
        "subdomain": "acme",
        "email": FAKE_EMAIL,
        "token": FAKE_TOKEN,
        "base_url": base_url,
        "incremental_requests_per_minute": 100_000,
        "page_size": 3,
        "retry_backoff_s": 0,
        "max_retry_wait_s": 5,
    }
    values.update(overrides)
    return ZendeskSourceConfig(**values)


def make_connector(base_url: str, cursors: DictCursorStore | None = None, **overrides: Any) -> ZendeskConnector:
    return ZendeskConnector(fast_config(base_url, **overrides), SourceContext(base_dir=Path("."), cursors=cursors))


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk() as server:
        yield server
