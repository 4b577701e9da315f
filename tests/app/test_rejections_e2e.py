"""End to end: rejected records are their own outcome — a limit stops a run before its first write, tables count them
apart from failures, and every failure and rejection is grouped on screen, exported whole, and kept whole in the report."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import yaml

from deskmigrate import triage
from deskmigrate.cli import app
from tests.app.conftest import TOKEN, Project

WIDE = {"E2E_TOKEN": TOKEN, "COLUMNS": "220"}


def break_emails(project: Project, rows: tuple[int, ...]) -> None:
    contacts = project.contacts
    for index in rows:
        contacts[index] = {**contacts[index], "email": f"no-at-sign-{index}"}
    project.write_contacts(contacts)


def set_load(project: Project, **values: Any) -> None:
    config = yaml.safe_load(project.config.read_text())
    config["load"].update(values)
    project.config.write_text(yaml.safe_dump(config, sort_keys=False))


def reports(project: Project) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((project.state / "reports").glob("*.json"))]


def test_a_run_with_more_rejections_than_allowed_stops_before_its_first_write(project: Project) -> None:
    break_emails(project, (2, 5))  # 2 of 12 contacts: 17%, over the default 5%
    result = project.runner.invoke(app, ["run", "-c", str(project.config)], env=WIDE)

    assert result.exit_code == 2, result.output
    assert "contacts: 2 of 12 records (16.7%) would be rejected; load.max_rejected allows 5% (0)" in result.output
    assert "invalid email address" in result.output and "u003 (contacts.csv:4)" in result.output, "the top reasons, with examples"
    assert "Nothing was written to Intercom" in result.output
    assert "--accept-rejections" in result.output and "raise load.max_rejected" in result.output
    assert not project.sandbox_path.exists() or project.writes() == 0
    [report] = reports(project)
    assert report["exit_code"] == 2 and report["refused"]["over"][0]["entity"] == "contacts"
    assert report["refused"]["over"][0]["rejected"] == 2
    status = project.cli("status")
    assert "refused" in status.output


def test_accepting_the_rejections_loads_the_rest_and_counts_them_apart(project: Project) -> None:
    break_emails(project, (2, 5))
    result = project.runner.invoke(app, ["run", "--accept-rejections", "-c", str(project.config)], env=WIDE)

    assert result.exit_code == 3, result.output
    assert set(project.contacts_in_sandbox()) == {f"u{i:03d}" for i in range(1, 13)} - {"u003", "u006"}
    [report] = reports(project)
    contacts = next(phase for phase in report["phases"] if phase["phase"] == "contacts")
    assert (contacts["created"], contacts["rejected"], contacts["failed"]) == (10, 2, 0), "rejected, not failed"
    load_table = result.output.split("Load")[1]
    header = next(line for line in load_table.splitlines() if "created" in line)
    assert "rejected" in header and "failed" in header
    assert report["accepted_rejections"]["over"][0]["rejected"] == 2

    status = project.runner.invoke(app, ["status", "-c", str(project.config)], env=WIDE)
    progress = status.output.split("Progress of")[1].split("\n\n")[0]
    mapping = next(line for line in progress.splitlines() if "mapping" in line)
    assert mapping.split("│")[4].strip() == "2" and mapping.split("│")[5].strip() == "0", "the mapping phase's 2 are rejections"
    assert "open: 2 rejected record(s), 0 failed record(s)" in status.output


def test_a_higher_limit_lets_the_run_go_on(project: Project) -> None:
    break_emails(project, (2, 5))
    set_load(project, max_rejected="20%")
    assert project.cli("run").exit_code == 3
    assert len(project.contacts_in_sandbox()) == 10
    set_load(project, max_rejected=1)  # a number of records
    break_emails(project, (2, 5, 8))
    assert project.cli("run").exit_code == 2


def test_a_bad_limit_is_a_config_problem(project: Project) -> None:
    set_load(project, max_rejected="lots")
    result = project.cli("plan")
    assert result.exit_code == 2
    assert "load.max_rejected" in result.output and "a share such as 5%" in result.output


def test_a_rejection_the_fixed_mapping_no_longer_makes_is_cleared(project: Project) -> None:
    contacts = project.contacts
    contacts[4] = {**contacts[4], "phone": "12"}
    project.write_contacts(contacts)
    strict = {"version": 1, "contact": {"rules": [{"to": "phone", "from": "phone", "transform": "phone", "on_error": "reject"}]}}
    (project.root / "override.yaml").write_text(yaml.safe_dump(strict))
    config = yaml.safe_load(project.config.read_text())
    config["overrides"] = ["override.yaml"]
    project.config.write_text(yaml.safe_dump(config))
    assert project.cli("plan").exit_code == 3
    assert "open: 1 rejected record(s)" in project.cli("status").output

    (project.root / "override.yaml").write_text(yaml.safe_dump({"version": 1}))
    assert project.cli("plan").exit_code == 0
    assert "no open rejections or failures" in project.cli("status").output
    assert project.cli("run").exit_code == 0, "nothing is over the limit any more"


def test_status_failures_groups_by_reason_and_exports_every_one(project: Project) -> None:
    broken = (0, 2, 3, 5, 7, 9, 10, 11)
    break_emails(project, broken)
    assert project.cli("plan").exit_code == 3

    grouped = project.runner.invoke(app, ["status", "--failures", "-c", str(project.config)], env=WIDE)
    assert grouped.exit_code == 0, grouped.output
    table = grouped.output.split("Open rejections and failures, by reason (8)")[1]
    rows = [line for line in table.splitlines() if "invalid email address" in line]
    assert len(rows) == 1, "one line for the reason the eight share, never one per record"
    assert "│       8 │" in rows[0]
    assert "u001 (contacts.csv:2), u003 (contacts.csv:4), u004 (contacts.csv:5)" in table

    exported = project.cli("status", "--failures", "--format", "csv")
    assert exported.exit_code == 0
    rows_out = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(row["source_id"], row["location"], row["field"], row["outcome"]) for row in rows_out] == [
        (f"u{i + 1:03d}", f"contacts.csv:{i + 2}", "email", "rejected") for i in broken]
    assert all("invalid email address" in row["reason"] for row in rows_out)

    as_json = json.loads(project.cli("status", "--failures", "--format", "json").stdout)
    assert len(as_json) == 8 and as_json[0]["phase"] == "mapping" and as_json[0]["reason_kind"].startswith("email: invalid email")

    refused = project.cli("status", "--format", "csv")
    assert refused.exit_code == 2 and "--failures" in refused.output


def test_the_report_keeps_every_failure_and_long_lists_go_beside_it(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triage, "INLINE_LIMIT", 3)
    broken = (0, 2, 3, 5, 7)
    break_emails(project, broken)
    assert project.cli("plan").exit_code == 3
    [report] = reports(project)
    assert report["failure_count"] == 5
    listed = report["failures"]
    assert listed["count"] == 5 and listed["file"].endswith(".failures.jsonl")
    beside = project.state / "reports" / listed["file"]
    assert beside.stat().st_mode & 0o777 == 0o600
    written = [json.loads(line) for line in beside.read_text().splitlines()]
    assert [row["source_id"] for row in written] == [f"u{i + 1:03d}" for i in broken]
    assert written[0]["location"] == "contacts.csv:2" and written[0]["field"] == "email"

    monkeypatch.setattr(triage, "INLINE_LIMIT", 1000)
    assert project.cli("plan").exit_code == 3
    assert len(reports(project)[-1]["failures"]) == 5, "a short list stays in the report"
