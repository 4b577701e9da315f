"""End to end: a help desk exported to JSON Lines (messy, as real exports are) → `deskmigrate run` → the sandbox."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.app.vendor_e2e import (
    INTERCOM_TOKEN_VARIABLE,
    VendorProject,
    assert_no_secret_in,
    declare_conversation_attributes,
    message_parts,
    write_project_config,
)
from tests.connectors.jsonl.account import BIG_ID, INVOICE, write_account

INTERCOM_TOKEN = "jsonl-e2e-intercom-token-3f9a"
CONVERSATION_ATTRIBUTES = dict.fromkeys(
    ["original_status", "original_priority", "original_channel", "original_group", "original_conversation_id", "order_number"], "string")


class JsonlProject(VendorProject[None]):
    def conversations(self) -> dict[str, dict[str, Any]]:
        return self.conversations_by("original_conversation_id")

    def export(self, name: str) -> Path:
        return self.root / "export" / name


@pytest.fixture
def jsonl(tmp_path: Path) -> JsonlProject:
    write_account(tmp_path / "export")
    config = write_project_config(tmp_path, {"type": "jsonl", "folder": "export"}, "jsonl")
    declare_conversation_attributes(config, CONVERSATION_ATTRIBUTES)
    # A third of each entity's lines are bad on purpose (they are what several tests here are about): the runs accept that.
    data = yaml.safe_load(config.read_text())
    data["load"]["max_rejected"] = "50%"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return JsonlProject(root=tmp_path, config=config, fake=None, env={INTERCOM_TOKEN_VARIABLE: INTERCOM_TOKEN})


def test_a_messy_export_lands_whole_and_every_bad_line_is_named(jsonl: JsonlProject) -> None:
    result = jsonl.cli("run")
    assert result.exit_code == 3, result.output  # finished; the records that could not come are listed

    report = jsonl.reports()[-1]
    failed = {(f["entity"], f["reason"].split(": ")[0]) for f in report["failures"]}
    assert failed == {
        ("companies", "companies.jsonl:4"), ("contacts", "contacts.jsonl:4"), ("contacts", "contacts.jsonl:5"),
        ("collections", "collections.jsonl:3"), ("articles", "articles.jsonl:3"), ("conversations", "conversations.jsonl:4"),
        ("contacts", "contacts.jsonl:3"),  # staged, then refused by the mapping: not an email address
    }
    assert report["extract"]["staged"] == {"companies": 3, "contacts": 5, "agents": 2, "collections": 2, "articles": 2, "conversations": 3}

    companies = {c["company_id"]: c for c in jsonl.raw("companies")}
    assert sorted(companies) == sorted(["org-1", str(BIG_ID), "org-4"])
    acme = companies["org-1"]
    assert (acme["name"], acme["size"], acme["website"]) == ("Acme Ltd", 120, "https://acme.example")
    assert acme["custom_attributes"] == {"domains": "acme.example, acme.co.uk", "tier": "gold"}
    assert companies[str(BIG_ID)]["custom_attributes"] == {"account_manager": "Zoë"}  # a key the model lacks, kept

    contacts = jsonl.contacts_by_external_id()
    assert sorted(contacts) == ["2", "u-1", "u-6", "u-7"]
    by_company_id = {c["id"]: key for key, c in companies.items()}
    assert [by_company_id[c["id"]] for c in contacts["u-1"]["companies"]["data"]] == ["org-1"]
    assert [by_company_id[c["id"]] for c in contacts["2"]["companies"]["data"]] == [str(BIG_ID)]
    assert contacts["u-7"]["email"] == "zoe@acme.example" and contacts["2"]["custom_attributes"] == {"emial": "bob@old.example"}

    tags = {t["id"]: t["name"] for t in jsonl.raw("tags")}
    assert {"vip", "key-account", "pharma", "billing", "refund"} <= set(tags.values())


def test_conversations_land_with_their_parts_authors_notes_and_attachments(jsonl: JsonlProject) -> None:
    jsonl.cli("run")
    conversations = jsonl.conversations()
    assert sorted(conversations) == ["t-100", "t-101"]  # t-102's requester is in no contacts file: left behind, reported
    charged = conversations["t-100"]
    assert (charged["title"], charged["state"]) == ("Charged twice", "snoozed")
    assert charged["custom_attributes"] == {"original_status": "Pending", "original_priority": "High", "original_channel": "email",
                                            "original_group": "Billing", "original_conversation_id": "t-100", "order_number": "ORD-7"}
    assert charged["source"]["body"] == "I was charged twice" and charged["source"]["author"]["email"] == "ada@acme.example"
    assert charged["created_at"] == 1704448800  # 2024-01-05T10:00:00Z, backdated
    parts = [(p["part_type"], p["author"]["type"], p["author"]["email"], p["body"]) for p in message_parts(charged)]
    assert parts == [
        ("comment", "user", "ada@acme.example", "Attachments 1–1 of 1"),  # the first message's file, uploaded in a reply
        ("note", "admin", "agent@sandbox.example.com", "<p>Internal: checked Stripe</p>"),
        ("comment", "admin", "agent@sandbox.example.com", "Refund issued."),  # a part with body_text only keeps that text
        ("note", "admin", "owner@sandbox.example.com", "Satisfaction survey sent"),  # the bot: a system note
        ("comment", "user", "ada@acme.example", "Thanks! Screenshot attached.\n[attachment: missing.txt]"),
    ]
    uploaded = message_parts(charged)[0]["attachments"]
    assert [(a["name"], a["url"].split("/")[4]) for a in uploaded] == [("invoice.pdf", hashlib.sha256(INVOICE).hexdigest())]
    assert [(a["name"], a["url"]) for a in message_parts(charged)[-1]["attachments"]] == [
        ("screenshot.png", "https://files.example.com/shots/screenshot.png")]
    order = conversations["t-101"]
    assert order["state"] == "closed" and order["source"]["body"] == "Where is my order?"
    assert [p["body"] for p in message_parts(order)] == ["<p>Shipped today.</p>"]


def test_articles_land_in_their_collections_with_links_between_them_rewritten(jsonl: JsonlProject) -> None:
    jsonl.cli("run")
    collections = {c["name"]: c for c in jsonl.raw("collections")}
    assert collections["Setup"]["parent_id"] == collections["Guides"]["id"]
    assert collections["Guides"]["translated_content"]["de"]["name"] == "Anleitungen"
    articles = {a["title"]: a for a in jsonl.raw("articles")}
    install, reset = articles["Installing"], articles["Resetting"]
    assert (install["state"], reset["state"]) == ("published", "draft")  # "archived" is kept as a draft, never published
    assert install["parent_id"] == collections["Setup"]["id"] and str(install["author_id"]) == "991267002"  # ag-1, by email
    center = jsonl.raw("help_centers")[0]["identifier"]
    assert "<script>" not in install["body"]
    assert f'href="https://intercom.help/{center}/en/articles/{reset["id"]}-resetting"' in install["body"]  # found by its old URL
    assert install["translated_content"]["de"]["title"] == "Installieren"
    redirects = (jsonl.state / "redirects.csv").read_text(encoding="utf-8")
    assert f"https://help.acme.example/articles/kb-1-installing,https://intercom.help/{center}/en/articles/{install['id']}-installing" in redirects


def test_a_second_run_writes_nothing_and_a_delta_sends_only_what_changed(jsonl: JsonlProject) -> None:
    jsonl.cli("run")
    writes = jsonl.writes()
    again = jsonl.cli("run")
    assert again.exit_code == 3 and jsonl.writes() == writes  # the same bad lines are reported again; nothing is written

    assert jsonl.saved_cursor("conversations") == json.dumps({"since": "2024-02-01T09:00:00Z"})  # t-101's, the newest
    lines = jsonl.export("conversations.jsonl").read_text(encoding="utf-8").splitlines()
    order = json.loads(lines[1])
    order["updated_at"] = "2024-02-10T08:00:00Z"
    order["parts"].append({"source_id": "m3", "author_kind": "contact", "author_id": 2, "body_text": "Got it, thanks!",
                           "created_at": "2024-02-10T08:00:00Z"})
    jsonl.export("conversations.jsonl").write_text("\n".join([lines[0], json.dumps(order), *lines[2:]]) + "\n", encoding="utf-8")
    before = len(jsonl.store().request_log())
    delta = jsonl.cli("run")
    assert delta.exit_code == 3, delta.output
    extract = jsonl.reports()[-1]["extract"]
    # t-101 changed and t-102 has no updated_at: read; t-100 is older than the last read's newest: not read again
    assert extract["staged"]["conversations"] == 2
    assert any(n["message"] == "1 record(s) not updated since 2024-02-01T09:00:00Z: not read again" for n in extract["notices"])
    conversations = jsonl.conversations()
    assert [p["body"] for p in message_parts(conversations["t-101"])] == ["<p>Shipped today.</p>", "Got it, thanks!"]
    assert len(message_parts(conversations["t-100"])) == 5 and len(conversations) == 2
    written = [(r["method"], r["path"]) for r in jsonl.store().request_log()[before:] if r["write"]]
    order_id = conversations["t-101"]["id"]
    assert written == [("POST", f"/conversations/{order_id}/reply"), ("POST", f"/conversations/{order_id}/parts")]  # the reply, closed again
    assert jsonl.saved_cursor("conversations") == json.dumps({"since": "2024-02-10T08:00:00Z"})


def test_the_token_never_reaches_the_state_folder(jsonl: JsonlProject) -> None:
    jsonl.cli("run")
    assert_no_secret_in(jsonl.state, [INTERCOM_TOKEN])
