"""A load phase as one self-contained unit: everything preflight, plan, load, rollback and validate need of it.

A phase lives in its own module (or a small package) and is registered once (registry.py); nothing else names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, RecordKey, body_hash
from deskmigrate.loaders.intercom.undo import Undo
from deskmigrate.loaders.intercom.verify import Verifier

# A phase's preflight part. Called first, it reads and may stop the run (nothing is written before every phase has
# had its say); it returns the step that creates what the phase needs, which reports what it did (report sections).
Prepare = Callable[[IntercomLoader, list[AttributeDeclaration]], Callable[[], dict[str, Any]]]
# Plan findings per record (what loading it will lose, by source id), and records the mapping rejected: the plan's report sections.
PlanReport = Callable[[Ledger, LoadConfig, dict[str, dict[str, Any]], set[str]], dict[str, Any]]


def nothing_to_prepare(loader: IntercomLoader, declarations: list[AttributeDeclaration]) -> Callable[[], dict[str, Any]]:
    return dict


def plan_action(ledger: Ledger, payload: Payload) -> str:
    """create | update | unchanged: what loading this payload would do, judged from the id map like the load judges it."""
    row = ledger.id_row(payload.entity, payload.source_id)
    if row is None or row.state != "done":
        return "create"
    if row.origin == "merged":
        return "unchanged"  # mapped to a namesake's object: the load sends nothing for it while it stays the older one
    return "unchanged" if row.payload_hash == body_hash(payload.body) else "update"


def no_plan_report(ledger: Ledger, settings: LoadConfig, previews: dict[str, dict[str, Any]], rejected: set[str]) -> dict[str, Any]:
    return {}


def nothing_to_finish(loader: IntercomLoader) -> None:
    return None


@dataclass(frozen=True)
class Phase:
    """One load phase. `entity` names the staged records it consumes (None: it works from the ledger alone)."""

    name: str
    entity: str | None
    mapping_target: str | None
    load: Callable[[IntercomLoader, Iterable[Payload]], PhaseResult]
    requires: tuple[str, ...] = ()  # phases whose objects it needs: they run before it
    # Of those, the phases it may run alongside (schedule.py): it starts once they are under way, and each of its records
    # waits only for the records `needs` names (a contact for its companies) to settle. Naming a phase it does not
    # require means nothing.
    streams_after: tuple[str, ...] = ()
    needs: Callable[[Payload], Iterable[RecordKey]] | None = None
    prepare: Prepare = nothing_to_prepare
    plan_action: Callable[[Ledger, Payload], str] = plan_action
    undo: Undo = Undo()  # what rollback calls for its writes
    verify: tuple[Verifier, ...] = ()  # what validate calls for its rows
    # Whether a run loads it (default: its staged entity has records; a ledger-only phase always runs).
    runs_when: Callable[[Ledger], bool] | None = None
    # The units its progress counts (default: its staged records), None when unknown.
    work: Callable[[Ledger], int | None] | None = None
    # The id-map entities its staged records land as (default: its staged entity), for the reconciliation.
    lands_as: tuple[str, ...] = ()
    # Plan: what loading one record will lose or change (None: nothing), and the plan's report sections from them.
    preview: Callable[[Ledger, Payload, LoadConfig], dict[str, Any] | None] | None = None
    plan_report: PlanReport = no_plan_report
    # After every phase ran (whether or not this one had work): files and report details it produces.
    finish: Callable[[IntercomLoader], None] = nothing_to_finish

    def runs(self, ledger: Ledger) -> bool:
        if self.runs_when is not None:
            return self.runs_when(ledger)
        return self.entity is None or ledger.count_staged(self.entity) > 0

    def units(self, ledger: Ledger) -> int | None:
        if self.work is not None:
            return self.work(ledger)
        return ledger.count_staged(self.entity) if self.entity else None

    def landings(self) -> tuple[str, ...]:
        return self.lands_as or ((self.entity,) if self.entity else ())
