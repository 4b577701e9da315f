"""The default Freshdesk mapping turns converted records (from the fake account's real shapes) into Intercom bodies."""

from __future__ import annotations

import pytest

from deskmigrate.connectors.freshdesk import convert, fields
from deskmigrate.core.payload import Payload
from deskmigrate.transforms.engine import Mapper
from deskmigrate.transforms.loading import load_mapping
from tests.fakes.freshdesk import default_account


@pytest.fixture(scope="module")
def account() -> dict:
    return default_account()


@pytest.fixture(scope="module")
def catalog(account: dict) -> fields.FieldCatalog:
    result = fields.FieldCatalog()
    result.learn_ticket_fields(account["ticket_fields"])
    result.learn_fields(result.contact_fields, account["contact_fields"])
    result.learn_fields(result.company_fields, account["company_fields"])
    result.groups.update({g["id"]: g["name"] for g in account["groups"]})
    result.agent_ids.update(str(a["id"]) for a in account["agents"])
    return result


@pytest.fixture(scope="module")
def mapper() -> Mapper:
    return Mapper(load_mapping("freshdesk"))


def test_contact_maps_with_prefixed_external_id_companies_tags_and_labelled_fields(mapper: Mapper, catalog: fields.FieldCatalog, account: dict) -> None:
    payload = mapper.map(convert.contact_from_json(account["contacts"][0], catalog))
    assert isinstance(payload, Payload)
    assert payload.body["external_id"] == "fd:10" and payload.body["email"] == "dana@globex.example"
    assert payload.body["custom_attributes"]["plan_tier"] == "Enterprise"
    assert payload.body["custom_attributes"]["freshdesk_verified"] is True
    assert payload.company_source_ids == ["100", "101"] and payload.tags == ["vip"]


def test_company_maps_with_domains_tier_and_renewal_date(mapper: Mapper, catalog: fields.FieldCatalog, account: dict) -> None:
    payload = mapper.map(convert.company_from_json(account["companies"][0], catalog))
    assert isinstance(payload, Payload)
    assert payload.body["company_id"] == "fd:100" and payload.body["industry"] == "Manufacturing"
    attributes = payload.body["custom_attributes"]
    assert attributes["freshdesk_domains"] == "globex.example, globex.test"
    assert attributes["freshdesk_account_tier"] == "Enterprise" and attributes["region"] == "Europe"
    assert attributes["freshdesk_renewal_date"] == 1738281600  # 2025-01-31T00:00:00Z as a date attribute


@pytest.mark.parametrize(("code", "state"), [(2, "open"), (3, "snoozed"), (4, "closed"), (5, "closed"), (6, "snoozed")])
def test_status_codes_become_names_then_intercom_states(mapper: Mapper, catalog: fields.FieldCatalog, account: dict, code: int, state: str) -> None:
    ticket = dict(account["tickets"][0], status=code)
    conversation = convert.conversation_from_ticket(ticket, account["conversations"][1000], catalog)
    payload = mapper.map(conversation)
    assert isinstance(payload, Payload)
    assert payload.body["state"] == state and payload.body["priority"] == "priority"  # Urgent
    assert payload.body["custom_attributes"]["freshdesk_status"] == catalog.statuses[code]
    assert payload.body["custom_attributes"]["freshdesk_priority"] == "Urgent"
    assert payload.body["custom_attributes"]["freshdesk_channel"] == "email"
    assert payload.body["custom_attributes"]["product_line"] == "Widget Pro"
    assert payload.body["custom_attributes"]["freshdesk_group"] == "Hardware"
