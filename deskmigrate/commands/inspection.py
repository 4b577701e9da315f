"""The commands that look without changing anything: `status` (runs, progress, open failures), `report` (a run's HTML
page), `schema` (the canonical model as JSON Schema) and `mappings` (the built-in mappings and transforms)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from deskmigrate import screen
from deskmigrate.commands.options import ConfigOption, JsonOption, QuietOption, examples
from deskmigrate.exits import EXIT_CONFIG, EXIT_OK, Exit, exits
from deskmigrate.exports import ExportFormat
from deskmigrate.screen import console, err_console

commands = typer.Typer()
mappings_app = typer.Typer(help="List and show the built-in mappings.", no_args_is_help=True)


@commands.command(epilog=examples("deskmigrate status -c config.yaml", "deskmigrate status --run latest --failures",
                                  "deskmigrate status --json | jq '.runs[-1]'"))
@exits
def status(config: Path = ConfigOption,
           run_id: str | None = typer.Option(None, "--run", help="The run to show progress and outcomes of: a run id, or latest (the default)."),
           show_failures: bool = typer.Option(False, "--failures", help="Group every open rejection and failure by reason."),
           export: ExportFormat | None = typer.Option(None, "--format", metavar="csv|json",
                                                      help="With --failures: print every open rejection and failure (reason, "
                                                           "file:line or id, field) as CSV or JSON instead."),
           as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Runs (with what each wrote and the error of one that died), a run's per-phase progress and reconciliation, the
    open rejections and failures (grouped by reason, or every one exported), and content notes."""
    from deskmigrate import lifecycle, triage
    from deskmigrate.reconcile import reconciliation

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
    reconciled = reconciliation(ledger, chosen).as_dict()
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


@commands.command(epilog=examples("deskmigrate report -c config.yaml", "deskmigrate report 20261205T090920.790Z-39e8 --open"))
@exits
def report(run: str = typer.Argument("latest", help="The run whose report to show: a run id, or latest."),
           config: Path = ConfigOption, open_it: bool = typer.Option(False, "--open", help="Open it in the web browser.")) -> None:
    """Print the path of a run's (or plan's) HTML report: the reconciliation, phases, API calls over time, failures by
    reason and content notes, on one self-contained page."""
    from deskmigrate import lifecycle

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


@commands.command("schema", epilog=examples("deskmigrate schema conversations > conversation.schema.json"))
def schema(entity: str | None = typer.Argument(None, help="companies, contacts, agents, collections, articles or conversations; all when left out.")) -> None:
    """Print the canonical model's shape as JSON Schema: what a record of ENTITY holds (any record without ENTITY)."""
    from deskmigrate.core.model import RECORD_TYPES, json_schema

    if entity is not None and entity not in RECORD_TYPES:
        err_console.print(f"[red]no canonical entity {entity!r}; they are {', '.join(RECORD_TYPES)}[/]")
        raise typer.Exit(EXIT_CONFIG)
    sys.stdout.write(json.dumps(json_schema(entity), indent=2, ensure_ascii=False) + "\n")


@mappings_app.command("list", epilog=examples("deskmigrate mappings list"))
def mappings_list() -> None:
    """The built-in mappings."""
    from deskmigrate.transforms import builtin_mapping_names

    for name in builtin_mapping_names():
        console.print(name)


@mappings_app.command("transforms", epilog=examples("deskmigrate mappings transforms", "deskmigrate mappings transforms --json"))
def mappings_transforms(as_json: bool = JsonOption) -> None:
    """Every transform a mapping rule can use, with what it does, its arguments and an example rule."""
    from deskmigrate.transforms.registry import describe_transforms

    described = describe_transforms()
    if as_json:
        screen.print_json(described)
        return
    screen.print_transforms(described)


@mappings_app.command("show", epilog=examples("deskmigrate mappings show zendesk > my-mapping.yaml"))
def mappings_show(name: str) -> None:
    """Print a built-in mapping, to copy into an override file."""
    from importlib.resources import files

    path = files("deskmigrate.mappings").joinpath(f"{name}.yaml")
    if not path.is_file():
        err_console.print(f"[red]no built-in mapping {name!r}[/]")
        raise typer.Exit(EXIT_CONFIG)
    sys.stdout.write(path.read_text(encoding="utf-8"))
