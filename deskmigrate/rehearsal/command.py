"""`run --sample N`, the command's flow: the sample chosen (or the stored one read again), staged, loaded, reported."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from deskmigrate import lifecycle, progress_bars
from deskmigrate.core.model import Article
from deskmigrate.core.source import Connector
from deskmigrate.lifecycle import EXIT_CONFIG
from deskmigrate.rehearsal.choosing import choose, choose_contacts, new_seed
from deskmigrate.rehearsal.landing import landed
from deskmigrate.rehearsal.sample import SAMPLE_FILE, Sample, Sampled, keep_sample, rehearsal_dir, stored_sample
from deskmigrate.rehearsal.staging import choose_articles, reread, stage_sample
from deskmigrate.rehearsal.target import rehearsal_project, rehearsal_target
from deskmigrate.screen import console, err_console

PROFILE_TASK = "profile tickets"

LoadAndReport = Callable[..., int]


def rehearse(config: Path, size: int | None, *, resample: bool, target: str | None, since: datetime | None, verbose: bool,
             accept_rejections: bool, load_and_report: LoadAndReport) -> int:
    """`run --sample N`: choose (or take the stored) sample, stage it with what it needs in the rehearsal folder, load it
    into the rehearsal's target and report every sampled ticket with its reasons and its Intercom id; the exit code."""
    if size is None:
        err_console.print("[red]--resample and --target are options of a rehearsal: give --sample N[/]")
        return EXIT_CONFIG
    if since is not None:
        err_console.print("[red]--since reads a delta; a rehearsal chooses among all tickets: give one of them[/]")
        return EXIT_CONFIG
    if target not in (None, "sandbox", "intercom"):
        err_console.print(f"[red]--target is sandbox or intercom, not {target!r}[/]")
        return EXIT_CONFIG
    project = lifecycle.open_project(config)
    folder = rehearsal_dir(project.state_dir)
    try:
        target_config = rehearsal_target(project.loaded.config.target, target, folder)
    except ValueError as error:
        err_console.print(f"[red]{error}[/]")
        return EXIT_CONFIG
    rehearsing = rehearsal_project(project, target_config)
    with lifecycle.holding(rehearsing, "rehearsal"), lifecycle.closing(lifecycle.open_ledger(rehearsing)) as ledger:
        run_id = ledger.start_run("rehearsal")
        lifecycle.setup_logging(rehearsing, verbose, run_id)
        started = time.time()
        with lifecycle.recorded(rehearsing, ledger, run_id, "rehearsal"):
            with progress_bars.bars() as progress:
                progress.start(PROFILE_TASK, None)
                sample, tickets, articles = _sample(project.connector, folder, size, resample, lambda: progress.advance(PROFILE_TASK))
                progress.finish(PROFILE_TASK)
            sample.target = target_config.type
            keep_sample(folder, sample)
            staged = stage_sample(project.connector, ledger, run_id, tickets, articles)
            console.print(f"rehearsal sample of {len(sample.tickets)} {'ticket' if sample.entity == 'conversations' else 'contact'}(s)" + (" (the stored one, read again)" if sample.reused else
                          f": {sample.profiled} profiled from list endpoints, {sample.read_whole} read whole") +
                          f"; staged {', '.join(f'{n} {e}' for e, n in staged.counts.items()) or 'nothing'}", markup=False)
            if sample.uncovered:
                err_console.print(f"[yellow]! {len(sample.uncovered)} stratum/strata not covered (more than N to cover): "
                                  f"{', '.join(sample.uncovered)}; a larger --sample covers them[/]")
            section: dict[str, Any] = {}

            def sections() -> dict[str, Any]:
                section.update(landed(ledger, run_id, sample) | {"target": target_config.type, "folder": str(folder),
                                                                 "staged": staged.counts, "sample_file": str(folder / SAMPLE_FILE)})
                return {"rehearsal": section}

            code = load_and_report(rehearsing, ledger, run_id, "rehearsal", started, extract=False,
                                   accept_rejections=accept_rejections, more=sections)
            if section:
                _print_sample(section)
            return code


def _sample(connector: Connector, folder: Path, size: int, resample: bool,
            on_profile: Callable[[], None]) -> tuple[Sample, Sampled, list[Article]]:
    """The stored sample when it is of this size and no resample is asked; else a new one, kept."""
    stored = stored_sample(folder)
    if stored is not None and stored.size == size and not resample:
        tickets, articles = reread(connector, stored)
        return stored, tickets, articles
    avoid = {pick.source_id for pick in stored.tickets} if stored is not None and resample else set()
    seed = new_seed() if resample else f"first-{size}"
    if "conversations" not in connector.entities():  # a CSV of people and companies: the hardest contacts
        contact_sample, contacts = choose_contacts(connector, size, seed=seed, avoid=avoid)
        return contact_sample, dict(contacts), []
    sample, tickets = choose(connector, size, seed=seed, avoid=avoid, on_profile=on_profile)
    sample.articles, articles = choose_articles(connector, tickets.values())
    return sample, dict(tickets), articles


def _print_sample(section: dict[str, Any]) -> None:
    from rich.table import Table

    noun = "ticket" if section["entity"] == "conversations" else "contact"
    table = Table(title=f"Rehearsal sample: why each {noun}, and where it is in Intercom", title_justify="left")
    for column in (noun, "picked for", "also", "in Intercom"):
        table.add_column(column, overflow="fold")
    for ticket in section["tickets"]:
        where = f"{ticket['intercom_kind']} {ticket['intercom_id']}" if ticket.get("intercom_id") else ticket["outcome"]
        table.add_row(ticket["source_id"], "; ".join(ticket["picked_for"]), "; ".join(ticket["also"]), where)
    console.print(table)
    for article in section["articles"]:
        console.print(f"article {article['source_id']} ({'; '.join(article['reasons'])}) → {article.get('intercom_id') or 'not landed'}",
                      markup=False)
