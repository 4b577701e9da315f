"""End to end: phases overlap in `deskmigrate run` — contacts start while companies still load, the Help Center loads beside
the people — yet no record is sent before what it needs, and what lands is what a phase-by-phase load lands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from deskmigrate.core.ledger import Ledger
from tests.app.conftest import COMPANIES as CSV_COMPANIES
from tests.app.conftest import Project, write_csv
from tests.app.test_e2e import latest_run, requests_session
from tests.app.test_ownership_e2e import get, linked_companies
from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, VendorProject, write_project_config

INTERCOM_TOKEN = "overlap-e2e-intercom-token-51c7"
COMPANIES = 30
CONTACTS = 40
ARTICLES = 15
FREE_CONTACTS = 10  # the first contacts name no company


def company_of(index: int) -> str | None:
    """Contacts after the free ones name companies from the last loaded back, so many wait for theirs."""
    return None if index < FREE_CONTACTS else f"co-{COMPANIES - 1 - index % COMPANIES:02d}"


def write_export(folder: Path) -> None:
    folder.mkdir(parents=True)
    files: dict[str, list[dict[str, Any]]] = {
        "companies.jsonl": [{"source_id": f"co-{i:02d}", "name": f"Company {i}"} for i in range(COMPANIES)],
        "contacts.jsonl": [{"source_id": f"u-{i:02d}", "email": f"person{i}@example.com", "name": f"Person {i}",
                            "company_ids": [c] if (c := company_of(i)) else [], "tags": ["vip"] if i % 3 == 0 else []}
                           for i in range(CONTACTS)],
        "agents.jsonl": [{"source_id": "ag-1", "email": "agent@sandbox.example.com", "name": "Support Agent"}],
        "collections.jsonl": [{"source_id": "col-1", "name": "Guides", "locale": "en-us"}],
        "articles.jsonl": [{"source_id": f"kb-{i:02d}", "title": f"Guide {i}", "body_html": f"<p>Step {i}</p>", "collection_id": "col-1",
                            "author_id": "ag-1", "locale": "en-us", "state": "published"} for i in range(ARTICLES)],
        "conversations.jsonl": [{"source_id": f"t-{i}", "subject": f"Question {i}", "requester_id": f"u-{i:02d}", "status": "open",
                                 "tags": ["vip"], "created_at": "2024-01-05T10:00:00Z",
                                 "parts": [{"source_id": f"p-{i}", "author_kind": "contact", "author_id": f"u-{i:02d}",
                                            "body_text": "Hello", "created_at": "2024-01-05T10:00:00Z"}]} for i in range(0, CONTACTS, 8)],
    }
    for name, records in files.items():
        (folder / name).write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


@pytest.fixture
def mixed(tmp_path: Path) -> VendorProject[None]:
    write_export(tmp_path / "export")
    config = write_project_config(tmp_path, {"type": "jsonl", "folder": "export"}, "jsonl")
    data = yaml.safe_load(config.read_text())
    data["target"]["latency_ms"] = 10  # calls take time, as over a network: phases that overlap do so visibly
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return VendorProject(root=tmp_path, config=config, fake=None, env={INTERCOM_TOKEN_VARIABLE: INTERCOM_TOKEN})


def positions(log: list[dict[str, Any]], *routes: str) -> list[int]:
    return [index for index, entry in enumerate(log) if entry["route"] in routes and entry["status"] < 300]


def test_contacts_start_before_the_last_company_and_articles_load_beside_contacts(mixed: VendorProject[None]) -> None:
    project = mixed
    result = project.cli("run")
    assert result.exit_code == 0, result.output

    log = project.store().request_log()
    company_writes = positions(log, "POST /companies")
    contact_creates = positions(log, "POST /contacts")
    contact_writes = positions(log, "POST /contacts", "POST /contacts/{id}/companies")
    article_writes = positions(log, "POST /articles")
    assert (len(company_writes), len(contact_creates), len(article_writes)) == (COMPANIES, CONTACTS, ARTICLES)
    assert contact_creates[0] < company_writes[-1]  # a contact went before the last company
    assert article_writes[0] < contact_writes[-1] and contact_writes[0] < article_writes[-1]  # interleaved
    # Tags need every contact and company.
    tag_writes = positions(log, "POST /tags")
    assert tag_writes and tag_writes[0] > max(contact_writes[-1], company_writes[-1])

    report = project.reports()[-1]
    assert [phase["phase"] for phase in report["phases"]] == [
        "companies", "contacts", "tags", "collections", "articles", "article_links", "conversations"]
    assert all(phase["duration_s"] >= 0 and phase["failed"] == 0 for phase in report["phases"])


def test_a_contact_is_never_sent_before_its_company_exists(mixed: VendorProject[None]) -> None:
    project = mixed
    assert project.cli("run").exit_code == 0

    ledger = Ledger(project.state / "ledger.db")
    try:
        writes = ledger.writes()
    finally:
        ledger.close()
    landed_at = {(w.entity, w.source_id): w.seq for w in writes if w.action != "tag"}
    # Conversations wait for the tags phase: the tag they share with contacts is its to create.
    contact_taggings = [w.seq for w in writes if w.entity == "contacts" and w.action == "tag"]
    conversations = [w.seq for w in writes if w.entity == "conversations" and w.action == "create"]
    assert contact_taggings and conversations and max(contact_taggings) < min(conversations)
    assert [w.phase for w in writes if w.entity == "tags" and w.source_id == "vip"] == ["tags"]
    waited = 0
    for index in range(CONTACTS):
        company = company_of(index)
        if company is not None:
            assert landed_at[("companies", company)] < landed_at[("contacts", f"u-{index:02d}")], f"u-{index:02d} before {company}"
            waited += 1
    assert waited == CONTACTS - FREE_CONTACTS

    companies = {c["id"]: c["company_id"] for c in project.raw("companies")}
    contacts = project.contacts_by_external_id()
    for index in range(CONTACTS):
        linked = [companies[c["id"]] for c in contacts[f"u-{index:02d}"]["companies"]["data"]]
        assert linked == ([company] if (company := company_of(index)) else [])


def test_a_contact_adopted_while_companies_load_keeps_the_links_it_had_before(project: Project) -> None:
    """person4 (u004, whose record names no company) was linked to Initech (c3) by hand before the migration, and c3
    loads last of 33 companies, long after u004 goes. The link is recorded as found all the same: when a later run adds
    c3 to u004's record and that run is rolled back, the link stays."""
    extra = [{**CSV_COMPANIES[1], "id": f"x{i:02d}", "name": f"Extra {i}"} for i in range(30)]
    write_csv(project.root / "companies.csv", [*CSV_COMPANIES[:2], *extra, CSV_COMPANIES[2]])
    project.set_target(latency_ms=10)
    with requests_session(project) as (api, url):
        initech = api.post(f"{url}/companies", json={"company_id": "c3", "name": "Initech"}).json()
        person = api.post(f"{url}/contacts", json={"role": "user", "email": "person4@example.com", "name": "Four"}).json()
        api.post(f"{url}/contacts/{person['id']}/companies", json={"id": initech["id"]}).raise_for_status()
    assert project.contacts[3]["id"] == "u004" and project.contacts[3]["company_id"] == ""
    assert project.cli("run").exit_code == 0

    rows = project.contacts
    rows[3] = {**rows[3], "company_id": "c3"}
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0
    rolled = project.cli("rollback", "--run", latest_run(project), "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert linked_companies(project, get(project, "contacts", person["id"])) == {"c3"}
