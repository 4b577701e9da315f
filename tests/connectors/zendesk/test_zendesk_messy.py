"""The Zendesk connector on an account like a real one: optional endpoints not served, teammates as requesters, deleted
requesters, national phones and odd custom values, all read without losing a record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Agent, Contact, Conversation, SourceNotice
from tests.connectors.reading import records
from tests.connectors.zendesk.conftest import make_connector
from tests.fakes.messy import PEOPLE, SAME_EMAIL_PAIR
from tests.fakes.zendesk import (
    MESSY_AGENT,
    MESSY_DELETED_REQUESTER_TICKETS,
    MESSY_DELETED_USER,
    MESSY_FIRST_USER,
    MESSY_SUSPENDED_AGENT,
    MESSY_TEAMMATE_TICKETS,
    FakeZendesk,
    messy_account,
)

SUPPORT = ("companies", "contacts", "conversations")
LIVE_TICKETS = 43  # 44 in the account, one deleted


@pytest.fixture
def messy() -> Iterator[FakeZendesk]:
    with FakeZendesk(messy_account()) as server:
        yield server


def read_all(fake: FakeZendesk, **overrides: object) -> list:
    connector = make_connector(fake.base_url, include_help_center=False, **overrides)
    return [item for entity in SUPPORT for item in connector.read(entity)]


def notices(items: list) -> list[SourceNotice]:
    return [i for i in items if isinstance(i, SourceNotice)]


def of(items: list, kind: type) -> dict[str, object]:
    return {r.source_id: r for r in records(items) if isinstance(r, kind)}


@pytest.mark.parametrize("status", [403, 404])
def test_ticket_forms_not_served_is_a_notice_and_forms_are_kept_as_ids(messy: FakeZendesk, status: int) -> None:
    messy.refuse("ticket_forms", status)
    items = list(make_connector(messy.base_url).read("conversations"))
    conversations = of(items, Conversation)
    assert len(conversations) == LIVE_TICKETS
    [notice] = [n for n in notices(items) if "ticket forms" in n.message]
    assert notice.message == f"ticket forms not readable (HTTP {status}): ticket form names are not mapped, forms kept as ids"
    assert notice.entity == "conversations" and notice.location == "GET ticket_forms.json"
    assert {c.custom_fields.get("ticket_form_id") for c in conversations.values()} == {"600"}
    assert not any("ticket_form" in c.custom_fields for c in conversations.values())


def test_ticket_forms_served_give_the_form_name(messy: FakeZendesk) -> None:
    conversations = of(list(make_connector(messy.base_url).read("conversations")), Conversation)
    assert {c.custom_fields.get("ticket_form") for c in conversations.values()} == {"Default"}


OPTIONAL = [
    ("ticket_fields", "ticket fields", "conversations"),
    ("user_fields", "user fields", "contacts"),
    ("organization_fields", "organization fields", "companies"),
    ("groups", "groups", "conversations"),
    ("ticket_forms", "ticket forms", "conversations"),
    ("account/settings", "account settings", "contacts"),
    ("tickets/count", "the tickets count", "conversations"),
]


@pytest.mark.parametrize("status", [403, 404])
@pytest.mark.parametrize(("route", "what", "entity"), OPTIONAL, ids=[o[0] for o in OPTIONAL])
def test_every_optional_endpoint_not_served_costs_no_record(messy: FakeZendesk, route: str, what: str, entity: str, status: int) -> None:
    served = read_all(messy)
    messy.refuse(route, status)
    refused = read_all(messy)
    assert entity in {n.entity for n in notices(refused) if n.message.startswith(f"{what} not readable (HTTP {status}): ")}
    for kind in (Contact, Agent, Conversation):
        assert of(refused, kind).keys() == of(served, kind).keys()
    assert len(of(refused, Conversation)) == LIVE_TICKETS and len(of(refused, Contact)) == len(PEOPLE)
    assert not any(n.message.startswith(what) for n in notices(served))


def test_custom_field_names_fall_back_to_ids_and_keys_when_definitions_are_not_served(messy: FakeZendesk) -> None:
    messy.refuse("ticket_fields", 403)
    messy.refuse("user_fields", 403)
    items = read_all(messy)
    ticket = of(items, Conversation)["2000"]
    assert ticket.custom_fields["field_500"] == PEOPLE[0].signup  # type: ignore[attr-defined]
    contact = of(items, Contact)[str(MESSY_FIRST_USER)]
    assert contact.custom_fields["plan_tier"] == "tier_enterprise"  # type: ignore[attr-defined]


def test_the_notice_is_given_once_before_the_records(messy: FakeZendesk) -> None:
    messy.refuse("ticket_forms", 404)
    connector = make_connector(messy.base_url, include_help_center=False)
    first = list(connector.read("conversations"))
    again = list(connector.read("conversations"))
    assert isinstance(first[0], SourceNotice) and "ticket forms" in first[0].message
    assert not any("ticket forms" in n.message for n in notices(again))


def test_the_plan_says_counts_are_unknown_when_count_endpoints_are_not_served(messy: FakeZendesk) -> None:
    messy.refuse("tickets/count", 403)
    messy.refuse("users/count", 404)
    plan = make_connector(messy.base_url).describe_plan()
    assert plan["counts"]["tickets"] == "unknown" and plan["counts"]["users"] == "unknown"
    assert plan["counts"]["organizations"] == 3
    assert any(m.startswith("the tickets count not readable (HTTP 403)") for m in plan["notices"])


def test_brands_not_served_leave_the_account_host(messy: FakeZendesk) -> None:
    messy.refuse("brands", 403)
    assert make_connector(messy.base_url).brand_hosts() == set()


@pytest.mark.parametrize("route", ["incremental/users/cursor", "incremental/tickets/cursor", "incremental/organizations"])
def test_the_records_themselves_not_served_stop_the_read_with_a_clear_message(messy: FakeZendesk, route: str) -> None:
    messy.refuse(route, 403)
    entity = {"incremental/users/cursor": "contacts", "incremental/tickets/cursor": "conversations", "incremental/organizations": "companies"}[route]
    with pytest.raises(SourceError, match=f"Zendesk answered 403 for GET /api/v2/{route}.json"):
        list(make_connector(messy.base_url).read(entity))


def test_teammates_who_requested_tickets_are_staged_as_agents_and_open_their_tickets(messy: FakeZendesk) -> None:
    items = read_all(messy)
    agents, conversations = of(items, Agent), of(items, Conversation)
    for ticket_id, requester in MESSY_TEAMMATE_TICKETS.items():
        conversation = conversations[str(ticket_id)]
        assert conversation.requester_id == str(requester)  # type: ignore[attr-defined]
        agent = agents[str(requester)]
        assert agent.email and agent.name  # type: ignore[attr-defined]
        first = conversation.parts[0]  # type: ignore[attr-defined]
        assert first.author_kind == "agent"
        assert first.author_id == (str(MESSY_AGENT) if ticket_id == 2043 else str(requester))
    assert agents[str(MESSY_SUSPENDED_AGENT)].active is False  # type: ignore[attr-defined]


def test_an_agent_writing_first_for_a_customer_leaves_the_customer_as_requester(messy: FakeZendesk) -> None:
    ticket = of(read_all(messy), Conversation)["2003"]  # opened by an agent on a phone call
    assert ticket.requester_id == str(MESSY_FIRST_USER + 3)  # type: ignore[attr-defined]
    assert (ticket.parts[0].author_kind, ticket.parts[0].author_id) == ("agent", str(MESSY_AGENT))  # type: ignore[attr-defined]


def test_a_deleted_requester_is_staged_nowhere_and_its_tickets_say_so(messy: FakeZendesk) -> None:
    items = read_all(messy)
    assert str(MESSY_DELETED_USER) not in of(items, Contact) and str(MESSY_DELETED_USER) not in of(items, Agent)
    conversations = of(items, Conversation)
    for ticket_id in MESSY_DELETED_REQUESTER_TICKETS:
        assert conversations[str(ticket_id)].requester_id == str(MESSY_DELETED_USER)  # type: ignore[attr-defined]
    said = {n.source_id for n in notices(items) if "was deleted in Zendesk" in n.message}
    assert said == {str(t) for t in MESSY_DELETED_REQUESTER_TICKETS}
    assert any(n.source_id == str(MESSY_DELETED_USER) and n.message == "user deleted in Zendesk; skipped" for n in notices(items))


def test_contacts_carry_region_hints_preferring_the_iana_zone(messy: FakeZendesk) -> None:
    contacts = of(read_all(messy), Contact)
    avery, harriet = contacts[str(MESSY_FIRST_USER)], contacts[str(MESSY_FIRST_USER + 4)]
    assert (avery.locale, avery.time_zone) == ("en-US", "America/New_York")  # type: ignore[attr-defined]
    assert (harriet.locale, harriet.time_zone) == ("en-GB", "London")  # no iana_time_zone: the Rails name
    assert harriet.phone == "020 7946 0958"  # type: ignore[attr-defined]


def test_messy_values_reach_the_mapping_as_written_and_cost_nothing(messy: FakeZendesk) -> None:
    contacts = of(read_all(messy), Contact)
    assert len(contacts) == len(PEOPLE)
    casey = contacts[str(MESSY_FIRST_USER + 2)]
    assert casey.custom_fields["Seats"] == "gold" and casey.phone == "+1 555 0119"  # type: ignore[attr-defined]
    assert contacts[str(MESSY_FIRST_USER)].custom_fields["Signup date"] == "03/04/2021"  # type: ignore[attr-defined]
    same_email = [c for c in contacts.values() if (c.email or "").lower() == SAME_EMAIL_PAIR[1]]  # type: ignore[attr-defined]
    assert sorted(c.email for c in same_email) == sorted(SAME_EMAIL_PAIR)  # type: ignore[attr-defined]
