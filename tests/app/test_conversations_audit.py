"""Ticket history through the CLI, requirement by requirement: a fake Zendesk → `deskmigrate run` → conversations in the sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.core.ledger import Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.history import SUPPORT_OPENER
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.conversations import conversation_view, notifications_sent, stored_parts
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_SUBDOMAIN, FAKE_TOKEN, FakeZendesk, default_account

INTERCOM_TOKEN = "e2e-conversations-audit-token-51c7"
# What the zendesk mapping writes on a conversation; 2.15 cannot create conversation attributes, so the workspace has them from the UI.
ATTRIBUTES = {name: "string" for name in (
    "zendesk_status", "zendesk_priority", "zendesk_channel", "zendesk_type", "zendesk_group", "zendesk_ticket_id",
    "ticket_form", "product", "urgent_customer", "order_number", "refund_amount",
)}
AGENT_ADMIN = "991267002"  # the sandbox admin agent@sandbox.example.com
FALLBACK_ADMIN = "991267003"  # migration-bot@sandbox.example.com
NOTE_HTML = ('<p>Call <a href="https://crm.example.com/acct/7">the account</a><br>then escalate</p>'
             "<table><tr><td>plan</td><td>gold</td></tr></table><script>track()</script>")
LONG_THREAD = 510


def comment(cid: int, author: int, html: str, created: str, public: bool = True, attachments: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """A ticket comment in Zendesk's shape (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/)."""
    return {"id": cid, "type": "Comment", "author_id": author, "body": html, "html_body": html, "plain_body": html, "public": public,
            "attachments": attachments or [], "audit_id": cid * 10, "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": created, "metadata": {"system": {}, "custom": {}}}


def public_file(index: int) -> dict[str, Any]:
    """An attachment on a public file host (not Zendesk's): Intercom fetches it by URL."""
    url = f"https://files.example.net/scan-{index:02d}.pdf"
    return {"id": 9500 + index, "file_name": f"scan-{index:02d}.pdf", "content_url": url, "mapped_content_url": url,
            "content_type": "application/pdf", "size": 1000, "inline": False, "deleted": False, "malware_scan_result": "malware_not_found",
            "thumbnails": []}


def iso(minute: int) -> str:
    return datetime.fromtimestamp(1709800000 + 60 * minute).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit_account(long_thread: bool = False) -> dict[str, Any]:
    """The default fake account, plus: Bob has an Intercom admin, a note with HTML to lose, 12 files on one comment; a 510-comment thread."""
    account = default_account()
    bob = next(u for u in account["users"] if u["id"] == 2)
    bob["email"] = "agent@sandbox.example.com"
    account["comments"][1000].insert(3, comment(5005, 2, NOTE_HTML, "2024-03-05T13:30:00Z", public=False))
    heavy, long = dict(account["tickets"][0]), dict(account["tickets"][0])
    heavy.update(id=1006, subject="Scans", status="open", tags=[], custom_fields=[], created_at="2024-03-06T09:00:00Z")
    long.update(id=1007, subject="Endless", status="open", tags=[], custom_fields=[], created_at=iso(0))
    account["tickets"] += [heavy, long] if long_thread else [heavy]
    account["comments"][1006] = [comment(5100, 10, "<p>Twelve scans</p>", "2024-03-06T09:00:00Z"),
                                 comment(5101, 2, "<p>Here they are back, signed</p>", "2024-03-06T10:00:00Z",
                                         attachments=[public_file(i) for i in range(12)])]
    if long_thread:
        account["comments"][1007] = [comment(6000 + i, 10 if i % 2 == 0 else 2, f"<p>message {i}</p>", iso(i)) for i in range(LONG_THREAD)]
    return account


class Project:
    def __init__(self, root: Path, fake: FakeZendesk, **load: Any) -> None:
        self.root, self.fake, self.runner = root, fake, CliRunner()
        self.config = root / "config.yaml"
        config = {
            "source": {"type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${E2E_ZENDESK_TOKEN}",
                       "base_url": fake.base_url, "incremental_requests_per_minute": 100_000, "retry_backoff_s": 0,
                       "include_help_center": False},
            "target": {"type": "sandbox", "token": "${E2E_INTERCOM_TOKEN}", "path": "sandbox.db", "search_delay_s": 0,
                       "conversation_attributes": ATTRIBUTES},
            "mapping": "zendesk",
            "state": "state",
            "load": {"concurrency": 4, "fallback_admin_email": "migration-bot@sandbox.example.com", **load},
        }
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    @property
    def env(self) -> dict[str, str]:
        return {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, "E2E_INTERCOM_TOKEN": INTERCOM_TOKEN}

    def cli(self, *args: str) -> Any:
        return self.runner.invoke(app, [*args, "-c", str(self.config)], env=self.env, catch_exceptions=False)

    def set_target(self, **values: Any) -> None:
        data = yaml.safe_load(self.config.read_text())
        data["target"].update(values)
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))

    def read(self) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], int]:
        """Conversations by Zendesk ticket id (as the API shows them), every stored part by ticket id, and notifications sent."""
        database = Database(self.root / "sandbox.db")
        try:
            with database.transaction() as db:
                stored = db.all("conversations")
                ticket_ids = {unix(t["created_at"]): str(t["id"]) for t in self.fake.account["tickets"]}  # type: ignore[index]
                views = {ticket_ids[c["created_at"]]: conversation_view(db, c) for c in stored}  # attributes may not be set yet
                parts = {ticket_ids[c["created_at"]]: stored_parts(db, c["id"]) for c in stored}
                assert len(views) == len(stored), "two conversations for one ticket"
                return views, parts, notifications_sent(db)
        finally:
            database.close()

    def request_log(self) -> list[dict[str, Any]]:
        database = Database(self.root / "sandbox.db")
        try:
            with database.transaction() as db:
                return db.request_log()
        finally:
            database.close()

    def report(self) -> dict[str, Any]:
        return json.loads(sorted((self.root / "state" / "reports").glob("*.json"))[-1].read_text())


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    with FakeZendesk(audit_account()) as fake:
        yield Project(tmp_path, fake)


@pytest.fixture
def long_project(tmp_path: Path) -> Iterator[Project]:
    with FakeZendesk(audit_account(long_thread=True)) as fake:
        yield Project(tmp_path, fake)


def unix(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def comments_of(project: Project, ticket_id: int) -> list[dict[str, Any]]:
    return project.fake.account["comments"][ticket_id]  # type: ignore[index]


def ticket_of(project: Project, ticket_id: int) -> dict[str, Any]:
    return next(t for t in project.fake.account["tickets"] if t["id"] == ticket_id)  # type: ignore[index]


def content_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in parts if p["part_type"] in ("comment", "note")]


class SentBodies:
    """Every request body the CLI's Intercom client sends, with the Intercom-Version it pins."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, dict[str, Any], str]] = []
        original = IntercomClient.request
        calls = self.calls

        def recording(client: IntercomClient, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            version = str(client._headers.get("Intercom-Version"))
            calls.append((method, kwargs.get("route") or path, dict(kwargs.get("json") or {}), version))
            return original(client, method, path, *args, **kwargs)

        monkeypatch.setattr(IntercomClient, "request", recording)

    def replies(self) -> list[dict[str, Any]]:
        return [body for method, route, body, _ in self.calls if method == "POST" and route == "/conversations/{id}/reply"]


def test_every_part_is_backdated_attributed_and_sent_without_notifying(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = SentBodies(monkeypatch)
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    conversations, parts, notified = project.read()
    for ticket_id in ("1000", "1001", "1002", "1005", "1006"):
        comments = comments_of(project, int(ticket_id))
        conversation = conversations[ticket_id]
        assert conversation["created_at"] == unix(ticket_of(project, int(ticket_id))["created_at"])
        later = content_parts(parts[ticket_id])
        # every later comment is a part with its own created_at, in order (1006's twelve files take two parts at one time)
        assert [p["created_at"] for p in later] == sorted(p["created_at"] for p in later)
        assert {p["created_at"] for p in later} == {unix(c["created_at"]) for c in comments[1:]}, ticket_id
    printer = content_parts(parts["1000"])
    # Bob's email is an Intercom admin's: his replies and notes are his; the customer's are the customer's
    assert [(p["part_type"], p["author"]["type"], p["author"]["id"]) for p in printer] == [
        ("comment", "admin", AGENT_ADMIN), ("note", "admin", AGENT_ADMIN), ("note", "admin", AGENT_ADMIN),
        ("comment", "user", conversations["1000"]["source"]["author"]["id"])]
    # Cleo (no Intercom admin) wrote 1002's private note: the fallback admin writes it, and the run says so
    assert [p["author"]["id"] for p in content_parts(parts["1002"])] == [FALLBACK_ADMIN]
    assert "3 <cleo@acme.example>" in project.report()["preflight"]["agents_unmatched"]
    assert "cleo@acme.example" in result.output
    # 2.15+ pinned, and every admin reply and note says skip_notifications: the workspace notified nobody
    assert {version for *_, version in sent.calls} == {"2.15"}
    admin_parts = [body for body in sent.replies() if body.get("type") == "admin"]
    assert len(admin_parts) >= 7 and all(body.get("skip_notifications") is True for body in admin_parts)
    assert notified == 0


def test_the_first_message_is_plain_text_and_notes_keep_links_and_line_breaks_with_the_loss_counted(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    conversations, parts, _ = project.read()
    assert conversations["1000"]["source"]["body"] == "My printer is on fire!"  # <p>…<strong>…</strong>…</p> as text
    assert conversations["1002"]["source"]["body"] == "Le menu du café ne charge pas."
    assert conversations["1005"]["source"]["body"] == "Use <b> tags & more\n\n- one"  # entities decoded, the list kept as text
    note = next(p for p in parts["1000"] if "escalate" in (p["body"] or ""))
    assert note["part_type"] == "note"
    assert '<a href="https://crm.example.com/acct/7"' in note["body"] and "<br>" in note["body"]
    assert "<table" not in note["body"] and "<script" not in note["body"] and "track()" not in note["body"]
    assert "gold" in note["body"]  # a table's text stays, its markup goes
    report = project.report()
    phase = next(p for p in report["phases"] if p["phase"] == "conversations")
    assert phase["tickets_content_lost"] == 5  # every ticket whose HTML became text or lost tags
    noted = {(n["source_id"], n["kind"]) for n in report["content_notes"]}
    assert ("1000", "content_lost") in noted, "the run report carries the per-ticket details status points to"
    status = project.cli("status")
    assert status.exit_code == 0 and "conversations: content_lost" in status.output
    ledger = Ledger(project.root / "state" / "ledger.db")
    try:
        lost = {n.source_id: json.loads(n.detail) for n in ledger.notices("conversations") if n.kind == "content_lost"}
    finally:
        ledger.close()
    assert lost["1000"]["html tags removed"] == 1  # the note's table and script, counted for its ticket
    assert lost["1000"]["detail"] == "html tags removed: script, table, td, tr"
    assert "html tags removed" not in lost["1001"]


def test_a_comment_with_twelve_files_spreads_them_over_parts_of_at_most_ten(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    _, parts, _ = project.read()
    with_files = [p for p in parts["1006"] if p["attachments"]]
    assert [len(p["attachments"]) for p in with_files] == [10, 2]
    assert sorted(a["name"] for p in with_files for a in p["attachments"]) == [f"scan-{i:02d}.pdf" for i in range(12)]
    assert {p["author"]["id"] for p in with_files} == {AGENT_ADMIN}


def test_a_thread_longer_than_500_parts_keeps_every_message(long_project: Project) -> None:
    project = long_project
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    conversations, parts, _ = project.read()
    shown = conversations["1007"]["conversation_parts"]
    assert len(shown["conversation_parts"]) <= 500
    text = conversations["1007"]["source"]["body"] + "".join(p["body"] or "" for p in parts["1007"])
    assert all(f"message {i}<" in text or f"message {i}\n" in text or text.endswith(f"message {i}") for i in range(LONG_THREAD))
    # the newest messages are real parts, backdated; the oldest are in transcript notes
    phase = next(p for p in project.report()["phases"] if p["phase"] == "conversations")
    assert phase["tickets_long_thread"] == 1  # reported
    newest = content_parts(parts["1007"])[-1]
    assert newest["created_at"] == unix(iso(LONG_THREAD - 1)) and "message 509" in newest["body"]
    assert project.cli("validate").exit_code == 0


def test_tickets_the_support_team_opened_start_with_a_line_from_the_customer_and_the_agents_message_after_it(tmp_path: Path) -> None:
    account = audit_account()
    # Bob opens one ticket for Dana (a public comment) and another with a private note; Dana answers the first.
    for ticket_id, created, public in ((1008, "2024-03-07T09:00:00Z", True), (1009, "2024-03-07T10:00:00Z", False)):
        opened = dict(account["tickets"][0])
        opened.update(id=ticket_id, subject="Renewal", status="open", tags=[], custom_fields=[], created_at=created, submitter_id=2)
        account["tickets"].append(opened)
        account["comments"][ticket_id] = [comment(ticket_id * 10, 2, f"<p>Renewal quote for {ticket_id}</p>", created, public=public)]
    account["comments"][1008].append(comment(10081, 10, "<p>Thanks!</p>", "2024-03-07T09:30:00Z"))
    with FakeZendesk(account) as fake:
        project = Project(tmp_path, fake)
        result = project.cli("run")
        assert result.exit_code == 0, result.output
        conversations, parts, _ = project.read()
    dana = conversations["1000"]["source"]["author"]["id"]
    for ticket_id, first_type in (("1008", "comment"), ("1009", "note")):
        source = conversations[ticket_id]["source"]
        assert (source["author"]["type"], source["author"]["id"], source["body"]) == ("user", dana, SUPPORT_OPENER), ticket_id
        first = content_parts(parts[ticket_id])[0]
        assert (first["part_type"], first["author"]["type"], first["author"]["id"]) == (first_type, "admin", AGENT_ADMIN), ticket_id
        assert f"Renewal quote for {ticket_id}" in first["body"]
        assert first["created_at"] == conversations[ticket_id]["created_at"] == unix(ticket_of(project, int(ticket_id))["created_at"])
    assert [(p["part_type"], p["author"]["id"]) for p in content_parts(parts["1008"])[1:]] == [("comment", dana)]
    phase = next(p for p in project.report()["phases"] if p["phase"] == "conversations")
    assert phase["tickets_opened_by_support"] == 2
    assert project.cli("validate").exit_code == 0


def test_state_assignee_and_tags_follow_the_ticket(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    conversations, parts, _ = project.read()
    printer, refund, cafe, hold = (conversations[t] for t in ("1000", "1001", "1002", "1005"))
    assert (printer["state"], str(printer["admin_assignee_id"])) == ("open", AGENT_ADMIN)
    assert {t["name"] for t in printer["tags"]["tags"]} == {"fire", "hardware"}
    assert refund["state"] == "closed" and parts["1001"][-1]["part_type"] == "close"
    assert cafe["state"] == "snoozed" and hold["state"] == "snoozed"
    assert {t["name"] for t in hold["tags"]["tags"]} == {"escalated"}
    assert printer["custom_attributes"]["zendesk_priority"] == "high" and printer["custom_attributes"]["zendesk_group"] == "Support"


def test_strict_agents_stops_before_any_record_is_loaded(tmp_path: Path) -> None:
    with FakeZendesk(audit_account()) as fake:
        project = Project(tmp_path, fake, strict_agents=True)
        result = project.cli("run")
    assert result.exit_code == 2, result.output
    assert "cleo@acme.example" in result.output and "strict_agents" in result.output
    writes = {e["route"] for e in project.request_log() if e["write"]}
    assert not writes - {"POST /data_attributes"}


def test_strict_agents_stops_before_any_write(tmp_path: Path) -> None:
    with FakeZendesk(audit_account()) as fake:
        project = Project(tmp_path, fake, strict_agents=True)
        assert project.cli("run").exit_code == 2
    assert [e["route"] for e in project.request_log() if e["write"]] == []  # "nothing was loaded", as the message says


def test_a_delta_appends_only_new_comments_and_moves_the_state(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    before, parts_before, _ = project.read()
    log_size = len(project.request_log())
    comments_of(project, 1001).append(comment(5013, 11, "<p>Actually, it came back</p>", "2024-03-08T09:00:00Z"))
    project.fake.touch("tickets", 1001, status="open")  # reopened by the customer's reply
    project.fake.touch("tickets", 1005, status="solved")
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    after, parts_after, _ = project.read()
    writes = [e["route"] for e in project.request_log()[log_size:] if e["write"]]
    assert "POST /conversations" not in writes
    assert writes.count("POST /conversations/{id}/reply") == 1
    assert after["1001"]["id"] == before["1001"]["id"] and after["1001"]["state"] == "open"
    added = parts_after["1001"][len(parts_before["1001"]):]
    assert [(p["part_type"], p["body"], p["created_at"]) for p in content_parts(added)] == [
        ("comment", "Actually, it came back", unix("2024-03-08T09:00:00Z"))]
    assert after["1005"]["state"] == "closed" and parts_after["1005"][-1]["part_type"] == "close"
    assert all(len(parts_after[t]) == len(parts_before[t]) for t in ("1000", "1002", "1006"))


def test_validate_finds_a_conversation_changed_behind_our_back_and_rollback_keeps_it_unless_forced(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    assert project.cli("validate").exit_code == 0
    database = Database(project.root / "sandbox.db")
    try:
        with database.transaction() as db:
            conversation = next(c for c in db.all("conversations") if c["custom_attributes"]["zendesk_ticket_id"] == "1001")
            db.put("conversations", {**conversation, "state": "open", "open": True})
    finally:
        database.close()
    validated = project.cli("validate")
    assert validated.exit_code == 3, validated.output
    assert "1001" in validated.output
    rolled_back = project.cli("rollback", "--all", "--yes")
    assert rolled_back.exit_code == 0, rolled_back.output
    assert list(project.read()[0]) == ["1001"], "a conversation someone reopened since the migration is theirs now: kept"
    assert "Changed since the migration: kept" in rolled_back.output and "1001" in rolled_back.output
    forced = project.cli("rollback", "--all", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert project.read()[0] == {}


def test_a_run_killed_inside_a_tickets_parts_resumes_without_a_duplicate(long_project: Project) -> None:
    project = long_project
    project.set_target(latency_ms=15)
    process = subprocess.Popen([sys.executable, "-m", "deskmigrate", "run", "-c", str(project.config)], env={**_os_env(), **project.env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (project.root / "sandbox.db").exists() and _replies(project) > 60:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    _, parts, _ = project.read()
    assert 0 < len(parts.get("1007", [])) < LONG_THREAD - 10, "killed inside the long ticket"
    project.set_target(latency_ms=0)
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    conversations, parts, _ = project.read()
    bodies = [p["body"] for p in content_parts(parts["1007"])]
    assert len(bodies) == len(set(bodies)), "a part was sent twice"
    assert "message 509" in bodies[-1]
    assert project.cli("validate").exit_code == 0


def _replies(project: Project) -> int:
    try:
        return sum(1 for e in project.request_log() if e["route"] == "POST /conversations/{id}/reply")
    except Exception:  # the sandbox file is being created
        return 0


def _os_env() -> dict[str, str]:
    import os

    return dict(os.environ)
