"""What a rollback plans (per phase: delete, restore, remove, put back, keep, archive) and what it did: the preview a
person confirms and the run report."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.loaders.intercom.registry import phase_order
from deskmigrate.loaders.intercom.undo import FactUndo, OtherUndo, RecordUndo, TagUndo


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
                add(fact.phase, f"remove_{fact.kind}s")
            elif fact.action == "put_back":
                add(fact.phase, "put_back")
            elif fact.action == "keep_legacy":
                add(fact.phase, "keep_legacy")
        for tag in self.tags:
            if tag.action == "delete":
                add(tag.phase, "delete")
            elif tag.action == "keep":
                add(tag.phase, "keep_shared_tags")
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
