"""Pure converters: Freshdesk JSON in its real shapes → canonical records."""

from __future__ import annotations

from deskmigrate.connectors.freshdesk import convert, fields
from tests.fakes.freshdesk import default_account, ticket_fields


def catalog() -> fields.FieldCatalog:
    result = fields.FieldCatalog()
    result.learn_ticket_fields(ticket_fields())
    result.agent_ids.update({"50", "51"})
    return result


def test_custom_fields_of_every_type_are_keyed_by_label_with_their_values() -> None:
    ticket = default_account()["tickets"][0]
    custom = convert.ticket_custom_fields(ticket, catalog())
    assert custom["Order number"] == "A-1001"  # custom_text
    assert custom["Product line"] == "Widget Pro"  # custom_dropdown: the choice text
    assert custom["Refund amount"] == "12.50"  # custom_decimal comes as a string
    assert custom["VIP customer"] is True  # custom_checkbox
    assert custom["Ordered on"] == "2024-02-28"  # custom_date
    assert custom["Units"] == 3  # custom_number
    assert custom["Country"] == "France" and custom["City"] == "Lyon"  # nested_field and its level
    assert "Internal notes" not in custom  # empty paragraph dropped


def test_codes_use_the_accounts_labels_and_fall_back_to_the_documented_names() -> None:
    known = catalog()
    assert known.statuses[6] == "Waiting on Customer" and known.sources[10] == "Outbound Email"
    bare = fields.FieldCatalog()
    ticket = dict(default_account()["tickets"][0], status=99, source=15, priority=2)
    conversation = convert.conversation_from_ticket(ticket, [], bare)
    assert (conversation.status, conversation.channel, conversation.priority) == ("99", "Web Chat", "Medium")


def test_html_with_inline_images_keeps_the_html_and_lists_the_images() -> None:
    html = '<div>See <img src="https://acme.freshdesk.com/inline/attachment?token=x"> and <img src="data:image/png;base64,AAA"></div>'
    images = convert.inline_images(html)
    assert [(i.url, i.inline) for i in images] == [("https://acme.freshdesk.com/inline/attachment?token=x", True)]
    part = convert.part_from_conversation({"id": 1, "user_id": 7, "body": html, "body_text": "See", "incoming": True, "private": False}, catalog())
    assert part.body_html == html and part.author_kind == "contact" and part.attachments == images


def test_ids_stay_text_and_times_are_utc() -> None:
    company = convert.company_from_json({"id": 9007199254740993, "name": "Big", "created_at": "2014-01-08T09:08:53+05:30"}, fields.FieldCatalog())
    assert company.source_id == "9007199254740993"
    assert company.created_at is not None and company.created_at.isoformat() == "2014-01-08T03:38:53+00:00"


def test_other_companies_as_objects_and_deleted_agents_notes() -> None:
    contact = {"id": 1, "name": "A", "company_id": 5, "other_companies": [{"company_id": 6, "view_all_tickets": True}, 5]}
    assert convert.contact_company_ids(contact) == ["5", "6"]
    note = convert.part_from_conversation({"id": 2, "user_id": 99, "body": "", "incoming": False, "private": True}, catalog())
    assert (note.author_kind, note.public) == ("agent", False)  # a departed agent's note is still an agent note


def test_field_definitions_name_each_custom_field_once_by_its_label_with_the_type_its_values_fit() -> None:
    catalog = fields.FieldCatalog()
    catalog.learn_ticket_fields([
        {"name": "status", "label": "Status", "type": "default_status", "default": True, "choices": {"2": ["Open", "Open"]}},
        {"name": "cf_refund_amount", "label": "Refund amount", "type": "custom_decimal", "default": False},
        {"name": "cf_plan", "label": "Plan", "type": "custom_dropdown", "default": False, "choices": ["Basic", "Pro"]},
    ])
    catalog.learn_fields(catalog.contact_fields, [{"name": "vip", "label": "VIP", "type": "custom_checkbox", "default": False},
                                                  {"name": "email", "label": "Email", "type": "default_email", "default": True}])
    found = {(d.entity, d.name): (d.data_type, d.options) for d in fields.field_definitions(catalog)}
    assert found == {("conversations", "Refund amount"): ("float", ()), ("conversations", "Plan"): ("string", ("Basic", "Pro")),
                     ("contacts", "VIP"): ("boolean", ())}
