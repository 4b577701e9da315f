"""End to end: the mapping loop — edit the mapping, `plan` again (without re-reading unchanged files), see what changed
(`plan --diff`), look at a sample, keep a few plans."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from deskmigrate.cli import app
from deskmigrate.connectors.csv import CsvConnector
from deskmigrate.core.ledger import Ledger
from tests.app.conftest import TOKEN, Project


def override(project: Project, data: dict[str, Any], *, load: dict[str, Any] | None = None, plan: dict[str, Any] | None = None) -> None:
    (project.root / "override.yaml").write_text(yaml.safe_dump({"version": 1, **data}, sort_keys=False))
    config = yaml.safe_load(project.config.read_text())
    config["overrides"] = ["override.yaml"]
    if load:
        config["load"].update(load)
    if plan:
        config["plan"] = plan
    project.config.write_text(yaml.safe_dump(config, sort_keys=False))


UPPERCASE_NAMES = {"contact": {"rules": [{"to": "name", "from": "name", "transform": ["strip", "uppercase"]}]}}


def latest_report(project: Project) -> dict[str, Any]:
    return json.loads(sorted((project.state / "reports").glob("*.json"))[-1].read_text())


def lines(folder: Path, entity: str) -> dict[str, dict[str, Any]]:
    return {line["source_id"]: line for line in map(json.loads, (folder / f"{entity}.jsonl").read_text().splitlines())}


def planned_ids(folder: Path) -> set[str]:
    """The contacts a plan mapped: those with a payload and those it rejected."""
    rejected = folder / "rejected.jsonl"
    refused = {row["source_id"] for row in map(json.loads, rejected.read_text().splitlines())} if rejected.exists() else set()
    return set(lines(folder, "contacts")) | refused


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The entities the CSV source is asked to read, in order."""
    asked: list[str] = []
    original = CsvConnector.read

    def counting(self: CsvConnector, entity: str, since: Any = None) -> Any:
        asked.append(entity)
        return original(self, entity, since)

    monkeypatch.setattr(CsvConnector, "read", counting)
    return asked


def test_a_replan_after_a_mapping_edit_maps_again_without_reading_unchanged_files(project: Project, reads: list[str]) -> None:
    assert project.cli("plan").exit_code == 0
    assert reads == ["companies", "contacts"]

    override(project, UPPERCASE_NAMES)
    result = project.cli("plan")
    assert result.exit_code == 0, result.output
    assert reads == ["companies", "contacts"], "nothing read again: the files are as the last read found them"
    assert "not read again" in result.output
    report = latest_report(project)
    first_run = sorted((project.state / "reports").glob("*.json"))[0].stem
    assert report["extract"]["unchanged"] == {"companies": first_run, "contacts": first_run}
    assert report["extract"]["staged"] == {"companies": 3, "contacts": 12}, "the counts of the read that staged them"
    assert lines(project.plan_folder(), "contacts")["u001"]["body"]["name"] == "PERSON NÜMBER 1", "mapped again, with the edit"

    rows = project.contacts
    rows[0] = {**rows[0], "name": "Renamed"}
    project.write_contacts(rows)
    assert project.cli("plan").exit_code == 0
    assert reads == ["companies", "contacts", "contacts"], "only the changed file is read; the tags file it shares is unchanged"
    assert lines(project.plan_folder(), "contacts")["u001"]["body"]["name"] == "RENAMED"


def test_a_changed_tags_file_or_source_setting_reads_again(project: Project, reads: list[str]) -> None:
    assert project.cli("plan").exit_code == 0
    with (project.root / "tags.csv").open("a", encoding="utf-8") as handle:
        handle.write("u003,early-adopter\n")
    assert project.cli("plan").exit_code == 0
    assert reads == ["companies", "contacts"] * 2, "both entities read the tags file"
    assert "early-adopter" in lines(project.plan_folder(), "contacts")["u003"]["tags"]

    config = yaml.safe_load(project.config.read_text())
    config["source"]["contacts"]["tag_delimiter"] = "|"
    project.config.write_text(yaml.safe_dump(config, sort_keys=False))
    assert project.cli("plan").exit_code == 0
    assert reads == ["companies", "contacts"] * 3, "a source setting may change how any file reads: each is read again"


def test_plan_sample_maps_the_same_few_records_every_time_and_records_nothing(project: Project) -> None:
    rows = project.contacts
    rows[3] = {**rows[3], "email": "broken"}
    project.write_contacts(rows)
    assert project.cli("plan").exit_code == 3
    with _open(project) as ledger:
        failures_before = [(f.entity, f.source_id, f.run_id) for f in ledger.failures()]

    result = project.cli("plan", "--sample", "5")
    assert result.exit_code in (0, 3), result.output
    assert "a sample of 5 records per entity" in result.output
    five = planned_ids(project.plan_folder())
    assert len(five) == 5
    assert latest_report(project)["plan"]["sample"] == 5

    override(project, UPPERCASE_NAMES)
    assert project.cli("plan", "--sample", "5").exit_code in (0, 3)
    again = planned_ids(project.plan_folder())
    assert again == five, "the same records after a mapping edit: samples compare like with like"
    assert project.cli("plan", "--sample", "3").exit_code in (0, 3)
    three = planned_ids(project.plan_folder())
    assert three < five, "a smaller sample is part of a larger one"

    with _open(project) as ledger:
        assert [(f.entity, f.source_id, f.run_id) for f in ledger.failures()] == failures_before, "a sample records no rejection"


class _open:
    def __init__(self, project: Project) -> None:
        self.ledger = Ledger(project.state / "ledger.db")

    def __enter__(self) -> Ledger:
        return self.ledger

    def __exit__(self, *exc: object) -> None:
        self.ledger.close()


def test_plan_diff_shows_changed_fields_moves_and_rejections_against_the_previous_plan(project: Project) -> None:
    assert project.cli("plan").exit_code == 0
    first = project.plan_folder().name
    override(project, UPPERCASE_NAMES)
    rows = project.contacts
    rows[2] = {**rows[2], "email": "not-an-email"}
    project.write_contacts(rows)

    result = project.runner.invoke(app, ["plan", "--diff", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN, "COLUMNS": "200"})
    assert result.exit_code == 3, result.output
    out = result.output
    assert f"Since plan {first}" in out
    assert "contacts: fields changed" in out and "Person Nümber 1 → PERSON NÜMBER 1" in out
    assert "create → rejected" in out
    assert "contacts: new rejections" in out and "u003 (contacts.csv:4)" in out

    diff = latest_report(project)["plan"]["diff"]
    assert diff["compared_with"] == first
    contacts = diff["entities"]["contacts"]
    assert contacts["compared"] == 12 and contacts["payloads_changed"] == 11
    assert contacts["fields"] == {"name": {"records": 11, "examples": ["u001", "u002", "u004"]}}
    assert contacts["moved"] == {"create → rejected": 1}
    [(reason, found)] = contacts["new_rejections"].items()
    assert reason.startswith("email: invalid email address") and found["records"] == 1
    assert diff["entities"]["companies"]["payloads_changed"] == 0
    assert "PERSON" not in json.dumps(latest_report(project)), "the run report names records, not their values"
    kept = json.loads((project.plan_folder() / "diff.json").read_text())
    assert kept["entities"]["contacts"]["fields"]["name"]["examples"][0] == {
        "source_id": "u001", "before": "Person Nümber 1", "after": "PERSON NÜMBER 1"}, "the plan folder keeps the values"

    rows[2] = {**rows[2], "email": "fixed@example.com"}
    project.write_contacts(rows)
    result = project.cli("plan", "--diff")
    assert result.exit_code == 0, result.output
    contacts = latest_report(project)["plan"]["diff"]["entities"]["contacts"]
    assert contacts["moved"] == {"rejected → create": 1} and list(contacts["resolved_rejections"].values())[0]["records"] == 1
    assert contacts["payloads_changed"] == 0


def test_plan_diff_against_a_chosen_plan_and_a_run_in_between(project: Project) -> None:
    assert project.cli("plan").exit_code == 0
    first = project.plan_folder().name
    assert project.cli("run").exit_code == 0
    override(project, UPPERCASE_NAMES)
    assert project.cli("plan").exit_code == 0
    contacts = latest_report(project)["plan"]["diff"]["entities"]["contacts"]
    assert contacts["moved"] == {"create → update": 12}, "loaded since: what was a create is an update now"

    result = project.cli("plan", "--diff", first[:20])
    assert result.exit_code == 0, result.output
    assert latest_report(project)["plan"]["diff"]["compared_with"] == first, "a plan named by the start of its run id"
    assert latest_report(project)["plan"]["diff"]["entities"]["contacts"]["moved"] == {"create → update": 12}

    unknown = project.cli("plan", "--diff", "20190101T000000")
    assert unknown.exit_code == 2
    assert "no kept plan" in unknown.output and first in unknown.output, "says which plans there are"


def test_only_the_newest_plans_are_kept(project: Project) -> None:
    override(project, {}, plan={"keep": 2})
    for _ in range(4):
        assert project.cli("plan").exit_code == 0
    kept = sorted(path.name for path in (project.state / "plans").iterdir())
    reports = sorted(path.stem for path in (project.state / "reports").glob("*.json"))
    assert kept == reports[-2:]
    assert "older plan(s) removed" in project.cli("plan").output


def test_plan_rejections_exports_every_rejected_record_on_stdout(project: Project) -> None:
    rows = project.contacts
    for index in (1, 4, 7):
        rows[index] = {**rows[index], "email": f"broken-{index}"}
    project.write_contacts(rows)

    result = project.cli("plan", "--rejections", "csv")
    assert result.exit_code == 3
    exported = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(row["source_id"], row["location"], row["field"]) for row in exported] == [
        ("u002", "contacts.csv:3", "email"), ("u005", "contacts.csv:6", "email"), ("u008", "contacts.csv:9", "email")]
    assert all(row["reason_kind"].startswith("email: invalid email address") for row in exported)
    assert "Plan" in result.stderr and "Plan" not in result.stdout, "the summary goes to stderr"

    as_json = project.cli("plan", "--rejections", "json")
    assert [row["source_id"] for row in json.loads(as_json.stdout)] == ["u002", "u005", "u008"]
