"""End to end: `deskmigrate sync` — delta cycles from a fake Zendesk (and CSV files) into the sandbox, each change landing
once, a failed cycle not stopping the next, SIGTERM stopping cleanly, the cycles and their lag in `status`."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from deskmigrate import sync as syncing
from deskmigrate.cli import app
from deskmigrate.core.ledger import Ledger
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.conversations import conversation_view
from tests.app.conftest import Project as CsvProject
from tests.app.conftest import contact_rows
from tests.app.test_conversations_audit import Project as AuditProject
from tests.fakes.base import iso_z
from tests.fakes.zendesk import FakeZendesk

START = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)


class ZendeskProject(AuditProject):
    """The fake Zendesk account read into the sandbox (the conversations audit's project), with what these tests read back."""

    def conversations(self) -> dict[str, dict[str, Any]]:
        database = Database(self.root / "sandbox.db")
        try:
            with database.transaction() as db:
                found = [conversation_view(db, c) for c in db.all("conversations")]
        finally:
            database.close()
        by_ticket: dict[str, dict[str, Any]] = {}
        for conversation in found:
            ticket_id = conversation["custom_attributes"]["zendesk_ticket_id"]
            assert ticket_id not in by_ticket, f"two conversations for ticket {ticket_id}"
            by_ticket[ticket_id] = conversation
        return by_ticket

    def contacts(self) -> dict[str, dict[str, Any]]:
        database = Database(self.root / "sandbox.db")
        try:
            with database.transaction() as db:
                found = db.all("contacts")
        finally:
            database.close()
        by_id: dict[str, dict[str, Any]] = {}
        for contact in found:
            assert contact["external_id"] not in by_id, f"two contacts for {contact['external_id']}"
            by_id[contact["external_id"]] = contact
        return by_id

    def reports(self, command: str) -> list[dict[str, Any]]:
        found = [json.loads(path.read_text()) for path in sorted((self.root / "state" / "reports").glob("*.json"))]
        return [report for report in found if report.get("command") == command]


@pytest.fixture
def zendesk(tmp_path: Path) -> Iterator[ZendeskProject]:
    with FakeZendesk() as fake:
        yield ZendeskProject(tmp_path, fake)


class ScriptedClock:
    """The loop's clock: time moves only when the loop waits, and each wait first makes the next change in the source
    (and notes where the sandbox's request log stood, so each cycle's writes can be told apart)."""

    def __init__(self, changes: list[Callable[[], None]], mark: Callable[[], int]) -> None:
        self.moment = START.timestamp()
        self.changes = list(changes)
        self.mark = mark
        self.marks: list[int] = []
        self.waited: list[float] = []

    def now(self) -> float:
        return self.moment

    def wait(self, seconds: float) -> bool:
        self.marks.append(self.mark())
        self.waited.append(seconds)
        if self.changes:
            self.changes.pop(0)()
        self.moment += seconds
        return False


def recent(minutes: float) -> str:
    return iso_z(datetime.now(UTC) - timedelta(minutes=minutes))


def zendesk_comment(cid: int, author: int, html: str, created: str) -> dict[str, Any]:
    """A ticket comment in Zendesk's shape (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/)."""
    return {"id": cid, "type": "Comment", "author_id": author, "body": html, "html_body": html, "plain_body": html, "public": True,
            "attachments": [], "audit_id": cid * 10, "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": created, "metadata": {"system": {}, "custom": {}}}


def new_ticket(fake: FakeZendesk, ticket_id: int, subject: str, requester: int) -> None:
    """A ticket opened in Zendesk after the migration began, with its first message."""
    account = fake.account
    assert account is not None
    template = next(t for t in account["tickets"] if t["id"] == 1002)
    # updated a few minutes ago: earlier than any later `touch` (which stamps now − 2 minutes), as the export orders them
    stamp = recent(4)
    ticket = copy.deepcopy(template) | {"id": ticket_id, "subject": subject, "raw_subject": subject, "status": "open",
                                        "requester_id": requester, "submitter_id": requester, "tags": ["new"],
                                        "created_at": stamp, "updated_at": stamp,
                                        "generated_timestamp": int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())}
    ticket["url"] = f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json"
    account["tickets"].append(ticket)
    account["comments"][ticket_id] = [zendesk_comment(ticket_id * 10, requester, f"<p>{subject}, please help</p>", stamp)]


def test_three_sync_cycles_land_each_change_once_and_status_shows_their_lag(zendesk: ZendeskProject,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert zendesk.cli("run").exit_code == 0
    before = zendesk.conversations()
    writes_before = len(zendesk.request_log())

    def second() -> None:  # a new comment on an old (solved) ticket reopens it, with a tag added
        zendesk.fake.account["comments"][1001].append(  # type: ignore[index]
            zendesk_comment(5013, 11, "<p>It broke again</p>", recent(2)))
        zendesk.fake.touch("tickets", 1001, status="open", tags=["reopened"])

    def third() -> None:  # the customer's name edited in Zendesk
        zendesk.fake.touch("users", 12, name="Émile Zola-Dreyfus")

    new_ticket(zendesk.fake, 1100, "Scanner jammed", requester=10)  # the first cycle's change
    clock = ScriptedClock([second, third], mark=lambda: len(zendesk.request_log()))
    monkeypatch.setattr(syncing, "system_clock", lambda: clock)
    result = zendesk.cli("sync", "--every", "1m", "--until", "2027-01-31T12:02:30Z")
    assert result.exit_code == 0, result.output
    assert "sync: cycle 3 ok, 1 record(s) landed, lag 2." in result.output  # stamped two minutes before the cycle
    assert clock.waited == [60.0, 60.0], "three cycles a minute apart; the --until time came before a fourth"

    log = zendesk.request_log()
    writes = [[e["route"] for e in log[start:end] if e["write"]]
              for start, end in zip([writes_before, *clock.marks], [*clock.marks, len(log)], strict=True)]
    # cycle 1: the new ticket, created once with its message; nothing else
    assert writes[0].count("POST /conversations") == 1 and "PUT /contacts/{id}" not in writes[0], writes[0]
    # cycle 2: the new comment appended once to the existing conversation, which is reopened and tagged
    assert "POST /conversations" not in writes[1], writes[1]
    assert writes[1].count("POST /conversations/{id}/reply") == 1, writes[1]
    # cycle 3: the edited contact, once, and nothing else
    assert writes[2] == ["PUT /contacts/{id}"], writes[2]

    after = zendesk.conversations()
    assert set(after) == set(before) | {"1100"}
    assert after["1100"]["source"]["body"] == "Scanner jammed, please help"
    reopened = after["1001"]
    assert reopened["id"] == before["1001"]["id"] and reopened["state"] == "open"
    assert "reopened" in {t["name"] for t in reopened["tags"]["tags"]}
    bodies = [p["body"] for p in reopened["conversation_parts"]["conversation_parts"] if p["part_type"] == "comment"]
    assert bodies.count("It broke again") == 1
    assert zendesk.contacts()["zd:12"]["name"] == "Émile Zola-Dreyfus"

    cycles = zendesk.reports("sync")
    assert [r["sync"]["cycle"] for r in cycles] == [1, 2, 3] and all(r["exit_code"] == 0 for r in cycles)
    newest = [(r["sync"]["newest_change"]["entity"], r["sync"]["newest_change"]["source_id"]) for r in cycles]
    assert newest == [("conversations", "1100"), ("conversations", "1001"), ("contacts", "12")]
    assert all(r["sync"]["lag_s"] >= 120 for r in cycles[1:]), "the changes were stamped two minutes before the cycle"
    page = (zendesk.root / "state" / "reports" / f"{cycles[2]['run_id']}.html").read_text()
    assert "Sync cycle 3" in page and "newest change: contacts 12" in page

    status = zendesk.cli("status")
    assert status.exit_code == 0, status.output
    table = status.output.split("Sync cycles", 1)[1]
    rows = [line for line in table.splitlines() if " sync" not in line and line.count("│") > 3 and "run" not in line]
    assert len(rows) == 3 and all(" ok " in row for row in rows), table
    assert "contacts 12" in table and "last clean cycle" in status.output
    as_json = json.loads(zendesk.cli("status", "--json").output)
    assert [r["sync"]["cycle"] for r in as_json["runs"] if r["command"] == "sync"] == [1, 2, 3]


def test_a_failed_cycle_is_recorded_and_the_next_one_lands_the_change(zendesk: ZendeskProject, monkeypatch: pytest.MonkeyPatch) -> None:
    assert zendesk.cli("run").exit_code == 0
    zendesk.fake.touch("users", 12, name="Émile Zola-Dreyfus")
    zendesk.fake.refuse("incremental/users/cursor", 503)  # the source answers 503 all through the first cycle

    def source_back() -> None:
        zendesk.fake.restore("incremental/users/cursor")

    clock = ScriptedClock([source_back], mark=lambda: len(zendesk.request_log()))
    monkeypatch.setattr(syncing, "system_clock", lambda: clock)
    result = zendesk.cli("sync", "--every", "5m", "--until", "2027-01-31T12:07:00Z")
    assert result.exit_code == 0, result.output
    assert "sync cycle 1 failed" in result.output and "the next cycle runs" in result.output
    assert zendesk.contacts()["zd:12"]["name"] == "Émile Zola-Dreyfus"
    status = json.loads(zendesk.cli("status", "--json").output)
    cycles = [r for r in status["runs"] if r["command"] == "sync"]
    assert [r["status"] for r in cycles] == ["crashed", "ok"]
    assert "503" in cycles[0]["error"]
    assert cycles[1]["sync"]["newest_change"]["source_id"] == "12"


def test_sync_refuses_an_unreadable_every_or_until(zendesk: ZendeskProject) -> None:
    for args, said in ((("--every", "soon"), "--every 'soon'"), (("--until", "tomorrow"), "--until 'tomorrow'"),
                       (("--until", "2020-01-01T00:00Z"), "that time has passed")):
        result = zendesk.cli("sync", *args)
        assert result.exit_code == 2 and said in result.output, result.output


# -- CSV: the rows changed in the files since the last cycle; SIGTERM mid-cycle ---------------------------------


def csv_sync(project: CsvProject, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "deskmigrate", "sync", *args, "-c", str(project.config)],
                            env={**os.environ, "E2E_TOKEN": "tok_e2e_Secret_7f3a9c2d41b8"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_mid_cycle_finishes_the_calls_in_flight_and_stops_cleanly(project: CsvProject, stop: signal.Signals) -> None:
    project.write_contacts(contact_rows(400))
    project.set_target(latency_ms=20)
    process = csv_sync(project, "--every", "1h")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if project.sandbox_path.exists() and len(project.store().objects("contacts")) > 30:
            break
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[0].decode()
    process.send_signal(stop)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 130, output  # stopped before any cycle finished
    assert f"{stop.name}: finishing the calls in flight" in output and "interrupted" in output
    assert not (project.state / "deskmigrate.lock").exists()

    landed = project.contacts_in_sandbox()
    assert 0 < len(landed) < 400
    ledger = Ledger(project.state / "ledger.db")
    try:
        [cycle] = [run for run in ledger.run_summaries() if run["command"] == "sync"]
        recorded = {row.source_id for row in ledger.iter_id_rows("contacts") if row.state == "done"}
    finally:
        ledger.close()
    assert cycle["status"] == "interrupted"
    # every contact created in Intercom was recorded: the calls in flight finished before the stop
    assert {external_id for external_id in landed} == recorded

    project.set_target(latency_ms=0)
    resumed = project.cli("run")
    assert resumed.exit_code == 0, resumed.output
    assert len(project.contacts_in_sandbox()) == 400


def test_sigterm_between_cycles_stops_at_once_with_the_last_cycles_code(project: CsvProject) -> None:
    process = csv_sync(project, "--every", "1h")
    deadline = time.monotonic() + 60
    reports = project.state / "reports"
    while time.monotonic() < deadline and process.poll() is None and not (reports.is_dir() and any(reports.glob("*.json"))):
        time.sleep(0.05)
    time.sleep(0.3)  # the first cycle's report is written; the loop waits for the next one, an hour away
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "sync stopped (asked) after 1 cycle(s)" in output
    assert not (project.state / "deskmigrate.lock").exists()
    assert len(project.contacts_in_sandbox()) == len(project.contacts)


def test_csv_cycles_send_only_the_rows_changed_since_the_last(project: CsvProject, monkeypatch: pytest.MonkeyPatch) -> None:
    assert project.cli("run").exit_code == 0
    rows = [dict(row) for row in project.contacts]

    def edit_one_row() -> None:
        rows[4]["name"] = "Renamed In The Export"
        project.write_contacts(rows)

    def add_one_row() -> None:
        project.write_contacts([*rows, {**rows[0], "id": "u999", "email": "new.person@example.com", "name": "New Person"}])

    clock = ScriptedClock([edit_one_row, add_one_row], mark=lambda: len(project.store().request_log()))
    monkeypatch.setattr(syncing, "system_clock", lambda: clock)
    log_start = len(project.store().request_log())
    result = project.cli("sync", "--every", "1m", "--until", "2027-01-31T12:02:30Z")
    assert result.exit_code == 0, result.output
    log = project.store().request_log()
    writes = [[e["route"] for e in log[start:end] if e["write"]]
              for start, end in zip([log_start, *clock.marks], [*clock.marks, len(log)], strict=True)]
    assert writes[0] == [], "nothing changed before the first cycle"
    assert writes[1] == ["PUT /contacts/{id}"], writes[1]
    assert writes[2].count("POST /contacts") == 1 and "PUT /contacts/{id}" not in writes[2], writes[2]
    contacts = project.contacts_in_sandbox()
    assert contacts["u005"]["name"] == "Renamed In The Export" and contacts["u999"]["name"] == "New Person"
    reports = [json.loads(p.read_text()) for p in sorted((project.state / "reports").glob("*.json"))]
    cycles = [r["sync"] for r in reports if r.get("command") == "sync"]
    assert [c["landed"] for c in cycles] == [0, 1, 1]
    assert cycles[0]["lag_s"] is None
    assert cycles[1]["newest_change"] | {"changed_at": None, "landed_at": None} == {
        "entity": "contacts", "source_id": "u005", "changed_at": None, "landed_at": None, "changed_per": "file saved"}


# -- cutover-check --------------------------------------------------------------------------------------------------


def test_cutover_check_is_no_go_while_a_record_failed_and_go_after_the_fix_lands(project: CsvProject,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [dict(row) for row in project.contacts]
    rows[3]["company_id"] = "c9"  # a company the export does not have: the company link fails, the record with it
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 3

    wide = {"E2E_TOKEN": "tok_e2e_Secret_7f3a9c2d41b8", "COLUMNS": "250"}
    failing = project.runner.invoke(app, ["cutover-check", "-c", str(project.config)], env=wide)
    assert failing.exit_code == 3, failing.output
    assert "NO-GO" in failing.output and "contacts: 1 failed" in failing.output
    document = json.loads(project.runner.invoke(app, ["cutover-check", "--json", "-c", str(project.config)], env=wide).output)
    assert document["go"] is False and document["exit_code"] == 3
    contacts = next(line for line in document["entities"] if line["entities"] == ["contacts"])
    assert (contacts["source"], contacts["ledger_read"], contacts["failed"], contacts["accounted_for"]) == (12, 12, 1, False)
    assert contacts["source_how"] == "rows of contacts.csv (read now)"
    assert contacts["in_intercom"] == 12, "the contact is there; its company link is what failed"

    rows[3]["company_id"] = "c1"  # fixed in the export; the next delta lands it
    project.write_contacts(rows)
    clock = ScriptedClock([], mark=lambda: 0)
    monkeypatch.setattr(syncing, "system_clock", lambda: clock)
    assert project.cli("sync", "--until", "2027-01-31T12:00:30Z").exit_code == 0
    passing = project.runner.invoke(app, ["cutover-check", "-c", str(project.config)], env=wide)
    assert passing.exit_code == 0, passing.output
    assert "GO" in passing.output and "NO-GO" not in passing.output
    assert "last successful delta: run" in passing.output and "sync cycle 1" in passing.output

    # the same, as a section of the run's JSON report and of its HTML page
    reports = sorted((project.state / "reports").glob("*.json"))
    report = json.loads(reports[-1].read_text())
    assert report["command"] == "cutover-check" and report["cutover"]["go"] is True and report["exit_code"] == 0
    page = reports[-1].with_suffix(".html").read_text()
    assert "Cutover check" in page and "<b>GO</b>" in page
    before = json.loads(reports[-3].read_text())  # the no-go check, before the --json one and the sync cycle
    assert before["cutover"]["why_not"] == ["contacts: 1 failed (`deskmigrate status --failures`; the next sync or run retries them)"]
    assert "NO-GO" in reports[-3].with_suffix(".html").read_text()


def test_cutover_check_counts_the_zendesk_account_and_waits_for_a_new_ticket_to_be_synced(zendesk: ZendeskProject,
                                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert zendesk.cli("run").exit_code == 0
    requests_before = len(zendesk.fake.requests)
    ready = zendesk.cli("cutover-check", "--json")
    assert ready.exit_code == 0, ready.output
    document = json.loads(ready.output)
    lines = {" + ".join(line["entities"]): line for line in document["entities"]}
    # the count endpoints leave out the deleted organization, user and ticket the exports still list (skipped as deleted)
    assert (lines["companies"]["source"], lines["companies"]["ledger_read"], lines["companies"]["deleted_in_source"]) == (3, 4, 1)
    assert lines["contacts + agents"]["source"] == 10 and lines["contacts + agents"]["source_how"] == "GET /api/v2/users/count"
    assert (lines["conversations"]["source"], lines["conversations"]["in_intercom"]) == (5, 4)
    assert any("attachments or inline images as links to the old desk" in line for line in document["needs_a_person"])
    asked = [r.path for r in zendesk.fake.requests[requests_before:]]
    assert sorted(asked) == ["/api/v2/organizations/count.json", "/api/v2/tickets/count.json", "/api/v2/users/count.json"]

    new_ticket(zendesk.fake, 1100, "Scanner jammed", requester=10)
    behind = json.loads(zendesk.cli("cutover-check", "--json").output)
    assert behind["go"] is False and behind["exit_code"] == 3
    assert behind["why_not"] == ["conversations: the source holds 1 more than the ledger has read: the next `deskmigrate sync` (or `run`) reads them"]

    clock = ScriptedClock([], mark=lambda: 0)
    monkeypatch.setattr(syncing, "system_clock", lambda: clock)
    assert zendesk.cli("sync", "--until", "2027-01-31T12:00:30Z").exit_code == 0
    after = zendesk.cli("cutover-check")
    assert after.exit_code == 0, after.output
    assert "sync cycle 1" in after.output and "lag" in after.output


# -- touch only ours: a delta keeps what people changed in Intercom since ---------------------------------------------


def test_a_delta_keeps_a_field_a_person_changed_in_intercom_and_says_so_when_the_source_changed_it_too(project: CsvProject) -> None:
    from tests.app.test_e2e import requests_session

    assert project.cli("run").exit_code == 0
    with requests_session(project) as (session, url):
        contact = project.contacts_in_sandbox()["u006"]
        edited = session.put(f"{url}/contacts/{contact['id']}", json={"name": "Edited By A Person",
                                                                      "custom_attributes": {"newsletter": False}})
        assert edited.ok, edited.text
    rows = [dict(row) for row in project.contacts]
    rows[5]["plan_tier"] = "3"  # the source changes another field: it lands, the person's edits stay
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0
    after = project.contacts_in_sandbox()["u006"]
    assert after["custom_attributes"]["plan_tier"] == 3
    assert after["name"] == "Edited By A Person" and after["custom_attributes"]["newsletter"] is False

    rows[5]["name"] = "Renamed In The Source"  # now the source changes the name the person changed: theirs stays, said
    project.write_contacts(rows)
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    assert project.contacts_in_sandbox()["u006"]["name"] == "Edited By A Person"
    [report] = [json.loads(p.read_text()) for p in sorted((project.state / "reports").glob("*.json"))][-1:]
    [note] = [n for n in report["content_notes"] if n["kind"] == "kept_intercom_edit"]
    assert note["source_id"] == "u006" and "name" in note["detail"] and "not sent" in note["detail"]
    rows[6]["name"] = "Someone Else Renamed"  # a record nobody touched in Intercom is updated as ever
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0
    assert project.contacts_in_sandbox()["u007"]["name"] == "Someone Else Renamed"

    data = yaml.safe_load(project.config.read_text())  # load.keep_intercom_edits: false — the source's values win
    data["load"]["keep_intercom_edits"] = False
    project.config.write_text(yaml.safe_dump(data, sort_keys=False))
    rows[5]["name"] = "The Source Wins"
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0
    assert project.contacts_in_sandbox()["u006"]["name"] == "The Source Wins"


def test_cutover_check_counts_help_scout_by_its_list_totals_and_freshdesk_by_the_ledger(tmp_path: Path) -> None:
    from tests.app.test_freshdesk_e2e import make_project as freshdesk_project
    from tests.app.test_helpscout_e2e import make_project as helpscout_project
    from tests.fakes.freshdesk import FakeFreshdesk
    from tests.fakes.helpscout import FakeHelpScout

    with FakeHelpScout(page_size=3) as fake:
        (tmp_path / "helpscout").mkdir()
        helpscout = helpscout_project(tmp_path / "helpscout", fake)
        assert helpscout.cli("run").exit_code == 0
        checked = helpscout.cli("cutover-check", "--json")
        document = json.loads(checked.output)
        lines = {" + ".join(line["entities"]): line for line in document["entities"]}
        assert lines["contacts"]["source_how"] == "GET /v2/customers" and lines["agents"]["source_how"] == "GET /v2/users"
        assert lines["conversations"]["source_how"] == "GET /v2/conversations?status=all"
        assert lines["contacts"]["source"] == lines["contacts"]["ledger_read"] == 7
        assert "helpscout gives no count" in lines["companies"]["source_how"]
        assert (lines["conversations"]["source"], lines["conversations"]["ledger_read"]) == (8, 8), "the list counts what it lists"
        assert checked.exit_code == 0 and document["go"], document

    with FakeFreshdesk() as fake:
        (tmp_path / "freshdesk").mkdir()
        freshdesk = freshdesk_project(tmp_path / "freshdesk", fake)
        assert freshdesk.cli("run").exit_code == 0
        checked = freshdesk.cli("cutover-check", "--json")
        document = json.loads(checked.output)
        assert all(line["source"] is None and "freshdesk gives no count" in line["source_how"] for line in document["entities"])
        assert checked.exit_code == 0 and document["go"], document


def test_cutover_check_counts_a_json_lines_export_by_its_lines_and_goes_only_with_its_rejections_accepted(tmp_path: Path) -> None:
    from tests.app.test_jsonl_e2e import CONVERSATION_ATTRIBUTES, JsonlProject, write_account
    from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, declare_conversation_attributes, write_project_config

    write_account(tmp_path / "export")  # a third of each entity's lines are bad on purpose
    config = write_project_config(tmp_path, {"type": "jsonl", "folder": "export"}, "jsonl")
    declare_conversation_attributes(config, CONVERSATION_ATTRIBUTES)
    data = yaml.safe_load(config.read_text())
    data["load"]["max_rejected"] = "50%"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    project = JsonlProject(root=tmp_path, config=config, fake=None, env={INTERCOM_TOKEN_VARIABLE: "e2e-sync-jsonl-token-0b7e"})
    assert project.cli("run").exit_code == 3  # the export has bad lines on purpose: rejected, listed
    checked = project.cli("cutover-check", "--json")
    document = json.loads(checked.output)
    assert checked.exit_code == 3 and document["go"] is False
    lines = {" + ".join(line["entities"]): line for line in document["entities"]}
    contacts = lines["contacts"]
    assert contacts["source_how"] == "rows of contacts.jsonl (read now)" and contacts["source"] == contacts["ledger_read"]
    assert contacts["rejected"] and all("rejected" in why or "failed" in why for why in document["why_not"]), document["why_not"]
    accepted = json.loads(project.cli("cutover-check", "--json", "--accept-rejections").output)
    assert [why for why in accepted["why_not"] if "rejected" in why] == []
    assert any("accepted (--accept-rejections)" in note for line in accepted["entities"] for note in line["notes"])
