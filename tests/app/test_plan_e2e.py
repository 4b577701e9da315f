"""End to end: `deskmigrate plan` on CSV files with a mapping override — counts per outcome, reasons, payload files, mapping report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.app.conftest import Project

# An override that drops unmapped columns, maps plan_tier through a value map that misses some tiers,
# and writes a constant attribute by default: each kind of mapping-report line appears.
OVERRIDE = {
    "version": 1,
    "contact": {
        "unmapped": "drop",
        "rules": [
            {"to": "custom_attributes.plan_name", "from": "custom_fields.plan_tier", "transform": "map_value", "args": {"map": "plan_names"}},
            {"to": "custom_attributes.origin", "from": "custom_fields.origin", "default": "csv-import"},
        ],
        "attributes": [{"name": "plan_name", "type": "string"}, {"name": "origin", "type": "string"}],
    },
    "value_maps": {"plan_names": {"values": {"1": "Starter", "2": "Growth"}}},
}


def use_override(project: Project) -> None:
    (project.root / "override.yaml").write_text(yaml.safe_dump(OVERRIDE, sort_keys=False))
    config = yaml.safe_load(project.config.read_text())
    config["overrides"] = ["override.yaml"]
    project.config.write_text(yaml.safe_dump(config, sort_keys=False))


def plan_report(project: Project) -> dict[str, Any]:
    reports = [json.loads(p.read_text()) for p in sorted((project.state / "reports").glob("*.json"))]
    return [r for r in reports if r["command"] == "plan"][-1]


def payload_lines(project: Project, entity: str) -> dict[str, dict[str, Any]]:
    lines = (project.plan_folder() / f"{entity}.jsonl").read_text(encoding="utf-8").splitlines()
    return {line["source_id"]: line for line in map(json.loads, lines)}


def test_plan_prints_the_mapping_report_of_an_override(project: Project) -> None:
    use_override(project)
    result = project.cli("plan")
    assert result.exit_code == 0, result.output
    assert not project.sandbox_path.exists() or project.writes() == 0

    tiers = [row["plan_tier"] for row in project.contacts]
    misses = {tier: tiers.count(tier) for tier in tiers if tier not in ("1", "2")}
    contact_report = plan_report(project)["plan"]["mapping_report"]["targets"]["contact"]
    assert contact_report["unmapped_fields"] == {"newsletter": len(project.contacts)}
    assert contact_report["value_map_misses"] == {"plan_names": misses}
    assert contact_report["defaults_applied"] == {"custom_attributes.origin": len(project.contacts)}
    # The same three findings, readable in the terminal.
    for heading in ("Unmapped source fields (dropped)", "Value-map misses", "Defaults applied"):
        assert heading in result.output
    assert "newsletter" in result.output and "plan_names → 3" in result.output and "custom_attributes.origin" in result.output

    bodies = {sid: line["body"] for sid, line in payload_lines(project, "contacts").items()}
    assert bodies["u001"]["custom_attributes"] == {"plan_name": "Starter", "origin": "csv-import"}
    assert bodies["u003"]["custom_attributes"] == {"origin": "csv-import"}, "a miss without a map default writes nothing"
    assert "newsletter" not in json.dumps(bodies["u001"])


def test_plan_after_a_run_counts_create_update_unchanged_and_rejected_with_reasons(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    rows = project.contacts
    rows[4] = {**rows[4], "name": "Renamed Person"}          # u005: update
    rows[2] = {**rows[2], "email": "not-an-email"}           # u003: rejected
    rows.append({**rows[0], "id": "u100", "email": "new@example.com", "tags": ""})  # u100: create
    project.write_contacts(rows)
    writes_before = project.writes()

    result = project.cli("plan")
    assert result.exit_code == 3, result.output  # a rejected record is listed like any failure
    assert project.writes() == writes_before, "plan writes nothing to Intercom"

    plan = plan_report(project)["plan"]
    assert plan["counts"]["contacts"] == {"create": 1, "update": 1, "unchanged": len(rows) - 3, "rejected": 1}
    assert plan["counts"]["companies"] == {"create": 0, "update": 0, "unchanged": 3, "rejected": 0}
    assert plan["rejections"]["contacts"] == {"email: invalid email address": 1}
    assert "email: invalid email address" in result.output and "u003" in result.output

    lines = payload_lines(project, "contacts")
    assert {sid: line["action"] for sid, line in lines.items() if line["action"] != "unchanged"} == {"u005": "update", "u100": "create"}
    assert "u003" not in lines, "a rejected record has no payload"
    assert lines["u005"]["body"]["name"] == "Renamed Person"
    assert lines["u100"]["companies"] == ["c2"] and lines["u100"]["body"]["external_id"] == "u100"
    assert Path(plan["payload_files"]["contacts"]) == project.plan_folder() / "contacts.jsonl"
    assert project.plan_folder().name == plan_report(project)["run_id"], "each plan is kept under its run id"


def test_plan_then_run_sends_what_the_plan_said(project: Project) -> None:
    assert project.cli("plan").exit_code == 0
    planned = payload_lines(project, "contacts")
    assert project.cli("run").exit_code == 0
    landed = project.contacts_in_sandbox()
    assert set(landed) == set(planned)
    for source_id, line in planned.items():
        assert landed[source_id]["email"] == line["body"]["email"]
        assert landed[source_id]["name"] == line["body"]["name"]


def test_check_lists_every_problem_of_an_override_with_its_file_and_line(project: Project) -> None:
    (project.root / "override.yaml").write_text(
        "version: 1\n"
        "contact:\n"
        "  rules:\n"
        "    - {to: custom_attributes.plan_name, from: custom_fields.plan_tier, transform: no_such_transform}\n"
        "    - {to: email, form: email}\n"
        "value_maps:\n"
        "  plan_names: {\"1\": Starter}\n"
    )
    config = yaml.safe_load(project.config.read_text())
    config["overrides"] = ["override.yaml"]
    project.config.write_text(yaml.safe_dump(config, sort_keys=False))

    for command in ("check", "plan", "run"):
        result = project.cli(command)
        assert result.exit_code == 2, (command, result.output)
        text = " ".join(result.output.split())
        assert "override.yaml:4" in text and "no_such_transform" in text
        assert "override.yaml:5" in text and "form" in text
        assert "override.yaml:7" in text and "values" in text
    assert not project.sandbox_path.exists(), "nothing reaches Intercom with a broken mapping"
