"""The HTML report of a run or a plan: one self-contained page (inline CSS and SVG, nothing from the network) built from
the run's JSON report — so it holds no secret and no customer data the JSON report does not hold already.

What a support lead hands a colleague: the reconciliation per entity, the phases with counts and durations, a chart of
API calls, 429s and retries over time, rejections and failures by reason with examples, content notes, the redirect map
of the Help Center, and for a plan what changed since the previous one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from html import escape
from pathlib import Path
from typing import Any

OUTCOMES = ("created", "adopted", "merged", "updated", "unchanged", "skipped", "failed", "rejected", "pending")
REDIRECT_ROWS = 200
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #dde2ea;padding-bottom:.25rem}
.meta{color:#5a6372}.ok{color:#17703a}.bad{color:#b3261e}
table{border-collapse:collapse;margin:.25rem 0 1rem;width:auto}th,td{padding:.3rem .6rem;border-bottom:1px solid #eceff4;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{border:1px solid #dde2ea;border-radius:6px;padding:.5rem;background:#fcfdfe}.legend span{margin-right:1rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
code{background:#f1f3f7;padding:0 .2rem;border-radius:3px}.muted{color:#7a8391}
"""
SERIES = (("calls", "#3465a4"), ("rate_limited", "#cc3d3d"), ("retries", "#e0a100"))


def write_html(json_path: Path) -> Path:
    """The HTML page beside a run's JSON report (same name, .html; 0600 like it)."""
    report = json.loads(json_path.read_text(encoding="utf-8"))
    target = json_path.with_suffix(".html")
    target.write_text(render(report, redirects_of(report), json_path), encoding="utf-8")
    target.chmod(0o600)
    return target


def redirects_of(report: dict[str, Any]) -> list[dict[str, str]]:
    """The first rows of the redirect map the run wrote (old URL → new URL), when it wrote one."""
    where = ((report.get("help_center") or {}).get("redirect_map")) or None
    if not where or not Path(where).is_file():
        return []
    with Path(where).open(encoding="utf-8", newline="") as handle:
        return [row for _, row in zip(range(REDIRECT_ROWS), csv.DictReader(handle), strict=False)]


def listed(report: dict[str, Any], key: str, json_path: Path | None) -> Iterator[dict[str, Any]]:
    """A list of the report (failures, content notes), whether kept in it or, when long, in the JSON Lines file beside
    it that the report names ({"count", "file"}); read line by line."""
    value = report.get(key)
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))
    elif isinstance(value, dict) and value.get("file") and json_path is not None:
        path = json_path.parent / Path(str(value["file"])).name
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)


def render(report: dict[str, Any], redirects: list[dict[str, str]] = (), json_path: Path | None = None) -> str:  # type: ignore[assignment]
    """The whole page for one run report (`json_path`: where it was read, to read the long lists beside it)."""
    run_id = str(report.get("run_id", ""))
    command = str(report.get("command", ""))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>deskmigrate {escape(command)} {escape(run_id)}</title><style>{STYLE}</style></head><body>",
        _header(report),
        _cutover(report.get("cutover") or {}),
        _sync(report.get("sync") or {}),
        _rehearsal(report.get("rehearsal") or {}),
        _reconciliation(report.get("reconciliation") or {}),
        _plan(report.get("plan") or {}),
        _phases(report.get("phases") or []),
        _api(report.get("api") or {}),
        _failures(report, listed(report, "failures", json_path)),
        _notes(report, listed(report, "content_notes", json_path)),
        _redirects(redirects),
        "<p class=muted>Written by deskmigrate from the run's JSON report beside this file.</p></body></html>",
    ]
    return "\n".join(part for part in parts if part)


def _header(report: dict[str, Any]) -> str:
    code = report.get("exit_code")
    verdicts = ({0: ("ok", "go"), 3: ("bad", "no-go")} if report.get("command") == "cutover-check"
                else {0: ("ok", "finished, all good"), 3: ("bad", "finished, some records failed or were rejected")})
    verdict = verdicts.get(
        code if isinstance(code, int) else -1, ("bad", f"status {report.get('status') or 'unknown'}"))
    facts = [f"run <code>{escape(str(report.get('run_id', '')))}</code>", f"started {escape(str(report.get('started_at', '')))}",
             f"took {escape(str(report.get('duration_s', '')))} s", f"deskmigrate {escape(str(report.get('deskmigrate', '')))}",
             f"exit code {escape(str(code))}"]
    error = f"<p class=bad>{escape(str(report['error']))}</p>" if report.get("error") else ""
    return (f"<h1>deskmigrate {escape(str(report.get('command', '')))}: <span class={verdict[0]}>{escape(verdict[1])}</span></h1>"
            f"<p class=meta>{' · '.join(facts)}</p>{error}")


def _cutover(check: dict[str, Any]) -> str:
    """cutover-check: per entity the source now, the ledger and Intercom; why not go; the last delta; what needs a person."""
    if not check:
        return ""
    rows = [[" + ".join(line["entities"]), "-" if line["source"] is None else ("~" if line["approximate"] else "") + str(line["source"]),
             line["ledger_read"], line["deleted_in_source"], line["landed"], "-" if line["in_intercom"] is None else line["in_intercom"],
             line["skipped"], line["rejected"], line["failed"], line["pending"], "✓" if line["accounted_for"] else "✗",
             "; ".join([f"source: {line['source_how']}", *line["notes"]])]
            for line in check.get("entities") or []]
    verdict = ("<p class=ok><b>GO</b>: everything the mapping migrates is accounted for</p>" if check.get("go") else
               "<p class=bad><b>NO-GO</b></p><ul>" + "".join(f"<li>{escape(str(why))}</li>" for why in check.get("why_not") or []) + "</ul>")
    delta = check.get("last_delta")
    if delta:
        lag = f", lag {delta['lag_s']} s" if delta.get("lag_s") is not None else ""
        cycle = f" (sync cycle {delta['cycle']})" if delta.get("cycle") else f" ({delta['command']})"
        last = f"<p>Last successful delta: run <code>{escape(str(delta['run_id']))}</code>{escape(cycle)}, finished {escape(str(delta['finished_at']))}{escape(lag)}</p>"
    else:
        last = "<p class=bad>No successful delta yet.</p>"
    person = check.get("needs_a_person") or []
    people = ("<h3>Needs a person before the old desk goes</h3><ul>" + "".join(f"<li>{escape(str(line))}</li>" for line in person) + "</ul>"
              if person else "")
    return ("<h2>Cutover check</h2>" + verdict
            + _table(["entity", "source now", "ledger read", "deleted in source", "in Intercom (ledger)", "in Intercom (read back)",
                      "skipped", "rejected", "failed", "pending", "", "notes"], rows, numeric=range(1, 10))
            + last + people)


def _sync(section: dict[str, Any]) -> str:
    """A sync cycle: what it landed and the lag of the newest change."""
    if not section:
        return ""
    newest = section.get("newest_change")
    said = (f"newest change: {newest['entity']} {newest['source_id']}, changed {newest['changed_at']} (per the {newest['changed_per']}), "
            f"landed {newest['landed_at']}: lag {section.get('lag_s')} s" if newest else "nothing new in the source since the last cycle")
    return (f"<h2>Sync cycle {escape(str(section.get('cycle', '')))}</h2><p>{escape(str(section.get('landed', 0)))} record(s) landed; "
            f"{escape(said)}</p>")
def _rehearsal(section: dict[str, Any]) -> str:
    """A rehearsal's sample: each ticket with why it was picked and the Intercom conversation or ticket to open beside it."""
    if not section:
        return ""
    rows = [[t["source_id"], t.get("subject") or "", "; ".join(t["picked_for"]), "; ".join(t["also"]),
             f"{t['intercom_kind']} {t['intercom_id']}" + (f" (continued in {', '.join(t['continued_in'])})" if t.get("continued_in") else "")
             if t.get("intercom_id") else t["outcome"], "; ".join(t.get("notes") or [])] for t in section.get("tickets") or []]
    articles = [[a["source_id"], a.get("title") or "", "; ".join(a["reasons"]), a.get("intercom_id") or "not landed"]
                for a in section.get("articles") or []]
    how = (f"the stored sample, read again (chosen {section.get('chosen_at')})" if section.get("reused")
           else f"{section.get('profiled')} tickets profiled from list endpoints, {section.get('read_whole')} read whole")
    uncovered = section.get("uncovered") or []
    noun = "tickets" if section.get("entity", "conversations") == "conversations" else "contacts"
    return (f"<h2>Rehearsal sample: {len(rows)} {noun} into the {escape(str(section.get('target', '')))}</h2>"
            f"<p class=meta>{escape(how)}</p>"
            + (f"<p class=bad>not covered (a larger --sample covers them): {escape(', '.join(uncovered))}</p>" if uncovered else "")
            + _table([noun[:-1], "subject" if noun == "tickets" else "name", "picked for", "also", "in Intercom", "notes"], rows)
            + (("<h2>Rehearsal articles</h2>" + _table(["article", "title", "why", "in Intercom"], articles)) if articles else ""))


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], numeric: Iterable[int] = ()) -> str:
    numbers = set(numeric)
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td class=n>{escape(str(cell))}</td>" if index in numbers else f"<td>{escape(str(cell))}</td>"
                         for index, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _reconciliation(reconciliation: dict[str, Any]) -> str:
    entities = reconciliation.get("entities") or []
    if not entities:
        return ""
    shown = [o for o in OUTCOMES if any(row.get(o) for row in entities)] or ["created"]
    rows = [[row["entity"], row.get("read", 0), *(row.get(o, 0) for o in shown)] for row in entities]
    reasons = [[row["entity"], reason["outcome"], reason["reason"], reason["count"], ", ".join(reason.get("examples") or [])]
               for row in entities for reason in row.get("reasons") or [] if reason["outcome"] in ("skipped", "failed", "rejected", "pending")]
    return ("<h2>Every record accounted for</h2>"
            f"<p class=meta>read = {' + '.join(shown)}</p>"
            + _table(["entity", "read", *shown], rows, numeric=range(1, len(shown) + 2))
            + (("<h2>Not landed, by reason</h2>" + _table(["entity", "outcome", "reason", "records", "e.g."], reasons, numeric=[3]))
               if reasons else ""))


def _plan(plan: dict[str, Any]) -> str:
    counts = plan.get("counts") or {}
    if not counts:
        return ""
    columns = ["create", "update", "unchanged", "rejected"]
    html = "<h2>Plan</h2>" + _table(["entity", *columns], [[e, *(c.get(k, 0) for k in columns)] for e, c in counts.items()],
                                    numeric=range(1, 5))
    notes = [[target, note["field"], note["reason"], note["action"], note["count"], ", ".join(note.get("examples") or [])]
             for target, data in ((plan.get("mapping_report") or {}).get("targets") or {}).items()
             for note in data.get("field_notes") or []]
    if notes:
        html += "<h2>Field notes: values that cost their field, not their record</h2>" + _table(
            ["target", "rule", "reason", "what happened", "records", "e.g."], notes, numeric=[4])
    rejected = [[entity, reason, found.get("records", 0), _examples(found)]
                for entity, reasons in (plan.get("rejected_by_reason") or {}).items() for reason, found in reasons.items()]
    if rejected:
        html += "<h2>Rejected, by reason</h2>" + _table(["entity", "reason", "records", "e.g."], rejected, numeric=[2])
    diff = plan.get("diff") or {}
    if diff.get("compared_with"):
        html += _plan_diff(diff)
    return html


def _examples(found: dict[str, Any]) -> str:
    return ", ".join(_where(e) if isinstance(e, dict) else str(e) for e in (found.get("examples") or [])[:3])


def _plan_diff(diff: dict[str, Any]) -> str:
    """What changed since the plan it was compared with: per entity the totals, then the fields and rejections that changed."""
    entities = diff.get("entities") or {}
    totals = [[entity, d.get("compared", 0), d.get("payloads_changed", 0),
               ", ".join(f"{move} {n}" for move, n in (d.get("moved") or {}).items()) or "none",
               (d.get("added") or {}).get("records", 0), (d.get("removed") or {}).get("records", 0),
               sum(f.get("records", 0) for f in (d.get("new_rejections") or {}).values()),
               sum(f.get("records", 0) for f in (d.get("resolved_rejections") or {}).values())]
              for entity, d in entities.items()]
    html = (f"<h2>What changed since plan <code>{escape(str(diff['compared_with']))}</code></h2>"
            + _table(["entity", "compared", "payloads changed", "moved", "new", "gone", "new rejections", "resolved rejections"],
                     totals, numeric=[1, 2, 4, 5, 6, 7]))
    fields = [[entity, name, change.get("records", 0), _examples(change)]
              for entity, d in entities.items() for name, change in (d.get("fields") or {}).items()]
    if fields:
        html += _table(["entity", "field changed", "records", "e.g."], fields, numeric=[2])
    rejections = [[entity, which, reason, found.get("records", 0), _examples(found)]
                  for entity, d in entities.items() for which in ("new", "resolved")
                  for reason, found in (d.get(f"{which}_rejections") or {}).items()]
    if rejections:
        html += _table(["entity", "rejections", "reason", "records", "e.g."], rejections, numeric=[3])
    return html


def _phases(phases: list[dict[str, Any]]) -> str:
    if not phases:
        return ""
    standard = ("created", "updated", "adopted", "unchanged", "rejected", "failed")
    rows = []
    for phase in phases:
        other = ", ".join(f"{k} {v}" for k, v in phase.items() if k not in (*standard, "phase", "duration_s") and v)
        took = f"{phase['duration_s']:.1f} s" if isinstance(phase.get("duration_s"), (int, float)) else ""
        rows.append([phase.get("phase", ""), *(phase.get(k, 0) for k in standard), took, other])
    return "<h2>Phases</h2>" + _table(["phase", *standard, "took", "other"], rows, numeric=range(1, 8))


def _api(api: dict[str, Any]) -> str:
    if not api:
        return ""
    totals = [["calls", api.get("calls", 0)], ["writes", api.get("writes", 0)], ["answered 429", api.get("rate_limited", 0)],
              ["retries", api.get("retries", 0)], ["waited on the rate limit (s)", api.get("waited_s", 0)]]
    return "<h2>API calls</h2>" + _table(["", "count"], totals, numeric=[1]) + chart(api.get("timeline") or [])


def chart(timeline: list[dict[str, Any]], width: int = 900, height: int = 220) -> str:
    """Calls, 429s and retries per 10-second window as inline SVG bars (three per window); a sentence when nothing ran."""
    if not timeline:
        return "<p class=muted>No API calls were timed in this run.</p>"
    left, bottom, top, right = 48, 28, 12, 12
    peak = max(1, *(int(point.get(key, 0)) for point in timeline for key, _ in SERIES))
    slot = (width - left - right) / len(timeline)
    bar = max(slot / (len(SERIES) + 1), 0.5)
    start, end = float(timeline[0]["at_s"]), float(timeline[-1]["at_s"]) + 10

    def y(value: float) -> float:
        return height - bottom - value / peak * (height - bottom - top)

    bars = []
    for index, point in enumerate(timeline):
        for offset, (key, colour) in enumerate(SERIES):
            value = int(point.get(key, 0))
            if value:
                x = left + index * slot + offset * bar
                bars.append(f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar:.1f}" height="{height - bottom - y(value):.1f}" '
                            f'fill="{colour}"><title>{key} {value} at {float(point["at_s"]):.0f} s</title></rect>')
    axes = (f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#99a"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#99a"/>'
            f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>'
            f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11">0</text>'
            f'<text x="{left}" y="{height - 8}" font-size="11">{start:.0f} s</text>'
            f'<text x="{width - right}" y="{height - 8}" text-anchor="end" font-size="11">{end:.0f} s</text>')
    legend = "".join(f'<span><i class=swatch style="background:{colour}"></i>{label}</span>'
                     for (_, colour), label in zip(SERIES, ("calls", "answered 429", "retries"), strict=True))
    return (f'<div class=chart><svg role="img" aria-label="API calls, 429s and retries per 10 seconds" width="100%" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{axes}{"".join(bars)}</svg>'
            f'<div class=legend>per 10-second window: {legend}</div></div>')


def _failures(report: dict[str, Any], failures: Iterable[dict[str, Any]]) -> str:
    """When the reconciliation is absent (extract, plan, rollback), the run's failures and rejections grouped by reason."""
    if report.get("reconciliation"):
        return ""
    grouped: dict[tuple[str, str, str, str], list[str]] = {}
    for failure in failures:
        reason = str(failure.get("reason_kind") or failure.get("reason", ""))[:200]
        key = (str(failure.get("outcome", "")), str(failure.get("entity", "")), str(failure.get("phase", "")), reason)
        examples = grouped.setdefault(key, [])
        examples.append(_where(failure) if len(examples) < 3 else "")
    if not grouped:
        return ""
    rows = [[*key, len(found), ", ".join(e for e in found if e)] for key, found in sorted(grouped.items(), key=lambda kv: -len(kv[1]))]
    return "<h2>Failures and rejections, by reason</h2>" + _table(["outcome", "entity", "phase", "reason", "records", "e.g."], rows, numeric=[4])


def _where(row: dict[str, Any]) -> str:
    source_id = str(row.get("source_id", ""))
    return f"{source_id} ({row['location']})" if row.get("location") else source_id


def _notes(report: dict[str, Any], notes: Iterable[dict[str, Any]]) -> str:
    help_center = report.get("help_center") or (report.get("plan") or {}).get("help_center") or {}
    kinds: dict[tuple[str, str], int] = {}
    for note in notes:
        key = (str(note.get("entity", "")), str(note.get("kind", "")))
        kinds[key] = kinds.get(key, 0) + 1
    if not kinds and not help_center.get("articles_with_losses"):
        return ""
    html = "<h2>Content notes</h2>" + (_table(["entity", "kind", "records"], [[e, k, n] for (e, k), n in sorted(kinds.items())], numeric=[2])
                                       if kinds else "")
    if help_center.get("articles_with_losses"):
        removed = ", ".join(f"{tag} ×{n}" for tag, n in (help_center.get("removed_tags_total") or {}).items()) or "none"
        html += (f"<p>{int(help_center['articles_with_losses'])} Help Center article(s) lost or changed content "
                 f"(HTML removed: {escape(removed)}); every one is listed in the JSON report under help_center.articles.</p>")
    return html


def _redirects(rows: list[dict[str, str]]) -> str:
    if not rows:
        return ""
    return ("<h2>Redirect map (old URL → new URL)</h2>"
            + _table(["old URL", "new URL", "kind"], [[r.get("old_url", ""), r.get("new_url", ""), r.get("kind", "")] for r in rows])
            + (f"<p class=muted>The first {REDIRECT_ROWS}; the whole map is in redirects.csv.</p>" if len(rows) >= REDIRECT_ROWS else ""))
