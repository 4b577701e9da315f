"""The shipped csv.yaml maps canonical CSV records (shaped like examples/*.csv rows) into exact Intercom bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from deskmigrate.core.model import Company, Contact
from deskmigrate.core.payload import Payload, PayloadRejection
from deskmigrate.transforms import Mapper, load_mapping


def csv_mapper() -> Mapper:
    return Mapper(load_mapping("csv"))


def test_a_company_row_maps_to_the_exact_company_body() -> None:
    company = Company(
        source="csv",
        source_id="0006",
        name="Brückner & Söhne GmbH",
        website="https://brueckner.example.com",
        plan="growth",
        size=180,
        industry="Manufacturing",
        created_at=datetime(2020, 1, 15, 8, 30, tzinfo=timezone(timedelta(hours=1))),
        tags=["emea"],
        custom_fields={"tier": "silver", "renewal_date": "2025-01-15"},
    )
    payload = csv_mapper().map(company)
    assert payload == Payload(
        entity="companies",
        source_id="0006",
        body={
            "company_id": "0006",
            "name": "Brückner & Söhne GmbH",
            "website": "https://brueckner.example.com",
            "plan": "growth",
            "size": 180,
            "industry": "Manufacturing",
            "remote_created_at": 1579073400,
            "custom_attributes": {"renewal_date": 1736899200, "tier": "silver"},  # 2025-01-15T00:00Z
        },
        company_source_ids=[],
        tags=["emea"],
    )


def test_a_contact_row_maps_to_the_exact_contact_body() -> None:
    contact = Contact(
        source="csv",
        source_id="00109",
        email="ines.garcia@umbrella-health.example.com",
        name="Inés García",
        phone="+34 612 345 678",
        role="user",
        company_ids=["0004", "0006"],
        tags=["vip", "emea", "renewal-2025"],
        signed_up_at=datetime(2019, 6, 30, tzinfo=UTC),
        last_seen_at=datetime(2024, 5, 21, tzinfo=UTC),
        custom_fields={"plan_tier": "3", "newsletter": "yes", "notes": "Joint project lead.\nRenewal call booked for Q3."},
    )
    payload = csv_mapper().map(contact)
    assert payload == Payload(
        entity="contacts",
        source_id="00109",
        body={
            "external_id": "00109",
            "role": "user",
            "email": "ines.garcia@umbrella-health.example.com",
            "name": "Inés García",
            "phone": "+34612345678",
            "signed_up_at": 1561852800,
            "last_seen_at": 1716249600,
            "custom_attributes": {"newsletter": True, "notes": "Joint project lead.\nRenewal call booked for Q3.", "plan_tier": 3},
        },
        company_source_ids=["0004", "0006"],
        tags=["vip", "emea", "renewal-2025"],
    )


def test_a_lead_without_optional_columns_sends_only_what_it_has() -> None:
    lead = Contact(
        source="csv",
        source_id="00119",
        role="lead",
        email="sami.virtanen@example.org",
        name="Sami Virtanen",
        custom_fields={"plan_tier": "", "newsletter": "yes", "notes": ""},
    )
    payload = csv_mapper().map(lead)
    assert isinstance(payload, Payload)
    assert payload.body == {
        "external_id": "00119",
        "role": "lead",
        "email": "sami.virtanen@example.org",
        "name": "Sami Virtanen",
        "custom_attributes": {"newsletter": True},
    }


def test_extra_csv_columns_become_text_attributes_declared_for_preflight() -> None:
    mapper = csv_mapper()
    mapper.declare_unmapped("contacts", ["plan_tier", "newsletter", "notes", "Account Manager"])
    payload = mapper.map(Contact(source="csv", source_id="1", custom_fields={"Account Manager": "Kim"}))
    assert isinstance(payload, Payload)
    assert payload.body["custom_attributes"] == {"account_manager": "Kim"}
    declared = {(d.model, d.name): d.data_type for d in mapper.attribute_declarations()}
    assert declared == {
        ("company", "tier"): "string",
        ("company", "renewal_date"): "date",
        ("contact", "plan_tier"): "integer",
        ("contact", "newsletter"): "boolean",
        ("contact", "notes"): "string",
        ("contact", "account_manager"): "string",
        ("contact", "phone_original"): "string",  # where the loader keeps a phone Intercom refuses
    }


def test_only_an_invalid_email_rejects_a_row_other_bad_values_cost_their_field() -> None:
    mapper = csv_mapper()
    rows = [
        Contact(source="csv", source_id="1", email="not-an-email"),
        Contact(source="csv", source_id="2", phone="0161 496 0456"),  # no +country and no default_region
        Contact(source="csv", source_id="3", custom_fields={"plan_tier": "gold"}),
        Contact(source="csv", source_id="4", email="ok@example.com"),
    ]
    results = [mapper.map(row) for row in rows]
    assert [(r.source_id, r.field) for r in results if isinstance(r, PayloadRejection)] == [("1", "email")]
    phone_row, tier_row = results[1], results[2]
    assert isinstance(phone_row, Payload) and phone_row.body["phone"] == "0161 496 0456"  # Intercom's phone is free text
    assert isinstance(tier_row, Payload) and "plan_tier" not in tier_row.body.get("custom_attributes", {})
    assert [n.action for n in phone_row.notes + tier_row.notes] == ["kept_as_written", "dropped"]
    assert isinstance(results[3], Payload)
    assert mapper.report.to_dict()["totals"] == {"mapped": 3, "rejected": 1}
