"""The Help Scout connector on an account like a real one: optional lists not served, teammates as requesters, a deleted
customer, national phones and odd custom values, all read without losing a record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Agent, Contact, Conversation, SourceNotice
from tests.connectors.helpscout.conftest import make_connector
from tests.connectors.reading import records
from tests.fakes.helpscout import (
    MESSY_DELETED_CUSTOMER,
    MESSY_DELETED_REQUESTER_CONVERSATION,
    MESSY_FIRST_CUSTOMER,
    MESSY_TEAMMATE_CUSTOMER,
    MESSY_TEAMMATE_CUSTOMER_CONVERSATION,
    MESSY_USER_ONLY_CONVERSATION,
    FakeHelpScout,
    messy_account,
)
from tests.fakes.messy import PEOPLE, SAME_EMAIL_PAIR

MAILBOX = ("companies", "contacts", "agents", "conversations")
CONVERSATIONS = 39


@pytest.fixture
def messy() -> Iterator[FakeHelpScout]:
    with FakeHelpScout(messy_account()) as server:
        yield server


def read_all(fake: FakeHelpScout) -> list:
    connector = make_connector(fake.api_root)
    return [item for entity in MAILBOX for item in connector.read(entity)]


def notices(items: list) -> list[SourceNotice]:
    return [i for i in items if isinstance(i, SourceNotice)]


def of(items: list, kind: type) -> dict[str, object]:
    return {r.source_id: r for r in records(items) if isinstance(r, kind)}


OPTIONAL = [
    ("mailboxes", "mailboxes", "conversations"),
    ("mailboxes/10/fields", "the custom fields of a mailbox", "conversations"),
    ("users", "users", "agents"),
]


@pytest.mark.parametrize("status", [403, 404])
@pytest.mark.parametrize(("route", "what", "entity"), OPTIONAL, ids=[o[0] for o in OPTIONAL])
def test_every_optional_list_not_served_costs_no_customer_record(messy: FakeHelpScout, route: str, what: str, entity: str, status: int) -> None:
    served = read_all(messy)
    messy.refuse(route, status)
    refused = read_all(messy)
    assert entity in {n.entity for n in notices(refused) if n.message.startswith(f"{what} not readable (HTTP {status}): ")}
    for kind in (Contact, Conversation):
        assert of(refused, kind).keys() == of(served, kind).keys()
    assert len(of(refused, Conversation)) == CONVERSATIONS and len(of(refused, Contact)) == len(PEOPLE) + 1
    assert not any(n.message.startswith(f"{what} not readable") for n in notices(served))


def test_mailbox_fields_not_served_keep_values_under_the_names_conversations_give(messy: FakeHelpScout) -> None:
    messy.refuse("mailboxes/10/fields", 403)
    conversation = of(read_all(messy), Conversation)["4005"]
    assert conversation.custom_fields["Units"] == "gold" and conversation.custom_fields["Order date"] == PEOPLE[5].signup  # type: ignore[attr-defined]


def test_the_plan_counts_an_optional_list_not_served_as_zero(messy: FakeHelpScout) -> None:
    messy.refuse("tags", 403)
    plan = make_connector(messy.api_root).describe_plan()
    assert plan["counts"]["tags"] == 0 and plan["counts"]["customers"] == len(PEOPLE) + 1
    assert any(m.startswith("the tags list not readable (HTTP 403)") for m in plan["notices"])


@pytest.mark.parametrize(("route", "entity"), [("customers", "contacts"), ("conversations", "conversations")])
def test_the_records_themselves_not_served_stop_the_read_with_a_clear_message(messy: FakeHelpScout, route: str, entity: str) -> None:
    messy.refuse(route, 403)
    with pytest.raises(SourceError, match=f"GET /v2/{route} → HTTP 403"):
        list(make_connector(messy.api_root).read(entity))


def test_a_teammate_who_is_also_a_customer_requests_as_that_customer(messy: FakeHelpScout) -> None:
    items = read_all(messy)
    conversation = of(items, Conversation)[str(MESSY_TEAMMATE_CUSTOMER_CONVERSATION)]
    assert conversation.requester_id == str(MESSY_TEAMMATE_CUSTOMER)  # type: ignore[attr-defined]
    assert of(items, Contact)[str(MESSY_TEAMMATE_CUSTOMER)].email == "ada@acme.example"  # type: ignore[attr-defined]
    first = conversation.parts[0]  # type: ignore[attr-defined]
    assert (first.author_kind, first.author_id) == ("contact", str(MESSY_TEAMMATE_CUSTOMER))


def test_a_teammates_conversation_without_a_customer_is_requested_by_the_user(messy: FakeHelpScout) -> None:
    items = read_all(messy)
    conversation = of(items, Conversation)[str(MESSY_USER_ONLY_CONVERSATION)]
    assert conversation.requester_id == "2"  # type: ignore[attr-defined]
    assert of(items, Agent)["2"].email == "bob@acme.example"  # type: ignore[attr-defined]
    assert (conversation.parts[0].author_kind, conversation.parts[0].author_id) == ("agent", "2")  # type: ignore[attr-defined]


def test_a_conversation_started_by_a_teammate_keeps_the_customer_as_requester(messy: FakeHelpScout) -> None:
    conversation = of(read_all(messy), Conversation)["4003"]
    assert conversation.requester_id == str(MESSY_FIRST_CUSTOMER + 3)  # type: ignore[attr-defined]
    assert (conversation.parts[0].author_kind, conversation.parts[0].author_id) == ("agent", "2")  # type: ignore[attr-defined]


def test_a_deleted_customer_is_staged_nowhere_and_its_conversation_still_names_it(messy: FakeHelpScout) -> None:
    items = read_all(messy)
    assert str(MESSY_DELETED_CUSTOMER) not in of(items, Contact) and str(MESSY_DELETED_CUSTOMER) not in of(items, Agent)
    conversation = of(items, Conversation)[str(MESSY_DELETED_REQUESTER_CONVERSATION)]
    assert conversation.requester_id == str(MESSY_DELETED_CUSTOMER)  # type: ignore[attr-defined]


def test_customers_carry_their_address_country_as_a_region_hint(messy: FakeHelpScout) -> None:
    contacts = of(read_all(messy), Contact)
    harriet, oliver = contacts[str(MESSY_FIRST_CUSTOMER + 4)], contacts[str(MESSY_FIRST_CUSTOMER + 5)]
    assert (harriet.country, harriet.phone) == ("GB", "020 7946 0958")  # type: ignore[attr-defined]
    assert oliver.country is None and oliver.phone == "+44 20 7946 0958 ext. 12"  # type: ignore[attr-defined]


def test_messy_values_reach_the_mapping_as_written_and_cost_nothing(messy: FakeHelpScout) -> None:
    contacts = of(read_all(messy), Contact)
    assert len(contacts) == len(PEOPLE) + 1
    same_email = sorted(c.email for c in contacts.values() if (c.email or "").lower() == SAME_EMAIL_PAIR[1])  # type: ignore[attr-defined]
    assert same_email == sorted(SAME_EMAIL_PAIR)
    assert contacts[str(MESSY_FIRST_CUSTOMER + 27)].email is None  # Fay has a phone only, and lands
