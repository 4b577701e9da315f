"""Planning: every staged record mapped and judged against the ledger — created, updated, unchanged or rejected —
chunk by chunk (deskmigrate.planner), into the plan's report, its kept folder (deskmigrate.plans) and the ledger."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.ledger import MAPPING_PHASE, Ledger
from deskmigrate.core.payload import AttributeDeclaration, Payload, PayloadRejection
from deskmigrate.loaders.intercom.history import ConversationAttributeCheck, attribute_check
from deskmigrate.loaders.intercom.registry import staged_phases
from deskmigrate.plandiff import EXAMPLES, EntityDiff, Examples
from deskmigrate.planner import FIELD_NOTE_KIND, ChunkResult, PlanJob, Planner, default_workers
from deskmigrate.plans import DIFF, KeptPlan, PlanWriter
from deskmigrate.project import Progress, Project
from deskmigrate.reconcile import rejection_kind
from deskmigrate.transforms import Mapper, MappingReport
from deskmigrate.transforms.checks import source_field_problems
from deskmigrate.value_memo import ValueMemo, memo_path

if TYPE_CHECKING:
    from deskmigrate.target import Target

log = logging.getLogger(__name__)

# The staged entities the loader takes, in phase order, the phase that loads each and its mapping target.
PHASE_OF_ENTITY = staged_phases()
LOAD_ENTITIES = tuple(PHASE_OF_ENTITY)
MAPPING_TARGETS = {entity: phase.mapping_target for entity, phase in PHASE_OF_ENTITY.items() if phase.mapping_target}
# The ledger's meta key for the day/month order each date column showed in the last plan (see Mapper.learned_date_orders).
DATE_ORDERS_KEY = "mapping.date_orders"


@dataclass
class PlanResult:
    counts: dict[str, dict[str, int]]
    rejections: dict[str, dict[str, int]]
    tags: dict[str, int]
    mapping_report: MappingReport
    attributes: list[AttributeDeclaration]
    payload_files: dict[str, str]
    help_center: dict[str, Any] = field(default_factory=dict)  # per article, what the Help Center load will lose
    # staged contacts sharing one email: what the load will do with each group (merge into the newest, or reject_later)
    email_conflicts: list[dict[str, Any]] = field(default_factory=list)
    email_conflict_count: int = 0
    # rules reading a source field no staged record has: (YAML path, message with a did-you-mean)
    source_fields: list[tuple[str, str]] = field(default_factory=list)
    # the day/month order each date column showed, for the load's Mapper
    date_orders: dict[str, str] = field(default_factory=dict)
    # rejected records per entity by reason (masked as in the reconciliation), each with a count and the first few
    rejected_by_reason: dict[str, dict[str, Examples]] = field(default_factory=dict)
    folder: Path | None = None  # where the plan is kept (<state>/plans/<run>)
    sample: int | None = None  # records per entity when only a sample was mapped
    compared_with: str | None = None  # the earlier plan the diff is against
    diff: dict[str, EntityDiff] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts, "rejections": self.rejections, "tags": self.tags,
            "rejected_by_reason": {entity: {reason: found.as_dict() for reason, found in reasons.items()}
                                   for entity, reasons in self.rejected_by_reason.items()},
            "mapping_report": self.mapping_report.to_dict(),
            "attributes": [a.model_dump() for a in self.attributes], "payload_files": self.payload_files,
            "email_conflicts": {"groups": self.email_conflict_count, "examples": self.email_conflicts},
            "source_fields": [{"path": path, "problem": message} for path, message in self.source_fields],
            "date_orders": self.date_orders,
            **({"help_center": self.help_center} if self.help_center else {}),
            **({"folder": str(self.folder)} if self.folder else {}),
            **({"sample": self.sample} if self.sample else {}),
            **({"diff": self.diff_dict(values=False)} if self.compared_with else {}),
        }

    def diff_dict(self, *, values: bool) -> dict[str, Any]:
        """The diff against the earlier plan; `values`: with before → after examples (the plan folder's copy only)."""
        return {"compared_with": self.compared_with, "entities": {entity: diff.as_dict(values=values) for entity, diff in self.diff.items()}}


def map_staged(mapper: Mapper, ledger: Ledger, entity: str) -> Iterator[Payload | PayloadRejection]:
    for record in ledger.iter_staged(entity):
        yield mapper.map(record)


def new_mapper(project: Project, ledger: Ledger | None, date_orders: dict[str, str] | None = None, memo: ValueMemo | None = None) -> Mapper:
    """The mapper with the config's defaults and the date orders the columns showed (given, else the last plan's)."""
    defaults = project.loaded.config.defaults
    if date_orders is None:
        stored = ledger.get_meta(DATE_ORDERS_KEY) if ledger is not None else None
        date_orders = json.loads(stored) if stored else {}
    return Mapper(project.spec, phone_region=defaults.phone_region, dayfirst=defaults.dayfirst, date_orders=date_orders, memo=memo)


@dataclass
class _PlanTally:
    """What the chunks of a plan add up to."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected_by_reason: dict[str, dict[str, Examples]] = field(default_factory=dict)
    diffs: dict[str, EntityDiff] = field(default_factory=dict)
    tag_names: set[str] = field(default_factory=set)
    new_taggings: int = 0
    files: dict[str, str] = field(default_factory=dict)
    previews: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # per entity, per record: what loading it loses
    rejected: dict[str, set[str]] = field(default_factory=dict)  # per entity, the records the mapping rejected

    def add(self, entity: str, chunk: ChunkResult) -> None:
        outcome = self.counts[entity]
        for action, n in chunk.actions.items():
            outcome[action] += n
        outcome["rejected"] += len(chunk.rejected)
        reasons = self.rejected_by_reason.setdefault(entity, {})
        for rejected in chunk.rejected:
            kind = rejection_kind(rejected["reason"], rejected["field"])
            reasons.setdefault(kind, Examples()).add(rejected["source_id"], rejected["location"])
        self.rejected.setdefault(entity, set()).update(rejected["source_id"] for rejected in chunk.rejected)
        self.tag_names |= chunk.tag_names
        self.new_taggings += chunk.new_taggings
        if chunk.losses:
            self.previews.setdefault(entity, {}).update(chunk.losses)
        self.diffs.setdefault(entity, EntityDiff()).merge(chunk.diff)


def plan(project: Project, ledger: Ledger, run_id: str | None, progress: Progress, folder: Path | None, *,
         sample: int | None = None, earlier: KeptPlan | None = None) -> PlanResult:
    """Map every staged record and compare with the ledger: what would be created, updated, unchanged or rejected.

    With a `run_id`, the mapping's rejections are recorded as that run's (phase `mapping`) and those an earlier
    plan recorded that this one no longer produces are cleared. With a `folder`, the plan is kept there (payloads,
    rejections, an index: deskmigrate.plans) and compared with `earlier`. A `sample` maps that many records per
    entity, the same ones every time, and records nothing in the ledger.
    """
    memo = ValueMemo(memo_path(project.state_dir), writer=True)
    mapper = new_mapper(project, ledger, memo=memo)
    recording = run_id is not None and sample is None
    settings = project.loaded.config.load
    job = PlanJob(
        ledger_path=ledger.path, new_mapper=functools.partial(new_mapper, project, None, mapper.learned_date_orders()),
        memo_path=memo.path,
        actions={entity: phase.plan_action for entity, phase in PHASE_OF_ENTITY.items()},
        previews={entity: functools.partial(_preview, phase.preview, settings)
                  for entity, phase in PHASE_OF_ENTITY.items() if phase.preview is not None},
        record_notes=recording, judge=ledger.any_id_rows(), taggings_known=ledger.any_taggings(), earlier=earlier,
        membership=earlier is not None and not earlier.sample and not sample,
        workers=project.loaded.config.plan.workers or default_workers(),
    )
    tally = _PlanTally()
    writer = PlanWriter(folder) if folder is not None else None
    try:
        with Planner(job, mapper, ledger) as planner:
            # what the checks after the mapping read from the staged records, read meanwhile
            fields_seen = {MAPPING_TARGETS[entity]: planner.aside("staged_custom_field_keys", entity)
                           for entity in LOAD_ENTITIES if entity in MAPPING_TARGETS and ledger.count_staged(entity)}
            for entity in LOAD_ENTITIES:
                _plan_entity(planner, entity, tally, writer, progress, run_id if recording else None, sample)
            observed = {target: seen() for target, seen in fields_seen.items()}
        if writer is not None and earlier is not None and job.membership:
            for entity in dict.fromkeys([*tally.counts, *(earlier.summary.get("counts") or {})]):
                gone, examples = writer.missing_from(earlier, entity, EXAMPLES)
                removed = tally.diffs.setdefault(entity, EntityDiff()).removed
                removed.count += gone
                removed.examples.extend(examples)
    except BaseException:
        if writer is not None:
            writer.close(None)  # left incomplete: never compared with, removed by the next plan's clean-up
        raise
    finally:
        memo.close()
    result = _plan_result(project, ledger, mapper, tally, observed, sample=sample, folder=folder, earlier=earlier)
    if sample is None:
        ledger.set_meta(DATE_ORDERS_KEY, json.dumps(result.date_orders, sort_keys=True))
    if writer is not None:
        if earlier is not None:
            writer.write_json(DIFF, result.diff_dict(values=True))
        writer.close(plan_summary(run_id, result))
    return result


def _plan_entity(planner: Planner, entity: str, tally: _PlanTally, writer: PlanWriter | None, progress: Progress,
                 recording_as: str | None, sample: int | None) -> None:
    """One entity's records planned (all, or a sample), chunk by chunk into the tally, the plan folder and the ledger
    (its rejections and field notes, when `recording_as` a run; those this plan no longer makes are then cleared)."""
    ledger = planner.ledger
    total = ledger.count_staged(entity)
    if total == 0:
        return
    tally.counts[entity] = {"create": 0, "update": 0, "unchanged": 0, "rejected": 0}
    task = f"plan {entity}"
    progress.start(task, min(total, sample) if sample else total)
    began = time.monotonic()
    if writer is not None:
        tally.files[entity] = str(writer.start_entity(entity))
    chunks = [planner.records(entity, ledger.sampled_staged(entity, sample))] if sample else planner.chunks(entity, total)
    for chunk in chunks:
        tally.add(entity, chunk)
        if writer is not None:
            writer.payloads(entity, chunk.lines, chunk.rows)
            writer.rejections(entity, chunk.rejected, chunk.rejected_digests)
        if recording_as is not None:
            ledger.record_failures(recording_as, MAPPING_PHASE, ((entity, r["source_id"], r["reason"], r["field"]) for r in chunk.rejected))
            ledger.record_notices(recording_as, chunk.notes)
        progress.advance(task, chunk.count)
    progress.finish(task)
    planned, elapsed = sum(tally.counts[entity].values()), time.monotonic() - began
    log.info("planned %d %s in %.2f s (%.0f records/s, %d worker process(es))", planned, entity, elapsed,
             planned / elapsed if elapsed else 0.0, planner.processes)
    if recording_as is not None:
        ledger.clear_stale_failures(entity, MAPPING_PHASE, recording_as)
        ledger.clear_stale_notices(entity, FIELD_NOTE_KIND, recording_as)


def _plan_result(project: Project, ledger: Ledger, mapper: Mapper, tally: _PlanTally, observed: dict[str, set[str]], *,
                 sample: int | None, folder: Path | None, earlier: KeptPlan | None) -> PlanResult:
    rejections: dict[str, dict[str, int]] = {}
    for entity in tally.counts:
        target_report = mapper.report.targets.get(MAPPING_TARGETS[entity])
        reasons = target_report.rejection_reasons if target_report else {}
        rejections[entity] = {reason: stats.count for reason, stats in reasons.items()}
    rejected_by_reason = {entity: dict(sorted(reasons.items(), key=lambda kv: (-kv[1].count, kv[0])))
                          for entity, reasons in tally.rejected_by_reason.items() if reasons}
    sections: dict[str, Any] = {}  # what phases add to the plan's report (per record previews, groups of namesakes)
    for entity in tally.counts:
        if sample is not None and not tally.previews.get(entity):
            continue  # a sample reports on its records only: what all staged records show together (namesakes) is a full plan's
        sections |= PHASE_OF_ENTITY[entity].plan_report(ledger, project.loaded.config.load, tally.previews.get(entity, {}),
                                                        tally.rejected.get(entity, set()))
    return PlanResult(
        tally.counts, rejections, {"tag_names": len(tally.tag_names), "taggings_to_add": tally.new_taggings}, mapper.report,
        mapper.written_attribute_declarations(), tally.files, source_fields=source_field_problems(project.spec, observed),
        date_orders=mapper.learned_date_orders(), rejected_by_reason=rejected_by_reason, folder=folder, sample=sample,
        compared_with=earlier.run_id if earlier is not None else None, diff=tally.diffs if earlier is not None else {},
        **sections,
    )


def _preview(preview: Callable[[Ledger, Payload, LoadConfig], dict[str, Any] | None], settings: LoadConfig,
             ledger: Ledger, payload: Payload) -> dict[str, Any] | None:
    return preview(ledger, payload, settings)


def plan_summary(run_id: str | None, result: PlanResult) -> dict[str, Any]:
    """What a kept plan's summary.json says of it (read back to find the plan a new one is compared with)."""
    return {"run_id": run_id, "sample": result.sample, "counts": result.counts, "compared_with": result.compared_with,
            "rejected_by_reason": {entity: {reason: found.count for reason, found in reasons.items()}
                                   for entity, reasons in result.rejected_by_reason.items()}}


def source_field_check(project: Project, ledger: Ledger) -> list[tuple[str, str]]:
    """Rules reading a custom field that no staged record has, with a did-you-mean from the fields records do have."""
    observed: dict[str, set[str]] = {}
    for entity in LOAD_ENTITIES:
        target = MAPPING_TARGETS.get(entity)
        if target is not None and ledger.count_staged(entity):
            observed[target] = ledger.staged_custom_field_keys(entity)
    return source_field_problems(project.spec, observed)


def source_field_check_before_staging(project: Project, *, sample_source: bool, sample: int = 5000) -> list[tuple[str, str]] | None:
    """The same check for `check`: against the ledger's staged records when a run staged some, else (`sample_source`:
    a source whose own check read its files) against its first `sample` records of each entity; None when neither can say."""
    ledger_path = project.state_dir / "ledger.db"
    if ledger_path.is_file() and ledger_path.stat().st_size > 0:
        ledger = project.ledger()
        try:
            if any(ledger.count_staged(entity) for entity in LOAD_ENTITIES):
                return source_field_check(project, ledger)
        finally:
            ledger.close()
    if not sample_source:
        return None
    observed: dict[str, set[str]] = {}
    for entity in project.connector.entities():
        for count, item in enumerate(project.connector.read(entity)):
            if count >= sample:
                break
            fields = getattr(item, "custom_fields", None)
            target = MAPPING_TARGETS.get(str(getattr(item, "entity", "")))
            if target is not None and isinstance(fields, dict):
                observed.setdefault(target, set()).update(fields)
    return source_field_problems(project.spec, observed)


def conversation_attribute_check(project: Project, target: Target, attributes: list[AttributeDeclaration]) -> ConversationAttributeCheck | None:
    """The mapping's conversation attributes against the workspace's (one read); None when history goes to tickets or none are declared."""
    return attribute_check(target.client, attributes, project.spec.loader_options())
