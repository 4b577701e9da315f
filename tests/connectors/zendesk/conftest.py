"""Shared helpers for the Zendesk connector tests: the fake account and a connector factory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.zendesk import ZendeskConnector, ZendeskSourceConfig, convert
from deskmigrate.core.source import SourceContext
from tests.connectors.reading import DictCursorStore
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_TOKEN, FakeZendesk

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    """A JSON fixture in Zendesk's response shape."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog() -> convert.FieldCatalog:
    """The field catalog the connector would build from the fixture account's definitions."""
    result = convert.FieldCatalog()
    for item in load("ticket_fields.json")["ticket_fields"]:
        result.ticket_fields[item["id"]] = convert.custom_field_from_json(item)
    for item in load("user_fields.json")["user_fields"]:
        result.user_fields[item["key"]] = convert.custom_field_from_json(item)
    for item in load("organization_fields.json")["organization_fields"]:
        result.organization_fields[item["key"]] = convert.custom_field_from_json(item)
    for item in load("groups.json")["groups"]:
        result.groups[item["id"]] = item["name"]
    for item in load("ticket_forms.json")["ticket_forms"]:
        result.ticket_forms[item["id"]] = item["display_name"]
    return result


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
