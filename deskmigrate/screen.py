"""What a person sees at the end of a command: results printed as rich tables (built by deskmigrate.report). Every
command prints through here (what `plan` shows: deskmigrate.plan_screen; progress bars: deskmigrate.progress_bars);
nothing else writes to the terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from deskmigrate.report import (
    counts_table,
    failure_groups_table,
    key_value_table,
    make_console,
    outcome_reasons_table,
    phases_table,
    reconciliation_table,
)

if TYPE_CHECKING:
    from deskmigrate.extraction import ExtractResult
    from deskmigrate.loaders.intercom.history import ConversationAttributeCheck
    from deskmigrate.loading import LoadResult
    from deskmigrate.triage import RejectionCheck

console = make_console()  # results
err_console = make_console(stderr=True)  # errors, warnings and progress


def print_conversation_attributes(check: ConversationAttributeCheck | None) -> None:
    """Which conversation attributes the mapping writes are missing in Intercom, and what happens to them."""
    if check is None:
        return
    if not check.missing:
        console.print(f"[green]✓[/] conversation attributes exist in Intercom: {', '.join(check.existing)}")
        return
    err_console.print(f"[yellow]! {check.advice()}[/]", markup=True)


def print_extract(result: ExtractResult) -> None:
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


def print_reconciliation(reconciliation: dict[str, Any], title: str = "Every record accounted for") -> None:
    if not reconciliation.get("entities"):
        return
    console.print(reconciliation_table(reconciliation, title))
    reasons = outcome_reasons_table(reconciliation)
    if reasons is not None:
        console.print(reasons)


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


def print_load(loaded: LoadResult, phases: list[dict[str, Any]], reconciled: dict[str, Any], stats: dict[str, Any]) -> None:
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
    from deskmigrate.triage import REJECTING_PHASES  # the ledger's kit, imported by the command that shows it, not with the screen

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
            rejected, failed = (p["failed"], 0) if p["phase"] in REJECTING_PHASES else (0, p["failed"])
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


def print_failure_groups(groups: list[Any], title: str) -> None:
    """Failures and rejections grouped by reason, never one line per record."""
    if groups:
        console.print(failure_groups_table(groups, title))


def print_rejections_over_limit(check: RejectionCheck, command: str) -> None:
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
