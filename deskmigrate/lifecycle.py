"""The life of a command: its project and ledger opened (a lost ledger refused), the state folder held, its log, and
its run recorded — with a report even when it dies, and the exit code it ends with (deskmigrate.exits)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from deskmigrate import __version__, screen
from deskmigrate.core.errors import AuthError, LedgerLostError, ProblemsError, StateError
from deskmigrate.core.http import redact
from deskmigrate.core.ledger import Ledger
from deskmigrate.exits import EXIT_CONFIG, EXIT_FAILURES, EXIT_OK, EXIT_UNEXPECTED, Exit
from deskmigrate.htmlreport import write_html
from deskmigrate.locking import StateLockedError, state_lock
from deskmigrate.project import Project, read_project, write_report
from deskmigrate.report import RedactingFilter
from deskmigrate.screen import console, err_console

if TYPE_CHECKING:
    from deskmigrate.target import Target

log = logging.getLogger("deskmigrate")


def write_reports(project: Project, run_id: str, report: dict[str, Any]) -> Path:
    """The run's JSON report, and the HTML page made from it beside it; returns the JSON's path."""
    path = write_report(project, run_id, report)
    try:
        write_html(path)
    except (OSError, ValueError, KeyError, TypeError) as error:  # the JSON report stands; the page is a view of it
        log.warning("the HTML report of run %s could not be written: %s", run_id, error)
    return path


def setup_logging(project: Project | None, verbose: bool, run_id: str | None = None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    secrets = project.secrets if project else []
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.DEBUG if verbose else logging.ERROR)
    stream.addFilter(RedactingFilter(secrets))
    stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(stream)
    if project is not None:
        folder = project.state_dir / "logs"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{run_id or 'deskmigrate'}.log"
        handler = logging.FileHandler(path, encoding="utf-8")
        os.chmod(path, 0o600)
        handler.addFilter(RedactingFilter(secrets))
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def open_project(config: Path) -> Project:
    if not config.exists():
        from deskmigrate.core.errors import ConfigError, Problem

        raise ConfigError([Problem(path="", message="config file not found", file=str(config))])
    return read_project(config)


@contextmanager
def holding(project: Project, command: str) -> Iterator[None]:
    """One writing command per state folder: a second one stops (exit 2) naming the holder; a dead holder's lock is taken over."""
    try:
        with state_lock(project.state_dir, command) as taken_over:
            if taken_over is not None:
                err_console.print(f"[yellow]! took over the state folder's lock from {escape(taken_over.describe())}, "
                              "which is no longer running[/]")
            yield
    except StateLockedError as error:
        err_console.print(f"[bold red]state folder busy:[/] {escape(str(error))}")
        raise Exit(EXIT_CONFIG) from None


@contextmanager
def closing(ledger: Ledger) -> Iterator[Ledger]:
    try:
        yield ledger
    finally:
        ledger.close()


def open_ledger(project: Project, new_ledger: bool = False) -> Ledger:
    """The project's ledger; a lost one stops the command (exit 2) with how to restore it or start over (--new-ledger)."""
    try:
        ledger = Ledger(project.state_dir / "ledger.db", start_over=True) if new_ledger else project.ledger()
    except LedgerLostError as lost:
        err_console.print(f"[bold red]the ledger is lost:[/] {escape(str(lost))}")
        raise Exit(EXIT_CONFIG) from None
    except StateError as error:
        if new_ledger:
            err_console.print(f"[bold red]--new-ledger refused:[/] {escape(str(error))}")
            raise Exit(EXIT_CONFIG) from None
        raise
    if new_ledger:
        err_console.print("[yellow]! started a new ledger: records already in Intercom will be adopted, and what they hold now "
                      "(fields, tags, company links) is recorded as there before the migration[/]")
    for version in ledger.migrated_to:
        step = next(m for m in ledger.migrations() if m["version"] == version)
        if step["backup"]:  # a new ledger goes through the same steps, with nothing to keep a copy of
            console.print(f"ledger migrated to schema {version} ({step['name']}); the previous file is kept at {step['backup']}")
    return ledger


def api_stats(target: Target | None) -> dict[str, Any]:
    if target is None:
        return {}
    return target.client.stats_dict()


def finish_run(project: Project, ledger: Ledger, run_id: str, command: str, started: float, report: dict[str, Any],
               refused: int | None = None, shown: tuple[str, ...] = ()) -> int:
    """Write the run's report (every failure and content note of the run, long lists beside it), record the run, say
    how it went; the exit code: `refused` when the run stopped before writing, else 3 if records failed or were rejected.
    `shown`: phases whose failures the command has already shown by reason."""
    from deskmigrate import triage  # with the loaders' registry: imported as a run ends, not before its target opens

    failure_count = ledger.count_failures(run_id)
    code = refused if refused is not None else EXIT_FAILURES if failure_count else EXIT_OK
    report_path = project.state_dir / "reports" / f"{run_id}.json"
    notes = [notice.__dict__ for notice in ledger.iter_notices(run_id)]
    report.update({
        "run_id": run_id, "command": command, "deskmigrate": __version__,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
        "duration_s": round(time.time() - started, 3),
        "failure_count": failure_count,
        "failures": triage.reported_list(triage.failure_rows(ledger, run_id), failure_count, report_path, "failures", project.secrets),
        "content_notes": triage.reported_list(iter(notes), len(notes), report_path, "content_notes", project.secrets),
        "exit_code": code,
    })
    path = write_reports(project, run_id, report)
    status = "refused" if refused is not None else "failed-records" if failure_count else "ok"
    ledger.finish_run(run_id, status, {k: v for k, v in report.items() if k not in ("failures", "content_notes")})
    if failure_count:
        groups = triage.group_failures(triage.failure_rows(ledger, run_id))
        unshown = [group for group in groups if group.phase not in shown]
        screen.print_failure_groups(unshown, f"This run's failures and rejections, by reason ({sum(g.count for g in unshown)})")
        rejected = sum(group.count for group in groups if group.outcome == "rejected")
        said = []
        if rejected:
            said.append(f"{rejected} record(s) rejected: fix the source row or the mapping; the next run reads them again")
        if failure_count > rejected:
            said.append(f"{failure_count - rejected} record(s) failed: the next run retries them")
        console.print(f"[yellow]{'; '.join(said)}.[/] Every one: `deskmigrate status --failures --format csv`")
    console.print(f"run [bold]{run_id}[/] report: {path}")
    return code


@contextmanager
def recorded(project: Project, ledger: Ledger, run_id: str, command: str) -> Iterator[None]:
    """A run that dies still leaves its report and its status: the error, and the progress it had made."""
    started = time.time()
    try:
        yield
    except Exit:
        raise
    except BaseException as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "crashed"
        message = redact(f"{type(error).__name__}: {error}", project.secrets)
        report = {
            "run_id": run_id, "command": command, "deskmigrate": __version__, "status": status,
            "started_at": datetime.fromtimestamp(started, UTC).isoformat(), "duration_s": round(time.time() - started, 3),
            "error": message, "progress": ledger.progress(run_id),
            "failure_count": ledger.count_failures(run_id),
            "exit_code": EXIT_CONFIG if isinstance(error, (ProblemsError, AuthError)) else EXIT_UNEXPECTED,
        }
        path = write_reports(project, run_id, report)
        ledger.finish_run(run_id, status, report)
        log.error("run %s %s: %s (report: %s)", run_id, status, message, path)
        raise


@contextmanager
def started_run(config: Path, command: str, verbose: bool,
                 new_ledger: bool = False) -> Iterator[tuple[Project, Ledger, str, float]]:
    """Open the project, hold its state folder, open its ledger (never a lost one silently), start a run with its log,
    and record it even if it dies."""
    project = open_project(config)
    with holding(project, command):
        ledger = open_ledger(project, new_ledger)
        try:
            run_id = ledger.start_run(command)
            setup_logging(project, verbose, run_id)
            with recorded(project, ledger, run_id, command):
                yield project, ledger, run_id, time.time()
        finally:
            ledger.close()  # before the lock goes: the next holder finds the ledger whole, its log checkpointed

