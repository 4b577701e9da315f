"""End to end: the JSON report of `deskmigrate run` — counts per phase and outcome, failures with Intercom's request_id, API calls, 429s, duration."""

from __future__ import annotations

import json
import stat
from typing import Any

from tests.app.conftest import COMPANIES, Project
from tests.app.test_e2e import requests_session


def reports(project: Project) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((project.state / "reports").glob("*.json"))]


def with_roles(project: Project, lead_ids: set[str]) -> None:
    project.write_contacts([{**row, "role": "lead" if row["id"] in lead_ids else "user"} for row in project.contacts])


def test_an_intercom_refusal_is_reported_with_its_request_id_and_the_run_goes_on(project: Project) -> None:
    # u005 is already an Intercom *user*; the CSV says lead, and Intercom refuses to turn a user into a lead.
    with_roles(project, {"u005"})
    with requests_session(project) as (session, url):
        existing = session.post(f"{url}/contacts", json={"role": "user", "external_id": "u005", "email": "person5@example.com"}).json()

    result = project.cli("run")
    assert result.exit_code == 3, result.output
    [report] = reports(project)
    [failure] = report["failures"]
    assert (failure["phase"], failure["entity"], failure["source_id"]) == ("contacts", "contacts", "u005")
    assert "lead" in failure["reason"]
    refused = [r for r in project.store().request_log() if r["status"] == 400]
    assert [r["route"] for r in refused] == ["PUT /contacts/{id}"]
    assert failure["request_id"] == refused[0]["request_id"], "the request id Intercom support asks for"
    assert failure["request_id"][:8] in result.output, "listed in the failures table (folded at the terminal width)"
    assert report["exit_code"] == 3 and report["failure_count"] == 1

    phases = {p["phase"]: p for p in report["phases"]}
    assert all(isinstance(p.pop("duration_s"), float) for p in phases.values())  # each phase says how long it took
    assert phases["contacts"] == {"phase": "contacts", "created": len(project.contacts) - 1, "updated": 0, "adopted": 0,
                                  "unchanged": 0, "rejected": 0, "failed": 1, "merged": 0,
                                  "rejected_duplicate_email": 0}
    assert phases["companies"]["created"] == len(COMPANIES) and phases["companies"]["failed"] == 0
    tag_names = {t for row in project.contacts for t in row["tags"].split(";") if t} | {"early-adopter", "key-account", "churn-risk"}
    assert phases["tags"]["created"] == len(tag_names) == len(project.store().objects("tags"))
    taggings = sum(len(c["tags"]["data"]) for c in project.contacts_in_sandbox().values())
    assert phases["tags"]["taggings_added"] == taggings + 3 and phases["tags"]["failed"] == 0  # + 3 company taggings
    # The other records all landed; the refused one is left as it was.
    assert len(project.contacts_in_sandbox()) == len(project.contacts)
    assert project.store().get("contacts", existing["id"])["role"] == "user"


def test_api_calls_and_duration_are_in_the_report(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    [report] = reports(project)
    log = project.store().request_log()
    api = report["api"]
    assert api["calls"] == len(log)
    assert api["writes"] == sum(1 for r in log if r["write"] and r["status"] < 400)
    assert api["rate_limited"] == sum(1 for r in log if r["status"] == 429)  # the 429 storm: tests/app/test_e2e.py
    assert sum(api["calls_by_route"].values()) == api["calls"]
    assert isinstance(report["duration_s"], float) and report["duration_s"] >= 0
    assert report["command"] == "run" and report["run_id"] and report["started_at"]
    assert report["extract"]["staged"] == {"companies": len(COMPANIES), "contacts": len(project.contacts)}
    assert report["failures"] == [] and report["exit_code"] == 0


def test_the_state_folder_is_private_after_every_command(project: Project) -> None:
    for command in ("check", "plan", "run", "validate", "status"):
        assert project.cli(command).exit_code == 0, command
    modes = {path.relative_to(project.state): stat.S_IMODE(path.stat().st_mode) for path in [project.state, *project.state.rglob("*")]}
    plan = project.plan_folder().relative_to(project.state)
    assert {str(p) for p in modes} >= {".", "ledger.db", "plans", str(plan), f"{plan}/contacts.jsonl", f"{plan}/index.db",
                                       f"{plan}/summary.json", "reports", "logs"}
    assert {str(p): m for p, m in modes.items() if m != (0o700 if (project.state / p).is_dir() else 0o600)} == {}
