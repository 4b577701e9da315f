"""Wires a connector, the mapping engine and the Intercom loader together: extract → plan → load, validate, rollback."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from deskmigrate.core.config import LoadConfig, LoadedConfig, load_config, validate_section
from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.core.files import SourceFiles
from deskmigrate.core.http import RetryPolicy, WindowRateLimiter, WorkspaceCap
from deskmigrate.core.ledger import MAPPING_PHASE, SKIPPED, Ledger
from deskmigrate.core.model import Record, SourceNotice, SourceRejection
from deskmigrate.core.payload import AttributeDeclaration, Payload, PayloadRejection
from deskmigrate.core.source import Connector, SourceCheckpoint, SourceContext
from deskmigrate.core.yamlfile import LocatedYaml
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.contacts import CONFLICT_EXAMPLES  # noqa: F401 (the CLI says how many groups the report lists)
from deskmigrate.loaders.intercom.history import ConversationAttributeCheck, attribute_check
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.preflight import PreflightResult, preflight
from deskmigrate.loaders.intercom.registry import PHASES, staged_phases
from deskmigrate.loaders.intercom.rollback import Rollback, RollbackReport
from deskmigrate.loaders.intercom.schedule import run_phases
from deskmigrate.loaders.intercom.validate import Mismatch, Validator
from deskmigrate.plandiff import EXAMPLES, EntityDiff, Examples
from deskmigrate.planner import FIELD_NOTE_KIND, ChunkResult, PlanJob, Planner, default_workers
from deskmigrate.plans import DIFF, KeptPlan, PlanWriter
from deskmigrate.reconcile import AGENTS, Reconciliation, reconcile, rejection_kind
from deskmigrate.registry import connector_class
from deskmigrate.source_reads import EntityRead, fingerprint, forget_read, last_read, remember_read
from deskmigrate.transforms import Mapper, MappingReport, MappingSpec, load_mapping
from deskmigrate.transforms.checks import source_field_problems
from deskmigrate.value_memo import ValueMemo, memo_path

if TYPE_CHECKING:  # the sandbox is imported when a command starts one, not with every command
    from deskmigrate.sandbox import SandboxServer

log = logging.getLogger(__name__)

# The staged entities the loader takes, in phase order, the phase that loads each and its mapping target.
PHASE_OF_ENTITY = staged_phases()
LOAD_ENTITIES = tuple(PHASE_OF_ENTITY)
MAPPING_TARGETS = {entity: phase.mapping_target for entity, phase in PHASE_OF_ENTITY.items() if phase.mapping_target}
STAGE_BATCH = 500
NOTICE_EXAMPLES = 20
# The ledger's meta key for the day/month order each date column showed in the last plan (see Mapper.learned_date_orders).
DATE_ORDERS_KEY = "mapping.date_orders"


class Progress(Protocol):
    """How the pipeline reports progress; the CLI draws bars, tests pass a silent one."""

    def start(self, task: str, total: int | None) -> None: ...
    def advance(self, task: str, n: int = 1) -> None: ...
    def count(self, task: str, outcome: str, n: int = 1) -> None: ...  # "rejected", "failed": shown beside the bar
    def finish(self, task: str) -> None: ...


class SilentProgress:
    def start(self, task: str, total: int | None) -> None:
        pass

    def count(self, task: str, outcome: str, n: int = 1) -> None:
        pass

    def advance(self, task: str, n: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


@dataclass
class Project:
    """A validated config with its connector and mapping: everything a command needs."""

    loaded: LoadedConfig
    connector: Connector
    spec: MappingSpec

    @property
    def state_dir(self) -> Path:
        return self.loaded.resolve(self.loaded.config.state)

    @property
    def secrets(self) -> list[str]:
        return self.loaded.secrets

    def ledger(self) -> Ledger:
        return Ledger(self.state_dir / "ledger.db")


def open_project(config_path: Path) -> Project:
    """Validate the config, the source section and the mapping; raise one error listing every problem."""
    checked: dict[str, Any] = {}

    def check_source_and_mapping(data: dict[str, Any], located: LocatedYaml, base_dir: Path) -> list[Problem]:
        source = data.get("source") if isinstance(data.get("source"), dict) else None
        if source is None or not isinstance(source.get("type"), str):
            return []
        try:
            connector_type = connector_class(source["type"])
        except KeyError as unknown:
            return [located.problem(("source", "type"), str(unknown.args[0]))]
        source_config, problems = validate_section(connector_type.config_model, source, located, ("source",))
        mapping_ref = data.get("mapping")
        if isinstance(mapping_ref, str) and ("/" in mapping_ref or mapping_ref.endswith((".yaml", ".yml"))):
            mapping_ref = base_dir / mapping_ref
        overrides = data.get("overrides") or []
        overrides = [overrides] if isinstance(overrides, str) else overrides
        try:
            checked["spec"] = load_mapping(source["type"], mapping_ref, [base_dir / str(p) for p in overrides])
        except MappingError as error:
            problems.extend(error.problems)
        checked["connector_type"], checked["source_config"] = connector_type, source_config
        return problems

    loaded = load_config(config_path, check_source_and_mapping)
    connector = checked["connector_type"](checked["source_config"], SourceContext(base_dir=loaded.base_dir, cursors=None))
    return Project(loaded=loaded, connector=connector, spec=checked["spec"])


def _bind_cursors(project: Project, ledger: Ledger) -> None:
    project.connector.context.cursors = ledger


# -- target ----------------------------------------------------------------------------------------


@dataclass
class Target:
    client: IntercomClient
    limiter: WindowRateLimiter
    sandbox: SandboxServer | None
    base_url: str


@contextmanager
def open_target(project: Project, policy: RetryPolicy | None = None, timeout_s: float | None = None) -> Iterator[Target]:
    """The Intercom client for the configured target; a sandbox target is started in-process for the command.

    `policy` and `timeout_s` override the configured retries and timeout, for commands that only peek (check, plan) and
    should not wait long.
    """
    target = project.loaded.config.target
    tokens = target.access_tokens()
    sandbox: SandboxServer | None = None
    base_url = target.api_base_url()
    if target.type == "sandbox" and not target.base_url:
        from deskmigrate.sandbox import SandboxServer, SandboxSettings

        path = project.loaded.resolve(target.path) if target.path else project.state_dir / "sandbox.db"
        sandbox = SandboxServer(SandboxSettings(
            path=path, token=tokens[0], extra_tokens=tokens[1:], rate_limit=target.rate_limit,
            workspace_rate_limit=target.workspace_rate_limit if target.rate_limit else None, latency_ms=target.latency_ms,
            error_rate=target.error_rate, drop_rate=target.drop_rate, search_delay_s=target.search_delay_s,
            seed=target.fault_seed, conversation_attributes=dict(target.conversation_attributes),
        ))
        base_url = sandbox.start()
    assert base_url is not None
    load = project.loaded.config.load
    policy = policy or RetryPolicy(max_attempts=load.max_attempts, deadline_s=load.retry_deadline_s)
    client = IntercomClient(
        base_url, tokens, target.version, timeout_s=timeout_s or target.timeout_s,
        workspace_cap=WorkspaceCap.per_minute(cap) if (cap := target.workspace_cap()) else None, policy=policy, pool_size=max(16, load.concurrency * 2),
    )
    try:
        yield Target(client=client, limiter=client.limiter, sandbox=sandbox, base_url=base_url)
    finally:
        client.close()
        if sandbox is not None:
            sandbox.stop()


def conversation_attribute_check(project: Project, target: Target, attributes: list[AttributeDeclaration]) -> ConversationAttributeCheck | None:
    """The mapping's conversation attributes against the workspace's (one read); None when history goes to tickets or none are declared."""
    return attribute_check(target.client, attributes, project.spec.loader_options())


# -- extract ---------------------------------------------------------------------------------------


@dataclass
class ExtractResult:
    staged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # left out on purpose by the source (deleted there)
    notices: list[dict[str, Any]] = field(default_factory=list)
    notice_count: int = 0
    # entities not read again, their files unchanged since the complete read of this run: their counts are that read's
    unchanged: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "staged": self.staged, "rejected": self.rejected, "duplicates": self.duplicates, "skipped": self.skipped,
            "notices": self.notices, "notice_count": self.notice_count, "unchanged": self.unchanged,
        }

    def counts(self) -> tuple[dict[str, int], ...]:
        return self.staged, self.rejected, self.duplicates, self.skipped


def describe_source_reading(project: Project, ledger: Ledger) -> dict[str, Any] | None:
    """How the next extract will read the source (endpoints, strategy, estimated calls), for connectors that can say."""
    _bind_cursors(project, ledger)
    return project.connector.describe_plan()


def extract(project: Project, ledger: Ledger, run_id: str, progress: Progress, since: datetime | None = None) -> ExtractResult:
    """Stream every entity the source has into the ledger, page by page, with its cursor in the same transaction."""
    _bind_cursors(project, ledger)
    result = ExtractResult()
    source = project.connector.name
    for entity in project.connector.entities():
        files = project.connector.files_read(entity) if since is None else None
        marker = fingerprint(project.loaded.config.source.model_dump(mode="json"), files, project.secrets) if files is not None else None
        earlier = last_read(ledger, source, entity) if marker is not None else None
        if earlier is not None and earlier.fingerprint == marker:
            _said_again(result, earlier)
            result.unchanged[entity] = earlier.run_id
            log.info("%s: not read again, its files are unchanged since run %s", entity, earlier.run_id)
            continue
        before = [dict(counts) for counts in result.counts()], len(result.notices), result.notice_count
        forget_read(ledger, source, entity)
        fresh = ledger.get_cursor(source, entity) is None and since is None
        if fresh:
            ledger.clear_failures(entity, "extract")
        progress.start(f"extract {entity}", None)
        batch: list[Record] = []
        produced: set[str] = set()
        for item in project.connector.read(entity, since=since):
            if not isinstance(item, SourceCheckpoint):
                produced.add(item.entity)
            if isinstance(item, SourceCheckpoint):
                _stage(ledger, run_id, batch, result, (source, item.entity, item.cursor))
                batch = []
            elif isinstance(item, SourceRejection):
                key = item.source_id or item.location
                ledger.record_failure(run_id, "extract", item.entity, key, f"{item.location}: {item.reason}", field=item.field)
                result.rejected[item.entity] = result.rejected.get(item.entity, 0) + 1
            elif isinstance(item, SourceNotice):
                if item.skip_reason and item.source_id:
                    ledger.record_notice(run_id, item.entity, item.source_id, SKIPPED, item.skip_reason)
                    result.skipped[item.entity] = result.skipped.get(item.entity, 0) + 1
                _notice(result, item.entity, item.source_id, item.location, item.message)
            else:
                batch.append(item)
                progress.advance(f"extract {entity}")
                if len(batch) >= STAGE_BATCH:
                    _stage(ledger, run_id, batch, result, None)
                    batch = []
        _stage(ledger, run_id, batch, result, None)
        if fresh:
            # One read can yield several kinds (Zendesk users: contacts and agents): a full re-read settles the
            # old extract failures of every kind it produced that it did not report again.
            for other in produced - {entity}:
                ledger.clear_stale_failures(other, "extract", run_id)
        progress.finish(f"extract {entity}")
        if marker is not None:
            remember_read(ledger, source, entity, _what_the_read_added(result, before, run_id, marker))
    return result


def _what_the_read_added(result: ExtractResult, before: tuple[list[dict[str, int]], int, int], run_id: str, marker: str) -> EntityRead:
    counts_before, notices_before, notice_count_before = before
    added = [{kind: n - earlier.get(kind, 0) for kind, n in now.items() if n != earlier.get(kind, 0)}
             for now, earlier in zip(result.counts(), counts_before, strict=True)]
    return EntityRead(run_id, marker, staged=added[0], rejected=added[1], duplicates=added[2], skipped=added[3],
                      notices=result.notices[notices_before:], notice_count=result.notice_count - notice_count_before)


def _said_again(result: ExtractResult, earlier: EntityRead) -> None:
    """An entity not read again counts what its last read found, and says its notices again."""
    for mine, theirs in zip(result.counts(), (earlier.staged, earlier.rejected, earlier.duplicates, earlier.skipped), strict=True):
        for kind, n in theirs.items():
            mine[kind] = mine.get(kind, 0) + n
    result.notice_count += earlier.notice_count
    result.notices.extend(earlier.notices[: max(0, NOTICE_EXAMPLES - len(result.notices))])


def _stage(ledger: Ledger, run_id: str, batch: list[Record], result: ExtractResult, cursor: tuple[str, str, str] | None) -> None:
    if not batch and cursor is None:
        return
    for duplicate in ledger.stage(run_id, batch, cursor):
        entity = duplicate.entity
        result.duplicates[entity] = result.duplicates.get(entity, 0) + 1
        result.staged[entity] = result.staged.get(entity, 0) - 1  # the record replaces one staged earlier: not one more
        places = [place for place in (duplicate.previous_location, duplicate.record.location) if place]
        where = f" ({' and '.join(places)})" if places else ""
        _notice(result, entity, duplicate.source_id, duplicate.record.location,
                f"duplicate source id {duplicate.source_id!r}{where}: the last occurrence wins")
    for record in batch:
        entity = record.entity  # type: ignore[attr-defined]
        result.staged[entity] = result.staged.get(entity, 0) + 1


def _notice(result: ExtractResult, entity: str, source_id: str | None, location: str | None, message: str) -> None:
    result.notice_count += 1
    if len(result.notices) < NOTICE_EXAMPLES:
        result.notices.append({"entity": entity, "source_id": source_id, "location": location, "message": message})


# -- plan ------------------------------------------------------------------------------------------


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


# -- load ------------------------------------------------------------------------------------------


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


def source_files(project: Project) -> SourceFiles | None:
    """The source's own file access (credentials kept to its hosts), for Help Center images and attachments."""
    return project.connector.source_files()


# -- validate and rollback ---------------------------------------------------------------------------


def validate(project: Project, ledger: Ledger, target: Target, progress: Progress) -> tuple[list[Mismatch], dict[str, int]]:
    validator = Validator(target.client, ledger, project.loaded.config.load.concurrency, on_progress=progress.advance)
    for entity in LOAD_ENTITIES:
        progress.start(entity, ledger.count_id_rows(entity))
    mismatches = validator.run()
    for entity in LOAD_ENTITIES:
        progress.finish(entity)
    return mismatches, validator.checked


def reconciliation(ledger: Ledger, run_id: str | None, agent_admins: dict[str, str] | None = None) -> Reconciliation:
    """Every record the source gave, each with one outcome, per entity in phase order (agents last)."""
    entities = [entity for entity in (*LOAD_ENTITIES, AGENTS) if ledger.count_staged(entity)]
    return reconcile(ledger, run_id, entities, agent_admins)


def rollback(ledger: Ledger, target: Target, run_ids: list[str]) -> RollbackReport:
    return Rollback(target.client, ledger).run(run_ids)


def write_report(project: Project, run_id: str, report: dict[str, Any]) -> Path:
    """The machine-readable report of one run, in the state folder (0600: it names customer records)."""
    folder = project.state_dir / "reports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    text = json.dumps(report, indent=2, default=str, ensure_ascii=False)
    for secret in project.secrets:
        text = text.replace(secret, "***")
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path
