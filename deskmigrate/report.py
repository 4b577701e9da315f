"""What a person reads at the end of a command: rich tables, and a redaction filter that keeps secrets out of logs."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def counts_table(title: str, rows: dict[str, dict[str, int]], columns: Iterable[str]) -> Table:
    columns = list(columns)
    table = Table(title=title, title_justify="left")
    table.add_column("entity")
    for column in columns:
        table.add_column(column, justify="right")
    for entity, values in rows.items():
        table.add_row(entity, *(str(values.get(c, 0)) for c in columns))
    return table


def phases_table(phases: list[dict[str, Any]]) -> Table:
    """Per phase what the load did; `rejected`: records of its entity the source or the mapping refused (never sent)."""
    counted = ("created", "updated", "adopted", "unchanged", "rejected", "failed")
    table = Table(title="Load", title_justify="left")
    for column in ("phase", *counted, "took", "other"):
        table.add_column(column, justify="left" if column in ("phase", "other") else "right")
    standard = {"phase", *counted, "duration_s"}
    for phase in phases:
        other = ", ".join(f"{k} {v}" for k, v in phase.items() if k not in standard and v)
        took = f"{phase['duration_s']:.1f}s" if phase.get("duration_s") is not None else ""
        table.add_row(phase["phase"], *(str(phase.get(c, 0)) for c in counted), took, other)
    return table


def failure_groups_table(groups: list[Any], title: str, limit: int = 40) -> Table:
    """Failures and rejections by reason: outcome, entity, phase, reason, how many, three examples with file:line."""
    table = Table(title=title, title_justify="left")
    for column in ("outcome", "entity", "phase", "reason", "records", "e.g."):
        table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
    for group in groups[:limit]:
        table.add_row(group.outcome, group.entity, group.phase, Text(group.reason), str(group.count), Text(example_ids(group.examples)))
    if len(groups) > limit:
        table.caption = f"… and {len(groups) - limit} more reasons ({sum(g.count for g in groups[limit:])} records)"
    return table


def key_value_table(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        table.add_row(key, Text(str(value)))  # values are data, never markup: "page[size]" must print as it is
    return table


MAPPING_REPORT_SECTIONS = {
    "unmapped_fields": "Unmapped source fields (dropped)",
    "unmapped_to_custom_attributes": "Unmapped source fields kept as custom attributes",
    "value_map_misses": "Value-map misses",
    "defaults_applied": "Defaults applied",
    "content_dropped": "Content dropped",
    "content_dropped_items": "Content dropped, by what",
}


def mapping_report_tables(report: dict[str, Any]) -> list[Table]:
    """The mapping report, one table per kind of finding the user acts on; a line saying so when there is none."""
    tables = []
    for key, title in MAPPING_REPORT_SECTIONS.items():
        rows = []
        for target, data in (report.get("targets") or {}).items():
            for name, count in _flatten(data.get(key) or {}):
                rows.append((target, name, count))
        if rows:
            table = Table(title=title, title_justify="left")
            table.add_column("target")
            table.add_column("field / value")
            table.add_column("records", justify="right")
            for target, name, count in rows:
                table.add_row(target, name, str(count))
            tables.append(table)
    if not tables:
        table = Table(title="Mapping report", title_justify="left", show_header=False)
        table.add_column("finding")
        table.add_row("every source field is mapped; no value-map misses, no defaults applied, no content dropped")
        tables.append(table)
    return tables


FIELD_NOTE_ACTIONS = {"dropped": "field dropped", "kept_raw": "kept as text in <name>_raw", "kept_as_written": "sent as written"}


def field_notes_table(report: dict[str, Any], examples: int = 3) -> Table | None:
    """Values that cost their field, not their record: per rule and reason, how many records and which."""
    rows = [(target, note) for target, data in (report.get("targets") or {}).items() for note in data.get("field_notes") or []]
    if not rows:
        return None
    table = Table(title=f"Field notes: values that cost their field, not their record ({sum(n['count'] for _, n in rows)})",
                  title_justify="left")
    for column in ("rule", "reason", "what happened", "records", "e.g."):
        table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
    for target, note in sorted(rows, key=lambda row: (-row[1]["count"], row[0], row[1]["field"])):
        table.add_row(f"{target}.{note['field']}", note["reason"], FIELD_NOTE_ACTIONS.get(note["action"], note["action"]),
                      str(note["count"]), ", ".join(note["examples"][:examples]))
    return table


def ambiguous_dates_table(report: dict[str, Any]) -> Table | None:
    """Numeric dates (03/04/2021) whose column never showed its order: read by `dayfirst`, counted so the user can decide."""
    rows = [(target, field, orders) for target, data in (report.get("targets") or {}).items()
            for field, orders in (data.get("ambiguous_dates") or {}).items()]
    if not rows:
        return None
    table = Table(title="Ambiguous dates: no value in the column shows day or month first", title_justify="left",
                  caption="set `dayfirst` on the rule or attribute (or defaults.dayfirst in the config) if this is wrong")
    for column in ("field", "read as", "values"):
        table.add_column(column, justify="right" if column == "values" else "left")
    for target, field, orders in rows:
        for order, count in orders.items():
            table.add_row(f"{target}.{field}", "day first" if order == "dayfirst" else "month first", str(count))
    return table


def reconciliation_table(reconciliation: dict[str, Any], title: str = "Every record accounted for") -> Table:
    """read = landed + unchanged + skipped + failed + rejected (+ pending), per entity, the numbers adding up."""
    outcomes = ("created", "adopted", "merged", "updated", "unchanged", "skipped", "failed", "rejected", "pending")
    rows = reconciliation.get("entities") or []
    # Columns that are zero for every entity are left out, so the table fits a terminal (the JSON report has them all).
    shown = [o for o in outcomes if any(row.get(o) for row in rows)] or ["created"]
    columns = ("read", *shown)
    table = Table(title=title, title_justify="left", caption=f"read = {' + '.join(shown)}")
    table.add_column("entity")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["entity"], *(str(row.get(column, 0)) for column in columns))
    return table


def outcome_reasons_table(reconciliation: dict[str, Any], examples: int = 3) -> Table | None:
    """Why records were skipped, failed, rejected or are still pending: one line per reason, never one per record."""
    rows = [(row["entity"], reason) for row in reconciliation.get("entities") or [] for reason in row.get("reasons") or []
            if reason["outcome"] in ("skipped", "failed", "rejected", "pending")]
    if not rows:
        return None
    table = Table(title="Not landed, by reason", title_justify="left")
    for column in ("entity", "outcome", "reason", "records", "e.g."):
        table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
    for entity, reason in rows:
        table.add_row(entity, reason["outcome"], reason["reason"], str(reason["count"]), ", ".join(reason["examples"][:examples]))
    return table


def example_ids(examples: Iterable[tuple[str, str | None]], limit: int = 3) -> str:
    """The first few records of a group as "u17 (contacts.csv:18)"."""
    return ", ".join(f"{source_id} ({where})" if where else source_id for source_id, where in list(examples)[:limit])


def rejected_table(by_entity: dict[str, dict[str, Any]], title: str = "Rejected, by reason") -> Table | None:
    """Rejected records grouped by reason: one line per entity and reason with a count and three examples, never one per record."""
    rows = [(entity, reason, found) for entity, reasons in by_entity.items() for reason, found in reasons.items()]
    if not rows:
        return None
    total = sum(found.count for _, _, found in rows)
    table = Table(title=f"{title} ({total})", title_justify="left",
                  caption="every one: `deskmigrate plan --rejections csv` (or json)")
    for column in ("entity", "reason", "records", "e.g."):
        table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
    for entity, reason, found in rows:
        table.add_row(entity, reason, str(found.count), example_ids(found.examples))
    return table


def plan_diff_totals_table(compared_with: str, diffs: dict[str, Any]) -> Table:
    """Per entity: records compared, payloads changed, new to the plan or gone, rejections new and resolved."""
    table = Table(title=f"Since plan {compared_with}", title_justify="left")
    columns = ("compared", "payloads changed", "new", "gone", "new rejections", "resolved rejections")
    table.add_column("entity")
    for column in columns:
        table.add_column(column, justify="right")
    for entity, diff in diffs.items():
        table.add_row(entity, str(diff.compared), str(diff.changed), str(diff.added.count), str(diff.removed.count),
                      str(sum(found.count for found in diff.new_rejections.values())),
                      str(sum(found.count for found in diff.resolved_rejections.values())))
    return table


def plan_diff_tables(diffs: dict[str, Any]) -> list[Table]:
    """Per entity with changes: fields changed (with before → after), moves between actions, rejections new and resolved."""
    tables = []
    for entity, diff in diffs.items():
        if diff.fields:
            table = Table(title=f"{entity}: fields changed", title_justify="left")
            for column in ("field", "records", "e.g. before → after"):
                table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
            for name, change in sorted(diff.fields.items(), key=lambda kv: (-kv[1].count, kv[0])):
                examples = "\n".join(f"{source_id}: {before} → {after}" for source_id, before, after in change.examples)
                table.add_row(name, str(change.count), Text(examples))
            tables.append(table)
        if diff.moves:
            title = f"{entity}: records that changed action"
            table = Table(title=title, title_justify="left", min_width=len(title))
            table.add_column("from → to")
            table.add_column("records", justify="right")
            for move, count in diff.moves.most_common():
                table.add_row(move, str(count))
            tables.append(table)
        for label, by_reason in (("new rejections", diff.new_rejections), ("resolved rejections", diff.resolved_rejections)):
            if by_reason:
                table = Table(title=f"{entity}: {label}", title_justify="left")
                for column in ("reason", "records", "e.g."):
                    table.add_column(column, justify="right" if column == "records" else "left", overflow="fold")
                for reason, found in sorted(by_reason.items(), key=lambda kv: (-kv[1].count, kv[0])):
                    table.add_row(reason, str(found.count), example_ids(found.examples))
                tables.append(table)
    return tables


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for key, value in data.items():
            out.extend(_flatten(value, f"{prefix}{key}" if not prefix else f"{prefix} → {key}"))
        return out
    if isinstance(data, list):
        return [(prefix, len(data))]
    return [(prefix, data)]


class RedactingFilter(logging.Filter):
    """Replaces every known secret in a log record's message before any handler writes it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


# Rich lays a pipe or file out at 80 columns; output that is not a terminal is not wrapped at all (COLUMNS still wins).
UNWRAPPED_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    width = None if terminal or os.environ.get("COLUMNS") else UNWRAPPED_WIDTH
    return Console(stderr=stderr, highlight=False, soft_wrap=not terminal, width=width)
