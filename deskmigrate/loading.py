"""Loading: preflight, then the registered phases (each as soon as what it needs has landed) over the staged records, mapped as they stream; and the
read-back that compares what Intercom holds with the ledger (validate)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.ledger import Ledger
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.preflight import PreflightResult, preflight
from deskmigrate.loaders.intercom.registry import PHASES
from deskmigrate.loaders.intercom.schedule import run_phases
from deskmigrate.loaders.intercom.validate import Mismatch, Validator
from deskmigrate.planning import LOAD_ENTITIES, PlanResult, map_staged, new_mapper
from deskmigrate.project import Progress, Project, source_files
from deskmigrate.target import Target


@dataclass
class LoadResult:
    preflight: PreflightResult
    phases: list[PhaseResult]
    details: dict[str, Any] = field(default_factory=dict)
    agent_admins: dict[str, str] = field(default_factory=dict)  # source agent → the Intercom admin it was matched to


def load(project: Project, ledger: Ledger, run_id: str, target: Target, progress: Progress, planned: PlanResult) -> LoadResult:
    """Preflight, then the phases over the staged records, mapping them as they stream: each as soon as what it needs has landed."""
    loader = IntercomLoader(target.client, ledger, run_id, project.loaded.config.load, on_progress=progress.advance,
                            on_failure=lambda phase: progress.count(phase, "failed"))
    loader.source_files = source_files(project)
    loader.help_center_urls = project.connector.help_center_urls
    loader.state_dir = project.state_dir
    loader.asset_dir = project.state_dir / "help_center_assets"
    options = project.spec.loader_options()
    loader.mapping_options = {phase.mapping_target: options.get(phase.mapping_target, {}) for phase in PHASES
                              if phase.mapping_target and phase.runs(ledger)}
    progress.start("preflight", None)
    preflight_result = preflight(loader, planned.attributes)
    progress.finish("preflight")

    def begin(phase: Phase) -> Iterable[Payload]:
        payloads: Iterable[Payload] = ()
        if phase.entity is not None:  # a mapper per phase: phases run side by side
            mapper = new_mapper(project, ledger, planned.date_orders)
            payloads = (p for p in map_staged(mapper, ledger, phase.entity) if isinstance(p, Payload))
        # The mapping's rejections never reach the phase: its bar counts them apart and ends at what it can load.
        units = phase.units(ledger)
        rejected = planned.counts.get(phase.entity or "", {}).get("rejected", 0) if units else 0
        progress.start(phase.name, (units - rejected) if units else None)
        if rejected:
            progress.count(phase.name, "rejected", rejected)
        return payloads

    phases = run_phases(loader, PHASES, begin, end=lambda phase: progress.finish(phase.name))
    for phase in PHASES:
        phase.finish(loader)
    details = {name: value.as_dict() if hasattr(value, "as_dict") else value for name, value in loader.details.items()}
    return LoadResult(preflight=preflight_result, phases=phases, details=details, agent_admins=dict(loader.agent_admins))


def with_rejections(phases: list[dict[str, Any]], planned: PlanResult) -> list[dict[str, Any]]:
    """Each loaded phase with the records of its entity the plan rejected (never sent), beside those that failed."""
    entity_of = {phase.name: phase.entity for phase in PHASES}
    return [phase | {"rejected": planned.counts.get(entity_of.get(phase["phase"]) or "", {}).get("rejected", 0)} for phase in phases]


def validate(project: Project, ledger: Ledger, target: Target, progress: Progress) -> tuple[list[Mismatch], dict[str, int]]:
    validator = Validator(target.client, ledger, project.loaded.config.load.concurrency, on_progress=progress.advance)
    for entity in LOAD_ENTITIES:
        progress.start(entity, ledger.count_id_rows(entity))
    mismatches = validator.run()
    for entity in LOAD_ENTITIES:
        progress.finish(entity)
    return mismatches, validator.checked


