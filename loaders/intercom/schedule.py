"""Phases overlap: each starts as soon as what it depends on is done, all of them on the one client (one limiter) and
within one budget of `load.concurrency` records in flight.

A phase starts when every phase it `requires` is done, except those it `streams_after`: it starts once they are under
way, and each of its records is held back until the records it `needs` (a contact's companies) have settled — landed,
left unchanged or failed — or their phase has ended. Independent chains (people and their history, the Help Center)
run side by side; when both wait for a slot, the chain with more staged records goes first (the lighter one fills the
gaps, and does not lengthen the load's critical path). What each phase records in the ledger is what it records when
run alone: it sees the objects it needs exactly as it would after the phases before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.loader import IntercomLoader, Landings, PhaseResult, PhasesStopped, RecordKey
from deskmigrate.loaders.intercom.phase import Phase

# Records held back at once per worker while what they need lands; beyond that, reading the stream waits (flat memory).
HELD_PER_WORKER = 64

# Called as a phase starts (after `runs` said yes): its payloads (the pipeline maps them as they stream) and its progress.
Begin = Callable[[Phase], Iterable[Payload]]
End = Callable[[Phase], None]


def run_phases(loader: IntercomLoader, phases: tuple[Phase, ...], begin: Begin, end: End) -> list[PhaseResult]:
    """Run the phases, each as soon as it may; their results in the order given (phases that did not run left out).

    The first error stops the load: no phase starts after it, the phases under way stop at their next record, and the
    error is raised once they have.
    """
    names = {phase.name for phase in phases}
    weights = chain_weights(loader, phases)
    started: set[str] = set()
    done: set[str] = set()
    results: dict[str, PhaseResult] = {}
    landings = loader.landings
    watched = {needed for phase in phases for needed in phase.streams_after}
    first_error: BaseException | None = None

    def ready(phase: Phase) -> bool:
        return all(needed in done or (needed in phase.streams_after and needed in started) or needed not in names
                   for needed in phase.requires)

    with ThreadPoolExecutor(max_workers=max(1, len(phases)), thread_name_prefix="phase") as pool:
        running: dict[Future[PhaseResult | None], Phase] = {}
        try:
            while len(done) < len(phases):
                if first_error is None:
                    for phase in phases:
                        if phase.name not in started and ready(phase):
                            started.add(phase.name)
                            if phase.name in watched and phase.entity:
                                landings.watch(phase.entity)
                            running[pool.submit(_run_one, loader, phase, weights[phase.name], begin, end)] = phase
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    phase = running.pop(future)
                    done.add(phase.name)
                    error = future.exception()
                    if error is None:
                        result = future.result()
                        if result is not None:
                            results[phase.name] = result
                    elif first_error is None and not isinstance(error, PhasesStopped):
                        first_error = error
                        landings.stop()  # before its records stop being awaited: none that wait on them goes now
                    if phase.entity:
                        landings.close(phase.entity)
        except BaseException:
            landings.stop()  # Ctrl-C: the phases under way stop at their next record
            raise
    if first_error is not None:
        raise first_error
    return [results[phase.name] for phase in phases if phase.name in results]


def chain_weights(loader: IntercomLoader, phases: tuple[Phase, ...]) -> dict[str, int]:
    """Each phase's chain (phases linked by what they require) → the records its phases have staged: how heavy it is."""
    chain = {phase.name: phase.name for phase in phases}

    def root(name: str) -> str:
        while chain[name] != name:
            name = chain[name]
        return name

    for phase in phases:
        for needed in phase.requires:
            if needed in chain:
                chain[root(needed)] = root(phase.name)
    staged: dict[str, int] = {}
    for phase in phases:
        staged[root(phase.name)] = staged.get(root(phase.name), 0) + (phase.units(loader.ledger) or 0)
    return {phase.name: staged[root(phase.name)] for phase in phases}


def _run_one(loader: IntercomLoader, phase: Phase, weight: int, begin: Begin, end: End) -> PhaseResult | None:
    if loader.landings.stopped:
        raise PhasesStopped()
    if not phase.runs(loader.ledger):  # asked when what it requires is done: what they wrote may decide it
        return None
    payloads = begin(phase)
    if phase.needs is not None and phase.streams_after:
        payloads = flowing(payloads, phase.needs, loader.landings, HELD_PER_WORKER * loader.settings.concurrency)
    began = time.monotonic()
    with loader.sharing_slots(weight):
        result = phase.load(loader, payloads)
    result.duration_s = time.monotonic() - began
    end(phase)
    return result


def flowing(payloads: Iterable[Payload], needs: Callable[[Payload], Iterable[RecordKey]], landings: Landings,
            held_at_most: int) -> Iterator[Payload]:
    """The payloads in their order, except that one whose needed records have not settled yet is held back until they
    have; at most `held_at_most` are held at once (then reading on waits for them)."""
    held: list[tuple[Payload, list[RecordKey]]] = []
    seen = landings.version

    def release() -> Iterator[Payload]:
        nonlocal held, seen
        seen = landings.version  # read first: what settles during the look is seen by the next one
        still: list[tuple[Payload, list[RecordKey]]] = []
        ready: list[Payload] = []
        for payload, waiting in held:
            waiting = landings.unsettled(waiting)
            if waiting:
                still.append((payload, waiting))
            else:
                ready.append(payload)
        held = still
        return iter(ready)

    for payload in payloads:
        _stop_if_stopped(landings)
        waiting = landings.unsettled(needs(payload))
        if waiting:
            held.append((payload, waiting))
        else:
            yield payload
        if held and landings.version != seen:
            yield from release()
        while len(held) >= held_at_most:
            landings.wait_past(seen)
            _stop_if_stopped(landings)
            yield from release()
    while held:
        landings.wait_past(seen)
        _stop_if_stopped(landings)
        yield from release()


def _stop_if_stopped(landings: Landings) -> None:
    if landings.stopped:
        raise PhasesStopped()
