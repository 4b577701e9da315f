"""The ledger: staging with duplicates, cursors in the page's transaction, id map, writes and taggings, file mode."""

import os
import stat
from pathlib import Path

import pytest

from deskmigrate.core.errors import StateError
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Company, Contact


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "state" / "ledger.db")


def contact(source_id: str, email: str) -> Contact:
    return Contact(source="csv", source_id=source_id, email=email)


def test_ledger_file_is_private(tmp_path: Path) -> None:
    Ledger(tmp_path / "state" / "ledger.db")
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "ledger.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700


def test_stage_reports_duplicates_within_a_run_and_last_wins(ledger: Ledger) -> None:
    run = ledger.start_run("extract")
    first, second = contact("1", "a@x.org"), contact("1", "c@x.org")
    first.location, second.location = "contacts.csv:2", "contacts.csv:40"
    duplicates = ledger.stage(run, [first, contact("2", "b@x.org"), second])
    assert [(d.source_id, d.previous_location, d.record.location) for d in duplicates] == [("1", "contacts.csv:2", "contacts.csv:40")]
    staged = {r.source_id: r.email for r in ledger.iter_staged("contacts")}
    assert staged == {"1": "c@x.org", "2": "b@x.org"}
    # a later run restaging the same id is an update, not a duplicate
    assert ledger.stage(ledger.start_run("extract"), [contact("1", "d@x.org")]) == []


def test_iter_staged_streams_in_source_order(ledger: Ledger) -> None:
    run = ledger.start_run("extract")
    ledger.stage(run, [contact(str(i), f"u{i}@x.org") for i in range(25)])
    assert [r.source_id for r in ledger.iter_staged("contacts", batch_size=4)] == [str(i) for i in range(25)]


def test_cursor_is_saved_with_its_page(ledger: Ledger) -> None:
    run = ledger.start_run("extract")
    ledger.stage(run, [Company(source="zendesk", source_id="9", name="Acme")], ("zendesk", "companies", "c-2"))
    assert ledger.get_cursor("zendesk", "companies") == "c-2"
    assert ledger.count_staged("companies") == 1


def test_write_then_rollback_bookkeeping(ledger: Ledger) -> None:
    run = ledger.start_run("run")
    ledger.mark_pending(run, "contacts", "1")
    assert ledger.id_row("contacts", "1").state == "pending"
    ledger.record_write(run, "contacts", "contacts", "1", intercom_id="abc", action="create", origin="created",
                        payload_hash="h", body={"email": "a@x.org"})
    row = ledger.id_row("contacts", "1")
    assert (row.state, row.intercom_id, row.origin, row.body) == ("done", "abc", "created", {"email": "a@x.org"})
    assert [w.action for w in ledger.writes(run)] == ["create"]
    later = ledger.start_run("run")
    ledger.record_write(later, "contacts", "contacts", "1", intercom_id="abc", action="update", origin="created",
                        payload_hash="h2", body={"email": "b@x.org"}, before={"email": "a@x.org"})
    assert ledger.later_writers([run]) == [later]
    assert ledger.later_writers([run, later]) == []


def test_failures_are_cleared_by_a_later_success(ledger: Ledger) -> None:
    run = ledger.start_run("run")
    ledger.record_failure(run, "contacts", "contacts", "7", "invalid email", field="email", request_id="req-1")
    assert [(f.source_id, f.field, f.request_id) for f in ledger.failures()] == [("7", "email", "req-1")]
    ledger.record_write(run, "contacts", "contacts", "7", intercom_id="x", action="create", origin="created",
                        payload_hash="h", body={})
    assert ledger.failures() == []


def test_taggings_diff(ledger: Ledger) -> None:
    run = ledger.start_run("run")
    assert ledger.set_desired_tags("contacts", "1", ["VIP", "beta"]) is True
    assert ledger.set_desired_tags("contacts", "1", ["vip", "Beta "]) is False
    assert ledger.taggings_to_add("vip", "contacts") == ["1"]
    ledger.record_taggings(run, "vip", "10", "contacts", ["1"], present=True)
    assert ledger.taggings_to_add("vip", "contacts") == []
    ledger.set_desired_tags("contacts", "1", ["beta"])
    assert ledger.taggings_to_remove("contacts") == [("vip", "1")]


def test_interrupted_runs_are_marked(ledger: Ledger) -> None:
    first = ledger.start_run("run")
    ledger.start_run("run")
    assert {r["run_id"]: r["status"] for r in ledger.runs()}[first] == "interrupted"


def test_a_corrupt_ledger_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError):
        Ledger(path)


def test_stale_failures_are_cleared_but_not_those_of_this_run(ledger: Ledger) -> None:
    old = ledger.start_run("extract")
    ledger.record_failure(old, "extract", "agents", "7", "bad agent")
    new = ledger.start_run("extract")
    ledger.record_failure(new, "extract", "agents", "8", "still bad")
    ledger.clear_stale_failures("agents", "extract", new)
    assert [(f.source_id, f.run_id) for f in ledger.failures()] == [("8", new)]
