"""End to end: a fake Help Scout account → `deskmigrate run` → the sandbox, asserting what lands in Intercom."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deskmigrate.connectors.helpscout.convert import company_source_id
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
from tests.fakes.helpscout import FAKE_APP_ID, FAKE_APP_SECRET, FAKE_DOCS_KEY, FakeHelpScout

INTERCOM_TOKEN = "e2e-helpscout-intercom-token-7c2e"
CONTACT_TAG = "from-helpscout"
CONVERSATIONS = "/v2/conversations"
# What the workspace must have (made in the UI: 2.15 cannot create them): the mapping's and the mailbox custom fields.
CONVERSATION_ATTRIBUTES = {
    **dict.fromkeys(["helpscout_status", "helpscout_mailbox", "helpscout_channel", "helpscout_number", "helpscout_source",
                     "helpscout_team", "helpscout_conversation_id", "plan", "order_number"], "string"),
    "helpscout_closed_at": "datetime",
}
# Help Scout status → the Intercom state the default mapping gives it.
INTERCOM_STATE = {"active": "open", "pending": "snoozed", "closed": "closed", "spam": "closed"}
# Thread type → what it becomes after the first thread: (Intercom part type, author type).
PART_OF_THREAD = {
    "customer": ("comment", "user"), "reply": ("comment", "admin"), "chat": ("comment", "admin"), "note": ("note", "admin"),
    "phone": ("note", "admin"), "forwardparent": ("note", "admin"), "forwardchild": ("comment", "admin"), "lineitem": ("note", "admin"),
}


class HelpScoutProject(VendorProject[FakeHelpScout]):
    def conversations(self) -> dict[str, dict[str, Any]]:
        """Sandbox conversations by Help Scout conversation id (the helpscout_conversation_id attribute); two for one id fail."""
        return self.conversations_by("helpscout_conversation_id")


def make_project(root: Path, fake: FakeHelpScout, **source_options: Any) -> HelpScoutProject:
    """A project reading `fake` (Mailbox and Docs API), every contact tagged by an override file."""
    (root / "tags.yaml").write_text(yaml.safe_dump({"version": 1, "contact": {"tags": {"add": [CONTACT_TAG]}}}))
    source = {
        "type": "helpscout", "app_id": FAKE_APP_ID, "app_secret": "${E2E_HS_SECRET}", "base_url": fake.api_root,
        "docs_api_key": "${E2E_HS_DOCS_KEY}", "docs_base_url": fake.docs_root, "retry_backoff_s": 0, **source_options,
    }
    config = write_project_config(root, source, "helpscout", overrides=["tags.yaml"])
    declare_conversation_attributes(config, CONVERSATION_ATTRIBUTES)
    env = {"E2E_HS_SECRET": FAKE_APP_SECRET, "E2E_HS_DOCS_KEY": FAKE_DOCS_KEY, INTERCOM_TOKEN_VARIABLE: INTERCOM_TOKEN}
    return HelpScoutProject(root=root, config=config, fake=fake, env=env)


@pytest.fixture
def helpscout(tmp_path: Path) -> Iterator[HelpScoutProject]:
    with FakeHelpScout(page_size=3) as fake:  # several pages per list, so checkpoints and page boundaries are exercised
        yield make_project(tmp_path, fake)


def account(project: HelpScoutProject) -> dict[str, Any]:
    assert project.fake.account is not None
    return project.fake.account


def emails(customer: dict[str, Any]) -> list[str]:
    return [e["value"] for e in customer["_embedded"]["emails"]]


def assert_account_landed(project: HelpScoutProject) -> None:
    """One company per distinct organization name; every customer once as a contact, with its company and the tag."""
    store = project.store()
    customers = account(project)["customers"]
    companies = {c["company_id"]: c for c in store.objects("companies")}
    expected_companies = {company_source_id(c["organization"]) for c in customers if c["organization"]}
    assert set(companies) == {f"hs:{key}" for key in expected_companies}
    company_id_of = {c["id"]: c["company_id"] for c in companies.values()}
    tag_name_of = {t["id"]: t["name"] for t in store.objects("tags")}

    contacts = project.contacts_by_external_id()
    assert set(contacts) == {f"hs:{c['id']}" for c in customers}
    for customer in customers:
        contact = contacts[f"hs:{customer['id']}"]
        assert contact["email"] == (emails(customer) or [None])[0], customer["id"]
        assert contact["name"] == f"{customer['firstName']} {customer['lastName']}", customer["id"]
        linked = {company_id_of[c["id"]] for c in contact["companies"]["data"]}
        assert linked == ({f"hs:{company_source_id(customer['organization'])}"} if customer["organization"] else set()), customer["id"]
        assert {tag_name_of[t["id"]] for t in contact["tags"]["data"]} == {CONTACT_TAG}, customer["id"]


def text_of(body: str) -> str:
    """What a reader sees of an HTML or text body: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())


def thread_text(thread: dict[str, Any]) -> str:
    if thread["type"] == "lineitem":
        return (thread.get("action") or {}).get("text") or f"Status changed to {thread['status']}"
    return text_of(thread["body"])


def migrated_threads(conversation: dict[str, Any], *, line_items: bool = True) -> list[dict[str, Any]]:
    """The threads that become the conversation, oldest first: drafts never, line items as the config says."""
    threads = [t for t in conversation["_embedded"]["threads"] if t["state"] != "draft" and (line_items or t["type"] != "lineitem")]
    return sorted(threads, key=lambda t: (t["createdAt"], t["id"]))


def assert_conversations_landed(project: HelpScoutProject, *, line_items: bool = True) -> None:
    """Every published conversation once: its first thread as the opening message, every later thread a part, in order."""
    source = [c for c in account(project)["conversations"] if c["state"] == "published"]
    conversations = project.conversations()
    assert set(conversations) == {str(c["id"]) for c in source}
    contact_of = {c["id"]: c["external_id"] for c in project.store().objects("contacts")}
    for conversation in source:
        landed = conversations[str(conversation["id"])]
        first, *later = migrated_threads(conversation, line_items=line_items)
        assert landed["created_at"] == unix(first["createdAt"]), conversation["id"]  # when its first message was written
        assert landed["state"] == INTERCOM_STATE[conversation["status"]], conversation["id"]
        assert contact_of[landed["source"]["author"]["id"]] == f"hs:{conversation['primaryCustomer']['id']}", conversation["id"]
        parts = message_parts(landed)
        if (first["createdBy"] or {}).get("type") != "customer" or first["state"] == "hidden":
            # a call log or anything else the customer did not write: a neutral opener, then the thread as the admin's
            assert landed["source"]["body"] == SUPPORT_OPENER, conversation["id"]
            later = [first, *later]
        else:
            assert text_of(landed["source"]["body"]).startswith(thread_text(first)), conversation["id"]  # a chat in full, too
        assert len(parts) == len(later), conversation["id"]
        for thread, part in zip(later, parts, strict=True):
            assert (part["part_type"], part["author"]["type"]) == PART_OF_THREAD[thread["type"]], thread["id"]
            assert text_of(part["body"]) == thread_text(thread), thread["id"]
            assert part["created_at"] == unix(thread["createdAt"]), thread["id"]
        assert {t["name"] for t in landed["tags"]["tags"]} == {t["tag"] for t in conversation["tags"]}, conversation["id"]


def test_run_migrates_customers_companies_and_their_attributes(helpscout: HelpScoutProject) -> None:
    result = helpscout.cli("run")
    assert result.exit_code == 0, result.output
    assert_account_landed(helpscout)

    contacts = helpscout.contacts_by_external_id()
    dana = contacts["hs:200"]
    assert dana["phone"] == "+33612345678"
    assert dana["custom_attributes"]["helpscout_other_emails"] == "dana.s@home.example"
    assert dana["custom_attributes"]["helpscout_job_title"] == "CTO"
    assert dana["custom_attributes"]["plan_tier"] == "Enterprise"  # a customer property, dropdown label
    assert dana["custom_attributes"]["social_twitter"] == "@dana"
    assert contacts["hs:201"]["custom_attributes"]["plan_tier"] == "Free"
    assert contacts["hs:203"]["email"] is None and contacts["hs:203"]["phone"] == "+14155550100"
    globex = {c["company_id"]: c for c in helpscout.store().objects("companies")}["hs:org:globex corp"]
    assert globex["name"] in ("Globex Corp", "globex CORP")  # one company for both spellings, named after one of them
    attributes = {(a["model"], a["name"]): a["data_type"] for a in helpscout.store().objects("data_attributes")}
    assert attributes[("contact", "helpscout_other_emails")] == "string"
    assert attributes[("contact", "plan_tier")] == "string"

    # Help Scout users are matched to Intercom admins, never created as contacts.
    staff = {u["email"] for u in account(helpscout)["users"]}
    assert not staff & {c["email"] for c in contacts.values()}

    [report] = helpscout.reports()
    assert report["exit_code"] == 0 and report["failure_count"] == 0
    assert report["extract"]["staged"]["contacts"] == len(account(helpscout)["customers"])
    notices = {(n["entity"], n["source_id"]): n["message"] for n in report["extract"]["notices"]}
    assert "deleted" in notices[("conversations", "1007")]


def test_conversations_and_docs_land_with_their_history(helpscout: HelpScoutProject) -> None:
    result = helpscout.cli("run")
    assert result.exit_code == 0, result.output
    assert_conversations_landed(helpscout)
    conversations = helpscout.conversations()
    assert set(conversations) == {"1000", "1001", "1002", "1003", "1004", "1005", "1006"}  # 1007 was deleted
    assert conversations["1004"]["state"] == "closed" and conversations["1004"]["custom_attributes"]["helpscout_status"] == "spam"
    assert conversations["1003"]["state"] == "snoozed" and conversations["1003"]["custom_attributes"]["helpscout_mailbox"] == "Sales"
    printer = conversations["1000"]
    assert printer["title"] == "Printer on fire" and printer["source"]["body"].startswith("My printer is on fire!")
    assert "fire.jpg" in printer["source"]["body"]  # Help Scout file links need a login: kept as a link, not sent as a file
    bodies = " ".join(str(p.get("body")) for p in printer["conversation_parts"]["conversation_parts"])
    assert "Ada assigned this conversation to Bob" in bodies and "Escalate if it happens again" in bodies
    assert "where did it go?" in conversations["1002"]["source"]["body"]  # the chat listed in full, not its truncated copy

    collections = {c["name"]: c for c in helpscout.raw("collections")}
    assert collections["Install"]["parent_id"] == collections["Getting started"]["id"]
    articles = {a["title"]: a for a in helpscout.raw("articles")}
    assert set(articles) == {"How to install Acme", "Advanced settings", "Where is my invoice"}
    assert articles["Advanced settings"]["state"] == "draft"
    assert articles["How to install Acme"]["parent_id"] == collections["Install"]["id"]
    assert "acme-setup" in articles["How to install Acme"]["body"]  # the body, fetched article by article
    assert articles["Where is my invoice"]["parent_id"] == collections["Billing"]["id"]
    article_reads = [r.path for r in helpscout.fake.requests if r.path.startswith("/v1/articles/")]
    assert sorted(article_reads) == sorted(f"/v1/articles/{a['id']}" for a in account(helpscout)["docs"]["articles"])


def test_rerun_writes_nothing_and_one_edited_customer_is_one_update(helpscout: HelpScoutProject) -> None:
    assert helpscout.cli("run").exit_code == 0
    writes_before = helpscout.writes()
    again = helpscout.cli("run")
    assert again.exit_code == 0, again.output
    log = helpscout.store().request_log()
    assert helpscout.writes() == writes_before, [e["route"] for e in log if e["write"]][writes_before:]
    delta_calls = [r.query for r in helpscout.fake.requests if r.path == "/v2/customers"][-2:]
    assert all("modifiedSince" in q for q in delta_calls), "the second run reads only what changed"

    helpscout.fake.touch("customers", 202, firstName="Émile", lastName="Zola-Dreyfus")
    log_before = len(helpscout.store().request_log())
    edited = helpscout.cli("run")
    assert edited.exit_code == 0, edited.output
    new_writes = [e["route"] for e in helpscout.store().request_log()[log_before:] if e["write"]]
    assert new_writes == ["PUT /contacts/{id}"]
    assert helpscout.contacts_by_external_id()["hs:202"]["name"] == "Émile Zola-Dreyfus"
    assert_account_landed(helpscout)
    assert helpscout.cli("validate").exit_code == 0


def test_an_access_token_expiring_mid_run_is_renewed(helpscout: HelpScoutProject) -> None:
    class ExpireAfterFirstCustomersPage(list):  # type: ignore[type-arg]
        """The fake's request log, expiring every token right after the first customers page is asked for."""

        def append(self, request: Any) -> None:
            super().append(request)
            if request.path == "/v2/customers" and request.query.get("page") == "2" and request.authorized and not getattr(self, "done", False):
                self.done = True
                helpscout.fake.expire_tokens()

    helpscout.fake.requests = ExpireAfterFirstCustomersPage()
    result = helpscout.cli("run")
    assert result.exit_code == 0, result.output
    assert_account_landed(helpscout)
    assert sum(1 for r in helpscout.fake.requests if r.path == "/v2/oauth2/token") >= 2
    customers = [r for r in helpscout.fake.requests if r.path == "/v2/customers"]
    refused = next(i for i, r in enumerate(customers) if not r.authorized)
    assert customers[refused + 1].authorized and customers[refused + 1].query == customers[refused].query  # asked again, not skipped


def test_secrets_never_reach_the_state_folder(helpscout: HelpScoutProject) -> None:
    assert helpscout.cli("run").exit_code == 0
    assert_no_secret_in(helpscout.state, [FAKE_APP_SECRET, FAKE_DOCS_KEY, INTERCOM_TOKEN, "fake-hs-access-token-"])


def test_line_items_dropped_by_the_config_never_reach_intercom(tmp_path: Path) -> None:
    with FakeHelpScout(page_size=3) as fake:
        project = make_project(tmp_path, fake, line_items="drop")
        result = project.cli("run")
        assert result.exit_code == 0, result.output
        assert_conversations_landed(project, line_items=False)
    bodies = " ".join(p["body"] for c in project.conversations().values() for p in message_parts(c))
    assert "assigned this conversation" not in bodies and "Status changed" not in bodies


def test_a_crash_mid_conversations_resumes_at_the_saved_page(helpscout: HelpScoutProject) -> None:
    helpscout.fake.fail_next("/v2/conversations/1002/threads", 500, times=5)  # beyond the retries: the run dies on page 2
    crashed = helpscout.cli("run")
    assert crashed.exit_code == 1, crashed.output
    assert helpscout.raw("conversations") == []  # extraction died before the load
    saved = helpscout.saved_cursor("conversations")
    assert saved is not None and '"page":2' in saved.replace(" ", "")

    before = len(helpscout.fake.requests)
    resumed = helpscout.cli("run")
    assert resumed.exit_code == 0, resumed.output
    listing = [r.query for r in helpscout.fake.requests[before:] if r.path == CONVERSATIONS]
    assert listing[0]["page"] == "2" and listing[0]["status"] == "all" and "modifiedSince" not in listing[0]
    assert_conversations_landed(helpscout)
    assert helpscout.cli("validate").exit_code == 0


def test_a_delta_reads_only_changed_conversations_and_appends_the_new_thread(helpscout: HelpScoutProject) -> None:
    assert helpscout.cli("run").exit_code == 0
    zoe = account(helpscout)["conversations"][1]["primaryCustomer"]
    helpscout.fake.add_thread(1001, 5013, "customer", zoe, "<p>It broke again</p>", status="active")  # the reply reopens it

    before, log_before = len(helpscout.fake.requests), len(helpscout.store().request_log())
    delta = helpscout.cli("run")
    assert delta.exit_code == 0, delta.output
    second_run = helpscout.fake.requests[before:]
    listing = [r.query for r in second_run if r.path == CONVERSATIONS]
    assert listing and all(q.get("modifiedSince") for q in listing)
    assert not [r.path for r in second_run if r.path.endswith("/threads")]  # the unchanged chat is not listed again
    assert_conversations_landed(helpscout)
    reopened = helpscout.conversations()["1001"]
    assert reopened["state"] == "open" and message_parts(reopened)[-1]["body"] == "It broke again"
    writes = [e["route"] for e in helpscout.store().request_log()[log_before:] if e["write"]]
    assert "POST /conversations" not in writes and "POST /conversations/{id}/reply" in writes
