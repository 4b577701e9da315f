"""The Freshdesk connector on an account like a real one: optional endpoints not served, agents as requesters, a deleted
requester, national phones and odd custom values, all read without losing a record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Agent, Company, Contact, Conversation, SourceNotice
from tests.connectors.freshdesk.conftest import make_connector
from tests.connectors.reading import records
from tests.fakes.freshdesk import (
    MESSY_AGENT,
    MESSY_DELETED_CONTACT,
    MESSY_DELETED_REQUESTER_TICKETS,
    MESSY_FIRST_CONTACT,
    MESSY_TEAMMATE_TICKETS,
    FakeFreshdesk,
    messy_account,
)
from tests.fakes.messy import PEOPLE, SAME_EMAIL_PAIR

SUPPORT = ("companies", "contacts", "agents", "conversations")
TICKETS = 41


@pytest.fixture
def messy() -> Iterator[FakeFreshdesk]:
    with FakeFreshdesk(messy_account()) as server:
        yield server


def read_all(fake: FakeFreshdesk) -> list:
    connector = make_connector(fake.base_url, include_solutions=False, per_page=100)
    return [item for entity in SUPPORT for item in connector.read(entity)]


def notices(items: list) -> list[SourceNotice]:
    return [i for i in items if isinstance(i, SourceNotice)]


def of(items: list, kind: type) -> dict[str, object]:
    return {r.source_id: r for r in records(items) if isinstance(r, kind)}


OPTIONAL = [
    ("ticket_fields", "ticket fields", "conversations"),
    ("contact_fields", "contact fields", "contacts"),
    ("company_fields", "company fields", "companies"),
    ("groups", "groups", "conversations"),
    ("agents", "agents", "agents"),
]


@pytest.mark.parametrize("status", [403, 404])
@pytest.mark.parametrize(("route", "what", "entity"), OPTIONAL, ids=[o[0] for o in OPTIONAL])
def test_every_optional_endpoint_not_served_costs_no_customer_record(messy: FakeFreshdesk, route: str, what: str, entity: str, status: int) -> None:
    served = read_all(messy)
    messy.refuse(route, status)
    refused = read_all(messy)
    assert entity in {n.entity for n in notices(refused) if n.message.startswith(f"{what} not readable (HTTP {status}): ")}
    for kind in (Company, Contact, Conversation):
        assert of(refused, kind).keys() == of(served, kind).keys()
    assert len(of(refused, Conversation)) == TICKETS and len(of(refused, Contact)) == len(PEOPLE)
    assert not any(n.message.startswith(f"{what} not readable") for n in notices(served))


def test_ticket_fields_not_served_keep_custom_values_under_their_names(messy: FakeFreshdesk) -> None:
    messy.refuse("ticket_fields", 403)
    ticket = of(read_all(messy), Conversation)["3005"]
    assert ticket.custom_fields["order_date"] == PEOPLE[5].signup and ticket.custom_fields["units"] == "gold"  # type: ignore[attr-defined]
    assert ticket.status == "Pending"  # type: ignore[attr-defined]  # the documented default names still apply


def test_helpdesk_settings_not_served_read_solutions_in_the_primary_language(messy: FakeFreshdesk) -> None:
    messy.refuse("settings/helpdesk", 404)
    items = list(make_connector(messy.base_url).read("collections"))
    assert any(n.message.startswith("helpdesk settings not readable (HTTP 404)") for n in notices(items))
    assert len(records(items)) == 3


@pytest.mark.parametrize(("route", "entity"), [("contacts", "contacts"), ("tickets", "conversations"), ("companies", "companies"),
                                               ("tickets/3000/conversations", "conversations")])
def test_the_records_themselves_not_served_stop_the_read_with_a_clear_message(messy: FakeFreshdesk, route: str, entity: str) -> None:
    messy.refuse(route, 403)
    with pytest.raises(SourceError, match="403"):
        list(make_connector(messy.base_url, include_solutions=False).read(entity))


def test_agents_who_requested_tickets_are_staged_and_open_their_tickets(messy: FakeFreshdesk) -> None:
    items = read_all(messy)
    agents, conversations = of(items, Agent), of(items, Conversation)
    for ticket_id, requester in MESSY_TEAMMATE_TICKETS.items():
        conversation = conversations[str(ticket_id)]
        assert conversation.requester_id == str(requester)  # type: ignore[attr-defined]
        assert agents[str(requester)].email  # type: ignore[attr-defined]
        first = conversation.parts[0]  # type: ignore[attr-defined]
        assert (first.author_kind, first.author_id) == ("agent", str(requester))
    assert str(MESSY_TEAMMATE_TICKETS[3038]) in agents  # an occasional agent is an agent too


def test_an_outbound_email_is_opened_by_the_agent_for_the_customer(messy: FakeFreshdesk) -> None:
    ticket = of(read_all(messy), Conversation)["3003"]
    assert ticket.requester_id == str(MESSY_FIRST_CONTACT + 3)  # type: ignore[attr-defined]
    assert (ticket.parts[0].author_kind, ticket.parts[0].author_id) == ("agent", str(MESSY_AGENT))  # type: ignore[attr-defined]


def test_a_deleted_requester_is_staged_nowhere_and_its_tickets_still_name_it(messy: FakeFreshdesk) -> None:
    items = read_all(messy)
    assert str(MESSY_DELETED_CONTACT) not in of(items, Contact) and str(MESSY_DELETED_CONTACT) not in of(items, Agent)
    assert any(n.source_id == str(MESSY_DELETED_CONTACT) and n.message == "contact deleted in Freshdesk; skipped" for n in notices(items))
    for ticket_id in MESSY_DELETED_REQUESTER_TICKETS:
        assert of(items, Conversation)[str(ticket_id)].requester_id == str(MESSY_DELETED_CONTACT)  # type: ignore[attr-defined]


def test_contacts_carry_their_language_and_time_zone_as_region_hints(messy: FakeFreshdesk) -> None:
    contacts = of(read_all(messy), Contact)
    harriet = contacts[str(MESSY_FIRST_CONTACT + 4)]
    assert (harriet.locale, harriet.time_zone, harriet.phone) == ("en-GB", "London", "020 7946 0958")  # type: ignore[attr-defined]
    assert contacts[str(MESSY_FIRST_CONTACT)].time_zone == "Eastern Time (US & Canada)"  # type: ignore[attr-defined]


def test_messy_values_reach_the_mapping_as_written_and_cost_nothing(messy: FakeFreshdesk) -> None:
    contacts = of(read_all(messy), Contact)
    assert len(contacts) == len(PEOPLE)
    casey = contacts[str(MESSY_FIRST_CONTACT + 2)]
    assert casey.custom_fields["Seats"] == "gold" and casey.phone == "+1 555 0119"  # type: ignore[attr-defined]
    assert contacts[str(MESSY_FIRST_CONTACT + 1)].custom_fields["Signup date"] == "4 March 2021"  # type: ignore[attr-defined]
    same_email = sorted(c.email for c in contacts.values() if (c.email or "").lower() == SAME_EMAIL_PAIR[1])  # type: ignore[attr-defined]
    assert same_email == sorted(SAME_EMAIL_PAIR)
