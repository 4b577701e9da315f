"""What changed between two plans, per entity: payloads and fields changed (with a few before → after examples),
records that moved between create / update / unchanged / rejected, records new to the plan or gone from it, and
rejections that appeared or were resolved.

A plan's records are compared with an earlier plan's through that plan's index (deskmigrate.plans.PlanIndex): the
payload digests first, and only for a changed payload the fields themselves, so an unchanged record costs one lookup.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.plans import REJECTED_ACTION, PlanIndex
from deskmigrate.reconcile import rejection_kind

EXAMPLES = 3
_ABSENT = object()
VALUE_WIDTH = 60
CUSTOM_ATTRIBUTES = "custom_attributes"


@dataclass
class FieldChange:
    """How many records' payloads changed in one field, with the first few as (source id, before, after)."""

    count: int = 0
    examples: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, source_id: str, before: Any, after: Any) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((source_id, shown(before), shown(after)))


@dataclass
class Examples:
    """A count of records with the first few (source id, where it was read)."""

    count: int = 0
    examples: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, source_id: str, location: str | None = None, n: int = 1) -> None:
        self.count += n
        if len(self.examples) < EXAMPLES:
            self.examples.append((source_id, location))

    def merge(self, other: Examples) -> None:
        self.count += other.count
        self.examples.extend(other.examples[: max(0, EXAMPLES - len(self.examples))])

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.count, "examples": [{"source_id": s, "location": where} for s, where in self.examples]}


@dataclass
class EntityDiff:
    """One entity's changes against the earlier plan; chunks of it merge in source order."""

    compared: int = 0  # records both plans planned (a payload or a rejection in each)
    changed: int = 0  # of those with a payload in both, the ones whose payload differs
    fields: dict[str, FieldChange] = field(default_factory=dict)
    moves: Counter[str] = field(default_factory=Counter)  # "create → unchanged": records whose action changed
    added: Examples = field(default_factory=Examples)  # planned now, not in the earlier plan
    removed: Examples = field(default_factory=Examples)  # in the earlier plan, not planned now
    new_rejections: dict[str, Examples] = field(default_factory=dict)  # by reason
    resolved_rejections: dict[str, Examples] = field(default_factory=dict)  # by the reason they had

    def merge(self, other: EntityDiff) -> None:
        self.compared += other.compared
        self.changed += other.changed
        for name, change in other.fields.items():
            mine = self.fields.setdefault(name, FieldChange())
            mine.count += change.count
            mine.examples.extend(change.examples[: max(0, EXAMPLES - len(mine.examples))])
        self.moves.update(other.moves)
        self.added.merge(other.added)
        self.removed.merge(other.removed)
        for mine_by_reason, theirs in ((self.new_rejections, other.new_rejections), (self.resolved_rejections, other.resolved_rejections)):
            for reason, examples in theirs.items():
                mine_by_reason.setdefault(reason, Examples()).merge(examples)

    @property
    def anything(self) -> bool:
        return bool(self.changed or self.moves or self.added.count or self.removed.count or self.new_rejections or self.resolved_rejections)

    def as_dict(self, *, values: bool) -> dict[str, Any]:
        """The diff as data; `values`: with the before → after examples (the plan folder's copy), else source ids only (reports)."""
        def field_entry(change: FieldChange) -> dict[str, Any]:
            if values:
                return {"records": change.count, "examples": [{"source_id": s, "before": b, "after": a} for s, b, a in change.examples]}
            return {"records": change.count, "examples": [s for s, _, _ in change.examples]}

        return {
            "compared": self.compared, "payloads_changed": self.changed,
            "fields": {name: field_entry(change) for name, change in sorted(self.fields.items(), key=lambda kv: (-kv[1].count, kv[0]))},
            "moved": dict(self.moves.most_common()),
            "added": self.added.as_dict(), "removed": self.removed.as_dict(),
            "new_rejections": {reason: found.as_dict() for reason, found in _by_count(self.new_rejections)},
            "resolved_rejections": {reason: found.as_dict() for reason, found in _by_count(self.resolved_rejections)},
        }


def _by_count(by_reason: dict[str, Examples]) -> list[tuple[str, Examples]]:
    return sorted(by_reason.items(), key=lambda kv: (-kv[1].count, kv[0]))


def shown(value: Any) -> str:
    """A value as the diff prints it: JSON, cut to VALUE_WIDTH characters; "(none)" for a field the payload lacks."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def payload_fields(body: dict[str, Any], companies: list[str], tags: list[str]) -> dict[str, Any]:
    """A payload as comparable fields: body keys, custom attributes one by one, company links and tags as sets."""
    flat: dict[str, Any] = {}
    for key, value in body.items():
        if key == CUSTOM_ATTRIBUTES and isinstance(value, dict):
            flat.update((f"{CUSTOM_ATTRIBUTES}.{name}", item) for name, item in value.items())
        else:
            flat[key] = value
    if companies:
        flat["companies"] = sorted(companies)
    if tags:
        flat["tags"] = sorted({tag.strip().lower() for tag in tags})
    return flat


class DiffCollector:
    """Compares the records of one chunk with the earlier plan as they are planned."""

    def __init__(self, entity: str, earlier: PlanIndex | None, *, membership: bool = True) -> None:
        """`membership`: count records new to this plan (False when either plan maps only a sample)."""
        self.entity = entity
        self.earlier = earlier
        self.membership = membership
        self.diff = EntityDiff()
        self._known: dict[str, tuple[str, int, int]] | None = None

    def expect(self, source_ids: list[str]) -> None:
        """The records about to be compared, looked up in the earlier plan at once."""
        if self.earlier is not None:
            self._known = self.earlier.lookup_many(self.entity, source_ids)

    def _earlier(self, source_id: str) -> tuple[str, int, int] | None:
        assert self.earlier is not None
        if self._known is not None:
            return self._known.get(source_id)
        return self.earlier.lookup(self.entity, source_id)

    def payload(self, source_id: str, action: str, digest: int, body: dict[str, Any], companies: list[str], tags: list[str],
                location: str | None) -> None:
        if self.earlier is None:
            return
        found = self._earlier(source_id)
        if found is None:
            if self.membership:
                self.diff.added.add(source_id, location)
            return
        old_action, old_digest, offset = found
        self.diff.compared += 1
        if old_action != action:
            self.diff.moves[f"{old_action} → {action}"] += 1
        if old_action == REJECTED_ACTION:
            old = self.earlier.rejection_at(offset)
            self.diff.resolved_rejections.setdefault(rejection_kind(old["reason"], old.get("field")), Examples()).add(source_id, old.get("location"))
            return
        if old_digest == digest:
            return
        old_line = self.earlier.payload_at(self.entity, offset)
        before = payload_fields(old_line.get("body") or {}, old_line.get("companies") or [], old_line.get("tags") or [])
        after = payload_fields(body, companies, tags)
        differing = [name for name, value in after.items() if before.get(name, _ABSENT) != value]
        differing += [name for name in before if name not in after]
        if differing:  # else only the order of its keys, tags or links moved, which a load does not see
            self.diff.changed += 1
        for name in differing:
            self.diff.fields.setdefault(name, FieldChange()).add(source_id, before.get(name), after.get(name))

    def rejection(self, source_id: str, reason: str, field: str | None, digest: int, location: str | None) -> None:
        if self.earlier is None:
            return
        found = self._earlier(source_id)
        kind = rejection_kind(reason, field)
        if found is None:
            if self.membership:
                self.diff.added.add(source_id, location)
                self.diff.new_rejections.setdefault(kind, Examples()).add(source_id, location)
            return
        old_action, old_digest, offset = found
        self.diff.compared += 1
        if old_action != REJECTED_ACTION:
            self.diff.moves[f"{old_action} → {REJECTED_ACTION}"] += 1
            self.diff.new_rejections.setdefault(kind, Examples()).add(source_id, location)
        elif old_digest != digest:
            old = self.earlier.rejection_at(offset)
            old_kind = rejection_kind(old["reason"], old.get("field"))
            if old_kind != kind:
                self.diff.resolved_rejections.setdefault(old_kind, Examples()).add(source_id, old.get("location"))
                self.diff.new_rejections.setdefault(kind, Examples()).add(source_id, location)
