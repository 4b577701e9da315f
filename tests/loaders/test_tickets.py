"""`conversation_options.target: tickets` against the sandbox: ticket types made in preflight, backdated tickets, parts in order, state."""

from __future__ import annotations

from typing import Any

import pytest

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.model import Attachment, Conversation
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.history import SUPPORT_OPENER, load_history, plan_action
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.loaders.intercom.validate import Validator
from deskmigrate.sandbox.resources.tickets import stored_ticket_parts, tickets_notifications_sent
from deskmigrate.transforms import Mapper
from tests.loaders.test_conversations import (  # noqa: F401 (harness is a fixture)
    AGENT_ADMIN,
    FALLBACK_ADMIN,
    SOURCE_FILES,
    Harness,
    Killed,
    _open,
    at,
    harness,
    long_ticket,
    part,
    printer_ticket,
    ticket,
    unix,
    with_options,
)

TYPE_NAME = "Zendesk ticket"
PRIORITY = AttributeDeclaration(model="conversation", name="zendesk_priority", data_type="string", options=["low", "normal", "high", "urgent"])


class TicketHarness:
    """Loads through the tickets target, with the mapping's conversation attributes declared as preflight would see them."""

    def __init__(self, base: Harness) -> None:
        self.base = base
        base.spec = with_options(base.spec, target="tickets", ticket_type=TYPE_NAME)
        self.declarations = [d for d in Mapper(base.spec).attribute_declarations() if d.name != PRIORITY.name] + [PRIORITY]

    def load(self, *records: Conversation, client: Any = None) -> tuple[PhaseResult, IntercomLoader]:
        loader = IntercomLoader(self.base.client, self.base.ledger, self.base.ledger.start_run("load"), LoadConfig(concurrency=4))
        preflight(loader, self.declarations)
        if client is not None:
            loader.client = client
        return load_history(loader, [self.base.payload(r) for r in records]), loader

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        intercom_id = self.base.ledger.intercom_id("tickets", ticket_id)
        assert intercom_id, f"ticket {ticket_id} has no Intercom ticket"
        return self.base.api.get(f"/tickets/{intercom_id}").json()

    def ticket_type(self) -> dict[str, Any]:
        return next(t for t in self.base.api.get("/ticket_types").json()["data"] if t["name"] == TYPE_NAME)


@pytest.fixture
def tickets(harness: Harness) -> TicketHarness:  # noqa: F811 (the imported fixture)
    return TicketHarness(harness)


def test_a_ticket_becomes_a_backdated_intercom_ticket_of_a_type_created_in_preflight(tickets: TicketHarness) -> None:
    result, _ = tickets.load(printer_ticket())
    assert result.created == 1 and result.failed == 0
    ticket_type = tickets.ticket_type()
    attributes = {a["name"]: a for a in ticket_type["ticket_type_attributes"]["data"]}
    assert {"_default_title_", "_default_description_", "zendesk_status", "zendesk_priority", "zendesk_ticket_id"} <= set(attributes)
    assert attributes["zendesk_priority"]["data_type"] == "list"
    remote = tickets.ticket("1000")
    dana = tickets.base.ledger.intercom_id("contacts", "10")
    assert remote["created_at"] == unix(at(0)) and [c["id"] for c in remote["contacts"]["contacts"]] == [dana]
    assert remote["ticket_attributes"]["_default_title_"] == "Ticket 1000"
    assert remote["ticket_attributes"]["_default_description_"].startswith("My printer is on fire!")
    assert remote["ticket_attributes"]["zendesk_status"] == "solved"
    # A list attribute holds the list item's id, never its label.
    high = next(o["id"] for o in attributes["zendesk_priority"]["input_options"]["list_options"] if o["label"] == "high")
    assert remote["ticket_attributes"]["zendesk_priority"] == high
    parts = remote["ticket_parts"]["ticket_parts"]
    assert [(p["part_type"], p["author"]["id"], p["created_at"]) for p in parts if p["part_type"] in ("comment", "note")] == [
        ("comment", AGENT_ADMIN, unix(at(5))),
        ("note", AGENT_ADMIN, unix(at(6))),
        ("comment", dana, unix(at(7))),
        ("note", FALLBACK_ADMIN, unix(at(8))),
    ]
    assert parts[-1]["part_type"] == "close", "a solved ticket ends closed, the close last"
    assert remote["ticket_state"]["category"] == "resolved" and remote["open"] is False
    assert remote["admin_assignee_id"] == AGENT_ADMIN
    assert {t["name"] for t in remote["tags"]["tags"]} == {"fire", "Hardware"}
    with _open(tickets.base.server) as db:
        assert tickets_notifications_sent(db) == 0


def test_calls_per_ticket_are_one_per_comment_plus_one_update_and_the_tags(tickets: TicketHarness) -> None:
    tickets.load(printer_ticket())
    routes = tickets.base.writes("POST /tickets") + tickets.base.writes("PUT /tickets")
    # 5 comments: 1 create (with attributes and assignee) + 4 replies; one update for state; one call per tag (2).
    assert sorted(routes) == sorted(["POST /tickets"] + ["POST /tickets/{id}/reply"] * 4 + ["PUT /tickets/{id}"]
                                    + ["POST /tickets/{id}/tags"] * 2)


def test_an_existing_ticket_type_is_adopted_and_only_missing_attributes_are_added(tickets: TicketHarness) -> None:
    existing = tickets.base.api.post("/ticket_types", {"name": TYPE_NAME, "category": "Customer"}).json()
    tickets.base.api.post(f"/ticket_types/{existing['id']}/attributes",
                          {"name": "zendesk_status", "description": "ours", "data_type": "string"})
    tickets.load(printer_ticket())
    types = [t for t in tickets.base.api.get("/ticket_types").json()["data"] if t["name"] == TYPE_NAME]
    assert [t["id"] for t in types] == [existing["id"]]
    names = [a["name"] for a in types[0]["ticket_type_attributes"]["data"]]
    assert names.count("zendesk_status") == 1 and "zendesk_group" in names
    assert tickets.ticket("1000")["ticket_type"]["id"] == existing["id"]


def test_source_files_on_tickets_stay_links_and_are_reported(tickets: TicketHarness) -> None:
    """Ticket calls take no attachment_files (2.15 spec): private files are named with their link and listed in the report."""
    tickets.load(printer_ticket())
    parts = tickets.ticket("1000")["ticket_parts"]["ticket_parts"]
    customer = next(p for p in parts if p["created_at"] == unix(at(7)))
    assert [a["url"] for a in customer["attachments"]] == ["https://cdn.example.com/manual.pdf"]
    assert "receipt.pdf" in customer["body"]
    notices = {n.kind: n.detail for n in tickets.base.ledger.notices("conversations")}
    assert "receipt.pdf" in notices["attachments_on_source"] and f"{SOURCE_FILES}/9001/" in notices["attachments_on_source"]


class KillAfterTicketReplies:
    def __init__(self, client: IntercomClient, n: int) -> None:
        self.client, self.n, self.sent = client, n, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def reply_to_ticket(self, ticket_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.reply_to_ticket(ticket_id, body)
        self.sent += 1
        if self.sent == self.n:
            raise Killed()
        return answer


def test_a_kill_in_the_middle_of_a_tickets_replies_resumes_at_the_next_one(tickets: TicketHarness) -> None:
    record = long_ticket("6000", 12)
    with pytest.raises(Killed):
        tickets.load(record, client=KillAfterTicketReplies(tickets.base.client, 7))
    result, _ = tickets.load(record)
    assert result.failed == 0
    with _open(tickets.base.server) as db:
        parts = stored_ticket_parts(db, str(tickets.base.ledger.intercom_id("tickets", "6000")))
    bodies = [p["body"] for p in parts if p["part_type"] == "comment"]
    assert bodies == [f"<p>message {i}</p>" if i % 2 else f"message {i}" for i in range(2, 13)]
    assert tickets.base.writes("POST /tickets/{id}/reply").count("POST /tickets/{id}/reply") == 11
    assert tickets.base.writes("POST /tickets").count("POST /tickets") == 1


def test_a_rerun_appends_new_comments_moves_the_state_and_drops_removed_tags(tickets: TicketHarness) -> None:
    original = printer_ticket()
    tickets.load(original)
    payload = tickets.base.payload(original)
    assert plan_action(tickets.base.ledger, payload) == "unchanged"
    assert tickets.load(original)[0].unchanged == 1
    reopened = original.model_copy(update={"status": "open", "tags": ["fire"], "parts": [
        *original.parts, part(6, "contact", "10", "<p>It is on fire again</p>", 60), part(7, "agent", "2", "<p>On my way</p>", 61)]})
    assert plan_action(tickets.base.ledger, tickets.base.payload(reopened)) == "update"
    replies_before = len(tickets.base.writes("POST /tickets/{id}/reply"))
    result, _ = tickets.load(reopened)
    assert result.updated == 1
    assert len(tickets.base.writes("POST /tickets/{id}/reply")) == replies_before + 2
    remote = tickets.ticket("1000")
    assert remote["open"] is True and remote["ticket_state"]["category"] == "in_progress"
    assert [t["name"] for t in remote["tags"]["tags"]] == ["fire"]
    assert tickets.base.writes("DELETE /tickets/{id}/tags/{tag_id}") == ["DELETE /tickets/{id}/tags/{tag_id}"]


def test_validate_reads_tickets_back_and_rollback_deletes_them_and_archives_the_type(tickets: TicketHarness) -> None:
    _, loader = tickets.load(printer_ticket())
    assert Validator(tickets.base.client, tickets.base.ledger).run() == []
    ticket_id = tickets.base.ledger.intercom_id("tickets", "1000")
    tickets.base.api.put(f"/tickets/{ticket_id}", {"open": True})
    mismatches = Validator(tickets.base.client, tickets.base.ledger).run()
    assert [(m.entity, m.field, m.expected, m.actual) for m in mismatches] == [("tickets", "open", False, True)]
    report = Rollback(tickets.base.client, tickets.base.ledger).run([loader.run_id])
    assert report.deleted["tickets"] == 1
    assert tickets.base.api.get(f"/tickets/{ticket_id}").status_code == 404
    assert tickets.ticket_type()["archived"] is True
    assert tickets.base.ledger.intercom_id("tickets", "1000") is None and tickets.base.ledger.parts("1000") == {}


def test_the_sandbox_refuses_a_label_for_a_list_attribute_and_a_second_contact(tickets: TicketHarness) -> None:
    api = tickets.base.api
    ticket_type = api.post("/ticket_types", {"name": "Bug", "category": "Customer"}).json()
    api.post(f"/ticket_types/{ticket_type['id']}/attributes",
             {"name": "severity", "description": "How bad", "data_type": "list", "list_items": "minor,major"})
    contact = tickets.base.ledger.intercom_id("contacts", "10")
    base = {"ticket_type_id": ticket_type["id"], "contacts": [{"id": contact}]}
    assert api.post("/tickets", {**base, "ticket_attributes": {"severity": "major"}}).status_code == 400
    two = {**base, "contacts": [{"id": contact}, {"id": tickets.base.ledger.intercom_id("contacts", "11")}]}
    assert api.post("/tickets", two).status_code == 400
    created = api.post("/tickets", {**base, "created_at": 1_600_000_000, "ticket_attributes": {"_default_title_": "Broken"}})
    assert created.status_code == 200 and created.json()["created_at"] == 1_600_000_000
    files = [{"content_type": "text/plain", "data": "aGk=", "name": "a.txt"}]
    reply = {"message_type": "note", "type": "admin", "admin_id": AGENT_ADMIN, "body": "x", "attachment_files": files}
    assert api.post(f"/tickets/{created.json()['id']}/reply", reply).status_code == 400, "ticket replies take no attachment_files"


def test_private_attachments_of_a_ticket_are_never_uploaded(tickets: TicketHarness) -> None:
    record = ticket("8000", [part(1, "contact", "10", "<p>hi</p>", 0),
                             part(2, "agent", "2", "<p>see file</p>", 1, attachments=[Attachment(filename="a.pdf", url=f"{SOURCE_FILES}/1/?name=a.pdf")])])
    tickets.load(record)
    parts = tickets.ticket("8000")["ticket_parts"]["ticket_parts"]
    agent = next(p for p in parts if p["part_type"] == "comment")
    assert agent["attachments"] == [] and "a.pdf" in agent["body"]


def test_a_ticket_the_support_team_opened_keeps_the_agents_message_out_of_the_customers_description(tickets: TicketHarness) -> None:
    # An agent's private first note must never become the description the customer sees on the ticket.
    record = ticket("8000", [part(1, "agent", "2", "<p>Internal: call them about the renewal</p>", 0, public=False),
                             part(2, "agent", "2", "<p>Your renewal quote is ready.</p>", 2)])
    result, _ = tickets.load(record)
    assert result.failed == 0
    remote = tickets.ticket("8000")
    dana = tickets.base.ledger.intercom_id("contacts", "10")
    assert [c["id"] for c in remote["contacts"]["contacts"]] == [dana]
    assert remote["ticket_attributes"]["_default_description_"] == SUPPORT_OPENER
    parts = [p for p in remote["ticket_parts"]["ticket_parts"] if p["part_type"] in ("comment", "note")]
    assert [(p["part_type"], p["author"]["id"], p["created_at"]) for p in parts] == [
        ("note", AGENT_ADMIN, unix(at(0))), ("comment", AGENT_ADMIN, unix(at(2)))]
    assert "call them" in parts[0]["body"]
