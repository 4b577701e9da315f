"""The conversations phase against the sandbox: tickets become backdated conversations, parts in order, resumable, delta-aware."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.errors import AmbiguousWriteError
from deskmigrate.core.http import RetryPolicy
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Agent, Attachment, Conversation, Part
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.history import SUPPORT_OPENER, ConversationCalls, HistoryLoader, load_history, plan_action
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.loaders.intercom.validate import Validator
from deskmigrate.sandbox import SandboxServer
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.conversations import notifications_sent, stored_parts
from deskmigrate.transforms import Mapper, load_mapping
from deskmigrate.transforms.spec import MappingSpec
from tests.conftest import TOKEN, Api, ManualClock

FAST = RetryPolicy(max_attempts=3, deadline_s=30, base_delay_s=0.005, max_delay_s=0.01)
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
AGENT_ADMIN = "991267002"  # agent@sandbox.example.com in the sandbox's default admins
FALLBACK_ADMIN = "991267001"  # the token's owner
SOURCE_FILES = "https://acme.zendesk.com/attachments/token"
ZENDESK_CONVERSATION_ATTRIBUTES = ("zendesk_status", "zendesk_priority", "zendesk_channel", "zendesk_type", "zendesk_group",
                                   "zendesk_ticket_id")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def part(pid: int, kind: str, author: str | None, html: str, minutes: int, *, public: bool = True,
         attachments: list[Attachment] | None = None) -> Part:
    return Part(source_id=str(pid), author_kind=kind, author_id=author, body_html=html, public=public,  # type: ignore[arg-type]
                created_at=at(minutes), attachments=attachments or [])


def ticket(tid: str, parts: list[Part], *, status: str = "open", requester: str = "10", assignee: str | None = "2",
           tags: list[str] | None = None) -> Conversation:
    return Conversation(source="zendesk", source_id=tid, subject=f"Ticket {tid}", requester_id=requester, assignee_id=assignee,
                        group="Support", status=status, priority="high", channel="email", tags=tags or [], created_at=parts[0].created_at,
                        custom_fields={"type": "incident"}, parts=parts)


def printer_ticket() -> Conversation:
    """HTML, a private note, an inline image and a file on Zendesk's hosts, a public file, a solved status."""
    return ticket("1000", [
        part(1, "contact", "10", '<p>My printer is <strong>on fire</strong>!<br>See <a href="https://status.example.com">status</a></p>', 0),
        part(2, "agent", "2", "<p>Please <em>unplug</em> it.</p><table><tr><td>x</td></tr></table>", 5),
        part(3, "agent", "2", "<p>Internal: check warranty</p>", 6, public=False),
        part(4, "contact", "10", f'<p>Photo <img src="{SOURCE_FILES}/9000/?name=fire.png"></p>', 7, attachments=[
            Attachment(filename="fire.png", url=f"{SOURCE_FILES}/9000/?name=fire.png", inline=True),
            Attachment(filename="receipt.pdf", url=f"{SOURCE_FILES}/9001/?name=receipt.pdf"),
            Attachment(filename="manual.pdf", url="https://cdn.example.com/manual.pdf"),
        ]),
        part(5, "system", None, "<p>Ticket solved by trigger</p>", 8, public=False),
    ], status="solved", tags=["fire", "Hardware"])


def long_ticket(tid: str, comments: int) -> Conversation:
    parts = [part(1, "contact", "10", "<p>start</p>", 0)]
    parts += [part(i, "agent" if i % 2 else "contact", "2" if i % 2 else "10", f"<p>message {i}</p>", i, public=True)
              for i in range(2, comments + 1)]
    return ticket(tid, parts, status="open")


@dataclass
class Harness:
    server: SandboxServer
    api: Api
    ledger: Ledger
    client: IntercomClient
    spec: MappingSpec

    def loader(self) -> IntercomLoader:
        loader = IntercomLoader(self.client, self.ledger, self.ledger.start_run("load"), LoadConfig(concurrency=4))
        preflight(loader, [])
        return loader

    def payload(self, record: Conversation) -> Payload:
        mapped = Mapper(self.spec).map(record)
        assert isinstance(mapped, Payload), mapped
        return mapped

    def load(self, *records: Conversation, client: IntercomClient | None = None) -> tuple[PhaseResult, str]:
        loader = self.loader()
        if client is not None:
            loader.client = client
        return load_history(loader, [self.payload(r) for r in records]), loader.run_id

    def conversation(self, ticket_id: str) -> dict[str, Any]:
        conversation_id = self.ledger.intercom_id("conversations", ticket_id)
        assert conversation_id, f"ticket {ticket_id} has no conversation"
        return self.api.get(f"/conversations/{conversation_id}").json()

    def parts(self, ticket_id: str) -> list[dict[str, Any]]:
        with _open(self.server) as db:
            return stored_parts(db, str(self.ledger.intercom_id("conversations", ticket_id)))

    def writes(self, route_prefix: str = "") -> list[str]:
        with _open(self.server) as db:
            return [e["route"] for e in db.request_log() if e["write"] and e["route"] and e["route"].startswith(route_prefix)]


class _open:
    def __init__(self, server: SandboxServer) -> None:
        self.db = Database(server.settings.path)

    def __enter__(self) -> Database:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


@pytest.fixture
def harness(tmp_path: Path, start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> Iterator[Harness]:
    # The zendesk mapping's conversation attributes, as an admin made them in the Intercom UI (2.15 cannot create them).
    server, api = start_sandbox(conversation_attributes={name: "string" for name in ZENDESK_CONVERSATION_ATTRIBUTES})
    ledger = Ledger(tmp_path / "ledger.db")
    client = IntercomClient(server.base_url, TOKEN, "2.15", policy=FAST)
    run_id = ledger.start_run("extract")
    # Agent 2 has an Intercom admin; agent 3 (deleted in the source) has none.
    ledger.stage(run_id, [Agent(source="zendesk", source_id="2", email="agent@sandbox.example.com"),
                          Agent(source="zendesk", source_id="3", email="gone@acme.example")])
    for source_id in ("10", "11"):
        contact = client.create_contact({"role": "user", "external_id": f"zd:{source_id}", "email": f"u{source_id}@example.com"})
        ledger.record_write(run_id, "contacts", "contacts", source_id, intercom_id=contact["id"], action="create", origin="created",
                            payload_hash="x", body={})
    yield Harness(server, api, ledger, client, load_mapping("zendesk", None, []))
    client.close()
    ledger.close()


def with_options(spec: MappingSpec, **options: Any) -> MappingSpec:
    return spec.model_copy(update={"conversation_options": spec.conversation_options.model_copy(update=options)})


def test_a_ticket_becomes_one_backdated_conversation_with_its_parts_in_order(harness: Harness) -> None:
    result, _ = harness.load(printer_ticket())
    assert result.created == 1 and result.failed == 0
    conversation = harness.conversation("1000")
    dana = harness.ledger.intercom_id("contacts", "10")
    assert conversation["created_at"] == unix(at(0))
    source = conversation["source"]
    assert source["author"]["id"] == dana
    # The start is plain text: no tags, line breaks and link targets kept.
    assert source["body"] == "My printer is on fire!\nSee status (https://status.example.com)"
    parts = [p for p in conversation["conversation_parts"]["conversation_parts"]]
    assert [(p["part_type"], p["author"]["id"], p["created_at"]) for p in parts] == [
        ("comment", AGENT_ADMIN, unix(at(5))),
        ("note", AGENT_ADMIN, unix(at(6))),
        ("comment", dana, unix(at(7))),
        ("note", FALLBACK_ADMIN, unix(at(8))),
        ("assignment", FALLBACK_ADMIN, parts[4]["created_at"]),
        ("close", FALLBACK_ADMIN, parts[5]["created_at"]),
    ]
    assert conversation["state"] == "closed"
    assert "<table>" not in parts[0]["body"] and "<em>unplug</em>" in parts[0]["body"]
    # Zendesk-hosted files are links in the text, never attachment_urls; the public file is attached.
    assert [a["url"] for a in parts[2]["attachments"]] == ["https://cdn.example.com/manual.pdf"]
    assert "receipt.pdf" in parts[2]["body"] and "acme.zendesk.com" in parts[2]["body"]
    assert {t["name"] for t in conversation["tags"]["tags"]} == {"fire", "Hardware"}
    assert conversation["admin_assignee_id"] == AGENT_ADMIN
    assert conversation["custom_attributes"]["zendesk_status"] == "solved"
    assert conversation["custom_attributes"]["zendesk_priority"] == "high"
    with _open(harness.server) as db:
        assert notifications_sent(db) == 0
    notices = {n.kind: n.detail for n in harness.ledger.notices("conversations")}
    lost = json.loads(notices["content_lost"])
    assert lost["html tags removed"] == 1 and lost["html stripped"] >= 1  # counted by kind, and the tags named
    assert lost["detail"] == "html tags removed: table, td, tr"
    assert notices["attachments_on_source"].startswith("2 ")


def test_calls_per_ticket_are_one_per_comment_plus_assignee_attributes_tags_and_state(harness: Harness) -> None:
    harness.load(printer_ticket())
    routes = harness.writes("POST /conversations") + harness.writes("PUT /conversations")
    # 5 comments: 1 create + 4 replies; assignment, attributes, close; one tagging call per tag (2).
    assert sorted(routes) == sorted(
        ["POST /conversations"] + ["POST /conversations/{id}/reply"] * 4 + ["POST /conversations/{id}/parts"] * 2
        + ["PUT /conversations/{id}"] + ["POST /conversations/{id}/tags"] * 2)


def test_an_agent_without_an_admin_writes_as_the_fallback_admin(harness: Harness) -> None:
    record = ticket("2000", [part(1, "contact", "10", "<p>hi</p>", 0), part(2, "agent", "3", "<p>from a deleted agent</p>", 1)],
                    assignee="3")
    result, _ = harness.load(record)
    parts = harness.conversation("2000")["conversation_parts"]["conversation_parts"]
    assert parts[0]["author"]["id"] == FALLBACK_ADMIN
    assert result.extra["parts_by_fallback_admin"] == 1
    assert "assignee_unmatched" in {n.kind for n in harness.ledger.notices("conversations")}


def test_more_than_ten_attachments_are_spread_over_extra_parts(harness: Harness) -> None:
    files = [Attachment(filename=f"f{i}.png", url=f"https://cdn.example.com/f{i}.png") for i in range(23)]
    record = ticket("3000", [part(1, "contact", "10", "<p>hi</p>", 0), part(2, "agent", "2", "<p>files</p>", 1, attachments=files)])
    harness.load(record)
    parts = harness.conversation("3000")["conversation_parts"]["conversation_parts"]
    counts = [len(p["attachments"]) for p in parts if p["part_type"] == "comment"]
    assert counts == [10, 10, 3]
    assert [a["url"] for p in parts for a in p["attachments"]] == [f.url for f in files]


def test_a_thread_over_500_parts_keeps_the_newest_as_parts_and_the_oldest_in_transcripts(harness: Harness) -> None:
    harness.load(long_ticket("4000", 620))
    conversation = harness.conversation("4000")
    parts = conversation["conversation_parts"]["conversation_parts"]
    all_parts = harness.parts("4000")
    assert len(all_parts) <= 500, "everything must stay visible through the API"
    assert [p["body"] for p in parts if p["part_type"] == "comment"][-1] == "message 620"
    transcripts = [p for p in all_parts if p["part_type"] == "note" and "Transcript of" in p["body"]]
    assert transcripts and "message 2<" in transcripts[0]["body"]
    bodies = " ".join(p["body"] or "" for p in all_parts)
    assert all(re.search(rf"message {i}\b", bodies) for i in range(2, 621)), "no message may be lost"
    assert "long_thread" in {n.kind for n in harness.ledger.notices("conversations")}


def test_a_thread_over_500_parts_can_continue_in_a_linked_conversation(harness: Harness) -> None:
    harness.spec = with_options(harness.spec, long_threads="continuation")
    harness.load(long_ticket("5000", 620))
    first, second = harness.ledger.intercom_id("conversations", "5000"), harness.ledger.intercom_id("conversations", "5000#2")
    assert first and second and first != second
    later = harness.api.get(f"/conversations/{second}").json()
    assert first in later["source"]["body"]
    earlier = harness.api.get(f"/conversations/{first}").json()
    assert any(second in (p["body"] or "") for p in earlier["conversation_parts"]["conversation_parts"])
    assert earlier["state"] == "closed" and later["state"] == "open"
    assert len(harness.parts("5000")) <= 500


class Killed(BaseException):
    """The process dying: not an error any handler may catch."""


class KillAfterReplies:
    """Forwards to a client; dies right after the `n`-th reply has reached Intercom, before the ledger hears of it."""

    def __init__(self, client: IntercomClient, n: int) -> None:
        self.client, self.n, self.sent = client, n, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def reply_to_conversation(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.reply_to_conversation(conversation_id, body)
        self.sent += 1
        if self.sent == self.n:
            raise Killed()
        return answer


def test_a_kill_in_the_middle_of_a_tickets_parts_resumes_at_the_next_part(harness: Harness) -> None:
    record = long_ticket("6000", 12)
    with pytest.raises(Killed):
        harness.load(record, client=KillAfterReplies(harness.client, 7))  # type: ignore[arg-type]
    assert len(harness.parts("6000")) == 7
    result, _ = harness.load(record)
    assert result.failed == 0
    bodies = [p["body"] for p in harness.parts("6000") if p["part_type"] == "comment"]
    assert bodies == [f"<p>message {i}</p>" if i % 2 else f"message {i}" for i in range(2, 13)]
    assert harness.writes("POST /conversations/{id}/reply").count("POST /conversations/{id}/reply") == 11


def test_a_rerun_appends_only_new_comments_and_follows_the_state(harness: Harness) -> None:
    original = printer_ticket()
    harness.load(original)
    replies_before = len(harness.writes("POST /conversations/{id}/reply"))
    assert harness.load(original)[0].unchanged == 1
    assert len(harness.writes("POST /conversations/{id}/reply")) == replies_before
    reopened = original.model_copy(update={"status": "open", "parts": [
        *original.parts, part(6, "contact", "10", "<p>It is on fire again</p>", 60), part(7, "agent", "2", "<p>On my way</p>", 61)]})
    result, _ = harness.load(reopened)
    assert result.updated == 1
    assert len(harness.writes("POST /conversations/{id}/reply")) == replies_before + 2
    conversation = harness.conversation("1000")
    assert conversation["state"] == "open"
    assert [p["created_at"] for p in conversation["conversation_parts"]["conversation_parts"]][-2:] == [unix(at(60)), unix(at(61))]
    closed_again = reopened.model_copy(update={"status": "closed"})
    harness.load(closed_again)
    assert harness.conversation("1000")["state"] == "closed"


def test_a_ticket_whose_requester_was_not_migrated_is_skipped_or_started_by_a_lead(harness: Harness) -> None:
    orphan = ticket("7000", [part(1, "contact", "99", "<p>from a deleted user</p>", 0)], requester="99")
    result, _ = harness.load(orphan)
    # Requester 99 is neither a staged contact nor a staged agent: deleted in the source, skipped by default and counted so.
    assert result.extra["skipped_requester_deleted"] == 1 and harness.ledger.intercom_id("conversations", "7000") is None
    assert result.failed == 0 and harness.ledger.failures() == []
    assert "skipped" in {n.kind for n in harness.ledger.notices("conversations")}
    harness.spec = with_options(harness.spec, missing_requester="create_lead")
    result, _ = harness.load(orphan)
    assert result.created == 1 and result.extra["leads_created"] == 1
    lead = harness.api.get(f"/contacts/{harness.conversation('7000')['source']['author']['id']}").json()
    assert lead["role"] == "lead"


def test_validate_reads_back_and_rollback_deletes_the_conversations(harness: Harness) -> None:
    harness.spec = with_options(harness.spec, missing_requester="create_lead")
    _, run_id = harness.load(printer_ticket(), ticket("7001", [part(1, "contact", "98", "<p>x</p>", 0)], requester="98"))
    assert Validator(harness.client, harness.ledger).run() == []
    conversation_id = harness.ledger.intercom_id("conversations", "1000")
    harness.api.post(f"/conversations/{conversation_id}/parts", {"message_type": "open", "admin_id": FALLBACK_ADMIN})
    mismatches = Validator(harness.client, harness.ledger).run()
    assert [(m.entity, m.field, m.expected, m.actual) for m in mismatches] == [("conversations", "state", "closed", "open")]
    lead_id = harness.ledger.intercom_id("leads", "98")
    kept = Rollback(harness.client, harness.ledger).run([run_id])
    assert kept.deleted["conversations"] == 1, "the conversation reopened since the migration is kept"
    assert [(k["source_id"], k["fields"]) for k in kept.kept_changed] == [("1000", ["state"])]
    report = Rollback(harness.client, harness.ledger, force=True).run([run_id])
    assert report.deleted["conversations"] == 1 and report.deleted.get("leads", 0) + kept.deleted.get("leads", 0) == 1
    assert harness.api.get(f"/conversations/{conversation_id}").status_code == 404
    assert harness.api.get(f"/contacts/{lead_id}").status_code == 404
    assert harness.ledger.intercom_id("conversations", "1000") is None and harness.ledger.parts("1000") == {}


def test_a_tag_removed_in_the_source_is_removed_from_the_conversation(harness: Harness) -> None:
    original = printer_ticket()
    harness.load(original)
    retagged = original.model_copy(update={"tags": ["fire", "urgent"]})
    result, run_id = harness.load(retagged)
    assert result.extra["tags_removed"] == 1
    assert {t["name"] for t in harness.conversation("1000")["tags"]["tags"]} == {"fire", "urgent"}
    assert harness.writes("DELETE /conversations") == ["DELETE /conversations/{id}/tags/{tag_id}"]
    assert Validator(harness.client, harness.ledger).run() == []
    Rollback(harness.client, harness.ledger).run([run_id])  # undoing the delta puts the removed tag back
    assert {t["name"] for t in harness.conversation("1000")["tags"]["tags"]} == {"fire", "Hardware"}


def test_plan_counts_a_ticket_with_only_new_comments_as_an_update(harness: Harness) -> None:
    original = printer_ticket()
    assert plan_action(harness.ledger, harness.payload(original)) == "create"
    harness.load(original)
    assert plan_action(harness.ledger, harness.payload(original)) == "unchanged"
    commented = original.model_copy(update={"parts": [*original.parts, part(6, "contact", "10", "<p>and again</p>", 60)]})
    assert plan_action(harness.ledger, harness.payload(commented)) == "update"


class LoseCreateAnswer:
    """Forwards to a client; the first conversation create reaches Intercom (or not) but its answer is lost."""

    def __init__(self, client: IntercomClient, *, landed: bool) -> None:
        self.client, self.landed, self.lost = client, landed, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def create_conversation(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.lost:
            return self.client.create_conversation(body)
        self.lost = True
        if self.landed:
            self.client.create_conversation(body)
        raise AmbiguousWriteError("POST /conversations: connection dropped after sending")


@pytest.fixture
def lagging_search(tmp_path: Path, start_sandbox: Callable[..., tuple[SandboxServer, Api]], manual_clock: ManualClock) -> Iterator[Harness]:
    """A sandbox whose search lags 10 s behind writes, on a clock the test moves (the loader sleeps by moving it)."""
    server, api = start_sandbox(clock=manual_clock, search_delay_s=10.0,
                                conversation_attributes={name: "string" for name in ZENDESK_CONVERSATION_ATTRIBUTES})
    ledger = Ledger(tmp_path / "lagging.db")
    client = IntercomClient(server.base_url, TOKEN, "2.15", policy=FAST)
    run_id = ledger.start_run("extract")
    contact = client.create_contact({"role": "user", "external_id": "zd:10", "email": "u10@example.com"})
    ledger.record_write(run_id, "contacts", "contacts", "10", intercom_id=contact["id"], action="create", origin="created",
                        payload_hash="x", body={})
    yield Harness(server, api, ledger, client, load_mapping("zendesk", None, []))
    client.close()
    ledger.close()


@pytest.mark.parametrize("landed", [True, False])
def test_a_lost_create_answer_is_reconciled_by_a_bounded_search_never_a_duplicate(lagging_search: Harness, manual_clock: ManualClock,
                                                                                  landed: bool) -> None:
    harness = lagging_search
    loader = harness.loader()
    loader.client = LoseCreateAnswer(harness.client, landed=landed)  # type: ignore[assignment]
    conversations = HistoryLoader(loader, ConversationCalls(loader))
    conversations.clock, conversations.sleep = manual_clock, manual_clock.advance
    record = ticket("9000", [part(1, "contact", "10", "<p>hi</p>", 0), part(2, "agent", "2", "<p>hello</p>", 1)], assignee=None)
    result = conversations.load([harness.payload(record)])
    assert result.created == 1 and result.failed == 0
    with _open(harness.server) as db:
        stored = db.all("conversations")
    assert len(stored) == 1, "exactly one conversation, whether or not the lost create had landed"
    assert harness.ledger.intercom_id("conversations", "9000") == stored[0]["id"]
    assert len(harness.parts("9000")) == 1


def outbound_ticket(tid: str = "8000", *, public: bool = True) -> Conversation:
    """A ticket the support team opened (a Freshdesk outbound email, a call log, or a private first note), then the customer answers."""
    return ticket(tid, [part(1, "agent", "2", "<p>Your <strong>renewal</strong> quote is ready.</p>", 0, public=public),
                        part(2, "contact", "10", "<p>Thanks, looks good</p>", 3)])


@pytest.mark.parametrize(("public", "first_type"), [(True, "comment"), (False, "note")])
def test_a_ticket_the_support_team_opened_starts_with_a_line_from_the_customer_then_the_agents_message(
        harness: Harness, public: bool, first_type: str) -> None:
    result, _ = harness.load(outbound_ticket(public=public))
    assert result.created == 1 and result.failed == 0 and result.extra["tickets_opened_by_support"] == 1
    conversation = harness.conversation("8000")
    dana = harness.ledger.intercom_id("contacts", "10")
    # Intercom starts a conversation from a contact only: a neutral line, never the agent's words as the customer's.
    assert (conversation["source"]["author"]["type"], conversation["source"]["author"]["id"]) == ("user", dana)
    assert conversation["source"]["body"] == SUPPORT_OPENER and "renewal" not in conversation["source"]["body"]
    assert conversation["created_at"] == unix(at(0))
    parts = [p for p in conversation["conversation_parts"]["conversation_parts"] if p["part_type"] in ("comment", "note")]
    assert [(p["part_type"], p["author"]["type"], p["author"]["id"], p["created_at"]) for p in parts] == [
        (first_type, "admin", AGENT_ADMIN, unix(at(0))),
        ("comment", "user", dana, unix(at(3))),
    ]
    assert "<strong>renewal</strong>" in parts[0]["body"]
    notices = {n.kind: n.detail for n in harness.ledger.notices("conversations")}
    assert "opened_by_support" in notices and "attachments_split" not in notices


def test_a_ticket_the_support_team_opened_is_never_started_twice(harness: Harness) -> None:
    original = outbound_ticket()
    harness.load(original)
    # The create landed but the part row did not (a kill between the two): a delta must not start a second conversation.
    harness.ledger.forget_part("8000", "1#opener")
    answered = original.model_copy(update={"parts": [*original.parts, part(3, "agent", "2", "<p>Renewed.</p>", 9)]})
    result, _ = harness.load(answered)
    assert result.updated == 1 and result.failed == 0
    with _open(harness.server) as db:
        assert len(db.all("conversations")) == 1
    bodies = [p["body"] for p in harness.parts("8000") if p["part_type"] in ("comment", "note")]
    assert len(bodies) == 3 and bodies[-1] == "<p>Renewed.</p>"


def test_a_private_customer_comment_becomes_a_note_never_a_public_reply(harness: Harness) -> None:
    record = ticket("8100", [part(1, "contact", "10", "<p>hello</p>", 0),
                             part(2, "contact", "10", "<p>my card ends 4242</p>", 1, public=False)])
    harness.load(record)
    [later] = [p for p in harness.conversation("8100")["conversation_parts"]["conversation_parts"] if p["part_type"] in ("comment", "note")]
    assert (later["part_type"], later["author"]["type"]) == ("note", "admin")
    assert "4242" in later["body"] and "contact" in later["body"]
