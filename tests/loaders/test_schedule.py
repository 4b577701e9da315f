"""Phases overlap: a phase starts once what it requires is done — or, for a phase that streams after another, once that
one is under way, each of its records waiting only for the records it needs. The first error stops the load."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.errors import LoadError
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, SharedSlots
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.registry import PHASES, in_dependency_order
from deskmigrate.loaders.intercom.schedule import chain_weights, run_phases

# Long enough never to run out on a loaded machine; only reached when the overlap it waits for does not happen.
NEVER_S = 10.0


@pytest.fixture
def loader(tmp_path: Path) -> Iterable[IntercomLoader]:
    ledger = Ledger(tmp_path / "ledger.db")
    client = IntercomClient("http://127.0.0.1:9", "unused-token")
    yield IntercomLoader(client, ledger, ledger.start_run("load"), LoadConfig(concurrency=4))
    client.close()
    ledger.close()


def payload(entity: str, source_id: str, needs: list[str] | None = None) -> Payload:
    return Payload(entity=entity, source_id=source_id, body={}, company_source_ids=needs or [])


class Journal:
    """What the fake phases did, in order, from every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[str] = []

    def add(self, event: str) -> None:
        with self.lock:
            self.events.append(event)


def fake_phase(name: str, steps: dict[str, object], journal: Journal, **fields: object) -> Phase:
    """A phase whose records are journalled as they finish; `steps[source_id]` runs first (an Event to wait on, an error)."""

    def load(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
        def one(item: Payload, result: PhaseResult) -> None:
            step = steps.get(item.source_id)
            if isinstance(step, threading.Event):
                assert step.wait(NEVER_S), f"{item.source_id} waited for an overlap that did not happen"
            elif isinstance(step, BaseException):
                raise step
            journal.add(f"{name}:{item.source_id}")
            result.add("created")

        journal.add(f"{name} starts")
        return loader.load_each(name, payloads, one)

    fields.setdefault("runs_when", lambda ledger: True)  # nothing is staged here
    return Phase(name, name, None, load, **fields)  # type: ignore[arg-type]


def run(loader: IntercomLoader, phases: tuple[Phase, ...], records: dict[str, list[Payload]]) -> list[PhaseResult]:
    return run_phases(loader, phases, lambda phase: records.get(phase.name, []), lambda phase: None)


def test_a_record_goes_as_soon_as_what_it_needs_landed_not_after_the_whole_phase(loader: IntercomLoader) -> None:
    journal = Journal()
    contact_without_company_done = threading.Event()
    # The last company waits until a contact landed: the load only finishes if contacts start before companies end.
    companies = fake_phase("companies", {"co-2": contact_without_company_done}, journal)
    contacts = fake_phase("contacts", {}, journal, requires=("companies",), streams_after=("companies",),
                          needs=lambda p: [("companies", c) for c in p.company_source_ids])
    tags = fake_phase("tags", {}, journal, requires=("companies", "contacts"))
    original_add = journal.add

    def add(event: str) -> None:
        original_add(event)
        if event == "contacts:u-free":
            contact_without_company_done.set()

    journal.add = add  # type: ignore[method-assign]
    records = {
        "companies": [payload("companies", "co-1"), payload("companies", "co-2")],
        "contacts": [payload("contacts", "u-late", ["co-2"]), payload("contacts", "u-free"), payload("contacts", "u-early", ["co-1"])],
        "tags": [payload("tags", "vip")],
    }

    results = run(loader, (companies, contacts, tags), records)

    events = journal.events
    assert [r.phase for r in results] == ["companies", "contacts", "tags"]
    assert all(r.created == len(records[r.phase]) and r.duration_s is not None for r in results)
    assert events.index("contacts:u-free") < events.index("companies:co-2")  # overlap
    assert events.index("companies:co-2") < events.index("contacts:u-late")  # never before the company it needs
    assert events.index("companies:co-1") < events.index("contacts:u-early")
    assert events.index("tags starts") > max(events.index(f"contacts:{c}") for c in ("u-late", "u-free", "u-early"))
    assert events.index("tags starts") > events.index("companies:co-2")


def test_a_record_whose_needed_record_failed_goes_once_that_one_settled(loader: IntercomLoader) -> None:
    journal = Journal()
    companies = fake_phase("companies", {"co-1": LoadError("refused")}, journal)
    contacts = fake_phase("contacts", {}, journal, requires=("companies",), streams_after=("companies",),
                          needs=lambda p: [("companies", c) for c in p.company_source_ids])

    results = run(loader, (companies, contacts), {"companies": [payload("companies", "co-1")],
                                                   "contacts": [payload("contacts", "u-1", ["co-1", "co-unknown"])]})

    assert [(r.phase, r.created, r.failed) for r in results] == [("companies", 0, 1), ("contacts", 1, 0)]
    assert loader.ledger.failure_of("companies", "co-1", "companies") is not None


def test_independent_chains_run_side_by_side(loader: IntercomLoader) -> None:
    journal = Journal()
    article_done = threading.Event()
    original_add = journal.add

    def add(event: str) -> None:
        original_add(event)
        if event.startswith("articles:"):
            article_done.set()

    journal.add = add  # type: ignore[method-assign]
    companies = fake_phase("companies", {"co-1": article_done}, journal)
    collections = fake_phase("collections", {}, journal)
    articles = fake_phase("articles", {}, journal, requires=("collections",))

    run(loader, (companies, collections, articles), {"companies": [payload("companies", "co-1")],
                                                     "collections": [payload("collections", "col-1")],
                                                     "articles": [payload("articles", "kb-1")]})

    events = journal.events
    assert events.index("collections:col-1") < events.index("articles starts")
    assert events.index("articles:kb-1") < events.index("companies:co-1")


def test_the_first_error_stops_the_load_and_nothing_starts_after_it(loader: IntercomLoader) -> None:
    journal = Journal()
    companies = fake_phase("companies", {"co-1": RuntimeError("the token was revoked")}, journal)
    contacts = fake_phase("contacts", {}, journal, requires=("companies",), streams_after=("companies",),
                          needs=lambda p: [("companies", c) for c in p.company_source_ids])
    tags = fake_phase("tags", {}, journal, requires=("companies", "contacts"))

    with pytest.raises(RuntimeError, match="revoked"):
        run(loader, (companies, contacts, tags), {"companies": [payload("companies", "co-1")],
                                                  "contacts": [payload("contacts", "u-1", ["co-1"])]})

    assert "contacts:u-1" not in journal.events  # it waited for its company, and the load stopped
    assert "tags starts" not in journal.events


def test_a_phase_that_does_not_run_lets_the_phases_after_it_start(loader: IntercomLoader) -> None:
    journal = Journal()
    companies = fake_phase("companies", {}, journal, runs_when=lambda ledger: False)
    contacts = fake_phase("contacts", {}, journal, requires=("companies",), streams_after=("companies",),
                          needs=lambda p: [("companies", c) for c in p.company_source_ids])

    results = run(loader, (companies, contacts), {"contacts": [payload("contacts", "u-1", ["co-1"])]})

    assert [r.phase for r in results] == ["contacts"] and journal.events == ["contacts starts", "contacts:u-1"]


def test_the_registered_phases_overlap_only_where_their_records_say_what_they_need() -> None:
    streaming = {phase.name: phase.streams_after for phase in PHASES if phase.streams_after}
    assert streaming == {"contacts": ("companies",)}
    with pytest.raises(ValueError, match="must name the records"):
        in_dependency_order((PHASES[0], Phase("x", "xs", None, lambda loader, payloads: PhaseResult("x"),
                                              requires=(PHASES[0].name,), streams_after=(PHASES[0].name,))))


def waiting_for(slots: SharedSlots, weight: int, order: list[str], name: str) -> threading.Thread:
    """A record of a chain of `weight` asking for a slot in a thread of its own, queued once this returns."""

    def record() -> None:
        slots.take(weight)
        order.append(name)
        slots.give_back()

    queued = slots.waiting() + 1
    thread = threading.Thread(target=record)
    thread.start()
    for _ in range(1000):
        if slots.waiting() >= queued:
            break
        threading.Event().wait(0.01)
    return thread


def test_a_released_slot_goes_to_the_one_waiting_not_back_to_its_holder() -> None:
    """Else the phase that runs first keeps every slot and the phases beside it wait for its end: no overlap."""
    slots = SharedSlots(1)
    order: list[str] = []
    slots.take()
    other = waiting_for(slots, 0, order, "other")
    slots.give_back()
    slots.take()  # asked again at once, as a phase's worker does for its next record
    order.append("holder")
    slots.give_back()
    other.join(NEVER_S)
    assert order == ["other", "holder"]


def test_the_heavier_chain_goes_first_then_the_first_to_ask() -> None:
    slots = SharedSlots(1)
    order: list[str] = []
    slots.take()
    threads = [waiting_for(slots, 200, order, "article"), waiting_for(slots, 650, order, "contact 1"),
               waiting_for(slots, 650, order, "contact 2")]
    slots.give_back()
    for thread in threads:
        thread.join(NEVER_S)
    assert order == ["contact 1", "contact 2", "article"]


def test_chains_weigh_what_their_phases_staged(loader: IntercomLoader) -> None:
    journal = Journal()
    phases = tuple(fake_phase(name, {}, journal, work=lambda ledger, n=n: n, requires=requires) for name, n, requires in (
        ("companies", 5, ()), ("contacts", 50, ("companies",)), ("collections", 2, ()), ("articles", 20, ("collections",))))
    assert chain_weights(loader, phases) == {"companies": 55, "contacts": 55, "collections": 22, "articles": 22}


def test_a_record_waiting_for_a_whole_phase_lends_its_slot_meanwhile(tmp_path: Path) -> None:
    """One slot: a contact that waits for every company (adopted: its links are known by company) holds it no longer,
    else the companies still to come could never take it."""
    ledger = Ledger(tmp_path / "ledger.db")
    client = IntercomClient("http://127.0.0.1:9", "unused-token")
    loader = IntercomLoader(client, ledger, ledger.start_run("load"), LoadConfig(concurrency=1))
    journal = Journal()
    contact_waits = WaitForEvery(loader, "companies")

    def companies_as_they_come() -> Iterable[Payload]:
        yield payload("companies", "co-0")
        assert contact_waits.started.wait(NEVER_S), "the contact never took the slot"
        yield from (payload("companies", f"co-{i}") for i in (1, 2))

    companies = fake_phase("companies", {}, journal)
    contacts = fake_phase("contacts", {"u-adopted": contact_waits}, journal, requires=("companies",),
                          streams_after=("companies",), needs=lambda p: [("companies", c) for c in p.company_source_ids])
    records = {"companies": companies_as_they_come(), "contacts": [payload("contacts", "u-adopted")]}
    load = threading.Thread(target=lambda: run(loader, (companies, contacts), records))  # type: ignore[arg-type]
    try:
        load.start()
        load.join(NEVER_S)
        stuck = load.is_alive()
        if stuck:
            loader.landings.stop()  # the contact stops waiting and gives its slot back: the load can end
            load.join(NEVER_S)
    finally:
        client.close()
        ledger.close()
    assert not stuck, "the contact kept the only slot while it waited for the companies still to come"
    assert journal.events.index("companies:co-2") < journal.events.index("contacts:u-adopted")


class WaitForEvery(threading.Event):
    """A step that waits for every record of an entity (fake_phase waits on Events: this one does that instead)."""

    def __init__(self, loader: IntercomLoader, entity: str) -> None:
        super().__init__()
        self.loader, self.entity = loader, entity
        self.started = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.started.set()
        self.loader.wait_for_every(self.entity)
        return True
