"""The mapping report: what the engine did to each target's records, accumulated over a run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_EXAMPLES = 5


@dataclass
class RejectionStats:
    """How often one reason rejected a record, with the first few source ids as examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, source_id: str, max_examples: int) -> None:
        self.count += 1
        if len(self.examples) < max_examples and source_id not in self.examples:
            self.examples.append(source_id)


@dataclass
class TargetReport:
    """Counts for one target (company, contact, ...). Only mapped records contribute to the detail counters."""

    mapped: int = 0
    rejected: int = 0
    rejection_reasons: dict[str, RejectionStats] = field(default_factory=dict)
    unmapped_fields: Counter[str] = field(default_factory=Counter)
    unmapped_to_custom_attributes: Counter[str] = field(default_factory=Counter)
    value_map_misses: dict[str, Counter[str]] = field(default_factory=dict)
    defaults_applied: Counter[str] = field(default_factory=Counter)
    content_dropped: dict[str, Counter[str]] = field(default_factory=dict)
    # what went, by name, for the same field and kind: {"body": {"html tags removed": {"script": 3, "table": 1}}}
    content_dropped_items: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    # values that cost their field, not their record: (field, reason, action) → count and example records
    field_notes: dict[tuple[str, str, str], RejectionStats] = field(default_factory=dict)
    # numeric dates (03/04/2021) read in an order their column never showed: field → {"monthfirst": 12}
    ambiguous_dates: dict[str, Counter[str]] = field(default_factory=dict)

    def record_field_note(self, note: Any, example: str, max_examples: int = DEFAULT_MAX_EXAMPLES) -> None:
        """`example` names the record ("u17 (contacts.csv:18)"), never its value."""
        self.field_notes.setdefault((note.field, note.reason, note.action), RejectionStats()).add(example, max_examples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mapped": self.mapped,
            "rejected": self.rejected,
            "rejection_reasons": {
                reason: {"count": stats.count, "examples": list(stats.examples)} for reason, stats in sorted(self.rejection_reasons.items())
            },
            "unmapped_fields": dict(sorted(self.unmapped_fields.items())),
            "unmapped_to_custom_attributes": dict(sorted(self.unmapped_to_custom_attributes.items())),
            "value_map_misses": {name: dict(sorted(misses.items())) for name, misses in sorted(self.value_map_misses.items())},
            "defaults_applied": dict(sorted(self.defaults_applied.items())),
            "content_dropped": {to: dict(sorted(kinds.items())) for to, kinds in sorted(self.content_dropped.items())},
            "content_dropped_items": {
                to: {kind: dict(sorted(items.items())) for kind, items in sorted(kinds.items())}
                for to, kinds in sorted(self.content_dropped_items.items())
            },
            "field_notes": [
                {"field": f, "reason": r, "action": a, "count": stats.count, "examples": list(stats.examples)}
                for (f, r, a), stats in sorted(self.field_notes.items())
            ],
            "ambiguous_dates": {to: dict(sorted(orders.items())) for to, orders in sorted(self.ambiguous_dates.items())},
        }

    def merge(self, other: TargetReport, max_examples: int) -> None:
        self.mapped += other.mapped
        self.rejected += other.rejected
        for reason, stats in other.rejection_reasons.items():
            mine = self.rejection_reasons.setdefault(reason, RejectionStats())
            mine.count += stats.count
            for example in stats.examples:
                if len(mine.examples) < max_examples and example not in mine.examples:
                    mine.examples.append(example)
        self.unmapped_fields.update(other.unmapped_fields)
        self.unmapped_to_custom_attributes.update(other.unmapped_to_custom_attributes)
        self.defaults_applied.update(other.defaults_applied)
        for name, misses in other.value_map_misses.items():
            self.value_map_misses.setdefault(name, Counter()).update(misses)
        for to, kinds in other.content_dropped.items():
            self.content_dropped.setdefault(to, Counter()).update(kinds)
        for to, by_kind in other.content_dropped_items.items():
            for kind, items in by_kind.items():
                self.content_dropped_items.setdefault(to, {}).setdefault(kind, Counter()).update(items)
        for key, stats in other.field_notes.items():
            mine = self.field_notes.setdefault(key, RejectionStats())
            mine.count += stats.count
            for example in stats.examples:
                if len(mine.examples) < max_examples and example not in mine.examples:
                    mine.examples.append(example)
        for to, orders in other.ambiguous_dates.items():
            self.ambiguous_dates.setdefault(to, Counter()).update(orders)


class MappingReport:
    """Per-target accumulator the Mapper fills; not thread-safe (the pipeline maps in one thread)."""

    def __init__(self, max_examples: int = DEFAULT_MAX_EXAMPLES) -> None:
        self.max_examples = max_examples
        self.targets: dict[str, TargetReport] = {}

    def target(self, name: str) -> TargetReport:
        report = self.targets.get(name)
        if report is None:
            report = self.targets[name] = TargetReport()
        return report

    def record_rejection(self, target: str, source_id: str, reasons: list[str]) -> None:
        report = self.target(target)
        report.rejected += 1
        for reason in dict.fromkeys(reasons):
            report.rejection_reasons.setdefault(reason, RejectionStats()).add(source_id, self.max_examples)

    def totals(self) -> dict[str, int]:
        return {
            "mapped": sum(report.mapped for report in self.targets.values()),
            "rejected": sum(report.rejected for report in self.targets.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"targets": {name: self.targets[name].to_dict() for name in sorted(self.targets)}, "totals": self.totals()}

    def merge(self, other: MappingReport) -> None:
        for name, report in other.targets.items():
            self.target(name).merge(report, self.max_examples)
