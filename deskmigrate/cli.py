"""The `deskmigrate` command: check, extract, plan, load, run, validate, rollback, status, mappings, schema, sandbox.

The only place that turns errors into exit codes: 0 all good; 2 bad config or mapping; 3 finished but
some records failed (listed, retried next run) or validation found mismatches; 1 anything unexpected.
"""

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

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from deskmigrate import __version__, pipeline, rollbacks
from deskmigrate.core.errors import AuthError, LedgerLostError, MigrationError, ProblemsError, SourceError, StateError
from deskmigrate.core.http import RetryPolicy, redact
from deskmigrate.core.ledger import MAPPING_PHASE, Ledger
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.locking import StateLockedError, state_lock
from deskmigrate.reconcile import match_agents_by_email
from deskmigrate.report import (
    RedactingFilter,
    ambiguous_dates_table,
    counts_table,
    failures_table,
    field_notes_table,
    key_value_table,
    make_console,
    mapping_report_tables,
    outcome_reasons_table,
    phases_table,
    reconciliation_table,
)
from deskmigrate.transforms import Mapper

EXIT_OK, EXIT_UNEXPECTED, EXIT_CONFIG, EXIT_FAILURES = 0, 1, 2, 3
MAX_REPORTED_NOTES = 5000

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="Move a support organisation into Intercom, repeatably and reversibly.")
mappings_app = typer.Typer(help="List and show the built-in mappings.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The local Intercom sandbox.", no_args_is_help=True)
app.add_typer(mappings_app, name="mappings")
app.add_typer(sandbox_app, name="sandbox")

console = make_console()
log = logging.getLogger("deskmigrate")

ConfigOption = typer.Option(Path("config.yaml"), "-c", "--config", help="The migration's config file.")
NewLedgerOption = typer.Option(False, "--new-ledger", help="Start a new ledger when the state folder's ledger is lost "
                               "(missing, empty or unreadable beside earlier runs); the lost file is set aside, never deleted.")
PREVIEW_ROWS = 20  # articles listed on screen by `plan`; the JSON report has them all


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class BarProgress:
    """pipeline.Progress drawn with rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, task: str, total: int | None) -> None:
        self.tasks[task] = self.progress.add_task(task, total=total)

    def advance(self, task: str, n: int = 1) -> None:
        if task in self.tasks:
            self.progress.advance(self.tasks[task], n)

    def finish(self, task: str) -> None:
        if task in self.tasks:
            task_id = self.tasks[task]
            total = self.progress.tasks[task_id].completed if self.progress.tasks[task_id].total is None else None
            self.progress.update(task_id, total=total) if total is not None else None
            self.progress.stop_task(task_id)


@contextmanager
def bars() -> Iterator[pipeline.Progress]:
    if not console.is_terminal and os.environ.get("DESKMIGRATE_PROGRESS") != "1":
        yield pipeline.SilentProgress()
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        yield BarProgress(progress)


def _setup_logging(project: pipeline.Project | None, verbose: bool, run_id: str | None = None) -> None:
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


def _run(command: Any) -> None:
    """Run a command body and map the error tree onto exit codes."""
    try:
        command()
    except Exit as done:
        raise typer.Exit(done.code) from None
    except ProblemsError as error:
        console.print(f"[bold red]{error.title}[/] ({len(error.problems)} problem{'s' if len(error.problems) != 1 else ''}):")
        for problem in error.problems:
            console.print(f"  • {problem}", markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    except AuthError as error:
        console.print(f"[bold red]Intercom refused the token:[/] {error}", markup=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except (SourceError, StateError, MigrationError) as error:
        console.print(f"[bold red]{type(error).__name__}:[/] {error}")
        raise typer.Exit(EXIT_UNEXPECTED) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: run the same command again to resume[/]")
        raise typer.Exit(130) from None


def _open(config: Path) -> pipeline.Project:
    if not config.exists():
        from deskmigrate.core.errors import ConfigError, Problem

        raise ConfigError([Problem(path="", message="config file not found", file=str(config))])
    return pipeline.open_project(config)


@contextmanager
def _holding(project: pipeline.Project, command: str) -> Iterator[None]:
    """One writing command per state folder: a second one stops (exit 2) naming the holder; a dead holder's lock is taken over."""
    try:
        with state_lock(project.state_dir, command) as taken_over:
            if taken_over is not None:
                console.print(f"[yellow]! took over the state folder's lock from {escape(taken_over.describe())}, "
                              "which is no longer running[/]")
            yield
    except StateLockedError as error:
        console.print(f"[bold red]state folder busy:[/] {escape(str(error))}")
        raise Exit(EXIT_CONFIG) from None


@contextmanager
def _closing(ledger: Ledger) -> Iterator[Ledger]:
    try:
        yield ledger
    finally:
        ledger.close()


def _ledger(project: pipeline.Project, new_ledger: bool = False) -> Ledger:
    """The project's ledger; a lost one stops the command (exit 2) with how to restore it or start over (--new-ledger)."""
    try:
        ledger = Ledger(project.state_dir / "ledger.db", start_over=True) if new_ledger else project.ledger()
    except LedgerLostError as lost:
        console.print(f"[bold red]the ledger is lost:[/] {escape(str(lost))}")
        raise Exit(EXIT_CONFIG) from None
    except StateError as error:
        if new_ledger:
            console.print(f"[bold red]--new-ledger refused:[/] {escape(str(error))}")
            raise Exit(EXIT_CONFIG) from None
        raise
    if new_ledger:
        console.print("[yellow]! started a new ledger: records already in Intercom will be adopted, and what they hold now "
                      "(fields, tags, company links) is recorded as there before the migration[/]")
    for version in ledger.migrated_to:
        step = next(m for m in ledger.migrations() if m["version"] == version)
        if step["backup"]:  # a new ledger goes through the same steps, with nothing to keep a copy of
            console.print(f"ledger migrated to schema {version} ({step['name']}); the previous file is kept at {step['backup']}")
    return ledger


# -- check -------------------------------------------------------------------------------------------


@app.command()
def check(config: Path = ConfigOption, verbose: bool = typer.Option(False, "-v", "--verbose")) -> None:
    """Validate the config and the mapping, then check the target answers and the token works (GET /me)."""

    def body() -> None:
        project = _open(config)
        _setup_logging(None, verbose)
        console.print(f"[green]✓[/] config and mapping are valid ({config})")
        try:
            checked = project.connector.check()
        except SourceError as error:
            console.print(f"[bold red]the source cannot be read:[/] {error}", markup=True)
            raise Exit(EXIT_CONFIG) from None
        if checked:
            console.print(f"[green]✓[/] source readable ({project.connector.name})")
        field_problems = pipeline.source_field_check_before_staging(project, sample_source=checked)
        if field_problems is None:
            console.print("source fields the mapping reads are checked against the records at `plan`")
        for path, message in field_problems or []:
            console.print(f"[yellow]! mapping {path}:[/] {escape(message)}")
        with pipeline.open_target(project) as target:
            me = target.client.me()
            app_info = me.get("app") or {}
            console.print(key_value_table("Target", {
                "type": project.loaded.config.target.type,
                "url": target.base_url,
                "workspace": app_info.get("name") or app_info.get("id_code"),
                "region": app_info.get("region"),
                "token belongs to": f"{me.get('name')} <{me.get('email')}>",
                "Intercom-Version": project.loaded.config.target.version,
            }))
            expected_region = project.loaded.config.target.region.upper()
            region = str(app_info.get("region") or "").upper()
            if project.loaded.config.target.type == "intercom" and region and region != expected_region:
                console.print(f"[yellow]! the workspace is in region {region} but the config says {expected_region}[/]")
            declared = Mapper(project.spec).attribute_declarations()
            attributes = pipeline.conversation_attribute_check(project, target, declared)
        console.print("[green]✓[/] target reachable, token accepted")
        _print_conversation_attributes(attributes)
        if attributes is not None and attributes.kept_as_tags and project.loaded.config.load.strict_attributes:
            raise Exit(EXIT_CONFIG)

    _run(body)


def _print_conversation_attributes(check: pipeline.ConversationAttributeCheck | None) -> None:
    """Which conversation attributes the mapping writes are missing in Intercom, and what happens to them."""
    if check is None:
        return
    if not check.missing:
        console.print(f"[green]✓[/] conversation attributes exist in Intercom: {', '.join(check.existing)}")
        return
    console.print(f"[yellow]! {check.advice()}[/]", markup=True)


def _plan_conversation_attributes(project: pipeline.Project, planned: pipeline.PlanResult) -> pipeline.ConversationAttributeCheck | None:
    """`plan` reads (never writes) the workspace's conversation attributes; an unreachable target is said, not fatal."""
    try:
        with pipeline.open_target(project, RetryPolicy(max_attempts=2, deadline_s=15.0)) as target:
            return pipeline.conversation_attribute_check(project, target, planned.attributes)
    except MigrationError as error:
        console.print(f"[yellow]! could not read the workspace's conversation attributes:[/] {escape(str(error))}")
        return None


# -- extract / plan / load / run -----------------------------------------------------------------------


def _api_stats(target: pipeline.Target | None) -> dict[str, Any]:
    if target is None:
        return {}
    return target.client.stats_dict()


def _finish(project: pipeline.Project, ledger: Ledger, run_id: str, command: str, started: float, report: dict[str, Any]) -> int:
    failures = ledger.failures()
    run_failures = [f for f in failures if f.run_id == run_id]
    code = EXIT_FAILURES if run_failures else EXIT_OK
    report.update({
        "run_id": run_id, "command": command, "deskmigrate": __version__,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
        "duration_s": round(time.time() - started, 3),
        "failure_count": len(run_failures),
        "failures": [f.__dict__ for f in run_failures[:1000]],
        "content_notes": [n.__dict__ for n in ledger.notices() if n.run_id == run_id][:MAX_REPORTED_NOTES],
        "exit_code": code,
    })
    path = pipeline.write_report(project, run_id, report)
    ledger.finish_run(run_id, "failed-records" if run_failures else "ok", {k: v for k, v in report.items() if k != "failures"})
    if run_failures:
        console.print(failures_table(run_failures))
        rejected = sum(1 for f in run_failures if f.phase in (MAPPING_PHASE, "extract"))
        said = []
        if rejected:
            said.append(f"{rejected} record(s) rejected: fix the source row or the mapping; the next run reads them again")
        if len(run_failures) > rejected:
            said.append(f"{len(run_failures) - rejected} record(s) failed: the next run retries them")
        console.print(f"[yellow]{'; '.join(said)}.[/]")
    console.print(f"run [bold]{run_id}[/] report: {path}")
    return code


@contextmanager
def _recorded(project: pipeline.Project, ledger: Ledger, run_id: str, command: str) -> Iterator[None]:
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
            "failure_count": len([f for f in ledger.failures() if f.run_id == run_id]),
            "exit_code": EXIT_CONFIG if isinstance(error, (ProblemsError, AuthError)) else EXIT_UNEXPECTED,
        }
        path = pipeline.write_report(project, run_id, report)
        ledger.finish_run(run_id, status, report)
        log.error("run %s %s: %s (report: %s)", run_id, status, message, path)
        raise


@contextmanager
def _started_run(config: Path, command: str, verbose: bool,
                 new_ledger: bool = False) -> Iterator[tuple[pipeline.Project, Ledger, str, float]]:
    """Open the project, hold its state folder, open its ledger (never a lost one silently), start a run with its log,
    and record it even if it dies."""
    project = _open(config)
    with _holding(project, command):
        ledger = _ledger(project, new_ledger)
        try:
            run_id = ledger.start_run(command)
            _setup_logging(project, verbose, run_id)
            with _recorded(project, ledger, run_id, command):
                yield project, ledger, run_id, time.time()
        finally:
            ledger.close()  # before the lock goes: the next holder finds the ledger whole, its log checkpointed


def _print_extract(result: pipeline.ExtractResult) -> None:
    rows = {e: {"staged": n, "rejected": result.rejected.get(e, 0), "duplicates": result.duplicates.get(e, 0)}
            for e, n in result.staged.items()}
    for entity, n in result.rejected.items():
        rows.setdefault(entity, {"staged": 0, "rejected": n, "duplicates": 0})
    console.print(counts_table("Extract", rows, ["staged", "rejected", "duplicates"]))
    if result.notices:
        table = Table(title=f"Source notices ({result.notice_count})", title_justify="left")
        for column in ("entity", "source id", "where", "message"):
            table.add_column(column, overflow="fold")
        for notice in result.notices:
            table.add_row(notice["entity"], notice["source_id"] or "", notice["location"] or "", notice["message"])
        console.print(table)


def _print_plan(result: pipeline.PlanResult) -> None:
    console.print(counts_table("Plan", result.counts, ["create", "update", "unchanged", "rejected"]))
    for entity, reasons in result.rejections.items():
        if reasons:
            table = Table(title=f"Rejected {entity}", title_justify="left")
            table.add_column("reason", overflow="fold")
            table.add_column("records", justify="right")
            for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
                table.add_row(reason, str(n))
            console.print(table)
    console.print(f"tags: {result.tags['tag_names']} tag names, {result.tags['taggings_to_add']} taggings to add")
    report = result.mapping_report.to_dict()
    for table in mapping_report_tables(report):
        console.print(table)
    for optional in (field_notes_table(report), ambiguous_dates_table(report)):
        if optional is not None:
            console.print(optional)
    _print_email_conflicts(result)
    _print_source_fields(result.source_fields)
    if result.attributes:
        console.print("custom attributes the mapping writes: " + ", ".join(f"{a.model}.{a.name} ({a.data_type})" for a in result.attributes))
    _print_help_center_preview(result.help_center)


def _print_email_conflicts(result: pipeline.PlanResult) -> None:
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


def _print_source_fields(problems: list[tuple[str, str]]) -> None:
    """Rules that read a source field no record has (a typo in the mapping, a column renamed in the export)."""
    for path, message in problems:
        console.print(f"[yellow]! mapping {path}:[/] {escape(message)}")


def _print_reconciliation(reconciliation: dict[str, Any], title: str = "Every record accounted for") -> None:
    if not reconciliation.get("entities"):
        return
    console.print(reconciliation_table(reconciliation, title))
    reasons = outcome_reasons_table(reconciliation)
    if reasons is not None:
        console.print(reasons)


def _print_help_center_preview(preview: dict[str, Any]) -> None:
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


@app.command()
def extract(config: Path = ConfigOption, since: datetime | None = typer.Option(None, help="Read only what changed since (ISO date)."),
            verbose: bool = typer.Option(False, "-v", "--verbose"), new_ledger: bool = NewLedgerOption) -> None:
    """Read the source into the ledger (staging) without touching Intercom."""

    def body() -> None:
        with _started_run(config, "extract", verbose, new_ledger) as (project, ledger, run_id, started):
            with bars() as progress:
                result = pipeline.extract(project, ledger, run_id, progress, since)
            _print_extract(result)
            raise Exit(_finish(project, ledger, run_id, "extract", started, {"extract": result.as_dict()}))

    _run(body)


@app.command()
def plan(config: Path = ConfigOption, out: Path | None = typer.Option(None, help="Folder for the would-be payloads (default: <state>/plan)."),
         verbose: bool = typer.Option(False, "-v", "--verbose"), new_ledger: bool = NewLedgerOption) -> None:
    """Show what a run would create, update, leave unchanged or reject, and write the would-be payloads. Writes nothing to Intercom."""

    def body() -> None:
        with _started_run(config, "plan", verbose, new_ledger) as (project, ledger, run_id, started):
            out_dir = out or project.state_dir / "plan"
            reading = pipeline.describe_source_reading(project, ledger)  # before the extract moves the source cursors on
            with bars() as progress:
                extracted = pipeline.extract(project, ledger, run_id, progress)
                planned = pipeline.plan(project, ledger, run_id, progress, out_dir)
            _print_extract(extracted)
            _print_plan(planned)
            attributes = _plan_conversation_attributes(project, planned) if ledger.count_staged("conversations") else None
            _print_conversation_attributes(attributes)
            if reading is not None:
                console.print(key_value_table("Source reading plan", reading))
            console.print(f"would-be payloads: {out_dir}")
            plan_report = planned.as_dict() | ({"conversation_attributes": attributes.as_dict()} if attributes is not None else {})
            sections = {"extract": extracted.as_dict(), "plan": plan_report} | ({"source_reading": reading} if reading else {})
            raise Exit(_finish(project, ledger, run_id, "plan", started, sections))

    _run(body)


def _load_and_report(project: pipeline.Project, ledger: Ledger, run_id: str, command: str, started: float,
                     extracted: pipeline.ExtractResult | None, progress: pipeline.Progress) -> int:
    planned = pipeline.plan(project, ledger, run_id, progress, None)
    with pipeline.open_target(project) as target:
        loaded = pipeline.load(project, ledger, run_id, target, progress, planned)
        stats = _api_stats(target)
    reconciled = pipeline.reconciliation(ledger, run_id, loaded.agent_admins).as_dict()
    report: dict[str, Any] = {
        "plan": planned.as_dict(),
        "preflight": loaded.preflight.__dict__ | {"admins": len(loaded.preflight.admins)},
        "phases": [p.as_dict() for p in loaded.phases],
        "reconciliation": reconciled,
        "api": stats,
    }
    report.update(loaded.details)
    if extracted is not None:
        report["extract"] = extracted.as_dict()
        _print_extract(extracted)
    _print_help_center(loaded.details.get("help_center"))
    if loaded.preflight.agents_unmatched:
        console.print(f"[yellow]{len(loaded.preflight.agents_unmatched)} source agent(s) have no Intercom admin with their email; "
                      f"what they wrote is attributed to admin {loaded.preflight.fallback_admin}:[/] "
                      + ", ".join(loaded.preflight.agents_unmatched[:20]))
    conversation_attributes = loaded.preflight.conversation_attributes
    if conversation_attributes.get("created"):
        console.print(f"conversation attributes created in Intercom: {', '.join(conversation_attributes['created'])}")
    if conversation_attributes.get("kept_as_tags"):
        console.print(f"[yellow]! {conversation_attributes['advice']}[/]", markup=True)
    console.print(phases_table(report["phases"]))
    _print_reconciliation(reconciled)
    console.print(key_value_table("API", {
        "calls": stats.get("calls"), "writes": stats.get("writes"), "429s": stats.get("rate_limited"),
        "retries": stats.get("retries"), "waited on rate limit (s)": stats.get("waited_s"),
    }))
    return _finish(project, ledger, run_id, command, started, report)


def _print_help_center(details: dict[str, Any] | None) -> None:
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


@app.command()
def load(config: Path = ConfigOption, verbose: bool = typer.Option(False, "-v", "--verbose"),
         new_ledger: bool = NewLedgerOption) -> None:
    """Load what is staged into Intercom (preflight → companies → contacts → tags)."""

    def body() -> None:
        with _started_run(config, "load", verbose, new_ledger) as (project, ledger, run_id, started):
            with bars() as progress:
                code = _load_and_report(project, ledger, run_id, "load", started, None, progress)
            raise Exit(code)

    _run(body)


@app.command()
def run(config: Path = ConfigOption, since: datetime | None = typer.Option(None, help="Read only what changed since (ISO date)."),
        verbose: bool = typer.Option(False, "-v", "--verbose"), new_ledger: bool = NewLedgerOption) -> None:
    """Extract and load: the whole migration, resumable (run it again after a crash) and repeatable (deltas)."""

    def body() -> None:
        with _started_run(config, "run", verbose, new_ledger) as (project, ledger, run_id, started):
            with bars() as progress:
                extracted = pipeline.extract(project, ledger, run_id, progress, since)
                code = _load_and_report(project, ledger, run_id, "run", started, extracted, progress)
            raise Exit(code)

    _run(body)


# -- validate / rollback / status ------------------------------------------------------------------------


@app.command()
def validate(config: Path = ConfigOption, verbose: bool = typer.Option(False, "-v", "--verbose")) -> None:
    """Read every migrated record back from Intercom and compare it with the ledger; exit 3 on any mismatch."""

    def body() -> None:
        project = _open(config)
        ledger = project.ledger()
        _setup_logging(project, verbose)
        with pipeline.open_target(project) as target:
            target.client.me()  # a wrong token or an unreachable target is an error here, never "nothing to compare"
            agent_admins = match_agents_by_email(ledger, target.client.admins().get("admins", [])) if ledger.count_staged("agents") else None
            with bars() as progress:
                mismatches, checked = pipeline.validate(project, ledger, target, progress)
        reconciled = pipeline.reconciliation(ledger, None, agent_admins)
        missing = sum(1 for m in mismatches if m.field == "exists")
        console.print("checked in Intercom: " + ", ".join(f"{n} {e}" for e, n in checked.items()) if checked else "nothing migrated yet")
        _print_reconciliation(reconciled.as_dict())
        if mismatches:
            table = Table(title=f"Mismatches ({len(mismatches)})", title_justify="left")
            for column in ("entity", "source id", "intercom id", "field", "expected", "in Intercom"):
                table.add_column(column, overflow="fold")
            for m in mismatches[:200]:
                table.add_row(m.entity, m.source_id, m.intercom_id or "", m.field, str(m.expected), str(m.actual))
            console.print(table)
        open_problems = reconciled.open_problems
        if not mismatches and not open_problems:
            console.print("[green]✓[/] Intercom matches the ledger, and every record the source gave is accounted for")
            raise Exit(EXIT_OK)
        summary = [f"{len(mismatches)} mismatch(es)" + (f", {missing} record(s) missing in Intercom" if missing else "")] if mismatches else []
        if open_problems:
            summary.append(f"{open_problems} record(s) failed or not loaded yet (`deskmigrate status --failures`; `run` retries them)")
        console.print("[yellow]✗ " + "; ".join(summary) + "[/]")
        raise Exit(EXIT_FAILURES)

    _run(body)


@app.command()
def rollback(config: Path = ConfigOption, run_id: str | None = typer.Option(None, "--run", help="The run to undo."),
             all_runs: bool = typer.Option(False, "--all", help="Undo every run, newest first."),
             yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking (needed without a terminal)."),
             dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be undone."),
             force: bool = typer.Option(False, "--force", help="Also undo records people changed since the migration."),
             verbose: bool = typer.Option(False, "-v", "--verbose")) -> None:
    """Undo what runs wrote, in reverse phase order: delete what they created, restore what they changed on records that
    existed before, remove the taggings and company links they added. Shows the plan and asks first."""

    def body() -> None:
        if bool(run_id) == all_runs:
            console.print("[red]give exactly one of --run RUN_ID or --all[/]")
            raise Exit(EXIT_CONFIG)
        project = _open(config)
        with _holding(project, "rollback"), _closing(_ledger(project)) as ledger:
            _setup_logging(project, verbose)
            try:
                selected = rollbacks.select_runs(ledger, run_id, all_runs)
            except rollbacks.RollbackRefused as refused:
                console.print(f"[red]{escape(str(refused))}[/]")
                raise Exit(EXIT_CONFIG) from None
            blocking = ledger.later_writers(selected)
            if blocking:
                console.print(f"[red]later runs changed the same records: roll back {', '.join(blocking)} first, or use --all[/]")
                raise Exit(EXIT_CONFIG)
            with pipeline.open_target(project) as target:
                planner = Rollback(target.client, ledger, force=force, concurrency=project.loaded.config.load.concurrency)
                with console.status("reading what the runs wrote, as it is in Intercom now…"):
                    plan = planner.plan(selected)
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
                        console.print("[red]rollback changes Intercom: confirm it in a terminal, or add --yes to go ahead without asking[/]")
                        raise Exit(EXIT_CONFIG)
                    if not typer.confirm("Roll back as shown?", default=False):
                        console.print("cancelled: nothing was changed")
                        raise Exit(EXIT_OK)
                raise Exit(_apply_rollback(project, ledger, planner, plan, target, verbose))

    _run(body)


def _apply_rollback(project: pipeline.Project, ledger: Ledger, planner: Rollback, plan: Any, target: pipeline.Target,
                    verbose: bool) -> int:
    """The rollback as a run of its own: its run id, log, undo log, JSON report and line in `status`."""
    run_id = ledger.start_run("rollback")
    _setup_logging(project, verbose, run_id)
    started = time.time()
    with _recorded(project, ledger, run_id, "rollback"):
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
            console.print(f"[red]✗[/] {escape(error)}")
        code = EXIT_FAILURES if report.errors else EXIT_OK
        sections = rollbacks.report_sections(plan, report, ledger, run_id)
        document = {"run_id": run_id, "command": "rollback", "deskmigrate": __version__,
                    "started_at": datetime.fromtimestamp(started, UTC).isoformat(), "duration_s": round(time.time() - started, 3),
                    **sections, "api": _api_stats(target), "exit_code": code}
        path = pipeline.write_report(project, run_id, document)
        ledger.finish_run(run_id, "errors" if report.errors else "ok", {k: v for k, v in document.items() if k != "undo_log"})
        console.print(f"rollback run [bold]{run_id}[/] report: {path}")
        return code


@app.command()
def status(config: Path = ConfigOption, run_id: str | None = typer.Option(None, "--run"),
           show_failures: bool = typer.Option(False, "--failures", help="List every open failure.")) -> None:
    """Runs, per-phase progress and open failures."""

    def body() -> None:
        project = _open(config)
        ledger = project.ledger()
        runs = ledger.runs()
        if not runs:
            console.print("no runs yet")
            raise Exit(EXIT_OK)
        table = Table(title="Runs", title_justify="left")
        for column in ("run", "command", "started", "duration", "status"):
            table.add_column(column)
        for r in runs:
            duration = f"{r['finished_at'] - r['started_at']:.1f}s" if r["finished_at"] else "-"
            started = datetime.fromtimestamp(r["started_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(r["run_id"], r["command"], started, duration, r["status"])
        console.print(table)
        chosen = run_id or runs[-1]["run_id"]
        progress_rows = ledger.progress(chosen)
        if progress_rows:
            table = Table(title=f"Progress of {chosen}", title_justify="left")
            for column in ("phase", "done", "unchanged", "failed", "status"):
                table.add_column(column)
            for p in progress_rows:
                table.add_row(p["phase"], str(p["done"]), str(p["unchanged"]), str(p["failed"]), p["status"])
            console.print(table)
        _print_reconciliation(pipeline.reconciliation(ledger, chosen).as_dict(), f"Every record accounted for (as of {chosen})")
        failures = ledger.failures()
        if failures:
            console.print(failures_table(failures, limit=len(failures) if show_failures else 20))
        else:
            console.print("no open failures")
        notices = ledger.notices()
        if notices:
            kinds: dict[str, int] = {}
            for notice in notices:
                kinds[f"{notice.entity}: {notice.kind}"] = kinds.get(f"{notice.entity}: {notice.kind}", 0) + 1
            console.print(key_value_table(f"Content notes ({len(notices)}; details in the run reports)", kinds))

    _run(body)


# -- mappings / sandbox -------------------------------------------------------------------------------------


@mappings_app.command("list")
def mappings_list() -> None:
    """The built-in mappings."""
    from deskmigrate.transforms import builtin_mapping_names

    for name in builtin_mapping_names():
        console.print(name)


@mappings_app.command("show")
def mappings_show(name: str) -> None:
    """Print a built-in mapping, to copy into an override file."""
    from importlib.resources import files

    path = files("deskmigrate.mappings").joinpath(f"{name}.yaml")
    if not path.is_file():
        console.print(f"[red]no built-in mapping {name!r}[/]")
        raise typer.Exit(EXIT_CONFIG)
    sys.stdout.write(path.read_text(encoding="utf-8"))


@app.command("schema")
def schema(entity: str | None = typer.Argument(None, help="companies, contacts, agents, collections, articles or conversations; all when left out.")) -> None:
    """Print the canonical model's shape as JSON Schema: what a record of ENTITY holds (any record without ENTITY)."""
    from deskmigrate.core.model import RECORD_TYPES, json_schema

    if entity is not None and entity not in RECORD_TYPES:
        console.print(f"[red]no canonical entity {entity!r}; they are {', '.join(RECORD_TYPES)}[/]")
        raise typer.Exit(EXIT_CONFIG)
    sys.stdout.write(json.dumps(json_schema(entity), indent=2, ensure_ascii=False) + "\n")


@sandbox_app.command("serve")
def sandbox_serve(config: Path = ConfigOption, port: int = typer.Option(8765)) -> None:
    """Serve the config's sandbox over HTTP until interrupted (for rehearsals with other tools)."""

    def body() -> None:
        from deskmigrate.sandbox import SandboxServer, SandboxSettings

        project = _open(config)
        target = project.loaded.config.target
        if target.type != "sandbox":
            console.print("[red]the config's target is not a sandbox[/]")
            raise Exit(EXIT_CONFIG)
        path = project.loaded.resolve(target.path) if target.path else project.state_dir / "sandbox.db"
        server = SandboxServer(SandboxSettings(path=path, token=target.token.get_secret_value(), rate_limit=target.rate_limit,
                                               latency_ms=target.latency_ms, error_rate=target.error_rate,
                                               drop_rate=target.drop_rate, search_delay_s=target.search_delay_s,
                                               conversation_attributes=dict(target.conversation_attributes)), port=port)
        url = server.start()
        console.print(f"sandbox serving {path} at {url} (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        finally:
            server.stop()

    _run(body)


@app.callback()
def _version(version: bool = typer.Option(False, "--version", help="Print the version.")) -> None:
    if version:
        console.print(__version__)
        raise typer.Exit(0)


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except Exception as error:  # the last resort: exit 1, without a traceback that may hold data
        logging.getLogger("deskmigrate").exception("unexpected error")
        console.print(f"[bold red]unexpected error:[/] {type(error).__name__}: {error}")
        sys.exit(EXIT_UNEXPECTED)
