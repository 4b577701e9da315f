"""End to end: `deskmigrate rollback --all` after several runs puts the workspace back as it was before the first."""

from __future__ import annotations

from typing import Any

from tests.app.conftest import COMPANIES, Project, write_csv
from tests.app.test_e2e import latest_run, requests_session


def workspace(project: Project) -> dict[str, list[dict[str, Any]]]:
    """What a user sees in Intercom: contacts, companies, tags and data attributes (volatile timestamps aside)."""
    store = project.store()
    volatile = {"updated_at", "_searchable_from"}
    return {
        kind: sorted(({k: v for k, v in o.items() if k not in volatile} for o in store.objects(kind)), key=lambda o: o["id"])
        for kind in ("contacts", "companies", "tags", "data_attributes")
    }


def test_rollback_all_after_two_runs_restores_the_workspace(project: Project) -> None:
    with requests_session(project) as (session, url):
        session.post(f"{url}/data_attributes", json={"name": "loyalty", "model": "contact", "data_type": "string"})
        pre_existing = session.post(f"{url}/contacts", json={
            "role": "user", "email": "person2@example.com", "name": "Before Migration", "custom_attributes": {"loyalty": "high"},
        }).json()
    before = workspace(project)

    assert project.cli("run").exit_code == 0
    rows = project.contacts
    rows[1] = {**rows[1], "name": "Changed In Run Two", "tags": "moved"}   # u002: the pre-existing contact, changed again
    rows[6] = {**rows[6], "company_id": "c3"}                               # u007: company link moved
    rows.append({**rows[0], "id": "u200", "email": "second-run@example.com", "tags": "late"})
    project.write_contacts(rows)
    companies = [dict(c) for c in COMPANIES]
    companies[1]["name"] = "Globex Renamed"
    companies.append({**companies[0], "id": "c9", "name": "Created In Run Two", "tags": ""})
    write_csv(project.root / "companies.csv", companies)
    second = project.cli("run")
    assert second.exit_code == 0, second.output
    assert project.contacts_in_sandbox()["u002"]["name"] == "Changed In Run Two"
    assert len(project.store().objects("contacts")) == len(rows)

    first_run_alone = project.cli("rollback", "--run", run_ids(project)[0], "--yes")
    assert first_run_alone.exit_code == 2, "a run whose records a later run changed is not rolled back alone"
    assert "--all" in first_run_alone.output

    result = project.cli("rollback", "--all", "--yes")
    assert result.exit_code == 0, result.output
    after = workspace(project)
    assert after["contacts"] == before["contacts"] or _same_but_identifier(after["contacts"], before["contacts"])
    [survivor] = after["contacts"]
    assert survivor["id"] == pre_existing["id"]
    assert (survivor["name"], survivor["email"], survivor["custom_attributes"]) == ("Before Migration", "person2@example.com", {"loyalty": "high"})
    assert after["companies"] == [] and after["tags"] == []
    assert _live_attribute_names(after) == _live_attribute_names(before)


def test_run_after_rollback_all_migrates_everything_again(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    assert project.cli("rollback", "--all", "--yes").exit_code == 0
    assert project.contacts_in_sandbox() == {}

    again = project.cli("run")
    assert again.exit_code == 0, again.output
    assert set(project.contacts_in_sandbox()) == {row["id"] for row in project.contacts}
    assert {c["company_id"] for c in project.store().objects("companies")} == {c["id"] for c in COMPANIES}
    assert project.cli("validate").exit_code == 0


def test_rollback_of_the_latest_run_only_undoes_that_run(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    first = {cid: (c["name"], c["email"]) for cid, c in project.contacts_in_sandbox().items()}
    rows = project.contacts
    rows[3] = {**rows[3], "name": "Edited Later"}
    rows.append({**rows[0], "id": "u300", "email": "added-later@example.com", "tags": ""})
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0

    result = project.cli("rollback", "--run", latest_run(project), "--yes")
    assert result.exit_code == 0, result.output
    assert {cid: (c["name"], c["email"]) for cid, c in project.contacts_in_sandbox().items()} == first


def run_ids(project: Project) -> list[str]:
    from deskmigrate.core.ledger import Ledger

    return [r["run_id"] for r in Ledger(project.state / "ledger.db").runs() if r["command"] == "run"]


def _same_but_identifier(after: list[dict[str, Any]], before: list[dict[str, Any]]) -> bool:
    """Intercom cannot clear an external_id once set: a pre-existing contact keeps the one the migration gave it."""
    return [{k: v for k, v in c.items() if k != "external_id"} for c in after] == [
        {k: v for k, v in c.items() if k != "external_id"} for c in before
    ]


def _live_attribute_names(snapshot: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {a["name"] for a in snapshot["data_attributes"] if a.get("custom") and not a.get("archived")}

