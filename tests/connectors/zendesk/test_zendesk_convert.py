"""Zendesk JSON fixtures (real response shapes) → canonical records, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deskmigrate.connectors.zendesk import convert
from tests.connectors.zendesk.conftest import load


def by_id(items: list[dict[str, Any]], record_id: int) -> dict[str, Any]:
    return next(item for item in items if item["id"] == record_id)


def test_organization_becomes_company_with_fields_by_title_and_dropdown_label(catalog: convert.FieldCatalog) -> None:
    org = by_id(load("organizations_export.json")["organizations"], 100)
    company = convert.company_from_organization(org, catalog)
    assert company.source_id == "100"
    assert company.name == "Globex Corporation"
    assert company.domains == ["globex.example", "globex.test"]
    assert company.tags == ["enterprise"]
    assert company.custom_fields["Account manager"] == "Bob Agent"
    assert company.custom_fields["Region"] == "Europe"
    assert company.updated_at == datetime(2024, 3, 1, 8, tzinfo=UTC)


def test_organization_details_notes_and_group_go_to_custom_fields(catalog: convert.FieldCatalog) -> None:
    org = dict(by_id(load("organizations_export.json")["organizations"], 102), group_id=11)
    company = convert.company_from_organization(org, catalog)
    assert company.custom_fields["details"] == "Unit 4, Raccoon Way"
    assert company.custom_fields["notes"] == "Slow payer"
    assert company.custom_fields["group"] == "Billing"
    assert company.custom_fields["group_id"] == "11"
    assert "Region" not in company.custom_fields  # null field values are dropped


def test_end_user_becomes_contact(catalog: convert.FieldCatalog) -> None:
    user = by_id(load("users_export.json")["users"], 10)
    contact = convert.contact_from_user(user, catalog)
    assert (contact.source_id, contact.email, contact.name) == ("10", "dana@globex.example", "Dana Customer")
    assert contact.company_ids == ["100"]
    assert contact.tags == ["vip"]
    assert contact.custom_fields["Plan tier"] == "Enterprise"
    assert contact.custom_fields["Signup source"] == "webinar"
    assert contact.custom_fields["role"] == "end-user"
    assert contact.last_seen_at == datetime(2024, 2, 20, 12, 30, tzinfo=UTC)
    assert contact.signed_up_at == datetime(2024, 1, 15, 8, tzinfo=UTC)


def test_contact_company_ids_come_from_memberships_when_given(catalog: convert.FieldCatalog) -> None:
    user = by_id(load("users_export.json")["users"], 10)
    assert convert.contact_from_user(user, catalog, ["100", "101"]).company_ids == ["100", "101"]


def test_unicode_name_and_missing_email_survive(catalog: convert.FieldCatalog) -> None:
    users = load("users_export.json")["users"]
    assert convert.contact_from_user(by_id(users, 11), catalog).name == "Zoë Ångström"
    no_email = convert.contact_from_user(by_id(users, 14), catalog)
    assert no_email.email is None and no_email.company_ids == []


def test_agent_and_admin_become_agents_suspended_is_inactive(catalog: convert.FieldCatalog) -> None:
    users = load("users_export.json")["users"]
    admin, suspended = by_id(users, 1), by_id(users, 3)
    assert convert.is_agent(admin) and convert.is_agent(suspended)
    assert convert.agent_from_user(admin, catalog).email == "ada@acme.example"
    agent = convert.agent_from_user(suspended, catalog)
    assert agent.active is False and agent.custom_fields["suspended"] is True


def test_deleted_user_is_recognised() -> None:
    users = load("users_export.json")["users"]
    assert convert.is_deleted_user(by_id(users, 17))
    assert not convert.is_deleted_user(by_id(users, 10))


def test_ticket_becomes_conversation_with_labels_and_ordered_parts(catalog: convert.FieldCatalog) -> None:
    export = load("tickets_export.json")
    ticket = by_id(export["tickets"], 1000)
    comments = load("ticket_1000_comments.json")
    roles = {str(u["id"]): u["role"] for u in comments["users"]}
    conversation = convert.conversation_from_ticket(ticket, list(reversed(comments["comments"])), catalog, roles)
    assert conversation.subject == "Printer on fire"
    assert (conversation.requester_id, conversation.assignee_id, conversation.group) == ("10", "2", "Support")
    assert (conversation.status, conversation.priority, conversation.channel) == ("open", "high", "email")
    assert conversation.tags == ["fire", "hardware"]
    assert conversation.custom_fields["Product"] == "Widget Pro"
    assert conversation.custom_fields["Order number"] == "ORD-1001"
    assert conversation.custom_fields["Urgent customer"] is True
    assert conversation.custom_fields["type"] == "incident"
    assert conversation.custom_fields["ticket_form"] == "Default"
    assert [p.source_id for p in conversation.parts] == ["5000", "5001", "5002", "5003"]
    first, reply, note, photo = conversation.parts
    assert first.author_kind == "contact" and first.body_html == "<p>My printer is <strong>on fire</strong>!</p>"
    assert reply.author_kind == "agent" and reply.public
    assert note.public is False
    assert [(a.filename, a.inline) for a in photo.attachments] == [("fire.png", True), ("receipt.pdf", False)]
    assert photo.attachments[1].size == 10240 and photo.attachments[1].content_type == "application/pdf"


def test_solved_time_comes_from_the_metric_set(catalog: convert.FieldCatalog) -> None:
    export = load("tickets_export.json")
    ticket, metric_set = by_id(export["tickets"], 1001), export["metric_sets"][0]
    conversation = convert.conversation_from_ticket(ticket, [], catalog, {}, metric_set)
    assert conversation.custom_fields["solved_at"] == "2024-03-07T09:00:00Z"
    assert conversation.custom_fields["Product"] == "Gadget"
    assert conversation.custom_fields["Refund amount"] == "19.99"


def test_comment_events_become_parts_and_unknown_authors_are_system() -> None:
    events = load("ticket_events_export.json")["ticket_events"]
    children = [child for event in events for child in event["child_events"] if child["event_type"] == "Comment"]
    parts = [convert.part_from_comment(child, {"11": "end-user", "2": "agent"}.get(str(child["author_id"]))) for child in children]
    assert [p.author_kind for p in parts] == ["contact", "agent", "system"]
    assert parts[0].body_text == "Hej! Jag vill ha återbetalning för ORD-7 — tack 🙏"
    assert parts[2].public is False


def test_unknown_dropdown_tag_is_kept_and_unknown_field_keyed_by_id(catalog: convert.FieldCatalog) -> None:
    ticket = {"id": 1, "custom_fields": [{"id": 500, "value": "retired_product"}, {"id": 999, "value": "x"}, {"id": 501, "value": None}]}
    assert convert.ticket_custom_fields(ticket, catalog) == {"Product": "retired_product", "field_999": "x"}


def test_multiselect_values_become_labels() -> None:
    definition = convert.custom_field_from_json({"type": "multiselect", "title": "Areas", "custom_field_options": [{"name": "Billing", "value": "area_billing"}]})
    assert convert.field_value(definition, ["area_billing", "area_other"]) == ["Billing", "area_other"]


def test_categories_and_nested_sections_become_prefixed_collections() -> None:
    category = convert.collection_from_category(load("categories.json")["categories"][0])
    sections = {s["id"]: convert.collection_from_section(s) for s in load("sections.json")["sections"]}
    assert (category.source_id, category.name, category.description, category.position) == ("category:200", "Getting started", "First steps with Acme", 1)
    assert sections[300].parent_id == "category:200"
    assert sections[301].parent_id == "section:300"  # nested section
    assert sections[302].source_id == "section:302" and sections[302].locale == "en-us"


def test_article_with_translation_and_attachments() -> None:
    articles = load("articles_export.json")["articles"]
    article = convert.article_from_json(by_id(articles, 400), load("article_400_translations.json")["translations"])
    assert (article.source_id, article.title, article.collection_id, article.author_id) == ("400", "How to install Acme", "section:300", "1")
    assert article.state == "published" and article.locale == "en-us"
    assert article.url == "https://acme.zendesk.com/hc/en-us/articles/400"
    assert [(t.locale, t.title) for t in article.translations] == [("fr", "Comment installer Acme")]
    assert article.body_html.startswith("<h2>Install</h2>")
    with_files = convert.article_from_json(by_id(articles, 402), [], load("article_402_attachments.json")["article_attachments"])
    assert [(a.filename, a.inline, a.size) for a in with_files.attachments] == [("sample.png", True, 4096), ("invoice-guide.pdf", False, 90000)]


def test_draft_article_and_locale_filter() -> None:
    articles = load("articles_export.json")["articles"]
    assert convert.article_from_json(by_id(articles, 401)).state == "draft"
    translations = load("article_400_translations.json")["translations"]
    assert convert.article_from_json(by_id(articles, 400), translations, locales=["de"]).translations == []


def test_large_ids_stay_exact_text(catalog: convert.FieldCatalog) -> None:
    user = dict(by_id(load("users_export.json")["users"], 10), id=9007199254740993, organization_id=9007199254740995)
    contact = convert.contact_from_user(user, catalog)
    assert contact.source_id == "9007199254740993" and contact.company_ids == ["9007199254740995"]
