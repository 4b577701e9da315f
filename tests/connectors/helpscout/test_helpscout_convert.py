"""Pure converters from Help Scout JSON fixtures (Mailbox API 2.0 and Docs API v1 response shapes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.helpscout import convert
from deskmigrate.connectors.helpscout.pagination import embedded_items

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def catalog() -> convert.MailboxCatalog:
    result = convert.MailboxCatalog(mailboxes={"10": "Support", "11": "Sales"})
    result.learn_fields(embedded_items(fixture("mailbox_10_fields.json"), "fields"))
    return result


def conversation(page: str, conversation_id: int) -> dict[str, Any]:
    return next(c for c in embedded_items(fixture(page), "conversations") if c["id"] == conversation_id)


def test_customer_with_two_emails_two_phones_properties_and_social_profiles() -> None:
    customers = {c["id"]: c for c in embedded_items(fixture("customers_page1.json"), "customers")}
    contact = convert.contact_from_customer(customers[206])
    assert (contact.source_id, contact.email, contact.name, contact.company_ids) == ("206", "ivan@initech.example", "Ivan Phone", ["org:initech"])
    assert contact.created_at is not None and contact.signed_up_at == contact.created_at
    no_email = convert.contact_from_customer(customers[204] | {"_embedded": {}})
    assert no_email.email is None and no_email.phone is None and no_email.custom_fields == {}


def test_properties_prefer_their_text_and_social_profiles_are_keyed_by_type() -> None:
    customer = {
        "id": 1, "firstName": "  ", "lastName": None, "organization": "  ",
        "_embedded": {
            "emails": [{"id": 1, "value": "a@x.example", "type": "work"}, {"id": 2, "value": "", "type": "home"}],
            "properties": [{"slug": "tier", "name": "Tier", "value": "6c1f", "text": "Gold"}, {"slug": "n", "name": "Seats", "value": 5, "text": ""}],
            "social_profiles": [{"id": 3, "value": "in/a", "type": "linkedin"}],
        },
    }
    contact = convert.contact_from_customer(customer)
    assert contact.name is None and contact.company_ids == [] and "other_emails" not in contact.custom_fields
    assert contact.custom_fields == {"Tier": "Gold", "Seats": 5, "social_linkedin": "in/a"}


def test_organization_names_are_one_company_whatever_their_case_and_spacing() -> None:
    assert convert.company_source_id("Globex  Corp") == convert.company_source_id("globex corp ") == "org:globex corp"
    assert convert.company_source_id("   ") is None
    assert convert.company_from_organization(" Globex   Corp ").name == "Globex Corp"


def test_agents_from_users() -> None:
    agents = [convert.agent_from_user(u) for u in embedded_items(fixture("users.json"), "users")]
    assert [(a.source_id, a.email, a.name) for a in agents] == [("1", "ada@acme.example", "Ada Admin"), ("2", "bob@acme.example", "Bob Agent")]


def test_conversation_with_a_line_item_a_reply_a_note_and_an_attachment() -> None:
    result = convert.conversation_from_json(conversation("conversations_page3.json", 1000), embedded_items(conversation("conversations_page3.json", 1000), "threads"), catalog())
    assert (result.status, result.group, result.assignee_id, result.requester_id) == ("active", "Support", "2", "200")
    assert result.custom_fields == {"Plan": "Pro", "Order number": "A-1", "number": 1, "source_type": "email"}
    assert [p.source_id for p in result.parts] == ["5000", "5001", "5002", "5003"]  # the API lists newest first
    line_item = result.parts[1]
    assert (line_item.author_kind, line_item.public, line_item.author_id) == ("system", False, "1")
    assert line_item.body_html == "<p>Ada assigned this conversation to Bob</p>"
    without = convert.conversation_from_json(conversation("conversations_page3.json", 1000), embedded_items(conversation("conversations_page3.json", 1000), "threads"), catalog(), keep_line_items=False)
    assert [p.source_id for p in without.parts] == ["5000", "5002", "5003"]


def test_forward_threads_and_unsent_drafts() -> None:
    vendor = conversation("conversations_page1.json", 1005)
    result = convert.conversation_from_json(vendor, embedded_items(vendor, "threads"), catalog())
    assert [(p.source_id, p.public) for p in result.parts] == [("5050", True), ("5051", False)]
    assert result.status == "closed" and "closed_at" not in result.custom_fields


def test_chat_conversations_are_recognised_and_their_full_threads_used() -> None:
    chat = {"id": 9, "type": "chat", "_embedded": {"threads": []}}
    assert convert.has_chat_threads(chat)
    assert not convert.has_chat_threads({"id": 8, "type": "email", "_embedded": {"threads": [{"type": "customer"}]}})
    threads = embedded_items(fixture("threads_1002.json"), "threads")
    result = convert.conversation_from_json({"id": 1002, "type": "chat", "status": "closed"}, threads, catalog())
    assert result.parts[0].body_html.endswith("where did it go?") and result.parts[1].author_kind == "agent"


def test_unknown_dropdown_options_keep_helpscout_text_and_team_assignees_are_not_agents() -> None:
    raw = {
        "id": 7, "status": "pending", "mailboxId": 99, "type": "email",
        "assignee": {"id": 55, "type": "team", "first": "Tier 2", "last": ""},
        "customFields": [{"id": 104, "name": "Plan", "value": "999", "text": "Legacy"}, {"id": 300, "name": "Gone", "value": "x", "text": "x"}],
    }
    result = convert.conversation_from_json(raw, [], catalog())
    assert result.custom_fields["Plan"] == "Legacy" and result.custom_fields["Gone"] == "x"
    assert result.assignee_id is None and result.custom_fields["team"] == "Tier 2" and result.group == "99"


def test_thread_authors_hidden_threads_and_attachment_links() -> None:
    thread = {
        "id": 1, "type": "reply", "state": "hidden", "createdBy": {"id": 4, "type": "system_user"}, "body": "<p>x</p>",
        "createdAt": "2024-01-01T00:00:00Z",
        "_embedded": {"attachments": [
            {"id": 1, "filename": "a.pdf", "mimeType": "application/pdf", "size": 10, "_links": {"data": {"href": "https://api.helpscout.net/v2/x/data"}}},
            {"id": 2, "filename": "b.pdf", "_links": {}},
        ]},
    }
    part = convert.part_from_thread(thread)
    assert (part.author_kind, part.public) == ("agent", False)
    assert [a.url for a in part.attachments] == ["https://api.helpscout.net/v2/x/data"]
    assert convert.line_item_text({"type": "lineitem", "assignedTo": {"first": "Bob", "last": "Agent"}}) == "Assigned to Bob Agent"
    assert convert.line_item_text({"type": "lineitem", "status": "nochange"}) == "Conversation updated"


def test_docs_category_and_article() -> None:
    categories = [convert.collection_from_category(c) for c in fixture("docs_categories_c1.json")["categories"]["items"]]
    assert [(c.source_id, c.parent_id, c.position) for c in categories] == [
        ("category:5f00000000000000000000a1", "collection:5f00000000000000000000c1", 1),
        ("category:5f00000000000000000000a2", "collection:5f00000000000000000000c1", 2),
    ]
    article = convert.article_from_json(fixture("docs_article_b1.json")["article"])
    assert (article.title, article.state, article.author_id) == ("How to install Acme", "published", "1")
    assert article.url == "https://acme.helpscoutdocs.com/article/101-how-to-install-acme"
    assert article.custom_fields["keywords"] == ["acme"]


def test_a_customer_without_an_id_is_not_a_contact() -> None:
    with pytest.raises(KeyError):
        convert.contact_from_customer({"firstName": "No id"})
    with pytest.raises(ValueError):
        convert.article_from_json({"id": "5f1", "name": None, "status": "published", "createdAt": "not a date"})


def test_field_definitions_merge_a_name_several_mailboxes_define() -> None:
    catalog = convert.MailboxCatalog()
    catalog.learn_fields([{"id": 1, "name": "Plan", "type": "DROPDOWN", "options": [{"id": 10, "label": "Basic"}]},
                          {"id": 2, "name": "Seats", "type": "NUMBER"}])
    catalog.learn_fields([{"id": 3, "name": "Plan", "type": "DROPDOWN", "options": [{"id": 11, "label": "Pro"}]},
                          {"id": 4, "name": "Seats", "type": "SINGLE_LINE"}])
    found = {d.name: (d.data_type, d.options) for d in convert.field_definitions(catalog)}
    assert found == {"Plan": ("string", ("Basic", "Pro")), "Seats": ("string", ())}  # mailboxes disagree on Seats: text holds both
