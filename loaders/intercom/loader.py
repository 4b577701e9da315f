"""The load's kernel: the run context every phase works in (`IntercomLoader`), a phase's counts, the concurrent runner.

A phase gets the context and its payloads; the context holds what phases share (the client, the ledger, the run, the
settings, agents matched to admins, the slots of records in flight, the records settled so far for phases that overlap)
and runs a phase's records concurrently, failing one record at a time.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.errors import AuthError, LoadError
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.facts import TagNames

if TYPE_CHECKING:
    from deskmigrate.core.files import SourceFiles

log = logging.getLogger(__name__)

T = TypeVar("T")
ProgressCallback = Callable[[str, int], None]
RecordKey = tuple[str, str]  # (staged entity, source id)

# An object found after a crash mid-create is ours if Intercom created it no earlier than this many seconds before we
# marked the create as pending (allows for clock skew).
RECONCILE_SKEW_S = 120.0
COUNTED = ("created", "updated", "adopted", "unchanged", "failed")


def singular(entity: str) -> str:
    """contacts → contact, companies → company: how a record is named in what people read."""
    return entity[:-3] + "y" if entity.endswith("ies") else entity[:-1]


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass
class PhaseResult:
    phase: str
    created: int = 0
    updated: int = 0
    adopted: int = 0
    unchanged: int = 0
    failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    duration_s: float | None = None  # set by whoever ran the phase
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            if outcome in COUNTED:
                setattr(self, outcome, getattr(self, outcome) + n)
            else:
                self.extra[outcome] = self.extra.get(outcome, 0) + n

    def ensure(self, *outcomes: str) -> None:
        """Outcome keys that are always reported, zero or not, so reports keep the same keys run after run."""
        with self._lock:
            for outcome in outcomes:
                if outcome not in COUNTED:
                    self.extra.setdefault(outcome, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase, "created": self.created, "updated": self.updated, "adopted": self.adopted,
            "unchanged": self.unchanged, "failed": self.failed, **self.extra,
            **({"duration_s": round(self.duration_s, 3)} if self.duration_s is not None else {}),
        }


class SharedSlots:
    """At most `size` records in flight between the phases running side by side. A waiting record of a heavier chain of
    phases goes first, then the one that asked first: a holder that releases its slot and asks again queues behind
    those waiting (with a plain semaphore it would take it straight back, and the phase running first would starve the
    phases beside it)."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._free = size
        self._waiting: list[tuple[int, int, threading.Lock]] = []  # a heap of (-weight, arrival, the lock handed over)
        self._arrivals = itertools.count()

    def take(self, weight: int = 0) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            handed = threading.Lock()
            handed.acquire()
            heapq.heappush(self._waiting, (-weight, next(self._arrivals), handed))
        handed.acquire()  # released by the holder that hands its slot over

    def give_back(self) -> None:
        with self._lock:
            if self._waiting:
                heapq.heappop(self._waiting)[2].release()
            else:
                self._free += 1

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)


# The slots of the load's records in flight, set in the thread of a phase that shares them with phases running beside it.
# With the weight of the phase's chain (schedule.py): records of heavier chains go first.
_SHARED_SLOTS: ContextVar[tuple[SharedSlots, int] | None] = ContextVar("shared_slots", default=None)


def run_concurrently(items: Iterable[T], work: Callable[[T], None], workers: int) -> None:
    """Run `work` over a stream with at most `workers` in flight and a bounded backlog (flat memory); in a phase that
    shares the load's slots with others, each item also takes one of them for its work.

    The first AuthError stops the phase: nothing else can succeed with that token.
    """
    shared = _SHARED_SLOTS.get()
    if shared is not None:
        work = _in_a_slot(work, *shared)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        pending: set[Future[None]] = set()
        for item in items:
            if len(pending) >= workers * 2:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                _raise_fatal(done)
            pending.add(pool.submit(work, item))
        done, _ = wait(pending)
        _raise_fatal(done)


def side_by_side(calls: list[Callable[[], T]], workers: int) -> list[T]:
    """Each call in its own thread (at most `workers` at a time); their answers in the order given. An error is raised once
    every call has ended, the first in that order: a call that fails never leaves the others running behind it."""
    if len(calls) <= 1 or workers <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(workers, len(calls)), thread_name_prefix="side") as pool:
        futures = [pool.submit(call) for call in calls]
        wait(futures)
    return [future.result() for future in futures]


# The shared slot this worker thread holds, with its weight, while it works on a record.
_HELD = threading.local()


def _in_a_slot(work: Callable[[T], None], slots: SharedSlots, weight: int) -> Callable[[T], None]:
    def slotted(item: T) -> None:
        slots.take(weight)
        _HELD.slot = (slots, weight)
        try:
            work(item)
        finally:
            _HELD.slot = None
            slots.give_back()

    return slotted


class PhasesStopped(Exception):
    """Raised in a phase under way once another phase failed: the load stops, and the other phase's error is the one raised."""


class Landings:
    """The records settled so far (landed, unchanged or failed) of the phases that others overlap, while they run.

    Records of an entity nobody watches, or whose phase has ended, count as settled.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._settled: dict[str, set[str]] = {}
        self.version = 0  # grows with every change
        self.stopped = False

    def watch(self, entity: str) -> None:
        with self._changed:
            self._settled.setdefault(entity, set())

    def settle(self, entity: str, source_id: str) -> None:
        with self._changed:
            settled = self._settled.get(entity)
            if settled is not None:
                settled.add(source_id)
                self._bump()

    def close(self, entity: str) -> None:
        """The phase loading `entity` ended: none of its records is awaited any more."""
        with self._changed:
            if self._settled.pop(entity, None) is not None:
                self._bump()

    def stop(self) -> None:
        with self._changed:
            self.stopped = True
            self._bump()

    def unsettled(self, keys: Iterable[RecordKey]) -> list[RecordKey]:
        with self._changed:
            return [(entity, source_id) for entity, source_id in keys
                    if entity in self._settled and source_id not in self._settled[entity]]

    def awaited(self, entity: str) -> bool:
        with self._changed:
            return entity in self._settled

    def wait_closed(self, entity: str) -> None:
        """Until the phase loading `entity` has ended (or the load stops)."""
        with self._changed:
            while entity in self._settled and not self.stopped:
                self._changed.wait()

    def wait_past(self, version: int) -> None:
        """Until something settles after `version` was read (or the load stops)."""
        with self._changed:
            while self.version == version and not self.stopped:
                self._changed.wait()

    def _bump(self) -> None:
        self.version += 1
        self._changed.notify_all()


def _raise_fatal(done: Iterable[Future[None]]) -> None:
    for future in done:
        error = future.exception()
        if error is not None:
            raise error


class IntercomLoader:
    """The context of one load: what every phase shares, and the one way a phase runs its records."""

    def __init__(
        self, client: IntercomClient, ledger: Ledger, run_id: str, settings: LoadConfig,
        on_progress: ProgressCallback | None = None, on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.run_id = run_id
        self.settings = settings
        self.on_progress = on_progress or (lambda phase, n: None)
        self.on_failure = on_failure or (lambda phase: None)  # a record failed in this phase (for the progress display)
        # Source agent → Intercom admin, and the admin who stands in for the rest: matched by preflight.
        self.agent_admins: dict[str, str] = {}
        self.fallback_admin_id: str | None = None
        # Set by the pipeline: files behind the source's login, where phases save what they produce (assets, the redirect
        # map), and the source's public Help Center URL forms (to point links between articles at Intercom).
        self.source_files: SourceFiles | None = None
        self.asset_dir: Path | None = None
        self.state_dir: Path | None = None
        self.help_center_urls = HelpCenterUrls()
        # The mapping's options per target this run loads (set by the pipeline): a phase prepares only what is loaded.
        self.mapping_options: dict[str, dict[str, Any]] = {}
        # The mapping's attribute declarations, as preflight received them.
        self.attribute_declarations: list[AttributeDeclaration] = []
        # What each phase's preflight part found or made, by phase name (its own business).
        self.prepared: dict[str, Any] = {}
        # What phases report beyond counts, by name (the help center's content-loss report), for the run report.
        self.details: dict[str, Any] = {}
        # Contact attributes a load found it needs mid-phase (phone_original, teammate_email): known to exist once ensured.
        self.ensured_attributes: set[str] = set()
        self.ensured_attributes_lock = threading.Lock()
        # Tag ids → keys, read once when an adopted record's tags are recorded as pre-existing.
        self.tag_names = TagNames(client)
        # What overlapping phases share: records settled for those that wait on them, and the records in flight.
        self.landings = Landings()
        self.slots = SharedSlots(settings.concurrency)

    @contextmanager
    def sharing_slots(self, weight: int = 0) -> Iterator[None]:
        """In this thread, a phase's records take the load's slots (`weight`: its chain's, heavier first): phases running
        side by side keep `concurrency` records in flight."""
        token = _SHARED_SLOTS.set((self.slots, weight))
        try:
            yield
        finally:
            _SHARED_SLOTS.reset(token)

    def wait_for_every(self, entity: str) -> None:
        """Until every record of `entity` has settled: its phase, running beside this one, has ended. For a record that
        needs more than those it names (what a contact adopted carried before us, recorded by the source ids of the
        companies it is linked to). The worker's slot goes to others meanwhile."""
        if not self.landings.awaited(entity):
            return
        held: tuple[SharedSlots, int] | None = getattr(_HELD, "slot", None)
        if held is not None:
            held[0].give_back()
        try:
            self.landings.wait_closed(entity)
        finally:
            if held is not None:
                held[0].take(held[1])

    def admin_for_agent(self, agent_source_id: str | None) -> str | None:
        """The Intercom admin id for a source agent: matched by email, else the fallback admin."""
        if agent_source_id is not None and agent_source_id in self.agent_admins:
            return self.agent_admins[agent_source_id]
        return self.fallback_admin_id

    def load_each(self, phase: str, payloads: Iterable[Payload], load_one: Callable[[Payload, PhaseResult], None]) -> PhaseResult:
        result = PhaseResult(phase)
        self.run_phase(phase, payloads, lambda payload: load_one(payload, result), result)
        return result

    def run_phase(self, phase: str, payloads: Iterable[Payload], work: Callable[[Payload], None], result: PhaseResult) -> None:
        """Run `work` over every payload concurrently; a LoadError fails that record only, an AuthError stops the phase."""
        self.ledger.start_phase(self.run_id, phase, None)
        run_concurrently(payloads, lambda payload: self.attempt(phase, payload, work, result), self.settings.concurrency)
        self.finish_phase(phase, result)

    def attempt(self, phase: str, payload: Payload, work: Callable[[Payload], None], result: PhaseResult) -> bool:
        """One record's work: True when it went through; a LoadError fails that record only (recorded, counted). Either
        way the record has settled, for records of overlapping phases that wait on it."""
        if self.landings.stopped:
            raise PhasesStopped()
        try:
            work(payload)
        except AuthError:
            raise
        except LoadError as error:
            self.fail(phase, payload.entity, payload.source_id, error)
            result.add("failed")
            self.landings.settle(payload.entity, payload.source_id)
            return False
        finally:
            self.on_progress(phase, 1)
        self.landings.settle(payload.entity, payload.source_id)
        return True

    def finish_phase(self, phase: str, result: PhaseResult) -> None:
        if result.unchanged:
            self.ledger.count_unchanged(self.run_id, phase, result.unchanged)
        self.ledger.finish_phase(self.run_id, phase)

    def fail(self, phase: str, entity: str, source_id: str, error: LoadError) -> None:
        log.warning("%s %s failed: %s", entity, source_id, error)
        self.on_failure(phase)
        self.ledger.record_failure(
            self.run_id, phase, entity, source_id, str(error), request_id=error.request_id, excerpt=error.excerpt,
        )
