"""What a person sees at the end of a command: results printed as rich tables (built by deskmigrate.report), and
progress bars while it runs. Every command prints through here; nothing else writes to the terminal."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
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
from rich.table import Table
from rich.text import Text

from deskmigrate import pipeline, plans, triage
from deskmigrate.report import (
    ambiguous_dates_table,
    counts_table,
    failure_groups_table,
    field_notes_table,
    key_value_table,
    make_console,
    mapping_report_tables,
    outcome_reasons_table,
    phases_table,
    plan_diff_tables,
    plan_diff_totals_table,
    reconciliation_table,
    rejected_table,
)

console = make_console()  # results
err_console = make_console(stderr=True)  # errors, warnings and progress
progress_log = logging.getLogger("deskmigrate.progress")
PREVIEW_ROWS = 20  # articles and email groups listed on screen by `plan`; the JSON report has them all


class RateColumn(ProgressColumn):
    """Records a second, as measured over the last moments."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


class BarProgress:
    """pipeline.Progress drawn with rich progress bars: done/total, rate, time left, and what was rejected or failed."""

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
    """pipeline.Progress off a terminal: a line per task every PROGRESS_EVERY_S seconds on stderr and in the log."""

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
def bars() -> Iterator[pipeline.Progress]:
    """Bars on a terminal (they end before the command prints its summary); a line every 10 s elsewhere."""
    if not console.is_terminal and os.environ.get("DESKMIGRATE_PROGRESS") != "1":
        yield LineProgress()
        return
    with Progress(*progress_columns(), console=err_console if console.quiet else console, transient=False) as progress:
        yield BarProgress(progress)


def print_conversation_attributes(check: pipeline.ConversationAttributeCheck | None) -> None:
    """Which conversation attributes the mapping writes are missing in Intercom, and what happens to them."""
    if check is None:
        return
    if not check.missing:
        console.print(f"[green]✓[/] conversation attributes exist in Intercom: {', '.join(check.existing)}")
        return
    err_console.print(f"[yellow]! {check.advice()}[/]", markup=True)


def print_extract(result: pipeline.ExtractResult) -> None:
    rows = {e: {"staged": n, "rejected": result.rejected.get(e, 0), "duplicates": result.duplicates.get(e, 0)}
            for e, n in result.staged.items()}
    for entity, n in result.rejected.items():
        rows.setdefault(entity, {"staged": 0, "rejected": n, "duplicates": 0})
    console.print(counts_table("Extract", rows, ["staged", "rejected", "duplicates"]))
    by_run: dict[str, list[str]] = {}
    for entity, run_id in result.unchanged.items():
        by_run.setdefault(run_id, []).append(entity)
    for run_id, entities in by_run.items():
        console.print(f"{', '.join(entities)}: source files unchanged since run {run_id}, not read again (its counts above)")
    if result.notices:
        table = Table(title=f"Source notices ({result.notice_count})", title_justify="left")
        for column in ("entity", "source id", "where", "message"):
            table.add_column(column, overflow="fold")
        for notice in result.notices:
            table.add_row(notice["entity"], notice["source_id"] or "", notice["location"] or "", notice["message"])
        console.print(table)


def print_plan(result: pipeline.PlanResult) -> None:
    title = f"Plan (a sample of {result.sample} records per entity)" if result.sample else "Plan"
    console.print(counts_table(title, result.counts, ["create", "update", "unchanged", "rejected"]))
    rejected = rejected_table(result.rejected_by_reason)
    if rejected is not None:
        console.print(rejected)
    console.print(f"tags: {result.tags['tag_names']} tag names, {result.tags['taggings_to_add']} taggings to add")
    report = result.mapping_report.to_dict()
    for table in mapping_report_tables(report):
        console.print(table)
    for optional in (field_notes_table(report), ambiguous_dates_table(report)):
        if optional is not None:
            console.print(optional)
    print_email_conflicts(result)
    print_source_fields(result.source_fields)
    if result.attributes:
        console.print("custom attributes the mapping writes: " + ", ".join(f"{a.model}.{a.name} ({a.data_type})" for a in result.attributes))
    print_help_center_preview(result.help_center)


def print_email_conflicts(result: pipeline.PlanResult) -> None:
    """Source contacts sharing one email: Intercom keeps one contact per email, so the plan says which record wins."""
    if not result.email_conflict_count:
        return
    table = Table(title=f"Contacts sharing one email ({result.email_conflict_count} group(s)): one Intercom contact each",
                  title_justify="left", caption="load.on_duplicate_email: merge (the newest record's fields) or reject_later")
    for column in ("group", "source id", "from", "outcome"):
        table.add_column(column, overflow="fold")
    for number, group in enumerate(result.email_conflicts[:PREVIEW_ROWS], start=1):
        for record in group["records"]:
            table.add_row(str(number), record["source_id"], record["location"] or "", record["outcome"])
    console.print(table)
    if result.email_conflict_count > PREVIEW_ROWS:
        console.print(f"… and {result.email_conflict_count - PREVIEW_ROWS} more group(s); the JSON report lists up to "
                      f"{pipeline.CONFLICT_EXAMPLES}")


def print_source_fields(problems: list[tuple[str, str]]) -> None:
    """Rules that read a source field no record has (a typo in the mapping, a column renamed in the export)."""
    for path, message in problems:
        err_console.print(f"[yellow]! mapping {path}:[/] {escape(message)}")


def print_reconciliation(reconciliation: dict[str, Any], title: str = "Every record accounted for") -> None:
    if not reconciliation.get("entities"):
        return
    console.print(reconciliation_table(reconciliation, title))
    reasons = outcome_reasons_table(reconciliation)
    if reasons is not None:
        console.print(reasons)


def print_help_center_preview(preview: dict[str, Any]) -> None:
    """Per article, what the Help Center load will lose (HTML removed, images, translations); all of it in the JSON report."""
    if not preview:
        return
    table = Table(title=f"Help Center: {preview['articles_with_losses']} article(s) will lose or change content", title_justify="left")
    for column in ("article", "HTML removed", "images on the source site", "other"):
        table.add_column(column, overflow="fold")
    for loss in preview["articles"][:PREVIEW_ROWS]:
        other = [*loss.get("translations_not_imported", []), *(f"image removed: {src}" for src in loss.get("images_removed", [])),
                 *([loss["language"]] if loss.get("language") else [])]
        table.add_row(f"{loss['source_id']} {loss['title']}", ", ".join(f"{t} ×{n}" for t, n in loss.get("removed_tags", {}).items()),
                      str(len(loss.get("images_on_source_site", [])) or ""), "; ".join(other))
    console.print(table)
    if len(preview["articles"]) > PREVIEW_ROWS:
        console.print(f"… and {len(preview['articles']) - PREVIEW_ROWS} more in the JSON report under plan.help_center.articles")
    if preview.get("images_on_source_site"):
        console.print(f"{preview['images_on_source_site']} image(s) on the source's own site: {preview['images_on_source_site_note']}")


def print_help_center(details: dict[str, Any] | None) -> None:
    """The help center's content-loss summary; every detail is in the JSON report."""
    if not details:
        return
    for line in details.get("collections") or []:
        console.print(f"[yellow]help center:[/] {line}")
    if details.get("articles_with_losses"):
        removed = ", ".join(f"{tag} ×{count}" for tag, count in (details.get("removed_tags_total") or {}).items()) or "none"
        console.print(f"[yellow]{details['articles_with_losses']} article(s) lost or changed content[/] (HTML removed: {removed}); "
                      "per article in the JSON report under help_center.articles")
    if details.get("dates"):
        console.print(details["dates"])
    if details.get("redirect_map"):
        console.print(f"redirect map (old URL → new URL): {details['redirect_map']}")



def print_load(loaded: pipeline.LoadResult, phases: list[dict[str, Any]], reconciled: dict[str, Any], stats: dict[str, Any]) -> None:
    """After a load: Help Center losses, agents without an admin, conversation attributes, phases, reconciliation, API use."""
    print_help_center(loaded.details.get("help_center"))
    if loaded.preflight.agents_unmatched:
        console.print(f"[yellow]{len(loaded.preflight.agents_unmatched)} source agent(s) have no Intercom admin with their email; "
                      f"what they wrote is attributed to admin {loaded.preflight.fallback_admin}:[/] "
                      + ", ".join(loaded.preflight.agents_unmatched[:20]))
    conversation_attributes = loaded.preflight.conversation_attributes
    if conversation_attributes.get("created"):
        console.print(f"conversation attributes created in Intercom: {', '.join(conversation_attributes['created'])}")
    if conversation_attributes.get("kept_as_tags"):
        err_console.print(f"[yellow]! {conversation_attributes['advice']}[/]", markup=True)
    console.print(phases_table(phases))
    print_reconciliation(reconciled)
    console.print(key_value_table("API", {
        "calls": stats.get("calls"), "writes": stats.get("writes"), "429s": stats.get("rate_limited"),
        "retries": stats.get("retries"), "waited on rate limit (s)": stats.get("waited_s"),
    }))


def print_mismatches(mismatches: list[Any], limit: int = 200) -> None:
    """What validate found different in Intercom, one row per field (the first `limit`)."""
    if not mismatches:
        return
    table = Table(title=f"Mismatches ({len(mismatches)})", title_justify="left")
    for column in ("entity", "source id", "intercom id", "field", "expected", "in Intercom"):
        table.add_column(column, overflow="fold")
    for m in mismatches[:limit]:
        table.add_row(m.entity, m.source_id, m.intercom_id or "", m.field, str(m.expected), str(m.actual))
    console.print(table)


def print_status(runs: list[dict[str, Any]], chosen: str, progress: list[dict[str, Any]], reconciled: dict[str, Any],
                 failures: list[Any] | None, open_counts: dict[str, int], note_kinds: dict[str, int]) -> None:
    """`status`: the runs, the chosen run's per-phase progress and reconciliation, the open failures and rejections (by
    reason with `failures`, else counted), content notes by kind."""
    table = Table(title="Runs", title_justify="left")
    for column in ("run", "command", "started", "duration", "status", "writes", "open failures"):
        table.add_column(column, no_wrap=column == "run", justify="right" if column in ("writes", "open failures") else "left")
    for r in runs:
        duration = f"{r['finished_at'] - r['started_at']:.1f}s" if r["finished_at"] else "-"
        started = datetime.fromtimestamp(r["started_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(r["run_id"], r["command"], started, duration, r["status"], str(r["writes"]), str(r["open_failures"]))
    console.print(table)
    for r in runs:
        if r.get("error"):
            console.print(f"run {r['run_id']} {r['status']}: {escape(str(r['error']))}")
    if progress:
        table = Table(title=f"Progress of {chosen}", title_justify="left")
        for column in ("phase", "done", "unchanged", "rejected", "failed", "status"):
            table.add_column(column)
        for p in progress:
            # what the source rows and the mapping refused is counted in their phases' failures: rejections, not failures
            rejected, failed = (p["failed"], 0) if p["phase"] in triage.REJECTING_PHASES else (0, p["failed"])
            table.add_row(p["phase"], str(p["done"]), str(p["unchanged"]), str(rejected), str(failed), p["status"])
        console.print(table)
    print_reconciliation(reconciled, f"Every record accounted for (as of {chosen})")
    rejected, failed = open_counts.get("rejected", 0), open_counts.get("failed", 0)
    if failures is not None:
        print_failure_groups(failures, f"Open rejections and failures, by reason ({rejected + failed})")
    if not rejected and not failed:
        console.print("no open rejections or failures")
    else:
        console.print(f"open: {rejected} rejected record(s), {failed} failed record(s)"
                      + ("; by reason: `deskmigrate status --failures`" if failures is None else "")
                      + "; every one: `deskmigrate status --failures --format csv` (or json)")
    if note_kinds:
        console.print(key_value_table(f"Content notes ({sum(note_kinds.values())}; details in the run reports)", note_kinds))


@contextmanager
def summary_on_stderr(active: bool) -> Iterator[None]:
    """While `active`, what the command prints goes to stderr: stdout carries only an export (CSV or JSON)."""
    if not active:
        yield
        return
    kept = console._file  # None: the console follows whatever sys.stdout is (so must it again afterwards)
    console.file = sys.stderr
    try:
        yield
    finally:
        console._file = kept


def print_plan_diff(result: pipeline.PlanResult, *, full: bool) -> None:
    """What changed since the earlier plan: a line, or (`full`) per entity the fields, moves and rejections."""
    if result.compared_with is None:
        if full:
            console.print("no earlier plan to compare with: the next `plan --diff` compares with this one")
        return
    totals = {name: sum(getattr(d, name) for d in result.diff.values()) for name in ("changed", "compared")}
    moved = sum(sum(d.moves.values()) for d in result.diff.values())
    new = sum(sum(e.count for e in d.new_rejections.values()) for d in result.diff.values())
    resolved = sum(sum(e.count for e in d.resolved_rejections.values()) for d in result.diff.values())
    if not full:
        if any(d.anything for d in result.diff.values()):
            console.print(f"since plan {result.compared_with}: {totals['changed']} payload(s) changed, {moved} record(s) changed "
                          f"action, {new} new rejection(s), {resolved} resolved (`deskmigrate plan --diff` shows what)")
        else:
            console.print(f"since plan {result.compared_with}: no payload changed")
        return
    console.print(plan_diff_totals_table(result.compared_with, result.diff))
    for table in plan_diff_tables(result.diff):
        console.print(table)


def print_plan_kept(result: pipeline.PlanResult, removed: list[str], copied_to: Path | None) -> None:
    if result.folder is not None:
        size = plans.folder_size(result.folder)
        console.print(f"plan kept in {result.folder} ({size / 1e6:.1f} MB)" if size >= 1e5 else f"plan kept in {result.folder} ({size / 1e3:.0f} kB)"
                      + (f"; {len(removed)} older plan(s) removed (plan.keep)" if removed else ""))
    if copied_to is not None:
        console.print(f"would-be payloads copied to {copied_to}")


def print_failure_groups(groups: list[Any], title: str) -> None:
    """Failures and rejections grouped by reason, never one line per record."""
    if groups:
        console.print(failure_groups_table(groups, title))


def print_rejections_over_limit(check: triage.RejectionCheck, command: str) -> None:
    """Why a run or load stopped before writing: per entity how many would be rejected, the top reasons, how to go on."""
    for entity in check.over:
        console.print(f"[bold red]{entity.entity}: {entity.rejected} of {entity.read} records ({entity.share:.1%}) would be "
                      f"rejected; load.max_rejected allows {check.limit} ({entity.allowed})[/]")
        table = Table(title=f"Top reasons ({entity.entity})", title_justify="left")
        for column in ("reason", "records", "e.g."):
            table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
        for reason, count, examples in entity.reasons[:5]:
            table.add_row(Text(reason), str(count), Text(", ".join(examples)))
        console.print(table)
    console.print(f"Nothing was written to Intercom. To go on: fix the source rows or the mapping (`deskmigrate plan` shows "
                  f"them, `deskmigrate plan --rejections csv` lists every one) and run `deskmigrate {command}` again; or run "
                  f"`deskmigrate {command} --accept-rejections` to load the rest and leave these out; or raise "
                  f"load.max_rejected in the config (a share such as 30% or a number of records).", markup=False)


def quiet(on: bool) -> None:
    """-q and --json: nothing but errors and warnings (on stderr), and the JSON document when asked for."""
    console.quiet = on


def print_json(document: Any) -> None:
    """One JSON document on stdout, whatever `quiet` says (secrets are never in what commands hand here)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_transforms(described: list[dict[str, Any]]) -> None:
    """`mappings transforms`: each transform, what it does, its arguments and one rule that uses it."""
    for transform in described:
        arguments = ", ".join(
            f"{a['name']}: {a['type']}" + ("" if a["required"] else f" = {a['default']!r}") for a in transform["args"]
        ) or "no arguments"
        console.print(f"[bold]{transform['name']}[/] ({escape(arguments)})")
        console.print(f"  {escape(transform['summary'])}")
        if transform["example"]:
            console.print(f"  - {escape(transform['example'])}", style="dim")
