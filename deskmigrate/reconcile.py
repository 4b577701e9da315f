"""The reconciliation: per entity, every record the source gave with one outcome, and the numbers adding up.

read from the source = landed (created, adopted, merged, updated) + unchanged + skipped + failed + rejected + pending,
each of the last four by reason. Computed from the ledger, so `run`, `load`, `validate` and `status` agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.ledger import Ledger, OutcomeGroup
from deskmigrate.loaders.intercom.history import TEAMMATES
from deskmigrate.loaders.intercom.registry import staged_phases

# Outcomes in the order the table shows them; `landed` sums the first four.
LANDED = ("created", "adopted", "merged", "updated")
OUTCOMES = (*LANDED, "unchanged", "skipped", "failed", "rejected", "pending")
BY_REASON = ("skipped", "failed", "rejected", "pending")
# What each staged entity lands as in the id map (a ticket history goes to conversations or Intercom tickets).
LANDS_AS: dict[str, tuple[str, ...]] = {entity: phase.landings() for entity, phase in staged_phases().items()}
AGENTS = "agents"
AGENT_MATCHED = "matched to an Intercom admin by email (agents are never created)"
AGENT_UNMATCHED = "no Intercom admin with this email: what they wrote is attributed to the fallback admin"
TEAMMATE_CONTACT = "requested tickets: an Intercom contact stands for them as requester"
EXAMPLES = 3
# Parts of a reason that name one record (a file:line, an id in quotes, a long number) are masked so that the same
# problem on many records is one line.
LOCATION_PREFIX = re.compile(r"^[^\s:]+:\d+(?:-\d+)?: ")
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
LONG_NUMBER = re.compile(r"(?<![\w.])\d{4,}(?![\w.])")


@dataclass
class ReasonCount:
    outcome: str
    reason: str
    count: int
    examples: list[str] = field(default_factory=list)  # "u17 (contacts.csv:18)"

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "count": self.count, "examples": self.examples}


@dataclass
class EntityReconciliation:
    entity: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    reasons: list[ReasonCount] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(self.counts.values())

    @property
    def landed(self) -> int:
        return sum(self.counts[outcome] for outcome in LANDED)

    def add(self, group: OutcomeGroup) -> None:
        self.counts[group.outcome] += group.count
        if group.outcome not in BY_REASON:
            return
        reason = reason_kind(group.reason) or "(no reason recorded)"
        examples = [f"{source_id} ({location})" if location else source_id for source_id, location in group.examples]
        for known in self.reasons:
            if (known.outcome, known.reason) == (group.outcome, reason):
                known.count += group.count
                known.examples.extend(e for e in examples if len(known.examples) < EXAMPLES and e not in known.examples)
                return
        self.reasons.append(ReasonCount(group.outcome, reason, group.count, examples[:EXAMPLES]))

    def as_dict(self) -> dict[str, Any]:
        reasons = sorted(self.reasons, key=lambda r: (OUTCOMES.index(r.outcome), -r.count, r.reason))
        return {"entity": self.entity, "read": self.read, "landed": self.landed, **self.counts,
                "reasons": [r.as_dict() for r in reasons]}


@dataclass
class Reconciliation:
    entities: list[EntityReconciliation]

    @property
    def open_problems(self) -> int:
        """Records still failed or not yet loaded: what stops a migration from being complete."""
        return sum(e.counts["failed"] + e.counts["pending"] for e in self.entities)

    def totals(self) -> dict[str, int]:
        return {outcome: sum(e.counts[outcome] for e in self.entities) for outcome in OUTCOMES}

    def as_dict(self) -> dict[str, Any]:
        return {"entities": [e.as_dict() for e in self.entities], "totals": self.totals(),
                "adds_up": "read = created + adopted + merged + updated + unchanged + skipped + failed + rejected + pending"}


def reason_kind(reason: str) -> str:
    """A reason with what names one record masked: "contacts.csv:4: email 'x@' invalid" → "email '…' invalid"."""
    text = LOCATION_PREFIX.sub("", reason.strip())
    text = QUOTED.sub("'…'", text)
    return LONG_NUMBER.sub("N", text)


def rejection_kind(reason: str, field: str | None) -> str:
    """A rejection's reason as records share it, led by the field it concerns: "email: invalid email address: '…': …"."""
    kind = reason_kind(reason)
    return f"{field}: {kind}" if field and not kind.startswith(f"{field}:") else kind


def reconcile(ledger: Ledger, run_id: str | None, entities: Iterable[str],
              agent_admins: Mapping[str, str] | None = None) -> Reconciliation:
    """Every record of `entities` (staged or given up at extract) with one outcome; `run_id` decides what counts as
    written now rather than unchanged. `agent_admins` (agent source id → admin id, from preflight) judges agents."""
    wanted = list(dict.fromkeys([*entities, *ledger.unstaged_entities()]))
    rows = []
    for entity in wanted:
        row = EntityReconciliation(entity)
        if entity == AGENTS:
            _judge_agents(ledger, row, run_id, agent_admins)
        else:
            for group in ledger.record_outcomes(entity, LANDS_AS.get(entity, (entity,)), run_id):
                row.add(group)
        for group in ledger.unstaged_outcomes(entity):
            row.add(group)
        if row.read:
            rows.append(row)
    return Reconciliation(rows)


def reconciliation(ledger: Ledger, run_id: str | None, agent_admins: Mapping[str, str] | None = None) -> Reconciliation:
    """Every record the source gave, each with one outcome, per entity in phase order (agents last)."""
    entities = [entity for entity in (*LANDS_AS, AGENTS) if ledger.count_staged(entity)]
    return reconcile(ledger, run_id, entities, agent_admins)


def _judge_agents(ledger: Ledger, row: EntityReconciliation, run_id: str | None, agent_admins: Mapping[str, str] | None) -> None:
    """Agents are matched to admins, never written as agents. One who requested tickets became a contact (created or
    adopted as the contact Intercom already had); one matched to an admin by email is adopted (that admin stands for
    them); the rest are skipped (the fallback admin stands for them), or pending until a load matches them."""
    for group in ledger.record_outcomes(AGENTS, (TEAMMATES,), run_id):
        if group.outcome == "pending":
            continue
        row.add(group)
        if group.outcome in (*LANDED, "unchanged"):
            row.reasons.append(ReasonCount(group.outcome, TEAMMATE_CONTACT, group.count, [sid for sid, _ in group.examples]))
    undecided = [agent.source_id for agent in ledger.iter_staged(AGENTS)
                 if ledger.id_row(TEAMMATES, agent.source_id) is None and ledger.failure_of(AGENTS, agent.source_id) is None]
    if not undecided:
        return
    if agent_admins is None:
        row.counts["pending"] += len(undecided)
        row.reasons.append(ReasonCount("pending", "matched to admins when a run loads", len(undecided), undecided[:EXAMPLES]))
        return
    matched = [source_id for source_id in undecided if source_id in agent_admins]
    unmatched = [source_id for source_id in undecided if source_id not in agent_admins]
    for outcome, reason, ids in (("adopted", AGENT_MATCHED, matched), ("skipped", AGENT_UNMATCHED, unmatched)):
        if ids:
            row.counts[outcome] += len(ids)
            row.reasons.append(ReasonCount(outcome, reason, len(ids), ids[:EXAMPLES]))


def match_agents_by_email(ledger: Ledger, admins: list[dict[str, Any]]) -> dict[str, str]:
    """Staged agent source id → Intercom admin id, by email, as preflight matches them."""
    by_email = {str(a.get("email") or "").lower(): str(a["id"]) for a in admins if a.get("email") and a.get("id")}
    matched: dict[str, str] = {}
    for agent in ledger.iter_staged(AGENTS):
        email = str(getattr(agent, "email", None) or "").lower()
        if email in by_email:
            matched[agent.source_id] = by_email[email]
    return matched
