"""Read-back validation: compare what Intercom holds with what the ledger says we wrote, record by record."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.errors import AuthError, LoadError, RejectedError
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.phases import run_concurrently

# Intercom returns at most the 500 most recent parts of a conversation (2.15 spec, Retrieve a conversation).
MAX_PARTS_RETURNED = 500


@dataclass(frozen=True)
class Mismatch:
    entity: str
    source_id: str
    intercom_id: str | None
    field: str
    expected: Any
    actual: Any


class Validator:
    """One GET per migrated record; everything else (links, tags) is compared from that one response."""

    def __init__(self, client: IntercomClient, ledger: Ledger, concurrency: int = 8,
                 on_progress: Callable[[str, int], None] | None = None) -> None:
        self.client = client
        self.ledger = ledger
        self.concurrency = concurrency
        self.on_progress = on_progress or (lambda entity, n: None)
        self.mismatches: list[Mismatch] = []
        self.checked: dict[str, int] = {}
        self._lock = threading.Lock()
        # Mismatches name companies by their source id and tags by their name, not by Intercom ids nobody recognises.
        self._company_labels: dict[str, str] = {}
        self._tag_labels: dict[str, str] = {}

    def run(self) -> list[Mismatch]:
        tag_rows = [row for row in self.ledger.iter_id_rows("tags") if row.state == "done"]
        tag_ids = {row.source_id: row.intercom_id for row in tag_rows}
        self._tag_labels = {row.intercom_id: str((row.body or {}).get("name") or row.source_id) for row in tag_rows if row.intercom_id}
        self._company_labels = {row.intercom_id: row.source_id for row in self.ledger.iter_id_rows("companies") if row.intercom_id}
        for entity in ("companies", "contacts"):
            rows: Iterable[IdMapRow] = (r for r in self.ledger.iter_id_rows(entity) if r.state == "done")
            run_concurrently(rows, lambda row, e=entity: self._check(e, row, tag_ids), self.concurrency)
        for history in ("conversations", "tickets"):
            threads: Iterable[IdMapRow] = (r for r in self.ledger.iter_id_rows(history) if r.state == "done")
            run_concurrently(threads, lambda row, e=history: self._check_conversation(row, tag_ids, e), self.concurrency)
        for entity in ("collections", "articles"):
            created: Iterable[IdMapRow] = (r for r in self.ledger.iter_id_rows(entity) if r.state == "done" and r.origin == "created")
            run_concurrently(created, lambda row, e=entity: self._check_help_center(e, row), self.concurrency)
        self.mismatches.sort(key=lambda m: (m.entity, m.source_id, m.field))
        return self.mismatches

    def _read(self, entity: str, row: IdMapRow, get: Callable[[str], dict[str, Any]]) -> dict[str, Any] | None:
        """The record as Intercom holds it, or None once a mismatch says why it could not be read; counts the check either way."""
        try:
            return get(str(row.intercom_id))
        except AuthError:
            raise
        except LoadError as error:
            missing = isinstance(error, RejectedError) and error.status == 404
            self._add(entity, row, "exists" if missing else "read", "present" if missing else "readable", "missing" if missing else str(error))
            return None
        finally:
            with self._lock:
                self.checked[entity] = self.checked.get(entity, 0) + 1
            self.on_progress(entity, 1)

    def _check_help_center(self, entity: str, row: IdMapRow) -> None:
        """Name, parent and help center of a collection; title, author, state, parent and languages of an article."""
        remote = self._read(entity, row, self.client.get_article if entity == "articles" else self.client.get_collection)
        if remote is None:
            return
        sent = row.body or {}
        for key in ("name", "title", "author_id", "state", "parent_id", "help_center_id"):
            if key in sent and str(remote.get(key)) != str(sent[key]):
                self._add(entity, row, key, sent[key], remote.get(key))
        if entity == "collections" and "parent_id" not in sent and remote.get("parent_id"):
            self._add(entity, row, "parent_id", None, remote.get("parent_id"))
        missing_locales = set(sent.get("translated_content") or {}) - set(remote.get("translated_content") or {})
        if missing_locales:
            self._add(entity, row, "translated_content", sorted(sent["translated_content"]), sorted(remote.get("translated_content") or {}))

    def _check(self, entity: str, row: IdMapRow, tag_ids: dict[str, str | None]) -> None:
        remote = self._read(entity, row, self.client.get_contact if entity == "contacts" else self.client.get_company)
        if remote is None:
            return
        self._compare_body(entity, row, remote)
        if entity == "contacts":
            self._compare_links(row, remote)
        self._compare_tags(entity, row, remote, tag_ids)

    def _check_conversation(self, row: IdMapRow, tag_ids: dict[str, str | None], entity: str = "conversations") -> None:
        """Parts (count, author, backdated time), state and tags of one migrated ticket's conversation (or Intercom ticket)."""
        tickets = entity == "tickets"
        remote = self._read(entity, row, self.client.get_ticket if tickets else self.client.get_conversation)
        if remote is None:
            return
        ticket_id = row.source_id.split("#", 1)[0]
        parts = [p for p in self.ledger.parts(ticket_id).values() if p.thread == row.source_id and p.state == "done" and p.intercom_id]
        parts_key = "ticket_parts" if tickets else "conversation_parts"
        remote_parts = (remote.get(parts_key) or {}).get(parts_key) or []
        content = [p for p in remote_parts if p.get("part_type") in ("comment", "note")]
        if len(remote_parts) < MAX_PARTS_RETURNED and len(content) != len(parts):
            self._add(entity, row, "parts", len(parts), len(content))
        by_id = {str(p.get("id")): p for p in remote_parts}
        for part in parts:
            found = by_id.get(str(part.intercom_id))
            expected = part.expected or {}
            if found is None:
                if len(remote_parts) < MAX_PARTS_RETURNED:
                    self._add(entity, row, f"part {part.step}", "present", "missing")
                continue
            if expected.get("created_at") is not None and found.get("created_at") != expected["created_at"]:
                self._add(entity, row, f"part {part.step}.created_at", expected["created_at"], found.get("created_at"))
            author = str((found.get("author") or {}).get("id") or "")
            if expected.get("author_id") is not None and author != str(expected["author_id"]):
                self._add(entity, row, f"part {part.step}.author", expected["author_id"], author)
        applied = row.body or {}
        if tickets:
            wanted_state, actual_state = applied.get("ticket_state"), (remote.get("ticket_state") or {}).get("category")
            if "open" in applied and remote.get("open") != applied["open"]:
                self._add(entity, row, "open", applied["open"], remote.get("open"))
        else:
            wanted_state, actual_state = (row.body or {}).get("state"), remote.get("state")
        if wanted_state and actual_state != wanted_state:
            self._add(entity, row, "state", wanted_state, actual_state)
        expected_tags = {tag_ids.get(key) for key in self.ledger.applied_taggings(entity, ticket_id)} - {None}
        actual_tags = {str(t.get("id")) for t in _list_data(remote.get("tags"))}
        if not expected_tags <= actual_tags:
            self._add(entity, row, "tags", sorted(e for e in expected_tags if e), sorted(actual_tags))

    def _compare_body(self, entity: str, row: IdMapRow, remote: dict[str, Any]) -> None:
        for key, expected in (row.body or {}).items():
            if key == "custom_attributes":
                actual_attributes = remote.get("custom_attributes") or {}
                for name, value in (expected or {}).items():
                    if actual_attributes.get(name) != value:
                        self._add(entity, row, f"custom_attributes.{name}", value, actual_attributes.get(name))
            elif key in ("email",) and isinstance(expected, str):
                if str(remote.get(key) or "").lower() != expected.lower():
                    self._add(entity, row, key, expected, remote.get(key))
            elif key in remote and _comparable(remote.get(key), expected) != expected:
                self._add(entity, row, key, expected, remote.get(key))

    def _compare_links(self, row: IdMapRow, remote: dict[str, Any]) -> None:
        # Records merged into one contact (one email) share its companies.
        owners = (self.ledger.source_ids_for("contacts", row.intercom_id) if row.intercom_id else []) or [row.source_id]
        expected = {self.ledger.intercom_id("companies", sid) for owner in owners for sid in self.ledger.applied_links(owner)}
        expected.discard(None)
        # Companies outside the migration (linked by hand, before or since) are not the ledger's to expect.
        actual = {str(c.get("id")) for c in _list_data(remote.get("companies")) if str(c.get("id")) in self._company_labels}
        if expected != actual:
            self._add("contacts", row, "companies", _labelled(expected, self._company_labels), _labelled(actual, self._company_labels))

    def _compare_tags(self, entity: str, row: IdMapRow, remote: dict[str, Any], tag_ids: dict[str, str | None]) -> None:
        expected = {tag_ids.get(key) for key in self.ledger.applied_taggings(entity, row.source_id)}
        expected.discard(None)
        actual = {str(t.get("id")) for t in _list_data(remote.get("tags"))}
        if not expected <= actual:
            self._add(entity, row, "tags", _labelled(expected, self._tag_labels), _labelled(actual, self._tag_labels))

    def _add(self, entity: str, row: IdMapRow, field: str, expected: Any, actual: Any) -> None:
        with self._lock:
            self.mismatches.append(Mismatch(entity, row.source_id, row.intercom_id, field, expected, actual))


def _labelled(intercom_ids: set[str | None], labels: dict[str, str]) -> list[str]:
    """Intercom ids as the user knows them (source id, tag name); an id the ledger does not know stays as it is."""
    return sorted(labels.get(i, i) for i in intercom_ids if i)


def _comparable(remote: Any, expected: Any) -> Any:
    """Intercom returns some written strings as objects, e.g. a company's plan as {type: plan, id, name}."""
    if isinstance(remote, dict) and not isinstance(expected, dict):
        return remote.get("name")
    return remote


def _list_data(value: Any) -> list[dict[str, Any]]:
    """Intercom nests related objects as list objects ({type: list, data: [...]}) or, for companies' tags, {tags: [...]}."""
    if isinstance(value, dict):
        for key in ("data", "tags", "companies"):
            if isinstance(value.get(key), list):
                return value[key]
        return []
    return value if isinstance(value, list) else []
