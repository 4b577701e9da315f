"""Attachments behind the source's login: fetched with the source's own file access and uploaded as attachment_files."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.connectors.freshdesk.config import FreshdeskSourceConfig
from deskmigrate.connectors.freshdesk.connector import FreshdeskConnector
from deskmigrate.connectors.zendesk.config import ZendeskSourceConfig
from deskmigrate.connectors.zendesk.connector import ZendeskConnector
from deskmigrate.core.model import Attachment
from deskmigrate.core.source import SourceContext
from deskmigrate.loaders.intercom.history import load_history
from deskmigrate.sandbox.resources.conversations import notifications_sent
from tests.loaders.test_conversations import (  # noqa: F401 (harness is a fixture)
    AGENT_ADMIN,
    SOURCE_FILES,
    Harness,
    _open,
    harness,
    part,
    ticket,
)

ZENDESK_EMAIL = "migrator@acme.example"
ZENDESK_TOKEN = "zendesk-attachment-test-token-42"
RECEIPT = b"%PDF-1.4 receipt of the burnt printer"
PHOTO = b"\x89PNG\r\n\x1a\n a photo of smoke"


class PrivateFiles:
    """A loopback stand-in for Zendesk's attachment host: files only with the right basic auth, like private attachments."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.seen_auth: list[str | None] = []
        expected = "Basic " + base64.b64encode(f"{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}".encode()).decode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                auth = self.headers.get("Authorization")
                outer.seen_auth.append(auth)
                content = outer.files.get(self.path)
                status = 401 if auth != expected else 200 if content is not None else 404
                payload = content if status == 200 and content is not None else b'{"error": "no"}'
                self.send_response(status)
                served_type = "image/png" if self.path.endswith(".png") else "application/pdf"
                self.send_header("Content-Type", served_type if status == 200 else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def zendesk_files() -> Iterator[PrivateFiles]:
    files = PrivateFiles({"/attachments/token/9001/?name=receipt.pdf": RECEIPT, "/attachments/token/9002/?name=smoke.png": PHOTO})
    yield files
    files.close()


def zendesk_connector(base_url: str, tmp_path: Path) -> ZendeskConnector:
    config = ZendeskSourceConfig(subdomain="acme", email=ZENDESK_EMAIL, token=ZENDESK_TOKEN, base_url=base_url)  # type: ignore[arg-type]
    return ZendeskConnector(config, SourceContext(base_dir=tmp_path))


def load_with_files(harness: Harness, files: Any, *records: Any) -> None:  # noqa: F811
    loader = harness.loader()
    loader.source_files = files
    load_history(loader, [harness.payload(r) for r in records])


def uploads(part: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """(name, content type, size, content digest) of each uploaded file; the sandbox names the digest in the upload's URL."""
    return [(a["name"], a["content_type"], a["filesize"], a["url"].split("/uploads/")[1].split("/")[0]) for a in part["attachments"]]


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_a_zendesk_private_attachment_on_a_note_arrives_as_an_uploaded_file(harness: Harness, zendesk_files: PrivateFiles,  # noqa: F811
                                                                            tmp_path: Path) -> None:
    receipt = Attachment(filename="receipt.pdf", content_type="application/pdf", url=f"{SOURCE_FILES}/9001/?name=receipt.pdf")
    photo = Attachment(filename="smoke.png", url=f"{SOURCE_FILES}/9002/?name=smoke.png", inline=True)
    record = ticket("1100", [
        part(1, "contact", "10", "<p>My printer smokes</p>", 0),
        part(2, "agent", "2", f'<p>Warranty receipt <img src="{photo.url}"></p>', 5, public=False, attachments=[receipt, photo]),
    ])
    load_with_files(harness, zendesk_connector(zendesk_files.base_url, tmp_path).source_files(), record)
    note = harness.conversation("1100")["conversation_parts"]["conversation_parts"][0]
    assert note["part_type"] == "note" and note["author"]["id"] == AGENT_ADMIN
    assert uploads(note) == [("receipt.pdf", "application/pdf", len(RECEIPT), digest(RECEIPT)),
                             ("smoke.png", "image/png", len(PHOTO), digest(PHOTO))]
    assert "acme.zendesk.com" not in note["body"], "an uploaded file is not also left as a link"
    assert "[image: smoke.png, attached]" in note["body"]
    assert zendesk_files.seen_auth and all(zendesk_files.seen_auth), "the files were fetched with the Zendesk login"
    assert "attachments_on_source" not in {n.kind for n in harness.ledger.notices("conversations")}
    with _open(harness.server) as db:
        assert notifications_sent(db) == 0


def test_the_first_messages_private_files_follow_in_a_customer_reply(harness: Harness, zendesk_files: PrivateFiles,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    """A conversation's create takes public URLs only (2.15 spec); customer replies take files."""
    receipt = Attachment(filename="receipt.pdf", url=f"{SOURCE_FILES}/9001/?name=receipt.pdf")
    record = ticket("1101", [part(1, "contact", "10", "<p>Here is my receipt</p>", 0, attachments=[receipt])])
    load_with_files(harness, zendesk_connector(zendesk_files.base_url, tmp_path).source_files(), record)
    conversation = harness.conversation("1101")
    assert conversation["source"]["attachments"] == [] and "receipt.pdf" not in conversation["source"]["body"]
    follow = conversation["conversation_parts"]["conversation_parts"][0]
    assert follow["author"]["id"] == harness.ledger.intercom_id("contacts", "10") and follow["created_at"] == conversation["created_at"]
    assert uploads(follow) == [("receipt.pdf", "application/pdf", len(RECEIPT), digest(RECEIPT))]


def test_a_file_that_cannot_be_fetched_is_named_in_the_part_and_reported(harness: Harness, zendesk_files: PrivateFiles,  # noqa: F811
                                                                         tmp_path: Path) -> None:
    gone = Attachment(filename="deleted.pdf", url=f"{SOURCE_FILES}/404/?name=deleted.pdf")
    record = ticket("1102", [part(1, "contact", "10", "<p>hi</p>", 0), part(2, "agent", "2", "<p>file</p>", 1, attachments=[gone])])
    load_with_files(harness, zendesk_connector(zendesk_files.base_url, tmp_path).source_files(), record)
    reply = harness.conversation("1102")["conversation_parts"]["conversation_parts"][0]
    assert reply["attachments"] == [] and "deleted.pdf" in reply["body"]
    assert any("deleted.pdf" in n.detail for n in harness.ledger.notices("conversations"))
    assert harness.ledger.failures() == []


def test_a_freshdesk_attachment_saved_at_extraction_is_sent_from_disk(harness: Harness, tmp_path: Path) -> None:  # noqa: F811
    saved_dir = tmp_path / "attachments"
    connector = FreshdeskConnector(FreshdeskSourceConfig(domain="acme", api_key="k" * 20, attachments_dir=saved_dir),  # type: ignore[arg-type]
                                   SourceContext(base_dir=tmp_path))
    saved = saved_dir / "1200" / "2" / "0-photo.jpg"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(PHOTO)
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not an attachment")
    record = ticket("1200", [
        part(1, "contact", "10", "<p>hi</p>", 0),
        part(2, "agent", "2", "<p>photo</p>", 1, attachments=[
            Attachment(filename="photo.jpg", content_type="image/jpeg", url=saved.as_uri()),
            Attachment(filename="secret.txt", url=outside.as_uri()),
        ]),
    ])
    load_with_files(harness, connector.source_files(), record)
    reply = harness.conversation("1200")["conversation_parts"]["conversation_parts"][0]
    assert uploads(reply) == [("photo.jpg", "image/jpeg", len(PHOTO), digest(PHOTO))]
    assert "secret.txt" in reply["body"] and str(tmp_path) not in reply["body"], "no local path reaches Intercom"
