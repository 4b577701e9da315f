"""Wires a connector, the mapping engine and the Intercom loader together: extract → plan → load, validate, rollback."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from deskmigrate.core.config import LoadedConfig, load_config, validate_section
from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.core.files import SourceFiles
from deskmigrate.core.http import RetryPolicy, WindowRateLimiter
from deskmigrate.core.ledger import MAPPING_PHASE, SKIPPED, Ledger
from deskmigrate.core.model import Record, SourceNotice, SourceRejection
from deskmigrate.core.payload import AttributeDeclaration, Payload, PayloadRejection
from deskmigrate.core.source import Connector, SourceCheckpoint, SourceContext
from deskmigrate.core.yamlfile import LocatedYaml
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.contacts import CONFLICT_EXAMPLES  # noqa: F401 (the CLI says how many groups the report lists)
from deskmigrate.loaders.intercom.history import ConversationAttributeCheck, attribute_check
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.preflight import PreflightResult, preflight
from deskmigrate.loaders.intercom.registry import PHASES, staged_phases
from deskmigrate.loaders.intercom.rollback import Rollback, RollbackReport
from deskmigrate.loaders.intercom.validate import Mismatch, Validator
from deskmigrate.reconcile import AGENTS, Reconciliation, reconcile
from deskmigrate.registry import connector_class
from deskmigrate.transforms import Mapper, MappingReport, MappingSpec, load_mapping
from deskmigrate.transforms.checks import source_field_problems

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
# Notice kinds of the mapping's field notes: "field:phone", "field:custom_attributes.plan_tier".
FIELD_NOTE_KIND = "field:"


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
    token = target.token.get_secret_value()
    sandbox: SandboxServer | None = None
    base_url = target.api_base_url()
    if target.type == "sandbox" and not target.base_url:
        from deskmigrate.sandbox import SandboxServer, SandboxSettings

        path = project.loaded.resolve(target.path) if target.path else project.state_dir / "sandbox.db"
        sandbox = SandboxServer(SandboxSettings(
            path=path, token=token, rate_limit=target.rate_limit, latency_ms=target.latency_ms,
            error_rate=target.error_rate, drop_rate=target.drop_rate, search_delay_s=target.search_delay_s,
            seed=target.fault_seed, conversation_attributes=dict(target.conversation_attributes),
        ))
        base_url = sandbox.start()
    assert base_url is not None
    load = project.loaded.config.load
    limiter = WindowRateLimiter.for_intercom()
    policy = policy or RetryPolicy(max_attempts=load.max_attempts, deadline_s=load.retry_deadline_s)
    client = IntercomClient(
        base_url, token, target.version, timeout_s=timeout_s or target.timeout_s, limiter=limiter, policy=policy,
        pool_size=max(16, load.concurrency * 2),
    )
    try:
        yield Target(client=client, limiter=limiter, sandbox=sandbox, base_url=base_url)
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "staged": self.staged, "rejected": self.rejected, "duplicates": self.duplicates, "skipped": self.skipped,
            "notices": self.notices, "notice_count": self.notice_count,
        }


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
    return result


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts, "rejections": self.rejections, "tags": self.tags,
            "mapping_report": self.mapping_report.to_dict(),
            "attributes": [a.model_dump() for a in self.attributes], "payload_files": self.payload_files,
            "email_conflicts": {"groups": self.email_conflict_count, "examples": self.email_conflicts},
            "source_fields": [{"path": path, "problem": message} for path, message in self.source_fields],
            "date_orders": self.date_orders,
            **({"help_center": self.help_center} if self.help_center else {}),
        }


def map_staged(mapper: Mapper, ledger: Ledger, entity: str) -> Iterator[Payload | PayloadRejection]:
    for record in ledger.iter_staged(entity):
        yield mapper.map(record)


def new_mapper(project: Project, ledger: Ledger, date_orders: dict[str, str] | None = None) -> Mapper:
    """The mapper with the config's defaults and the date orders the columns showed (given, else the last plan's)."""
    defaults = project.loaded.config.defaults
    if date_orders is None:
        stored = ledger.get_meta(DATE_ORDERS_KEY)
        date_orders = json.loads(stored) if stored else {}
    return Mapper(project.spec, phone_region=defaults.phone_region, dayfirst=defaults.dayfirst, date_orders=date_orders)


def plan(project: Project, ledger: Ledger, run_id: str | None, progress: Progress, out_dir: Path | None) -> PlanResult:
    """Map every staged record and compare with the ledger: what would be created, updated, unchanged or rejected.

    With a `run_id`, the mapping's rejections are recorded as that run's (phase `mapping`) and those an earlier
    plan recorded that this one no longer produces are cleared.
    """
    mapper = new_mapper(project, ledger)
    counts: dict[str, dict[str, int]] = {}
    rejections: dict[str, dict[str, int]] = {}
    new_taggings = 0
    tag_names: set[str] = set()
    files: dict[str, str] = {}
    settings = project.loaded.config.load
    sections: dict[str, Any] = {}  # what phases add to the plan's report (per record previews, groups of namesakes)
    if out_dir is not None:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entity, phase in PHASE_OF_ENTITY.items():
        total = ledger.count_staged(entity)
        if total == 0:
            continue
        previews: dict[str, dict[str, Any]] = {}
        rejected: set[str] = set()
        outcome = counts.setdefault(entity, {"create": 0, "update": 0, "unchanged": 0, "rejected": 0})
        notes: list[tuple[str, str, str, str]] = []
        progress.start(f"plan {entity}", total)
        sink = (out_dir / f"{entity}.jsonl").open("w", encoding="utf-8") if out_dir is not None else None
        if out_dir is not None:
            (out_dir / f"{entity}.jsonl").chmod(0o600)  # the would-be payloads hold customer data, like the ledger
        try:
            for result in map_staged(mapper, ledger, entity):
                progress.advance(f"plan {entity}")
                if isinstance(result, PayloadRejection):
                    outcome["rejected"] += 1
                    rejected.add(result.source_id)
                    if run_id is not None:
                        ledger.record_failure(run_id, MAPPING_PHASE, entity, result.source_id, result.reason, field=result.field)
                    continue
                action = phase.plan_action(ledger, result)
                outcome[action] += 1
                if run_id is not None and result.notes:
                    notes.extend(field_note_notices(entity, result))
                    if len(notes) >= STAGE_BATCH:
                        ledger.record_notices(run_id, notes)
                        notes = []
                preview = phase.preview(ledger, result, settings) if phase.preview is not None else None
                if preview:
                    previews[result.source_id] = preview
                wanted_tags = {t.strip().lower() for t in result.tags if t.strip()}
                tag_names |= wanted_tags
                new_taggings += len(wanted_tags - ledger.applied_taggings(entity, result.source_id))
                if sink is not None:
                    sink.write(json.dumps({"action": action, "entity": entity, "source_id": result.source_id,
                                           "body": result.body, "companies": result.company_source_ids,
                                           "tags": result.tags}, default=str, ensure_ascii=False) + "\n")
        finally:
            if sink is not None:
                sink.close()
                files[entity] = str(out_dir / f"{entity}.jsonl")  # type: ignore[operator]
            progress.finish(f"plan {entity}")
        if run_id is not None:
            ledger.record_notices(run_id, notes)
            ledger.clear_stale_failures(entity, MAPPING_PHASE, run_id)
            ledger.clear_stale_notices(entity, FIELD_NOTE_KIND, run_id)
        sections |= phase.plan_report(ledger, settings, previews, rejected)
    for entity in counts:
        target_report = mapper.report.targets.get(MAPPING_TARGETS[entity])
        reasons = target_report.rejection_reasons if target_report else {}
        rejections[entity] = {reason: stats.count for reason, stats in reasons.items()}
    tags = {"tag_names": len(tag_names), "taggings_to_add": new_taggings}
    date_orders = mapper.learned_date_orders()
    ledger.set_meta(DATE_ORDERS_KEY, json.dumps(date_orders, sort_keys=True))
    return PlanResult(
        counts, rejections, tags, mapper.report, mapper.written_attribute_declarations(), files,
        source_fields=source_field_check(project, ledger), date_orders=date_orders, **sections,
    )


def field_note_notices(entity: str, payload: Payload) -> Iterator[tuple[str, str, str, str]]:
    """A payload's field notes as ledger notices: the rule's field, why, what was done, the kind of value and where."""
    for note in payload.notes:
        where = f" ({note.location})" if note.location else ""
        kind = f" [{note.value_kind}]" if note.value_kind else ""
        detail = f"{note.reason}: {note.action.replace('_', ' ')}{kind}{where}"
        yield entity, payload.source_id, f"{FIELD_NOTE_KIND}{note.field}"[:120], detail


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
    """Preflight, then each phase in order over the staged records, mapping them as they stream."""
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
    mapper = new_mapper(project, ledger, planned.date_orders)
    phases: list[PhaseResult] = []
    for phase in PHASES:
        if not phase.runs(ledger):  # asked as its turn comes: what earlier phases wrote may decide it
            continue
        payloads: Iterable[Payload] = ()
        if phase.entity is not None:
            payloads = (p for p in map_staged(mapper, ledger, phase.entity) if isinstance(p, Payload))
        # The mapping's rejections never reach the phase: its bar counts them apart and ends at what it can load.
        units = phase.units(ledger)
        rejected = planned.counts.get(phase.entity or "", {}).get("rejected", 0) if units else 0
        progress.start(phase.name, (units - rejected) if units else None)
        if rejected:
            progress.count(phase.name, "rejected", rejected)
        began = time.monotonic()
        result = phase.load(loader, payloads)
        result.duration_s = time.monotonic() - began
        phases.append(result)
        progress.finish(phase.name)
    for phase in PHASES:
        phase.finish(loader)
    details = {name: value.as_dict() if hasattr(value, "as_dict") else value for name, value in loader.details.items()}
    return LoadResult(preflight=preflight_result, phases=phases, details=details, agent_admins=dict(loader.agent_admins))


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
