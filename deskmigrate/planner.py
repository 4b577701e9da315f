"""Plans staged records chunk by chunk: maps each, judges it against the ledger as the load would (create, update,
unchanged), compares it with an earlier plan, and hands back the plan folder's lines.

Mapping is CPU-bound, so with many records and a platform that can fork the chunks are mapped in worker processes
(each reads the ledger through its own connection: SQLite's WAL lets readers work beside the writer). Results are
taken in source order and each worker starts a chunk from the state the plan had when the entity began; a chunk
that read dates of a column ambiguously whose order an earlier chunk proved is mapped again here with that order.
The plan is therefore the one a single process makes, record for record.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import multiprocessing
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Record
from deskmigrate.core.payload import Payload, PayloadRejection
from deskmigrate.plandiff import DiffCollector, EntityDiff
from deskmigrate.plans import KeptPlan, PlanIndex, digest_of
from deskmigrate.reconcile import rejection_kind
from deskmigrate.transforms import Mapper, MapperState, MappingReport
from deskmigrate.value_memo import ValueMemo

log = logging.getLogger(__name__)

CHUNK_RECORDS = 5000
# Below this many records of one entity, starting workers costs more than it saves.
PARALLEL_FROM = 4 * CHUNK_RECORDS
# Notice kinds of the mapping's field notes: "field:phone", "field:custom_attributes.plan_tier".
FIELD_NOTE_KIND = "field:"

# A payload's JSON, written by pydantic's serializer (a third of json.dumps' time); keys in the order the mapping made them.
PAYLOAD_JSON: TypeAdapter[Any] = TypeAdapter(Any)

PlanAction = Callable[[Ledger, Payload], str]
# What loading one payload will lose or change, for entities whose phase can tell before the load (articles); None: nothing.
Preview = Callable[[Ledger, Payload], dict[str, Any] | None]


def can_fork() -> bool:
    """Worker processes are forked (they inherit the compiled mapping and start in milliseconds) on Linux only: macOS
    forks are unsafe with system frameworks loaded, and spawning would re-import everything."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass
class PlanJob:
    """What planning any chunk needs, the same for the whole plan; forked workers inherit it."""

    ledger_path: Path
    new_mapper: Callable[[ValueMemo | None], Mapper]
    actions: dict[str, PlanAction]
    previews: dict[str, Preview] = field(default_factory=dict)
    record_notes: bool = True  # collect the field notes (a plan of a run records them in the ledger)
    judge: bool = True  # the ledger knows records: ask it per record (else each is a create)
    taggings_known: bool = True  # the ledger knows taggings: ask it which tags a record has
    earlier: KeptPlan | None = None  # the plan to compare with
    membership: bool = True  # count records new to this plan (False when either plan is a sample)
    workers: int = 1
    memo_path: Path | None = None  # where costly transforms remember their verdicts (deskmigrate.value_memo)


@dataclass
class ChunkResult:
    """One chunk planned: its lines for the plan folder and what it adds to the plan's counts."""

    count: int = 0
    lines: list[bytes] = field(default_factory=list)
    rows: list[tuple[str, str, int]] = field(default_factory=list)  # per line: source id, action, payload digest
    actions: Counter[str] = field(default_factory=Counter)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {entity, source_id, location, field, reason}
    rejected_digests: list[int] = field(default_factory=list)
    notes: list[tuple[str, str, str, str]] = field(default_factory=list)
    tag_names: set[str] = field(default_factory=set)
    new_taggings: int = 0
    losses: dict[str, dict[str, Any]] = field(default_factory=dict)  # by source id: what loading the record loses
    diff: EntityDiff = field(default_factory=EntityDiff)
    report: MappingReport | None = None  # set when mapped by a worker: merged into the plan's
    state: MapperState | None = None
    memo_rows: list[tuple[str, int, str]] = field(default_factory=list)  # verdicts a worker reached, for the parent to keep


def field_note_notices(entity: str, payload: Payload) -> Iterator[tuple[str, str, str, str]]:
    """A payload's field notes as ledger notices: the rule's field, why, what was done, the kind of value and where."""
    for note in payload.notes:
        where = f" ({note.location})" if note.location else ""
        kind = f" [{note.value_kind}]" if note.value_kind else ""
        detail = f"{note.reason}: {note.action.replace('_', ' ')}{kind}{where}"
        yield entity, payload.source_id, f"{FIELD_NOTE_KIND}{note.field}"[:120], detail


def plan_records(job: PlanJob, entity: str, mapper: Mapper, ledger: Ledger, records: Iterable[Record],
                 earlier: PlanIndex | None) -> ChunkResult:
    """Map and judge `records` of `entity`, in order."""
    action_of = job.actions[entity]
    preview = job.previews.get(entity)
    collector = DiffCollector(entity, earlier, membership=job.membership)
    result = ChunkResult(diff=collector.diff)
    if earlier is not None:
        records = list(records)  # a chunk: its records are compared with the earlier plan in one lookup
        collector.expect([record.source_id for record in records])
    quoted_entity = json.dumps(entity)
    for record in records:
        result.count += 1
        mapped = mapper.map(record)
        location = getattr(record, "location", None)
        if isinstance(mapped, PayloadRejection):
            digest = digest_of(rejection_kind(mapped.reason, mapped.field))
            result.rejected.append({"entity": entity, "source_id": mapped.source_id, "location": location, "field": mapped.field,
                                    "reason": mapped.reason})
            result.rejected_digests.append(digest)
            collector.rejection(mapped.source_id, mapped.reason, mapped.field, digest, location)
            continue
        action = action_of(ledger, mapped) if job.judge else "create"
        result.actions[action] += 1
        if job.record_notes and mapped.notes:
            result.notes.extend(field_note_notices(entity, mapped))
        if preview is not None and (loss := preview(ledger, mapped)):
            result.losses[mapped.source_id] = loss
        wanted = {tag.strip().lower() for tag in mapped.tags if tag.strip()}
        if wanted:
            result.tag_names |= wanted
            result.new_taggings += len(wanted - ledger.applied_taggings(entity, mapped.source_id)) if job.taggings_known else len(wanted)
        payload_json = PAYLOAD_JSON.dump_json({"body": mapped.body, "companies": mapped.company_source_ids, "tags": mapped.tags},
                                              fallback=str)
        digest = digest_of(payload_json)
        head = f'{{"action": "{action}", "entity": {quoted_entity}, "source_id": {json.dumps(mapped.source_id, ensure_ascii=False)}, '
        result.lines.append(head.encode("utf-8") + payload_json[1:] + b"\n")
        result.rows.append((mapped.source_id, action, digest))
        collector.payload(mapped.source_id, action, digest, mapped.body, mapped.company_source_ids, mapped.tags, location)
    return result


# -- worker processes -------------------------------------------------------------------------------------

_JOB: PlanJob | None = None
_WORKER: tuple[Ledger, Mapper, PlanIndex | None] | None = None


def _start_worker() -> None:
    global _WORKER
    gc.freeze()  # what the parent had stays untouched: no copy-on-write from the collector walking it
    assert _JOB is not None
    memo = ValueMemo(_JOB.memo_path, writer=False) if _JOB.memo_path is not None else None
    _WORKER = (Ledger(_JOB.ledger_path), _JOB.new_mapper(memo), PlanIndex(_JOB.earlier) if _JOB.earlier else None)


def _plan_chunk_in_worker(entity: str, after_seq: int, to_seq: int, state: MapperState) -> ChunkResult:
    assert _JOB is not None and _WORKER is not None
    ledger, mapper, earlier = _WORKER
    report = MappingReport()
    mapper.resume(state, report)
    result = plan_records(_JOB, entity, mapper, ledger, ledger.iter_staged(entity, after_seq=after_seq, to_seq=to_seq), earlier)
    result.report, result.state = report, mapper.state()
    result.memo_rows = mapper.memo.learned() if isinstance(mapper.memo, ValueMemo) else []
    return result


def _ledger_read(method: str, *args: Any) -> Any:
    assert _WORKER is not None
    return getattr(_WORKER[0], method)(*args)


class Planner:
    """Plans entity after entity with one mapper (`mapper` ends up holding the whole plan's report and state)."""

    def __init__(self, job: PlanJob, mapper: Mapper, ledger: Ledger) -> None:
        """`mapper` maps here; its memo, if any, is the one this process writes what workers learn into."""
        self.job = job
        self.mapper = mapper
        self.ledger = ledger
        self.earlier = PlanIndex(job.earlier) if job.earlier is not None else None
        self._pool: ProcessPoolExecutor | None = None
        self._remapper: Mapper | None = None
        self.processes = 1  # how many processes mapped the last entity
        self.parallel = job.workers > 1 and can_fork() and max((ledger.count_staged(e) for e in job.actions), default=0) >= PARALLEL_FROM

    def aside(self, method: str, *args: Any) -> Callable[[], Any]:
        """A read of the ledger (`Ledger.<method>(*args)`) to run beside the mapping, in a worker when there are workers;
        call what this returns for its result."""
        if self.parallel:
            return self._workers().submit(_ledger_read, method, *args).result
        return functools.partial(getattr(self.ledger, method), *args)

    def __enter__(self) -> Planner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        global _JOB
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            _JOB = None
        if self.earlier is not None:
            self.earlier.close()
            self.earlier = None

    def chunks(self, entity: str, total: int) -> Iterator[ChunkResult]:
        """The entity's staged records planned, chunk by chunk in source order."""
        bounds = self.ledger.staged_chunks(entity, CHUNK_RECORDS)
        if self.parallel and total >= PARALLEL_FROM and len(bounds) > 1:
            self.processes = self.job.workers
            yield from self._in_workers(entity, bounds)
            return
        self.processes = 1
        for after_seq, to_seq in bounds:
            result = plan_records(self.job, entity, self.mapper, self.ledger,
                                  self.ledger.iter_staged(entity, after_seq=after_seq, to_seq=to_seq), self.earlier)
            self._keep(self._learned_here())
            yield result

    def records(self, entity: str, records: Iterable[Record]) -> ChunkResult:
        """Given records of `entity` (a sample), planned here."""
        result = plan_records(self.job, entity, self.mapper, self.ledger, records, self.earlier)
        self._keep(self._learned_here())
        return result

    def _learned_here(self) -> list[tuple[str, int, str]]:
        return self.mapper.memo.learned() if isinstance(self.mapper.memo, ValueMemo) else []

    def _keep(self, rows: list[tuple[str, int, str]]) -> None:
        if rows and isinstance(self.mapper.memo, ValueMemo):
            self.mapper.memo.keep(rows)

    def _workers(self) -> ProcessPoolExecutor:
        global _JOB
        if self._pool is None:
            _JOB = self.job
            self._pool = ProcessPoolExecutor(self.job.workers, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker)
        return self._pool

    def _in_workers(self, entity: str, bounds: list[tuple[int, int]]) -> Iterator[ChunkResult]:
        pool = self._workers()
        start = self.mapper.state()
        waiting = iter(bounds)
        window: deque[tuple[tuple[int, int], Future[ChunkResult]]] = deque()

        def submit(bound: tuple[int, int]) -> None:
            window.append((bound, pool.submit(_plan_chunk_in_worker, entity, bound[0], bound[1], start)))

        for bound in islice(waiting, 2 * self.job.workers):
            submit(bound)
        while window:
            bound, future = window.popleft()
            result = future.result()
            following = next(waiting, None)
            if following is not None:
                submit(following)
            assert result.report is not None and result.state is not None
            self._keep(result.memo_rows)
            if self._read_before_proved(result.report, start):
                result = self._map_again(entity, bound)
            else:
                self.mapper.absorb(result.state, result.report)
            yield result

    def _read_before_proved(self, report: MappingReport, start: MapperState) -> bool:
        """Whether the chunk read dates of a column ambiguously whose order an earlier chunk of this entity proved."""
        known = self.mapper.learned_date_orders()
        return any(f"{target}.{to}" in known and f"{target}.{to}" not in start.date_orders
                   for target, target_report in report.targets.items() for to in target_report.ambiguous_dates)

    def _map_again(self, entity: str, bound: tuple[int, int]) -> ChunkResult:
        if self._remapper is None:
            self._remapper = self.job.new_mapper(self.mapper.memo)
        report = MappingReport()
        self._remapper.resume(self.mapper.state(), report)
        records = self.ledger.iter_staged(entity, after_seq=bound[0], to_seq=bound[1])
        result = plan_records(self.job, entity, self._remapper, self.ledger, records, self.earlier)
        self.mapper.absorb(self._remapper.state(), report)
        self._keep(self._learned_here())
        return result
