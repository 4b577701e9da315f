"""Real accounts' messy values through the Mapper: each costs its field (noted), never the record; only identity rejects."""

from __future__ import annotations

from typing import Any

import pytest

from deskmigrate.core.errors import MappingError
from deskmigrate.core.model import Contact
from deskmigrate.core.payload import Payload, PayloadRejection
from deskmigrate.transforms import Mapper, parse_mapping_text
from deskmigrate.transforms.checks import source_field_problems

MAPPING = """
version: 1
contact:
  rules:
    - {to: external_id, from: source_id, required: true}
    - {to: email, from: email, transform: email}
    - {to: phone, from: phone, transform: phone}
    - {to: signed_up_at, from: signed_up_at, transform: unix_time}
    - {to: last_seen_at, from: last_seen_at}
    - {to: custom_attributes.plan_tier, from: custom_fields.Plan Tier}
    - {to: custom_attributes.seats, from: custom_fields.Seats, on_error: keep_raw}
    - {to: custom_attributes.renewal, from: custom_fields.Renewal}
  attributes:
    - {name: plan_tier, type: integer}
    - {name: seats, type: integer}
    - {name: renewal, type: date}
"""


def engine(**options: Any) -> Mapper:
    return Mapper(parse_mapping_text(MAPPING, "contact.yaml"), **options)


def contact(source_id: str = "7", **fields: Any) -> Contact:
    values: dict[str, Any] = {"source": "csv", "source_id": source_id, "email": "ana@example.com", "location": f"contacts.csv:{source_id}"}
    values.update(fields)
    return Contact(**values)


def landed(result: Payload | PayloadRejection) -> Payload:
    assert isinstance(result, Payload), result
    return result


@pytest.mark.parametrize(
    ("written", "hints", "sent", "action"),
    [
        ("286-133-4778", {}, "286-133-4778", "kept_as_written"),  # 286 is no US area code
        ("(283)276-9009", {}, "+12832769009", None),
        ("+1 555 0119", {}, "+1 555 0119", "kept_as_written"),  # fictional
        ("001-163-300-9875", {}, "001-163-300-9875", "kept_as_written"),
        ("+44 20 7946 0958", {}, "+442079460958", None),
        ("020 7946 0958", {"country": "GB"}, "+442079460958", None),
        ("020 7946 0958", {"country": "United Kingdom"}, "+442079460958", None),
        ("030 123456", {"locale": "de-DE"}, "+4930123456", None),
        ("030 123456", {"time_zone": "Berlin"}, "+4930123456", None),  # Zendesk/Freshdesk (Rails) zone name
        ("11 91234 5678", {"locale": "pt_BR"}, "+5511912345678", None),
        ("(415) 555-2671", {"time_zone": "Eastern Time (US & Canada)"}, "+14155552671", None),
        ("+1 415-555-2671 ext. 12", {}, "+14155552671 ext. 12", None),
        ("(415) 555-2671 #12", {}, "+14155552671 ext. 12", None),
        ("555-0119 x4264", {}, "555-0119 x4264", "kept_as_written"),  # not a number, extension and all kept
    ],
)
def test_phones_are_e164_when_they_read_else_sent_as_written(written: str, hints: dict[str, str], sent: str, action: str | None) -> None:
    mapper = engine(phone_region="US")
    payload = landed(mapper.map(contact(phone=written, **hints)))
    assert payload.body["phone"] == sent
    assert [(n.field, n.action, n.location) for n in payload.notes] == ([("phone", action, "contacts.csv:7")] if action else [])
    assert written not in repr(payload.notes)


def test_the_rules_default_region_comes_before_the_records_and_the_configs() -> None:
    text = MAPPING.replace("transform: phone}", "transform: phone, args: {default_region: GB}}")
    mapper = Mapper(parse_mapping_text(text), phone_region="US")
    assert landed(mapper.map(contact(phone="020 7946 0958", locale="de-DE"))).body["phone"] == "+442079460958"


def test_writing_phone_declares_phone_original_and_a_clashing_declaration_is_refused() -> None:
    declared = {(d.model, d.name): d.data_type for d in engine().attribute_declarations()}
    assert declared[("contact", "phone_original")] == "string"
    clash = MAPPING + "    - {name: phone_original, type: integer}\n"
    with pytest.raises(MappingError, match="phone_original"):
        parse_mapping_text(clash)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("4 March 2021", 1614816000),
        ("March 4, 2021", 1614816000),
        ("20210304", 1614816000),
        ("1614816000", 1614816000),
        ("1614816000000", 1614816000),
        ("Thu, 04 Mar 2021 00:00:00 +0000", 1614816000),
    ],
)
def test_dates_in_every_common_format_land(written: str, expected: int) -> None:
    payload = landed(engine().map(contact(signed_up_at=written, last_seen_at=written, custom_fields={"Renewal": written})))
    assert payload.body["signed_up_at"] == payload.body["last_seen_at"] == expected  # with and without unix_time
    assert payload.body["custom_attributes"] == {"renewal": expected}
    assert payload.notes == []


def test_an_unreadable_date_drops_the_field_with_a_note_and_the_contact_lands() -> None:
    mapper = engine()
    payload = landed(mapper.map(contact(signed_up_at="soon", custom_fields={"Renewal": "next spring"})))
    assert "signed_up_at" not in payload.body and "custom_attributes" not in payload.body
    assert {(n.field, n.reason, n.action) for n in payload.notes} == {
        ("signed_up_at", "unreadable date", "dropped"),
        ("custom_attributes.renewal", "unreadable date", "dropped"),
    }
    notes = mapper.report.to_dict()["targets"]["contact"]["field_notes"]
    assert {(n["field"], n["count"], tuple(n["examples"])) for n in notes} == {
        ("signed_up_at", 1, ("7 (contacts.csv:7)",)),
        ("custom_attributes.renewal", 1, ("7 (contacts.csv:7)",)),
    }


def test_a_value_over_12_decides_the_columns_day_first_order_for_the_next_mapper() -> None:
    plan = engine()
    early = landed(plan.map(contact("1", signed_up_at="03/04/2021")))
    assert early.body["signed_up_at"] == 1614816000  # 4 March: month-first until the column shows otherwise
    assert plan.report.to_dict()["targets"]["contact"]["ambiguous_dates"] == {"signed_up_at": {"monthfirst": 1}}
    landed(plan.map(contact("2", signed_up_at="13/04/2021")))
    assert plan.learned_date_orders() == {"contact.signed_up_at": "dayfirst"}
    assert plan.report.to_dict()["targets"]["contact"]["ambiguous_dates"] == {}  # the column showed its order
    assert landed(plan.map(contact("3", signed_up_at="03/04/2021"))).body["signed_up_at"] == 1617408000  # 3 April

    load = engine(date_orders=plan.learned_date_orders())
    assert landed(load.map(contact("1", signed_up_at="03/04/2021"))).body["signed_up_at"] == 1617408000
    assert load.report.to_dict()["targets"]["contact"]["ambiguous_dates"] == {}


def test_without_evidence_the_rule_or_the_configs_dayfirst_decides_and_the_plan_counts_them() -> None:
    by_default = engine(dayfirst=True)
    assert landed(by_default.map(contact(signed_up_at="03/04/2021"))).body["signed_up_at"] == 1617408000
    assert by_default.report.to_dict()["targets"]["contact"]["ambiguous_dates"] == {"signed_up_at": {"dayfirst": 1}}
    by_rule = Mapper(parse_mapping_text(MAPPING.replace("transform: unix_time}", "transform: unix_time, args: {dayfirst: true}}")))
    assert landed(by_rule.map(contact(signed_up_at="03/04/2021"))).body["signed_up_at"] == 1617408000
    attribute = Mapper(parse_mapping_text(MAPPING.replace("type: date}", "type: date, dayfirst: true}")))
    assert landed(attribute.map(contact(custom_fields={"Renewal": "03/04/2021"}))).body["custom_attributes"] == {"renewal": 1617408000}
    formatted = Mapper(parse_mapping_text(MAPPING.replace("transform: unix_time}", "transform: unix_time, args: {date_format: '%d|%m|%Y'}}")))
    assert landed(formatted.map(contact(signed_up_at="04|03|2021"))).body["signed_up_at"] == 1614816000


def test_gold_for_an_integer_is_dropped_or_kept_as_text_in_raw() -> None:
    mapper = engine()
    payload = landed(mapper.map(contact(custom_fields={"Plan Tier": "gold", "Seats": "gold"})))
    assert payload.body["custom_attributes"] == {"seats_raw": "gold"}
    assert {(n.field, n.reason, n.action, n.value_kind) for n in payload.notes} == {
        ("custom_attributes.plan_tier", "not a valid integer", "dropped", "text (4 characters)"),
        ("custom_attributes.seats", "not a valid integer", "kept_raw", "text (4 characters)"),
    }
    assert ("contact", "seats_raw", "string") in {(d.model, d.name, d.data_type) for d in mapper.attribute_declarations()}


def test_keep_raw_on_a_failing_transform_writes_the_original_text() -> None:
    text = MAPPING.replace("transform: unix_time}", "transform: unix_time, on_error: keep_raw}")
    text = text.replace("{to: custom_attributes.renewal, from: custom_fields.Renewal}",
                        "{to: custom_attributes.renewal, from: custom_fields.Renewal, transform: unix_time, on_error: keep_raw}")
    payload = landed(Mapper(parse_mapping_text(text)).map(contact(signed_up_at="soon", custom_fields={"Renewal": "soon"})))
    assert payload.body["signed_up_at"] == "soon"
    assert payload.body["custom_attributes"] == {"renewal_raw": "soon"}
    assert {n.action for n in payload.notes} == {"kept_raw"}


def test_an_invalid_email_rejects_with_its_line_unless_the_rule_says_drop_field() -> None:
    rejection = engine().map(contact(email="ana at example.com", phone="not a phone", signed_up_at="soon"))
    assert isinstance(rejection, PayloadRejection) and rejection.field == "email"
    assert rejection.reason.startswith("contacts.csv:7: invalid email address")
    lenient = Mapper(parse_mapping_text(MAPPING.replace("transform: email}", "transform: email, on_error: drop_field}")))
    payload = landed(lenient.map(contact(email="ana at example.com")))
    assert "email" not in payload.body and payload.body["external_id"] == "7"
    assert [(n.field, n.reason, n.action) for n in payload.notes] == [("email", "invalid email address", "dropped")]


def test_rules_reading_custom_fields_no_record_has_are_named_with_a_did_you_mean() -> None:
    text = MAPPING.replace("custom_fields.Plan Tier}", "custom_fields.Lifecyle}").replace(
        "custom_fields.Seats, on_error: keep_raw}", "custom_fields.Sets, required: true}")
    spec = parse_mapping_text(text)
    found = source_field_problems(spec, {"contact": {"Lifecycle", "Seats", "Renewal"}})
    assert found == [
        ("contact.rules[5].from", "custom_fields.Lifecyle: no record has this field (did you mean 'Lifecycle'?)"),
        ("contact.rules[6].from",
         "custom_fields.Sets: required, but no record has this field, so every contact would be rejected (did you mean 'Seats'?)"),
    ]
    assert source_field_problems(spec, {"company": {"x"}}) == []  # no contact records staged: nothing to judge
