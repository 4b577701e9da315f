"""The options many commands share, and how a command's --help shows its examples."""

from __future__ import annotations

from pathlib import Path

import typer

ConfigOption = typer.Option(Path("config.yaml"), "-c", "--config", envvar="DESKMIGRATE_CONFIG",
                            help="The migration's config file (or the DESKMIGRATE_CONFIG environment variable).")
JsonOption = typer.Option(False, "--json", help="Print one JSON document (and nothing else) on stdout.")
QuietOption = typer.Option(False, "-q", "--quiet", help="Print only errors and warnings (on stderr).")
VerboseOption = typer.Option(False, "-v", "--verbose", help="Log debug detail to stderr and the run's log.")
NewLedgerOption = typer.Option(False, "--new-ledger", help="Start a new ledger when the state folder's ledger is lost "
                               "(missing, empty or unreadable beside earlier runs); the lost file is set aside, never deleted.")
AcceptRejectionsOption = typer.Option(False, "--accept-rejections",
                                      help="Load even when more records are rejected than load.max_rejected allows (they are left out, listed).")


def examples(*lines: str) -> str:
    """A command's --help epilog: examples kept as written (click rewraps paragraphs not marked with \\b)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
