"""The `deskmigrate` command: check, extract, plan, load, run, validate, rollback, status, mappings, schema, sandbox.

Thin: each command opens what it needs through deskmigrate.lifecycle (which also turns errors into exit codes, see
there), calls the pipeline, and prints through deskmigrate.screen.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from deskmigrate import __version__, lifecycle, pipeline, plans, rollbacks, screen, triage
from deskmigrate.core.errors import MigrationError, SourceError
from deskmigrate.core.http import RetryPolicy
from deskmigrate.core.ledger import MAPPING_PHASE, Ledger
from deskmigrate.lifecycle import EXIT_CONFIG, EXIT_FAILURES, EXIT_OK, EXIT_UNEXPECTED, Exit, exits
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.reconcile import match_agents_by_email
from deskmigrate.report import key_value_table
from deskmigrate.screen import console, err_console
from deskmigrate.transforms import Mapper

# Plain help (rich_markup_mode=None): readable when piped, and flags without a "<bool>" beside them.
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Move a support organisation into Intercom, repeatably and reversibly.",
                  epilog="\b\nStart with:\n  deskmigrate check -c config.yaml    # config, mapping, source and token\n"
                         "  deskmigrate plan -c config.yaml     # what would change; writes nothing to Intercom\n"
                         "  deskmigrate run -c config.yaml      # the migration (run it again for deltas)")
mappings_app = typer.Typer(help="List and show the built-in mappings.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The local Intercom sandbox.", no_args_is_help=True)
app.add_typer(mappings_app, name="mappings")
app.add_typer(sandbox_app, name="sandbox")

ConfigOption = typer.Option(Path("config.yaml"), "-c", "--config", envvar="DESKMIGRATE_CONFIG",
                            help="The migration's config file (or the DESKMIGRATE_CONFIG environment variable).")
JsonOption = typer.Option(False, "--json", help="Print one JSON document (and nothing else) on stdout.")
QuietOption = typer.Option(False, "-q", "--quiet", help="Print only errors and warnings (on stderr).")
VerboseOption = typer.Option(False, "-v", "--verbose", help="Log debug detail to stderr and the run's log.")


def _examples(*lines: str) -> str:
    """A command's --help epilog: examples kept as written (click rewraps paragraphs not marked with \\b)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
NewLedgerOption = typer.Option(False, "--new-ledger", help="Start a new ledger when the state folder's ledger is lost "
                               "(missing, empty or unreadable beside earlier runs); the lost file is set aside, never deleted.")


# -- check -------------------------------------------------------------------------------------------


@app.command(epilog=_examples("deskmigrate check -c config.yaml", "deskmigrate check --json | jq .target"))
@exits
def check(config: Path = ConfigOption, verbose: bool = VerboseOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Validate the config and the mapping, then check the target answers and the token works (GET /me)."""
    screen.quiet(quiet or as_json)
    project = lifecycle.open_project(config)
    lifecycle.setup_logging(None, verbose)
    console.print(f"[green]✓[/] config and mapping are valid ({config})")
    try:
        checked = project.connector.check()
    except SourceError as error:
        err_console.print(f"[bold red]the source cannot be read:[/] {error}", markup=True)
        raise Exit(EXIT_CONFIG) from None
    if checked:
        console.print(f"[green]✓[/] source readable ({project.connector.name})")
    field_problems = pipeline.source_field_check_before_staging(project, sample_source=checked)
    if field_problems is None:
        console.print("source fields the mapping reads are checked against the records at `plan`")
    for path, message in field_problems or []:
        err_console.print(f"[yellow]! mapping {path}:[/] {escape(message)}")
    # check answers within 10 s whatever the network does: two tries, four seconds each.
    with pipeline.open_target(project, RetryPolicy(max_attempts=2, deadline_s=8.0, base_delay_s=0.2), timeout_s=4.0) as target:
        me = target.client.me()
        if target.client.token_count > 1:
            _one_workspace(target.client.token_workspaces())
        app_info = me.get("app") or {}
        target_facts = {
            "type": project.loaded.config.target.type,
            "url": target.base_url,
            "workspace": app_info.get("name") or app_info.get("id_code"),
            "region": app_info.get("region"),
            "token belongs to": f"{me.get('name')} <{me.get('email')}>",
            "Intercom-Version": project.loaded.config.target.version,
        }
        console.print(key_value_table("Target", target_facts))
        expected_region = project.loaded.config.target.region.upper()
        region = str(app_info.get("region") or "").upper()
        if project.loaded.config.target.type == "intercom" and region and region != expected_region:
            err_console.print(f"[yellow]! the workspace is in region {region} but the config says {expected_region}[/]")
        declared = Mapper(project.spec).attribute_declarations()
        attributes = pipeline.conversation_attribute_check(project, target, declared)
    console.print("[green]✓[/] target reachable, token accepted")
    screen.print_conversation_attributes(attributes)
    code = EXIT_CONFIG if attributes is not None and attributes.kept_as_tags and project.loaded.config.load.strict_attributes else EXIT_OK
    if as_json:
        screen.print_json({
            "config": str(config), "valid": True, "source": {"type": project.connector.name, "read": checked},
            "source_fields": [{"path": path, "problem": message} for path, message in field_problems or []],
            "target": target_facts, "conversation_attributes": attributes.as_dict() if attributes is not None else None,
            "exit_code": code,
        })
    raise Exit(code)


def _one_workspace(workspaces: list[tuple[int, str | None, str | None]]) -> None:
    """`target.tokens` must all be private apps of one workspace (their `GET /me` names the same `app.id_code`); exit 2 if not."""
    if len({workspace for _, workspace, _ in workspaces}) == 1:
        console.print(f"[green]✓[/] {len(workspaces)} tokens, all of workspace {escape(str(workspaces[0][1]))}")
        return
    first = workspaces[0][1]
    err_console.print("[bold red]target.tokens do not all belong to one workspace[/] (each must be a private app of the same one):")
    for position, workspace, name in workspaces:
        mark = "" if workspace == first else "   ← not token 1's workspace"
        err_console.print(f"  token {position}: workspace {escape(str(workspace))} ({escape(str(name))}){mark}")
    raise Exit(EXIT_CONFIG)


def _plan_conversation_attributes(project: pipeline.Project, planned: pipeline.PlanResult) -> pipeline.ConversationAttributeCheck | None:
    """`plan` reads (never writes) the workspace's conversation attributes; an unreachable target is said, not fatal."""
    try:
        with pipeline.open_target(project, RetryPolicy(max_attempts=2, deadline_s=15.0)) as target:
            return pipeline.conversation_attribute_check(project, target, planned.attributes)
    except MigrationError as error:
        err_console.print(f"[yellow]! could not read the workspace's conversation attributes:[/] {escape(str(error))}")
        return None


# -- extract / plan / load / run -----------------------------------------------------------------------


@app.command(epilog=_examples("deskmigrate extract -c config.yaml", "deskmigrate extract --since 2026-11-01"))
@exits
def extract(config: Path = ConfigOption, since: datetime | None = typer.Option(None, help="Read only what changed since (ISO date)."),
            verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption, quiet: bool = QuietOption) -> None:
    """Read the source into the ledger (staging) without touching Intercom."""
    screen.quiet(quiet)
    with lifecycle.started_run(config, "extract", verbose, new_ledger) as (project, ledger, run_id, started):
        with screen.bars() as progress:
            result = pipeline.extract(project, ledger, run_id, progress, since)
        screen.print_extract(result)
        raise Exit(lifecycle.finish_run(project, ledger, run_id, "extract", started, {"extract": result.as_dict()}))


@app.command(epilog=_examples("deskmigrate plan -c config.yaml", "deskmigrate plan --json > plan.json"))
@exits
def plan(config: Path = ConfigOption,
         against: str | None = typer.Argument(None, metavar="[RUN]", help="With --diff: the kept plan to compare with (default: the previous one)."),
         diff: bool = typer.Option(False, "--diff", help="Show what changed since the previous plan (or RUN): payloads and fields, "
                                   "records moving between create/update/unchanged/rejected, new and resolved rejections."),
         sample: int | None = typer.Option(None, "--sample", min=1, metavar="N",
                                           help="Map only N records per entity, the same ones every time (by a hash of their ids)."),
         rejections: plans.ExportFormat | None = typer.Option(None, "--rejections", metavar="csv|json",
                                                              help="Print every rejected record (reason, file:line or id, field) as CSV or "
                                                                   "JSON on stdout; the summary goes to stderr."),
         out: Path | None = typer.Option(None, help="Also copy the would-be payloads into this folder."),
         verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Show what a run would create, update, leave unchanged or reject, and keep the would-be payloads under
    <state>/plans/<run>/ (the newest plan.keep of them). Writes nothing to Intercom."""
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
        reading = pipeline.describe_source_reading(project, ledger)  # before the extract moves the source cursors on
        with screen.bars() as progress:
            extracted = pipeline.extract(project, ledger, run_id, progress)
            planned = pipeline.plan(project, ledger, run_id, progress, plans.plans_dir(state) / run_id, sample=sample, earlier=earlier)
        screen.print_extract(extracted)
        screen.print_plan(planned)
        attributes = _plan_conversation_attributes(project, planned) if ledger.count_staged("conversations") else None
        screen.print_conversation_attributes(attributes)
        if reading is not None:
            console.print(key_value_table("Source reading plan", reading))
        screen.print_plan_diff(planned, full=diff or against is not None)
        if out is not None:
            plans.copy_payloads(planned.payload_files, out)
        screen.print_plan_kept(planned, plans.prune_plans(state, project.loaded.config.plan.keep, run_id), out)
        if rejections is not None:
            plans.export_rejections(plans.read_rejections(plans.plans_dir(state) / run_id), rejections, sys.stdout)
        plan_report = planned.as_dict() | ({"conversation_attributes": attributes.as_dict()} if attributes is not None else {})
        sections = {"extract": extracted.as_dict(), "plan": plan_report} | ({"source_reading": reading} if reading else {})
        code = lifecycle.finish_run(project, ledger, run_id, "plan", started, sections, shown=(MAPPING_PHASE,))
        if as_json:
            screen.print_json(sections)  # the run's whole report, as written to <state>/reports/<run>.json
        raise Exit(code)


def _load_and_report(project: pipeline.Project, ledger: Ledger, run_id: str, command: str, started: float,
                     extract: bool, accept_rejections: bool, since: datetime | None = None,
                     more: Callable[[], dict[str, Any]] | None = None) -> int:
    """(Extract,) plan and load under progress bars, then — the bars done — the summary and the run's report. Nothing
    is written when more records would be rejected than load.max_rejected allows, unless `accept_rejections`. `more`:
    sections the command adds to the report once the load is done (a sync cycle's lag, where a rehearsal's tickets landed)."""
    with screen.bars() as progress:
        extracted = pipeline.extract(project, ledger, run_id, progress, since) if extract else None
        planned = pipeline.plan(project, ledger, run_id, progress, None)
        rejections = triage.check_rejections(pipeline.reconciliation(ledger, run_id), project.loaded.config.load.max_rejected)
        refused = bool(rejections.over) and not accept_rejections
        if not refused:
            with pipeline.open_target(project) as target:
                loaded = pipeline.load(project, ledger, run_id, target, progress, planned)
                stats = lifecycle.api_stats(target)
    report: dict[str, Any] = {"plan": planned.as_dict()} | ({"extract": extracted.as_dict()} if extracted is not None else {})
    if refused:
        if extracted is not None:
            screen.print_extract(extracted)
        screen.print_rejections_over_limit(rejections, command)
        report |= more() if more is not None else {}
        return lifecycle.finish_run(project, ledger, run_id, command, started, report | {"refused": rejections.as_dict()},
                                    refused=EXIT_CONFIG, shown=(MAPPING_PHASE,))
    reconciled = pipeline.reconciliation(ledger, run_id, loaded.agent_admins).as_dict()
    report |= {
        "preflight": loaded.preflight.__dict__ | {"admins": len(loaded.preflight.admins)},
        "phases": pipeline.with_rejections([p.as_dict() for p in loaded.phases], planned),
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


AcceptRejectionsOption = typer.Option(False, "--accept-rejections",
                                      help="Load even when more records are rejected than load.max_rejected allows (they are left out, listed).")


@app.command(epilog=_examples("deskmigrate extract -c config.yaml && deskmigrate load -c config.yaml"))
@exits
def load(config: Path = ConfigOption, verbose: bool = VerboseOption, new_ledger: bool = NewLedgerOption,
         accept_rejections: bool = AcceptRejectionsOption, quiet: bool = QuietOption) -> None:
    """Load what is staged into Intercom (preflight → companies → contacts → tags → Help Center → conversations)."""
    screen.quiet(quiet)
    with lifecycle.started_run(config, "load", verbose, new_ledger) as (project, ledger, run_id, started):
        code = _load_and_report(project, ledger, run_id, "load", started, extract=False, accept_rejections=accept_rejections)
        raise Exit(code)


@app.command(epilog=_examples("deskmigrate run -c config.yaml", "deskmigrate run --since 2026-11-01   # a delta of what changed since",
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
    screen.quiet(quiet)
    if sample is not None or resample or target is not None:
        from deskmigrate import rehearsal

        raise Exit(rehearsal.rehearse(config, sample, resample=resample, target=target, since=since, verbose=verbose,
                                      accept_rejections=accept_rejections, load_and_report=_load_and_report))
    with lifecycle.started_run(config, "run", verbose, new_ledger) as (project, ledger, run_id, started):
        code = _load_and_report(project, ledger, run_id, "run", started, extract=True, accept_rejections=accept_rejections, since=since)
        raise Exit(code)


@app.command(epilog=_examples("deskmigrate sync -c config.yaml --every 10m", "deskmigrate sync --every 5m --until 2027-01-31T18:00Z"))
@exits
def sync(config: Path = ConfigOption,
         every: str = typer.Option("10m", "--every", help="Start a cycle this often (30s, 10m, 1h30m); at once when one ran longer."),
         until: str | None = typer.Option(None, "--until", help="Start no cycle after this time (ISO 8601; UTC without an offset)."),
         verbose: bool = VerboseOption, accept_rejections: bool = AcceptRejectionsOption, quiet: bool = QuietOption) -> None:
    """Deltas until the switch: a `run` over what changed since the last cycle (new and changed records), every --every, until
    stopped (Ctrl-C, SIGTERM: the calls in flight finish) or --until. Each cycle is a run in `status`, with the lag of the
    newest change it landed; a failed cycle does not stop the next."""
    from deskmigrate import sync as syncing

    screen.quiet(quiet)
    try:
        every_s, deadline = syncing.parse_every(every), syncing.parse_until(until) if until else None
    except syncing.SyncArgumentError as error:
        err_console.print(f"[red]{escape(str(error))}[/]")
        raise Exit(EXIT_CONFIG) from None
    if deadline is not None and deadline <= datetime.now(UTC):
        err_console.print(f"[red]--until {escape(until or '')}: that time has passed; no cycle would run[/]")
        raise Exit(EXIT_CONFIG)
    project = lifecycle.open_project(config)

    def cycle(project: pipeline.Project, ledger: Ledger, run_id: str, started: float, section: Callable[[], dict[str, Any]]) -> int:
        return _load_and_report(project, ledger, run_id, "sync", started, extract=True, accept_rejections=accept_rejections,
                                more=lambda: {"sync": section()})

    with lifecycle.holding(project, "sync"), syncing.stopping_on_signals():
        outcome = syncing.run_sync(project, cycle, every_s=every_s, until=deadline, clock=syncing.system_clock(), verbose=verbose)
    console.print(f"sync stopped ({'asked' if outcome.stopped_by == 'signal' else 'the --until time'}) after {len(outcome.cycles)} "
                  "cycle(s): `deskmigrate status` lists them")
    raise Exit(outcome.exit_code)


# -- validate / rollback / status ------------------------------------------------------------------------


@app.command(epilog=_examples("deskmigrate validate -c config.yaml", "deskmigrate validate --json | jq .reconciliation.totals"))
@exits
def validate(config: Path = ConfigOption, verbose: bool = VerboseOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Read every migrated record back from Intercom and compare it with the ledger; exit 3 on any mismatch or while a
    record is failed or not loaded."""
    screen.quiet(quiet or as_json)
    project = lifecycle.open_project(config)
    ledger = project.ledger()
    lifecycle.setup_logging(project, verbose)
    with pipeline.open_target(project) as target:
        target.client.me()  # a wrong token or an unreachable target is an error here, never "nothing to compare"
        agent_admins = match_agents_by_email(ledger, target.client.admins().get("admins", [])) if ledger.count_staged("agents") else None
        with screen.bars() as progress:
            mismatches, checked = pipeline.validate(project, ledger, target, progress)
    reconciled = pipeline.reconciliation(ledger, None, agent_admins)
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


@app.command("cutover-check", epilog=_examples("deskmigrate cutover-check -c config.yaml", "deskmigrate cutover-check --json | jq .why_not"))
@exits
def cutover_check(config: Path = ConfigOption,
                  accept_rejections: bool = typer.Option(False, "--accept-rejections",
                                                         help="Go even with rejected records (they stay behind; listed as notes)."),
                  verbose: bool = VerboseOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Go or no-go for the switch: per entity the source's count now, the ledger and Intercom (read back), open failures and
    rejections, the last successful delta and its lag, and what needs a person before the old desk goes. Exit 0 only
    when everything the mapping migrates is accounted for (else 3, with why). A run of its own, with its report."""
    from deskmigrate import cutover

    screen.quiet(quiet or as_json)
    with lifecycle.started_run(config, "cutover-check", verbose) as (project, ledger, run_id, started):
        result, path = cutover.run_check(project, ledger, run_id, started, accept_rejections=accept_rejections)
        code = EXIT_OK if result.go else EXIT_FAILURES
        if as_json:
            screen.print_json(result.as_dict() | {"run_id": run_id, "exit_code": code})
        console.print(f"cutover-check run [bold]{run_id}[/] report: {path}")
        raise Exit(code)


@app.command(epilog=_examples("deskmigrate rollback --run 20261205T090920.790Z-39e8 --dry-run", "deskmigrate rollback --all --yes",
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
    if as_json and not dry_run:
        err_console.print("[red]--json prints the plan of a --dry-run; add --dry-run[/]")
        raise Exit(EXIT_CONFIG)
    screen.quiet(quiet or as_json)
    if bool(run_id) == all_runs:
        err_console.print("[red]give exactly one of --run RUN_ID or --all[/]")
        raise Exit(EXIT_CONFIG)
    project = lifecycle.open_project(config)
    if rehearsal_runs:
        from deskmigrate import rehearsal

        project = rehearsal.rehearsal_project(project, rehearsal.last_target(project))
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
        with pipeline.open_target(project) as target:
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


def _apply_rollback(project: pipeline.Project, ledger: Ledger, planner: Rollback, plan: Any, target: pipeline.Target,
                    verbose: bool) -> int:
    """The rollback as a run of its own: its run id, log, undo log, JSON report and line in `status`."""
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


@app.command(epilog=_examples("deskmigrate status -c config.yaml", "deskmigrate status --run latest --failures",
                             "deskmigrate status --json | jq '.runs[-1]'"))
@exits
def status(config: Path = ConfigOption,
           run_id: str | None = typer.Option(None, "--run", help="The run to show progress and outcomes of: a run id, or latest (the default)."),
           show_failures: bool = typer.Option(False, "--failures", help="Group every open rejection and failure by reason."),
           export: plans.ExportFormat | None = typer.Option(None, "--format", metavar="csv|json",
                                                            help="With --failures: print every open rejection and failure (reason, "
                                                                 "file:line or id, field) as CSV or JSON instead."),
           as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Runs (with what each wrote and the error of one that died), a run's per-phase progress and reconciliation, the
    open rejections and failures (grouped by reason, or every one exported), and content notes."""
    screen.quiet(quiet or as_json)
    project = lifecycle.open_project(config)
    ledger = project.ledger()
    if export is not None:
        if not show_failures:
            err_console.print("[red]--format exports the failures: give it with --failures[/]")
            raise Exit(EXIT_CONFIG)
        triage.export_failures(triage.failure_rows(ledger), export, sys.stdout)
        raise Exit(EXIT_OK)
    runs = ledger.run_summaries()
    if run_id not in (None, "latest") and not ledger.run_exists(run_id):
        err_console.print(f"[red]no run {run_id!r} in the ledger; `deskmigrate status` lists them[/]")
        raise Exit(EXIT_CONFIG)
    chosen = runs[-1]["run_id"] if runs and run_id in (None, "latest") else run_id
    progress = ledger.progress(chosen) if chosen else []
    reconciled = pipeline.reconciliation(ledger, chosen).as_dict()
    if as_json:
        screen.print_json({"runs": runs, "run": chosen, "progress": progress, "reconciliation": reconciled,
                           "open": ledger.open_failure_counts(), "failures": list(triage.failure_rows(ledger)),
                           "content_notes": ledger.notice_kinds()})
        raise Exit(EXIT_OK)
    if not runs:
        console.print("no runs yet")
        raise Exit(EXIT_OK)
    groups = triage.group_failures(triage.failure_rows(ledger)) if show_failures else None
    screen.print_status(runs, chosen, progress, reconciled, groups, ledger.open_failure_counts(), ledger.notice_kinds())
    from deskmigrate.sync import print_cycles

    print_cycles(runs)


@app.command(epilog=_examples("deskmigrate init csv --contacts export/contacts.csv --companies export/companies.csv",
                             "deskmigrate init zendesk --dir zendesk-migration",
                             "deskmigrate init zendesk --dir zendesk-migration --fields   # once its credentials are set"))
@exits
def init(source: str = typer.Argument(..., help="The source: csv, zendesk, freshdesk, helpscout or any other registered source (an unknown name lists them)."),
         contacts: Path | None = typer.Option(None, "--contacts", help="csv: the contacts file, to read its header and rows."),
         companies: Path | None = typer.Option(None, "--companies", help="csv: the companies file."),
         folder: Path = typer.Option(Path("."), "--dir", help="Where to write config.yaml and mapping.yaml."),
         force: bool = typer.Option(False, "--force", help="Overwrite config.yaml and mapping.yaml if they exist."),
         fields: bool = typer.Option(False, "--fields", help="API sources, once DIR/config.yaml has credentials: read the source's "
                                     "field catalog and write mapping.yaml declaring every custom field with its type.")) -> None:
    """Write a commented config.yaml and an override mapping.yaml to start from: for CSV from the files' own headers
    (columns suggested, the other columns declared with the types their values show), for an API source from its settings;
    then, with --fields, the mapping from the source's own field catalog."""
    from deskmigrate import starter
    from deskmigrate.registry import SOURCES

    if source not in SOURCES:
        err_console.print(f"[red]no source {source!r}; they are {', '.join(sorted(SOURCES))}[/]")
        raise Exit(EXIT_CONFIG)
    if fields:
        _init_fields(source, folder, force)
        return
    written = [folder / "config.yaml", folder / "mapping.yaml"]
    existing = [str(path) for path in written if path.exists()]
    if existing and not force:
        err_console.print(f"[red]{', '.join(existing)} already exist; --force overwrites them[/]")
        raise Exit(EXIT_CONFIG)
    config_text, mapping_text = (starter.csv_starter(contacts, companies, folder) if source == "csv" else starter.api_starter(source))
    folder.mkdir(parents=True, exist_ok=True)
    written[0].write_text(config_text, encoding="utf-8")
    written[1].write_text(mapping_text, encoding="utf-8")
    console.print(f"wrote {written[0]} and {written[1]}: read them, then `deskmigrate check -c {written[0]}`")


def _init_fields(source: str, folder: Path, force: bool) -> None:
    """`init SOURCE --fields`: mapping.yaml from the field catalog of the source DIR/config.yaml reads."""
    from deskmigrate import starter

    config_path, mapping_path = folder / "config.yaml", folder / "mapping.yaml"
    if not config_path.is_file():
        err_console.print(f"[red]no {config_path}: run `deskmigrate init {source} --dir {folder}` first, set its credentials, "
                          "then add --fields[/]")
        raise Exit(EXIT_CONFIG)
    project = lifecycle.open_project(config_path)
    if project.loaded.config.source.type != source:
        err_console.print(f"[red]{config_path} reads {project.loaded.config.source.type}, not {source}[/]")
        raise Exit(EXIT_CONFIG)
    untouched = mapping_path.is_file() and mapping_path.read_text(encoding="utf-8") == starter.api_starter(source)[1]
    if mapping_path.exists() and not untouched and not force:
        err_console.print(f"[red]{mapping_path} already exists and was edited; --force overwrites it[/]")
        raise Exit(EXIT_CONFIG)
    definitions = project.connector.field_definitions()
    mapping_path.write_text(starter.catalog_mapping(source, definitions), encoding="utf-8")
    counts = {entity: sum(1 for d in definitions if d.entity == entity) for entity in ("companies", "contacts", "conversations")}
    console.print(f"wrote {mapping_path}: {len(definitions)} custom field(s) declared with their types "
                  f"({', '.join(f'{entity} {n}' for entity, n in counts.items())}); `deskmigrate plan -c {config_path}` shows "
                  "what lands")


@app.command(epilog=_examples("deskmigrate report -c config.yaml", "deskmigrate report 20261205T090920.790Z-39e8 --open"))
@exits
def report(run: str = typer.Argument("latest", help="The run whose report to show: a run id, or latest."),
           config: Path = ConfigOption, open_it: bool = typer.Option(False, "--open", help="Open it in the web browser.")) -> None:
    """Print the path of a run's (or plan's) HTML report: the reconciliation, phases, API calls over time, failures by
    reason and content notes, on one self-contained page."""
    project = lifecycle.open_project(config)
    folder = project.state_dir / "reports"
    pages = sorted(folder.glob("*.html")) if folder.is_dir() else []
    page = (pages[-1] if pages else None) if run == "latest" else folder / f"{run}.html"
    if page is None or not page.is_file():
        err_console.print(f"[red]no HTML report {'yet' if run == 'latest' else f'for run {run!r}'} in {folder}; "
                          "`deskmigrate status` lists the runs[/]")
        raise Exit(EXIT_CONFIG)
    sys.stdout.write(f"{page}\n")
    if open_it:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())


# -- mappings / sandbox -------------------------------------------------------------------------------------


@mappings_app.command("list", epilog=_examples("deskmigrate mappings list"))
def mappings_list() -> None:
    """The built-in mappings."""
    from deskmigrate.transforms import builtin_mapping_names

    for name in builtin_mapping_names():
        console.print(name)


@mappings_app.command("transforms", epilog=_examples("deskmigrate mappings transforms", "deskmigrate mappings transforms --json"))
def mappings_transforms(as_json: bool = JsonOption) -> None:
    """Every transform a mapping rule can use, with what it does, its arguments and an example rule."""
    from deskmigrate.transforms.registry import describe_transforms

    described = describe_transforms()
    if as_json:
        screen.print_json(described)
        return
    screen.print_transforms(described)


@mappings_app.command("show", epilog=_examples("deskmigrate mappings show zendesk > my-mapping.yaml"))
def mappings_show(name: str) -> None:
    """Print a built-in mapping, to copy into an override file."""
    from importlib.resources import files

    path = files("deskmigrate.mappings").joinpath(f"{name}.yaml")
    if not path.is_file():
        err_console.print(f"[red]no built-in mapping {name!r}[/]")
        raise typer.Exit(EXIT_CONFIG)
    sys.stdout.write(path.read_text(encoding="utf-8"))


@app.command("schema", epilog=_examples("deskmigrate schema conversations > conversation.schema.json"))
def schema(entity: str | None = typer.Argument(None, help="companies, contacts, agents, collections, articles or conversations; all when left out.")) -> None:
    """Print the canonical model's shape as JSON Schema: what a record of ENTITY holds (any record without ENTITY)."""
    from deskmigrate.core.model import RECORD_TYPES, json_schema

    if entity is not None and entity not in RECORD_TYPES:
        err_console.print(f"[red]no canonical entity {entity!r}; they are {', '.join(RECORD_TYPES)}[/]")
        raise typer.Exit(EXIT_CONFIG)
    sys.stdout.write(json.dumps(json_schema(entity), indent=2, ensure_ascii=False) + "\n")


@sandbox_app.command("serve", epilog=_examples("deskmigrate sandbox serve -c config.yaml --port 8765"))
@exits
def sandbox_serve(config: Path = ConfigOption, port: int = typer.Option(8765)) -> None:
    """Serve the config's sandbox over HTTP until interrupted (for rehearsals with other tools)."""
    from deskmigrate.sandbox import SandboxServer, SandboxSettings

    project = lifecycle.open_project(config)
    target = project.loaded.config.target
    if target.type != "sandbox":
        err_console.print("[red]the config's target is not a sandbox[/]")
        raise Exit(EXIT_CONFIG)
    path = project.loaded.resolve(target.path) if target.path else project.state_dir / "sandbox.db"
    tokens = target.access_tokens()
    server = SandboxServer(SandboxSettings(path=path, token=tokens[0], extra_tokens=tokens[1:], rate_limit=target.rate_limit,
                                           workspace_rate_limit=target.workspace_rate_limit if target.rate_limit else None,
                                           latency_ms=target.latency_ms, error_rate=target.error_rate,
                                           drop_rate=target.drop_rate, search_delay_s=target.search_delay_s,
                                           conversation_attributes=dict(target.conversation_attributes)), port=port)
    try:
        url = server.start()
    except OSError as error:
        err_console.print(f"[red]cannot serve the sandbox on port {port}: {escape(error.strerror or str(error))} "
                          f"(another program listens there?): choose another with --port[/]")
        raise Exit(EXIT_CONFIG) from None
    console.print(f"sandbox serving {path} at {url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def _print_version(wanted: bool) -> None:
    if wanted:
        sys.stdout.write(f"deskmigrate {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")) -> None:
    """Move a support organisation into Intercom, repeatably and reversibly."""


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except Exception as error:  # the last resort: exit 1, without a traceback that may hold data
        logging.getLogger("deskmigrate").exception("unexpected error")
        err_console.print(f"[bold red]unexpected error:[/] {type(error).__name__}: {error}")
        sys.exit(EXIT_UNEXPECTED)
