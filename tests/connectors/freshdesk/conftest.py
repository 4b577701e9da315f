"""Shared helpers for the Freshdesk connector tests: the fake account and a connector factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.freshdesk import FreshdeskConnector, FreshdeskSourceConfig
from deskmigrate.core.source import SourceContext
from tests.connectors.reading import DictCursorStore
from tests.fakes.freshdesk import FAKE_API_KEY, FAKE_DOMAIN, FakeFreshdesk


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
