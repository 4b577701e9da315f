"""End to end: the fake Zendesk's tickets → `deskmigrate run` → conversations in the sandbox; delta, validate, rollback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.conversations import conversation_view, notifications_sent, stored_parts
from deskmigrate.sandbox.resources.tickets import ticket_view
from tests.fakes.freshdesk import FAKE_API_KEY as FRESHDESK_KEY
from tests.fakes.freshdesk import FAKE_DOMAIN as FRESHDESK_DOMAIN
from tests.fakes.freshdesk import PNG_PIXEL, FakeFreshdesk
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_SUBDOMAIN, FAKE_TOKEN, FakeZendesk

INTERCOM_TOKEN = "e2e-conversations-intercom-token-93ab"
# The zendesk mapping's conversation attributes and those its `unmapped: custom_attribute` makes of the fake account's ticket
# fields; 2.15 cannot create them, so the fixture's workspace has them "from the UI".
DECLARED_ATTRIBUTES = ("zendesk_status", "zendesk_priority", "zendesk_channel", "zendesk_type", "zendesk_group", "zendesk_ticket_id")
TICKET_FIELD_ATTRIBUTES = ("ticket_form", "product", "urgent_customer", "order_number")
ZENDESK_ATTRIBUTES = {name: "string" for name in (*DECLARED_ATTRIBUTES, *TICKET_FIELD_ATTRIBUTES)}


class Project:
    def __init__(self, root: Path, fake: FakeZendesk) -> None:
        self.root, self.fake, self.runner = root, fake, CliRunner()
        self.config = root / "config.yaml"

    def cli(self, *args: str) -> Any:
        env = {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, "E2E_INTERCOM_TOKEN": INTERCOM_TOKEN}
        return self.runner.invoke(app, [*args, "-c", str(self.config)], env=env, catch_exceptions=False)

    def conversations(self) -> dict[str, dict[str, Any]]:
        """Sandbox conversations by Zendesk ticket id (the zendesk_ticket_id attribute)."""
        database = Database(self.root / "sandbox.db")
        try:
            with database.transaction() as db:
                found = [conversation_view(db, c) for c in db.all("conversations")]
                self.notifications = notifications_sent(db)
                self.write_routes = [e["route"] for e in db.request_log() if e["write"]]
        finally:
            database.close()
        by_ticket: dict[str, dict[str, Any]] = {}
        for conversation in found:
            tags = [t["name"].split(":", 1)[1] for t in conversation["tags"]["tags"] if t["name"].startswith("zendesk_ticket_id:")]
            ticket_id = conversation["custom_attributes"].get("zendesk_ticket_id") or tags[0]  # an attribute kept as a tag on 2.15
            assert ticket_id not in by_ticket, f"two conversations for ticket {ticket_id}"
            by_ticket[ticket_id] = conversation
        return by_ticket

    def report(self) -> dict[str, Any]:
        return json.loads(sorted((self.root / "state" / "reports").glob("*.json"))[-1].read_text())

    def configure(self, *, target: dict[str, Any] | None = None, load: dict[str, Any] | None = None) -> None:
        config = yaml.safe_load(self.config.read_text())
        config["target"].update(target or {})
        config["load"].update(load or {})
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    with FakeZendesk() as fake:
        config = {
            "source": {"type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${E2E_ZENDESK_TOKEN}",
                       "base_url": fake.base_url, "incremental_requests_per_minute": 100_000, "retry_backoff_s": 0,
                       "include_help_center": False},
            "target": {"type": "sandbox", "token": "${E2E_INTERCOM_TOKEN}", "path": "sandbox.db", "search_delay_s": 0,
                       "conversation_attributes": ZENDESK_ATTRIBUTES},
            "mapping": "zendesk",
            "state": "state",
            "load": {"concurrency": 4, "fallback_admin_email": "migration-bot@sandbox.example.com"},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield Project(tmp_path, fake)


def unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def ticket(project: Project, ticket_id: int) -> dict[str, Any]:
    return next(t for t in project.fake.account["tickets"] if t["id"] == ticket_id)  # type: ignore[index]


def zendesk_comment(cid: int, author: int, html: str, created: str) -> dict[str, Any]:
    """A ticket comment in Zendesk's shape (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/)."""
    return {"id": cid, "type": "Comment", "author_id": author, "body": html, "html_body": html, "plain_body": html, "public": True,
            "attachments": [], "audit_id": cid * 10, "via": {"channel": "web"}, "created_at": created, "metadata": {}}


def test_tickets_land_as_conversations_and_a_rerun_appends_only_new_comments(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    conversations = project.conversations()
    # 1003 was deleted in Zendesk; 1004's requester was deleted (skipped by default, and reported).
    assert set(conversations) == {"1000", "1001", "1002", "1005"}
    printer = conversations["1000"]
    assert printer["source"]["body"] == "My printer is on fire!"
    assert printer["created_at"] == unix(ticket(project, 1000)["created_at"])
    parts = printer["conversation_parts"]["conversation_parts"]
    assert [p["part_type"] for p in parts][:3] == ["comment", "note", "comment"]
    # Bob (agent 2) has no Intercom admin with his email: the fallback admin writes his replies and notes.
    assert parts[0]["author"]["email"] == parts[1]["author"]["email"] == "migration-bot@sandbox.example.com"
    assert conversations["1001"]["state"] == "closed"  # solved
    assert conversations["1001"]["conversation_parts"]["conversation_parts"][-1]["part_type"] == "close"
    assert conversations["1002"]["state"] == "snoozed"  # pending
    assert {t["name"] for t in printer["tags"]["tags"]} == {"fire", "hardware"}
    assert project.notifications == 0, "importing history must never notify a customer"
    report = project.report()
    phase = next(p for p in report["phases"] if p["phase"] == "conversations")
    assert phase["created"] == 4 and phase["skipped_requester_deleted"] == 1

    project.fake.account["comments"][1000].append(zendesk_comment(5004, 10, "<p>Still smoking</p>", "2024-03-09T10:00:00Z"))  # type: ignore[index]
    project.fake.touch("tickets", 1000)
    planned = project.cli("plan")
    assert planned.exit_code == 0, planned.output
    # Only ticket 1000 has a new comment: plan judges it as the load will (the whole ticket, comments included).
    assert project.report()["plan"]["counts"]["conversations"] == {"create": 1, "update": 1, "unchanged": 3, "rejected": 0}
    writes_before = len(project.write_routes)
    again = project.cli("run")
    assert again.exit_code == 0, again.output
    conversations = project.conversations()
    assert project.write_routes[writes_before:].count("POST /conversations/{id}/reply") == 1
    assert "POST /conversations" not in project.write_routes[writes_before:]
    last = [p for p in conversations["1000"]["conversation_parts"]["conversation_parts"] if p["part_type"] == "comment"][-1]
    assert last["body"] == "Still smoking" and last["created_at"] == unix("2024-03-09T10:00:00Z")

    validated = project.cli("validate")
    assert validated.exit_code == 0, validated.output
    rolled_back = project.cli("rollback", "--all", "--yes")
    assert rolled_back.exit_code == 0, rolled_back.output
    assert project.conversations() == {}


def test_tickets_target_lands_the_history_as_intercom_tickets(project: Project) -> None:
    (project.root / "tickets.yaml").write_text("conversation_options:\n  target: tickets\n  ticket_type: Zendesk ticket\n")
    config = yaml.safe_load(project.config.read_text())
    project.config.write_text(yaml.safe_dump({**config, "overrides": ["tickets.yaml"]}, sort_keys=False))
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    database = Database(project.root / "sandbox.db")
    try:
        with database.transaction() as db:
            tickets = {t["ticket_attributes"]["zendesk_ticket_id"]: ticket_view(db, t, 0) for t in db.all("tickets")}
            assert db.all("conversations") == []
            assert [t["name"] for t in db.all("ticket_types")] == ["Zendesk ticket"]
    finally:
        database.close()
    assert set(tickets) == {"1000", "1001", "1002", "1005"}
    printer = tickets["1000"]
    assert printer["created_at"] == unix(ticket(project, 1000)["created_at"])
    assert printer["ticket_attributes"]["_default_description_"] == "My printer is on fire!"
    assert tickets["1001"]["ticket_state"]["category"] == "resolved" and tickets["1001"]["open"] is False
    assert tickets["1002"]["ticket_state"]["category"] == "waiting_on_customer"
    assert project.cli("validate").exit_code == 0
    assert project.cli("rollback", "--all", "--yes").exit_code == 0
    database = Database(project.root / "sandbox.db")
    try:
        with database.transaction() as db:
            assert db.all("tickets") == []
    finally:
        database.close()


@pytest.fixture
def freshdesk(tmp_path: Path) -> Iterator[tuple[Path, FakeFreshdesk]]:
    with FakeFreshdesk() as fake:
        config = {
            "source": {"type": "freshdesk", "domain": FRESHDESK_DOMAIN, "api_key": "${E2E_FRESHDESK_KEY}", "base_url": fake.base_url,
                       "tickets_list_per_minute": 100_000, "contacts_list_per_minute": 100_000, "retry_backoff_s": 0,
                       "include_solutions": False, "download_attachments": True, "attachments_dir": "state/attachments"},
            "target": {"type": "sandbox", "token": "${E2E_INTERCOM_TOKEN}", "path": "sandbox.db", "search_delay_s": 0},
            "mapping": "freshdesk",
            "state": "state",
            "load": {"concurrency": 4, "fallback_admin_email": "migration-bot@sandbox.example.com"},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield tmp_path, fake


def test_freshdesk_attachments_saved_while_fresh_are_uploaded_after_their_links_expired(freshdesk: tuple[Path, FakeFreshdesk]) -> None:
    root, fake = freshdesk
    runner = CliRunner()
    env = {"E2E_FRESHDESK_KEY": FRESHDESK_KEY, "E2E_INTERCOM_TOKEN": INTERCOM_TOKEN}
    extracted = runner.invoke(app, ["extract", "-c", str(root / "config.yaml")], env=env, catch_exceptions=False)
    assert extracted.exit_code == 0, extracted.output
    fake.expire_attachments()  # the signed links die long before a real load starts
    loaded = runner.invoke(app, ["load", "-c", str(root / "config.yaml")], env=env, catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output
    database = Database(root / "sandbox.db")
    try:
        with database.transaction() as db:
            uploads = {a["name"]: a for c in db.all("conversations") for p in stored_parts(db, c["id"]) for a in p["attachments"]}
    finally:
        database.close()
    photo = uploads["photo.jpg"]
    assert photo["url"].split("/uploads/")[1].startswith(hashlib.sha256(PNG_PIXEL).hexdigest()) and photo["filesize"] == len(PNG_PIXEL)
    assert uploads["receipt.pdf"]["filesize"] == len(b"file /files/7000/receipt.pdf")


# -- conversation attributes: what Intercom has decides where the values go --------------------------------


UI_PATH = "Settings → Data → Conversation data"


def tag_names(conversation: dict[str, Any]) -> set[str]:
    return {t["name"] for t in conversation["tags"]["tags"]}


def said(result: Any) -> str:
    """The command's output on one line (the console wraps at its width)."""
    return " ".join(result.output.split())


def test_on_2_15_missing_attributes_are_named_by_check_and_plan_and_kept_as_tags_until_made_in_the_ui(project: Project) -> None:
    project.configure(target={"conversation_attributes": {"zendesk_status": "string"}})  # the only one the admin has made
    checked = project.cli("check")
    assert checked.exit_code == 0, checked.output
    assert UI_PATH in said(checked) and "zendesk_ticket_id" in said(checked)
    planned = project.cli("plan")
    assert planned.exit_code == 0, planned.output
    assert UI_PATH in said(planned)
    plan_check = project.report()["plan"]["conversation_attributes"]
    assert "zendesk_ticket_id" in plan_check["kept_as_tags"] and "zendesk_status" not in plan_check["missing"]

    ran = project.cli("run")
    assert ran.exit_code == 0, ran.output
    assert UI_PATH in said(ran)
    report = project.report()
    assert set(report["preflight"]["conversation_attributes"]["kept_as_tags"]) == set(plan_check["kept_as_tags"])
    assert next(p for p in report["phases"] if p["phase"] == "conversations")["tickets_attributes_as_tags"] == 4
    printer = project.conversations()["1000"]
    assert printer["custom_attributes"] == {"zendesk_status": "open"}, "only what Intercom has is sent as an attribute"
    assert {"fire", "hardware", "zendesk_ticket_id:1000", "zendesk_priority:high", "product:Widget Pro"} <= tag_names(printer)
    assert project.cli("validate").exit_code == 0

    # The admin makes the rest in the UI; the next run moves the values into them and takes the stand-in tags off.
    project.configure(target={"conversation_attributes": {**ZENDESK_ATTRIBUTES, "refund_amount": "string", "solved_at": "string"}})
    again = project.cli("run")
    assert again.exit_code == 0, again.output
    printer = project.conversations()["1000"]
    assert printer["custom_attributes"]["zendesk_ticket_id"] == "1000" and printer["custom_attributes"]["product"] == "Widget Pro"
    assert tag_names(printer) == {"fire", "hardware"}
    assert project.report()["preflight"]["conversation_attributes"]["kept_as_tags"] == []
    assert project.cli("validate").exit_code == 0


def test_on_2_16_run_creates_the_missing_conversation_attributes(project: Project) -> None:
    project.configure(target={"version": "2.16", "conversation_attributes": {}})
    checked = project.cli("check")
    assert checked.exit_code == 0 and "created by `run`" in said(checked), checked.output
    ran = project.cli("run")
    assert ran.exit_code == 0, ran.output
    conversations = project.conversations()
    assert project.write_routes.count("POST /conversations/attributes") == len(project.report()["preflight"]["conversation_attributes"]["created"])
    assert set(DECLARED_ATTRIBUTES) <= set(project.report()["preflight"]["conversation_attributes"]["created"])
    printer = conversations["1000"]
    assert printer["custom_attributes"]["zendesk_ticket_id"] == "1000" and printer["custom_attributes"]["zendesk_priority"] == "high"
    assert not any(":" in name for name in tag_names(printer))
    rerun = project.cli("run")
    assert rerun.exit_code == 0 and project.report()["preflight"]["conversation_attributes"]["created"] == []


def test_strict_attributes_stops_before_anything_is_loaded(project: Project) -> None:
    project.configure(target={"conversation_attributes": {}}, load={"strict_attributes": True})
    checked = project.cli("check")
    assert checked.exit_code == 2, checked.output
    ran = project.cli("run")
    assert ran.exit_code == 2, ran.output
    assert "strict_attributes" in said(ran) and "zendesk_ticket_id" in said(ran)
    assert project.conversations() == {}
    assert project.write_routes == [], "nothing was written to Intercom"
