"""The default Help Scout mapping loads and maps converted fixture records into Intercom bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.helpscout import convert
from deskmigrate.connectors.helpscout.pagination import embedded_items
from deskmigrate.core.payload import Payload
from deskmigrate.transforms.engine import Mapper
from deskmigrate.transforms.loading import load_mapping

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def mapper() -> Mapper:
    return Mapper(load_mapping("helpscout"))


def payload_of(mapper: Mapper, record: Any) -> Payload:
    result = mapper.map(record)
    assert isinstance(result, Payload), result
    return result


def test_customer_maps_to_contact_with_its_other_emails_properties_and_company(mapper: Mapper) -> None:
    dana = {
        "id": 200, "firstName": "Dana", "lastName": "Scully", "organization": "Globex Corp", "jobTitle": "CTO", "location": "Paris",
        "createdAt": "2024-03-01T09:00:00Z", "updatedAt": "2024-03-01T10:00:00Z",
        "_embedded": {
            "emails": [{"id": 1, "value": "dana@globex.example", "type": "work"}, {"id": 2, "value": "dana.s@home.example", "type": "home"}],
            "phones": [{"id": 3, "value": "+33612345678", "type": "mobile"}, {"id": 4, "value": "+33698765432", "type": "home"}],
            "social_profiles": [{"id": 5, "value": "@dana", "type": "twitter"}],
            "properties": [{"type": "dropdown", "slug": "plan-tier", "name": "Plan tier", "value": "6c1f", "text": "Enterprise"}],
        },
    }
    payload = payload_of(mapper, convert.contact_from_customer(dana))
    assert payload.body["external_id"] == "hs:200" and payload.body["role"] == "user"
    assert payload.body["email"] == "dana@globex.example" and payload.body["phone"] == "+33612345678"
    assert payload.body["signed_up_at"] == 1709283600
    assert payload.body["custom_attributes"] == {
        "helpscout_other_emails": "dana.s@home.example",
        "helpscout_other_phones": "+33698765432",
        "helpscout_job_title": "CTO",
        "helpscout_location": "Paris",
        "plan_tier": "Enterprise",
        "social_twitter": "@dana",
    }
    assert payload.company_source_ids == ["org:globex corp"]
    company = payload_of(mapper, convert.company_from_organization("Globex Corp"))
    assert company.body == {"company_id": "hs:org:globex corp", "name": "Globex Corp"}


@pytest.mark.parametrize(("status", "state"), [("active", "open"), ("pending", "snoozed"), ("closed", "closed"), ("spam", "closed")])
def test_conversation_status_maps_to_state_and_keeps_the_original(mapper: Mapper, status: str, state: str) -> None:
    raw = next(c for c in embedded_items(load("conversations_page3.json"), "conversations") if c["id"] == 1000)
    catalog = convert.MailboxCatalog(mailboxes={"10": "Support"})
    catalog.learn_fields(embedded_items(load("mailbox_10_fields.json"), "fields"))
    payload = payload_of(mapper, convert.conversation_from_json(dict(raw, status=status), embedded_items(raw, "threads"), catalog))
    assert payload.body["state"] == state and payload.body["custom_attributes"]["helpscout_status"] == status
    assert payload.body["custom_attributes"]["helpscout_mailbox"] == "Support"
    assert payload.body["custom_attributes"]["plan"] == "Pro"
    assert payload.tags == ["vip"]
    assert [p["body"]["message_type"] for p in payload.parts] == ["comment", "note", "comment", "note"]  # the line item is a note
    assert payload.parts[1]["author_kind"] == "system" and payload.parts[1]["body"]["text"] == "Ada assigned this conversation to Bob"


def test_docs_article_and_category(mapper: Mapper) -> None:
    article = payload_of(mapper, convert.article_from_json(load("docs_article_b1.json")["article"]))
    assert article.body["title"] == "How to install Acme" and article.body["state"] == "published"
    assert "<code>acme-setup</code>" in article.body["body"]
    category = load("docs_categories_c1.json")["categories"]["items"][0]
    assert payload_of(mapper, convert.collection_from_category(category)).body["name"] == "Install"
