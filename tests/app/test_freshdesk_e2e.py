"""End to end: a fake Freshdesk account → `deskmigrate run` → the sandbox, asserting what lands in Intercom."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, VendorProject, assert_no_secret_in, write_project_config
from tests.fakes.freshdesk import FAKE_API_KEY, FAKE_DOMAIN, FakeFreshdesk

INTERCOM_TOKEN = "e2e-freshdesk-intercom-token-7d2a"

FreshdeskProject = VendorProject[FakeFreshdesk]


@pytest.fixture
def freshdesk(tmp_path: Path) -> Iterator[FreshdeskProject]:
    with FakeFreshdesk() as fake:
        source = {
            "type": "freshdesk",
            "domain": FAKE_DOMAIN,
            "api_key": "${E2E_FRESHDESK_KEY}",
            "base_url": fake.base_url,
            "per_page": 2,  # several pages per list, so windows, links and checkpoints are exercised
            "tickets_list_per_minute": 100_000,
            "contacts_list_per_minute": 100_000,
            "retry_backoff_s": 0,
        }
        config = write_project_config(tmp_path, source, "freshdesk")
        env = {"E2E_FRESHDESK_KEY": FAKE_API_KEY, INTERCOM_TOKEN_VARIABLE: INTERCOM_TOKEN}
        yield FreshdeskProject(root=tmp_path, config=config, fake=fake, env=env)


def live_contacts(acc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in acc["contacts"] if not c.get("deleted")]


def assert_account_landed(project: FreshdeskProject) -> None:
    """Every company once; every live contact once, with its company links (other_companies too) and tags."""
    acc = project.fake.account
    assert acc is not None
    store = project.store()
    companies = {c["company_id"]: c for c in store.objects("companies")}
    assert set(companies) == {f"fd:{c['id']}" for c in acc["companies"]}
    for company in acc["companies"]:
        assert companies[f"fd:{company['id']}"]["name"] == company["name"]
    company_id_of = {c["id"]: c["company_id"] for c in companies.values()}
    tag_name_of = {t["id"]: t["name"] for t in store.objects("tags")}
    contacts = project.contacts_by_external_id()
    assert set(contacts) == {f"fd:{c['id']}" for c in live_contacts(acc)}
    for source in live_contacts(acc):
        contact = contacts[f"fd:{source['id']}"]
        assert contact["email"] == source["email"] and contact["name"] == source["name"], source["id"]
        expected_companies = {f"fd:{c}" for c in [source.get("company_id"), *source.get("other_companies", [])] if c is not None}
        assert {company_id_of[c["id"]] for c in contact["companies"]["data"]} == expected_companies, source["id"]
        assert {tag_name_of[t["id"]] for t in contact["tags"]["data"]} == set(source["tags"]), source["id"]


def test_run_migrates_the_account_with_custom_attributes_and_reports_deleted_contacts(freshdesk: FreshdeskProject) -> None:
    result = freshdesk.cli("run")
    assert result.exit_code == 0, result.output
    assert_account_landed(freshdesk)

    contacts = freshdesk.contacts_by_external_id()
    dana = contacts["fd:10"]
    assert dana["custom_attributes"]["plan_tier"] == "Enterprise"  # a custom dropdown, by its label
    assert dana["custom_attributes"]["freshdesk_verified"] is True
    assert contacts["fd:12"]["custom_attributes"]["freshdesk_other_emails"] == "emile@zola.example"
    assert contacts["fd:11"]["phone"] == "+46701234567"
    globex = {c["company_id"]: c for c in freshdesk.store().objects("companies")}["fd:100"]
    assert globex["custom_attributes"]["region"] == "Europe"
    assert globex["custom_attributes"]["freshdesk_domains"] == "globex.example, globex.test"
    assert globex["custom_attributes"]["freshdesk_account_tier"] == "Enterprise"
    attributes = {(a["model"], a["name"]): a["data_type"] for a in freshdesk.store().objects("data_attributes")}
    assert attributes[("contact", "freshdesk_verified")] == "boolean"
    assert attributes[("company", "freshdesk_renewal_date")] == "date"

    # Agents are matched to admins, never created as contacts; the deleted contact is absent and reported.
    assert not {"ada@acme.example", "bob@acme.example"} & {c["email"] for c in contacts.values()}
    assert "fd:14" not in contacts
    [report] = freshdesk.reports()
    assert report["exit_code"] == 0 and report["failure_count"] == 0
    notices = {(n["entity"], n["source_id"]): n["message"] for n in report["extract"]["notices"]}
    assert "deleted" in notices[("contacts", "14")]
    assert report["extract"]["staged"]["conversations"] == 12  # every listed ticket, March 2024 ones included
    # Tickets, solutions categories and folders, and articles are loaded by the phases that follow.
    created = {phase["phase"]: phase["created"] for phase in report["phases"]}
    assert (created["conversations"], created["collections"], created["articles"]) == (12, 3, 2)


def test_rerun_writes_nothing_and_one_edited_contact_is_one_update(freshdesk: FreshdeskProject) -> None:
    assert freshdesk.cli("run").exit_code == 0
    writes_before = freshdesk.writes()
    again = freshdesk.cli("run")
    assert again.exit_code == 0, again.output
    assert freshdesk.writes() == writes_before

    freshdesk.fake.touch("contacts", 12, name="Émile Zola-Dreyfus")
    log_before = len(freshdesk.store().request_log())
    edited = freshdesk.cli("run")
    assert edited.exit_code == 0, edited.output
    new_writes = [e["route"] for e in freshdesk.store().request_log()[log_before:] if e["write"]]
    assert new_writes == ["PUT /contacts/{id}"]
    assert freshdesk.contacts_by_external_id()["fd:12"]["name"] == "Émile Zola-Dreyfus"
    assert freshdesk.cli("validate").exit_code == 0


def test_secrets_never_reach_the_state_folder(freshdesk: FreshdeskProject) -> None:
    assert freshdesk.cli("run").exit_code == 0
    assert_no_secret_in(freshdesk.state, [FAKE_API_KEY, INTERCOM_TOKEN])

