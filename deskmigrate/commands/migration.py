"""The commands that move data: `extract`, `plan`, `load`, `run` (extract and load), `validate` (read it back) and
`rollback` (undo what runs wrote)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from deskmigrate import __version__, screen
from deskmigrate.commands.options import (
    AcceptRejectionsOption,
    ConfigOption,
    JsonOption,
    NewLedgerOption,
    QuietOption,
    VerboseOption,
    examples,
)
from deskmigrate.exits import EXIT_CONFIG, EXIT_FAILURES, EXIT_OK, Exit, exits
from deskmigrate.exports import ExportFormat
from deskmigrate.report import key_value_table
from deskmigrate.screen import console, err_console

if TYPE_CHECKING:
    from deskmigrate.core.ledger import Ledger
    from deskmigrate.loaders.intercom.history import ConversationAttributeCheck
    from deskmigrate.loaders.intercom.rollback import Rollback
    from deskmigrate.planning import PlanResult
    from deskmigrate.project import Project
    from deskmigrate.target import Target

commands = typer.Typer()


@commands.command(epilog=examples("deskmigrate extract -c config.yaml", "deskmigrate extract --since 2026-11-01"))
@exits
def extract(config: Path = ConfigOption, since: datetime | None = typer.Option(None, help="Read only what changed since (ISO date)."),
            verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption, quiet: bool = QuietOption) -> None:
    """Read the source into the ledger (staging) without touching Intercom."""
    from deskmigrate import extraction, lifecycle, progress_bars

    screen.quiet(quiet)
    with lifecycle.started_run(config, "extract", verbose, new_ledger) as (project, ledger, run_id, started):
        with progress_bars.bars() as progress:
            result = extraction.extract(project, ledger, run_id, progress, since)
        screen.print_extract(result)
        raise Exit(lifecycle.finish_run(project, ledger, run_id, "extract", started, {"extract": result.as_dict()}))


@commands.command(epilog=examples("deskmigrate plan -c config.yaml", "deskmigrate plan --json > plan.json"))
@exits
def plan(config: Path = ConfigOption,
         against: str | None = typer.Argument(None, metavar="[RUN]", help="With --diff: the kept plan to compare with (default: the previous one)."),
         diff: bool = typer.Option(False, "--diff", help="Show what changed since the previous plan (or RUN): payloads and fields, "
                                   "records moving between create/update/unchanged/rejected, new and resolved rejections."),
         sample: int | None = typer.Option(None, "--sample", min=1, metavar="N",
                                           help="Map only N records per entity, the same ones every time (by a hash of their ids)."),
         rejections: ExportFormat | None = typer.Option(None, "--rejections", metavar="csv|json",
                                                        help="Print every rejected record (reason, file:line or id, field) as CSV or "
                                                             "JSON on stdout; the summary goes to stderr."),
         out: Path | None = typer.Option(None, help="Also copy the would-be payloads into this folder."),
         verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Show what a run would create, update, leave unchanged or reject, and keep the would-be payloads under
    <state>/plans/<run>/ (the newest plan.keep of them). Writes nothing to Intercom."""
    from deskmigrate import extraction, lifecycle, plan_screen, planning, plans, progress_bars
    from deskmigrate.core.ledger import MAPPING_PHASE

    if as_json and rejections is not None:
        err_console.print("[red]--json and --rejections both print on stdout: give one of them[/]")
        raise Exit(EXIT_CONFIG)
    screen.quiet(quiet or as_json)
    with screen.summary_on_stderr(rejections is not None), \
            lifecycle.started_run(config, "plan", verbose, new_ledger) as (project, ledger, run_id, started):
        state = project.state_dir
        earlier = plans.find_plan(state, against) if against else plans.earlier_plan(state, sample, before=run_id)
        if against and earlier is None:
            err_console.print(plans.not_found(state, against), style="red", markup=False)
            raise Exit(EXIT_CONFIG)
        reading = extraction.describe_source_reading(project, ledger)  # before the extract moves the source cursors on
        with progress_bars.bars() as progress:
            extracted = extraction.extract(project, ledger, run_id, progress)
            planned = planning.plan(project, ledger, run_id, progress, plans.plans_dir(state) / run_id, sample=sample, earlier=earlier)
        screen.print_extract(extracted)
        plan_screen.print_plan(planned)
        attributes = _plan_conversation_attributes(project, planned) if ledger.count_staged("conversations") else None
        screen.print_conversation_attributes(attributes)
        if reading is not None:
            console.print(key_value_table("Source reading plan", reading))
        plan_screen.print_plan_diff(planned, full=diff or against is not None)
        if out is not None:
            plans.copy_payloads(planned.payload_files, out)
        plan_screen.print_plan_kept(planned, plans.prune_plans(state, project.loaded.config.plan.keep, run_id), out)
        if rejections is not None:
            plans.export_rejections(plans.read_rejections(plans.plans_dir(state) / run_id), rejections, sys.stdout)
        plan_report = planned.as_dict() | ({"conversation_attributes": attributes.as_dict()} if attributes is not None else {})
        sections = {"extract": extracted.as_dict(), "plan": plan_report} | ({"source_reading": reading} if reading else {})
        code = lifecycle.finish_run(project, ledger, run_id, "plan", started, sections, shown=(MAPPING_PHASE,))
        if as_json:
            screen.print_json(sections)  # the run's whole report, as written to <state>/reports/<run>.json
        raise Exit(code)


def _plan_conversation_attributes(project: Project, planned: PlanResult) -> ConversationAttributeCheck | None:
    """`plan` reads (never writes) the workspace's conversation attributes; an unreachable target is said, not fatal."""
    from deskmigrate.core.errors import MigrationError
    from deskmigrate.core.http import RetryPolicy
    from deskmigrate.planning import conversation_attribute_check
    from deskmigrate.target import open_target

    try:
        with open_target(project, RetryPolicy(max_attempts=2, deadline_s=15.0)) as target:
            return conversation_attribute_check(project, target, planned.attributes)
    except MigrationError as error:
        err_console.print(f"[yellow]! could not read the workspace's conversation attributes:[/] {escape(str(error))}")
        return None


def load_and_report(project: Project, ledger: Ledger, run_id: str, command: str, started: float,
                     extract: bool, accept_rejections: bool, since: datetime | None = None,
                     more: Callable[[], dict[str, Any]] | None = None) -> int:
    """(Extract,) plan and load under progress bars, then — the bars done — the summary and the run's report. Nothing
    is written when more records would be rejected than load.max_rejected allows, unless `accept_rejections`. `more`:
    sections the command adds to the report once the load is done (a sync cycle's lag, where a rehearsal's tickets landed).

    The target opens (and its token is checked) first, in a thread of its own, while the rest is imported, read and
    planned: the load starts on an open target, and an error there waits until the load would have met it."""
    from deskmigrate.target import opening_target

    with opening_target(project) as opening:
        from deskmigrate import extraction, lifecycle, loading, planning, progress_bars, triage
        from deskmigrate.core.ledger import MAPPING_PHASE
        from deskmigrate.reconcile import reconciliation

        with progress_bars.bars() as progress:
            extracted = extraction.extract(project, ledger, run_id, progress, since) if extract else None
            planned = planning.plan(project, ledger, run_id, progress, None)
            rejections = triage.check_rejections(reconciliation(ledger, run_id), project.loaded.config.load.max_rejected)
            refused = bool(rejections.over) and not accept_rejections
            if not refused:
                target = opening.target()
                loaded = loading.load(project, ledger, run_id, target, progress, planned)
                stats = lifecycle.api_stats(target)
    report: dict[str, Any] = {"plan": planned.as_dict()} | ({"extract": extracted.as_dict()} if extracted is not None else {})
    if refused:
        if extracted is not None:
            screen.print_extract(extracted)
        screen.print_rejections_over_limit(rejections, command)
        report |= more() if more is not None else {}
        return lifecycle.finish_run(project, ledger, run_id, command, started, report | {"refused": rejections.as_dict()},
                                    refused=EXIT_CONFIG, shown=(MAPPING_PHASE,))
    reconciled = reconciliation(ledger, run_id, loaded.agent_admins).as_dict()
    report |= {
        "preflight": loaded.preflight.__dict__ | {"admins": len(loaded.preflight.admins)},
        "phases": loading.with_rejections([p.as_dict() for p in loaded.phases], planned),
        "reconciliation": reconciled,
        "api": stats,
    }
    if rejections.over:
        report["accepted_rejections"] = rejections.as_dict()
    report.update(loaded.details)
    if extracted is not None:
        screen.print_extract(extracted)
    screen.print_load(loaded, report["phases"], reconciled, stats)
    report |= more() if more is not None else {}
    return lifecycle.finish_run(project, ledger, run_id, command, started, report)


@commands.command(epilog=examples("deskmigrate extract -c config.yaml && deskmigrate load -c config.yaml"))
@exits
def load(config: Path = ConfigOption, verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption,
         accept_rejections: bool = AcceptRejectionsOption, quiet: bool = QuietOption) -> None:
    """Load what is staged into Intercom (preflight → companies → contacts → tags → Help Center → conversations)."""
    from deskmigrate import lifecycle

    screen.quiet(quiet)
    with lifecycle.started_run(config, "load", verbose, new_ledger) as (project, ledger, run_id, started):
        code = load_and_report(project, ledger, run_id, "load", started, extract=False, accept_rejections=accept_rejections)
        raise Exit(code)


@commands.command(epilog=examples("deskmigrate run -c config.yaml", "deskmigrate run --since 2026-11-01   # a delta of what changed since",
                                  "deskmigrate run --sample 20 --target sandbox   # a rehearsal of the 20 hardest tickets"))
@exits
def run(config: Path = ConfigOption, since: datetime | None = typer.Option(None, help="Read only what changed since (ISO date)."),
        sample: int | None = typer.Option(None, "--sample", min=1, metavar="N",
                                          help="A rehearsal: migrate N tickets chosen to cover the hardest cases the source holds (with "
                                               "the people, companies and articles they need), into <state>/rehearsal/'s own ledger; "
                                               "the report says why each was picked and where it landed."),
        resample: bool = typer.Option(False, "--resample", help="With --sample: choose a new sample (else the stored one is rehearsed again)."),
        target: str | None = typer.Option(None, "--target", metavar="sandbox|intercom",
                                          help="With --sample: rehearse into a local sandbox (<state>/rehearsal/sandbox.db) or the "
                                               "config's Intercom workspace; default: the config's target."),
        verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption, accept_rejections: bool = AcceptRejectionsOption,
        quiet: bool = QuietOption) -> None:
    """Extract and load: the whole migration, resumable (run it again after a crash) and repeatable (deltas). Stops before
    its first write when more records would be rejected than load.max_rejected allows. With --sample N: a rehearsal."""
    from deskmigrate import lifecycle

    screen.quiet(quiet)
    if sample is not None or resample or target is not None:
        from deskmigrate.rehearsal.command import rehearse

        raise Exit(rehearse(config, sample, resample=resample, target=target, since=since, verbose=verbose,
                            accept_rejections=accept_rejections, load_and_report=load_and_report))
    with lifecycle.started_run(config, "run", verbose, new_ledger) as (project, ledger, run_id, started):
        code = load_and_report(project, ledger, run_id, "run", started, extract=True, accept_rejections=accept_rejections, since=since)
        raise Exit(code)


@commands.command(epilog=examples("deskmigrate validate -c config.yaml", "deskmigrate validate --json | jq .reconciliation.totals"))
@exits
def validate(config: Path = ConfigOption, verbose: bool = VerboseOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Read every migrated record back from Intercom and compare it with the ledger; exit 3 on any mismatch or while a
    record is failed or not loaded."""
    from deskmigrate import lifecycle, loading, progress_bars
    from deskmigrate.reconcile import match_agents_by_email, reconciliation
    from deskmigrate.target import open_target

    screen.quiet(quiet or as_json)
    project = lifecycle.open_project(config)
    ledger = project.ledger()
    lifecycle.setup_logging(project, verbose)
    with open_target(project) as target:
        target.client.me()  # a wrong token or an unreachable target is an error here, never "nothing to compare"
        agent_admins = match_agents_by_email(ledger, target.client.admins().get("admins", [])) if ledger.count_staged("agents") else None
        with progress_bars.bars() as progress:
            mismatches, checked = loading.validate(project, ledger, target, progress)
    reconciled = reconciliation(ledger, None, agent_admins)
    missing = sum(1 for m in mismatches if m.field == "exists")
    console.print("checked in Intercom: " + ", ".join(f"{n} {e}" for e, n in checked.items()) if checked else "nothing migrated yet")
    screen.print_reconciliation(reconciled.as_dict())
    screen.print_mismatches(mismatches)
    open_problems = reconciled.open_problems
    if as_json:
        screen.print_json({"checked": checked, "mismatches": [m.__dict__ for m in mismatches], "reconciliation": reconciled.as_dict(),
                           "exit_code": EXIT_FAILURES if mismatches or open_problems else EXIT_OK})
    if not mismatches and not open_problems:
        console.print("[green]✓[/] Intercom matches the ledger, and every record the source gave is accounted for")
        raise Exit(EXIT_OK)
    summary = [f"{len(mismatches)} mismatch(es)" + (f", {missing} record(s) missing in Intercom" if missing else "")] if mismatches else []
    if open_problems:
        summary.append(f"{open_problems} record(s) failed or not loaded yet (`deskmigrate status --failures`; `run` retries them)")
    console.print("[yellow]✗ " + "; ".join(summary) + "[/]")
    raise Exit(EXIT_FAILURES)


@commands.command(epilog=examples("deskmigrate rollback --run 20261205T090920.790Z-39e8 --dry-run", "deskmigrate rollback --all --yes",
                             "deskmigrate rollback --all --dry-run --json"))
@exits
def rollback(config: Path = ConfigOption, run_id: str | None = typer.Option(None, "--run", help="The run to undo."),
             all_runs: bool = typer.Option(False, "--all", help="Undo every run, newest first."),
             yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking (needed without a terminal)."),
             dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be undone."),
             force: bool = typer.Option(False, "--force", help="Also undo records people changed since the migration."),
             rehearsal_runs: bool = typer.Option(False, "--rehearsal", help="Undo the rehearsals' runs (run --sample), recorded in "
                                                 "<state>/rehearsal/'s own ledger, in the target they were rehearsed into."),
             verbose: bool = VerboseOption, as_json: bool = typer.Option(False, "--json", help="With --dry-run: print the plan as one JSON document."),
             quiet: bool = QuietOption) -> None:
    """Undo what runs wrote, in reverse phase order: delete what they created, restore what they changed on records that
    existed before, remove the taggings and company links they added. Shows the plan and asks first."""
    from deskmigrate import lifecycle, rollbacks
    from deskmigrate.loaders.intercom.rollback import Rollback
    from deskmigrate.target import open_target

    if as_json and not dry_run:
        err_console.print("[red]--json prints the plan of a --dry-run; add --dry-run[/]")
        raise Exit(EXIT_CONFIG)
    screen.quiet(quiet or as_json)
    if bool(run_id) == all_runs:
        err_console.print("[red]give exactly one of --run RUN_ID or --all[/]")
        raise Exit(EXIT_CONFIG)
    project = lifecycle.open_project(config)
    if rehearsal_runs:
        from deskmigrate.rehearsal.target import last_target, rehearsal_project

        project = rehearsal_project(project, last_target(project))
    with lifecycle.holding(project, "rollback"), lifecycle.closing(lifecycle.open_ledger(project)) as ledger:
        lifecycle.setup_logging(project, verbose)
        try:
            selected = rollbacks.select_runs(ledger, run_id, all_runs)
        except rollbacks.RollbackRefused as refused:
            err_console.print(f"[red]{escape(str(refused))}[/]")
            raise Exit(EXIT_CONFIG) from None
        blocking = ledger.later_writers(selected)
        if blocking:
            err_console.print(f"[red]later runs changed the same records: roll back {', '.join(blocking)} first, or use --all[/]")
            raise Exit(EXIT_CONFIG)
        with open_target(project) as target:
            planner = Rollback(target.client, ledger, force=force, concurrency=project.loaded.config.load.concurrency)
            with console.status("reading what the runs wrote, as it is in Intercom now…"):
                plan = planner.plan(selected)
            if as_json:
                screen.print_json(rollbacks.plan_document(plan))
            if not plan.actionable:
                for line in rollbacks.nothing_to_do(ledger, selected, plan):
                    console.print(line, markup=False)
                raise Exit(EXIT_OK)
            for part in rollbacks.preview(plan):
                console.print(part)
            if dry_run:
                console.print("dry run: nothing was changed")
                raise Exit(EXIT_OK)
            if not yes:
                if not sys.stdin.isatty():
                    err_console.print("[red]rollback changes Intercom: confirm it in a terminal, or add --yes to go ahead without asking[/]")
                    raise Exit(EXIT_CONFIG)
                if not typer.confirm("Roll back as shown?", default=False):
                    console.print("cancelled: nothing was changed")
                    raise Exit(EXIT_OK)
            raise Exit(_apply_rollback(project, ledger, planner, plan, target, verbose))


def _apply_rollback(project: Project, ledger: Ledger, planner: Rollback, plan: Any, target: Target, verbose: bool) -> int:
    """The rollback as a run of its own: its run id, log, undo log, JSON report and line in `status`."""
    from deskmigrate import lifecycle, rollbacks

    run_id = ledger.start_run("rollback")
    lifecycle.setup_logging(project, verbose, run_id)
    started = time.time()
    with lifecycle.recorded(project, ledger, run_id, "rollback"):
        planner.run_id = run_id
        report = planner.apply(plan)
        console.print(key_value_table("Rolled back", {
            "deleted": report.deleted or "nothing", "restored": report.restored or "nothing",
            "fields restored": report.restored_fields, "taggings removed": report.untagged, "taggings put back": report.retagged,
            "company links removed": report.unlinked, "company links put back": report.relinked,
            "attributes archived": ", ".join(report.archived_attributes) or "none", "already gone": report.already_gone,
            "identifiers kept (Intercom cannot clear them)": report.kept_identifiers,
        }))
        for error in report.errors:
            err_console.print(f"[red]✗[/] {escape(error)}")
        code = EXIT_FAILURES if report.errors else EXIT_OK
        sections = rollbacks.report_sections(plan, report, ledger, run_id)
        document = {"run_id": run_id, "command": "rollback", "deskmigrate": __version__,
                    "started_at": datetime.fromtimestamp(started, UTC).isoformat(), "duration_s": round(time.time() - started, 3),
                    **sections, "api": lifecycle.api_stats(target), "exit_code": code}
        path = lifecycle.write_reports(project, run_id, document)
        ledger.finish_run(run_id, "errors" if report.errors else "ok", {k: v for k, v in document.items() if k != "undo_log"})
        console.print(f"rollback run [bold]{run_id}[/] report: {path}")
        return code
