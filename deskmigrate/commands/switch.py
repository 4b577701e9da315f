"""The commands of the switch itself: `sync` (delta cycles until the old desk is turned off) and `cutover-check` (go or
no-go for turning it off)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from deskmigrate import screen
from deskmigrate.commands.migration import load_and_report
from deskmigrate.commands.options import AcceptRejectionsOption, ConfigOption, JsonOption, QuietOption, VerboseOption, examples
from deskmigrate.exits import EXIT_CONFIG, EXIT_FAILURES, EXIT_OK, Exit, exits
from deskmigrate.screen import console, err_console

if TYPE_CHECKING:
    from deskmigrate.core.ledger import Ledger
    from deskmigrate.project import Project

commands = typer.Typer()


@commands.command(epilog=examples("deskmigrate sync -c config.yaml --every 10m", "deskmigrate sync --every 5m --until 2027-01-31T18:00Z"))
@exits
def sync(config: Path = ConfigOption,
         every: str = typer.Option("10m", "--every", help="Start a cycle this often (30s, 10m, 1h30m); at once when one ran longer."),
         until: str | None = typer.Option(None, "--until", help="Start no cycle after this time (ISO 8601; UTC without an offset)."),
         verbose: bool = VerboseOption, accept_rejections: bool = AcceptRejectionsOption, quiet: bool = QuietOption) -> None:
    """Deltas until the switch: a `run` over what changed since the last cycle (new and changed records), every --every, until
    stopped (Ctrl-C, SIGTERM: the calls in flight finish) or --until. Each cycle is a run in `status`, with the lag of the
    newest change it landed; a failed cycle does not stop the next."""
    from deskmigrate import lifecycle
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

    def cycle(project: Project, ledger: Ledger, run_id: str, started: float, section: Callable[[], dict[str, Any]]) -> int:
        return load_and_report(project, ledger, run_id, "sync", started, extract=True, accept_rejections=accept_rejections,
                                more=lambda: {"sync": section()})

    with lifecycle.holding(project, "sync"), syncing.stopping_on_signals():
        outcome = syncing.run_sync(project, cycle, every_s=every_s, until=deadline, clock=syncing.system_clock(), verbose=verbose)
    console.print(f"sync stopped ({'asked' if outcome.stopped_by == 'signal' else 'the --until time'}) after {len(outcome.cycles)} "
                  "cycle(s): `deskmigrate status` lists them")
    raise Exit(outcome.exit_code)


@commands.command("cutover-check", epilog=examples("deskmigrate cutover-check -c config.yaml", "deskmigrate cutover-check --json | jq .why_not"))
@exits
def cutover_check(config: Path = ConfigOption,
                  accept_rejections: bool = typer.Option(False, "--accept-rejections",
                                                         help="Go even with rejected records (they stay behind; listed as notes)."),
                  verbose: bool = VerboseOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Go or no-go for the switch: per entity the source's count now, the ledger and Intercom (read back), open failures and
    rejections, the last successful delta and its lag, and what needs a person before the old desk goes. Exit 0 only
    when everything the mapping migrates is accounted for (else 3, with why). A run of its own, with its report."""
    from deskmigrate import cutover, lifecycle

    screen.quiet(quiet or as_json)
    with lifecycle.started_run(config, "cutover-check", verbose) as (project, ledger, run_id, started):
        result, path = cutover.run_check(project, ledger, run_id, started, accept_rejections=accept_rejections)
        code = EXIT_OK if result.go else EXIT_FAILURES
        if as_json:
            screen.print_json(result.as_dict() | {"run_id": run_id, "exit_code": code})
        console.print(f"cutover-check run [bold]{run_id}[/] report: {path}")
        raise Exit(code)
