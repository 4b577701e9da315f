"""Progress while a command runs: rich bars on a terminal (done/total, rate, time left, what was rejected or failed),
a line every few seconds elsewhere. Both are a deskmigrate.project.Progress."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from deskmigrate.screen import console, err_console

if TYPE_CHECKING:
    from deskmigrate import project

progress_log = logging.getLogger("deskmigrate.progress")


class RateColumn(ProgressColumn):
    """Records a second, as measured over the last moments."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


class BarProgress:
    """project.Progress drawn with rich progress bars: done/total, rate, time left, and what was rejected or failed."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def start(self, task: str, total: int | None) -> None:
        self.tasks[task] = self.progress.add_task(task, total=total, outcomes="")

    def advance(self, task: str, n: int = 1) -> None:
        if task in self.tasks:
            self.progress.advance(self.tasks[task], n)

    def count(self, task: str, outcome: str, n: int = 1) -> None:
        if task not in self.tasks:
            return
        self.counts[(task, outcome)] = self.counts.get((task, outcome), 0) + n
        shown = ", ".join(f"{self.counts[(task, kind)]} {kind}" for kind in ("rejected", "failed") if (task, kind) in self.counts)
        self.progress.update(self.tasks[task], outcomes=shown)

    def finish(self, task: str) -> None:
        if task in self.tasks:
            task_id = self.tasks[task]
            # A bar ends full: a phase may do less than its estimate (nothing left to change), never stop short.
            self.progress.update(task_id, total=self.progress.tasks[task_id].completed)
            self.progress.stop_task(task_id)


class LineProgress:
    """project.Progress off a terminal: a line per task every PROGRESS_EVERY_S seconds on stderr and in the log."""

    def __init__(self, every_s: float = 10.0, clock: Any = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self.state: dict[str, dict[str, Any]] = {}

    def start(self, task: str, total: int | None) -> None:
        now = self.clock()
        self.state[task] = {"total": total, "done": 0, "started": now, "said": now, "counts": {}}

    def advance(self, task: str, n: int = 1) -> None:
        state = self.state.get(task)
        if state is None:
            return
        state["done"] += n
        if self.clock() - state["said"] >= self.every_s:
            self._say(task, state)

    def count(self, task: str, outcome: str, n: int = 1) -> None:
        if task in self.state:
            counts = self.state[task]["counts"]
            counts[outcome] = counts.get(outcome, 0) + n

    def finish(self, task: str) -> None:
        state = self.state.get(task)
        if state is not None and self.clock() - state["started"] >= self.every_s:
            self._say(task, state, finished=True)

    def _say(self, task: str, state: dict[str, Any], finished: bool = False) -> None:
        now = self.clock()
        state["said"] = now
        elapsed = max(now - state["started"], 1e-9)
        rate = state["done"] / elapsed
        total = state["total"]
        line = f"{task}: {state['done']}" + (f"/{total}" if total else "") + f" ({rate:.1f}/s"
        if total and rate > 0 and not finished:
            line += f", about {format_duration((total - state['done']) / rate)} left"
        line += ")" + "".join(f", {n} {kind}" for kind, n in state["counts"].items()) + (" — done" if finished else "")
        err_console.print(line, markup=False, highlight=False)
        progress_log.info("%s", line)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_columns() -> tuple[ProgressColumn, ...]:
    """Per task: what it is, a bar, done/total, records a second, time left at that rate, elapsed, rejected and failed."""
    return (SpinnerColumn(), TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeRemainingColumn(), TimeElapsedColumn(), TextColumn("{task.fields[outcomes]}", style="yellow"))


@contextmanager
def bars() -> Iterator[project.Progress]:
    """Bars on a terminal (they end before the command prints its summary); a line every 10 s elsewhere."""
    if not console.is_terminal and os.environ.get("DESKMIGRATE_PROGRESS") != "1":
        yield LineProgress()
        return
    with Progress(*progress_columns(), console=err_console if console.quiet else console, transient=False) as progress:
        yield BarProgress(progress)

