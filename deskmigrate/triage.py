"""What went wrong, in a form a person can work through: open failures and rejections grouped by reason (a reason,
how many, three examples with their file:line), exported one per line for a spreadsheet or a script, written whole
beside a run's JSON report; and the limit on rejections a run or load accepts before it writes anything.

A rejection (the source row or the mapping refused the record: fixed by editing them) is not a failure (a load that
went wrong: retried by the next run); they are counted apart everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from deskmigrate.core.config import RejectionLimit
from deskmigrate.core.ledger import MAPPING_PHASE, Failure, Ledger
from deskmigrate.exports import ExportFormat, export_rows
from deskmigrate.reconcile import Reconciliation, rejection_kind

EXTRACT_PHASE = "extract"
REJECTING_PHASES = (EXTRACT_PHASE, MAPPING_PHASE)
EXAMPLES = 3
# Up to this many failures (or content notes) sit in the JSON report itself; more go to a JSON Lines file beside it.
INLINE_LIMIT = 1000
FAILURE_COLUMNS = ["entity", "source_id", "outcome", "phase", "location", "field", "reason", "reason_kind", "request_id", "run_id"]
_LOCATION = re.compile(r"^([^\s:]+:\d+(?:-\d+)?): ")


def outcome_of(phase: str) -> str:
    """rejected (refused by the source rows or the mapping) or failed (a load phase went wrong)."""
    return "rejected" if phase in REJECTING_PHASES else "failed"


def failure_row(failure: Failure, location: str | None) -> dict[str, Any]:
    """One failure as exported: where its record was read (staged, else named at the head of its reason), the reason
    as that record has it and as the records sharing it do."""
    if location is None and (found := _LOCATION.match(failure.reason)):
        location = found.group(1)
    return {
        "entity": failure.entity, "source_id": failure.source_id, "outcome": outcome_of(failure.phase), "phase": failure.phase,
        "location": location, "field": failure.field, "reason": failure.reason,
        "reason_kind": rejection_kind(failure.reason, failure.field), "request_id": failure.request_id, "run_id": failure.run_id,
    }


def failure_rows(ledger: Ledger, run_id: str | None = None) -> Iterator[dict[str, Any]]:
    for failure, location in ledger.iter_failures(run_id):
        yield failure_row(failure, location)


@dataclass
class FailureGroup:
    outcome: str
    entity: str
    phase: str
    reason: str
    count: int = 0
    examples: list[tuple[str, str | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "entity": self.entity, "phase": self.phase, "reason": self.reason, "count": self.count,
                "examples": [{"source_id": source_id, "location": where} for source_id, where in self.examples]}


def group_failures(rows: Iterable[dict[str, Any]]) -> list[FailureGroup]:
    """Failures by (outcome, entity, phase, reason as records share it), most frequent first; memory grows with reasons."""
    groups: dict[tuple[str, str, str, str], FailureGroup] = {}
    for row in rows:
        key = (row["outcome"], row["entity"], row["phase"], row["reason_kind"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = FailureGroup(*key)
        group.count += 1
        if len(group.examples) < EXAMPLES:
            # a load failure's request id is what Intercom support asks for
            where = ", ".join(part for part in (row["location"], row["request_id"] and f"request {row['request_id']}") if part)
            group.examples.append((row["source_id"], where or None))
    return sorted(groups.values(), key=lambda g: (g.outcome != "rejected", -g.count, g.entity, g.reason))


def export_failures(rows: Iterable[dict[str, Any]], form: ExportFormat, out: TextIO) -> int:
    return export_rows(rows, FAILURE_COLUMNS, form, out)


def reported_list(rows: Iterable[dict[str, Any]], count: int, beside: Path, what: str,
                  secrets: list[str]) -> list[dict[str, Any]] | dict[str, Any]:
    """A list for the JSON report: itself when it is short, else written whole to <report>.<what>.jsonl (0600, secrets
    masked like the report's) and referenced: {"count", "file"}; a report never keeps part of a list and drops the rest."""
    if count <= INLINE_LIMIT:
        return list(rows)
    path = beside.with_name(f"{beside.stem}.{what}.jsonl")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, default=str)
            for secret in secrets:
                line = line.replace(secret, "***")
            handle.write(line + "\n")
            written += 1
    return {"count": written, "file": path.name, "format": "JSON Lines: one object per line, as the short lists in this report"}


# -- the limit on rejections -------------------------------------------------------------------------------


@dataclass
class EntityRejections:
    entity: str
    read: int
    rejected: int
    allowed: int
    reasons: list[tuple[str, int, list[str]]]  # (reason, records, examples) most frequent first

    @property
    def share(self) -> float:
        return self.rejected / self.read if self.read else 0.0


@dataclass
class RejectionCheck:
    """Per entity, how many records the source and the mapping reject against what `load.max_rejected` allows."""

    limit: RejectionLimit
    entities: list[EntityRejections]

    @property
    def over(self) -> list[EntityRejections]:
        return [entity for entity in self.entities if entity.rejected > entity.allowed]

    def as_dict(self) -> dict[str, Any]:
        return {"max_rejected": str(self.limit), "over": [
            {"entity": e.entity, "read": e.read, "rejected": e.rejected, "allowed": e.allowed,
             "reasons": [{"reason": reason, "records": n, "examples": examples} for reason, n, examples in e.reasons]}
            for e in self.over]}


def check_rejections(reconciliation: Reconciliation, limit: RejectionLimit) -> RejectionCheck:
    """The reconciliation's rejected records (source rows and mapping, as they stand after the plan) against the limit."""
    entities = []
    for row in reconciliation.entities:
        rejected = row.counts["rejected"]
        if not rejected:
            continue
        reasons = [(reason.reason, reason.count, list(reason.examples)) for reason in row.reasons if reason.outcome == "rejected"]
        reasons.sort(key=lambda item: -item[1])
        entities.append(EntityRejections(row.entity, row.read, rejected, limit.allowed(row.read), reasons))
    return RejectionCheck(limit, entities)
