"""End to end: a fake Zendesk account → `deskmigrate run` → the sandbox, asserting what lands in Intercom."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.cli import app
from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, VendorProject, assert_no_secret_in, write_project_config
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_SUBDOMAIN, FAKE_TOKEN, FakeZendesk, RecordedRequest

INTERCOM_TOKEN = "e2e-zendesk-intercom-token-5f1c"
USERS_EXPORT = "incremental/users/cursor"

ZendeskProject = VendorProject[FakeZendesk]


@pytest.fixture
def zendesk(tmp_path: Path) -> Iterator[ZendeskProject]:
    with FakeZendesk() as fake:
        source = {
            "type": "zendesk",
            "subdomain": FAKE_SUBDOMAIN,
            "email": FAKE_EMAIL,
            "token": "${E2E_ZENDESK_TOKEN}",
            "base_url": fake.base_url,
            "incremental_requests_per_minute": 100_000,
            "page_size": 3,  # several pages per export, so cursors and page boundaries are exercised
            "retry_backoff_s": 0,
        }
        config = write_project_config(tmp_path, source, "zendesk")
        env = {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, INTERCOM_TOKEN_VARIABLE: INTERCOM_TOKEN}
        yield ZendeskProject(root=tmp_path, config=config, fake=fake, env=env)


# -- what the account should become, derived from the fake's data ----------------------------------------


def account(project: ZendeskProject) -> dict[str, Any]:
    assert project.fake.account is not None
    return project.fake.account


def live_organizations(acc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in acc["organizations"] if not o.get("deleted_at")]


def end_users(acc: dict[str, Any]) -> list[dict[str, Any]]:
    return [u for u in acc["users"] if u["role"] == "end-user" and u["active"]]


def expected_company_ids(acc: dict[str, Any], user: dict[str, Any]) -> set[str]:
    """The account allows several organizations per user, so memberships (not organization_id) decide the links."""
    assert acc["settings"]["user"]["multiple_organizations"]
    return {f"zd:{m['organization_id']}" for m in acc["organization_memberships"] if m["user_id"] == user["id"]}


def assert_account_landed(project: ZendeskProject) -> None:
    """Every live organization once as a company; every live end-user once as a contact, with links, tags and fields."""
    acc = account(project)
    store = project.store()
    companies = {c["company_id"]: c for c in store.objects("companies")}
    assert set(companies) == {f"zd:{o['id']}" for o in live_organizations(acc)}
    for org in live_organizations(acc):
        company = companies[f"zd:{org['id']}"]
        assert company["name"] == org["name"]
        assert {t["name"] for t in company["tags"]["tags"]} == set(org["tags"])
    company_id_of = {c["id"]: c["company_id"] for c in companies.values()}
    tag_name_of = {t["id"]: t["name"] for t in store.objects("tags")}

    contacts = project.contacts_by_external_id()
    assert set(contacts) == {f"zd:{u['id']}" for u in end_users(acc)}
    for user in end_users(acc):
        contact = contacts[f"zd:{user['id']}"]
        assert contact["role"] == "user"
        assert contact["email"] == user["email"], user["id"]
        assert contact["name"] == user["name"], user["id"]
        assert {company_id_of[c["id"]] for c in contact["companies"]["data"]} == expected_company_ids(acc, user), user["id"]
        assert {tag_name_of[t["id"]] for t in contact["tags"]["data"]} == set(user["tags"]), user["id"]


# -- tests ---------------------------------------------------------------------------------------------------


def test_run_migrates_the_account_and_reports_what_it_skipped(zendesk: ZendeskProject) -> None:
    result = zendesk.cli("run")
    assert result.exit_code == 0, result.output
    assert_account_landed(zendesk)

    contacts = zendesk.contacts_by_external_id()
    dana, zoe = contacts["zd:10"], contacts["zd:11"]
    # User fields arrive by title, dropdown tags as their option labels.
    assert dana["custom_attributes"]["plan_tier"] == "Enterprise"
    assert dana["custom_attributes"]["signup_source"] == "webinar"
    assert dana["custom_attributes"]["zendesk_role"] == "end-user"
    assert dana["custom_attributes"]["zendesk_suspended"] is False
    assert zoe["custom_attributes"]["plan_tier"] == "Free" and zoe["phone"] == "+46701234567"
    assert contacts["zd:14"]["email"] is None and contacts["zd:14"]["name"] == "Fay NoEmail"
    globex = {c["company_id"]: c for c in zendesk.store().objects("companies")}["zd:100"]
    assert globex["custom_attributes"]["account_manager"] == "Bob Agent"
    assert globex["custom_attributes"]["region"] == "Europe"
    assert globex["custom_attributes"]["zendesk_domains"] == "globex.example, globex.test"
    attributes = {(a["model"], a["name"]): a["data_type"] for a in zendesk.store().objects("data_attributes")}
    assert attributes[("contact", "zendesk_suspended")] == "boolean"
    assert attributes[("contact", "plan_tier")] == "string"

    # Agents and admins are matched to Intercom admins, never created as contacts.
    staff = {u["email"] for u in account(zendesk)["users"] if u["role"] in ("agent", "admin")}
    assert not staff & {c["email"] for c in contacts.values()}
    assert not {"zd:1", "zd:2", "zd:3"} & set(contacts)

    # The deleted user and the deleted organization are absent, and the report says why.
    assert "zd:17" not in contacts
    assert "zd:103" not in {c["company_id"] for c in zendesk.store().objects("companies")}
    [report] = zendesk.reports()
    assert report["exit_code"] == 0 and report["failure_count"] == 0
    notices = {(n["entity"], n["source_id"]): n["message"] for n in report["extract"]["notices"]}
    assert "deleted" in notices[("contacts", "17")]
    assert "deleted" in notices[("companies", "103")]
    assert "ticket deleted" in notices[("conversations", "1003")]
    assert "requester 17 was deleted" in notices[("conversations", "1004")]
    assert report["extract"]["staged"]["contacts"] == len(end_users(account(zendesk)))

    # One pass over the users export serves contacts and agents, and the agents it staged reach the preflight.
    staff_users = [u for u in account(zendesk)["users"] if u["role"] in ("agent", "admin")]
    assert report["extract"]["staged"]["agents"] == len(staff_users)
    assert report["preflight"]["agents_matched"] + len(report["preflight"]["agents_unmatched"]) == len(staff_users)
    users_pages = [r for r in zendesk.fake.requests if USERS_EXPORT in r.path]
    assert len(users_pages) == -(-len(account(zendesk)["users"]) // 3), "the users export is read once, 3 users a page"


def test_rerun_writes_nothing_and_one_edited_user_is_one_update(zendesk: ZendeskProject) -> None:
    assert zendesk.cli("run").exit_code == 0
    writes_before = zendesk.writes()
    again = zendesk.cli("run")
    assert again.exit_code == 0, again.output
    log = zendesk.store().request_log()
    assert zendesk.writes() == writes_before, [e["route"] for e in log if e["write"]][writes_before:]

    zendesk.fake.touch("users", 12, name="Émile Zola-Dreyfus")
    log_before = len(zendesk.store().request_log())
    edited = zendesk.cli("run")
    assert edited.exit_code == 0, edited.output
    new_writes = [e["route"] for e in zendesk.store().request_log()[log_before:] if e["write"]]
    assert new_writes == ["PUT /contacts/{id}"]
    assert zendesk.contacts_by_external_id()["zd:12"]["name"] == "Émile Zola-Dreyfus"
    assert_account_landed(zendesk)

    validated = zendesk.cli("validate")
    assert validated.exit_code == 0, validated.output


class FaultOnSecondUsersPage(list[RecordedRequest]):
    """The fake's request log, arming a 429 for the first users-export request that follows a cursor (page 2).

    The fake logs a request before looking for faults, so a fault armed here answers the request being logged.
    """

    def __init__(self, fake: FakeZendesk) -> None:
        super().__init__()
        self.fake = fake
        self.armed = False

    def append(self, request: RecordedRequest) -> None:
        super().append(request)
        if not self.armed and USERS_EXPORT in request.path and "cursor" in request.query:
            self.armed = True
            self.fake.fail_next(USERS_EXPORT, 429, retry_after=1)


def test_a_429_on_a_users_export_page_is_waited_out(zendesk: ZendeskProject) -> None:
    zendesk.fake.requests = FaultOnSecondUsersPage(zendesk.fake)
    result = zendesk.cli("run")
    assert result.exit_code == 0, result.output
    assert_account_landed(zendesk)
    users_pages = [r.query for r in zendesk.fake.requests if USERS_EXPORT in r.path]
    assert "cursor" in users_pages[1] and users_pages[1] == users_pages[2], "the refused page is asked again, same cursor"
    assert zendesk.cli("validate").exit_code == 0


def test_secrets_never_reach_the_state_folder(zendesk: ZendeskProject) -> None:
    assert zendesk.cli("run").exit_code == 0
    assert_no_secret_in(zendesk.state, [FAKE_TOKEN, INTERCOM_TOKEN])


def test_run_since_reads_only_what_changed_after_that_date(zendesk: ZendeskProject) -> None:
    assert zendesk.cli("run").exit_code == 0
    zendesk.fake.touch("users", 12, name="Émile Since")
    zendesk.fake.touch("organizations", 101, name="Initech Since")
    since = datetime.now(UTC) - timedelta(hours=1)
    zendesk.fake.requests.clear()
    log_before = len(zendesk.store().request_log())

    result = zendesk.cli("run", "--since", since.strftime("%Y-%m-%dT%H:%M:%S"))
    assert result.exit_code == 0, result.output
    exports = [r for r in zendesk.fake.requests if r.path.endswith(("incremental/users/cursor.json", "incremental/organizations.json"))]
    first_pages = [r for r in exports if "cursor" not in r.query]
    assert first_pages and all(r.query["start_time"] == str(int(since.replace(microsecond=0).timestamp())) for r in first_pages)
    report = zendesk.reports()[-1]
    staged = {entity: n for entity, n in report["extract"]["staged"].items() if entity != "collections"}  # listed in full each run
    assert staged == {"companies": 1, "contacts": 1}
    new_writes = sorted(e["route"] for e in zendesk.store().request_log()[log_before:] if e["write"])
    assert new_writes == ["POST /companies", "PUT /contacts/{id}"], "Intercom updates a company by posting its company_id"
    assert zendesk.contacts_by_external_id()["zd:12"]["name"] == "Émile Since"
    assert {c["company_id"]: c["name"] for c in zendesk.store().objects("companies")}["zd:101"] == "Initech Since"
    assert_account_landed(zendesk)


def test_run_since_on_a_fresh_project_migrates_only_the_recent_part(zendesk: ZendeskProject) -> None:
    result = zendesk.cli("run", "--since", "2024-03-02T10:30:00Z")
    acc = account(zendesk)
    recent = {f"zd:{u['id']}" for u in end_users(acc) if u["updated_at"] >= "2024-03-02T10:30:00Z"}
    assert set(zendesk.contacts_by_external_id()) == recent
    assert zendesk.store().objects("companies") == [], "every organization changed before that date"
    # Links to organizations the delta did not read are listed, not silently dropped.
    assert result.exit_code == 3, result.output
    failures = {(f["phase"], f["source_id"], f["field"]) for f in zendesk.reports()[-1]["failures"]}
    linked = {u["id"] for u in end_users(acc) if f"zd:{u['id']}" in recent and expected_company_ids(acc, u)}
    assert failures == {("links", str(uid), "company_ids") for uid in linked}


def test_plan_says_how_comments_will_be_read_and_then_a_delta_reads_them_per_ticket(zendesk: ZendeskProject) -> None:
    planned = zendesk.runner.invoke(app, ["plan", "-c", str(zendesk.config)], env={**zendesk.env, "COLUMNS": "250"})
    assert planned.exit_code == 0, planned.output
    assert "comments_strategy" in planned.output and "incremental/ticket_events.json?include=comment_events" in planned.output
    reading = zendesk.reports()[-1]["source_reading"]
    assert reading["comments_strategy"] == "events" and reading["estimated_calls_total"] > 0
    assert not (zendesk.root / "sandbox.db").exists() or zendesk.writes() == 0

    assert zendesk.cli("run").exit_code == 0
    delta = zendesk.runner.invoke(app, ["plan", "-c", str(zendesk.config)], env={**zendesk.env, "COLUMNS": "250"})
    assert "GET /tickets/{id}/comments.json?page[size]=100" in delta.output, "a delta reads the changed tickets' comments directly"
