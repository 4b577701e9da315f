"""End to end: a fake Freshdesk account → `deskmigrate run` → the sandbox, asserting what lands in Intercom."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.loaders.intercom.history import SUPPORT_OPENER
from tests.app.vendor_e2e import (
    INTERCOM_TOKEN_VARIABLE,
    VendorProject,
    assert_no_secret_in,
    declare_conversation_attributes,
    message_parts,
    unix,
    write_project_config,
)
from tests.fakes.freshdesk import FAKE_API_KEY, FAKE_DOMAIN, FakeFreshdesk

INTERCOM_TOKEN = "e2e-freshdesk-intercom-token-7d2a"

# What the workspace must have (made in the UI: 2.15 cannot create them): the mapping's, then the ticket fields by label.
CONVERSATION_ATTRIBUTES = dict.fromkeys([
    "freshdesk_status", "freshdesk_priority", "freshdesk_channel", "freshdesk_type", "freshdesk_group", "freshdesk_ticket_id",
    "order_number", "product_line", "refund_amount", "vip_customer", "ordered_on", "units", "country", "city",
    "company_id", "due_by", "fr_due_by", "first_responded_at", "resolved_at", "closed_at",
], "string")
# Freshdesk status code → the Intercom state the default mapping gives it (6 is the fake account's custom status).
INTERCOM_STATE = {2: "open", 3: "snoozed", 4: "closed", 5: "closed", 6: "snoozed"}
FORWARD_SOURCE = 8
OUTBOUND_SOURCE = 10
TICKETS = "/api/v2/tickets"


class FreshdeskProject(VendorProject[FakeFreshdesk]):
    def conversations(self) -> dict[str, dict[str, Any]]:
        """Sandbox conversations by Freshdesk ticket id (the freshdesk_ticket_id attribute); two for one ticket fail the test."""
        return self.conversations_by("freshdesk_ticket_id")


@pytest.fixture
def freshdesk(tmp_path: Path) -> Iterator[FreshdeskProject]:
    with FakeFreshdesk() as fake:
        yield make_project(tmp_path, fake)


def make_project(root: Path, fake: FakeFreshdesk, **source_options: Any) -> FreshdeskProject:
    """A project reading `fake` in pages of 2, so windows, `link` headers and checkpoints are exercised."""
    source = {
        "type": "freshdesk", "domain": FAKE_DOMAIN, "api_key": "${E2E_FRESHDESK_KEY}", "base_url": fake.base_url, "per_page": 2,
        "tickets_list_per_minute": 100_000, "contacts_list_per_minute": 100_000, "retry_backoff_s": 0, **source_options,
    }
    config = write_project_config(root, source, "freshdesk")
    declare_conversation_attributes(config, CONVERSATION_ATTRIBUTES)
    return FreshdeskProject(root=root, config=config, fake=fake, env={"E2E_FRESHDESK_KEY": FAKE_API_KEY, INTERCOM_TOKEN_VARIABLE: INTERCOM_TOKEN})


def listed_tickets(acc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in acc["tickets"] if not t.get("spam") and not t.get("deleted")]


def assert_tickets_landed(project: FreshdeskProject) -> None:
    """Every listed ticket is one conversation: requester, first message, every reply and note in order, state and attributes."""
    acc = project.fake.account
    assert acc is not None
    conversations = project.conversations()
    assert set(conversations) == {str(t["id"]) for t in listed_tickets(acc)}
    contact_of = {c["id"]: c["external_id"] for c in project.store().objects("contacts")}
    for ticket in listed_tickets(acc):
        conversation = conversations[str(ticket["id"])]
        assert conversation["created_at"] == unix(ticket["created_at"]), ticket["id"]
        assert conversation["title"] == ticket["subject"], ticket["id"]
        assert contact_of[conversation["source"]["author"]["id"]] == f"fd:{ticket['requester_id']}", ticket["id"]
        assert conversation["state"] == INTERCOM_STATE[ticket["status"]], ticket["id"]
        entries = sorted(acc["conversations"].get(ticket["id"], []), key=lambda e: e["created_at"])
        parts = message_parts(conversation)
        if ticket["source"] == OUTBOUND_SOURCE:  # the agent's email follows a neutral opener from the requester, as the admin's
            assert conversation["source"]["body"] == SUPPORT_OPENER, ticket["id"]
            description, *parts = parts
            assert (description["part_type"], description["author"]["type"]) == ("comment", "admin"), ticket["id"]
            assert ticket["description_text"].splitlines()[0] in description["body"], ticket["id"]
            assert description["created_at"] == unix(ticket["created_at"]), ticket["id"]
        else:
            assert conversation["source"]["body"].startswith(ticket["description_text"].splitlines()[0]), ticket["id"]
        assert len(parts) == len(entries), ticket["id"]
        for entry, part in zip(entries, parts, strict=True):
            private = entry["private"] or entry["source"] == FORWARD_SOURCE
            assert part["part_type"] == ("note" if private else "comment"), entry["id"]
            assert part["author"]["type"] == ("user" if entry["incoming"] else "admin"), entry["id"]
            assert entry["body_text"] in part["body"], entry["id"]
            assert part["created_at"] == unix(entry["created_at"]), entry["id"]
        assert {t["name"] for t in conversation["tags"]["tags"]} == set(ticket["tags"]), ticket["id"]


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



def test_every_ticket_lands_with_its_whole_history_custom_fields_and_solutions(freshdesk: FreshdeskProject) -> None:
    result = freshdesk.cli("run")
    assert result.exit_code == 0, result.output
    assert_tickets_landed(freshdesk)

    conversations = freshdesk.conversations()
    printer = conversations["1000"]["custom_attributes"]
    # A custom field of every type, named after its label; the codes as the account's names.
    assert (printer["order_number"], printer["product_line"], printer["refund_amount"]) == ("A-1001", "Widget Pro", "12.50")
    assert (printer["vip_customer"], printer["ordered_on"], printer["units"]) == ("true", "2024-02-28", "3")
    assert (printer["country"], printer["city"]) == ("France", "Lyon")  # a nested field and its second level
    assert (printer["freshdesk_status"], printer["freshdesk_priority"], printer["freshdesk_channel"]) == ("Open", "Urgent", "email")
    assert (printer["freshdesk_group"], printer["freshdesk_type"]) == ("Hardware", "Question")
    custom_status = conversations["1002"]["custom_attributes"]
    assert (custom_status["freshdesk_status"], conversations["1002"]["state"]) == ("Waiting on Customer", "snoozed")
    assert conversations["1003"]["custom_attributes"]["freshdesk_channel"] == "outbound email"
    assert {a["name"] for a in conversations["1000"]["source"]["attachments"]} == {"receipt.pdf", "smoke.png"}

    collections = {c["name"]: c for c in freshdesk.raw("collections")}
    assert collections["Installation"]["parent_id"] == collections["Getting started"]["id"]
    assert collections["Advanced"]["parent_id"] == collections["Installation"]["id"]  # a subfolder
    assert collections["Getting started"]["translated_content"]["fr"]["name"] == "Premiers pas"
    articles = {a["title"]: a for a in freshdesk.raw("articles")}
    install = articles["How to install Acme"]
    assert install["state"] == "published" and install["parent_id"] == collections["Installation"]["id"]
    assert install["translated_content"]["fr"]["title"] == "Comment installer Acme"
    assert articles["Tuning"]["state"] == "draft" and articles["Tuning"]["parent_id"] == collections["Advanced"]["id"]


def test_past_the_page_cap_and_the_30_day_default_every_ticket_lands_once(tmp_path: Path) -> None:
    """The fake refuses page 3 of any list (Freshdesk: page 301) and lists 30 days without updated_since."""
    with FakeFreshdesk(page_cap=2) as fake:
        project = make_project(tmp_path, fake)
        result = project.cli("run")
        assert result.exit_code == 0, result.output
        assert_tickets_landed(project)
    queries = [r.query for r in fake.requests if r.path == TICKETS]
    assert all(q["updated_since"] and q["order_by"] == "updated_at" and q["order_type"] == "asc" for q in queries)
    assert max(int(q["page"]) for q in queries) <= 2
    assert len({q["updated_since"] for q in queries}) >= 6  # the window moved on from the last updated_at seen


def test_a_crash_mid_tickets_resumes_from_the_ledgers_high_water_mark(freshdesk: FreshdeskProject) -> None:
    freshdesk.fake.fail_next("/api/v2/tickets/1009/conversations", 500, times=6)  # beyond the retries: the run dies
    crashed = freshdesk.cli("run")
    assert crashed.exit_code == 1, crashed.output
    assert "tickets/1009/conversations" in "".join(crashed.output.split())  # the error names the call, however it wraps
    assert freshdesk.raw("conversations") == []  # extraction died before the load
    high_water_mark = freshdesk.saved_cursor("conversations")
    assert high_water_mark is not None and "2024-03-05" < high_water_mark < "2024-03-07T09:00:00Z"

    before = len(freshdesk.fake.requests)
    resumed = freshdesk.cli("run")
    assert resumed.exit_code == 0, resumed.output
    second_run = freshdesk.fake.requests[before:]
    assert [r.query["updated_since"] for r in second_run if r.path == TICKETS][0] == high_water_mark
    refetched = {r.path.split("/")[4] for r in second_run if r.path.endswith("/conversations")}
    assert refetched == {"1006", "1007", "1008", "1009", "1010", "1011", "1012"}  # pages finished before the crash are not read again
    assert_tickets_landed(freshdesk)
    assert freshdesk.cli("validate").exit_code == 0


def test_a_delta_reads_only_the_changed_ticket_and_appends_its_new_reply(freshdesk: FreshdeskProject) -> None:
    assert freshdesk.cli("run").exit_code == 0
    freshdesk.fake.add_conversation(1001, 9100, 11, "One more question", incoming=True, status=2)  # the reply reopens it
    high_water_mark = freshdesk.saved_cursor("conversations")
    assert high_water_mark is not None and high_water_mark > "2024-03-09"  # the last updated_at read, not the 1970 full read

    before, log_before = len(freshdesk.fake.requests), len(freshdesk.store().request_log())
    delta = freshdesk.cli("run")
    assert delta.exit_code == 0, delta.output
    second_run = freshdesk.fake.requests[before:]
    assert [r.query["updated_since"] for r in second_run if r.path == TICKETS][0] == high_water_mark
    read_again = {r.path.split("/")[4] for r in second_run if r.path.endswith("/conversations")}
    assert read_again == {"1001", "1012"}  # the changed ticket, and the newest one, one second inside the mark
    assert_tickets_landed(freshdesk)
    reopened = freshdesk.conversations()["1001"]
    assert reopened["state"] == "open" and message_parts(reopened)[-1]["body"] == "One more question"
    writes = [e["route"] for e in freshdesk.store().request_log()[log_before:] if e["write"]]
    assert "POST /conversations" not in writes and "POST /conversations/{id}/reply" in writes
