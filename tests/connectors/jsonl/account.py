"""A help desk exported to JSON Lines the way real exports come: ids as numbers and text, big ids, typos in keys,
values of the wrong kind, a truncated line, a line in Latin-1, a key given twice, parts without ids, attachments
by path and by URL, a bot as an author. Written into a folder as <entity>.jsonl files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BIG_ID = 4200000000000000001  # above 2**53: must stay exact
INVOICE = b"%PDF-1.4 fake invoice\n"


def line(value: dict[str, Any] | list[Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


COMPANIES: list[bytes] = [
    line({"source_id": "org-1", "name": "Acme Ltd", "website": "https://acme.example", "size": 120, "industry": "Manufacturing",
          "domains": ["acme.example", "acme.co.uk"], "tags": ["key-account"], "created_at": "2021-03-04T10:00:00Z",
          "updated_at": "2024-01-02T10:00:00Z", "custom_fields": {"tier": "gold"}}),
    line({"source_id": BIG_ID, "name": "Globex", "size": "about 40", "plan": "basic", "account_manager": "Zoë"}),
    b"",
    b'{"source_id": "org-3", "name": "Initech", "website": ',  # cut short by the export
    line({"source_id": "org-4", "name": "Umbrella Corp", "tags": "pharma"}),
]

CONTACTS: list[bytes] = [
    line({"source_id": "u-1", "email": "ada@acme.example", "name": "Ada Lovelace", "phone": "+44 20 7946 0958", "company_ids": ["org-1"],
          "tags": ["vip"], "signed_up_at": "2021-03-05T08:00:00Z", "updated_at": "2024-01-03T09:00:00Z", "country": "GB"}),
    line({"source_id": 2, "email": "bob@globex.example", "name": "Bob Stone", "company_ids": [BIG_ID], "role": "customer", "phone": 4155550123,
          "emial": "bob@old.example"}),
    line({"source_id": "u-3", "email": "not-an-email", "name": "Broken Email", "location": "Berlin"}),
    line(["u-4", "a list, not an object"]),
    line({"email": "no-id@example.com", "name": "No Id"}),
    b'{"source_id": "u-6", "name": "Jos\xe9 Garc\xeda", "email": "jose@acme.example"}',  # Latin-1 bytes in a UTF-8 file
    b'{"source_id": "u-7", "name": "Zo\xc3\xab", "email": "zoe@old.example", "email": "zoe@acme.example"}',
]

AGENTS: list[bytes] = [
    line({"source_id": "ag-1", "email": "agent@sandbox.example.com", "name": "Support Agent"}),
    line({"source_id": "ag-2", "email": "former@acme.example", "name": "Former Agent", "active": False}),
]

COLLECTIONS: list[bytes] = [
    line({"source_id": "col-guides", "name": "Guides", "description": "How to", "position": 1, "locale": "en-us",
          "translations": [{"locale": "de", "name": "Anleitungen"}]}),
    line({"source_id": "col-setup", "name": "Setup", "parent_id": "col-guides", "position": "2"}),
    line({"source_id": "col-nameless", "description": "no name"}),
]

ARTICLES: list[bytes] = [
    line({"source_id": "kb-1", "title": "Installing", "collection_id": "col-setup", "author_id": "ag-1", "locale": "en-us",
          "body_html": '<h2>Install</h2><p>Then <a href="https://help.acme.example/articles/kb-2-reset">reset it</a>.</p><script>x()</script>',
          "url": "https://help.acme.example/articles/kb-1-installing", "state": "published",
          "translations": [{"locale": "de", "title": "Installieren", "body_html": "<p>Hallo</p>"}, {"locale": "fr"}]}),
    line({"source_id": "kb-2", "title": "Resetting", "body_html": "<p>Reset</p>", "collection_id": "col-setup", "author_id": "ag-1",
          "url": "https://help.acme.example/articles/kb-2-reset", "state": "archived"}),
    line({"source_id": "kb-3", "body_html": "<p>no title</p>", "collection_id": "col-setup"}),
]

CONVERSATIONS: list[bytes] = [
    line({"source_id": "t-100", "subject": "Charged twice", "requester_id": "u-1", "assignee_id": "ag-1", "status": "Pending",
          "priority": "High", "channel": "Email", "group": "Billing", "tags": ["billing", "refund"], "created_at": "2024-01-05T10:00:00Z",
          "updated_at": "2024-01-06T09:00:00Z", "custom_fields": {"order_number": "ORD-7"},
          "parts": [
              {"source_id": "p1", "author_kind": "contact", "author_id": "u-1", "body_html": "<p>I was charged <b>twice</b></p>",
               "created_at": "2024-01-05T10:00:00Z",
               "attachments": [{"filename": "invoice.pdf", "url": "files/invoice.pdf", "content_type": "application/pdf"}]},
              {"source_id": "p2", "author_kind": "agent", "author_id": "ag-1", "body_html": "<p>Internal: checked Stripe</p>", "public": False,
               "created_at": "2024-01-05T10:30:00Z"},
              {"source_id": "p3", "author_kind": "agent", "author_id": "ag-1", "body_text": "Refund issued.", "created_at": "2024-01-05T12:00:00+01:00"},
              {"source_id": "p4", "author_kind": "bot", "body_text": "Satisfaction survey sent", "public": False, "created_at": 1704456000},
              {"source_id": "p5", "author_kind": "contact", "author_id": "u-1", "body_text": "Thanks! Screenshot attached.",
               "created_at": "01/06/2024 09:00",
               "attachments": [{"url": "https://files.example.com/shots/screenshot.png", "content_type": "image/png"},
                               {"filename": "missing.txt", "url": "files/missing.txt"}]},
          ]}),
    line({"source_id": "t-101", "subject": "Where is my order?", "requester_id": 2, "status": "solved", "channel": "chat",
          "created_at": "2024-02-01T08:00:00Z", "updated_at": "2024-02-01T09:00:00Z", "parts": [
              {"author_kind": "contact", "author_id": 2, "body_text": "Where is my order?", "created_at": "2024-02-01T08:00:00Z"},
              "hello from a broken exporter",
              {"source_id": "m2", "author_kind": "agent", "author_id": "ag-1", "body_html": "<p>Shipped today.</p>", "created_at": "2024-02-01T09:00:00Z"},
          ]}),
    line({"source_id": "t-102", "subject": "From someone unknown", "requester_id": "u-unknown", "status": "open",
          "created_at": "2024-02-02T08:00:00Z", "parts": [{"source_id": "x1", "author_kind": "contact", "author_id": "u-unknown", "body_text": "Hi"}]}),
    line({"source_id": "t-103", "entity": "contacts", "email": "misplaced@example.com"}),
]

FILES = {
    "companies.jsonl": COMPANIES,
    "contacts.jsonl": CONTACTS,
    "agents.jsonl": AGENTS,
    "collections.jsonl": COLLECTIONS,
    "articles.jsonl": ARTICLES,
    "conversations.jsonl": CONVERSATIONS,
}


def write_account(folder: Path) -> Path:
    """The export in `folder` (created): the six files and the attachment one of them names by path."""
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "invoice.pdf").write_bytes(INVOICE)
    for name, lines in FILES.items():
        (folder / name).write_bytes(b"\n".join(lines) + b"\n")
    return folder
