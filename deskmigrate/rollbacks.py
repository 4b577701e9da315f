"""The `rollback` command's own parts: which runs it undoes, the preview a person confirms, and its run report."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from deskmigrate.core.ledger import Ledger
from deskmigrate.loaders.intercom.rollback import RollbackPlan, RollbackReport, singular

PREVIEW_ROWS = 20
# Preview columns: (summary key(s), heading).
PREVIEW_COLUMNS = (
    (("delete",), "delete"),
    (("restore_records",), "restore"),
    (("remove_taggings",), "remove taggings"),
    (("remove_links",), "remove company links"),
    (("put_back",), "put back"),
    (("keep_changed", "keep_shared_tags", "keep_legacy"), "keep"),
    (("archive",), "archive"),
)


class RollbackRefused(Exception):
    """The runs asked for cannot be rolled back as asked (exit 2, with the reason)."""


def select_runs(ledger: Ledger, run_id: str | None, all_runs: bool) -> list[str]:
    """The runs to undo, newest first: one by id, or every run that wrote to Intercom (rollback runs never: they are undos)."""
    runs = ledger.runs()
    if run_id is not None:
        command = ledger.run_command(run_id)
        if command is None:
            raise RollbackRefused(f"no run {run_id!r} in the ledger; `deskmigrate status` lists them")
        if command == "rollback":
            raise RollbackRefused(f"run {run_id} is a rollback; to load again what it removed, run `deskmigrate run`")
        return [run_id]
    return [r["run_id"] for r in reversed(runs) if r["command"] != "rollback"]


def nothing_to_do(ledger: Ledger, run_ids: list[str], plan: RollbackPlan) -> list[str]:
    """Why there is nothing to undo: already rolled back (by which runs), or nothing written; what was kept and how to force it."""
    lines = []
    for run_id in run_ids:
        by = ledger.rolled_back_by(run_id)
        if by:
            lines.append(f"run {run_id} was already rolled back by run {', '.join(by)}: nothing left to undo.")
        elif ledger.count_writes(run_id) == 0 and len(run_ids) == 1:
            lines.append(f"run {run_id} wrote nothing to Intercom: nothing to undo.")
    if not lines:
        lines.append("nothing to roll back: the runs' writes are undone already.")
    kept = plan.kept_changed()
    if kept:
        lines.append(f"{len(kept)} record(s) changed since the migration are kept; `--force` undoes them anyway.")
    return lines


def preview(plan: RollbackPlan) -> list[Any]:
    """The per-phase table and the lists a person should read before saying yes."""
    runs = ", ".join(plan.run_ids) if len(plan.run_ids) <= 3 else f"{len(plan.run_ids)} runs ({plan.run_ids[-1]} … {plan.run_ids[0]})"
    title = f"Rollback plan of {runs}" + (" (--force)" if plan.force else "")
    table = Table(title=title, title_justify="left")
    table.add_column("phase", no_wrap=True)
    summary = plan.summary()
    # Only the columns with something in them: the table stays readable in an 80-column terminal.
    columns = [(keys, heading) for keys, heading in PREVIEW_COLUMNS if any(counts.get(k) for counts in summary.values() for k in keys)]
    for _, heading in columns:
        table.add_column(heading, justify="right")
    tag_phases = {tag.phase for tag in plan.tags}  # their row's deletes are tags, not records
    for phase, counts in summary.items():
        cells = []
        for keys, heading in columns:
            n = sum(counts.get(key, 0) for key in keys)
            if heading == "restore" and n:
                cells.append(f"{n} ({counts.get('restore_fields', 0)} fields)")
            elif heading == "delete" and phase in tag_phases and n:
                cells.append(f"{n} tag(s)")
            else:
                cells.append(str(n) if n else "-")
        table.add_row(phase, *cells)
    parts: list[Any] = [table]
    parts += _listing("Changed since the migration: kept (--force undoes them anyway)",
                      [f"{singular(item['entity'])} {item['source_id']} ({item['intercom_id']}): "
                       + ("the whole record" if item["kept"] == "record" else "these fields") + f" — {', '.join(item['fields'])}"
                       for item in plan.kept_changed()])
    parts += _listing("Changed since the migration: undone anyway (--force)",
                      [f"{singular(item['entity'])} {item['source_id']}: {item['action']}, changed: {', '.join(item['fields'])}"
                       for item in plan.forced()])
    parts += _listing("Existed before the migration: fields deskmigrate changed go back",
                      [f"{r.label()}: {', '.join(r.restored_fields)}"
                       + (f" ({', '.join(r.unclearable)} stays: Intercom cannot clear it)" if r.unclearable else "")
                       for r in plan.records if r.adopted and r.action == "restore" and (r.restored_fields or r.unclearable)])
    parts += _listing("There before the migration: kept",
                      [f"{singular(item['entity'])} {item['source_id']} ({item['intercom_id']}): {', '.join(item['kept'])}"
                       for item in plan.kept_pre_existing()])
    parts += _listing("Tags deskmigrate created, kept because others use them (only deskmigrate's taggings go)",
                      [f"tag {item['tag']}: still on " + ", ".join(f"{n} {kind}" for kind, n in item["still_on"].items())
                       for item in plan.kept_tags()])
    parts += _listing("Kept, owner unknown (applied by deskmigrate 0.1 to a record that existed before, which it did not record)",
                      [f"{item['kind']} {item['key']} of {singular(item['entity'])} {item['source_id']}" for item in plan.kept_legacy()])
    errors = [f"{r.label()}: {r.error}" for r in plan.records if r.action == "error"]
    parts += _listing("Could not be read (left as they are; run rollback again)", errors)
    return parts


def _listing(title: str, lines: list[str]) -> list[Any]:
    if not lines:
        return []
    shown = [Text(f"  • {line}") for line in lines[:PREVIEW_ROWS]]
    more = [Text(f"  … and {len(lines) - PREVIEW_ROWS} more in the JSON report")] if len(lines) > PREVIEW_ROWS else []
    return [Text(f"{title} ({len(lines)}):", style="bold"), *shown, *more]


def plan_document(plan: RollbackPlan) -> dict[str, Any]:
    """A rollback's plan for `rollback --dry-run --json`: per phase what it would do, and what it would keep and why."""
    return {
        "rollback_of": plan.run_ids, "force": plan.force, "actionable": plan.actionable, "plan": plan.summary(),
        "kept_changed": plan.kept_changed(), "forced": plan.forced(), "kept_tags": plan.kept_tags(),
        "kept_legacy": plan.kept_legacy(), "kept_pre_existing": plan.kept_pre_existing(),
    }


def report_sections(plan: RollbackPlan, report: RollbackReport, ledger: Ledger, rollback_run_id: str) -> dict[str, Any]:
    """What the rollback run's JSON report holds beyond the run header."""
    return {
        "rollback_of": plan.run_ids,
        "force": plan.force,
        "plan": plan.summary(),
        "result": report.as_dict(),
        "undo_log": ledger.undo_log(rollback_run_id)[:5000],
    }
