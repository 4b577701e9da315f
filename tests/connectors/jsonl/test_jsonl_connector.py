"""The JSON Lines connector: every entity from its file, a bad line costing only that record (named by file:line), a bad
value only that value, deltas by updated_at, reads resumed where they stopped, gzip, and bounded memory."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deskmigrate.connectors.jsonl import JsonlConnector, JsonlSourceConfig
from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Agent, Article, Collection, Company, Contact, Conversation, SourceNotice, SourceRejection
from deskmigrate.core.source import SourceCheckpoint, SourceContext, StreamItem
from tests.connectors.jsonl.account import BIG_ID, INVOICE, write_account
from tests.connectors.reading import DictCursorStore, run_with_ledger


def connector(folder: Path, cursors: DictCursorStore | None = None, **options: Any) -> JsonlConnector:
    return JsonlConnector(JsonlSourceConfig(folder=folder, **options), SourceContext(base_dir=folder.parent, cursors=cursors))


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_account(tmp_path / "export")


def read(folder: Path, entity: str, **options: Any) -> list[StreamItem]:
    return list(connector(folder, **options).read(entity))


def of(items: list[StreamItem], kind: type) -> dict[str, Any]:
    return {item.source_id: item for item in items if isinstance(item, kind)}


def notes(items: list[StreamItem], source_id: str | None = None) -> list[str]:
    return [i.message for i in items if isinstance(i, SourceNotice) and (source_id is None or i.source_id == source_id)]


def rejections(items: list[StreamItem]) -> dict[str, SourceRejection]:
    return {i.location: i for i in items if isinstance(i, SourceRejection)}


def write(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in lines), encoding="utf-8")
    return path


# -- what is read -------------------------------------------------------------------------------------


def test_every_entity_is_read_from_its_file_in_canonical_order(export: Path) -> None:
    assert connector(export).entities() == ["companies", "contacts", "agents", "collections", "articles", "conversations"]


def test_companies_keep_big_ids_exact_and_a_bad_value_costs_only_that_value(export: Path) -> None:
    items = read(export, "companies")
    companies = of(items, Company)
    assert sorted(companies) == sorted(["org-1", str(BIG_ID), "org-4"])
    acme = companies["org-1"]
    assert (acme.name, acme.size, acme.domains, acme.tags, acme.custom_fields) == ("Acme Ltd", 120, ["acme.example", "acme.co.uk"], ["key-account"], {"tier": "gold"})
    assert acme.updated_at == datetime(2024, 1, 2, 10, tzinfo=UTC) and acme.location == "companies.jsonl:1" and acme.source == "jsonl"
    globex = companies[str(BIG_ID)]
    assert globex.size is None and globex.plan == "basic" and globex.custom_fields == {"account_manager": "Zoë"}
    assert any(n.startswith("size: ") and "left out, the company is kept" in n for n in notes(items, str(BIG_ID)))
    assert companies["org-4"].tags == ["pharma"]
    # the line cut short costs that company only, named by file and line (blank line 3 is not a record)
    cut = rejections(items)["companies.jsonl:4"]
    assert cut.source_id == "org-3" and cut.reason.startswith("not JSON:")


def test_contacts_from_a_messy_export(export: Path) -> None:
    items = read(export, "contacts")
    contacts = of(items, Contact)
    assert sorted(contacts) == ["2", "u-1", "u-3", "u-6", "u-7"]
    bob = contacts["2"]
    assert (bob.phone, bob.company_ids, bob.role) == ("4155550123", [str(BIG_ID)], "user")
    assert bob.custom_fields == {"emial": "bob@old.example"}
    assert "'emial' is not a field of the canonical Contact (did you mean 'email'?): kept in custom_fields.emial" in notes(items, "2")
    assert any(n.startswith("role: ") for n in notes(items, "2"))
    # a line's own `location` (here a city) is not where the record was read: kept, not lost
    assert contacts["u-3"].custom_fields == {"location": "Berlin"} and contacts["u-3"].location == "contacts.jsonl:3"
    assert contacts["u-6"].name == "Jos� Garc�a" and "bytes that are not UTF-8 were replaced by �" in notes(items, "u-6")
    assert contacts["u-7"].email == "zoe@acme.example"
    assert "key 'email' is given twice in one object: the last value is read" in notes(items, "u-7")
    bad = rejections(items)
    assert set(bad) == {"contacts.jsonl:4", "contacts.jsonl:5"}
    assert bad["contacts.jsonl:4"].reason == "a JSON object is expected on each line, not a list"
    assert (bad["contacts.jsonl:5"].field, bad["contacts.jsonl:5"].reason) == ("source_id", "no source_id: every record needs its id in the source")


def test_agents_collections_and_articles(export: Path) -> None:
    agents = of(read(export, "agents"), Agent)
    assert agents["ag-2"].active is False and agents["ag-1"].email == "agent@sandbox.example.com"
    items = read(export, "collections")
    collections = of(items, Collection)
    assert collections["col-setup"].parent_id == "col-guides" and collections["col-setup"].position == 2
    assert collections["col-guides"].translations[0].name == "Anleitungen"
    nameless = rejections(items)["collections.jsonl:3"]
    assert (nameless.source_id, nameless.field) == ("col-nameless", "name") and "a collection cannot do without it" in nameless.reason
    items = read(export, "articles")
    articles = of(items, Article)
    assert [t.locale for t in articles["kb-1"].translations] == ["de"]
    assert "translations[1]: no title; that translation is left out, the article is kept" in notes(items, "kb-1")
    assert articles["kb-2"].state == "draft" and "state: 8-character text is neither published nor draft: kept as a draft" in notes(items, "kb-2")
    assert rejections(items)["articles.jsonl:3"].field == "title"


def test_conversations_keep_every_part_they_can_with_its_attachments(export: Path) -> None:
    items = read(export, "conversations")
    conversations = of(items, Conversation)
    assert sorted(conversations) == ["t-100", "t-101", "t-102"]
    charged = conversations["t-100"]
    assert [p.source_id for p in charged.parts] == ["p1", "p2", "p3", "p4", "p5"]
    assert [(p.author_kind, p.public) for p in charged.parts] == [("contact", True), ("agent", False), ("agent", True), ("system", False), ("contact", True)]
    assert charged.parts[2].created_at == datetime(2024, 1, 5, 11, tzinfo=UTC)  # +01:00 read as UTC
    assert charged.parts[3].created_at == datetime(2024, 1, 5, 12, tzinfo=UTC)  # unix seconds
    assert charged.parts[4].created_at == datetime(2024, 1, 6, 9, tzinfo=UTC)  # 01/06/2024, month-first, noted
    invoice = charged.parts[0].attachments[0]
    assert invoice.url == (export / "files" / "invoice.pdf").resolve().as_uri() and invoice.filename == "invoice.pdf"
    shot, missing = charged.parts[4].attachments
    assert (shot.filename, shot.url) == ("screenshot.png", "https://files.example.com/shots/screenshot.png")
    said = notes(items, "t-100")
    assert "parts[3].author_kind: 3-character text is not contact, agent or system: kept as a system part (an internal note)" in said
    assert "parts[4].created_at: a numeric date in either order: read month-first (write ISO 8601 to be sure)" in said
    assert "parts[4].attachments[0].filename: no usable filename (null): named after its URL" in said
    assert "parts[4].attachments[1]: no such file in the export folder: the part names it instead" in said
    assert missing.filename == "missing.txt"
    order = conversations["t-101"]
    assert [(p.source_id, p.author_id) for p in order.parts] == [("#1", "2"), ("m2", "ag-1")] and order.requester_id == "2"
    assert any(n.startswith("parts[1]: ") and "that part is left out, the conversation is kept" in n for n in notes(items, "t-101"))
    misplaced = rejections(items)["conversations.jsonl:4"]
    assert (misplaced.source_id, misplaced.field, misplaced.reason) == ("t-103", "entity", "a record of 'contacts' in the conversations file")


def test_the_attachments_it_names_by_path_are_read_from_the_export_folder_only(export: Path, tmp_path: Path) -> None:
    files = connector(export).source_files()
    invoice = (export / "files" / "invoice.pdf").resolve().as_uri()
    assert files.owns(invoice) and files.download(invoice) == (INVOICE, "application/pdf")
    (tmp_path / "secret.txt").write_text("not for Intercom")
    outside = (tmp_path / "secret.txt").resolve().as_uri()
    assert not files.owns(outside) and not files.owns("https://files.example.com/shots/screenshot.png")
    items = list(connector(write(tmp_path / "other" / "conversations.jsonl", {
        "source_id": "t", "parts": [{"source_id": "p", "author_kind": "contact", "attachments": [{"filename": "s", "url": "../secret.txt"}]}]})
        .parent).read("conversations"))
    assert "parts[0].attachments[0]: the file is outside the export folder: it is not read, the part names it instead" in notes(items, "t")


# -- files --------------------------------------------------------------------------------------------


def test_crlf_a_byte_order_mark_and_gzip_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "agents.jsonl").write_bytes(b'\xef\xbb\xbf{"source_id": "a1", "name": "One"}\r\n\r\n{"source_id": "a2", "name": "Two"}\r\n')
    with gzip.open(folder / "contacts.jsonl.gz", "wb") as handle:
        handle.write(b'{"source_id": "c1", "email": "c1@example.com"}\n{"source_id": "c2"}\n')
    reader = connector(folder)
    assert reader.entities() == ["contacts", "agents"]
    assert [a.name for a in of(list(reader.read("agents")), Agent).values()] == ["One", "Two"]
    contacts = list(reader.read("contacts"))
    assert sorted(of(contacts, Contact)) == ["c1", "c2"] and of(contacts, Contact)["c2"].location == "contacts.jsonl.gz:2"


def test_a_damaged_gzip_costs_the_rest_of_the_file_with_a_message(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    whole = gzip.compress(b"".join(json.dumps({"source_id": f"a{i}", "name": "x" * 50}).encode() + b"\n" for i in range(2000)))
    (folder / "agents.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    items = read(folder, "agents")
    read_agents = len(of(items, Agent))
    damaged = [r for r in items if isinstance(r, SourceRejection)]
    assert 0 < read_agents < 2000 and len(damaged) == 1
    assert damaged[0].location == f"agents.jsonl.gz:{read_agents + 1}" and "the compressed file is damaged" in damaged[0].reason


def test_files_by_other_names_and_what_check_finds(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    write(folder / "people.jsonl", {"source_id": "c1"})
    reader = connector(folder, files={"contacts": Path("people.jsonl"), "agents": Path("staff.jsonl")})
    with pytest.raises(SourceError, match="staff.jsonl: no such file \\(source.files.agents\\)"):
        reader.check()
    assert connector(folder, files={"contacts": Path("people.jsonl")}).check() is True
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no JSON Lines file in .*empty: name them companies.jsonl, contacts.jsonl"):
        connector(tmp_path / "empty").check()
    with pytest.raises(SourceError, match="nowhere: no such folder \\(source.folder\\)"):
        connector(tmp_path / "nowhere").check()
    with pytest.raises(ValidationError):
        JsonlSourceConfig(files={"tickets": Path("t.jsonl")})  # type: ignore[dict-item]
    with pytest.raises(SourceError, match="no such file"):
        connector(folder).read("conversations")


# -- deltas and resuming ---------------------------------------------------------------------------------


def test_a_delta_reads_what_changed_since_the_newest_record_of_the_last_read(tmp_path: Path) -> None:
    path = write(tmp_path / "export" / "contacts.jsonl",
                 {"source_id": "c1", "updated_at": "2024-01-01T00:00:00Z"},
                 {"source_id": "c2", "updated_at": "2024-01-03T00:00:00Z"},
                 {"source_id": "c3"})
    store = DictCursorStore()
    first = run_with_ledger(connector(path.parent, store), "contacts", store)
    assert sorted(of(first, Contact)) == ["c1", "c2", "c3"]
    assert json.loads(store.cursors[("jsonl", "contacts")]) == {"since": "2024-01-03T00:00:00Z"}
    write(path, {"source_id": "c1", "updated_at": "2024-01-01T00:00:00Z"},
          {"source_id": "c2", "updated_at": "2024-01-04T00:00:00Z"},
          {"source_id": "c3"},
          {"source_id": "c4", "updated_at": "2024-01-03T00:00:00Z"})
    delta = run_with_ledger(connector(path.parent, store), "contacts", store)
    # changed, without a date, or exactly at the mark: read again; older: not
    assert sorted(of(delta, Contact)) == ["c2", "c3", "c4"]
    assert "1 record(s) not updated since 2024-01-03T00:00:00Z: not read again" in notes(delta)
    since = list(connector(path.parent, store).read("contacts", since=datetime(2023, 12, 1, tzinfo=UTC)))
    assert sorted(of(since, Contact)) == ["c1", "c2", "c3", "c4"]
    everything = run_with_ledger(connector(path.parent, store, deltas=False), "contacts", store)
    assert sorted(of(everything, Contact)) == ["c1", "c2", "c3", "c4"] and json.loads(store.cursors[("jsonl", "contacts")]) == {"since": None}


def test_a_read_cut_short_resumes_after_its_last_checkpoint_unless_the_file_changed(tmp_path: Path) -> None:
    rows = [{"source_id": f"c{i}", "updated_at": f"2024-01-{i:02d}T00:00:00Z"} for i in range(1, 8)]
    path = write(tmp_path / "export" / "contacts.jsonl", *rows)
    store = DictCursorStore()
    cut = run_with_ledger(connector(path.parent, store, checkpoint_lines=3), "contacts", store, stop_after_checkpoints=1)
    assert list(of(cut, Contact)) == ["c1", "c2", "c3"]
    resumed = run_with_ledger(connector(path.parent, store, checkpoint_lines=3), "contacts", store)
    assert list(of(resumed, Contact)) == ["c4", "c5", "c6", "c7"]
    assert json.loads(store.cursors[("jsonl", "contacts")]) == {"since": "2024-01-07T00:00:00Z"}
    store.cursors[("jsonl", "contacts")] = json.dumps({"since": None, "line": 3, "newest": "2024-01-03T00:00:00Z", "file": "1:2"})
    reread = run_with_ledger(connector(path.parent, store, checkpoint_lines=3), "contacts", store)
    assert len(of(reread, Contact)) == 7  # another file than the one the cut-short read staged: read from its start
    checkpoints = [i for i in reread if isinstance(i, SourceCheckpoint)]
    assert len(checkpoints) == 3  # after lines 3 and 6, and at the end


def test_reading_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "export" / "conversations.jsonl"
    path.parent.mkdir()
    part = {"author_kind": "contact", "author_id": "u1", "body_html": "<p>" + "words " * 200 + "</p>", "created_at": "2024-01-01T00:00:00Z"}
    with path.open("w", encoding="utf-8") as handle:
        for i in range(3000):
            handle.write(json.dumps({"source_id": f"t{i}", "requester_id": "u1", "parts": [{**part, "source_id": f"{i}-{n}"} for n in range(5)]}) + "\n")
    assert path.stat().st_size > 15_000_000
    tracemalloc.start()
    try:
        count = sum(1 for item in connector(path.parent).read("conversations") if isinstance(item, Conversation))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 3000 and peak < 2_000_000  # a few conversations at a time, never the file
