"""What `plan` shows: the counts, rejections by reason, the mapping report, contacts sharing an email, the Help Center
preview, the diff against the previous plan and where the plan is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from deskmigrate import plans
from deskmigrate.loaders.intercom.contacts import CONFLICT_EXAMPLES
from deskmigrate.planning import PlanResult
from deskmigrate.report import (
    ambiguous_dates_table,
    counts_table,
    field_notes_table,
    mapping_report_tables,
    plan_diff_tables,
    plan_diff_totals_table,
    rejected_table,
)
from deskmigrate.screen import console, err_console

PREVIEW_ROWS = 20  # articles and email groups listed on screen by `plan`; the JSON report has them all


def print_plan(result: PlanResult) -> None:
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


def print_email_conflicts(result: PlanResult) -> None:
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
                      f"{CONFLICT_EXAMPLES}")


def print_source_fields(problems: list[tuple[str, str]]) -> None:
    """Rules that read a source field no record has (a typo in the mapping, a column renamed in the export)."""
    for path, message in problems:
        err_console.print(f"[yellow]! mapping {path}:[/] {escape(message)}")


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


def print_plan_diff(result: PlanResult, *, full: bool) -> None:
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


def print_plan_kept(result: PlanResult, removed: list[str], copied_to: Path | None) -> None:
    if result.folder is not None:
        size = plans.folder_size(result.folder)
        console.print(f"plan kept in {result.folder} ({size / 1e6:.1f} MB)" if size >= 1e5 else f"plan kept in {result.folder} ({size / 1e3:.0f} kB)"
                      + (f"; {len(removed)} older plan(s) removed (plan.keep)" if removed else ""))
    if copied_to is not None:
        console.print(f"would-be payloads copied to {copied_to}")


