"""Who starts a ticket: a teammate requester gets a contact of their own (made once) and opens with their own message; a
requester that failed fails the ticket with its reason until it lands; a requester deleted in the source is skipped, counted."""

from __future__ import annotations

from typing import Any

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.model import Agent, Contact, Conversation
from deskmigrate.core.payload import Payload, PayloadRejection
from deskmigrate.loaders.intercom.contacts import load_contacts
from deskmigrate.loaders.intercom.history import SUPPORT_OPENER, TEAMMATE_EMAIL, TEAMMATES, TICKET_OUTCOMES, load_history
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.transforms import Mapper
from tests.loaders import test_conversations
from tests.loaders.test_conversations import AGENT_ADMIN, Harness, _open, at, part, ticket, unix, with_options
from tests.loaders.test_tickets import TicketHarness

harness = test_conversations.harness  # the sandbox, ledger and mapping fixture of the conversation tests


def stage(harness: Harness, *records: Any) -> None:
    harness.ledger.stage(harness.ledger.start_run("extract"), list(records))


def load(harness: Harness, *records: Conversation, concurrency: int = 4) -> tuple[PhaseResult, IntercomLoader]:
    loader = IntercomLoader(harness.client, harness.ledger, harness.ledger.start_run("load"), LoadConfig(concurrency=concurrency))
    preflight(loader, [])
    return load_history(loader, [harness.payload(r) for r in records]), loader


def internal_request(tid: str, agent: str = "5") -> Conversation:
    """Zendesk: an agent opened a ticket for themselves (an internal request); another agent answers it."""
    return ticket(tid, [part(1, "agent", agent, "<p>Laptop <b>battery</b> swells</p>", 0),
                        part(2, "agent", "2", "<p>Bring it to IT</p>", 4)], requester=agent, assignee=None)


def stored_contacts(harness: Harness) -> list[dict[str, Any]]:
    with _open(harness.server) as db:
        return db.all("contacts")


def test_a_teammate_requester_gets_a_contact_and_opens_with_their_own_message(harness: Harness) -> None:
    stage(harness, Agent(source="zendesk", source_id="5", email="ivy@acme.example", name="Ivy Ops"))
    result, _ = load(harness, internal_request("7300"))
    assert (result.created, result.failed, result.extra["teammates_created"]) == (1, 0, 1)
    assert set(TICKET_OUTCOMES) <= set(result.as_dict())
    teammate_id = harness.ledger.intercom_id(TEAMMATES, "5")
    teammate = harness.api.get(f"/contacts/{teammate_id}").json()
    assert (teammate["role"], teammate["external_id"], teammate["email"], teammate["name"]) == (
        "user", "zendesk-agent:5", "ivy@acme.example", "Ivy Ops")
    conversation = harness.conversation("7300")
    assert (conversation["source"]["author"]["type"], conversation["source"]["author"]["id"]) == ("user", teammate_id)
    assert conversation["source"]["body"] == "Laptop battery swells" and SUPPORT_OPENER not in conversation["source"]["body"]
    assert conversation["created_at"] == unix(at(0))
    [reply] = [p for p in conversation["conversation_parts"]["conversation_parts"] if p["part_type"] == "comment"]
    assert (reply["author"]["type"], reply["author"]["id"]) == ("admin", AGENT_ADMIN)
    kinds = {(n.entity, n.source_id, n.kind) for n in harness.ledger.notices()}
    assert ("teammates", "5", "teammate_contact") in kinds and ("conversations", "7300", "requester_teammate") in kinds
    assert "opened_by_support" not in {kind for _, _, kind in kinds}

    # Rollback deletes the contact made for the teammate with the conversation.
    _, loader = load(harness, internal_request("7301"))
    assert loader is not None
    report = Rollback(harness.client, harness.ledger).run([r["run_id"] for r in harness.ledger.runs() if r["command"] == "load"])
    assert report.errors == [] and report.deleted["teammates"] == 1
    assert harness.api.get(f"/contacts/{teammate_id}").status_code == 404


def test_a_teammate_who_opened_with_a_private_note_gets_the_neutral_line(harness: Harness) -> None:
    stage(harness, Agent(source="zendesk", source_id="5", email="ivy@acme.example", name="Ivy Ops"))
    private = ticket("7310", [part(1, "agent", "5", "<p>internal only</p>", 0, public=False)], requester="5", assignee=None)
    load(harness, private)
    assert harness.conversation("7310")["source"]["body"] == SUPPORT_OPENER


def test_a_teammate_whose_email_is_already_a_contact_uses_it(harness: Harness) -> None:
    existing = harness.client.create_contact({"role": "user", "email": "ivy@acme.example", "name": "Ivy (customer)"})
    stage(harness, Agent(source="zendesk", source_id="5", email="ivy@acme.example", name="Ivy Ops"))
    result, _ = load(harness, internal_request("7320"))
    assert (result.created, result.extra["teammates_adopted"], result.extra.get("teammates_created", 0)) == (1, 1, 0)
    assert harness.ledger.intercom_id(TEAMMATES, "5") == existing["id"]
    assert harness.conversation("7320")["source"]["author"]["id"] == existing["id"]
    untouched = harness.api.get(f"/contacts/{existing['id']}").json()
    assert untouched["name"] == "Ivy (customer)" and untouched["external_id"] is None


def test_a_teammate_email_intercom_refuses_is_kept_in_an_attribute(harness: Harness) -> None:
    stage(harness, Agent(source="zendesk", source_id="6", email="root@helpdesk-server", name="Root"))
    result, _ = load(harness, internal_request("7330", agent="6"))
    assert (result.created, result.failed, result.extra["teammates_created"]) == (1, 0, 1)
    contact = harness.api.get(f"/contacts/{harness.ledger.intercom_id(TEAMMATES, '6')}").json()
    assert contact["email"] is None and contact["custom_attributes"][TEAMMATE_EMAIL] == "root@helpdesk-server"
    assert "teammate_email_refused" in {n.kind for n in harness.ledger.notices(TEAMMATES)}


def test_twenty_tickets_of_one_teammate_under_eight_workers_make_one_contact(harness: Harness) -> None:
    stage(harness, Agent(source="zendesk", source_id="5", email="ivy@acme.example", name="Ivy Ops"))
    before = len(stored_contacts(harness))
    result, _ = load(harness, *(internal_request(str(7400 + i)) for i in range(20)), concurrency=8)
    assert (result.created, result.failed, result.extra["teammates_created"]) == (20, 0, 1)
    made = [c for c in stored_contacts(harness) if c.get("external_id") == "zendesk-agent:5"]
    assert len(made) == 1 and len(stored_contacts(harness)) == before + 1


def test_twenty_tickets_of_one_deleted_requester_under_eight_workers_make_one_lead(harness: Harness) -> None:
    harness.spec = with_options(harness.spec, missing_requester="create_lead")
    orphans = [ticket(str(7500 + i), [part(1, "contact", "99", f"<p>from a deleted user {i}</p>", i)], requester="99")
               for i in range(20)]
    result, _ = load(harness, *orphans, concurrency=8)
    assert (result.created, result.failed, result.extra["leads_created"]) == (20, 0, 1)
    leads = [c for c in stored_contacts(harness) if c.get("role") == "lead"]
    assert len(leads) == 1
    assert {harness.conversation(str(7500 + i))["source"]["author"]["id"] for i in range(20)} == {leads[0]["id"]}


def test_a_requester_rejected_by_the_mapping_fails_its_ticket_until_it_lands(harness: Harness) -> None:
    stage(harness, Contact(source="zendesk", source_id="20", email="kim at example.com", name="Kim"))
    mapped = Mapper(harness.spec).map(harness.ledger.staged_record("contacts", "20"))  # type: ignore[arg-type]
    assert isinstance(mapped, PayloadRejection)
    # As `plan` records a mapping rejection.
    harness.ledger.record_failure(harness.ledger.start_run("plan"), "contacts", "contacts", "20", mapped.reason, field=mapped.field)
    record = ticket("7600", [part(1, "contact", "20", "<p>my order</p>", 0)], requester="20")
    result, _ = load(harness, record)
    assert (result.created, result.failed, result.extra["skipped_requester_deleted"]) == (0, 1, 0)
    failure = next(f for f in harness.ledger.failures() if f.entity == "conversations")
    assert failure.source_id == "7600" and failure.reason == f"requester 20 did not land: {mapped.reason}"

    # Fixed in the source and extracted again: the next load lands the contact, then its ticket.
    stage(harness, Contact(source="zendesk", source_id="20", email="kim@example.com", name="Kim"))
    contact = Mapper(harness.spec).map(harness.ledger.staged_record("contacts", "20"))  # type: ignore[arg-type]
    assert isinstance(contact, Payload)
    loader = IntercomLoader(harness.client, harness.ledger, harness.ledger.start_run("load"), LoadConfig(concurrency=4))
    preflight(loader, Mapper(harness.spec).attribute_declarations())
    assert load_contacts(loader, [contact]).created == 1
    again = load_history(loader, [harness.payload(record)])
    assert (again.created, again.failed) == (1, 0)
    assert harness.conversation("7600")["source"]["author"]["id"] == harness.ledger.intercom_id("contacts", "20")
    assert harness.ledger.failures() == []


def test_a_requester_deleted_in_the_source_is_skipped_and_counted(harness: Harness) -> None:
    orphan = ticket("7700", [part(1, "contact", "98", "<p>gone</p>", 0)], requester="98")
    result, _ = load(harness, orphan, ticket("7701", [part(1, "contact", "10", "<p>here</p>", 0)]))
    assert (result.created, result.failed, result.extra["skipped_requester_deleted"]) == (1, 0, 1)
    assert harness.ledger.intercom_id("conversations", "7700") is None and harness.ledger.failures() == []
    notice = next(n for n in harness.ledger.notices("conversations") if n.source_id == "7700")
    assert notice.kind == "skipped" and "deleted" in notice.detail


def test_a_teammate_requester_opens_an_intercom_ticket_as_their_contact(harness: Harness) -> None:
    stage(harness, Agent(source="zendesk", source_id="5", email="ivy@acme.example", name="Ivy Ops"))
    tickets = TicketHarness(harness)
    result, _ = tickets.load(internal_request("7800"))
    assert (result.created, result.failed, result.extra["teammates_created"]) == (1, 0, 1)
    remote = tickets.ticket("7800")
    assert [c["id"] for c in remote["contacts"]["contacts"]] == [harness.ledger.intercom_id(TEAMMATES, "5")]
    assert remote["ticket_attributes"]["_default_description_"].startswith("Laptop battery swells")
