"""`deskmigrate cutover-check`: go or no-go for the switch. Per entity, what the source holds now (its count endpoints or
list totals; a file source's files read again), what the ledger read and how each record ended, and what Intercom holds
(the validate read-back); the open failures and rejections; the last clean delta and its lag; the content notes a person
must look at before the old desk goes. Go only when everything the mapping migrates is accounted for.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from deskmigrate import __version__, lifecycle, progress_bars
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import DELETED_IN_SOURCE, SourceNotice
from deskmigrate.core.source import SourceCheckpoint, SourceTotal
from deskmigrate.loaders.intercom.validate import Mismatch
from deskmigrate.loading import validate
from deskmigrate.planning import LOAD_ENTITIES
from deskmigrate.project import Project
from deskmigrate.reconcile import AGENTS, LANDS_AS, Reconciliation, match_agents_by_email, reconciliation
from deskmigrate.screen import console
from deskmigrate.sync import COMMAND as SYNC
from deskmigrate.sync import describe_lag
from deskmigrate.target import open_target

log = logging.getLogger(__name__)

# Runs that bring the source's changes over: the last clean one is "the last successful delta".
DELTA_COMMANDS = ("sync", "run", "load")
MISMATCH_EXAMPLES = 5
# Notice kinds of records that landed but need a person before the old desk goes.
ATTACHMENTS_ON_SOURCE = "attachments_on_source"
ATTACHMENT_FAILED = "attachment_failed:"


@dataclass
class EntityLine:
    """One line of the check: the staged entities one source count covers (Zendesk users: contacts and agents)."""

    entities: tuple[str, ...]
    source: int | None = None
    source_how: str = ""
    approximate: bool = False
    ledger_read: int = 0
    deleted_in_source: int = 0
    counts_deleted: bool = False
    landed: int = 0  # in Intercom per the ledger (created, adopted, merged, updated, unchanged)
    skipped: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    in_intercom: int | None = None  # read back and present; None: not written to Intercom (agents are matched to admins)
    missing: int = 0
    unreadable: int = 0
    differing: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def comparable_read(self) -> int:
        """What the ledger read that the source's count covers (a count endpoint leaves out what was deleted since)."""
        return self.ledger_read if self.counts_deleted else self.ledger_read - self.deleted_in_source

    def as_dict(self) -> dict[str, Any]:
        return {"entities": list(self.entities), "source": self.source, "source_how": self.source_how, "approximate": self.approximate,
                "ledger_read": self.ledger_read, "deleted_in_source": self.deleted_in_source, "landed": self.landed,
                "in_intercom": self.in_intercom, "missing_in_intercom": self.missing, "unreadable_in_intercom": self.unreadable,
                "differing_in_intercom": self.differing, "skipped": self.skipped, "rejected": self.rejected, "failed": self.failed,
                "pending": self.pending, "accounted_for": not self.problems, "problems": self.problems, "notes": self.notes}


@dataclass
class CutoverCheck:
    lines: list[EntityLine]
    last_delta: dict[str, Any] | None
    migrated: bool  # a delta run completed (clean or with failed records, which the lines count)
    needs_a_person: list[str]
    mismatch_examples: list[dict[str, Any]]
    checked_at: str
    accept_rejections: bool

    @property
    def problems(self) -> list[str]:
        found = [f"{' + '.join(line.entities)}: {problem}" for line in self.lines for problem in line.problems]
        if not self.migrated:
            found.append("nothing migrated yet: no `run` or `sync` has completed")
        return found

    @property
    def go(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"go": self.go, "checked_at": self.checked_at, "why_not": self.problems, "entities": [line.as_dict() for line in self.lines],
                "last_delta": self.last_delta, "needs_a_person": self.needs_a_person, "mismatch_examples": self.mismatch_examples,
                "accept_rejections": self.accept_rejections}


# -- the source's counts ------------------------------------------------------------------------------


def source_totals(project: Project) -> list[SourceTotal]:
    """The source's counts now: its own (count endpoints, list totals), else — a file source — its files read again."""
    connector = project.connector
    totals = list(connector.source_totals())
    covered = {entity for total in totals for entity in total.entities}
    for entity in connector.entities():
        files = connector.files_read(entity)
        if entity in covered or files is None:
            continue
        totals.extend(_read_and_count(project, entity, files))
    return totals


def _read_and_count(project: Project, entity: str, files: list[Path]) -> list[SourceTotal]:
    """A file source's records as a read would give them now: distinct ids of records, rejected rows, records it left out."""
    seen: dict[str, set[str]] = {}
    unnamed: dict[str, int] = {}
    project.connector.context.cursors = None  # the whole file as it is now, never from a saved position
    for item in project.connector.read(entity):
        if isinstance(item, SourceCheckpoint) or (isinstance(item, SourceNotice) and not item.skip_reason):
            continue
        source_id, kind = getattr(item, "source_id", None), str(getattr(item, "entity", entity))
        if source_id:
            seen.setdefault(kind, set()).add(str(source_id))
        else:
            unnamed[kind] = unnamed.get(kind, 0) + 1
    names = ", ".join(path.name for path in files[:1])
    return [SourceTotal((kind,), len(seen.get(kind, set())) + unnamed.get(kind, 0), f"rows of {names} (read now)", counts_deleted=True)
            for kind in sorted(set(seen) | set(unnamed), key=lambda k: (k != entity, k))]


# -- the check ----------------------------------------------------------------------------------------


def check(project: Project, ledger: Ledger, reconciled: Reconciliation, totals: list[SourceTotal],
          readback: tuple[list[Mismatch], dict[str, int]], *, accept_rejections: bool, state_dir: Path) -> CutoverCheck:
    """Put the three sides together, entity by entity, and say what stands between here and the switch."""
    mismatches, checked = readback
    rows = {row.entity: row for row in reconciled.entities}
    lines: list[EntityLine] = []
    grouped: set[str] = set()
    for total in totals:
        line = EntityLine(total.entities, total.count, total.endpoint, total.approximate, counts_deleted=total.counts_deleted)
        lines.append(line)
        grouped.update(total.entities)
    for entity in rows:
        if entity not in grouped:
            lines.append(EntityLine((entity,), source_how=_no_count(project)))
    for line in lines:
        _fill(line, rows, mismatches, checked, accept_rejections)
    lines.sort(key=lambda line: _order(line.entities[0]))
    completed = any(run["command"] in DELTA_COMMANDS and run["status"] in ("ok", "failed-records") for run in ledger.run_summaries())
    return CutoverCheck(lines, last_delta(ledger), completed, needs_a_person(ledger, state_dir, mismatches),
                        [m.__dict__ for m in mismatches if m.field not in ("exists", "read")][:MISMATCH_EXAMPLES],
                        datetime.now(UTC).isoformat(timespec="seconds"), accept_rejections)


def _no_count(project: Project) -> str:
    return f"{project.connector.name} gives no count of it: the ledger's read stands for the source"


def _order(entity: str) -> int:
    order = [*LOAD_ENTITIES, AGENTS]
    return order.index(entity) if entity in order else len(order)


def _fill(line: EntityLine, rows: dict[str, Any], mismatches: list[Mismatch], checked: dict[str, int], accept_rejections: bool) -> None:
    for entity in line.entities:
        row = rows.get(entity)
        if row is None:
            continue
        line.ledger_read += row.read
        line.deleted_in_source += sum(r.count for r in row.reasons if r.outcome == "skipped" and r.reason == DELETED_IN_SOURCE)
        line.landed += row.landed + row.counts["unchanged"]
        line.skipped += row.counts["skipped"]
        line.rejected += row.counts["rejected"]
        line.failed += row.counts["failed"]
        line.pending += row.counts["pending"]
        kinds = LANDS_AS.get(entity)
        if kinds is not None:
            line.in_intercom = (line.in_intercom or 0) + sum(checked.get(kind, 0) for kind in kinds)
            mine = [m for m in mismatches if m.entity in kinds]
            line.missing += len({m.source_id for m in mine if m.field == "exists"})
            line.unreadable += len({m.source_id for m in mine if m.field == "read"})
            line.differing += len({m.source_id for m in mine if m.field not in ("exists", "read")})
    if line.in_intercom is not None:
        line.in_intercom -= line.missing + line.unreadable
    _judge(line, accept_rejections)


def _judge(line: EntityLine, accept_rejections: bool) -> None:
    """What keeps this line from being accounted for (problems), and what a person should know (notes)."""
    if line.source is not None:
        behind = line.source - line.comparable_read
        if behind > 0 and not line.approximate:
            line.problems.append(f"the source holds {behind} more than the ledger has read: the next `deskmigrate sync` (or `run`) reads them")
        elif behind > 0:
            line.notes.append(f"the source's approximate count is {behind} above what the ledger read (Zendesk refreshes counts "
                              "above 100,000 daily)")
        elif behind < 0:
            line.notes.append(f"the ledger read {-behind} more than the source counts now (deleted in the source since they were read?)")
    if line.failed:
        line.problems.append(f"{line.failed} failed (`deskmigrate status --failures`; the next sync or run retries them)")
    if line.pending:
        line.problems.append(f"{line.pending} read but not loaded yet (the next sync or run loads them)")
    if line.rejected and not accept_rejections:
        line.problems.append(f"{line.rejected} rejected (fix the source row or the mapping, or accept them with --accept-rejections)")
    elif line.rejected:
        line.notes.append(f"{line.rejected} rejected, accepted (--accept-rejections): they stay behind")
    if line.missing:
        line.problems.append(f"{line.missing} written but missing in Intercom now (deleted there?): the next sync or run writes them again")
    if line.unreadable:
        line.problems.append(f"{line.unreadable} could not be read back from Intercom (`deskmigrate validate` names them)")
    if line.differing:
        line.notes.append(f"{line.differing} differ in Intercom from what was written (changed there since?): `deskmigrate validate` lists them")


def last_delta(ledger: Ledger) -> dict[str, Any] | None:
    """The last run that finished cleanly bringing the source over, with its lag when it was a sync cycle."""
    runs = ledger.run_summaries()
    clean = [run for run in runs if run["command"] in DELTA_COMMANDS and run["status"] == "ok"]
    if not clean:
        return None
    run = clean[-1]
    later = [r for r in runs if r["command"] in DELTA_COMMANDS and r["started_at"] > run["started_at"]]
    section = run.get("sync") or {}
    return {"run_id": run["run_id"], "command": run["command"], "cycle": section.get("cycle"),
            "finished_at": datetime.fromtimestamp(run["finished_at"], UTC).isoformat(timespec="seconds") if run["finished_at"] else None,
            "lag_s": section.get("lag_s"), "landed": section.get("landed"),
            "later_runs_not_clean": [{"run_id": r["run_id"], "status": r["status"]} for r in later]}


def needs_a_person(ledger: Ledger, state_dir: Path, mismatches: Iterable[Mismatch]) -> list[str]:
    """Content notes that stand after a clean migration and that a person must act on before the old desk goes."""
    said: list[str] = []
    articles = ledger.count_id_rows("articles")
    if articles:
        dates = _latest_help_center_dates(state_dir)
        said.append(f"{articles} article(s) in Intercom show the migration's date: {dates or 'Intercom cannot backdate articles'}")
    kinds = ledger.notice_kinds()
    on_source = sum(n for kind, n in kinds.items() if kind.endswith(f": {ATTACHMENTS_ON_SOURCE}"))
    if on_source:
        said.append(f"{on_source} conversation(s) list attachments or inline images as links to the old desk (they need its "
                    "login): keep the files reachable, or download them, before the old desk is closed")
    failed = sum(n for kind, n in kinds.items() if f": {ATTACHMENT_FAILED}" in kind)
    if failed:
        said.append(f"{failed} attachment(s) could not be copied and are listed, not linked: `deskmigrate status` names them")
    return said


def _latest_help_center_dates(state_dir: Path) -> str | None:
    """What the last run that loaded the Help Center said of article dates (a footer rule, or none)."""
    folder = state_dir / "reports"
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        dates = (report.get("help_center") or {}).get("dates") if isinstance(report, dict) else None
        if dates:
            return str(dates)
    return None


# -- the command ---------------------------------------------------------------------------------------


def run_check(project: Project, ledger: Ledger, run_id: str, started: float, *,
              accept_rejections: bool) -> tuple[CutoverCheck, Path]:
    """The check as the run `run_id`: Intercom read back (validate's read-back), the source counted, the verdict shown,
    and the run's report (JSON and HTML) written with it as its `cutover` section, the run recorded go or no-go."""
    with open_target(project) as target:
        target.client.me()  # a wrong token or an unreachable target is an error here, never "nothing in Intercom"
        admins = target.client.admins().get("admins", []) if ledger.count_staged(AGENTS) else None
        agent_admins = match_agents_by_email(ledger, admins) if admins is not None else None
        with progress_bars.bars() as progress:
            readback = validate(project, ledger, target, progress)
        stats = lifecycle.api_stats(target)
    with console.status("counting what the source holds now…"):
        totals = source_totals(project)
    reconciled = reconciliation(ledger, None, agent_admins)
    result = check(project, ledger, reconciled, totals, readback, accept_rejections=accept_rejections, state_dir=project.state_dir)
    print_check(result)
    code = lifecycle.EXIT_OK if result.go else lifecycle.EXIT_FAILURES
    document = {"run_id": run_id, "command": "cutover-check", "deskmigrate": __version__,
                "started_at": datetime.fromtimestamp(started, UTC).isoformat(), "duration_s": round(time.time() - started, 3),
                "cutover": result.as_dict(), "reconciliation": reconciled.as_dict(), "api": stats, "exit_code": code}
    path = lifecycle.write_reports(project, run_id, document)
    ledger.finish_run(run_id, "go" if result.go else "no-go", document)
    return result, path


# -- on screen ----------------------------------------------------------------------------------------


def print_check(result: CutoverCheck) -> None:
    table = Table(title="Cutover check: the source now, the ledger, Intercom", title_justify="left")
    for column in ("entity", "source now", "ledger read", "deleted in source", "in Intercom (ledger)", "in Intercom (read back)",
                   "skipped", "rejected", "failed", "pending", ""):
        table.add_column(column, justify="left" if column in ("entity", "") else "right")
    for line in result.lines:
        source = "-" if line.source is None else f"~{line.source}" if line.approximate else str(line.source)
        intercom = "-" if line.in_intercom is None else str(line.in_intercom)
        table.add_row(" + ".join(line.entities), source, str(line.ledger_read), str(line.deleted_in_source), str(line.landed), intercom,
                      str(line.skipped), str(line.rejected), str(line.failed), str(line.pending),
                      "[green]✓[/]" if not line.problems else "[red]✗[/]")
    console.print(table)
    for line in result.lines:
        console.print(f"  {' + '.join(line.entities)}: source counted by {escape(line.source_how)}", markup=True, highlight=False)
        for note in line.notes:
            console.print(f"    note: {escape(note)}", highlight=False)
    delta = result.last_delta
    if delta is None:
        console.print("last successful delta: none yet" + (" (the runs so far finished with failed records)" if result.migrated else ""))
    else:
        what = f"sync cycle {delta['cycle']}" if delta["command"] == SYNC and delta.get("cycle") else delta["command"]
        lag = f", lag {describe_lag(delta['lag_s'])}" if delta.get("lag_s") is not None else ""
        console.print(f"last successful delta: run {delta['run_id']} ({what}), finished {delta['finished_at']}{lag}")
        for later in delta["later_runs_not_clean"]:
            console.print(f"  [yellow]! a later run did not finish cleanly: {later['run_id']} ({later['status']})[/]")
    if result.needs_a_person:
        console.print("[bold]Needs a person before the old desk goes:[/]")
        for line in result.needs_a_person:
            console.print(f"  • {escape(line)}", highlight=False)
    if result.go:
        console.print("[bold green]GO[/]: everything the mapping migrates is accounted for")
    else:
        console.print(f"[bold red]NO-GO[/] ({len(result.problems)}):")
        for problem in result.problems:
            console.print(f"  ✗ {escape(problem)}", highlight=False)
