"""Every record accounted for (issue 10): the reconciliation table of run, validate and status, on a messy CSV and
on the small example, the numbers adding up; validate refusing to call a migration complete while a record failed,
and refusing a wrong token; plan saying what a bad value, a shared email or a misspelt source field will cost."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.sandbox import SandboxServer, SandboxSettings
from tests.app.conftest import TOKEN, Project

WIDE = {"E2E_TOKEN": TOKEN, "COLUMNS": "250"}
OUTCOMES = ("created", "adopted", "merged", "updated", "unchanged", "skipped", "failed", "rejected", "pending")


def messy_csv_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("messy_csv", Path(__file__).resolve().parents[2] / "benchmarks" / "messy_csv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def latest_report(state: Path) -> dict[str, Any]:
    return json.loads(sorted((state / "reports").glob("*.json"))[-1].read_text())


def rows_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["entity"]: row for row in report["reconciliation"]["entities"]}


def assert_adds_up(row: dict[str, Any]) -> None:
    assert row["read"] == sum(row[outcome] for outcome in OUTCOMES), row
    for outcome in ("skipped", "failed", "rejected", "pending"):
        assert sum(r["count"] for r in row["reasons"] if r["outcome"] == outcome) == row[outcome], (outcome, row)


def test_a_messy_csv_every_row_is_accounted_for_and_the_numbers_add_up(tmp_path: Path) -> None:
    planted = messy_csv_module().write_files(400, 11, tmp_path)
    config = tmp_path / "config.yaml"
    runner = CliRunner()

    result = runner.invoke(app, ["run", "-c", str(config)], env={"COLUMNS": "250"}, catch_exceptions=False)

    # The rows without an id and with an invalid email are rejected (with their lines); everything else lands.
    assert result.exit_code == 3, result.output
    contacts = rows_of(latest_report(tmp_path / ".deskmigrate"))["contacts"]
    assert_adds_up(contacts)
    assert contacts["read"] == planted["contacts"]
    assert contacts["rejected"] == planted["no_id"] + planted["invalid_email"]
    assert contacts["merged"] == planted["duplicate_email_other_case"]
    assert contacts["created"] == planted["contacts"] - contacts["rejected"] - contacts["merged"]
    assert contacts["failed"] == contacts["pending"] == 0
    reasons = {(r["outcome"], r["reason"]) for r in contacts["reasons"]}
    assert ("rejected", "the row has no id in column '…'") in reasons
    no_id = next(r for r in contacts["reasons"] if r["reason"].startswith("the row has no id"))
    assert all(example.startswith("contacts.csv:") for example in no_id["examples"])
    assert "Every record accounted for" in result.output and "Not landed, by reason" in result.output
    # Each value that cost its field is a content note naming the record, the rule, the kind of value and the line.
    notes = [n for n in latest_report(tmp_path / ".deskmigrate")["content_notes"] if n["kind"].startswith("field:")]
    plan_tier = [n for n in notes if n["kind"] == "field:custom_attributes.plan_tier"]
    assert len(plan_tier) == planted["plan_tier:not_an_integer"]
    assert all("not a valid integer: dropped" in n["detail"] and "(contacts.csv:" in n["detail"] for n in plan_tier)

    again = runner.invoke(app, ["run", "-c", str(config)], env={"COLUMNS": "250"}, catch_exceptions=False)
    rerun = rows_of(latest_report(tmp_path / ".deskmigrate"))["contacts"]
    assert_adds_up(rerun)
    assert rerun["unchanged"] == contacts["created"] + contacts["merged"] and rerun["created"] == 0, again.output


def test_validate_fails_while_a_record_failed_and_passes_once_it_lands(project: Project) -> None:
    rows = project.contacts
    rows[3] = {**rows[3], "company_id": "c9"}  # a company the export does not have: the link cannot be made
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 3

    result = project.runner.invoke(app, ["validate", "-c", str(project.config)], env=WIDE)

    assert result.exit_code == 3, result.output
    assert "failed" in result.output and "c9" not in result.output.split("Not landed")[0]
    assert "company '…' is not in Intercom" in result.output and "u004" in result.output
    assert "✓" not in result.output

    rows[3] = {**rows[3], "company_id": "c1"}
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0
    fixed = project.runner.invoke(app, ["validate", "-c", str(project.config)], env=WIDE)
    assert fixed.exit_code == 0, fixed.output
    assert "every record the source gave is accounted for" in fixed.output


def test_validate_with_a_wrong_token_is_exit_2_and_never_says_all_is_well(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    server = SandboxServer(SandboxSettings(path=project.sandbox_path, token=TOKEN, search_delay_s=0))
    url = server.start()
    try:
        project.set_target(base_url=url, token="${WRONG_TOKEN}")
        result = project.runner.invoke(app, ["validate", "-c", str(project.config)],
                                       env={"WRONG_TOKEN": "tok_not_the_workspace_token_1234", "COLUMNS": "250"})
    finally:
        server.stop()
    assert result.exit_code == 2, result.output
    assert "✓" not in result.output and "matches" not in result.output


def test_status_shows_the_reconciliation_of_the_latest_run(project: Project) -> None:
    rows = project.contacts
    rows[1] = {**rows[1], "email": "not-an-email"}
    project.write_contacts(rows)
    assert project.cli("run", "--accept-rejections").exit_code == 3
    result = project.runner.invoke(app, ["status", "-c", str(project.config)], env=WIDE)
    assert result.exit_code == 0, result.output
    table = result.output.split("Every record accounted for")[1]
    assert "contacts" in table and "rejected" in table
    assert "invalid email address" in table and "u002" in table


def test_plan_shows_what_bad_values_shared_emails_and_misspelt_fields_will_cost(project: Project) -> None:
    rows = [{**row, "signup": ""} for row in project.contacts]
    rows[0] = {**rows[0], "plan_tier": "gold"}
    rows[1] = {**rows[1], "plan_tier": "platinum"}
    rows[2] = {**rows[2], "signup": "03/04/2021"}  # no value in the column shows day or month first
    rows[5] = {**rows[5], "email": rows[4]["email"].upper()}  # u006 shares u005's email, in other case
    project.write_contacts(rows)
    override = project.root / "mapping.yaml"
    override.write_text(yaml.safe_dump({"contact": {
        "rules": [{"to": "custom_attributes.signup_date", "from": "custom_fields.signup", "transform": "unix_time"},
                  {"to": "custom_attributes.lifecycle", "from": "custom_fields.Lifecyle"}],
        "attributes": [{"name": "signup_date", "type": "date"}, {"name": "lifecycle", "type": "string"}],
    }}))
    data = yaml.safe_load(project.config.read_text())
    data["overrides"] = ["mapping.yaml"]
    project.config.write_text(yaml.safe_dump(data))

    result = project.runner.invoke(app, ["plan", "-c", str(project.config)], env=WIDE)

    assert result.exit_code == 0, result.output
    notes = result.output.split("Field notes")[1]
    assert "contact.custom_attributes.plan_tier" in notes and "not a valid integer" in notes and "field dropped" in notes
    assert "u001 (contacts.csv:2)" in notes and "u002 (contacts.csv:3)" in notes
    assert "gold" not in notes and "platinum" not in notes  # the kind of value, never the value
    ambiguous = result.output.split("Ambiguous dates")[1]
    assert "contact.custom_attributes.signup_date" in ambiguous and "month first" in ambiguous
    shared = result.output.split("Contacts sharing one email")[1]
    assert "u005" in shared and "u006" in shared and "contacts.csv:7" in shared and "merged into" in shared
    assert "custom_fields.Lifecyle: no record has this field" in result.output
    report = latest_report(project.state)
    assert report["plan"]["email_conflicts"]["groups"] == 1
    assert report["plan"]["mapping_report"]["targets"]["contact"]["ambiguous_dates"] == {"custom_attributes.signup_date": {"monthfirst": 1}}

    checked = project.runner.invoke(app, ["check", "-c", str(project.config)], env=WIDE)
    assert "custom_fields.Lifecyle: no record has this field" in checked.output


def test_a_day_first_value_decides_its_column_for_every_other_date(project: Project) -> None:
    rows = [{**row, "signup": ""} for row in project.contacts]
    rows[2] = {**rows[2], "signup": "03/04/2021"}
    rows[9] = {**rows[9], "signup": "25/12/2020"}  # 25 can only be a day: the column is day-first
    project.write_contacts(rows)
    override = project.root / "mapping.yaml"
    override.write_text(yaml.safe_dump({"contact": {
        "rules": [{"to": "custom_attributes.signup_date", "from": "custom_fields.signup", "transform": "unix_time"}],
        "attributes": [{"name": "signup_date", "type": "date"}],
    }}))
    data = yaml.safe_load(project.config.read_text())
    data["overrides"] = ["mapping.yaml"]
    project.config.write_text(yaml.safe_dump(data))

    assert project.cli("run").exit_code == 0
    contact = project.contacts_in_sandbox()["u003"]
    assert contact["custom_attributes"]["signup_date"] == 1617408000  # 3 April 2021, not 4 March


def test_a_duplicate_key_in_the_config_is_an_error_naming_both_lines(project: Project) -> None:
    text = project.config.read_text()
    project.config.write_text(text + "state: elsewhere\n")
    result = project.runner.invoke(app, ["check", "-c", str(project.config)], env=WIDE)
    assert result.exit_code == 2, result.output
    assert "duplicate key 'state'" in result.output and "again on line" in result.output



def test_declared_attributes_whose_columns_the_files_lack_are_not_created(project: Project) -> None:
    # The built-in csv mapping declares the example's renewal_date (companies) and notes (contacts): these files lack them.
    assert project.cli("run").exit_code == 0
    created = {(a["model"], a["name"]) for a in project.store().objects("data_attributes") if a.get("custom")}
    assert ("contact", "plan_tier") in created and ("company", "tier") in created
    assert ("company", "renewal_date") not in created and ("contact", "notes") not in created
    assert ("contact", "phone_original") not in created  # made only if Intercom ever refuses a phone
