"""`deskmigrate sync`: delta cycles until the switch — each cycle one `run` over what changed since the last (the source
cursors, the read memory of file sources and the ledger's payload hashes decide what that is), recorded as a run of
its own with the lag of the newest change it landed.

A stop (Ctrl-C, SIGTERM) lets the calls in flight finish and starts none (deskmigrate.core.http.stopping); the cycle
it interrupts is recorded as interrupted, and the lock goes with the command. A second Ctrl-C stops at once. A cycle
that fails (the source or Intercom unreachable, a crash inside it) is recorded as crashed, and the next one runs.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Protocol

from rich.markup import escape
from rich.table import Table

from deskmigrate import lifecycle
from deskmigrate.core.errors import AuthError, ProblemsError
from deskmigrate.core.http import StopRequested, ask_stop, clear_stop, stop_asked, wait_unless_stopped
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Conversation, Record
from deskmigrate.project import Project
from deskmigrate.reconcile import LANDS_AS
from deskmigrate.screen import console, err_console

log = logging.getLogger(__name__)

COMMAND = "sync"
# The id map's entity a landing is recorded under → the staged entity whose record changed.
STAGED_ENTITY_OF = {landed: staged for staged, landings in LANDS_AS.items() for landed in landings}
DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SyncArgumentError(ValueError):
    """--every or --until cannot be read."""


def parse_every(text: str) -> float:
    """"10m", "90s", "1h30m", "2h" → seconds (at least one second)."""
    compact = text.strip().lower().replace(" ", "")
    parts = DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise SyncArgumentError(f"--every {text!r}: give a duration such as 30s, 10m, 1h or 1h30m")
    seconds = sum(float(number) * UNIT_S[unit] for number, unit in parts)
    if seconds < 1:
        raise SyncArgumentError(f"--every {text!r}: at least 1s")
    return seconds


def parse_until(text: str) -> datetime:
    """An ISO 8601 time ("2027-01-31T18:00Z", "2027-01-31 18:00+01:00"); without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise SyncArgumentError(f"--until {text!r}: give an ISO 8601 time such as 2027-01-31T18:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class Clock(Protocol):
    """What the loop reads the time from and waits with (tests drive one of their own)."""

    def now(self) -> float: ...

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when a stop was asked meanwhile."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def wait(self, seconds: float) -> bool:
        return wait_unless_stopped(seconds)


def system_clock() -> Clock:
    return SystemClock()


# -- the lag ------------------------------------------------------------------------------------------


def change_time(record: Record, file_time: float | None) -> float | None:
    """When the source last changed a record: its updated_at (a conversation's newest message counts too); without one,
    when its file was last saved (a file source: a row's created_at says nothing of when it was edited), else its
    created_at."""
    times = [record.updated_at.timestamp()] if isinstance(record.updated_at, datetime) else []
    if isinstance(record, Conversation):
        times.extend(part.created_at.timestamp() for part in record.parts if part.created_at is not None)
    if times:
        return max(times)
    if file_time is not None:
        return file_time
    return record.created_at.timestamp() if isinstance(record.created_at, datetime) else None


def cycle_lag(ledger: Ledger, run_id: str, file_time: Callable[[str], float | None]) -> dict[str, Any]:
    """What a cycle landed and how long the newest source change among it waited: from the change in the source to the
    last write that landed it. `file_time(entity)`: when the entity's files were last saved (file sources), else None."""
    landed: dict[tuple[str, str], float] = {}
    for entity, source_id, at in ledger.landings(run_id):
        staged_entity = STAGED_ENTITY_OF.get(entity)
        if staged_entity is not None:
            key = (staged_entity, source_id)
            landed[key] = max(landed.get(key, 0.0), at)
    newest: tuple[float, float, str, str] | None = None
    file_times: dict[str, float | None] = {}
    for (entity, source_id), at in landed.items():
        record = ledger.staged_record(entity, source_id)
        if record is None:
            continue
        if entity not in file_times:
            file_times[entity] = file_time(entity)
        changed = change_time(record, file_times[entity])
        if changed is not None and (newest is None or changed > newest[0]):
            newest = (changed, at, entity, source_id)
    by_entity: dict[str, int] = {}
    for entity, _ in landed:
        by_entity[entity] = by_entity.get(entity, 0) + 1
    section: dict[str, Any] = {"landed": len(landed), "landed_by_entity": by_entity, "lag_s": None, "newest_change": None}
    if newest is not None:
        changed, at, entity, source_id = newest
        section["lag_s"] = round(max(at - changed, 0.0), 3)
        section["newest_change"] = {"entity": entity, "source_id": source_id, "changed_at": _iso(changed), "landed_at": _iso(at),
                                    "changed_per": "file saved" if file_times.get(entity) == changed else "source record"}
    return section


def file_time_of(project: Project) -> Callable[[str], float | None]:
    """When an entity's source files were last saved (None for API sources): a CSV row's change time."""
    def newest(entity: str) -> float | None:
        files = project.connector.files_read(entity)
        times = [path.stat().st_mtime for path in files or [] if path.exists()]
        return max(times) if times else None

    return newest


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def describe_lag(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


# -- stopping -----------------------------------------------------------------------------------------


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM ask the stop (calls in flight finish, none starts); a second SIGINT stops at once."""
    clear_stop()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return

    owner = os.getpid()

    def asked(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a forked plan worker (Ctrl-C reaches the whole group): it finishes its chunk, the parent stops
            return
        if signum == signal.SIGINT and stop_asked():
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        log.warning("%s: stopping after the calls in flight", name)
        err_console.print(f"[yellow]{name}: finishing the calls in flight, then stopping (Ctrl-C again stops at once)[/]")
        ask_stop()

    previous = {sig: signal.signal(sig, asked) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        clear_stop()


# -- the loop -----------------------------------------------------------------------------------------


# One cycle's body: (project, ledger, run id, start time, the sync section's maker) → the run's exit code.
CycleBody = Callable[[Project, Ledger, str, float, Callable[[], dict[str, Any]]], int]


@dataclass
class SyncOutcome:
    cycles: list[dict[str, Any]] = field(default_factory=list)  # per cycle: run id, status, exit code, lag
    stopped_by: str = ""  # "signal", "until"

    @property
    def exit_code(self) -> int:
        """The last finished cycle's code (0 clean, 3 records failed, 2 refused, 1 crashed); 130 when none finished."""
        finished = [cycle for cycle in self.cycles if cycle["status"] != "interrupted"]
        return finished[-1]["exit_code"] if finished else 130


def run_sync(project: Project, body: CycleBody, *, every_s: float, until: datetime | None, clock: Clock,
             verbose: bool) -> SyncOutcome:
    """Cycles every `every_s` (from one cycle's start to the next; at once when a cycle ran longer) until a stop or
    `until` (no cycle starts after it). The caller holds the state folder for the whole loop."""
    outcome = SyncOutcome()
    number = 0
    while True:
        if until is not None and clock.now() >= until.timestamp():
            outcome.stopped_by = "until"
            break
        number += 1
        began = clock.now()
        cycle = _one_cycle(project, body, number, every_s, until, verbose)
        outcome.cycles.append(cycle)
        console.print(f"[bold]sync: cycle {number} {cycle['status']}[/]{_landed(cycle)}")
        if cycle["status"] == "interrupted" or stop_asked():
            outcome.stopped_by = "signal"
            break
        next_at = began + every_s
        if until is not None and next_at >= until.timestamp():
            outcome.stopped_by = "until"
            break
        console.print(f"sync: next cycle at {_iso(next_at)} (Ctrl-C or SIGTERM stops)")
        if clock.wait(max(next_at - clock.now(), 0.0)):
            outcome.stopped_by = "signal"
            break
    return outcome


def _landed(cycle: dict[str, Any]) -> str:
    if cycle.get("landed") is None:
        return ""
    if not cycle["landed"]:
        return ", nothing new in the source"
    return f", {cycle['landed']} record(s) landed, lag {describe_lag(cycle.get('lag_s'))}"


def _one_cycle(project: Project, body: CycleBody, number: int, every_s: float, until: datetime | None,
               verbose: bool) -> dict[str, Any]:
    """One cycle as a run of its own: its ledger opened and closed, its run recorded even when it dies."""
    ledger = lifecycle.open_ledger(project)
    section: dict[str, Any] = {}
    try:
        run_id = ledger.start_run(COMMAND)
        lifecycle.setup_logging(project, verbose, run_id)
        started = time.time()

        def sync_section() -> dict[str, Any]:
            section.update({"cycle": number, "every_s": every_s, "until": until.isoformat() if until else None,
                            **cycle_lag(ledger, run_id, file_time_of(project))})
            return section

        console.print(f"[bold]sync cycle {number}[/] (run {run_id})")
        try:
            with lifecycle.recorded(project, ledger, run_id, COMMAND):
                code = body(project, ledger, run_id, started, sync_section)
        except (ProblemsError, AuthError):
            raise  # nothing the next cycle could do better: the command stops with the error
        except (StopRequested, KeyboardInterrupt):
            err_console.print(f"[yellow]sync cycle {number} interrupted: its run {run_id} is recorded as interrupted; "
                              "the next `sync` or `run` goes on from where it stopped[/]")
            return {"cycle": number, "run_id": run_id, "status": "interrupted", "exit_code": 130}
        except Exception as error:  # noqa: BLE001 — a failed cycle is recorded (crashed, with its report) and the next runs
            err_console.print(f"[red]sync cycle {number} failed:[/] {escape(type(error).__name__)}: {escape(str(error))} "
                              f"(run {run_id} recorded as crashed; the next cycle runs as planned)")
            return {"cycle": number, "run_id": run_id, "status": "crashed", "exit_code": lifecycle.EXIT_UNEXPECTED}
        status = "ok" if code == lifecycle.EXIT_OK else "failed-records" if code == lifecycle.EXIT_FAILURES else "refused"
        return {"cycle": number, "run_id": run_id, "status": status, "exit_code": code, "lag_s": section.get("lag_s"),
                "landed": section.get("landed")}
    finally:
        ledger.close()


# -- status -------------------------------------------------------------------------------------------


def print_cycles(runs: list[dict[str, Any]]) -> None:
    """`status`: the sync cycles, each with what it landed and the lag of its newest change."""
    cycles = [run for run in runs if run["command"] == COMMAND]
    if not cycles:
        return
    table = Table(title="Sync cycles", title_justify="left")
    for column in ("run", "cycle", "started", "status", "landed", "newest change", "lag"):
        table.add_column(column, no_wrap=column == "run", justify="right" if column in ("cycle", "landed", "lag") else "left")
    for run in cycles:
        section = run.get("sync") or {}
        newest = section.get("newest_change") or {}
        started = datetime.fromtimestamp(run["started_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        change = f"{newest['entity']} {newest['source_id']} at {newest['changed_at'][11:19]}" if newest else "-"
        landed = "-" if not section else str(section.get("landed", 0))
        lag = describe_lag(section.get("lag_s")) if section else "-"
        table.add_row(run["run_id"], str(section.get("cycle", "-")), started, run["status"], landed, change,
                      lag if newest or not section else "nothing new")
    console.print(table)
    good = [run for run in cycles if run["status"] == "ok" and run.get("sync")]
    if good:
        last = good[-1]
        console.print(f"last clean cycle: {last['run_id']}, lag {describe_lag((last['sync'] or {}).get('lag_s'))}")
