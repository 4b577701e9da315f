"""End to end: `deskmigrate validate` reads contacts, companies and the help center by listing them, and still catches a
change made in Intercom behind the migration's back: on a later page, on a record gone from the list, and beyond the 10
companies or tags a listed contact embeds."""

from __future__ import annotations

from collections import Counter

from deskmigrate.cli import app
from tests.app.conftest import TOKEN, Project, contact_rows, write_csv
from tests.app.test_e2e import requests_session


def calls_by_route(project: Project, since: int) -> Counter[str]:
    with project.store() as store:
        return Counter(entry["route"] for entry in store.request_log()[since:])


def log_size(project: Project) -> int:
    with project.store() as store:
        return len(store.request_log())


def validate(project: Project) -> tuple[int, str]:
    result = project.runner.invoke(app, ["validate", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN, "COLUMNS": "250"})
    return result.exit_code, result.output


def test_validate_reads_by_listing_and_catches_changes_on_later_pages_and_records_gone(project: Project) -> None:
    project.write_contacts(contact_rows(320))  # three pages of 150
    assert project.cli("run").exit_code == 0
    before = log_size(project)
    assert validate(project)[0] == 0
    clean = calls_by_route(project, before)
    assert clean["GET /contacts"] == 3 and clean["GET /contacts/{id}"] == 0
    assert clean["GET /companies/scroll"] >= 1 and clean["GET /companies/{id}"] == 0

    contacts = project.contacts_in_sandbox()
    with requests_session(project) as (session, url):
        assert session.put(f"{url}/contacts/{contacts['u318']['id']}", json={"email": "moved@example.com"}).ok
        assert session.delete(f"{url}/contacts/{contacts['u007']['id']}").ok
        [company] = contacts["u306"]["companies"]["data"]
        assert session.delete(f"{url}/contacts/{contacts['u306']['id']}/companies/{company['id']}").ok
    before = log_size(project)
    exit_code, output = validate(project)

    assert exit_code == 3, output
    assert "Mismatches (3)" in output
    assert "u318" in output and "moved@example.com" in output
    assert "u007" in output and "missing" in output
    assert "u306" in output and "compan" in output
    changed = calls_by_route(project, before)
    assert changed["GET /contacts"] == 3 and changed["GET /contacts/{id}"] == 1, "only the contact gone from the list is read by id"


def test_validate_reads_a_contacts_companies_and_tags_beyond_the_ten_a_listing_embeds(project: Project) -> None:
    companies = [{"id": f"k{i:02d}", "name": f"Company {i}", "website": "", "plan": "", "size": "", "tier": "", "tags": ""}
                 for i in range(1, 13)]
    write_csv(project.root / "companies.csv", companies)
    rows = contact_rows(3)
    rows[0] = {**rows[0], "company_id": ";".join(c["id"] for c in companies), "tags": ";".join(f"t{i:02d}" for i in range(1, 13))}
    rows[1] = {**rows[1], "company_id": "k01", "tags": "t01"}
    rows[2] = {**rows[2], "company_id": "", "tags": ""}
    project.write_contacts(rows)
    assert project.cli("run").exit_code == 0
    assert validate(project)[0] == 0, "twelve companies and tags on one contact are all found"

    contact = project.contacts_in_sandbox()["u001"]
    assert contact["companies"]["has_more"] and contact["tags"]["has_more"]
    embedded = {c["id"] for c in contact["companies"]["data"]}
    with project.store() as store:
        by_company_id = {c["company_id"]: c["id"] for c in store.objects("companies")}
        tags = {t["name"]: t["id"] for t in store.objects("tags")}
    beyond = next(cid for cid, iid in sorted(by_company_id.items()) if iid not in embedded)
    tag_beyond = next(name for name, tag_id in sorted(tags.items()) if tag_id not in {t["id"] for t in contact["tags"]["data"]})
    with requests_session(project) as (session, url):
        assert session.delete(f"{url}/contacts/{contact['id']}/companies/{by_company_id[beyond]}").ok
        assert session.delete(f"{url}/contacts/{contact['id']}/tags/{tags[tag_beyond]}").ok
    exit_code, output = validate(project)

    assert exit_code == 3, output
    assert "Mismatches (2)" in output
    assert beyond in output and tag_beyond in output
