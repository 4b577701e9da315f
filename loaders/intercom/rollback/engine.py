"""The rollback engine: plan what to undo (reading each record once), then undo in reverse phase order, over the registered
phases' undo declarations (undo.py) without naming any phase.

Only what deskmigrate wrote goes: records it created are deleted, fields it changed on pre-existing records go back,
facts it added (taggings, company links) are removed. What a record carried before deskmigrate first wrote to it stays;
what people changed since deskmigrate wrote it stays (listed; `force` undoes it anyway); a tag deskmigrate created stays
while anything it did not tag carries it. Creates a killed run left pending are looked up in Intercom and undone too.
Every undo is recorded under the rollback's own run id, so a second rollback finds nothing to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from deskmigrate.core.errors import AuthError, LoadError, RejectedError
from deskmigrate.core.ledger import Fact, Ledger, WriteRow
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.facts import TagNames
from deskmigrate.loaders.intercom.loader import run_concurrently, singular
from deskmigrate.loaders.intercom.registry import fact_kinds, phase_order, record_kinds, setting_kinds, tag_objects
from deskmigrate.loaders.intercom.rollback.plan import RollbackPlan, RollbackReport
from deskmigrate.loaders.intercom.undo import FactKind, FactUndo, OtherUndo, RecordKind, RecordUndo, TagUndo

log = logging.getLogger(__name__)

WRITES = ("create", "adopt", "update")


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
        self.tag_names = TagNames(client)
        self._admin: str | None = None
        self._admin_lock = threading.Lock()
        self.order = phase_order()
        self.kinds = record_kinds()
        self.facts = {kind.name: kind for kind in fact_kinds()}
        self.settings = setting_kinds()
        self.tag_kind = tag_objects()

    def conflicts(self, run_ids: list[str]) -> list[str]:
        """Later runs that changed records these runs wrote: they must be rolled back first."""
        return self.ledger.later_writers(run_ids)

    def run(self, run_ids: list[str]) -> RollbackReport:
        """Plan and apply at once (no preview)."""
        return self.apply(self.plan(run_ids))

    # -- what the kinds may ask (UndoContext) ------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        self.report.bump(name, n)

    def count_in(self, bucket: str, entity: str) -> None:
        self.report.count(getattr(self.report, bucket), entity)

    def admin_id(self) -> str:
        """Conversation and ticket tag calls name an admin: the token's owner."""
        with self._admin_lock:
            if self._admin is None:
                self._admin = str(self.client.me()["id"])
            return self._admin

    def tag_name(self, key: str) -> str:
        row = self.ledger.id_row(self.tag_kind.entity, key) if self.tag_kind else None
        return str(((row.body if row else None) or {}).get("name") or key)

    def kind(self, entity: str) -> RecordKind | None:
        return self.kinds.get(entity)

    def carriers(self) -> list[RecordKind]:
        return [kind for kind in self.kinds.values() if kind.tags is not None]

    def ignore_missing(self, call: Callable[[], Any]) -> None:
        try:
            call()
        except RejectedError as error:
            if error.status != 404:
                raise
            self.report.bump("already_gone")

    def log_undo(self, phase: str, entity: str, source_id: str, intercom_id: str | None, action: str, outcome: str,
                 writes: Iterable[WriteRow] = (), detail: dict[str, Any] | None = None) -> None:
        assert self.run_id is not None
        self.ledger.record_undo(self.run_id, phase=phase, entity=entity, source_id=source_id, intercom_id=intercom_id, action=action,
                                outcome=outcome, detail=detail, write_seqs=sorted(w.seq for w in writes))

    # -- plan ------------------------------------------------------------------------------------

    def plan(self, run_ids: list[str]) -> RollbackPlan:
        """Decide every undo, reading each record once (drift) and each created tag's carriers; nothing is written."""
        plan = RollbackPlan(list(run_ids), self.force)
        groups: dict[tuple[str, str], list[WriteRow]] = {}
        fact_writes: dict[tuple[str, str, str, str], list[WriteRow]] = {}
        tag_writes: dict[str, list[WriteRow]] = {}
        by_action = {action: fact for fact in self.facts.values() for action in fact.actions}
        for write in (w for run_id in run_ids for w in self.ledger.writes(run_id)):
            kind = self.kinds.get(write.entity)
            fact = by_action.get(write.action)
            setting = self.settings.get(write.entity)
            if kind is not None and write.action in kind.mapping_only:
                plan.others.append(OtherUndo(write.phase, write, "forget"))
            elif fact is not None:
                key = str((write.detail or {}).get(fact.detail_key))
                fact_writes.setdefault((fact.name, write.entity, write.source_id, key), []).append(write)
            elif self.tag_kind is not None and write.entity == self.tag_kind.entity:
                tag_writes.setdefault(write.source_id, []).append(write)
            elif kind is not None and write.action in WRITES:
                groups.setdefault((write.entity, write.source_id), []).append(write)
            elif setting is not None and write.action == "create":
                plan.others.append(OtherUndo(write.phase, write, setting.action))
            else:
                plan.others.append(OtherUndo(write.phase, write, "nothing"))
        for writes in groups.values():
            writes.sort(key=lambda w: -w.seq)
            earliest = writes[-1].phase
            kind = self.kinds[writes[0].entity]
            plan.records.append(RecordUndo(kind.entity, writes[0].source_id, writes[0].intercom_id,
                                           earliest if earliest in self.order else kind.phase, writes))
        for row in self.ledger.pending_rows(run_ids):
            if self.tag_kind is not None and row.entity == self.tag_kind.entity:
                tag_writes.setdefault(row.source_id, [])
                continue
            kind = self.kinds.get(row.entity)
            if kind is None:
                continue
            existing = next((r for r in plan.records if (r.entity, r.source_id) == (row.entity, row.source_id)), None)
            if existing is not None:
                existing.pending = row
            else:
                plan.records.append(RecordUndo(row.entity, row.source_id, row.intercom_id, kind.phase, [], row))
        run_concurrently(plan.records, self._plan_record, self.concurrency)
        _keep_what_kept_records_need(plan, self.kinds, self.ledger)
        self._plan_facts(plan, fact_writes)
        if self.tag_kind is not None:
            plan.tags = self.tag_kind.plan(self, plan.run_ids, tag_writes, plan.records, plan.facts)
        return plan

    def _plan_record(self, record: RecordUndo) -> None:
        kind = self.kinds[record.entity]
        try:
            if record.pending is not None and not record.writes:
                self._plan_pending(kind, record)
            elif (remote := self._read(kind, record) if record.intercom_id else None) is None:
                record.action = "gone"
            else:
                kind.judge(self, record, remote)
        except AuthError:
            raise
        except LoadError as error:
            record.action, record.error = "error", str(error)
        if record.action in ("restore", "keep") or record.adopted:
            record.kept_facts = kind.found_facts(self, record)

    def _read(self, kind: RecordKind, record: RecordUndo) -> dict[str, Any] | None:
        try:
            return kind.read(self.client, str(record.intercom_id))
        except RejectedError as error:
            if error.status == 404:
                return None
            raise

    def _plan_pending(self, kind: RecordKind, record: RecordUndo) -> None:
        """A create (or adoption) a killed run started: an adoption is judged as the record reads now; a create is looked
        up (by external_id, company_id, name + parent, requester + time) and judged as found."""
        row = record.pending
        assert row is not None
        if row.origin == "adopted" and row.intercom_id:
            remote = self._read(kind, record)
            if remote is None:
                record.action = "gone"
            else:
                kind.judge(self, record, remote)
            return
        found = kind.find(self, record, row)
        if found is None:
            record.action = "missing"
            return
        self.report.bump("pending_found")
        record.intercom_id = str(found["id"])
        kind.judge_found(self, record, row, found)

    def _plan_facts(self, plan: RollbackPlan, fact_writes: dict[tuple[str, str, str, str], list[WriteRow]]) -> None:
        by_record = {(r.entity, r.source_id): r for r in plan.records}
        for pending in self.ledger.pending_facts(plan.run_ids):
            fact = self._fact_kind_of(pending)
            fact_writes.setdefault((fact.name, fact.record_entity or pending.entity, pending.source_id, pending.key), [])
        for (name, entity, source_id, key), writes in fact_writes.items():
            fact = self.facts[name]
            writes.sort(key=lambda w: -w.seq)
            oldest = writes[-1] if writes else None
            current = fact.current(self.ledger, entity, source_id, key)
            other_id = ((oldest.detail if oldest else None) or {}).get(fact.other_id_key) or None
            if other_id is None:
                other_id = self.ledger.intercom_id(fact.other_entity, key)
            record = by_record.get((entity, source_id))
            undo = FactUndo(fact.name, entity, source_id, key, str(other_id) if other_id else None,
                            oldest.run_id if oldest else (current.run_id if current else plan.run_ids[0]), writes, fact.phase,
                            record_id=(oldest.intercom_id if oldest else None) or self.ledger.intercom_id(entity, source_id))
            added_by_us = oldest is None or oldest.action == fact.actions[0]
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

    def _fact_kind_of(self, pending: Fact) -> FactKind:
        """The kind of a fact the ledger holds pending: named by its own entity (links), else by its record's (taggings)."""
        named = next((fact for fact in self.facts.values() if fact.pending_entity == pending.entity), None)
        return named or next(fact for fact in self.facts.values() if fact.pending_entity is None)

    # -- apply -----------------------------------------------------------------------------------

    def apply(self, plan: RollbackPlan) -> RollbackReport:
        """Undo in reverse phase order, records of a phase concurrently (those undone one at a time newest first)."""
        if self.run_id is None:
            self.run_id = self.ledger.start_run("rollback")
        report = self.report
        report.kept_changed, report.forced = plan.kept_changed(), plan.forced()
        report.tags_kept, report.kept_legacy = plan.kept_tags(), plan.kept_legacy()
        report.kept_pre_existing = plan.kept_pre_existing()
        for phase in reversed(self.order):
            records = sorted((r for r in plan.records if r.phase == phase), key=lambda r: -r.order)
            parallel = [r for r in records if not self.kinds[r.entity].one_at_a_time]
            run_concurrently(parallel, self._guarded(self._apply_record, lambda r: r.label()), self.concurrency)
            for record in records:
                if self.kinds[record.entity].one_at_a_time:
                    self._guarded(self._apply_record, lambda r: r.label())(record)
            facts = [f for f in plan.facts if f.phase == phase]
            run_concurrently(facts, self._guarded(self._apply_fact, lambda f: f"{f.kind} {f.key} of {singular(f.entity)} {f.source_id}"),
                             self.concurrency)
            if self.tag_kind is not None:
                tags = [t for t in plan.tags if t.phase == phase]
                run_concurrently(tags, self._guarded(self._apply_tag, lambda t: f"tag {t.name}"), self.concurrency)
            for other in (o for o in plan.others if o.phase == phase or (o.phase not in self.order and phase == self.order[0])):
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

    def _apply_record(self, record: RecordUndo) -> None:
        kind = self.kinds[record.entity]
        if record.action == "error":
            self.report.error(f"{record.label()}: could not be read: {record.error}")
            return
        if record.action == "keep":
            self.log_undo(record.phase, record.entity, record.source_id, record.intercom_id, "keep", "kept_changed",
                          detail={"changed": record.changed})
            return
        if record.action in ("gone", "missing"):
            self.report.bump("already_gone")
            self.ledger.forget(record.entity, record.source_id)
            self.log_undo(record.phase, record.entity, record.source_id, record.intercom_id, "none",
                          "already_gone" if record.action == "gone" else "never_landed", record.writes)
            return
        if record.action == "delete":
            self.ignore_missing(lambda: kind.delete(self.client, str(record.intercom_id)))
            self.ledger.forget(record.entity, record.source_id)
            self.report.count(self.report.deleted, record.entity)
            self.log_undo(record.phase, record.entity, record.source_id, record.intercom_id, "delete",
                          "deleted_changed" if record.forced else "deleted", record.writes, {"changed": record.changed} if record.changed else None)
            return
        if record.unclearable:
            self.report.bump("kept_identifiers")
        if record.restore:
            kind.restore(self, record)
            self.report.count(self.report.restored, record.entity)
            self.report.bump("restored_fields", len(record.restored_fields))
        if record.adopted or record.pending is not None:
            self.ledger.forget(record.entity, record.source_id)
        else:
            self.ledger.invalidate(record.entity, record.source_id)
        self.log_undo(record.phase, record.entity, record.source_id, record.intercom_id, "restore", "restored", record.writes,
                      {"fields": record.restored_fields, "kept_changed": record.changed, "kept_pre_existing": record.kept_facts})

    def _apply_fact(self, undo: FactUndo) -> None:
        fact = self.facts[undo.kind]
        removed, put_back = fact.counters
        outcome = undo.action
        if undo.action == "remove" and undo.record_id and undo.other_id:
            fact.remove(self, undo)
            self.report.bump(removed)
            outcome = "removed"
        elif undo.action == "put_back" and undo.record_id and undo.other_id:
            fact.put_back(self, undo)
            self.report.bump(put_back)
            outcome = "put_back"
        if undo.action == "with_tag":
            self.report.bump(removed)  # removed with the tag itself
        if undo.action in ("remove", "with_tag"):
            fact.drop(self.ledger, undo)
        if undo.action == "keep_record":
            return  # its record is kept (changed since), or it was there before: nothing of it is undone
        self.log_undo(undo.phase, undo.entity, undo.source_id, undo.record_id, f"{undo.kind}:{undo.key}", outcome, undo.writes)

    def _apply_tag(self, tag: TagUndo) -> None:
        assert self.tag_kind is not None
        self.tag_kind.apply(self, tag)

    def _apply_other(self, other: OtherUndo) -> None:
        write = other.write
        setting = self.settings.get(write.entity)
        if setting is not None and other.action == setting.action:
            self.ignore_missing(lambda: setting.archive(self.client, str(write.intercom_id)))
            self.report.archived_attributes.append(setting.label(write))
        elif other.action == "forget":
            self.ledger.forget(write.entity, write.source_id)
        self.log_undo(other.phase, write.entity, write.source_id, write.intercom_id, write.action, other.action, [write])


def _keep_what_kept_records_need(plan: RollbackPlan, kinds: dict[str, RecordKind], ledger: Ledger) -> None:
    """A kept record keeps what it holds on to (a conversation its contacts, a contact its companies): deleting those would
    change what is kept. Kept in turn, they may hold on to others."""
    claimed: set[int] = set()
    while True:
        holders = [r for r in plan.records if r.action == "keep" and id(r) not in claimed]
        if not holders:
            return
        claims = []
        for holder in holders:
            claimed.add(id(holder))
            claim = kinds[holder.entity].holds(holder, ledger)
            if claim is not None:
                claims.append(claim)
        for record in plan.records:
            if record.action != "delete":
                continue
            reason = next((why for claim in claims if (why := claim(record))), None)
            if reason is not None:
                record.action = "keep"
                record.changed = [*record.changed, reason]
