"""The default Zendesk mapping loads and maps converted fixture records into Intercom bodies."""

from __future__ import annotations

import pytest

from deskmigrate.connectors.zendesk import convert
from deskmigrate.core.payload import Payload
from deskmigrate.transforms.engine import Mapper
from deskmigrate.transforms.loading import load_mapping
from tests.connectors.zendesk.conftest import load


@pytest.fixture(scope="module")
def mapper() -> Mapper:
    return Mapper(load_mapping("zendesk"))


def test_user_maps_to_contact_with_prefixed_external_id_and_field_attributes(mapper: Mapper, catalog: convert.FieldCatalog) -> None:
    user = next(u for u in load("users_export.json")["users"] if u["id"] == 10)
    payload = mapper.map(convert.contact_from_user(user, catalog, ["100", "101"]))
    assert isinstance(payload, Payload)
    assert payload.body["external_id"] == "zd:10"
    assert payload.body["email"] == "dana@globex.example" and payload.body["role"] == "user"
    assert payload.body["custom_attributes"]["plan_tier"] == "Enterprise"
    assert payload.body["custom_attributes"]["zendesk_suspended"] is False
    assert payload.company_source_ids == ["100", "101"] and payload.tags == ["vip"]


def test_organization_maps_to_company(mapper: Mapper, catalog: convert.FieldCatalog) -> None:
    org = load("organizations_export.json")["organizations"][0]
    payload = mapper.map(convert.company_from_organization(org, catalog))
    assert isinstance(payload, Payload)
    assert payload.body["company_id"] == "zd:100" and payload.body["name"] == "Globex Corporation"
    assert payload.body["custom_attributes"] == {"account_manager": "Bob Agent", "region": "Europe", "zendesk_domains": "globex.example, globex.test"}
    assert payload.tags == ["enterprise"]


@pytest.mark.parametrize(("status", "state"), [("open", "open"), ("pending", "snoozed"), ("hold", "snoozed"), ("solved", "closed")])
def test_ticket_status_maps_to_state_and_keeps_the_original(mapper: Mapper, catalog: convert.FieldCatalog, status: str, state: str) -> None:
    ticket = dict(load("tickets_export.json")["tickets"][0], status=status)
    payload = mapper.map(convert.conversation_from_ticket(ticket, [], catalog, {}))
    assert isinstance(payload, Payload)
    assert payload.body["state"] == state and payload.body["custom_attributes"]["zendesk_status"] == status
    assert payload.body["priority"] == "priority"
    assert payload.body["custom_attributes"]["zendesk_group"] == "Support"
    assert payload.body["custom_attributes"]["product"] == "Widget Pro"
