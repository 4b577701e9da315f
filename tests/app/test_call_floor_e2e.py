"""End to end: what a load costs in calls per record, counted by the sandbox, with what was there before kept as it was."""

from __future__ import annotations

from collections import Counter

from tests.app.conftest import COMPANIES, Project, write_csv
from tests.app.test_e2e import requests_session


def calls_by_route(project: Project, since: int = 0) -> Counter[str]:
    with project.store() as store:
        return Counter(entry["route"] for entry in store.request_log()[since:])


def seed_globex(project: Project) -> dict:
    """Globex (c2) exists before the migration, with its own plan and a tag someone gave it."""
    with requests_session(project) as (api, url):
        globex = api.post(f"{url}/companies", json={"company_id": "c2", "name": "Globex (before)", "plan": "enterprise", "size": 7}).json()
        api.post(f"{url}/tags", json={"name": "hand-made", "companies": [{"id": globex["id"]}]}).raise_for_status()
    return globex


def test_a_first_load_costs_one_call_per_company_and_adopts_what_was_there_as_it_was(project: Project) -> None:
    seed_globex(project)
    seeded = len(project.store().request_log())

    assert project.cli("run").exit_code == 0
    calls = calls_by_route(project, seeded)

    assert calls["POST /companies"] == len(COMPANIES)
    assert calls["GET /companies"] == 0, "no company is looked up one by one on a first load"
    assert calls["GET /companies/scroll"] == 2, "one listing: a page, then the empty page that ends the scroll"
    contacts = project.contacts
    links = sum(len([c for c in row["company_id"].split(";") if c]) for row in contacts)
    assert calls["POST /contacts"] == len(contacts)
    assert calls["POST /contacts/{id}/companies"] == links
    tag_kinds = {(tag, "contact") for row in contacts for tag in row["tags"].split(";") if tag} | {("early-adopter", "contact")}
    tag_kinds |= {(tag, "company") for row in COMPANIES for tag in row["tags"].split(";") if tag}
    assert calls["POST /tags"] == len(tag_kinds), "one bulk call per tag and kind of record"

    # Globex was adopted: rollback gives back exactly what it held, and its own tag stays.
    rolled = project.cli("rollback", "--all", "--yes")
    assert rolled.exit_code == 0, rolled.output
    companies = {c["company_id"]: c for c in project.store().objects("companies")}
    assert set(companies) == {"c2"}, "the companies the migration created are gone, the adopted one stays"
    globex = companies["c2"]
    assert (globex["name"], globex["plan"]["name"], globex["size"]) == ("Globex (before)", "enterprise", 7)
    assert [t["name"] for t in globex["tags"]["tags"]] == ["hand-made"]


def test_a_later_load_looks_up_each_new_company_and_adopts_one_made_by_hand(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    with requests_session(project) as (api, url):
        api.post(f"{url}/companies", json={"company_id": "c4", "name": "Hooli (by hand)", "plan": "free"}).raise_for_status()
    write_csv(project.root / "companies.csv", [*COMPANIES, {"id": "c4", "name": "Hooli", "website": "", "plan": "pro", "size": "",
                                                           "tier": "", "tags": ""}])
    before = len(project.store().request_log())

    assert project.cli("run").exit_code == 0
    calls = calls_by_route(project, before)
    assert calls["GET /companies/scroll"] == 0, "the ledger knows the companies: no listing"
    assert calls["GET /companies"] == 1 and calls["POST /companies"] == 1

    assert project.cli("rollback", "--all", "--yes").exit_code == 0
    [hooli] = project.store().objects("companies")
    assert (hooli["company_id"], hooli["name"], hooli["plan"]["name"]) == ("c4", "Hooli (by hand)", "free")
