"""The Mapper: payload bodies, rejections naming the field, unmapped policies, coercion, and the report's counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from deskmigrate.core.errors import MappingError
from deskmigrate.core.model import Article, Company, Contact
from deskmigrate.core.payload import Payload, PayloadRejection
from deskmigrate.transforms import Mapper, MappingReport, MappingSpec, parse_mapping_text, sanitize_attribute_name

CONTACT_MAPPING = """
version: 1
value_maps:
  roles:
    values: {customer: user, prospect: lead}
  segments:
    values: {gold: vip}
    default: standard
contact:
  unmapped: POLICY
  rules:
    - {to: external_id, from: source_id, transform: prefix, args: {prefix: "zd:"}, required: true}
    - {to: email, from: email, transform: email}
    - {to: phone, from: phone, transform: phone, args: {default_region: US}}
    - {to: name, from: [custom_fields.first, custom_fields.last], transform: join, args: {sep: " "}}
    - {to: role, from: custom_fields.kind, transform: map_value, args: {map: roles}, default: user}
    - {to: custom_attributes.segment, from: custom_fields.segment, transform: map_value, args: {map: segments}}
    - {to: custom_attributes.plan_tier, from: custom_fields.Plan Tier}
    - {to: custom_attributes.newsletter, from: custom_fields.newsletter}
    - {to: custom_attributes.renewal, from: custom_fields.renewal}
    - {to: signed_up_at, from: signed_up_at}
  attributes:
    - {name: segment, type: string, options: [vip, standard]}
    - {name: plan_tier, type: integer}
    - {name: newsletter, type: boolean}
    - {name: renewal, type: date}
  tags:
    from: [tags, custom_fields.label]
    add: [migrated]
"""


def mapper(policy: str = "drop") -> Mapper:
    return Mapper(parse_mapping_text(CONTACT_MAPPING.replace("POLICY", policy), "contact.yaml"))


def contact(**fields: Any) -> Contact:
    custom = {"first": "Jane", "last": "Doe", "kind": "customer", "segment": "gold", "Plan Tier": "3", "newsletter": "yes"}
    custom.update(fields.pop("custom_fields", {}))
    values: dict[str, Any] = {"source": "zendesk", "source_id": "42", "email": "jane@example.com", "custom_fields": custom}
    values.update(fields)
    return Contact(**values)


def mapped(result: Payload | PayloadRejection) -> Payload:
    assert isinstance(result, Payload), result
    return result


def rejected(result: Payload | PayloadRejection) -> PayloadRejection:
    assert isinstance(result, PayloadRejection), result
    return result


def test_a_contact_maps_to_the_intercom_body_with_coerced_custom_attributes() -> None:
    record = contact(
        phone="(415) 555-0132",
        tags=["Beta", "beta ", "VIP"],
        company_ids=["7", "9"],
        signed_up_at=datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
        custom_fields={"label": "vip", "renewal": "2025-06-30"},
    )
    payload = mapped(mapper().map(record))
    assert payload.entity == "contacts" and payload.source_id == "42"
    assert payload.body == {
        "external_id": "zd:42",
        "email": "jane@example.com",
        "phone": "+14155550132",
        "name": "Jane Doe",
        "role": "user",
        "custom_attributes": {"newsletter": True, "plan_tier": 3, "renewal": 1751241600, "segment": "vip"},
        "signed_up_at": 1709285400,  # datetimes always leave as unix seconds
    }
    assert list(payload.body["custom_attributes"]) == sorted(payload.body["custom_attributes"])
    assert payload.company_source_ids == ["7", "9"]
    assert payload.tags == ["Beta", "VIP", "migrated"]  # duplicates removed case-insensitively


def test_missing_values_are_not_sent_as_nulls() -> None:
    record = Contact(source="zendesk", source_id="1")
    payload = mapped(mapper().map(record))
    assert payload.body == {"external_id": "zd:1", "role": "user"}


def test_an_invalid_email_rejects_only_that_record_naming_the_field_and_line() -> None:
    engine = mapper()
    result = engine.map(contact(source_id="bad", email="jane@", location="contacts.csv:7"))
    rejection = rejected(result)
    assert (rejection.entity, rejection.source_id, rejection.field) == ("contacts", "bad", "email")
    assert rejection.reason.startswith("contacts.csv:7: invalid email address")
    assert isinstance(engine.map(contact(source_id="good")), Payload)  # the rest maps
    report = engine.report.to_dict()["targets"]["contact"]
    assert (report["mapped"], report["rejected"]) == (1, 1)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"custom_fields": {"renewal": "end of june"}}, "custom_attributes.renewal", "unreadable date"),
        ({"custom_fields": {"Plan Tier": "gold"}}, "custom_attributes.plan_tier", "not a valid integer"),
        ({"custom_fields": {"Plan Tier": "3.5"}}, "custom_attributes.plan_tier", "not a valid integer"),
        ({"custom_fields": {"newsletter": "perhaps"}}, "custom_attributes.newsletter", "not a valid boolean"),
    ],
)
def test_a_value_that_does_not_fit_costs_its_field_not_the_record(fields: dict[str, Any], field: str, reason: str) -> None:
    engine = mapper()
    payload = mapped(engine.map(contact(source_id="odd", email="jane@example.com", location="contacts.csv:9", **fields)))
    assert payload.body["email"] == "jane@example.com"
    assert field.split(".")[1] not in payload.body.get("custom_attributes", {})
    assert [(n.field, n.reason, n.action, n.location) for n in payload.notes] == [(field, reason, "dropped", "contacts.csv:9")]
    assert "gold" not in repr(payload.notes) and "perhaps" not in repr(payload.notes)  # the value kind only, never the value
    notes = engine.report.to_dict()["targets"]["contact"]["field_notes"]
    assert notes == [{"field": field, "reason": reason, "action": "dropped", "count": 1, "examples": ["odd (contacts.csv:9)"]}]


def test_a_phone_that_does_not_parse_is_sent_as_written_with_a_note() -> None:
    payload = mapped(mapper().map(contact(phone=" 555-0119 ")))
    assert payload.body["phone"] == "555-0119"
    assert [(n.field, n.action) for n in payload.notes] == [("phone", "kept_as_written")]


def test_a_phone_extension_is_kept() -> None:
    payload = mapped(mapper().map(contact(phone="+1 415-555-2671 ext. 12")))
    assert payload.body["phone"] == "+14155552671 ext. 12"


def test_every_bad_identity_field_of_a_record_is_named_and_the_rest_only_noted() -> None:
    rejection = rejected(mapper().map(contact(email="x@", phone="1")))
    assert rejection.field == "email"
    assert rejection.reason.startswith("invalid email address") and "phone" not in rejection.reason


def test_on_error_drop_field_on_the_email_rule_lands_the_contact_without_it() -> None:
    text = "version: 1\ncontact:\n  rules:\n    - {to: external_id, from: source_id, required: true}\n" \
           "    - {to: email, from: email, transform: email, on_error: drop_field}\n"
    payload = mapped(Mapper(parse_mapping_text(text)).map(contact(email="bob at example.com")))
    assert "email" not in payload.body and payload.notes[0].field == "email"


def test_a_required_value_that_is_missing_rejects_the_record() -> None:
    spec = parse_mapping_text("version: 1\ncompany:\n  rules:\n    - {to: name, from: name, required: true}\n")
    rejection = rejected(Mapper(spec).map(Company(source="csv", source_id="c1", name="  ")))
    assert (rejection.field, rejection.reason.split(":")[0]) == ("name", "required value missing")


def test_option_attributes_drop_values_outside_their_options_or_keep_them_raw() -> None:
    spec = parse_mapping_text(
        "version: 1\ncompany:\n  rules:\n    - {to: custom_attributes.tier, from: custom_fields.tier}\n"
        "  attributes:\n    - {name: tier, type: string, options: [gold, silver]}\n"
    )
    engine = Mapper(spec)
    assert mapped(engine.map(Company(source="csv", source_id="1", custom_fields={"tier": "gold"}))).body == {
        "custom_attributes": {"tier": "gold"}
    }
    dropped = mapped(engine.map(Company(source="csv", source_id="2", name="Acme", custom_fields={"tier": "bronze"})))
    assert dropped.body == {} and dropped.notes[0].reason == "not one of the attribute's options"
    raw = Mapper(parse_mapping_text(
        "version: 1\ncompany:\n  rules:\n    - {to: custom_attributes.tier, from: custom_fields.tier}\n"
        "  attributes:\n    - {name: tier, type: string, options: [gold, silver], on_error: keep_raw}\n"
    ))
    kept = mapped(raw.map(Company(source="csv", source_id="3", custom_fields={"tier": "bronze"})))
    assert kept.body == {"custom_attributes": {"tier_raw": "bronze"}} and kept.notes[0].action == "kept_raw"
    assert any(a.name == "tier_raw" and a.data_type == "string" for a in raw.attribute_declarations())


def test_value_map_misses_and_defaults_are_counted() -> None:
    engine = mapper()
    engine.map(contact(source_id="1", custom_fields={"kind": "partner", "segment": "silver"}))
    engine.map(contact(source_id="2", custom_fields={"kind": "partner"}))
    engine.map(contact(source_id="3", custom_fields={"kind": ""}))
    report = engine.report.to_dict()["targets"]["contact"]
    assert report["value_map_misses"] == {"roles": {"partner": 2}, "segments": {"silver": 1}}
    assert report["defaults_applied"] == {"role": 3}  # partner (miss, no map default) twice, empty once


def test_unmapped_drop_reports_the_fields() -> None:
    engine = mapper("drop")
    payload = mapped(engine.map(contact(custom_fields={"Favourite Colour": "blue", "empty": " "})))
    assert "favourite_colour" not in payload.body["custom_attributes"]
    assert engine.report.to_dict()["targets"]["contact"]["unmapped_fields"] == {"Favourite Colour": 1}
    assert [d.name for d in engine.attribute_declarations()] == ["segment", "plan_tier", "newsletter", "renewal", "phone_original"]


def test_unmapped_custom_attribute_keeps_the_fields_as_declared_string_attributes() -> None:
    engine = mapper("custom_attribute")
    payload = mapped(engine.map(contact(custom_fields={"Favourite Colour": "blue", "Visits (30d)": 12})))
    assert payload.body["custom_attributes"]["favourite_colour"] == "blue"
    assert payload.body["custom_attributes"]["visits_30d"] == "12"  # auto-declared as string
    declared = {d.name: d for d in engine.attribute_declarations()}
    assert declared["favourite_colour"].data_type == "string" and declared["favourite_colour"].model == "contact"
    assert declared["plan_tier"].data_type == "integer"
    report = engine.report.to_dict()["targets"]["contact"]
    assert report["unmapped_to_custom_attributes"] == {"Favourite Colour": 1, "Visits (30d)": 1}
    assert report["unmapped_fields"] == {}


def test_unmapped_attributes_can_be_declared_up_front_from_the_source_field_names() -> None:
    engine = mapper("custom_attribute")
    added = engine.declare_unmapped("contacts", ["Plan Tier", "Region", "first", "Account Manager"])
    assert [(d.name, d.data_type) for d in added] == [("region", "string"), ("account_manager", "string")]
    assert engine.declare_unmapped("contacts", ["Region"]) == []  # already declared
    assert mapper("drop").declare_unmapped("contacts", ["Region"]) == []


def test_unmapped_error_rejects_the_record_naming_the_field() -> None:
    engine = mapper("error")
    rejection = rejected(engine.map(contact(custom_fields={"Favourite Colour": "blue"})))
    assert rejection.field == "custom_fields.Favourite Colour"
    assert mapped(engine.map(contact(custom_fields={"Favourite Colour": ""}))).source_id == "42"  # nothing would be lost


def test_sanitised_attribute_names() -> None:
    assert sanitize_attribute_name("Plan Tier") == "plan_tier"
    assert sanitize_attribute_name(" Visits (30d) ") == "visits_30d"
    assert sanitize_attribute_name("Größe-2") == "gr_e-2"
    assert sanitize_attribute_name("???") == "field"


def test_undeclared_custom_attribute_rules_are_auto_declared_under_the_custom_attribute_policy() -> None:
    spec = parse_mapping_text(
        "version: 1\ncompany:\n  unmapped: custom_attribute\n  rules:\n    - {to: custom_attributes.Region Code, from: custom_fields.region}\n"
    )
    engine = Mapper(spec)
    assert [(d.model, d.name, d.data_type) for d in engine.attribute_declarations()] == [("company", "Region Code", "string")]
    assert mapped(engine.map(Company(source="csv", source_id="1", custom_fields={"region": 44}))).body == {
        "custom_attributes": {"Region Code": "44"}
    }


def test_content_dropped_is_counted_per_record() -> None:
    spec = parse_mapping_text(
        "version: 1\narticle:\n  rules:\n    - {to: title, from: title, transform: truncate, args: {length: 5}}\n"
        "    - {to: body, from: body_html, transform: sanitize_html, args: {profile: basic}}\n"
    )
    engine = Mapper(spec)
    payload = mapped(engine.map(Article(source="zendesk", source_id="1", title="Long title", body_html="<h3>Hi</h3><p>x</p>")))
    assert payload.body == {"title": "Long ", "body": "Hi<p>x</p>"}
    engine.map(Article(source="zendesk", source_id="2", title="Short", body_html="<p>ok</p>"))
    report = engine.report.to_dict()["targets"]["article"]
    assert report["content_dropped"] == {"body": {"html tags removed": 1}, "title": {"truncated": 1}}
    engine.map(Article(source="zendesk", source_id="3", title="Short", body_html="<h3>A</h3><table><tr><td>x</td></tr></table>"))
    report = engine.report.to_dict()["targets"]["article"]
    assert report["content_dropped"]["body"] == {"html tags removed": 2}  # grouped by kind, whatever the tags
    assert report["content_dropped_items"] == {"body": {"html tags removed": {"h3": 2, "table": 1, "td": 1, "tr": 1}}}
    assert report["mapped"] == 3


def test_a_chain_runs_in_order_and_stops_at_an_empty_value() -> None:
    spec = parse_mapping_text(
        "version: 1\ncontact:\n  rules:\n"
        "    - {to: name, from: custom_fields.nick, transform: [strip, {prefix: {prefix: '@'}}, uppercase]}\n"
        "    - {to: email, from: custom_fields.mail, transform: [strip, email]}\n"
        "    - {to: avatar, from: custom_fields.photo, transform: [strip, default_if_empty], args: {default: 'https://x/y.png'}}\n"
    )
    engine = Mapper(spec)
    record = Contact(source="csv", source_id="1", custom_fields={"nick": " jd ", "mail": " ", "photo": "\t"})
    assert mapped(engine.map(record)).body == {"name": "@JD"}
    record = Contact(source="csv", source_id="1", custom_fields={"nick": "jd", "mail": "a@b.co", "photo": "x\t"})
    assert mapped(engine.map(record)).body == {"name": "@JD", "email": "a@b.co", "avatar": "x"}


def test_a_transform_failing_on_a_value_drops_the_field_unless_the_rule_says_reject() -> None:
    text = "version: 1\ncontact:\n  rules:\n    - {to: name, from: custom_fields.n, transform: uppercase ON_ERROR}\n"
    record = Contact(source="csv", source_id="1", custom_fields={"n": {"nested": 1}})
    payload = mapped(Mapper(parse_mapping_text(text.replace(" ON_ERROR", ""))).map(record))
    assert "name" not in payload.body and payload.notes[0].reason == "not text"
    rejection = rejected(Mapper(parse_mapping_text(text.replace(" ON_ERROR", ", on_error: reject"))).map(record))
    assert rejection.field == "name" and rejection.reason.startswith("not text")


def test_mapping_an_entity_without_a_section_is_a_mapping_error() -> None:
    engine = mapper()
    assert engine.handles("contacts") and not engine.handles("companies")
    with pytest.raises(MappingError, match="no section for companies"):
        engine.map(Company(source="csv", source_id="1"))


def test_a_spec_built_in_code_is_checked_too() -> None:
    spec = MappingSpec.model_validate({"version": 1, "contact": {"rules": [{"to": "name", "from": "name", "transform": "nope"}]}})
    with pytest.raises(MappingError, match="unknown transform 'nope'"):
        Mapper(spec)


def test_reports_merge() -> None:
    first, second = mapper(), mapper()
    first.map(contact(source_id="1", email="bad@"))
    second.map(contact(source_id="2", email="bad@"))
    second.map(contact(source_id="3"))
    total = MappingReport()
    total.merge(first.report)
    total.merge(second.report)
    report = total.to_dict()
    assert report["totals"] == {"mapped": 1, "rejected": 2}
    assert report["targets"]["contact"]["rejection_reasons"]["email: invalid email address"] == {"count": 2, "examples": ["1", "2"]}


def test_rejection_examples_are_capped() -> None:
    engine = Mapper(mapper().spec, MappingReport(max_examples=2))
    for number in range(4):
        engine.map(contact(source_id=str(number), email="bad@"))
    reasons = engine.report.to_dict()["targets"]["contact"]["rejection_reasons"]
    assert reasons["email: invalid email address"] == {"count": 4, "examples": ["0", "1"]}


def test_payload_hash_is_stable_across_key_order_and_changes_with_content() -> None:
    engine = mapper()
    one = mapped(engine.map(contact(custom_fields={"newsletter": "no", "Plan Tier": "2"})))
    reordered = Payload(
        entity=one.entity,
        source_id=one.source_id,
        body={key: one.body[key] for key in reversed(list(one.body))}
        | {"custom_attributes": dict(reversed(list(one.body["custom_attributes"].items())))},
        company_source_ids=list(reversed(one.company_source_ids)),
        tags=list(reversed(one.tags)),
    )
    assert reordered.content_hash() == one.content_hash()
    assert mapped(engine.map(contact(custom_fields={"newsletter": "no", "Plan Tier": "2"}))).content_hash() == one.content_hash()
    changed = mapped(engine.map(contact(custom_fields={"newsletter": "no", "Plan Tier": "4"})))
    assert changed.content_hash() != one.content_hash()


def test_an_unmapped_field_whose_name_another_model_owns_gets_a_model_prefix() -> None:
    spec = parse_mapping_text(
        "version: 1\ncompany:\n  attributes:\n    - {name: tier, type: string}\n"
        "contact:\n  unmapped: custom_attribute\n  rules:\n    - {to: external_id, from: source_id}\n"
    )
    engine = Mapper(spec)
    payload = mapped(engine.map(Contact(source="csv", source_id="1", custom_fields={"Tier": "gold"})))
    assert payload.body["custom_attributes"] == {"contact_tier": "gold"}
    assert ("contact", "contact_tier") in {(d.model, d.name) for d in engine.attribute_declarations()}


def test_declared_attribute_names_must_be_unique_across_models() -> None:
    text = "version: 1\ncompany:\n  attributes:\n    - {name: tier, type: string}\ncontact:\n  attributes:\n    - {name: Tier, type: integer}\n"
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(text, "m.yaml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("contact.attributes[0].name", 7)


def test_a_national_phone_is_read_in_the_records_country_or_locale_else_the_configs_region() -> None:
    text = "version: 1\ncontact:\n  rules:\n    - {to: external_id, from: source_id, required: true}\n" \
           "    - {to: phone, from: phone, transform: phone}\n"
    engine = Mapper(parse_mapping_text(text), phone_region="US")
    assert mapped(engine.map(contact(source_id="gb", phone="020 7946 0958", country="GB"))).body["phone"] == "+442079460958"
    assert mapped(engine.map(contact(source_id="de", phone="030 901820", locale="de-DE"))).body["phone"] == "+4930901820"
    assert mapped(engine.map(contact(source_id="us", phone="(415) 555-2671"))).body["phone"] == "+14155552671"
    unknown = mapped(Mapper(parse_mapping_text(text)).map(contact(source_id="none", phone="(415) 555-2671")))
    assert unknown.body["phone"] == "(415) 555-2671" and unknown.notes[0].action == "kept_as_written"
