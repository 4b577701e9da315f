"""The report of where each sampled ticket and article landed in Intercom, with the reasons it was picked."""

from __future__ import annotations

from typing import Any

from deskmigrate.core.ledger import SKIPPED, Ledger
from deskmigrate.rehearsal.sample import Sample


def landed(ledger: Ledger, run_id: str, sample: Sample) -> dict[str, Any]:
    """The report's `rehearsal` section: every sampled ticket and article with its reasons and where it is in Intercom."""
    skipped: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    for notice in ledger.iter_notices(run_id):
        if notice.entity == sample.entity and notice.kind == SKIPPED:
            skipped[notice.source_id] = notice.detail
        elif notice.entity == sample.entity:
            notes.setdefault(notice.source_id, []).append(f"{notice.kind}: {notice.detail}")
    failed: dict[str, str] = {}
    for failure, _ in ledger.iter_failures(None):
        if failure.entity == sample.entity:
            failed.setdefault(failure.source_id, f"{failure.phase}: {failure.reason}")
    tickets = []
    for pick in sample.tickets:
        where = _where(ledger, sample.entity, pick.source_id)
        outcome = "landed" if where else ("skipped: " + skipped[pick.source_id] if pick.source_id in skipped
                                          else ("failed: " + failed[pick.source_id] if pick.source_id in failed else "not landed"))
        tickets.append({"source_id": pick.source_id, "subject": pick.subject, "picked_for": pick.picked_for, "also": pick.also,
                        "outcome": outcome, **where, "notes": notes.get(pick.source_id, [])})
    articles = [article | {"intercom_id": ledger.intercom_id("articles", article["source_id"])} for article in sample.articles]
    return {"entity": sample.entity, "size": sample.size, "chosen_at": sample.chosen_at, "reused": sample.reused, "profiled": sample.profiled,
            "read_whole": sample.read_whole, "uncovered": sample.uncovered, "tickets": tickets, "articles": articles}


def _where(ledger: Ledger, sampled: str, source_id: str) -> dict[str, Any]:
    kinds = (("conversations", "conversation"), ("tickets", "ticket")) if sampled == "conversations" else (("contacts", "contact"),)
    for entity, kind in kinds:
        intercom_id = ledger.intercom_id(entity, source_id)
        if intercom_id:
            continued = []
            for thread in range(2, 100):
                more = ledger.intercom_id(entity, f"{source_id}#{thread}")
                if not more:
                    break
                continued.append(more)
            return {"intercom_kind": kind, "intercom_id": intercom_id, **({"continued_in": continued} if continued else {})}
    return {}
