"""Shared helpers for the Help Scout connector tests: the fake account and a connector factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.helpscout import HelpScoutConnector, HelpScoutSourceConfig
from deskmigrate.core.source import SourceContext
from tests.connectors.reading import DictCursorStore
from tests.fakes.helpscout import FAKE_APP_ID, FAKE_APP_SECRET, FAKE_DOCS_KEY, FakeHelpScout

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def fast_config(api_root: str, docs_root: str | None = None, **overrides: Any) -> HelpScoutSourceConfig:
    """Test settings: no retry back-off; the Docs API only when its root is given."""
    values: dict[str, Any] = {"app_id": FAKE_APP_ID, "app_secret": FAKE_APP_SECRET, "base_url": api_root, "retry_backoff_s": 0}
    if docs_root is not None:
        values |= {"docs_api_key": FAKE_DOCS_KEY, "docs_base_url": docs_root}
    values.update(overrides)
    return HelpScoutSourceConfig(**values)


def make_connector(
    api_root: str,
    docs_root: str | None = None,
    cursors: DictCursorStore | None = None,
    *,
    clock: Callable[[], float] | None = None,
    now: datetime = NOW,
    **overrides: Any,
) -> HelpScoutConnector:
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return HelpScoutConnector(
        fast_config(api_root, docs_root, **overrides), SourceContext(base_dir=Path("."), cursors=cursors), now=lambda: now, **extra
    )


@pytest.fixture
def fake() -> Iterator[FakeHelpScout]:
    with FakeHelpScout() as server:
        yield server
