"""Rollback, as a run of its own: plan what to undo (reading each record once), preview it, then undo in reverse phase order.

Only what deskmigrate wrote goes: records it created are deleted, fields it changed on pre-existing records go back,
taggings and company links it added are removed. What a record carried before deskmigrate first wrote to it (found)
stays; what people changed since deskmigrate wrote it stays (listed; `force` undoes it anyway); a tag deskmigrate
created stays while anything it did not tag carries it. Creates a killed run left pending are looked up in Intercom
and undone too. Every undo is recorded under the rollback's own run id, so a second rollback finds nothing to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.errors import AuthError, LoadError, RejectedError
from deskmigrate.core.ledger import Fact, IdMapRow, Ledger, WriteRow, tag_key
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.drift import (
    PERSONS,
    changed_fields,
    current_fields,
    flatten,
    help_center_changes,
    same,
    unflatten,
    unwritten_values,
)
from deskmigrate.loaders.intercom.facts import TagNames, contact_company_ids, contact_tag_keys, tag_ids_of
from deskmigrate.loaders.intercom.phases import RECONCILE_SKEW_S, phase_order, run_concurrently

log = logging.getLogger(__name__)

IDENTIFIERS = ("external_id", "email", "role")
THREADS = ("conversations", "tickets")
HELP_CENTER = ("collections", "articles")
RECORD_ENTITIES = (*PERSONS, "companies", *THREADS, *HELP_CENTER)
# The phase whose undo handles a record of each kind (pending creates have no write to name it).
ENTITY_PHASE = {"contacts": "contacts", "companies": "companies", "collections": "collections", "articles": "articles",
                "conversations": "conversations", "tickets": "conversations", "leads": "conversations", "teammates": "conversations",
                "tags": "tags"}
# Ticket history tags are applied one conversation or ticket at a time: (tag method, untag method) of the client.
THREAD_TAGGERS = {"conversations": ("tag_conversation", "untag_conversation"), "tickets": ("tag_ticket", "untag_ticket")}
TAG_CARRIERS = ("contacts", "companies", "conversations", "tickets")
# Writes that only mapped a source record onto an object something else owns: undoing them is forgetting the mapping.
MAPPING_ONLY = {("contacts", "merge"), ("teammates", "adopt"), ("collections", "merge"), ("collections", "skip")}
# Help center objects rolled back to an earlier body of ours (we never write to ones we did not create).
HELP_CENTER_RESTORERS = {"articles": "update_article", "collections": "update_collection"}


def singular(entity: str) -> str:
    """contacts → contact, companies → company: how a record is named in what people read."""
    return entity[:-3] + "y" if entity.endswith("ies") else entity[:-1]


def _help_center_body(before: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (before or {}).items() if not key.startswith("_") and key != "help_center_id"}


@dataclass
class RecordUndo:
    """What happens to one record: delete | restore | keep (changed since) | gone (deleted by someone) | missing (a
    pending create that never landed) | error."""

    entity: str
    source_id: str
    intercom_id: str | None
    phase: str
    writes: list[WriteRow]
    pending: IdMapRow | None = None
    action: str = "none"
    restore: dict[str, Any] = field(default_factory=dict)
    restored_fields: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    forced: bool = False
    adopted: bool = False
    kept_facts: list[str] = field(default_factory=list)  # found taggings and links: there before the migration, left alone
    company_id: str | None = None
    people: set[str] = field(default_factory=set)  # a conversation's or ticket's contacts (Intercom ids)
    unclearable: list[str] = field(default_factory=list)  # identifiers it lacked before, which Intercom cannot clear
    error: str | None = None

    @property
    def order(self) -> int:
        return max((w.seq for w in self.writes), default=0)

    def label(self) -> str:
        return f"{singular(self.entity)} {self.source_id}" + (f" ({self.intercom_id})" if self.intercom_id else "")


@dataclass
class FactUndo:
    """One tagging or company link: remove (deskmigrate added it) | put_back (a delta of deskmigrate's removed it) |
    with_record (its record is deleted anyway) | keep_record (its record is kept) | keep_legacy (owner unknown)."""

    kind: str  # tagging | link
    entity: str
    source_id: str
    key: str  # tag key or company source id
    other_id: str | None  # tag id or company Intercom id
    run_id: str
    writes: list[WriteRow]
    action: str = "remove"
    record_id: str | None = None

    @property
    def phase(self) -> str:
        return "contacts" if self.kind == "link" else "tags"


@dataclass
class TagUndo:
    """A tag deskmigrate created: delete | keep (something it did not tag carries it) | forget (adopted: only the mapping)."""

    key: str
    tag_id: str | None
    name: str
    writes: list[WriteRow]
    pending: IdMapRow | None = None
    action: str = "delete"
    carriers: dict[str, int] = field(default_factory=dict)


@dataclass
class OtherUndo:
    """An attribute or ticket type to archive (Intercom deletes neither), or a mapping to forget."""

    phase: str
    write: WriteRow
    action: str  # archive_attribute | archive_ticket_type | forget | nothing


@dataclass
class RollbackPlan:
    run_ids: list[str]
    force: bool
    records: list[RecordUndo] = field(default_factory=list)
    facts: list[FactUndo] = field(default_factory=list)
    tags: list[TagUndo] = field(default_factory=list)
    others: list[OtherUndo] = field(default_factory=list)

    @property
    def actionable(self) -> bool:
        """Whether applying it would change Intercom or the ledger: not when all it holds is records and facts it keeps."""
        return (any(r.action not in ("keep",) for r in self.records) or any(f.action != "keep_record" for f in self.facts)
                or bool(self.tags) or bool(self.others))

    def summary(self) -> dict[str, dict[str, int]]:
        """Per phase: delete, restore (records and fields), remove taggings/links, put back, keep, archive."""
        rows: dict[str, dict[str, int]] = {}

        def add(phase: str, key: str, n: int = 1) -> None:
            row = rows.setdefault(phase, {})
            row[key] = row.get(key, 0) + n

        for record in self.records:
            if record.action == "delete":
                add(record.phase, "delete")
            elif record.action == "restore":
                add(record.phase, "restore_records")
                add(record.phase, "restore_fields", len(record.restored_fields))
            elif record.action == "keep":
                add(record.phase, "keep_changed")
            elif record.action in ("gone", "missing"):
                add(record.phase, "already_gone")
            if record.action == "restore" and record.changed:
                add(record.phase, "keep_changed_fields", len(record.changed))
            if record.kept_facts:
                add(record.phase, "keep_pre_existing", len(record.kept_facts))
        for fact in self.facts:
            if fact.action in ("remove", "with_tag"):
                add(fact.phase, "remove_taggings" if fact.kind == "tagging" else "remove_links")
            elif fact.action == "put_back":
                add(fact.phase, "put_back")
            elif fact.action == "keep_legacy":
                add(fact.phase, "keep_legacy")
        for tag in self.tags:
            if tag.action == "delete":
                add("tags", "delete")
            elif tag.action == "keep":
                add("tags", "keep_shared_tags")
        for other in self.others:
            if other.action.startswith("archive"):
                add(other.phase, "archive")
        order = list(reversed(phase_order()))
        return {phase: rows[phase] for phase in sorted(rows, key=lambda p: order.index(p) if p in order else len(order))}

    def kept_changed(self) -> list[dict[str, Any]]:
        return [{"entity": r.entity, "source_id": r.source_id, "intercom_id": r.intercom_id, "fields": r.changed,
                 "kept": "record" if r.action == "keep" else "fields"}
                for r in self.records if r.changed and not r.forced and r.action in ("keep", "restore")]

    def forced(self) -> list[dict[str, Any]]:
        return [{"entity": r.entity, "source_id": r.source_id, "intercom_id": r.intercom_id, "fields": r.changed, "action": r.action}
                for r in self.records if r.forced]

    def kept_tags(self) -> list[dict[str, Any]]:
        return [{"tag": t.name, "tag_id": t.tag_id, "still_on": t.carriers} for t in self.tags if t.action == "keep"]

    def kept_legacy(self) -> list[dict[str, Any]]:
        return [{"kind": f.kind, "entity": f.entity, "source_id": f.source_id, "key": f.key} for f in self.facts if f.action == "keep_legacy"]

    def kept_pre_existing(self) -> list[dict[str, Any]]:
        return [{"entity": r.entity, "source_id": r.source_id, "intercom_id": r.intercom_id, "kept": r.kept_facts}
                for r in self.records if r.kept_facts]


@dataclass
class RollbackReport:
    deleted: dict[str, int] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=dict)
    restored_fields: int = 0
    untagged: int = 0
    retagged: int = 0
    unlinked: int = 0
    relinked: int = 0
    tags_kept: list[dict[str, Any]] = field(default_factory=list)
    kept_changed: list[dict[str, Any]] = field(default_factory=list)
    kept_pre_existing: list[dict[str, Any]] = field(default_factory=list)
    kept_legacy: list[dict[str, Any]] = field(default_factory=list)
    forced: list[dict[str, Any]] = field(default_factory=list)
    archived_attributes: list[str] = field(default_factory=list)
    kept_identifiers: int = 0
    already_gone: int = 0
    pending_found: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, bucket: dict[str, int], entity: str) -> None:
        with self._lock:
            bucket[entity] = bucket.get(entity, 0) + 1

    def bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted, "restored": self.restored, "restored_fields": self.restored_fields,
            "untagged": self.untagged, "retagged": self.retagged, "unlinked": self.unlinked, "relinked": self.relinked,
            "tags_kept": self.tags_kept, "kept_changed": self.kept_changed, "kept_pre_existing": self.kept_pre_existing,
            "kept_legacy": self.kept_legacy, "forced": self.forced, "archived_attributes": self.archived_attributes,
            "kept_identifiers": self.kept_identifiers, "already_gone": self.already_gone, "pending_found": self.pending_found,
            "errors": self.errors,
        }


class Rollback:
    """Plan and apply the undo of some runs; `run_id` is the rollback's own run (one is started if none is given)."""

    def __init__(self, client: IntercomClient, ledger: Ledger, *, force: bool = False, concurrency: int = 4,
                 run_id: str | None = None) -> None:
        self.client = client
        self.ledger = ledger
        self.force = force
        self.concurrency = max(1, concurrency)
        self.run_id = run_id
        self.report = RollbackReport()
        self._admin: str | None = None
        self._admin_lock = threading.Lock()
        self.tag_names = TagNames(client)
        # How to undo a create per entity; a phase that creates a new kind of object adds its delete here.
        self.deleters: dict[str, Callable[[str], Any]] = {
            "contacts": client.delete_contact,
            "companies": client.delete_company,
            "articles": client.delete_article,
            "collections": client.delete_collection,
            "conversations": client.delete_conversation,
            "tickets": client.delete_ticket,  # ticket history with conversation_options.target: tickets
            "leads": client.delete_contact,  # contacts created to start a ticket whose requester was not migrated
            "teammates": client.delete_contact,  # contacts created for teammates who requested tickets
        }
        self.readers: dict[str, Callable[[str], dict[str, Any]]] = {
            "contacts": client.get_contact, "leads": client.get_contact, "teammates": client.get_contact,
            "companies": client.get_company, "conversations": client.get_conversation, "tickets": client.get_ticket,
            "articles": client.get_article, "collections": client.get_collection,
        }

    def conflicts(self, run_ids: list[str]) -> list[str]:
        """Later runs that changed records these runs wrote: they must be rolled back first."""
        return self.ledger.later_writers(run_ids)

    def run(self, run_ids: list[str]) -> RollbackReport:
        """Plan and apply at once (no preview)."""
        return self.apply(self.plan(run_ids))

    # -- plan ------------------------------------------------------------------------------------

    def plan(self, run_ids: list[str]) -> RollbackPlan:
        """Decide every undo, reading each record once (drift) and each created tag's carriers; nothing is written."""
        plan = RollbackPlan(list(run_ids), self.force)
        writes = [w for run_id in run_ids for w in self.ledger.writes(run_id)]
        groups: dict[tuple[str, str], list[WriteRow]] = {}
        fact_writes: dict[tuple[str, str, str, str], list[WriteRow]] = {}
        tag_writes: dict[str, list[WriteRow]] = {}
        for write in writes:
            detail = write.detail or {}
            if (write.entity, write.action) in MAPPING_ONLY:
                plan.others.append(OtherUndo(write.phase, write, "forget"))
            elif write.action in ("tag", "untag"):
                fact_writes.setdefault(("tagging", write.entity, write.source_id, str(detail.get("tag"))), []).append(write)
            elif write.action in ("link", "unlink"):
                fact_writes.setdefault(("link", write.entity, write.source_id, str(detail.get("company_source_id"))), []).append(write)
            elif write.entity == "tags":
                tag_writes.setdefault(write.source_id, []).append(write)
            elif write.entity in RECORD_ENTITIES and write.action in ("create", "adopt", "update"):
                groups.setdefault((write.entity, write.source_id), []).append(write)
            elif write.entity == "data_attributes" and write.action == "create":
                plan.others.append(OtherUndo("preflight", write, "archive_attribute"))
            elif write.entity == "ticket_types" and write.action == "create":
                plan.others.append(OtherUndo("preflight", write, "archive_ticket_type"))
            else:
                plan.others.append(OtherUndo(write.phase, write, "nothing"))
        for ws in groups.values():
            ws.sort(key=lambda w: -w.seq)
            phases = phase_order()
            earliest = ws[-1].phase
            plan.records.append(RecordUndo(ws[0].entity, ws[0].source_id, ws[0].intercom_id,
                                           earliest if earliest in phases else ENTITY_PHASE.get(ws[0].entity, earliest), ws))
        for row in self.ledger.pending_rows(run_ids):
            if row.entity == "tags":
                tag_writes.setdefault(row.source_id, [])
                continue
            if row.entity not in RECORD_ENTITIES:
                continue
            existing = next((r for r in plan.records if (r.entity, r.source_id) == (row.entity, row.source_id)), None)
            if existing is not None:
                existing.pending = row
            else:
                plan.records.append(RecordUndo(row.entity, row.source_id, row.intercom_id, ENTITY_PHASE[row.entity], [], row))
        run_concurrently(plan.records, self._plan_record, self.concurrency)
        _keep_what_kept_records_need(plan, self.ledger)
        self._plan_facts(plan, fact_writes)
        self._plan_tags(plan, tag_writes)
        return plan

    def _plan_record(self, record: RecordUndo) -> None:
        try:
            if record.pending is not None and not record.writes:
                self._plan_pending(record)
            else:
                self._plan_written(record)
        except AuthError:
            raise
        except LoadError as error:
            record.action, record.error = "error", str(error)
        if record.action in ("restore", "keep") or record.adopted:
            record.kept_facts = self._found_facts(record)

    def _read(self, record: RecordUndo) -> dict[str, Any] | None:
        try:
            return self.readers[record.entity](str(record.intercom_id))
        except RejectedError as error:
            if error.status == 404:
                return None
            raise

    def _plan_written(self, record: RecordUndo) -> None:
        remote = self._read(record) if record.intercom_id else None
        if remote is None:
            record.action = "gone"
            return
        if record.entity == "companies":
            record.company_id = str(remote.get("company_id") or record.source_id)
        if record.entity in THREADS:
            self._plan_thread(record, remote)
            return
        if record.entity in HELP_CENTER:
            self._plan_help_center(record, remote)
            return
        state = current_fields(record.entity, remote)
        writes = list(record.writes)
        if record.pending is not None and record.pending.origin == "adopted" and record.pending.intent:
            # An adoption a crash interrupted: its PUT may have landed; the fields it wrote still equal to the intent go back.
            writes.insert(0, _pending_write(record.pending, "adopt"))
        self._simulate(record, writes, state, remote)

    def _simulate(self, record: RecordUndo, writes: list[WriteRow], state: dict[str, Any], remote: dict[str, Any]) -> None:
        """Undo the writes newest first on a copy of the record as read: a field still as written goes back, one changed stays."""
        restore: dict[str, Any] = {}
        written_keys: set[str] = set()
        for write in writes:
            after = flatten(write.after)
            written_keys |= set(after)
            if write.action == "create":
                changed = changed_fields(after, state) + unwritten_values(record.entity, written_keys, state)
                changed += self._foreign_facts(record, remote)
                record.changed = list(dict.fromkeys([*record.changed, *changed]))
                if changed and not self.force:
                    record.action = "keep"
                else:
                    record.action, record.forced = "delete", bool(changed)
                return
            before = flatten(write.before)
            for key, value in before.items():
                if same(key, state.get(key), value):
                    continue  # it holds that value already: nothing to send back
                if key not in after or same(key, state.get(key), after[key]) or self.force:
                    if self.force and key in after and not same(key, state.get(key), after[key]):
                        record.forced = True
                        record.changed.append(key)
                    restore[key] = value
                    state[key] = value
                else:
                    record.changed.append(key)
            if write.action == "adopt":
                record.adopted = True
                break
        record.changed = list(dict.fromkeys(record.changed))
        if record.entity in PERSONS:
            # An identifier the contact did not have before cannot be cleared (Intercom refuses a null external_id or
            # email): it stays, and the report says so.
            record.unclearable = [key for key in IDENTIFIERS if key in restore and restore[key] is None]
            for key in record.unclearable:
                del restore[key]
        record.restore = unflatten(restore)
        record.restored_fields = sorted(restore)
        record.action = "restore"

    def _foreign_facts(self, record: RecordUndo, remote: dict[str, Any]) -> list[str]:
        """Tags and company links on a created contact or company that the ledger does not know: people added them."""
        if record.entity not in ("contacts", "companies") or not record.intercom_id:
            return []
        owners = self.ledger.source_ids_for(record.entity, record.intercom_id) or [record.source_id]
        known_tags = {k for o in owners for k in self.ledger.known_facts(record.entity, o)[0]}
        carried = (contact_tag_keys(self.client, remote, self.tag_names) if record.entity == "contacts"
                   else {key for tag_id in tag_ids_of(remote) if (key := self.tag_names.key_of(tag_id))})
        extra = [f"tag {key}" for key in sorted(carried - known_tags)]
        if record.entity == "contacts":
            known_links = {self.ledger.intercom_id("companies", c) for o in owners for c in self.ledger.known_facts("contacts", o)[1]}
            extra += [f"company link {company}" for company in sorted(contact_company_ids(self.client, remote) - known_links)]
        return extra

    def _plan_thread(self, record: RecordUndo, remote: dict[str, Any]) -> None:
        """A conversation or ticket deskmigrate created is someone's once they replied, noted, retagged or changed its state."""
        ticket_id = record.source_id.split("#", 1)[0]
        ours = [p for p in self.ledger.parts(ticket_id).values() if p.thread == record.source_id and p.state == "done" and p.intercom_id]
        key = "ticket_parts" if record.entity == "tickets" else "conversation_parts"
        parts = [p for p in ((remote.get(key) or {}).get(key) or []) if p.get("part_type") in ("comment", "note")]
        changed = [f"{len(parts) - len(ours)} reply or note(s) added"] if len(parts) > len(ours) else []
        row = self.ledger.id_row(record.entity, record.source_id)
        applied = (row.body if row else None) or {}
        if record.entity == "conversations" and applied.get("state") and remote.get("state") not in (None, applied["state"]):
            changed.append("state")
        known = self.ledger.known_facts(record.entity, ticket_id)[0]
        carried = {key for tag_id in tag_ids_of(remote) if (key := self.tag_names.key_of(tag_id))}
        changed += [f"tag {key}" for key in sorted(carried - known)]
        record.changed = changed
        record.people = {str(c.get("id")) for c in (remote.get("contacts") or {}).get("contacts") or [] if c.get("id")}
        if changed and not self.force:
            record.action = "keep"
        else:
            record.action, record.forced = "delete", bool(changed)

    def _plan_help_center(self, record: RecordUndo, remote: dict[str, Any]) -> None:
        for write in record.writes:
            changed = help_center_changes(write.after or {}, remote)
            if changed and not self.force:
                record.changed, record.action = changed, "keep"
                return
            record.changed += changed
            record.forced = record.forced or bool(changed)
            if write.action == "create":
                record.action = "delete"
                return
            remote = {**remote, **(write.before or {})}
            record.restore = _help_center_body(write.before)
        record.restored_fields = sorted(record.restore)
        record.action = "restore"

    def _plan_pending(self, record: RecordUndo) -> None:
        """A create (or adoption) a killed run started: find what it made, by external_id, company_id or name + parent."""
        row = record.pending
        assert row is not None
        intent = row.intent or {}
        if row.origin == "adopted" and row.intercom_id:
            remote = self._read(record)
            if remote is None:
                record.action = "gone"
                return
            self._simulate(record, [_pending_write(row, "adopt")], current_fields(record.entity, remote), remote)
            return
        found = self._find_pending(record, row, intent)
        if found is None:
            record.action = "missing"
            return
        self.report.bump("pending_found")
        record.intercom_id = str(found["id"])
        if record.entity == "companies":
            record.company_id = str(found.get("company_id") or record.source_id)
        if record.entity in THREADS or record.entity in HELP_CENTER:
            record.action = "delete"  # nothing of it was recorded, so nothing to compare: it is as the create left it
            return
        if not intent:
            # Pending in a schema-1 ledger, which did not keep the body: whether anyone changed it shows in updated_at only.
            touched = float(found.get("updated_at") or 0) - float(found.get("created_at") or 0) > RECONCILE_SKEW_S
            record.changed = ["updated since it was created"] if touched else []
            record.action, record.forced = ("keep", False) if touched and not self.force else ("delete", touched)
            return
        self._simulate(record, [_pending_write(row, "create")], current_fields(record.entity, found), found)

    def _find_pending(self, record: RecordUndo, row: IdMapRow, intent: dict[str, Any]) -> dict[str, Any] | None:
        since = (row.pending_since or 0.0) - RECONCILE_SKEW_S

        def ours(item: dict[str, Any] | None) -> bool:
            return item is not None and float(item.get("created_at") or 0) >= since

        if record.entity in PERSONS:
            external_id = intent.get("external_id") or (record.source_id if record.entity == "contacts" and not intent else None)
            if external_id:
                found = self.client.find_contact_by_external_id(str(external_id))
                return found if ours(found) else None
            if intent.get("name"):
                query = {"operator": "AND", "value": [{"field": "name", "operator": "=", "value": intent["name"]},
                                                      {"field": "role", "operator": "=", "value": intent.get("role", "lead")}]}
                found_contacts = self.client.request("POST", "/contacts/search", json={"query": query}, idempotent=True).get("data") or []
                return self._unclaimed(record.entity, [c for c in found_contacts if ours(c)])
            return None
        if record.entity == "companies":
            found = self.client.find_company(str(intent.get("company_id") or record.source_id))
            return found if ours(found) else None
        if record.entity in HELP_CENTER:
            path = "/help_center/collections" if record.entity == "collections" else "/articles"
            label = "name" if record.entity == "collections" else "title"
            candidates = [item for item in self.client.iter_pages(path) if ours(item) and item.get(label) == intent.get(label)
                          and str(item.get("parent_id") or "") == str(intent.get("parent_id") or "")]
            return self._unclaimed(record.entity, candidates)
        if record.entity in THREADS:
            contact = ((intent.get("from") or {}).get("id") or next(iter(c.get("id") for c in intent.get("contacts") or []), None))
            if not contact or intent.get("created_at") is None:
                return None
            query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact},
                                                  {"field": "created_at", "operator": "=", "value": intent["created_at"]}]}
            search = self.client.search_tickets if record.entity == "tickets" else self.client.search_conversations
            return self._unclaimed(record.entity, search(query))
        return None

    def _unclaimed(self, entity: str, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        claimed = {row.intercom_id for row in self.ledger.iter_id_rows(entity) if row.intercom_id}
        free = [item for item in candidates if str(item.get("id")) not in claimed]
        return free[0] if len(free) == 1 else None  # two candidates: not ours to guess between

    def _found_facts(self, record: RecordUndo) -> list[str]:
        facts = []
        for key in sorted(self.ledger.known_facts(record.entity, record.source_id)[0]):
            fact = self.ledger.tagging(record.entity, record.source_id, key)
            if fact is not None and fact.origin == "found":
                facts.append(f"tag {self._tag_name(key)}")
        if record.entity == "contacts":
            for company in sorted(self.ledger.known_facts("contacts", record.source_id)[1]):
                fact = self.ledger.link(record.source_id, company)
                if fact is not None and fact.origin == "found":
                    facts.append(f"company link {company}")
        return facts

    def _tag_name(self, key: str) -> str:
        row = self.ledger.id_row("tags", key)
        return str(((row.body if row else None) or {}).get("name") or key)

    def _plan_facts(self, plan: RollbackPlan, fact_writes: dict[tuple[str, str, str, str], list[WriteRow]]) -> None:
        by_record = {(r.entity, r.source_id): r for r in plan.records}
        for fact in self.ledger.pending_facts(plan.run_ids):
            kind = "link" if fact.entity == "links" else "tagging"
            fact_writes.setdefault((kind, "contacts" if kind == "link" else fact.entity, fact.source_id, fact.key), [])
        for (kind, entity, source_id, key), writes in fact_writes.items():
            writes.sort(key=lambda w: -w.seq)
            oldest = writes[-1] if writes else None
            current: Fact | None = (self.ledger.link(source_id, key) if kind == "link" else self.ledger.tagging(entity, source_id, key))
            detail = (oldest.detail if oldest else None) or {}
            other_id = detail.get("company_intercom_id" if kind == "link" else "tag_id") or None
            if other_id is None:
                other_id = self.ledger.intercom_id("companies" if kind == "link" else "tags", key)
            record = by_record.get((entity, source_id))
            undo = FactUndo(kind, entity, source_id, key, str(other_id) if other_id else None,
                            oldest.run_id if oldest else (current.run_id if current else plan.run_ids[0]), writes,
                            record_id=(oldest.intercom_id if oldest else None) or self.ledger.intercom_id(entity, source_id))
            added_by_us = oldest is None or oldest.action in ("tag", "link")
            if record is not None and record.action == "delete":
                undo.action = "with_record"
            elif record is not None and record.action in ("keep", "error"):
                undo.action = "keep_record"
            elif current is not None and current.origin == "legacy":
                undo.action = "keep_legacy"
            elif current is not None and current.origin == "found":
                undo.action = "keep_record"  # there before deskmigrate: never removed
            elif added_by_us:
                undo.action = "remove"
            else:
                undo.action = "put_back" if current is None else "nothing"
            plan.facts.append(undo)

    def _plan_tags(self, plan: RollbackPlan, tag_writes: dict[str, list[WriteRow]]) -> None:
        pending = {row.source_id: row for row in self.ledger.pending_rows(plan.run_ids) if row.entity == "tags"}
        listed: dict[str, dict[str, Any]] | None = None
        for key, writes in tag_writes.items():
            writes.sort(key=lambda w: -w.seq)
            created = any(w.action == "create" for w in writes)
            row = pending.get(key)
            name = str(((row.intent if row else None) or {}).get("name") or self._tag_name(key))
            tag_id = next((w.intercom_id for w in writes if w.intercom_id), None)
            if not writes and row is not None:
                if listed is None:
                    listed = {tag_key(str(t["name"])): t for t in self.client.list_tags().get("data", [])}
                found = listed.get(key)
                if found is None:
                    plan.tags.append(TagUndo(key, None, name, [], row, action="forget"))
                    continue
                tag_id, created = str(found["id"]), True
                self.report.bump("pending_found")
            undo = TagUndo(key, tag_id, name, writes, row, action="delete" if created else "forget")
            if created and tag_id:
                undo.carriers = self._other_carriers(plan, key, tag_id)
                if undo.carriers:
                    undo.action = "keep"
            plan.tags.append(undo)
        deleted = {t.key for t in plan.tags if t.action == "delete"}
        for fact in plan.facts:
            if fact.kind == "tagging" and fact.key in deleted and fact.action in ("remove", "put_back"):
                fact.action = "with_tag"  # deleting the tag removes every tagging of it at once

    def _other_carriers(self, plan: RollbackPlan, key: str, tag_id: str) -> dict[str, int]:
        """What carries the tag besides the taggings this rollback removes (and records it deletes): kinds → how many."""
        leaving: dict[str, set[str]] = {kind: set() for kind in TAG_CARRIERS}
        for fact in plan.facts:
            if fact.kind == "tagging" and fact.key == key and fact.action in ("remove", "with_record") and fact.record_id:
                leaving.setdefault(fact.entity, set()).add(fact.record_id)
        deleting = {(r.entity, r.source_id): r.intercom_id for r in plan.records if r.action == "delete"}
        for fact in self.ledger.taggings_with(key):
            intercom_id = deleting.get((fact.entity, fact.source_id))
            if intercom_id:
                leaving.setdefault(fact.entity, set()).add(intercom_id)
        others: dict[str, int] = {}
        for kind in TAG_CARRIERS:
            try:
                total, ids = self.client.tagged(kind, tag_id)
            except AuthError:
                raise
            except RejectedError as error:
                if kind == "tickets" and error.status in (400, 403, 404, 422):
                    continue  # a workspace without tickets has none to carry it
                raise
            ours = leaving.get(kind, set())
            count = max(len(ids - ours), total - len(ours))
            if count > 0:
                others[kind] = count
        return others

    # -- apply -----------------------------------------------------------------------------------

    def apply(self, plan: RollbackPlan) -> RollbackReport:
        """Undo in reverse phase order, records of a phase concurrently (collections newest first, one at a time)."""
        if self.run_id is None:
            self.run_id = self.ledger.start_run("rollback")
        report = self.report
        report.kept_changed, report.forced = plan.kept_changed(), plan.forced()
        report.tags_kept, report.kept_legacy = plan.kept_tags(), plan.kept_legacy()
        report.kept_pre_existing = plan.kept_pre_existing()
        for phase in reversed(phase_order()):
            records = sorted((r for r in plan.records if r.phase == phase), key=lambda r: -r.order)
            parallel = [r for r in records if r.entity != "collections"]
            run_concurrently(parallel, self._guarded(self._apply_record, lambda r: r.label()), self.concurrency)
            for record in records:
                if record.entity == "collections":
                    self._guarded(self._apply_record, lambda r: r.label())(record)
            facts = [f for f in plan.facts if f.phase == phase]
            run_concurrently(facts, self._guarded(self._apply_fact, lambda f: f"{f.kind} {f.key} of {singular(f.entity)} {f.source_id}"),
                             self.concurrency)
            if phase == "tags":
                run_concurrently(plan.tags, self._guarded(self._apply_tag, lambda t: f"tag {t.name}"), self.concurrency)
            for other in (o for o in plan.others if o.phase == phase or (o.phase not in phase_order() and phase == "preflight")):
                self._guarded(self._apply_other, lambda o: f"{o.write.entity} {o.write.source_id}")(other)
        return report

    def _guarded(self, undo: Callable[[Any], None], label: Callable[[Any], str]) -> Callable[[Any], None]:
        def attempt(item: Any) -> None:
            try:
                undo(item)
            except AuthError:
                raise
            except LoadError as error:
                self.report.error(f"{label(item)}: {error}")
                log.warning("rollback of %s failed: %s", label(item), error)
        return attempt

    def _undo(self, phase: str, entity: str, source_id: str, intercom_id: str | None, action: str, outcome: str,
              writes: Iterable[WriteRow] = (), detail: dict[str, Any] | None = None) -> None:
        assert self.run_id is not None
        self.ledger.record_undo(self.run_id, phase=phase, entity=entity, source_id=source_id, intercom_id=intercom_id, action=action,
                                outcome=outcome, detail=detail, write_seqs=sorted(w.seq for w in writes))

    def _apply_record(self, record: RecordUndo) -> None:
        if record.action == "error":
            self.report.error(f"{record.label()}: could not be read: {record.error}")
            return
        if record.action == "keep":
            self._undo(record.phase, record.entity, record.source_id, record.intercom_id, "keep", "kept_changed",
                       detail={"changed": record.changed})
            return
        if record.action in ("gone", "missing"):
            self.report.bump("already_gone")
            self.ledger.forget(record.entity, record.source_id)
            self._undo(record.phase, record.entity, record.source_id, record.intercom_id, "none",
                       "already_gone" if record.action == "gone" else "never_landed", record.writes)
            return
        if record.action == "delete":
            self._ignore_missing(lambda: self.deleters[record.entity](str(record.intercom_id)))
            self.ledger.forget(record.entity, record.source_id)
            self.report.count(self.report.deleted, record.entity)
            self._undo(record.phase, record.entity, record.source_id, record.intercom_id, "delete",
                       "deleted_changed" if record.forced else "deleted", record.writes, {"changed": record.changed} if record.changed else None)
            return
        if record.unclearable:
            self.report.bump("kept_identifiers")
        if record.restore:
            self._send_restore(record)
            self.report.count(self.report.restored, record.entity)
            self.report.bump("restored_fields", len(record.restored_fields))
        if record.adopted or record.pending is not None:
            self.ledger.forget(record.entity, record.source_id)
        else:
            self.ledger.invalidate(record.entity, record.source_id)
        self._undo(record.phase, record.entity, record.source_id, record.intercom_id, "restore", "restored", record.writes,
                   {"fields": record.restored_fields, "kept_changed": record.changed, "kept_pre_existing": record.kept_facts})

    def _send_restore(self, record: RecordUndo) -> None:
        body = dict(record.restore)
        if record.entity in HELP_CENTER:
            restore = getattr(self.client, HELP_CENTER_RESTORERS[record.entity])
            self._ignore_missing(lambda: restore(str(record.intercom_id), body))
            return
        if record.entity == "companies":
            # POST /companies updates by company_id and takes every field we write (PUT has no remote_created_at).
            body.pop("company_id", None)
            self._ignore_missing(lambda: self.client.upsert_company({"company_id": record.company_id or record.source_id, **body}))
            return
        if body:
            self._ignore_missing(lambda: self.client.update_contact(str(record.intercom_id), body))

    def _apply_fact(self, fact: FactUndo) -> None:
        outcome = fact.action
        if fact.action == "remove" and fact.record_id and fact.other_id:
            if fact.kind == "link":
                self._ignore_missing(lambda: self.client.detach_company(str(fact.record_id), str(fact.other_id)))
                self.report.bump("unlinked")
            else:
                self._untag(fact.entity, str(fact.record_id), str(fact.other_id), fact.key)
                self.report.bump("untagged")
            outcome = "removed"
        elif fact.action == "put_back" and fact.record_id and fact.other_id:
            if fact.kind == "link":
                self.client.attach_company(str(fact.record_id), str(fact.other_id))
                self.ledger.restore_link(fact.run_id, fact.source_id, fact.key)
                self.report.bump("relinked")
            else:
                self._retag(fact.entity, str(fact.record_id), str(fact.other_id), fact.key)
                self.ledger.restore_tagging(fact.run_id, fact.entity, fact.source_id, fact.key)
                self.report.bump("retagged")
            outcome = "put_back"
        if fact.action == "with_tag":
            self.report.bump("untagged")  # removed with the tag itself
        if fact.action in ("remove", "with_tag"):
            (self.ledger.drop_link(fact.source_id, fact.key) if fact.kind == "link"
             else self.ledger.drop_tagging(fact.entity, fact.source_id, fact.key))
        if fact.action == "keep_record":
            return  # its record is kept (changed since), or it was there before: nothing of it is undone
        self._undo(fact.phase, fact.entity, fact.source_id, fact.record_id, f"{fact.kind}:{fact.key}", outcome, fact.writes)

    def _apply_tag(self, tag: TagUndo) -> None:
        if tag.action == "delete" and tag.tag_id:
            self._ignore_missing(lambda: self.client.delete_tag(str(tag.tag_id)))
            self.report.count(self.report.deleted, "tags")
        self.ledger.forget("tags", tag.key)
        outcome = {"delete": "deleted", "keep": "kept_shared", "forget": "forgotten"}[tag.action]
        self._undo("tags", "tags", tag.key, tag.tag_id, tag.action, outcome, tag.writes, {"still_on": tag.carriers} if tag.carriers else None)

    def _apply_other(self, other: OtherUndo) -> None:
        write = other.write
        if other.action == "archive_attribute":
            # Intercom cannot delete a data attribute; archiving is the closest undo.
            self._ignore_missing(lambda: self.client.request("PUT", f"/data_attributes/{write.intercom_id}", json={"archived": True}))
            self.report.archived_attributes.append(write.source_id)
        elif other.action == "archive_ticket_type":
            # Intercom cannot delete a ticket type either (2.15): it is archived, and its attributes with it.
            self._ignore_missing(lambda: self.client.archive_ticket_type(str(write.intercom_id)))
            self.report.archived_attributes.append(f"ticket type {write.source_id}")
        elif other.action == "forget":
            self.ledger.forget(write.entity, write.source_id)
        self._undo(other.phase, write.entity, write.source_id, write.intercom_id, write.action, other.action, [write])

    def _admin_id(self) -> str:
        """Conversation and ticket tag calls name an admin: the token's owner."""
        with self._admin_lock:
            if self._admin is None:
                self._admin = str(self.client.me()["id"])
            return self._admin

    def _untag(self, entity: str, intercom_id: str, tag_id: str, key: str) -> None:
        if entity in THREAD_TAGGERS:
            untag = getattr(self.client, THREAD_TAGGERS[entity][1])
            self._ignore_missing(lambda: untag(intercom_id, tag_id, self._admin_id()))
        elif entity == "contacts":
            self._ignore_missing(lambda: self.client.untag_contact(intercom_id, tag_id))
        else:
            self._ignore_missing(lambda: self.client.untag_companies(self._tag_name(key), [intercom_id]))

    def _retag(self, entity: str, intercom_id: str, tag_id: str, key: str) -> None:
        if entity in THREAD_TAGGERS:
            getattr(self.client, THREAD_TAGGERS[entity][0])(intercom_id, tag_id, self._admin_id())
        elif entity == "contacts":
            self.client.tag_contacts(self._tag_name(key), [intercom_id])
        else:
            self.client.tag_companies(self._tag_name(key), [intercom_id])

    def _ignore_missing(self, call: Callable[[], Any]) -> None:
        try:
            call()
        except RejectedError as error:
            if error.status != 404:
                raise
            self.report.bump("already_gone")


def _keep_what_kept_records_need(plan: RollbackPlan, ledger: Ledger) -> None:
    """A kept conversation keeps its contacts, and a kept contact its companies: deleting them would change what is kept."""
    people = {person for r in plan.records if r.entity in THREADS and r.action == "keep" for person in r.people}
    for record in plan.records:
        if record.entity in PERSONS and record.action == "delete" and record.intercom_id in people:
            record.action = "keep"
            record.changed = [*record.changed, "a contact of a conversation kept (changed since the migration)"]
    companies = {c for r in plan.records if r.entity == "contacts" and r.action == "keep" for c in ledger.known_facts("contacts", r.source_id)[1]}
    for record in plan.records:
        if record.entity == "companies" and record.action == "delete" and record.source_id in companies:
            record.action = "keep"
            record.changed = [*record.changed, "linked to a contact kept (changed since the migration)"]


def _pending_write(row: IdMapRow, action: str) -> WriteRow:
    """A write the ledger never heard back about, stood in for by what it was about to send."""
    return WriteRow(0, row.run_id, ENTITY_PHASE.get(row.entity, row.entity), row.entity, row.source_id, row.intercom_id, action,
                    None, row.before, row.intent, row.pending_since or 0.0)
